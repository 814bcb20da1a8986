//! Short-lived sign-in state between `InitiateAuth` and `RespondToAuthChallenge`: the SRP exchange behind a
//! `SECRET_BLOCK`, the `Session` of a `NEW_PASSWORD_REQUIRED` challenge, and an `/oauth2/authorize` request
//! waiting for the hosted sign-in form. Single use (taken, never read
//! twice), expiring, bounded. In memory for a single instance (lost on restart by design: a sign-in in progress
//! simply starts again); in the store, keyed by the handle's SHA-256, when several instances share it (the
//! second step may reach another instance). Must never log a key or an ephemeral secret.
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use num_bigint::BigUint;
use serde::{Deserialize, Serialize};

use super::srp::ServerEphemeral;
use crate::store::{ClientId, Store, StoreError};

/// Most bytes of pending sign-ins held in memory at once; beyond it the oldest go first.
pub const MAX_PENDING_BYTES: usize = 12 * 1024 * 1024;
/// Most entries of the expiry queue (live and already taken); beyond it the oldest go first.
pub const MAX_QUEUED: usize = 64 * 1024;

/// What a pending sign-in remembers.
#[derive(Debug)]
pub enum Pending {
    /// `USER_SRP_AUTH` answered with `PASSWORD_VERIFIER`.
    Srp {
        client_id: ClientId,
        username: String,
        /// `None`: the user does not exist or has no verifier (the challenge was faked).
        verifier: Option<String>,
        fake_verifier: String,
        a: BigUint,
        eph: ServerEphemeral,
    },
    /// `NEW_PASSWORD_REQUIRED` after a correct temporary password.
    NewPassword {
        client_id: ClientId,
        username: String,
    },
    /// An authorization request waiting for the hosted page's form, as its owner (`oauth::pending_request`)
    /// encodes it.
    Authorize(String),
}

/// `Pending` as the store keeps it.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind")]
enum Wire {
    Srp {
        client_id: ClientId,
        username: String,
        verifier: Option<String>,
        fake_verifier: String,
        a: String,
        b: String,
        big_b: String,
    },
    NewPassword {
        client_id: ClientId,
        username: String,
    },
    Authorize {
        request: String,
    },
}

fn encode(p: Pending) -> Result<String, StoreError> {
    let w = match p {
        Pending::Srp {
            client_id,
            username,
            verifier,
            fake_verifier,
            a,
            eph,
        } => Wire::Srp {
            client_id,
            username,
            verifier,
            fake_verifier,
            a: a.to_str_radix(16),
            b: eph.secret_hex(),
            big_b: eph.big_b_hex,
        },
        Pending::NewPassword {
            client_id,
            username,
        } => Wire::NewPassword {
            client_id,
            username,
        },
        Pending::Authorize(request) => Wire::Authorize { request },
    };
    serde_json::to_string(&w).map_err(|e| StoreError::Other(format!("pending sign-in: {e}")))
}

fn decode(s: &str) -> Option<Pending> {
    Some(match serde_json::from_str::<Wire>(s).ok()? {
        Wire::Srp {
            client_id,
            username,
            verifier,
            fake_verifier,
            a,
            b,
            big_b,
        } => Pending::Srp {
            client_id,
            username,
            verifier,
            fake_verifier,
            a: BigUint::parse_bytes(a.as_bytes(), 16)?,
            eph: ServerEphemeral::from_parts(&b, big_b)?,
        },
        Wire::NewPassword {
            client_id,
            username,
        } => Pending::NewPassword {
            client_id,
            username,
        },
        Wire::Authorize { request } => Pending::Authorize(request),
    })
}

impl Pending {
    /// What the entry costs in memory, approximately (strings, numbers and the map's overhead).
    fn bytes(&self) -> usize {
        const OVERHEAD: usize = 256;
        OVERHEAD
            + match self {
                Pending::Srp {
                    client_id,
                    username,
                    verifier,
                    fake_verifier,
                    a,
                    eph,
                } => {
                    client_id.as_str().len()
                        + username.len()
                        + verifier.as_ref().map_or(0, String::len)
                        + fake_verifier.len()
                        + a.bits() as usize / 8
                        + eph.big_b_hex.len() * 2
                }
                Pending::NewPassword {
                    client_id,
                    username,
                } => client_id.as_str().len() + username.len(),
                Pending::Authorize(request) => request.len(),
            }
    }
}

/// In-memory entries with their expiry queue: inserts prune from the queue's head (the earliest expiry, since
/// every entry lives the same time), so each insert costs amortised O(1) and nothing ever scans the map.
#[derive(Default)]
struct Memory {
    map: HashMap<String, Entry>,
    /// `(expires_at, seq, key)` in insertion order; entries whose `seq` no longer matches were taken or replaced.
    queue: VecDeque<(i64, u64, String)>,
    bytes: usize,
    seq: u64,
}

struct Entry {
    expires_at: i64,
    seq: u64,
    bytes: usize,
    pending: Pending,
}

impl Memory {
    fn remove(&mut self, key: &str) -> Option<Entry> {
        let e = self.map.remove(key)?;
        self.bytes -= e.bytes;
        Some(e)
    }

