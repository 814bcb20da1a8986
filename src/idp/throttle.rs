//! Failed sign-in throttling, per client address and per user (in memory; one instance), keyed so that one
//! client cannot lock out others. The address is the listener's resolved [`ClientAddr`] (a trusted proxy's
//! `X-Forwarded-For` or PROXY header, else the peer), IPv6 taken per /64. After `max_per_ip` failures an
//! address gets `TooManyRequestsException`, whoever it names. A user is refused with "Password attempts
//! exceeded" (even with the right password) after `max_per_user` failures *from the same address*, or after
//! `USER_WIDE_FACTOR` × `max_per_user` failures from all addresses together (a distributed guesser): an
//! attacker elsewhere cannot lock a user out with `max_per_user` wrong guesses. Unknown users are counted
//! exactly like known ones. Holds a keyed hash of each username, never the name and never a password.
//!
//! [`ClientAddr`]: crate::net::ClientAddr
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;

use super::CognitoError;

/// How many times `max_per_user` failures, from all addresses together, lock a user.
pub const USER_WIDE_FACTOR: u32 = 10;
/// Addresses remembered per user (the oldest is forgotten beyond that).
const ADDRS_PER_USER: usize = 16;
/// Map size below which no pruning pass runs.
const MIN_PRUNE: usize = 4096;

/// Limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_per_user: u32,
    pub max_per_ip: u32,
    pub window_secs: i64,
}

/// The throttle's key for an address: IPv4 whole, IPv6 by its /64 (one subscriber's usual allocation).
fn addr_key(ip: Option<IpAddr>) -> u128 {
    match ip.map(crate::net::canonical) {
        Some(IpAddr::V4(v4)) => u128::from(u32::from(v4)),
        Some(IpAddr::V6(v6)) => (u128::from(v6) >> 64 << 64) | 1,
        // No address known (not served by a listener): one shared bucket.
        None => u128::MAX,
    }
}

#[derive(Debug, Default)]
struct UserFailures {
    all: Vec<i64>,
    by_addr: Vec<(u128, Vec<i64>)>,
}

/// A map whose expired entries are pruned when it has doubled since the last pass (amortised O(1) per insert).
#[derive(Debug)]
struct Pruned<K, V> {
    map: HashMap<K, V>,
    next_prune: usize,
}

impl<K: std::hash::Hash + Eq, V> Pruned<K, V> {
    fn new() -> Self {
        Self {
            map: HashMap::new(),
            next_prune: MIN_PRUNE,
        }
    }

    fn prune(&mut self, live: impl FnMut(&mut V) -> bool) {
        if self.map.len() < self.next_prune {
            return;
        }
        let mut live = live;
        self.map.retain(|_, v| live(v));
        self.next_prune = (self.map.len() * 2).max(MIN_PRUNE);
    }
}

/// Failure counters.
#[derive(Debug)]
pub struct Throttle {
    limits: Limits,
    hasher: std::collections::hash_map::RandomState,
    users: Mutex<Pruned<u64, UserFailures>>,
    ips: Mutex<Pruned<u128, Vec<i64>>>,
}

fn recent(v: &mut Vec<i64>, now: i64, window: i64) -> usize {
    v.retain(|t| *t > now - window);
    v.len()
}

/// Appends `now`, keeping at most `cap` entries (older ones beyond the limit say nothing more).
fn push_capped(v: &mut Vec<i64>, now: i64, cap: usize) {
    if v.len() >= cap.max(1) {
        v.remove(0);
    }
    v.push(now);
}

