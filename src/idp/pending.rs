//! Short-lived sign-in state between `InitiateAuth` and `RespondToAuthChallenge`: the SRP exchange behind a
//! `SECRET_BLOCK`, and the `Session` of a `NEW_PASSWORD_REQUIRED` challenge. Single use (taken, never read
//! twice), expiring, bounded. In memory for a single instance (lost on restart by design: a sign-in in progress
//! simply starts again); in the store, keyed by the handle's SHA-256, when several instances share it (the
//! second step may reach another instance). Must never log a key or an ephemeral secret.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use num_bigint::BigUint;
use serde::{Deserialize, Serialize};

use super::srp::ServerEphemeral;
use crate::store::{Store, StoreError};

/// Most pending sign-ins held at once; beyond it the oldest expiry goes first.
pub const MAX_PENDING: usize = 100_000;

/// What a pending sign-in remembers.
#[derive(Debug)]
pub enum Pending {
    /// `USER_SRP_AUTH` answered with `PASSWORD_VERIFIER`.
    Srp {
        client_id: String,
        username: String,
        /// `None`: the user does not exist or has no verifier (the challenge was faked).
        verifier: Option<String>,
        fake_verifier: String,
        a: BigUint,
        eph: ServerEphemeral,
    },
    /// `NEW_PASSWORD_REQUIRED` after a correct temporary password.
    NewPassword { client_id: String, username: String },
}

/// `Pending` as the store keeps it.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind")]
enum Wire {
    Srp {
        client_id: String,
        username: String,
        verifier: Option<String>,
        fake_verifier: String,
        a: String,
        b: String,
        big_b: String,
    },
    NewPassword {
        client_id: String,
        username: String,
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
    })
}

/// The pending sign-ins, keyed by `SECRET_BLOCK` / `Session`.
#[derive(Default)]
pub struct PendingAuths {
    map: Mutex<HashMap<String, (i64, Pending)>>,
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
            map: Mutex::default(),
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
        let Ok(mut m) = self.map.lock() else { return };
        if m.len() >= MAX_PENDING {
            m.retain(|_, (exp, _)| *exp > now);
            if m.len() >= MAX_PENDING {
                if let Some(k) = m
                    .iter()
                    .min_by_key(|(_, (e, _))| *e)
                    .map(|(k, _)| k.clone())
                {
                    m.remove(&k);
                }
            }
        }
        m.insert(key, (expires_at, p));
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
        let mut m = self.map.lock().ok()?;
        let (exp, p) = m.remove(key)?;
        (exp > now).then_some(p)
    }
}
