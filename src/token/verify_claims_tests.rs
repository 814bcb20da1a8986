//! End-to-end security tests for token verification, the claims half (`cache::verify_with` and
//! `Authorizer::authorize`): expiry, not-before, issuer, token use, clients, audience, scopes and custom claim
//! rules, each on a token built by hand; the format, algorithm, key and signature cases are in `verify_tests`.
//!
//! Must never: read the clock except `Instant::now()` passed into the API,
//! or use the network.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use super::verify_tests::{verify, verify_policy};
use crate::token::error::TokenError;
use crate::token::policy::{ClaimOp, ClaimRule, Policy};
use crate::token::test_support::{base_claims, claims_with, sign, ISSUER, NOW};

// -------------------------------------------------------------------- claims

#[test]
fn rejects_expired_token() {
    let c = json!({"sub": "s", "iss": ISSUER, "token_use": "access", "iat": NOW - 7200, "exp": NOW - 3600});
    assert_eq!(verify(&sign(&c)), Err(TokenError::Expired));
}

#[test]
fn exp_exactly_at_now_minus_leeway_is_expired() {
    let c = json!({"sub": "s", "iss": ISSUER, "token_use": "access", "iat": NOW - 600, "exp": NOW - 30});
    assert_eq!(verify(&sign(&c)), Err(TokenError::Expired));
}

#[test]
fn exp_within_leeway_is_accepted() {
    let c = json!({"sub": "s", "iss": ISSUER, "token_use": "access", "iat": NOW - 600, "exp": NOW - 29});
    assert!(verify(&sign(&c)).is_ok());
}

#[test]
fn rejects_nbf_in_the_future() {
    let t = sign(&claims_with("nbf", Some(json!(NOW + 600))));
    assert_eq!(verify(&t), Err(TokenError::NotYetValid));
}

#[test]
fn rejects_iat_far_in_the_future() {
    let c = json!({"sub": "s", "iss": ISSUER, "token_use": "access", "iat": NOW + 3600, "exp": NOW + 7200});
    assert_eq!(verify(&sign(&c)), Err(TokenError::IssuedInFuture));
}

#[test]
fn rejects_exp_of_the_wrong_type_or_range() {
    for bad in [
        json!((NOW + 3600).to_string()),
        json!((NOW + 3600) as f64),
        json!((NOW as f64) + 3600.5),
        json!(-1),
        json!((1_u64 << 53) + 1),
        Value::Null,
        json!(true),
        json!(false),
    ] {
        let t = sign(&claims_with("exp", Some(bad.clone())));
        assert_eq!(
            verify(&t),
            Err(TokenError::InvalidClaim("exp")),
            "exp = {bad}"
        );
    }
}

#[test]
fn rejects_missing_exp() {
    assert_eq!(
        verify(&sign(&claims_with("exp", None))),
        Err(TokenError::InvalidClaim("exp"))
    );
}

#[test]
fn rejects_wrong_issuer() {
    let t = sign(&claims_with(
        "iss",
        Some(json!("https://evil.example/pool")),
    ));
    assert_eq!(verify(&t), Err(TokenError::WrongIssuer));
}

#[test]
fn rejects_absent_issuer() {
    assert_eq!(
        verify(&sign(&claims_with("iss", None))),
        Err(TokenError::InvalidClaim("iss"))
    );
}

#[test]
fn rejects_issuer_with_trailing_slash() {
    let t = sign(&claims_with("iss", Some(json!(format!("{ISSUER}/")))));
    assert_eq!(verify(&t), Err(TokenError::WrongIssuer));
}

#[test]
fn rejects_wrong_audience() {
    let policy = Policy {
        allowed_audience: vec!["my-api".into()],
        ..Policy::default()
    };
    let t = sign(&claims_with("aud", Some(json!("other-api"))));
    assert_eq!(
        verify_policy(&policy, &t),
        Err(TokenError::AudienceNotAllowed)
    );
    let t = sign(&claims_with("aud", Some(json!(["other", "my-api"]))));
    assert!(verify_policy(&policy, &t).is_ok());
}

#[test]
fn rejects_empty_audience_array() {
    let t = sign(&claims_with("aud", Some(json!([]))));
    assert_eq!(verify(&t), Err(TokenError::InvalidClaim("aud")));
}

#[test]
fn rejects_non_string_audience_member() {
    let t = sign(&claims_with("aud", Some(json!(["my-api", 42]))));
    assert_eq!(verify(&t), Err(TokenError::InvalidClaim("aud")));
}

#[test]
fn rejects_id_token_by_default() {
    let t = sign(&claims_with("token_use", Some(json!("id"))));
    assert_eq!(verify(&t), Err(TokenError::WrongTokenUse));
}