impl Throttle {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            hasher: std::collections::hash_map::RandomState::new(),
            users: Mutex::new(Pruned::new()),
            ips: Mutex::new(Pruned::new()),
        }
    }

    fn user_key(&self, user: &str) -> u64 {
        self.hasher.hash_one(user)
    }

    fn user_wide(&self) -> usize {
        (self.limits.max_per_user as usize).saturating_mul(USER_WIDE_FACTOR as usize)
    }

    /// Refuses if the address or the user (from this address, or from everywhere) is over its limit.
    pub fn check(&self, user: &str, ip: Option<IpAddr>, now: i64) -> Result<(), CognitoError> {
        let w = self.limits.window_secs;
        let addr = addr_key(ip);
        if let Ok(mut ips) = self.ips.lock() {
            if let Some(v) = ips.map.get_mut(&addr) {
                if recent(v, now, w) >= self.limits.max_per_ip as usize {
                    return Err(CognitoError::TooManyRequests);
                }
            }
        }
        if let Ok(mut users) = self.users.lock() {
            if let Some(u) = users.map.get_mut(&self.user_key(user)) {
                let here = u
                    .by_addr
                    .iter_mut()
                    .find(|(a, _)| *a == addr)
                    .map_or(0, |(_, v)| recent(v, now, w));
                if here >= self.limits.max_per_user as usize
                    || recent(&mut u.all, now, w) >= self.user_wide()
                {
                    return Err(CognitoError::NotAuthorized(
                        "Password attempts exceeded".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Counts a failed attempt.
    pub fn fail(&self, user: &str, ip: Option<IpAddr>, now: i64) {
        let w = self.limits.window_secs;
        let addr = addr_key(ip);
        if let Ok(mut ips) = self.ips.lock() {
            ips.prune(|v| recent(v, now, w) > 0);
            let cap = self.limits.max_per_ip as usize;
            push_capped(ips.map.entry(addr).or_default(), now, cap);
        }
        let key = self.user_key(user);
        if let Ok(mut users) = self.users.lock() {
            users.prune(|u| recent(&mut u.all, now, w) > 0);
            let u = users.map.entry(key).or_default();
            push_capped(&mut u.all, now, self.user_wide());
            let cap = self.limits.max_per_user as usize;
            match u.by_addr.iter_mut().find(|(a, _)| *a == addr) {
                Some((_, v)) => push_capped(v, now, cap),
                None => {
                    if u.by_addr.len() >= ADDRS_PER_USER {
                        u.by_addr.remove(0);
                    }
                    u.by_addr.push((addr, vec![now]));
                }
            }
        }
    }

    /// A successful sign-in clears the user's failures.
    pub fn succeed(&self, user: &str) {
        let key = self.user_key(user);
        if let Ok(mut users) = self.users.lock() {
            users.map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn limits_apply_per_user_and_per_address_and_expire() {
        let t = Throttle::new(Limits {
            max_per_user: 2,
            max_per_ip: 3,
            window_secs: 10,
        });
        let a = ip("127.0.0.1");
        t.fail("a", a, 100);
        assert!(t.check("a", a, 100).is_ok());
        t.fail("a", a, 101);
        assert!(matches!(
            t.check("a", a, 101),
            Err(CognitoError::NotAuthorized(_))
        ));
        assert!(t.check("b", a, 101).is_ok());
        t.fail("b", a, 102);
        assert!(matches!(
            t.check("c", a, 102),
            Err(CognitoError::TooManyRequests)
        ));
        assert!(t.check("a", a, 112).is_ok(), "failures expire");
    }

    #[test]
    fn one_address_cannot_lock_out_a_user_signing_in_from_another() {
        let t = Throttle::new(Limits {
            max_per_user: 5,
            max_per_ip: 100,
            window_secs: 900,
        });
        let attacker = ip("198.51.100.66");
        for _ in 0..5 {
            t.fail("alice", attacker, 100);
        }
        assert!(t.check("alice", attacker, 100).is_err());
        assert!(t.check("alice", ip("203.0.113.5"), 100).is_ok());
        // Many addresses together still lock the user (a distributed guesser).
        for i in 0..(5 * USER_WIDE_FACTOR) {
            t.fail("bob", ip(&format!("10.0.{}.{}", i / 200, i % 200)), 100);
        }
        assert!(t.check("bob", ip("203.0.113.5"), 100).is_err());
    }

    #[test]
    fn ipv6_addresses_count_per_slash_64() {
        let t = Throttle::new(Limits {
            max_per_user: 5,
            max_per_ip: 2,
            window_secs: 900,
        });
        t.fail("x", ip("2001:db8:1:2::1"), 100);
        t.fail("y", ip("2001:db8:1:2::ffff"), 100);
        assert!(matches!(
            t.check("z", ip("2001:db8:1:2:abcd::9"), 100),
            Err(CognitoError::TooManyRequests)
        ));
        assert!(t.check("z", ip("2001:db8:1:3::1"), 100).is_ok());
    }

    #[test]
    fn state_stays_bounded_under_random_usernames() {
        let t = Throttle::new(Limits {
            max_per_user: 5,
            max_per_ip: 1_000_000,
            window_secs: 10,
        });
        for i in 0..50_000i64 {
            t.fail(&format!("u{i}"), ip("198.51.100.1"), i / 100);
        }
        let users = t.users.lock().unwrap().map.len();
        // About 10,000 users are inside the window at any time; the map may grow to twice that between passes.
        assert!(users <= 25_000, "expired users are pruned: {users}");
    }
}
