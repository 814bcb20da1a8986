//! Owns the JWKS cache ([`KeyCache`]: single-flight, rate-limited refresh,
//! stale-while-failing) and the token verification entry points
//! ([`Authorizer::authorize`], [`verify_with`]).
//!
//! Must never: read the clock (times are passed in), do network I/O itself
//! (a [`KeySource`] does it), hold a `std` lock across `.await`, trust any
//! claim before the signature verified, let a token choose where keys come
//! from, or let unknown `kid`s or bad signatures trigger more than one fetch
//! per interval.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::token::claims::VerifiedClaims;
use crate::token::error::TokenError;
use crate::token::jwk::VerifyingKeys;
use crate::token::jws::{self, Parsed};
use crate::token::policy::{self, Policy};

/// Default minimum time between two fetches (30 s).
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Default minimum time between a failed fetch and the next one (1 s).
pub const DEFAULT_FAILURE_BACKOFF: Duration = Duration::from_secs(1);
/// Default age after which a loaded key set is refreshed (300 s).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);

/// What a [`KeySource`] returns: the issuer from the discovery document and
/// the raw JWKS body.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The issuer (`iss`) tokens must carry, from the discovery document.
    pub issuer: String,
    /// The raw JWKS body (parsed by the cache; max 64 KiB).
    pub jwks: Vec<u8>,
}

/// A key-source failure; the text is for logs, never for clients.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

/// Where signing keys come from (discovery + JWKS over HTTP, or the local
/// IdP). Implementations must bound their own time (timeouts) and size.
#[async_trait::async_trait]
pub trait KeySource: Send + Sync + 'static {
    /// Fetches the issuer and JWKS once.
    async fn fetch(&self) -> Result<Fetched, FetchError>;
}

/// A loaded key set and the issuer it belongs to.
#[derive(Debug)]
pub struct KeySnapshot {
    /// The expected `iss` for tokens signed by these keys.
    pub issuer: String,
    /// The verification keys by `kid`.
    pub keys: VerifyingKeys,
}

#[derive(Default)]
struct State {
    snapshot: Option<Arc<KeySnapshot>>,
    /// When `snapshot` was loaded.
    loaded_at: Option<Instant>,
    /// When the last fetch was attempted, and whether it failed.
    last_attempt: Option<(Instant, bool)>,
}

/// Caches the key set of one issuer.
///
/// * First use loads the keys; if that fails, requests fail closed with
///   `KeysUnavailable` (retried after `failure_backoff`).
/// * A snapshot older than `max_age` is refreshed by the first caller that
///   notices (others keep using the old snapshot meanwhile); if the refresh
///   fails, the old keys keep being served and the refresh is retried after
///   `failure_backoff`.
/// * An unknown `kid` triggers at most one fetch per `min_refresh_interval`
///   (per `failure_backoff` after a failure), whatever the number of
///   distinct unknown kids presented.
/// * All fetches are single-flight (one `tokio::sync::Mutex`).
/// * A fetch whose JWKS does not parse, yields no usable key, or whose
///   issuer is empty counts as a failed fetch (it never replaces good keys).
pub struct KeyCache {
    source: Arc<dyn KeySource>,
    min_refresh_interval: Duration,
    failure_backoff: Duration,
    max_age: Duration,
    state: RwLock<State>,
    fetch_lock: tokio::sync::Mutex<()>,
    fetch_count: AtomicU64,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("min_refresh_interval", &self.min_refresh_interval)
            .field("failure_backoff", &self.failure_backoff)
            .field("max_age", &self.max_age)
            .field("fetch_count", &self.fetch_count())
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    /// Creates an empty cache. Suggested values: `min_refresh_interval`
    /// [`DEFAULT_MIN_REFRESH_INTERVAL`] (30 s), `failure_backoff`
    /// [`DEFAULT_FAILURE_BACKOFF`] (1 s), `max_age` [`DEFAULT_MAX_AGE`]
    /// (300 s). Nothing is fetched until first use.
    pub fn new(
        source: Arc<dyn KeySource>,
        min_refresh_interval: Duration,
        failure_backoff: Duration,
        max_age: Duration,
    ) -> Self {
        KeyCache {
            source,
            min_refresh_interval,
            failure_backoff,
            max_age,
            state: RwLock::new(State::default()),
            fetch_lock: tokio::sync::Mutex::new(()),
            fetch_count: AtomicU64::new(0),
        }
    }

    /// Number of fetches attempted so far (successful or not).
    pub fn fetch_count(&self) -> u64 {
        self.fetch_count.load(Ordering::Relaxed)
    }