#[test]
fn rejects_client_not_allowed() {
    let policy = Policy {
        allowed_clients: vec!["client-b".into()],
        ..Policy::default()
    };
    assert_eq!(
        verify_policy(&policy, &sign(&base_claims())),
        Err(TokenError::ClientNotAllowed)
    );
    assert_eq!(
        verify_policy(&policy, &sign(&claims_with("client_id", None))),
        Err(TokenError::ClientNotAllowed)
    );
}

#[test]
fn rejects_missing_sub() {
    assert_eq!(
        verify(&sign(&claims_with("sub", None))),
        Err(TokenError::InvalidClaim("sub"))
    );
}

#[test]
fn rejects_numeric_sub() {
    let t = sign(&claims_with("sub", Some(json!(12345))));
    assert_eq!(verify(&t), Err(TokenError::InvalidClaim("sub")));
}

#[test]
fn rejects_missing_scope_when_scopes_required() {
    let policy = Policy {
        allowed_scopes: vec!["write".into()],
        ..Policy::default()
    };
    let t = sign(&claims_with("scope", None));
    let err = verify_policy(&policy, &t).unwrap_err();
    assert_eq!(err, TokenError::InsufficientScope);
    assert_eq!(err.refusal(), crate::token::Refusal::Forbidden);
}

#[test]
fn rejects_lifetime_too_long() {
    let c =
        json!({"sub": "s", "iss": ISSUER, "token_use": "access", "iat": NOW, "exp": NOW + 86_401});
    assert_eq!(verify(&sign(&c)), Err(TokenError::LifetimeTooLong));
}

#[test]
fn custom_claim_operators_pass_and_fail_end_to_end() {
    let rule = |claim: &str, op: ClaimOp| Policy {
        custom_claims: vec![ClaimRule {
            claim: claim.into(),
            op,
        }],
        ..Policy::default()
    };
    let t = sign(&claims_with("department", Some(json!("eng"))));
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases = [
        (rule("department", ClaimOp::Equals("eng".into())), None),
        (
            rule("department", ClaimOp::Equals("ops".into())),
            Some("department"),
        ),
        (
            rule("cognito:groups", ClaimOp::Contains("devs".into())),
            None,
        ),
        (
            rule("cognito:groups", ClaimOp::Contains("root".into())),
            Some("cognito:groups"),
        ),
        (
            rule(
                "cognito:groups",
                ClaimOp::ContainsAny(strings(&["x", "admins"])),
            ),
            None,
        ),
        (
            rule("cognito:groups", ClaimOp::ContainsAny(strings(&["x", "y"]))),
            Some("cognito:groups"),
        ),
        (
            rule("missing", ClaimOp::Equals("x".into())),
            Some("missing"),
        ),
    ];
    for (policy, expected) in cases {
        let got = verify_policy(&policy, &t).map(|_| ());
        let want = expected.map_or(Ok(()), |n| Err(TokenError::CustomClaimMismatch(n.into())));
        assert_eq!(got, want, "{:?}", policy.custom_claims);
    }
}

#[test]
fn every_core_claim_set_to_null_true_false_zero_or_empty_is_refused() {
    let policy = Policy {
        allowed_clients: vec!["client-a".into()],
        allowed_scopes: vec!["read".into()],
        ..Policy::default()
    };
    let invalid = TokenError::InvalidClaim;
    let values = [Value::Null, json!(true), json!(false), json!(0), json!("")];
    // Expected error per claim for: null, true, false, 0, "".
    let table: [(&str, [TokenError; 5]); 7] = [
        (
            "sub",
            [
                invalid("sub"),
                invalid("sub"),
                invalid("sub"),
                invalid("sub"),
                invalid("sub"),
            ],
        ),
        (
            "iss",
            [
                invalid("iss"),
                invalid("iss"),
                invalid("iss"),
                invalid("iss"),
                TokenError::WrongIssuer,
            ],
        ),
        (
            "exp",
            [
                invalid("exp"),
                invalid("exp"),
                invalid("exp"),
                TokenError::Expired,
                invalid("exp"),
            ],
        ),
        (
            "client_id",
            [
                invalid("client_id"),
                invalid("client_id"),
                invalid("client_id"),
                invalid("client_id"),
                invalid("client_id"),
            ],
        ),
        (
            "token_use",
            [
                invalid("token_use"),
                invalid("token_use"),
                invalid("token_use"),
                invalid("token_use"),
                invalid("token_use"),
            ],
        ),
        (
            "scope",
            [
                invalid("scope"),
                invalid("scope"),
                invalid("scope"),
                invalid("scope"),
                TokenError::InsufficientScope,
            ],
        ),
        (
            "aud",
            [
                invalid("aud"),
                invalid("aud"),
                invalid("aud"),
                invalid("aud"),
                invalid("aud"),
            ],
        ),
    ];
    for (claim, expected) in table {
        for (value, want) in values.iter().zip(expected) {
            let t = sign(&claims_with(claim, Some(value.clone())));
            let got = verify_policy(&policy, &t).map(|_| ());
            assert_eq!(got, Err(want), "{claim} = {value}");
        }
    }
}
