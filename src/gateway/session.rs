//! Sessions: validates or mints session ids, and binds each session of a runtime to the user (issuer + `sub`)
//! whose token first used it. Ownership never changes once bound, so it is cached in memory forever; the store
//! is written only on a session's first request. Must never route a session to anyone but its owner.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::GatewayError;
use crate::store::{SessionOwner, Store, StoreError};

/// AgentCore's bounds on `runtimeSessionId`.
pub const MIN_SESSION_ID: usize = 33;
/// AgentCore's bounds on `runtimeSessionId`.
pub const MAX_SESSION_ID: usize = 256;
/// Entries kept in the in-memory binding cache before it is emptied (the store stays authoritative).
const CACHE_LIMIT: usize = 100_000;

/// Checks a client-sent session id: 33–256 characters of `[A-Za-z0-9_-]`, starting with a letter or digit.
pub fn validate_session_id(id: &str) -> Result<(), GatewayError> {
    let ok = (MIN_SESSION_ID..=MAX_SESSION_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && id.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(GatewayError::InvalidSessionId)
    }
}

/// A new session id: a UUID (122 random bits) followed by 64 more random bits, 53 characters in all.
pub fn mint_session_id() -> String {
    format!(
        "{}-{}",
        crate::util::uuid_v4(),
        crate::util::random_lower_alnum(16)
    )
}

fn store_error(what: &str, e: StoreError) -> GatewayError {
    match e {
        StoreError::Unavailable(_) => GatewayError::StoreUnavailable(format!("{what}: {e}")),
        e => GatewayError::Internal(format!("{what}: {e}")),
    }
}

/// Binds sessions to owners, store-backed with an in-memory cache.
pub struct SessionBinder {
    store: Arc<dyn Store>,
    cache: Mutex<OwnerCache>,
}

/// Owners by runtime ARN, then session id: nested so the per-request lookup borrows the caller's `&str`s.
#[derive(Default)]
struct OwnerCache {
    map: HashMap<String, HashMap<String, SessionOwner>>,
    len: usize,
}

impl SessionBinder {
    /// A binder over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: Mutex::default(),
        }
    }

    fn cached(&self, runtime_arn: &str, session_id: &str) -> Option<SessionOwner> {
        let cache = self.cache.lock().ok()?;
        cache.map.get(runtime_arn)?.get(session_id).cloned()
    }

    /// Whether the cached owner of the session is `issuer`/`sub`; `None` if the session is not cached.
    fn cached_is(
        &self,
        runtime_arn: &str,
        session_id: &str,
        issuer: &str,
        sub: &str,
    ) -> Option<bool> {
        let cache = self.cache.lock().ok()?;
        let owner = cache.map.get(runtime_arn)?.get(session_id)?;
        Some(owner.issuer == issuer && owner.sub == sub)
    }

    /// The owner of a session, if it was ever bound.
    pub async fn owner(
        &self,
        runtime_arn: &str,
        session_id: &str,
    ) -> Result<Option<SessionOwner>, GatewayError> {
        if let Some(o) = self.cached(runtime_arn, session_id) {
            return Ok(Some(o));
        }
        self.store
            .session_owner(runtime_arn, session_id)
            .await
            .map_err(|e| store_error("session lookup", e))
    }

    /// The internal URL of the instance that runs the session's process, if recorded.
    pub async fn instance(
        &self,
        runtime_arn: &str,
        session_id: &str,
    ) -> Result<Option<String>, GatewayError> {
        self.store
            .session_instance(runtime_arn, session_id)
            .await
            .map_err(|e| GatewayError::Internal(format!("session instance lookup: {e}")))
    }

    /// Records `url` as the instance running the session's process unless one is recorded; returns the one
    /// recorded now (the first claim wins).
    pub async fn claim_instance(
        &self,
        runtime_arn: &str,
        session_id: &str,
        url: &str,
    ) -> Result<Option<String>, GatewayError> {
        self.store
            .claim_session_instance(runtime_arn, session_id, url)
            .await
            .map_err(|e| GatewayError::Internal(format!("recording the session's instance: {e}")))
    }

    /// Clears the record if it still names `url`.
    pub async fn release_instance(
        &self,
        runtime_arn: &str,
        session_id: &str,
        url: &str,
    ) -> Result<(), GatewayError> {
        self.store
            .release_session_instance(runtime_arn, session_id, url)
            .await
            .map_err(|e| GatewayError::Internal(format!("clearing the session's instance: {e}")))
    }

    /// Succeeds if the session is (now) owned by the user `issuer`/`sub`; `SessionOwnedByAnother` otherwise.
    pub async fn bind(
        &self,
        runtime_arn: &str,
        session_id: &str,
        issuer: &str,
        sub: &str,
        now: i64,
    ) -> Result<(), GatewayError> {
        let owned = match self.cached_is(runtime_arn, session_id, issuer, sub) {
            Some(owned) => owned,
            None => {
                let caller = SessionOwner {
                    issuer: issuer.to_string(),
                    sub: sub.to_string(),
                };
                let owner = self
                    .store
                    .bind_session(runtime_arn, session_id, &caller, now)
                    .await
                    .map_err(|e| store_error("session binding", e))?;
                let owned = owner == caller;
                if let Ok(mut c) = self.cache.lock() {
                    if c.len >= CACHE_LIMIT {
                        *c = OwnerCache::default();
                    }
                    let previous = c
                        .map
                        .entry(runtime_arn.to_string())
                        .or_default()
                        .insert(session_id.to_string(), owner);
                    if previous.is_none() {
                        c.len += 1;
                    }
                }
                owned
            }
        };
        if owned {
            Ok(())
        } else {
            tracing::warn!(
                runtime = runtime_arn,
                "refused a session owned by another user"
            );
            Err(GatewayError::SessionOwnedByAnother)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_validated() {
        assert!(validate_session_id(&"a".repeat(33)).is_ok());
        assert!(validate_session_id(&"a".repeat(256)).is_ok());
        assert!(validate_session_id(&"a".repeat(32)).is_err());
        assert!(validate_session_id(&"a".repeat(257)).is_err());
        assert!(validate_session_id(&format!("{}/x", "a".repeat(40))).is_err());
        assert!(validate_session_id(&format!("-{}", "a".repeat(40))).is_err());
        assert!(validate_session_id(&format!("{} x", "a".repeat(40))).is_err());
        let err = validate_session_id(&format!("_{}", "a".repeat(40))).unwrap_err();
        assert!(
            err.to_string().contains("starting with a letter or digit"),
            "the message must say what to fix: {err}"
        );
    }

    #[test]
    fn minted_ids_are_valid_and_distinct() {
        let a = mint_session_id();
        assert!(validate_session_id(&a).is_ok(), "{a}");
        assert_ne!(a, mint_session_id());
    }
}