    /// The current key set: loads it on first use, refreshes it
    /// (single-flight) once older than `max_age` while serving the old one if
    /// the refresh fails. `KeysUnavailable` if keys were never loaded.
    pub async fn key_set(&self, now: Instant) -> Result<Arc<KeySnapshot>, TokenError> {
        let current = {
            let state = self.read_state();
            match (&state.snapshot, state.loaded_at) {
                (Some(snap), Some(at)) if now.saturating_duration_since(at) < self.max_age => {
                    return Ok(Arc::clone(snap));
                }
                (snap, _) => snap.clone(),
            }
        };
        let guard = match &current {
            // Stale keys exist: whoever gets the lock refreshes, everyone
            // else keeps serving the stale snapshot instead of queueing.
            Some(stale) => match self.fetch_lock.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(Arc::clone(stale)),
            },
            None => self.fetch_lock.lock().await,
        };
        // Re-check under the fetch lock: another task may have loaded keys.
        let (snapshot, fresh, may_fetch) = {
            let state = self.read_state();
            let fresh = state
                .loaded_at
                .is_some_and(|at| now.saturating_duration_since(at) < self.max_age);
            let may_fetch = self.backoff_elapsed(&state, now, Duration::ZERO);
            (state.snapshot.clone(), fresh, may_fetch)
        };
        match snapshot {
            Some(snap) if fresh || !may_fetch => return Ok(snap),
            None if !may_fetch => return Err(TokenError::KeysUnavailable),
            _ => {}
        }
        let result = self.fetch_and_store(now).await;
        drop(guard);
        result
    }

    /// Called when a token's `kid` is not in the current snapshot. Under the
    /// single-flight lock: if the current snapshot already has `kid` it is
    /// returned; otherwise keys are re-fetched only if the last fetch
    /// attempt is older than `min_refresh_interval` (`failure_backoff` after
    /// a failure), else `UnknownKid`. Returns `Ok` only with a snapshot that
    /// contains `kid`; `KeysUnavailable` if keys were never loaded.
    pub async fn refresh_for_unknown_kid(
        &self,
        kid: &str,
        now: Instant,
    ) -> Result<Arc<KeySnapshot>, TokenError> {
        let guard = self.fetch_lock.lock().await;
        let (snapshot, may_fetch) = {
            let state = self.read_state();
            let may_fetch = self.backoff_elapsed(&state, now, self.min_refresh_interval);
            (state.snapshot.clone(), may_fetch)
        };
        if let Some(snap) = &snapshot {
            if snap.keys.get(kid).is_some() {
                return Ok(Arc::clone(snap));
            }
        }
        if !may_fetch {
            return Err(if snapshot.is_some() {
                TokenError::UnknownKid
            } else {
                TokenError::KeysUnavailable
            });
        }
        let result = self.fetch_and_store(now).await;
        drop(guard);
        match result {
            Ok(snap) if snap.keys.get(kid).is_some() => Ok(snap),
            Ok(_) => Err(TokenError::UnknownKid),
            Err(e) => Err(e),
        }
    }

    /// Called when a signature did not verify under a *known* kid, with the snapshot that refused it. Under the
    /// single-flight lock: a newer snapshot than `used` (someone refreshed meanwhile) is returned as is; otherwise
    /// keys are re-fetched only if the last attempt is older than `min_refresh_interval` (the same budget unknown
    /// kids share). `None`: nothing newer to try.
    pub async fn refresh_after_bad_signature(
        &self,
        used: &Arc<KeySnapshot>,
        now: Instant,
    ) -> Option<Arc<KeySnapshot>> {
        let _guard = self.fetch_lock.lock().await;
        let (current, may_fetch) = {
            let state = self.read_state();
            let may_fetch = self.backoff_elapsed(&state, now, self.min_refresh_interval);
            (state.snapshot.clone(), may_fetch)
        };
        if let Some(current) = current {
            if !Arc::ptr_eq(&current, used) {
                return Some(current);
            }
        }
        if !may_fetch {
            return None;
        }
        match self.fetch_and_store(now).await {
            Ok(snap) if !Arc::ptr_eq(&snap, used) => Some(snap),
            _ => None,
        }
    }

    /// Whether enough time passed since the last attempt: `after_success`
    /// after a successful one, `failure_backoff` after a failed one.
    fn backoff_elapsed(&self, state: &State, now: Instant, after_success: Duration) -> bool {
        match state.last_attempt {
            None => true,
            Some((at, failed)) => {
                let wait = if failed {
                    self.failure_backoff
                } else {
                    after_success
                };
                now.saturating_duration_since(at) >= wait
            }
        }
    }

    /// Fetches once and stores the result. Must be called with `fetch_lock`
    /// held. On failure the previous snapshot (if any) is kept and returned.
    async fn fetch_and_store(&self, now: Instant) -> Result<Arc<KeySnapshot>, TokenError> {
        self.fetch_count.fetch_add(1, Ordering::Relaxed);
        let loaded = match self.source.fetch().await {
            Ok(fetched) => load(fetched),
            Err(_) => None,
        };
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        match loaded {
            Some(snap) => {
                let snap = Arc::new(snap);
                state.snapshot = Some(Arc::clone(&snap));
                state.loaded_at = Some(now);
                state.last_attempt = Some((now, false));
                Ok(snap)
            }
            None => {
                state.last_attempt = Some((now, true));
                state.snapshot.clone().ok_or(TokenError::KeysUnavailable)
            }
        }
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // State is only ever replaced field-by-field with complete values, so
        // a poisoned lock still holds consistent data.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }
}

