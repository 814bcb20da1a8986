//! Short-lived sign-in state between `InitiateAuth` and `RespondToAuthChallenge`: the SRP exchange behind a
//! `SECRET_BLOCK`, and the `Session` of a `NEW_PASSWORD_REQUIRED` challenge. In memory, single use (taken, never
//! read twice), expiring, bounded. Lost on restart by design (a sign-in in progress simply starts again). Must
//! never log a key or an ephemeral secret.
use std::collections::HashMap;
use std::sync::Mutex;

use num_bigint::BigUint;

use super::srp::ServerEphemeral;

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

/// The pending sign-ins, keyed by `SECRET_BLOCK` / `Session`.
#[derive(Debug, Default)]
pub struct PendingAuths {
    map: Mutex<HashMap<String, (i64, Pending)>>,
}

impl PendingAuths {
    /// Remembers `p` under `key` until `expires_at`.
    pub fn put(&self, key: String, p: Pending, expires_at: i64, now: i64) {
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
    pub fn take(&self, key: &str, now: i64) -> Option<Pending> {
        let mut m = self.map.lock().ok()?;
        let (exp, p) = m.remove(key)?;
        (exp > now).then_some(p)
    }
}
