//! Per-user rate limits (token bucket per runtime and user) and the cap on concurrent sessions per user, in
//! memory. Pure bookkeeping with time passed in; never touches the store.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept before stale ones are pruned.
const PRUNE_AT: usize = 50_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets by runtime, then user.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    /// Runtime → user → bucket: nested so a lookup borrows the caller's `&str`s; keys are allocated only when
    /// a bucket is created, not on every request.
    map: HashMap<String, HashMap<String, Bucket>>,
    len: usize,
}

impl RateLimiter {
    /// Takes one token for `key`; `Err(retry_after)` when the bucket is empty.
    pub fn check(
        &self,
        key: (&str, &str),
        per_minute: u32,
        burst: u32,
        now: Instant,
    ) -> Result<(), Duration> {
        let rate = f64::from(per_minute.max(1)) / 60.0;
        let cap = f64::from(burst.max(1));
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let take = |b: &mut Bucket| {
            let refill = now.saturating_duration_since(b.last).as_secs_f64() * rate;
            b.tokens = (b.tokens + refill).min(cap);
            b.last = now;
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                Ok(())
            } else {
                Err(Duration::from_secs_f64(
                    ((1.0 - b.tokens) / rate).ceil().max(1.0),
                ))
            }
        };
        if let Some(b) = buckets.map.get_mut(key.0).and_then(|m| m.get_mut(key.1)) {
            return take(b);
        }
        if buckets.len >= PRUNE_AT {
            // A bucket that has refilled completely carries no information.
            let mut len = 0;
            buckets.map.retain(|_, users| {
                users.retain(|_, b| {
                    b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < cap
                });
                len += users.len();
                !users.is_empty()
            });
            buckets.len = len;
        }
        let mut bucket = Bucket {
            tokens: cap,
            last: now,
        };
        let answer = take(&mut bucket);
        buckets
            .map
            .entry(key.0.to_string())
            .or_default()
            .insert(key.1.to_string(), bucket);
        buckets.len += 1;
        answer
    }
}

/// Sessions each user holds on each runtime, with the time each was last used.
#[derive(Debug, Default)]
pub struct SessionCounter {
    /// Runtime → user → session → last use; nested so a lookup allocates nothing.
    users: Mutex<HashMap<String, HashMap<String, UserSessions>>>,
}

/// One user's sessions on one runtime: session id → last use.
type UserSessions = HashMap<String, Instant>;

impl SessionCounter {
    /// Admits a request in `session` for `user` on `runtime`: known sessions always; a new one only while the
    /// user holds fewer than `max` sessions used within `idle`.
    pub fn admit(
        &self,
        runtime: &str,
        user: &str,
        session: &str,
        max: u32,
        idle: Duration,
        now: Instant,
    ) -> bool {
        let Ok(mut map) = self.users.lock() else {
            return true;
        };
        if let Some(sessions) = map.get_mut(runtime).and_then(|u| u.get_mut(user)) {
            return Self::admit_in(sessions, session, max, idle, now);
        }
        let mut sessions = HashMap::new();
        let admitted = Self::admit_in(&mut sessions, session, max, idle, now);
        map.entry(runtime.to_string())
            .or_default()
            .insert(user.to_string(), sessions);
        admitted
    }

    fn admit_in(
        sessions: &mut UserSessions,
        session: &str,
        max: u32,
        idle: Duration,
        now: Instant,
    ) -> bool {
        if let Some(last) = sessions.get_mut(session) {
            *last = now;
            return true;
        }
        // Only a new session needs the count of live ones; idle ones are dropped here, not on every request.
        sessions.retain(|_, last| now.saturating_duration_since(*last) < idle);
        if sessions.len() >= max as usize {
            return false;
        }
        sessions.insert(session.to_string(), now);
        true
    }

