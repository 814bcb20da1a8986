//! The pool's signing keys as the IdP uses them: the newest key signs, and every older key stays in the JWKS
//! until every token it can have signed has expired (`OVERLAP` after its successor was created). Reloaded from
//! the store at most once a second, so `gatehouse keys rotate` takes effect while `up` runs. Must never
//! publish or log private key material.
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::{KeyRow, PoolId, Store};
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

/// The reloading key set of one pool. Once loaded, it never fails: when the store cannot be read the last keys
/// keep signing and verifying (the store being away must not take sign-in-free requests down with it).
pub struct KeyRing {
    store: Arc<dyn Store>,
    pool_id: PoolId,
    issuer: String,
    loaded: std::sync::RwLock<Option<Loaded>>,
    /// Single-flight for store reads.
    reloading: tokio::sync::Mutex<()>,
    /// A background task calls `reload` every `RELOAD`; requests then never read the store.
    background: std::sync::atomic::AtomicBool,
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
    pub fn new(store: Arc<dyn Store>, pool_id: PoolId, issuer: String) -> Self {
        Self {
            store,
            pool_id,
            issuer,
            loaded: std::sync::RwLock::new(None),
            reloading: tokio::sync::Mutex::new(()),
            background: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether a key set has been loaded (readiness).
    pub fn is_loaded(&self) -> bool {
        self.loaded.read().is_ok_and(|l| l.is_some())
    }

    fn cached(&self, fresh_only: bool) -> Option<Arc<Keys>> {
        let guard = self.loaded.read().ok()?;
        let l = guard.as_ref()?;
        (!fresh_only || l.at.elapsed() < RELOAD).then(|| l.keys.clone())
    }

    /// Re-reads the keys every `RELOAD` in the background until `stop` changes; from then on requests only
    /// read memory.
    pub async fn reload_forever(
        &self,
        clock: Arc<dyn crate::clock::Clock>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        self.background
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let mut tick = tokio::time::interval(RELOAD);
        // A key inserted on any instance is announced by the store (PostgreSQL): reload at once.
        let mut changes = self.store.changes();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = crate::store::changed(&mut changes) => {}
                _ = stop.changed() => break,
            }
            if let Err(e) = self.reload(clock.now_unix()).await {
                tracing::warn!(error = ?e, "cannot load the signing keys");
            }
        }
    }

    /// The current keys: from memory when a background task reloads them or the last read is younger than
    /// `RELOAD`, otherwise re-read from the store (and if that fails, the last keys).
    pub async fn current(&self, now_unix: i64) -> Result<Arc<Keys>, CognitoError> {
        let background = self.background.load(std::sync::atomic::Ordering::Relaxed);
        if let Some(k) = self.cached(!background) {
            return Ok(k);
        }
        let _single = self.reloading.lock().await;
        if let Some(k) = self.cached(true) {
            return Ok(k);
        }
        match self.reload(now_unix).await {
            Ok(k) => Ok(k),
            Err(e) => match self.cached(false) {
                Some(k) => {
                    tracing::warn!(error = ?e, "cannot reload the signing keys; using the last ones");
                    if let Ok(mut g) = self.loaded.write() {
                        if let Some(l) = g.as_mut() {
                            // Try the store again after another RELOAD, not on every request.
                            l.at = Instant::now();
                        }
                    }
                    Ok(k)
                }
                None => Err(e),
            },
        }
    }

    /// Reads the keys from the store now.
    pub async fn reload(&self, now_unix: i64) -> Result<Arc<Keys>, CognitoError> {
        let rows = self.store.signing_keys(&self.pool_id).await?;
        let publish = published(&rows, now_unix);
        let fingerprint: Vec<(String, bool)> = rows
            .iter()
            .zip(&publish)
            .map(|(r, p)| (r.kid.clone(), *p))
            .collect();
        if let Ok(mut g) = self.loaded.write() {
            if let Some(l) = g.as_mut() {
                if l.fingerprint == fingerprint {
                    l.at = Instant::now();
                    return Ok(l.keys.clone());
                }
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
        let mut g = self
            .loaded
            .write()
            .map_err(|_| CognitoError::Internal("key ring lock poisoned".into()))?;
        if g.is_some() {
            tracing::info!(kid = %keys.signer.kid(), "signing keys reloaded");
        }
        *g = Some(Loaded {
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
