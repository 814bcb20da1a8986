//! The verified-token cache: a token whose RS256 signature and claims were checked once is remembered, keyed by
//! the SHA-256 of the token and the authorizer that accepted it, so a browser re-using its access token costs a
//! hash and a map lookup instead of an RSA verification. Every hit re-runs the time-dependent policy checks
//! (`exp`, `nbf`, `iat`, lifetime) against the current time, entries live at most `MAX_AGE` (so a key dropped
//! from the JWKS stops being honoured soon after), and the revocation set is consulted by the caller on every
//! request. Never stores the token itself.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::token::{policy, Authorizer, TokenError, VerifiedClaims};

/// Longest an entry is trusted without re-verifying the signature, seconds.
pub const MAX_AGE_SECS: i64 = 60;
/// Entries kept; the cache is emptied when full (simple, and refills at the rate of new tokens).
pub const CAPACITY: usize = 50_000;

struct Entry {
    claims: Arc<VerifiedClaims>,
    until: i64,
}

/// Verified tokens by (authorizer, SHA-256 of the token).
pub struct VerifiedTokens {
    map: Mutex<HashMap<(usize, [u8; 32]), Entry>>,
    capacity: usize,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.map.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("VerifiedTokens")
            .field("entries", &n)
            .finish()
    }
}

fn key(authorizer: &Authorizer, token: &str) -> (usize, [u8; 32]) {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut k = [0u8; 32];
    k.copy_from_slice(digest.as_ref());
    (std::ptr::from_ref(authorizer) as usize, k)
}

impl VerifiedTokens {
    /// A cache of at most `capacity` entries; 0 turns it off (every call verifies the signature).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            map: Mutex::default(),
            capacity,
        }
    }

    /// The claims of `token` under `authorizer`: from the cache (time checks re-run) or by full verification.
    pub async fn authorize(
        &self,
        authorizer: &Authorizer,
        token: &str,
        now_unix: i64,
        now: std::time::Instant,
    ) -> Result<Arc<VerifiedClaims>, TokenError> {
        // The full verification is boxed: it is the miss path, and inline its future would enlarge (and be
        // copied with) every request's, hits included.
        if self.capacity == 0 {
            return Ok(Arc::new(
                Box::pin(authorizer.authorize(token, now_unix, now)).await?,
            ));
        }
        let k = key(authorizer, token);
        let hit = self.map.lock().ok().and_then(|m| {
            m.get(&k)
                .filter(|e| now_unix < e.until)
                .map(|e| e.claims.clone())
        });
        if let Some(claims) = hit {
            policy::check(&authorizer.policy, &claims, &claims.iss, now_unix)?;
            return Ok(claims);
        }
        let claims = Arc::new(Box::pin(authorizer.authorize(token, now_unix, now)).await?);
        if let Ok(mut m) = self.map.lock() {
            if m.len() >= self.capacity {
                m.clear();
            }
            let until = claims.exp.min(now_unix.saturating_add(MAX_AGE_SECS));
            m.insert(
                k,
                Entry {
                    claims: claims.clone(),
                    until,
                },
            );
        }
        Ok(claims)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{FetchError, Fetched, JwkSet, KeyCache, KeySource, Policy, RsaSigner};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    struct Keys(Vec<u8>, AtomicU64);
    #[async_trait::async_trait]
    impl KeySource for Keys {
        async fn fetch(&self) -> Result<Fetched, FetchError> {
            self.1.fetch_add(1, Ordering::SeqCst);
            Ok(Fetched {
                issuer: "iss".into(),
                jwks: self.0.clone(),
            })
        }
    }

    fn setup() -> (RsaSigner, Arc<KeyCache>) {
        let der = RsaSigner::generate_pkcs8().unwrap();
        let signer = RsaSigner::from_pkcs8("k1".into(), &der).unwrap();
        let jwks = serde_json::to_vec(&JwkSet {
            keys: vec![signer.public_jwk()],
        })
        .unwrap();
        let cache = Arc::new(KeyCache::new(
            Arc::new(Keys(jwks, AtomicU64::new(0))),
            Duration::from_secs(30),
            Duration::from_secs(1),
            Duration::from_secs(3600),
        ));
        (signer, cache)
    }

    fn token(signer: &RsaSigner, client: &str, iat: i64, exp: i64) -> String {
        signer
            .sign(&serde_json::json!({"sub": "u", "iss": "iss", "client_id": client, "token_use": "access", "iat": iat, "exp": exp}))
            .unwrap()
    }

    /// An authorizer that allows exactly these clients.
    fn allowing(clients: &[&str], cache: Arc<KeyCache>) -> Authorizer {
        Authorizer {
            policy: Policy {
                allowed_clients: clients.iter().map(|c| (*c).to_string()).collect(),
                ..Policy::default()
            },
            cache,
        }
    }

    #[tokio::test]
    async fn a_cached_token_still_expires() {
        let (signer, cache) = setup();
        let a = allowing(&["c"], cache);
        let v = VerifiedTokens::default();
        let t = token(&signer, "c", 1000, 1100);
        let now = Instant::now();
        assert!(v.authorize(&a, &t, 1000, now).await.is_ok());
        assert_eq!(v.len(), 1);
        assert!(v.authorize(&a, &t, 1050, now).await.is_ok(), "a hit");
        assert_eq!(
            v.authorize(&a, &t, 1100 + 61, now).await.unwrap_err(),
            TokenError::Expired
        );
    }

    #[tokio::test]
    async fn capacity_zero_verifies_every_time_and_keeps_nothing() {
        let (signer, cache) = setup();
        let a = Authorizer {
            policy: Policy::default(),
            cache,
        };
        let v = VerifiedTokens::with_capacity(0);
        let t = token(&signer, "c", 1000, 1100);
        let now = Instant::now();
        for _ in 0..3 {
            assert!(v.authorize(&a, &t, 1000, now).await.is_ok());
        }
        assert!(v.is_empty());
        let mut forged = t.clone();
        forged.push('x');
        assert!(v.authorize(&a, &forged, 1000, now).await.is_err());
    }

    #[tokio::test]
    async fn entries_are_per_authorizer_so_policies_are_never_shared() {
        let (signer, cache) = setup();
        let lenient = allowing(&["c"], cache.clone());
        let strict = allowing(&["other"], cache);
        let v = VerifiedTokens::default();
        let t = token(&signer, "c", 1000, 5000);
        let now = Instant::now();
        assert!(v.authorize(&lenient, &t, 1000, now).await.is_ok());
        assert_eq!(
            v.authorize(&strict, &t, 1000, now).await.unwrap_err(),
            TokenError::ClientNotAllowed
        );
    }

    #[tokio::test]
    async fn a_tampered_token_is_not_a_cache_hit() {
        let (signer, cache) = setup();
        let a = allowing(&["c"], cache);
        let v = VerifiedTokens::default();
        let t = token(&signer, "c", 1000, 5000);
        let now = Instant::now();
        assert!(v.authorize(&a, &t, 1000, now).await.is_ok());
        let mut forged = t.clone();
        forged.pop();
        forged.push(if t.ends_with('A') { 'B' } else { 'A' });
        assert!(v.authorize(&a, &forged, 1000, now).await.is_err());
    }
}