    /// Forgets a session (after `StopRuntimeSession`).
    pub fn forget(&self, runtime: &str, user: &str, session: &str) {
        if let Ok(mut map) = self.users.lock() {
            if let Some(s) = map.get_mut(runtime).and_then(|u| u.get_mut(user)) {
                s.remove(session);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_refuses_then_refills() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check(("rt", "u"), 60, 3, t0).is_ok());
        }
        let retry = l.check(("rt", "u"), 60, 3, t0).unwrap_err();
        assert_eq!(retry, Duration::from_secs(1));
        assert!(
            l.check(("rt", "other"), 60, 3, t0).is_ok(),
            "buckets are per user"
        );
        assert!(
            l.check(("rt", "u"), 60, 3, t0 + Duration::from_secs(1))
                .is_ok(),
            "one token per second refills"
        );
    }

    #[test]
    fn full_buckets_are_pruned_once_the_table_is_large() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..PRUNE_AT {
            assert!(l.check(("rt", &format!("user-{i}")), 60, 5, t0).is_ok());
        }
        assert_eq!(l.buckets.lock().unwrap().len, PRUNE_AT);
        // A minute later every bucket has refilled: the next new user prunes them all.
        let later = t0 + Duration::from_secs(60);
        assert!(l.check(("rt", "newcomer"), 60, 5, later).is_ok());
        let b = l.buckets.lock().unwrap();
        assert_eq!(b.len, 1);
        assert_eq!(b.map.values().map(HashMap::len).sum::<usize>(), 1);
    }

    #[test]
    fn sessions_per_user_are_capped_and_idle_ones_expire() {
        let c = SessionCounter::default();
        let t0 = Instant::now();
        let idle = Duration::from_secs(60);
        assert!(c.admit("rt", "u", "s1", 2, idle, t0));
        assert!(c.admit("rt", "u", "s2", 2, idle, t0));
        assert!(!c.admit("rt", "u", "s3", 2, idle, t0));
        assert!(
            c.admit("rt", "u", "s1", 2, idle, t0),
            "a known session is always admitted"
        );
        assert!(c.admit("rt", "v", "s3", 2, idle, t0), "the cap is per user");
        assert!(
            c.admit("rt", "u", "s3", 2, idle, t0 + Duration::from_secs(61)),
            "idle sessions stop counting"
        );
        c.forget("rt", "u", "s3");
        assert!(c.admit("rt", "u", "s4", 2, idle, t0 + Duration::from_secs(61)));
    }
}

/// Open WebSockets per (runtime, user), released when the guard drops.
#[derive(Debug, Default)]
pub struct SocketSlots {
    open: Mutex<HashMap<String, u32>>,
}

/// Holds one socket slot.
#[derive(Debug)]
pub struct SlotGuard {
    slots: std::sync::Arc<SocketSlots>,
    key: String,
}

impl SocketSlots {
    /// Takes a slot for `key` if fewer than `max` are open.
    pub fn acquire(self: &std::sync::Arc<Self>, key: &str, max: u32) -> Option<SlotGuard> {
        let mut open = self.open.lock().ok()?;
        let n = open.entry(key.to_string()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(SlotGuard {
            slots: self.clone(),
            key: key.to_string(),
        })
    }

    /// Sockets open for `key`.
    pub fn open(&self, key: &str) -> u32 {
        self.open
            .lock()
            .ok()
            .and_then(|m| m.get(key).copied())
            .unwrap_or(0)
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if let Ok(mut open) = self.slots.open.lock() {
            if let Some(n) = open.get_mut(&self.key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&self.key);
                }
            }
        }
    }
}

#[cfg(test)]
mod slot_tests {
    use super::*;

    #[test]
    fn slots_are_capped_and_released() {
        let s = std::sync::Arc::new(SocketSlots::default());
        let a = s.acquire("u", 2).unwrap();
        let _b = s.acquire("u", 2).unwrap();
        assert!(s.acquire("u", 2).is_none());
        assert!(s.acquire("v", 2).is_some());
        drop(a);
        assert_eq!(s.open("u"), 1);
        assert!(s.acquire("u", 2).is_some());
    }
}
