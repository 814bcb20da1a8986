//! Unit tests for `RsaSigner`: PKCS#8 round trip, key id stability, JWK
//! shape, exact header, redacted `Debug`, and refusal of bad keys.
//!
//! Must never: depend on the clock.

use super::*;
use crate::token::jws;
use crate::token::test_support::{primary, rotated, KID};

#[test]
fn signs_with_exact_cognito_style_header() {
    let t = primary()
        .signer
        .sign(&serde_json::json!({"sub": "a"}))
        .expect("sign");
    let header_segment = t.split('.').next().expect("header");
    let header = jws::decode_segment(header_segment).expect("b64");
    assert_eq!(header, br#"{"alg":"RS256","kid":"key-1"}"#);
    let parsed = jws::parse(&t).expect("parses");
    assert_eq!(parsed.header.kid, KID);
    assert_eq!(parsed.header.typ, None);
    assert_eq!(parsed.signature.len(), 256);
}

#[test]
fn escapes_kid_in_header() {
    let der = primary_der();
    let s = RsaSigner::from_pkcs8("a\"b".to_owned(), &der).expect("load");
    let t = s.sign(&serde_json::json!({})).expect("sign");
    assert_eq!(jws::parse(&t).expect("parses").header.kid, "a\"b");
}

#[test]
fn refuses_to_sign_non_object_claims() {
    for v in [
        serde_json::json!([]),
        serde_json::json!("x"),
        serde_json::Value::Null,
    ] {
        assert!(matches!(
            primary().signer.sign(&v),
            Err(TokenError::Malformed(_))
        ));
    }
}

#[test]
fn public_jwk_describes_an_rs256_signing_key() {
    let jwk = primary().signer.public_jwk();
    assert_eq!(jwk.kty, "RSA");
    assert_eq!(jwk.kid, KID);
    assert_eq!(jwk.alg.as_deref(), Some("RS256"));
    assert_eq!(jwk.use_.as_deref(), Some("sig"));
    assert_eq!(jwk.e, "AQAB");
    let n = jws::decode_segment(&jwk.n).expect("n");
    assert_eq!(n.len(), 256);
    assert_ne!(n[0], 0, "no leading zero");
}

fn primary_der() -> Vec<u8> {
    primary().pair.as_der().expect("der").as_ref().to_vec()
}

#[test]
fn pkcs8_round_trips_and_kid_is_stable() {
    let der = primary_der();
    let kid = RsaSigner::kid_for_pkcs8(&der);
    assert_eq!(kid, RsaSigner::kid_for_pkcs8(&der));
    assert_eq!(kid.len(), 44, "base64 of 32 bytes with padding");
    assert!(kid.ends_with('='));
    let other = rotated().pair.as_der().expect("der");
    assert_ne!(kid, RsaSigner::kid_for_pkcs8(other.as_ref()));
    let reloaded = RsaSigner::from_pkcs8(kid.clone(), &der).expect("load");
    assert_eq!(reloaded.kid(), kid);
    assert_eq!(reloaded.public_jwk().n, primary().signer.public_jwk().n);
}

#[test]
fn kid_for_unparseable_der_is_still_stable() {
    assert_eq!(
        RsaSigner::kid_for_pkcs8(b"junk"),
        RsaSigner::kid_for_pkcs8(b"junk")
    );
}

#[test]
fn from_pkcs8_rejects_garbage_and_non_rsa_keys() {
    assert_eq!(
        RsaSigner::from_pkcs8("k".into(), b"not a key").expect_err("garbage"),
        TokenError::Malformed("signing key")
    );
    let ec = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    )
    .expect("ec key");
    let ec_der = ec.to_pkcs8v1().expect("ec der");
    assert!(RsaSigner::from_pkcs8("k".into(), ec_der.as_ref()).is_err());
}

#[test]
fn debug_output_is_redacted() {
    let dbg = format!("{:?}", primary().signer);
    assert!(dbg.contains("key-1"));
    assert!(dbg.contains("<redacted>"));
    let n = primary().signer.public_jwk().n;
    assert!(!dbg.contains(&n[..16]));
    assert!(dbg.len() < 100);
}
