//! The pool's signing keys as the IdP uses them: the newest key signs, and every older key stays in the JWKS
//! until every token it can have signed has expired (`OVERLAP` after its successor was created). Reloaded from
//! the store at most once a second, so `gatehouse keys rotate` takes effect while `up` runs. Must never
//! publish or log private key material.
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::{KeyRow, Store};
use crate::token::{JwkSet, KeySnapshot, RsaSigner, VerifyingKeys};

use super::CognitoError;

/// How long an older key stays published after a newer one was created: the longest token lifetime (1 day)
/// plus five minutes for instances that have not reloaded yet.
pub const OVERLAP: i64 = 86_400 + 300;
/// How often the key set is re-read from the store.
pub const RELOAD: Duration = Duration::from_secs(1);

/// One loaded key set.
#[derive(Debug)]
pub struct Keys {
    /// The newest key: signs every new token.
    pub signer: RsaSigner,
    /// Every published public key.
    pub jwks: JwkSet,
    /// The same keys for verifying tokens the IdP itself receives (`GetUser`, …).
    pub snapshot: KeySnapshot,
}

struct Loaded {
    at: Instant,
    fingerprint: Vec<(String, bool)>,
    keys: Arc<Keys>,
}

/// The reloading key set of one pool.
pub struct KeyRing {
    store: Arc<dyn Store>,
    pool_id: String,
    issuer: String,
    loaded: tokio::sync::Mutex<Option<Loaded>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("pool_id", &self.pool_id)
            .finish()
    }
}

/// Which of `rows` (oldest first) are published at `now`: the newest, and each older one whose successor is
/// younger than `OVERLAP`.
pub fn published(rows: &[KeyRow], now: i64) -> Vec<bool> {
    (0..rows.len())
        .map(|i| match rows.get(i + 1) {
            None => true,
            Some(next) => next.created_at.saturating_add(OVERLAP) > now,
        })
        .collect()
}

impl KeyRing {
    /// A key ring that loads lazily.
    pub fn new(store: Arc<dyn Store>, pool_id: String, issuer: String) -> Self {
        Self {
            store,
            pool_id,
            issuer,
            loaded: tokio::sync::Mutex::new(None),
        }
    }

    /// The current keys, re-read from the store if the last read is older than `RELOAD`.
    pub async fn current(&self, now_unix: i64) -> Result<Arc<Keys>, CognitoError> {
        let mut guard = self.loaded.lock().await;
        if let Some(l) = guard.as_ref() {
            if l.at.elapsed() < RELOAD {
                return Ok(l.keys.clone());
            }
        }
        let rows = self.store.signing_keys(&self.pool_id).await?;
        let publish = published(&rows, now_unix);
        let fingerprint: Vec<(String, bool)> = rows
            .iter()
            .zip(&publish)
            .map(|(r, p)| (r.kid.clone(), *p))
            .collect();
        if let Some(l) = guard.as_mut() {
            if l.fingerprint == fingerprint {
                l.at = Instant::now();
                return Ok(l.keys.clone());
            }
        }
        let mut signers = Vec::new();
        for (row, p) in rows.iter().zip(&publish) {
            if *p {
                signers.push(
                    RsaSigner::from_pkcs8(row.kid.clone(), &row.pkcs8).map_err(|e| {
                        CognitoError::Internal(format!("signing key {}: {e}", row.kid))
                    })?,
                );
            }
        }
        let jwks = JwkSet {
            keys: signers.iter().map(RsaSigner::public_jwk).collect(),
        };
        let signer = signers
            .pop()
            .ok_or_else(|| CognitoError::Internal("the pool has no signing key".into()))?;
        let keys = Arc::new(Keys {
            snapshot: KeySnapshot {
                issuer: self.issuer.clone(),
                keys: VerifyingKeys::from_jwks(&jwks.keys),
            },
            signer,
            jwks,
        });
        if guard.is_some() {
            tracing::info!(kid = %keys.signer.kid(), "signing keys reloaded");
        }
        *guard = Some(Loaded {
            at: Instant::now(),
            fingerprint,
            keys: keys.clone(),
        });
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kid: &str, created_at: i64) -> KeyRow {
        KeyRow {
            kid: kid.into(),
            pool_id: "p".into(),
            pkcs8: vec![],
            created_at,
        }
    }

    #[test]
    fn an_old_key_stays_published_until_its_tokens_have_expired() {
        let rows = [row("a", 0), row("b", 1000), row("c", 2000)];
        assert_eq!(published(&rows, 2000), vec![true, true, true]);
        assert_eq!(published(&rows, 1000 + OVERLAP), vec![false, true, true]);
        assert_eq!(published(&rows, 2000 + OVERLAP), vec![false, false, true]);
        assert_eq!(published(&rows[..1], i64::MAX), vec![true]);
    }
}