    /// Drops expired entries, then the oldest ones while over budget, from the head of the queue.
    fn prune(&mut self, now: i64, incoming: usize) {
        while let Some(&(exp, _, _)) = self.queue.front() {
            let over = self.bytes + incoming > MAX_PENDING_BYTES || self.queue.len() >= MAX_QUEUED;
            if exp > now && !over {
                break;
            }
            let Some((_, seq, key)) = self.queue.pop_front() else {
                break;
            };
            if self.map.get(&key).is_some_and(|e| e.seq == seq) {
                self.remove(&key);
            }
        }
    }

    fn insert(&mut self, key: String, p: Pending, expires_at: i64, now: i64) {
        let bytes = p.bytes() + key.len() * 2;
        self.remove(&key);
        self.prune(now, bytes);
        self.seq += 1;
        self.queue.push_back((expires_at, self.seq, key.clone()));
        self.bytes += bytes;
        self.map.insert(
            key,
            Entry {
                expires_at,
                seq: self.seq,
                bytes,
                pending: p,
            },
        );
    }
}

/// The pending sign-ins, keyed by `SECRET_BLOCK` / `Session`.
#[derive(Default)]
pub struct PendingAuths {
    memory: Mutex<Memory>,
    /// Set when several instances share the store.
    store: Option<Arc<dyn Store>>,
}

impl std::fmt::Debug for PendingAuths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAuths")
            .field("in_store", &self.store.is_some())
            .finish_non_exhaustive()
    }
}

impl PendingAuths {
    /// Pending sign-ins kept in `store`, for instances that share it.
    pub fn in_store(store: Arc<dyn Store>) -> Self {
        Self {
            memory: Mutex::default(),
            store: Some(store),
        }
    }

    /// Remembers `p` under `key` until `expires_at`.
    pub async fn put(
        &self,
        key: String,
        p: Pending,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        if let Some(store) = &self.store {
            let payload = encode(p)?;
            let hash = crate::util::sha256_hex(key.as_bytes());
            return store.put_pending(&hash, &payload, expires_at, now).await;
        }
        self.put_in_memory(key, p, expires_at, now);
        Ok(())
    }

    fn put_in_memory(&self, key: String, p: Pending, expires_at: i64, now: i64) {
        let Ok(mut m) = self.memory.lock() else {
            return;
        };
        m.insert(key, p, expires_at, now);
    }

    /// Entries and bytes held in memory (for tests and benchmarks).
    pub fn memory_usage(&self) -> (usize, usize) {
        self.memory
            .lock()
            .map(|m| (m.map.len(), m.bytes))
            .unwrap_or_default()
    }

    /// Takes (removes) the state under `key` if it has not expired.
    pub async fn take(&self, key: &str, now: i64) -> Result<Option<Pending>, StoreError> {
        if let Some(store) = &self.store {
            let hash = crate::util::sha256_hex(key.as_bytes());
            let payload = store.take_pending(&hash, now).await?;
            return Ok(payload.as_deref().and_then(decode));
        }
        Ok(self.take_in_memory(key, now))
    }

    fn take_in_memory(&self, key: &str, now: i64) -> Option<Pending> {
        let mut m = self.memory.lock().ok()?;
        let e = m.remove(key)?;
        (e.expires_at > now).then_some(e.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn np(user: &str) -> Pending {
        Pending::NewPassword {
            client_id: "c".into(),
            username: user.into(),
        }
    }

    #[tokio::test]
    async fn expired_entries_are_pruned_on_insert_from_the_queue_head() {
        let p = PendingAuths::default();
        for i in 0..100 {
            p.put(format!("k{i}"), np("u"), 1_000 + 10, 1_000)
                .await
                .unwrap();
        }
        assert_eq!(p.memory_usage().0, 100);
        // Later: every earlier entry has expired and goes with the next insert.
        p.put("late".into(), np("u"), 2_000 + 10, 2_000)
            .await
            .unwrap();
        assert_eq!(p.memory_usage().0, 1);
        assert!(p.take("k1", 2_000).await.unwrap().is_none());
        assert!(p.take("late", 2_001).await.unwrap().is_some());
        assert!(p.take("late", 2_001).await.unwrap().is_none(), "single use");
        assert_eq!(p.memory_usage(), (0, 0));
    }

    #[tokio::test]
    async fn memory_is_bounded_in_bytes_and_the_oldest_go_first() {
        let p = PendingAuths::default();
        let big = "u".repeat(128);
        let n = MAX_QUEUED * 2;
        for i in 0..n {
            p.put(format!("key-{i:08}"), np(&big), 10_000, 1)
                .await
                .unwrap();
        }
        let (entries, bytes) = p.memory_usage();
        assert!(bytes <= MAX_PENDING_BYTES, "{bytes}");
        assert!(entries < MAX_QUEUED, "{entries}");
        assert!(
            p.take("key-00000000", 2).await.unwrap().is_none(),
            "oldest evicted"
        );
        let newest = format!("key-{:08}", n - 1);
        assert!(p.take(&newest, 2).await.unwrap().is_some(), "newest kept");
    }
}
