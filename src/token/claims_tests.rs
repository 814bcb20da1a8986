//! Unit tests for strict claim extraction (`VerifiedClaims::from_payload`):
//! required claims, exact JSON types, and what lands in `extra`.
//!
//! Must never: depend on keys or the clock.

use super::*;
use serde_json::json;

fn payload(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn base() -> Value {
    json!({
        "sub": "u-1", "iss": "https://issuer", "exp": 2_000_000_000_i64,
        "iat": 1_999_999_000_i64, "nbf": 1_999_999_000_i64,
        "token_use": "access", "client_id": "c1", "scope": "read  write",
        "username": "alice", "jti": "j1", "aud": "api", "cognito:groups": ["g"],
    })
}

fn with(name: &str, value: Value) -> Map<String, Value> {
    let mut m = payload(base());
    m.insert(name.to_owned(), value);
    m
}

fn without(name: &str) -> Map<String, Value> {
    let mut m = payload(base());
    m.remove(name);
    m
}

fn err(m: Map<String, Value>) -> TokenError {
    VerifiedClaims::from_payload(m).expect_err("must be refused")
}

#[test]
fn extracts_all_named_claims_and_keeps_the_rest_in_extra() {
    let c = VerifiedClaims::from_payload(payload(base())).expect("valid");
    assert_eq!(c.sub, "u-1");
    assert_eq!(c.iss, "https://issuer");
    assert_eq!(c.exp, 2_000_000_000);
    assert_eq!(c.iat, Some(1_999_999_000));
    assert_eq!(c.nbf, Some(1_999_999_000));
    assert_eq!(c.token_use.as_deref(), Some("access"));
    assert_eq!(c.client_id.as_deref(), Some("c1"));
    assert_eq!(c.scopes, vec!["read", "write"]);
    assert_eq!(c.username.as_deref(), Some("alice"));
    assert_eq!(c.jti.as_deref(), Some("j1"));
    assert_eq!(c.aud, vec!["api"]);
    assert_eq!(c.extra.len(), 1);
    assert_eq!(c.extra["cognito:groups"], json!(["g"]));
}

#[test]
fn optional_claims_may_be_absent() {
    let mut m = payload(base());
    for name in [
        "iat",
        "nbf",
        "token_use",
        "client_id",
        "scope",
        "username",
        "jti",
        "aud",
    ] {
        m.remove(name);
    }
    let c = VerifiedClaims::from_payload(m).expect("valid");
    assert!(c.iat.is_none() && c.nbf.is_none() && c.jti.is_none());
    assert!(c.aud.is_empty() && c.scopes.is_empty());
}

#[test]
fn requires_exp() {
    assert_eq!(err(without("exp")), TokenError::InvalidClaim("exp"));
}

#[test]
fn time_claims_must_be_non_negative_integers_up_to_2_pow_53() {
    for name in ["exp", "iat", "nbf"] {
        for bad in [
            json!("2000000000"),
            json!(2_000_000_000.0),
            json!(2_000_000_000.5),
            json!(-1),
            json!((1_u64 << 53) + 1),
            json!(u64::MAX),
            json!(1e300),
            Value::Null,
            json!(true),
            json!([1]),
        ] {
            assert_eq!(
                err(with(name, bad.clone())),
                TokenError::InvalidClaim(name),
                "{name}={bad}"
            );
        }
        let max = VerifiedClaims::from_payload(with(name, json!(1_u64 << 53)));
        assert!(max.is_ok(), "{name} = 2^53 is allowed");
    }
}

#[test]
fn requires_non_empty_string_sub() {
    assert_eq!(err(without("sub")), TokenError::InvalidClaim("sub"));
    for bad in [json!(""), json!(42), Value::Null, json!(["u"])] {
        assert_eq!(err(with("sub", bad)), TokenError::InvalidClaim("sub"));
    }
}

#[test]
fn requires_string_iss() {
    assert_eq!(err(without("iss")), TokenError::InvalidClaim("iss"));
    for bad in [json!(1), Value::Null, json!(["https://issuer"])] {
        assert_eq!(err(with("iss", bad)), TokenError::InvalidClaim("iss"));
    }
}

#[test]
fn aud_is_string_or_non_empty_array_of_strings() {
    let c = VerifiedClaims::from_payload(with("aud", json!(["a", "b"]))).expect("array ok");
    assert_eq!(c.aud, vec!["a", "b"]);
    for bad in [
        json!([]),
        json!(["a", 5]),
        json!(["a", null]),
        json!(""),
        json!(7),
        Value::Null,
    ] {
        assert_eq!(
            err(with("aud", bad.clone())),
            TokenError::InvalidClaim("aud"),
            "{bad}"
        );
    }
}

#[test]
fn scope_must_be_a_string() {
    for bad in [json!(["read"]), json!(1), Value::Null, json!(false)] {
        assert_eq!(err(with("scope", bad)), TokenError::InvalidClaim("scope"));
    }
}

#[test]
fn string_claims_reject_other_types() {
    for name in ["client_id", "token_use", "username", "jti"] {
        for bad in [json!(1), Value::Null, json!(true), json!(["x"]), json!({})] {
            assert_eq!(
                err(with(name, bad)),
                TokenError::InvalidClaim(name),
                "{name}"
            );
        }
    }
    for name in ["client_id", "token_use"] {
        assert_eq!(
            err(with(name, json!(""))),
            TokenError::InvalidClaim(name),
            "{name}"
        );
    }
}

#[test]
fn claim_value_exposes_named_and_extra_claims() {
    let c = VerifiedClaims::from_payload(payload(base())).expect("valid");
    assert_eq!(c.claim_value("client_id"), Some(json!("c1")));
    assert_eq!(c.claim_value("scope"), Some(json!(["read", "write"])));
    assert_eq!(c.claim_value("aud"), Some(json!(["api"])));
    assert_eq!(c.claim_value("cognito:groups"), Some(json!(["g"])));
    assert_eq!(c.claim_value("exp"), Some(json!(2_000_000_000_i64)));
    assert_eq!(c.claim_value("missing"), None);
}