fn load(fetched: Fetched) -> Option<KeySnapshot> {
    if fetched.issuer.is_empty() {
        return None;
    }
    let keys = VerifyingKeys::from_jwks_json(&fetched.jwks).ok()?;
    if keys.is_empty() {
        return None;
    }
    Some(KeySnapshot {
        issuer: fetched.issuer,
        keys,
    })
}

/// Verifies `token` against `snapshot` and `policy` without any refresh:
/// parse → key by `kid` (`UnknownKid` if absent) → RS256 signature → claim
/// types → policy (issuer = `snapshot.issuer`).
pub fn verify_with(
    snapshot: &KeySnapshot,
    policy: &Policy,
    token: &str,
    now_unix: i64,
) -> Result<VerifiedClaims, TokenError> {
    let parsed = jws::parse(token)?;
    verify_parsed(snapshot, policy, parsed, now_unix)
}

fn verify_parsed(
    snapshot: &KeySnapshot,
    policy: &Policy,
    parsed: Parsed<'_>,
    now_unix: i64,
) -> Result<VerifiedClaims, TokenError> {
    let key = snapshot
        .keys
        .get(&parsed.header.kid)
        .ok_or(TokenError::UnknownKid)?;
    // The signature is checked before any claim is looked at.
    key.verify_sig(parsed.signing_input, &parsed.signature)
        .map_err(|_| TokenError::BadSignature)?;
    // RFC 8725 §3.11: a header that types the token as another kind (an ID token, a logout or security-event
    // token) is refused; untyped tokens (Cognito's) and JWT / access-token types are accepted.
    if let Some(typ) = &parsed.header.typ {
        let t = typ.to_ascii_lowercase();
        if !matches!(t.as_str(), "jwt" | "at+jwt" | "application/at+jwt") {
            return Err(TokenError::WrongTokenUse);
        }
    }
    let claims = VerifiedClaims::from_payload(parsed.payload)?;
    policy::check(policy, &claims, &snapshot.issuer, now_unix)?;
    Ok(claims)
}

/// A policy plus the key cache of the issuer it trusts.
#[derive(Debug, Clone)]
pub struct Authorizer {
    /// What verified tokens must satisfy.
    pub policy: Policy,
    /// Keys of the trusted issuer.
    pub cache: Arc<KeyCache>,
}

impl Authorizer {
    /// parse → key by kid (one rate-limited refresh on unknown kid) → RS256
    /// signature (aws-lc-rs) → claims → policy (issuer = snapshot issuer).
    ///
    /// Structurally invalid tokens are refused before any key is loaded. A
    /// bad signature under a *known* kid is `BadSignature` after at most one
    /// rate-limited refresh (same kid, new key: security checklist 6).
    pub async fn authorize(
        &self,
        token: &str,
        now_unix: i64,
        now: Instant,
    ) -> Result<VerifiedClaims, TokenError> {
        let parsed = jws::parse(token)?;
        let mut snapshot = self.cache.key_set(now).await?;
        if snapshot.keys.get(&parsed.header.kid).is_none() {
            snapshot = self
                .cache
                .refresh_for_unknown_kid(&parsed.header.kid, now)
                .await?;
        }
        match verify_parsed(&snapshot, &self.policy, parsed, now_unix) {
            // Same kid, new key (an issuer that rotates in place): one refresh, rate-limited exactly like unknown
            // kids, then one more try against the new set. A flood of forged signatures costs at most one fetch
            // per interval.
            Err(TokenError::BadSignature) => {
                match self.cache.refresh_after_bad_signature(&snapshot, now).await {
                    Some(newer) => verify_with(&newer, &self.policy, token, now_unix),
                    None => Err(TokenError::BadSignature),
                }
            }
            other => other,
        }
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
