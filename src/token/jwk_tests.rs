//! Unit tests for JWKS loading (`VerifyingKeys::from_jwks_json`): which keys
//! are skipped, size limits, and JWK serde shape.
//!
//! Must never: depend on the clock or on network access.

use super::*;
use crate::token::jws::encode_segment;
use crate::token::test_support::{forge_rs256, impostor, primary, rotated, KID, KID2};
use serde_json::json;

fn load(v: &Value) -> VerifyingKeys {
    VerifyingKeys::from_jwks_json(v.to_string().as_bytes()).expect("jwks parses")
}

fn good_jwk() -> Value {
    serde_json::to_value(primary().signer.public_jwk()).expect("jwk json")
}

fn jwk_with(name: &str, value: Value) -> Value {
    let mut v = good_jwk();
    v[name] = value;
    v
}

fn primary_n() -> Vec<u8> {
    decode_segment(&primary().signer.public_jwk().n).expect("n")
}

#[test]
fn loads_signer_public_jwk() {
    let keys = load(&json!({ "keys": [good_jwk()] }));
    assert_eq!(keys.len(), 1);
    assert!(!keys.is_empty());
    assert_eq!(keys.kids(), vec![KID]);
    let token = forge_rs256(&primary().pair, r#"{"alg":"RS256","kid":"key-1"}"#, "{}");
    let (input, sig) = token.rsplit_once('.').expect("dot");
    let sig = decode_segment(sig).expect("sig");
    assert!(keys
        .get(KID)
        .expect("key")
        .verify_sig(input.as_bytes(), &sig)
        .is_ok());
}

#[test]
fn skips_non_rsa_key_but_keeps_the_rest() {
    let ec = json!({"kty":"EC","kid":"ec-1","crv":"P-256","x":"AAAA","y":"AAAA","use":"sig"});
    let keys = load(&json!({ "keys": [ec, good_jwk()] }));
    assert_eq!(keys.kids(), vec![KID]);
    let oct = jwk_with("kty", json!("oct"));
    assert!(load(&json!({ "keys": [oct] })).is_empty());
}

#[test]
fn skips_key_without_kid() {
    let mut v = good_jwk();
    v.as_object_mut().expect("obj").remove("kid");
    assert!(load(&json!({ "keys": [v] })).is_empty());
    assert!(load(&json!({ "keys": [jwk_with("kid", json!(""))] })).is_empty());
    assert!(load(&json!({ "keys": [jwk_with("kid", json!(7))] })).is_empty());
}

#[test]
fn skips_encryption_key() {
    assert!(load(&json!({ "keys": [jwk_with("use", json!("enc"))] })).is_empty());
}

#[test]
fn skips_key_declared_for_other_algorithms() {
    for alg in ["HS256", "RS512", "PS256", "none"] {
        assert!(
            load(&json!({ "keys": [jwk_with("alg", json!(alg))] })).is_empty(),
            "{alg}"
        );
    }
}

#[test]
fn accepts_key_without_optional_alg_and_use() {
    let mut v = good_jwk();
    let obj = v.as_object_mut().expect("obj");
    obj.remove("alg");
    obj.remove("use");
    assert_eq!(load(&json!({ "keys": [v] })).len(), 1);
}

#[test]
fn skips_weak_1024_bit_modulus() {
    let n = &primary_n()[..128];
    let weak = jwk_with("n", json!(encode_segment(n)));
    assert!(load(&json!({ "keys": [weak] })).is_empty());
}

#[test]
fn skips_2047_bit_modulus() {
    let mut n = primary_n();
    n[0] = 0x7f; // top bit cleared: 2047 bits
    let weak = jwk_with("n", json!(encode_segment(&n)));
    assert!(load(&json!({ "keys": [weak] })).is_empty());
}

#[test]
fn accepts_modulus_with_leading_zero_byte() {
    let mut n = vec![0u8];
    n.extend(primary_n());
    let padded = jwk_with("n", json!(encode_segment(&n)));
    assert_eq!(load(&json!({ "keys": [padded] })).len(), 1);
}

#[test]
fn skips_exponent_other_than_65537() {
    for e in [&[3u8][..], &[1, 0, 0, 1], &[1], &[1, 0, 1, 0]] {
        let v = jwk_with("e", json!(encode_segment(e)));
        assert!(load(&json!({ "keys": [v] })).is_empty(), "{e:?}");
    }
}

#[test]
fn skips_key_with_lenient_base64_modulus() {
    let n = primary_n();
    let padded = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE, &n);
    let std = base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, &n);
    assert!(padded.ends_with('='), "256-byte modulus needs padding");
    assert!(load(&json!({ "keys": [jwk_with("n", json!(padded))] })).is_empty());
    if std.contains('+') || std.contains('/') {
        assert!(load(&json!({ "keys": [jwk_with("n", json!(std))] })).is_empty());
    }
}

#[test]
fn duplicate_kid_keeps_only_the_first_key() {
    let first = good_jwk();
    let second = serde_json::to_value(impostor().signer.public_jwk()).expect("jwk");
    assert_eq!(second["kid"], json!(KID));
    let keys = load(&json!({ "keys": [first, second] }));
    assert_eq!(keys.len(), 1);
    let token = forge_rs256(&impostor().pair, r#"{"alg":"RS256","kid":"key-1"}"#, "{}");
    let (input, sig) = token.rsplit_once('.').expect("dot");
    let sig = decode_segment(sig).expect("sig");
    assert!(keys
        .get(KID)
        .expect("key")
        .verify_sig(input.as_bytes(), &sig)
        .is_err());
}

#[test]
fn rejects_jwks_over_64_kib() {
    let mut body = br#"{"keys":[],"pad":""#.to_vec();
    body.resize(MAX_JWKS_BYTES + 1, b'a');
    body.extend_from_slice(br#""}"#);
    assert_eq!(
        VerifyingKeys::from_jwks_json(&body).expect_err("too large"),
        TokenError::Malformed("jwks too large")
    );
}

#[test]
fn rejects_non_jwks_documents() {
    for body in [
        &b"not json"[..],
        b"[]",
        b"{}",
        br#"{"keys":{}}"#,
        br#"{"keys":[],"keys":[]}"#,
    ] {
        let e = VerifyingKeys::from_jwks_json(body).expect_err("refused");
        assert!(matches!(e, TokenError::Malformed(_)), "{e:?}");
    }
}

#[test]
fn empty_key_list_loads_as_empty() {
    let keys = load(&json!({ "keys": [] }));
    assert!(keys.is_empty());
    assert_eq!(keys.len(), 0);
}

#[test]
fn kids_are_sorted_and_from_jwks_matches_json_path() {
    let set = [rotated().signer.public_jwk(), primary().signer.public_jwk()];
    let keys = VerifyingKeys::from_jwks(&set);
    assert_eq!(keys.kids(), vec![KID, KID2]);
    assert!(format!("{keys:?}").contains("key-2"));
}

#[test]
fn jwk_serialises_use_member_and_omits_absent_options() {
    let jwk = primary().signer.public_jwk();
    let v = serde_json::to_value(&jwk).expect("json");
    assert_eq!(v["use"], json!("sig"));
    assert_eq!(v["alg"], json!("RS256"));
    assert_eq!(v["kty"], json!("RSA"));
    assert_eq!(v["e"], json!("AQAB"));
    let bare = Jwk {
        alg: None,
        use_: None,
        ..jwk
    };
    let v = serde_json::to_value(&bare).expect("json");
    assert!(v.get("use").is_none() && v.get("alg").is_none());
    let back: Jwk = serde_json::from_value(v).expect("round trip");
    assert_eq!(back, bare);
}
