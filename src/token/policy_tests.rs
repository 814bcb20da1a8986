//! Unit tests for `policy::check` and `Policy` defaults: time windows and
//! leeway, lifetime, token use, clients, audience, scopes, every
//! custom-claim operator, and check order.
//!
//! Must never: depend on keys or read the clock (a fixed `NOW` is used).

use super::*;
use serde_json::{json, Map};

const NOW: i64 = 1_700_000_000;
const ISS: &str = "https://issuer.example/pool";

fn claims(overrides: Value) -> VerifiedClaims {
    let mut base = json!({
        "sub": "u", "iss": ISS, "token_use": "access", "client_id": "c1",
        "scope": "read write", "iat": NOW, "exp": NOW + 3600, "aud": ["api"],
        "department": "eng", "roles": ["admin", "dev"], "mixed": ["admin", 1],
    });
    if let (Some(b), Value::Object(o)) = (base.as_object_mut(), overrides) {
        for (k, v) in o {
            if v.is_null() {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
    }
    let map: Map<String, Value> = base.as_object().cloned().unwrap_or_default();
    VerifiedClaims::from_payload(map).expect("valid claims")
}

fn check_default(c: &VerifiedClaims) -> Result<(), TokenError> {
    check(&Policy::default(), c, ISS, NOW)
}

fn rule(claim: &str, op: ClaimOp) -> Policy {
    Policy {
        custom_claims: vec![ClaimRule {
            claim: claim.to_owned(),
            op,
        }],
        ..Policy::default()
    }
}

#[test]
fn default_policy_checks_no_clients_audiences_scopes_or_custom_claims() {
    let p = Policy::default();
    assert!(p.allowed_clients.is_empty());
    assert!(p.allowed_audience.is_empty());
    assert!(p.allowed_scopes.is_empty());
    assert!(p.custom_claims.is_empty());
    assert_eq!(
        check_default(&claims(json!({"client_id": "anything", "scope": null}))),
        Ok(())
    );
}

#[test]
fn default_policy_requires_access_token_use() {
    assert_eq!(
        Policy::default().required_token_use.as_deref(),
        Some("access")
    );
    let id = claims(json!({"token_use": "id"}));
    assert_eq!(check_default(&id), Err(TokenError::WrongTokenUse));
    let none = claims(json!({"token_use": null}));
    assert_eq!(check_default(&none), Err(TokenError::WrongTokenUse));
    let unchecked = Policy {
        required_token_use: None,
        ..Policy::default()
    };
    assert_eq!(check(&unchecked, &id, ISS, NOW), Ok(()));
}

#[test]
fn default_leeway_is_30_seconds() {
    assert_eq!(Policy::default().leeway_secs, 30);
    assert_eq!(Policy::default().effective_leeway(), 30);
    let c = claims(json!({"iat": NOW - 100, "exp": NOW - 29}));
    assert_eq!(check_default(&c), Ok(()));
    let c = claims(json!({"iat": NOW - 100, "exp": NOW - 30}));
    assert_eq!(check_default(&c), Err(TokenError::Expired));
}

#[test]
fn leeway_is_clamped_to_0_through_60() {
    let big = Policy {
        leeway_secs: 3600,
        ..Policy::default()
    };
    assert_eq!(big.effective_leeway(), 60);
    let c = claims(json!({"iat": NOW - 1000, "exp": NOW - 61}));
    assert_eq!(check(&big, &c, ISS, NOW), Err(TokenError::Expired));
    let negative = Policy {
        leeway_secs: -100,
        ..Policy::default()
    };
    assert_eq!(negative.effective_leeway(), 0);
    let c = claims(json!({"iat": NOW - 1000, "exp": NOW}));
    assert_eq!(check(&negative, &c, ISS, NOW), Err(TokenError::Expired));
    let c = claims(json!({"iat": NOW - 1000, "exp": NOW + 1}));
    assert_eq!(check(&negative, &c, ISS, NOW), Ok(()));
}

#[test]
fn default_max_lifetime_is_one_day() {
    assert_eq!(Policy::default().max_lifetime_secs, Some(86_400));
    let ok = claims(json!({"iat": NOW, "exp": NOW + 86_400}));
    assert_eq!(check_default(&ok), Ok(()));
    let long = claims(json!({"iat": NOW, "exp": NOW + 86_401}));
    assert_eq!(check_default(&long), Err(TokenError::LifetimeTooLong));
    let unchecked = Policy {
        max_lifetime_secs: None,
        ..Policy::default()
    };
    assert_eq!(check(&unchecked, &long, ISS, NOW), Ok(()));
}

#[test]
fn lifetime_without_iat_is_measured_from_now() {
    let c = claims(json!({"iat": null, "exp": NOW + 86_401}));
    assert_eq!(check_default(&c), Err(TokenError::LifetimeTooLong));
    let c = claims(json!({"iat": null, "exp": NOW + 600}));
    assert_eq!(check_default(&c), Ok(()));
}

#[test]
fn issuer_must_match_exactly() {
    let c = claims(json!({}));
    assert_eq!(
        check(&Policy::default(), &c, "https://issuer.example/pool/", NOW),
        Err(TokenError::WrongIssuer)
    );
    assert_eq!(
        check(&Policy::default(), &c, "HTTPS://issuer.example/pool", NOW),
        Err(TokenError::WrongIssuer)
    );
    let slash = claims(json!({"iss": format!("{ISS}/")}));
    assert_eq!(check_default(&slash), Err(TokenError::WrongIssuer));
}

#[test]
fn not_before_and_issued_at_respect_leeway() {
    let c = claims(json!({"nbf": NOW + 30}));
    assert_eq!(check_default(&c), Ok(()));
    let c = claims(json!({"nbf": NOW + 31}));
    assert_eq!(check_default(&c), Err(TokenError::NotYetValid));
    let c = claims(json!({"iat": NOW + 30, "exp": NOW + 3600}));
    assert_eq!(check_default(&c), Ok(()));
    let c = claims(json!({"iat": NOW + 31, "exp": NOW + 3600}));
    assert_eq!(check_default(&c), Err(TokenError::IssuedInFuture));
}

#[test]
fn checks_run_in_documented_order() {
    // Wrong issuer wins over expiry; expiry wins over token use; token use
    // wins over client; scope wins over custom claims.
    let c = claims(json!({"iss": "x", "iat": NOW - 7200, "exp": NOW - 3600, "token_use": "id"}));
    assert_eq!(check_default(&c), Err(TokenError::WrongIssuer));
    let c = claims(json!({"iat": NOW - 7200, "exp": NOW - 3600, "token_use": "id"}));
    assert_eq!(check_default(&c), Err(TokenError::Expired));
    let p = Policy {
        allowed_clients: vec!["other".into()],
        allowed_scopes: vec!["admin".into()],
        custom_claims: vec![ClaimRule {
            claim: "department".into(),
            op: ClaimOp::Equals("sales".into()),
        }],
        ..Policy::default()
    };
    let c = claims(json!({"token_use": "id"}));
    assert_eq!(check(&p, &c, ISS, NOW), Err(TokenError::WrongTokenUse));
    let c = claims(json!({}));
    assert_eq!(check(&p, &c, ISS, NOW), Err(TokenError::ClientNotAllowed));
    let p = Policy {
        allowed_clients: vec!["c1".into()],
        ..p
    };
    assert_eq!(check(&p, &c, ISS, NOW), Err(TokenError::InsufficientScope));
    let p = Policy {
        allowed_scopes: vec!["read".into()],
        ..p
    };
    assert_eq!(
        check(&p, &c, ISS, NOW),
        Err(TokenError::CustomClaimMismatch("department".into()))
    );
}

#[test]
fn allowed_clients_uses_client_id() {
    let p = Policy {
        allowed_clients: vec!["c1".into(), "c2".into()],
        ..Policy::default()
    };
    assert_eq!(check(&p, &claims(json!({})), ISS, NOW), Ok(()));
    assert_eq!(
        check(&p, &claims(json!({"client_id": "c3"})), ISS, NOW),
        Err(TokenError::ClientNotAllowed)
    );
    assert_eq!(
        check(&p, &claims(json!({"client_id": null})), ISS, NOW),
        Err(TokenError::ClientNotAllowed)
    );
}

#[test]
fn allowed_audience_needs_one_listed_aud() {
    let p = Policy {
        allowed_audience: vec!["api".into()],
        ..Policy::default()
    };
    assert_eq!(
        check(&p, &claims(json!({"aud": ["other", "api"]})), ISS, NOW),
        Ok(())
    );
    assert_eq!(check(&p, &claims(json!({"aud": "api"})), ISS, NOW), Ok(()));
    assert_eq!(
        check(&p, &claims(json!({"aud": "other"})), ISS, NOW),
        Err(TokenError::AudienceNotAllowed)
    );
    assert_eq!(
        check(&p, &claims(json!({"aud": null})), ISS, NOW),
        Err(TokenError::AudienceNotAllowed)
    );
}

#[test]
fn allowed_scopes_needs_one_listed_scope() {
    let p = Policy {
        allowed_scopes: vec!["write".into(), "admin".into()],
        ..Policy::default()
    };
    assert_eq!(check(&p, &claims(json!({})), ISS, NOW), Ok(()));
    assert_eq!(
        check(&p, &claims(json!({"scope": "read"})), ISS, NOW),
        Err(TokenError::InsufficientScope)
    );
    assert_eq!(
        check(&p, &claims(json!({"scope": null})), ISS, NOW),
        Err(TokenError::InsufficientScope)
    );
    assert_eq!(
        check(&p, &claims(json!({"scope": ""})), ISS, NOW),
        Err(TokenError::InsufficientScope)
    );
    // No substring/prefix matching.
    assert_eq!(
        check(&p, &claims(json!({"scope": "writer admins"})), ISS, NOW),
        Err(TokenError::InsufficientScope)
    );
}

#[test]
fn custom_claim_equals_passes_and_fails() {
    let c = claims(json!({}));
    assert_eq!(
        check(
            &rule("department", ClaimOp::Equals("eng".into())),
            &c,
            ISS,
            NOW
        ),
        Ok(())
    );
    let mismatch = Err(TokenError::CustomClaimMismatch("department".into()));
    assert_eq!(
        check(
            &rule("department", ClaimOp::Equals("sales".into())),
            &c,
            ISS,
            NOW
        ),
        mismatch
    );
    assert_eq!(
        check(
            &rule("department", ClaimOp::Equals("Eng".into())),
            &c,
            ISS,
            NOW
        ),
        mismatch
    );
    // EQUALS only applies to string claims.
    let roles = Err(TokenError::CustomClaimMismatch("roles".into()));
    assert_eq!(
        check(
            &rule("roles", ClaimOp::Equals("admin".into())),
            &c,
            ISS,
            NOW
        ),
        roles
    );
    // Absent claim never matches.
    let absent = Err(TokenError::CustomClaimMismatch("team".into()));
    assert_eq!(
        check(&rule("team", ClaimOp::Equals("eng".into())), &c, ISS, NOW),
        absent
    );
}

#[test]
fn custom_claim_contains_passes_and_fails() {
    let c = claims(json!({}));
    assert_eq!(
        check(
            &rule("roles", ClaimOp::Contains("admin".into())),
            &c,
            ISS,
            NOW
        ),
        Ok(())
    );
    let mismatch = Err(TokenError::CustomClaimMismatch("roles".into()));
    assert_eq!(
        check(
            &rule("roles", ClaimOp::Contains("root".into())),
            &c,
            ISS,
            NOW
        ),
        mismatch
    );
    // CONTAINS only applies to string arrays (no substring match on strings).
    let dept = Err(TokenError::CustomClaimMismatch("department".into()));
    assert_eq!(
        check(
            &rule("department", ClaimOp::Contains("eng".into())),
            &c,
            ISS,
            NOW
        ),
        dept
    );
    let mixed = Err(TokenError::CustomClaimMismatch("mixed".into()));
    assert_eq!(
        check(
            &rule("mixed", ClaimOp::Contains("admin".into())),
            &c,
            ISS,
            NOW
        ),
        mixed
    );
}

#[test]
fn custom_claim_contains_any_passes_and_fails() {
    let c = claims(json!({}));
    let any = |v: &[&str]| ClaimOp::ContainsAny(v.iter().map(|s| s.to_string()).collect());
    assert_eq!(
        check(&rule("roles", any(&["root", "dev"])), &c, ISS, NOW),
        Ok(())
    );
    let mismatch = Err(TokenError::CustomClaimMismatch("roles".into()));
    assert_eq!(
        check(&rule("roles", any(&["root", "ops"])), &c, ISS, NOW),
        mismatch
    );
    assert_eq!(check(&rule("roles", any(&[])), &c, ISS, NOW), mismatch);
    let dept = Err(TokenError::CustomClaimMismatch("department".into()));
    assert_eq!(
        check(&rule("department", any(&["eng"])), &c, ISS, NOW),
        dept
    );
}

#[test]
fn every_custom_claim_rule_must_match() {
    let p = Policy {
        custom_claims: vec![
            ClaimRule {
                claim: "department".into(),
                op: ClaimOp::Equals("eng".into()),
            },
            ClaimRule {
                claim: "roles".into(),
                op: ClaimOp::Contains("root".into()),
            },
        ],
        ..Policy::default()
    };
    let r = check(&p, &claims(json!({})), ISS, NOW);
    assert_eq!(r, Err(TokenError::CustomClaimMismatch("roles".into())));
}

#[test]
fn custom_claims_can_target_scope_as_array() {
    let c = claims(json!({}));
    assert_eq!(
        check(
            &rule("scope", ClaimOp::Contains("write".into())),
            &c,
            ISS,
            NOW
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &rule("client_id", ClaimOp::Equals("c1".into())),
            &c,
            ISS,
            NOW
        ),
        Ok(())
    );
}

#[test]
fn a_token_issued_for_the_resource_passes_the_client_check() {
    let p = Policy {
        allowed_clients: vec!["web".into()],
        resource_audience: vec!["https://gw/runtimes/a/invocations".into()],
        ..Policy::default()
    };
    let other_client = claims(json!({"client_id": "mcp-client"}));
    assert_eq!(
        check(&p, &other_client, ISS, NOW),
        Err(TokenError::ClientNotAllowed)
    );
    let for_resource =
        claims(json!({"client_id": "mcp-client", "aud": "https://gw/runtimes/a/invocations"}));
    assert_eq!(check(&p, &for_resource, ISS, NOW), Ok(()));
    let for_another =
        claims(json!({"client_id": "mcp-client", "aud": "https://gw/runtimes/b/invocations"}));
    assert_eq!(
        check(&p, &for_another, ISS, NOW),
        Err(TokenError::ClientNotAllowed)
    );
}
