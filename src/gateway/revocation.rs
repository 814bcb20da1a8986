//! The perimeter's revocation set for gatehouse's own issuer: origin JTIs revoked by `RevokeToken`, and per user
//! a time before which every token is void (`GlobalSignOut`, password change, disabled or deleted user). Kept
//! current by polling the store in the background, so checking a token never reads the store.
use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use crate::store::Sub;
use crate::token::VerifiedClaims;

/// One revocation, as the store records it (ids strictly increase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub id: i64,
    pub origin_jti: Option<String>,
    pub sub: Option<Sub>,
    /// Tokens of `sub` issued at or before this second are void (`i64::MAX`: all of them).
    pub not_before: i64,
}

#[derive(Debug, Default)]
struct Inner {
    origin_jtis: HashSet<String>,
    subs: HashMap<Sub, i64>,
    last_id: i64,
}

/// Revocations known to this gateway.
#[derive(Debug, Default)]
pub struct RevocationSet {
    inner: RwLock<Inner>,
}

impl RevocationSet {
    /// The id of the newest revocation applied.
    pub fn last_id(&self) -> i64 {
        self.inner.read().map_or(0, |i| i.last_id)
    }

    /// Applies rows in id order; for a user the newest row wins.
    pub fn apply(&self, rows: &[Revocation]) {
        let Ok(mut inner) = self.inner.write() else {
            return;
        };
        for r in rows {
            if r.id <= inner.last_id {
                continue;
            }
            if let Some(j) = &r.origin_jti {
                inner.origin_jtis.insert(j.clone());
            }
            if let Some(s) = &r.sub {
                inner.subs.insert(s.clone(), r.not_before);
            }
            inner.last_id = r.id;
        }
    }

    /// Whether the token is void.
    pub fn is_revoked(&self, claims: &VerifiedClaims) -> bool {
        let Ok(inner) = self.inner.read() else {
            return true;
        };
        if let Some(serde_json::Value::String(j)) = claims.extra.get("origin_jti") {
            if inner.origin_jtis.contains(j) {
                return true;
            }
        }
        match inner.subs.get(claims.sub.as_str()) {
            Some(not_before) => claims.iat.unwrap_or(i64::MIN) <= *not_before,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str, iat: i64, origin_jti: &str) -> VerifiedClaims {
        let mut payload = serde_json::Map::new();
        payload.insert("sub".into(), sub.into());
        payload.insert("iss".into(), "i".into());
        payload.insert("exp".into(), (iat + 3600).into());
        payload.insert("iat".into(), iat.into());
        payload.insert("origin_jti".into(), origin_jti.into());
        VerifiedClaims::from_payload(payload).unwrap()
    }

    #[test]
    fn origin_jti_and_user_cutoffs_revoke_and_newest_row_wins() {
        let set = RevocationSet::default();
        assert!(!set.is_revoked(&claims("alice", 100, "j1")));
        set.apply(&[Revocation {
            id: 1,
            origin_jti: Some("j1".into()),
            sub: None,
            not_before: 0,
        }]);
        assert!(set.is_revoked(&claims("alice", 100, "j1")));
        assert!(!set.is_revoked(&claims("alice", 100, "j2")));
        set.apply(&[Revocation {
            id: 2,
            origin_jti: None,
            sub: Some("bob".into()),
            not_before: 200,
        }]);
        assert!(set.is_revoked(&claims("bob", 200, "x")));
        assert!(
            !set.is_revoked(&claims("bob", 201, "x")),
            "tokens issued after a sign-out are fine"
        );
        set.apply(&[Revocation {
            id: 3,
            origin_jti: None,
            sub: Some("bob".into()),
            not_before: i64::MAX,
        }]);
        assert!(
            set.is_revoked(&claims("bob", 10_000, "x")),
            "a disabled user has no valid token"
        );
        set.apply(&[Revocation {
            id: 4,
            origin_jti: None,
            sub: Some("bob".into()),
            not_before: 300,
        }]);
        assert!(!set.is_revoked(&claims("bob", 301, "x")), "re-enabled");
        set.apply(&[Revocation {
            id: 2,
            origin_jti: None,
            sub: Some("bob".into()),
            not_before: i64::MAX,
        }]);
        assert!(
            !set.is_revoked(&claims("bob", 301, "x")),
            "old rows replayed are ignored"
        );
        assert_eq!(set.last_id(), 4);
    }
}
