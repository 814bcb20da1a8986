//! End-to-end security tests for token verification (`cache::verify_with`
//! and `Authorizer::authorize`): every checklist case that concerns a single
//! token, from format and algorithm confusion through key selection and
//! signatures, with forged tokens built by hand (the claims cases are in
//! `verify_claims_tests`).
//!
//! Must never: read the clock except `Instant::now()` passed into the API,
//! or use the network.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair as _, RSA_PSS_SHA256};
use base64::Engine as _;
use serde_json::json;

use crate::token::cache::{verify_with, Authorizer, KeyCache};
use crate::token::error::TokenError;
use crate::token::jws::{decode_segment, encode_segment, MAX_TOKEN_BYTES};
use crate::token::policy::{ClaimOp, ClaimRule, Policy};
use crate::token::test_support::{
    base_claims, claims_with, forge_rs256, impostor, primary, sign, signing_input, snapshot,
    with_signature, MockSource, ISSUER, KID, NOW,
};

const RS256_HEADER: &str = r#"{"alg":"RS256","kid":"key-1"}"#;

pub(super) fn verify(token: &str) -> Result<crate::token::VerifiedClaims, TokenError> {
    verify_with(&snapshot(), &Policy::default(), token, NOW)
}

pub(super) fn verify_policy(
    policy: &Policy,
    token: &str,
) -> Result<crate::token::VerifiedClaims, TokenError> {
    verify_with(&snapshot(), policy, token, NOW)
}

fn payload_json() -> String {
    base_claims().to_string()
}

fn hs256(key: &[u8], header_json: &str, payload_json: &str) -> String {
    let input = signing_input(header_json, payload_json);
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), input.as_bytes());
    format!("{input}.{}", encode_segment(tag.as_ref()))
}

fn public_spki_der() -> Vec<u8> {
    primary()
        .pair
        .public_key()
        .as_der()
        .unwrap()
        .as_ref()
        .to_vec()
}

fn public_pem() -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(public_spki_der());
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

fn authorizer(source: Arc<MockSource>, policy: Policy) -> Authorizer {
    Authorizer {
        policy,
        cache: Arc::new(KeyCache::new(
            source,
            Duration::from_secs(30),
            Duration::from_secs(1),
            Duration::from_secs(300),
        )),
    }
}

// ---------------------------------------------------------------- happy path

#[test]
fn accepts_valid_token_and_extracts_claims() {
    let c = verify(&sign(&base_claims())).expect("valid");
    assert_eq!(c.sub, "11111111-2222-3333-4444-555555555555");
    assert_eq!(c.iss, ISSUER);
    assert_eq!(c.client_id.as_deref(), Some("client-a"));
    assert_eq!(c.username.as_deref(), Some("alice"));
    assert_eq!(c.scopes, vec!["read", "write"]);
    assert_eq!(c.exp, NOW + 3600);
    assert_eq!(c.extra["cognito:groups"], json!(["admins", "devs"]));
}

#[tokio::test]
async fn signer_token_round_trips_through_authorizer() {
    let source = MockSource::serving(&[primary()]);
    let policy = Policy {
        allowed_clients: vec!["client-a".into()],
        allowed_scopes: vec!["write".into()],
        custom_claims: vec![ClaimRule {
            claim: "cognito:groups".into(),
            op: ClaimOp::Contains("admins".into()),
        }],
        ..Policy::default()
    };
    let auth = authorizer(Arc::clone(&source), policy);
    let token = primary().signer.sign(&base_claims()).unwrap();
    let c = auth
        .authorize(&token, NOW, Instant::now())
        .await
        .expect("authorized");
    assert_eq!(c.username.as_deref(), Some("alice"));
    assert_eq!(c.token_use.as_deref(), Some("access"));
    assert_eq!(c.jti.as_deref(), Some("jti-1"));
    assert_eq!(source.fetches(), 1);
}

// -------------------------------------------------------------------- format

#[test]
fn rejects_token_that_is_not_three_segments() {
    let t = sign(&base_claims());
    let (input, _) = t.rsplit_once('.').unwrap();
    assert!(matches!(verify(input), Err(TokenError::Malformed(_))));
    assert!(matches!(
        verify(&format!("{t}.")),
        Err(TokenError::Malformed(_))
    ));
    assert!(matches!(
        verify(&format!("{t}.AAAA.AAAA")),
        Err(TokenError::Malformed(_))
    ));
    assert!(matches!(verify("a.b"), Err(TokenError::Malformed(_))));
}

#[test]
fn rejects_valid_token_with_signature_stripped() {
    let t = sign(&base_claims());
    let (input, _) = t.rsplit_once('.').unwrap();
    assert_eq!(
        verify(&format!("{input}.")),
        Err(TokenError::Malformed("empty signature"))
    );
}

#[test]
fn rejects_re_encoded_signature_with_padding() {
    let t = sign(&base_claims());
    let (input, sig) = t.rsplit_once('.').unwrap();
    let raw = decode_segment(sig).unwrap();
    let padded = base64::engine::general_purpose::URL_SAFE.encode(&raw);
    assert!(padded.ends_with('='));
    assert!(matches!(
        verify(&format!("{input}.{padded}")),
        Err(TokenError::Malformed(_))
    ));
    let std = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&raw);
    if std.contains('+') || std.contains('/') {
        assert!(matches!(
            verify(&format!("{input}.{std}")),
            Err(TokenError::Malformed(_))
        ));
    }
}

#[test]
fn rejects_signed_token_over_8_kib() {
    let big = claims_with("pad", Some(json!("x".repeat(MAX_TOKEN_BYTES))));
    assert_eq!(verify(&sign(&big)), Err(TokenError::TooLarge));
}

#[test]
fn rejects_signed_payload_with_duplicate_keys() {
    // Validly signed, but `exp` appears twice: parsers disagree on which wins.
    let payload = format!(
        r#"{{"sub":"s","iss":"{ISSUER}","token_use":"access","exp":{},"exp":{}}}"#,
        NOW - 10_000,
        NOW + 600
    );
    let t = forge_rs256(&primary().pair, RS256_HEADER, &payload);
    assert_eq!(verify(&t), Err(TokenError::Malformed("duplicate JSON key")));
}

#[test]
fn rejects_signed_non_json_payload() {
    let t = forge_rs256(&primary().pair, RS256_HEADER, "not json");
    assert!(matches!(verify(&t), Err(TokenError::Malformed(_))));
}

// ----------------------------------------------------------------------- alg

#[test]
fn rejects_alg_none_in_every_casing() {
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"alg":"{alg}","kid":"key-1"}}"#);
        // Both with an empty-ish signature and with a genuine RSA signature.
        let t = with_signature(&header, &payload_json(), &[0]);
        assert_eq!(verify(&t), Err(TokenError::UnsupportedAlgorithm), "{alg}");
        let t = forge_rs256(&primary().pair, &header, &payload_json());
        assert_eq!(verify(&t), Err(TokenError::UnsupportedAlgorithm), "{alg}");
    }
}

#[test]
fn rejects_absent_alg() {
    let t = forge_rs256(&primary().pair, r#"{"kid":"key-1"}"#, &payload_json());
    assert_eq!(verify(&t), Err(TokenError::UnsupportedAlgorithm));
}

#[test]
fn rejects_numeric_alg() {
    let t = forge_rs256(
        &primary().pair,
        r#"{"alg":256,"kid":"key-1"}"#,
        &payload_json(),
    );
    assert_eq!(verify(&t), Err(TokenError::UnsupportedAlgorithm));
}

#[test]
fn rejects_hs256_keyed_with_public_key_pem() {
    let t = hs256(
        public_pem().as_bytes(),
        r#"{"alg":"HS256","kid":"key-1"}"#,
        &payload_json(),
    );
    assert_eq!(verify(&t), Err(TokenError::UnsupportedAlgorithm));
}

#[test]
fn rejects_hs256_keyed_with_public_key_der() {
    let spki = public_spki_der();
    let pkcs1 = primary().pair.public_key().as_ref().to_vec();
    for key in [spki, pkcs1] {
        let t = hs256(&key, r#"{"alg":"HS256","kid":"key-1"}"#, &payload_json());
        assert_eq!(verify(&t), Err(TokenError::UnsupportedAlgorithm));
    }
}

#[test]
fn rejects_hs256_keyed_with_public_jwk_json() {
    let jwk = serde_json::to_vec(&primary().signer.public_jwk()).unwrap();
    let t = hs256(&jwk, r#"{"alg":"HS256","kid":"key-1"}"#, &payload_json());
    assert_eq!(verify(&t), Err(TokenError::UnsupportedAlgorithm));
}

#[test]
fn rejects_hs256_with_empty_hmac_key() {
    let t = hs256(b"", r#"{"alg":"HS256","kid":"key-1"}"#, &payload_json());
    assert_eq!(verify(&t), Err(TokenError::UnsupportedAlgorithm));
}

#[test]
fn rejects_hmac_signature_under_rs256_header() {
    // Header claims RS256 but the "signature" is an HMAC keyed with the
    // public key: must fail as a bad RSA signature, never as HMAC-valid.
    for key in [public_pem().into_bytes(), public_spki_der(), Vec::new()] {
        let t = hs256(&key, RS256_HEADER, &payload_json());
        assert_eq!(verify(&t), Err(TokenError::BadSignature));
    }
}

#[test]
fn rejects_ps256_even_with_genuine_pss_signature() {
    let header = r#"{"alg":"PS256","kid":"key-1"}"#;
    let input = signing_input(header, &payload_json());
    let mut sig = vec![0u8; primary().pair.public_modulus_len()];
    primary()
        .pair
        .sign(
            &RSA_PSS_SHA256,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
    let t = format!("{input}.{}", encode_segment(&sig));
    assert_eq!(verify(&t), Err(TokenError::UnsupportedAlgorithm));
}

#[test]
fn rejects_es256_header() {
    let t = with_signature(
        r#"{"alg":"ES256","kid":"key-1"}"#,
        &payload_json(),
        &[7u8; 64],
    );
    assert_eq!(verify(&t), Err(TokenError::UnsupportedAlgorithm));
}

// ------------------------------------------------------------ key selection

#[test]
fn rejects_missing_kid() {
    let t = forge_rs256(&primary().pair, r#"{"alg":"RS256"}"#, &payload_json());
    assert_eq!(verify(&t), Err(TokenError::MissingKid));
}

#[test]
fn rejects_unknown_kid() {
    let t = forge_rs256(
        &primary().pair,
        r#"{"alg":"RS256","kid":"key-9"}"#,
        &payload_json(),
    );
    assert_eq!(verify(&t), Err(TokenError::UnknownKid));
}

#[test]
fn hostile_kids_are_just_unknown() {
    for kid in [
        "../../etc/passwd",
        "' OR 1=1 --",
        "$(rm -rf /)",
        "key-1\u{0000}",
        "KEY-1",
        "key-1 ",
    ] {
        let header = json!({"alg": "RS256", "kid": kid}).to_string();
        let t = forge_rs256(&primary().pair, &header, &payload_json());
        assert_eq!(verify(&t), Err(TokenError::UnknownKid), "{kid:?}");
    }
}

#[tokio::test]
async fn hostile_kids_trigger_no_extra_fetch_within_interval() {
    let source = MockSource::serving(&[primary()]);
    let auth = authorizer(Arc::clone(&source), Policy::default());
    let t0 = Instant::now();
    auth.authorize(&sign(&base_claims()), NOW, t0)
        .await
        .expect("warm-up");
    for kid in ["../../etc/passwd", "' OR 1=1 --", "$(rm -rf /)"] {
        let header = json!({"alg": "RS256", "kid": kid}).to_string();
        let t = forge_rs256(&primary().pair, &header, &payload_json());
        let r = auth.authorize(&t, NOW, t0 + Duration::from_secs(1)).await;
        assert_eq!(r.map(|_| ()), Err(TokenError::UnknownKid), "{kid:?}");
    }
    assert_eq!(source.fetches(), 1);
}

#[tokio::test]
async fn embedded_key_headers_are_refused_and_never_fetched() {
    let attacker = impostor();
    let jwk = serde_json::to_value(attacker.signer.public_jwk()).unwrap();
    let cases = [
        ("jwk", json!({"alg": "RS256", "kid": KID, "jwk": jwk})),
        (
            "jku",
            json!({"alg": "RS256", "kid": KID, "jku": "https://evil.example/jwks.json"}),
        ),
        (
            "x5u",
            json!({"alg": "RS256", "kid": KID, "x5u": "https://evil.example/c.pem"}),
        ),
        (
            "x5c",
            json!({"alg": "RS256", "kid": KID, "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A"]}),
        ),
        ("crit", json!({"alg": "RS256", "kid": KID, "crit": ["exp"]})),
    ];
    let source = MockSource::serving(&[primary()]);
    let auth = authorizer(Arc::clone(&source), Policy::default());
    for (name, header) in cases {
        let t = forge_rs256(&attacker.pair, &header.to_string(), &payload_json());
        assert_eq!(verify(&t), Err(TokenError::ForbiddenHeader(name)));
        let r = auth.authorize(&t, NOW, Instant::now()).await;
        assert_eq!(r.map(|_| ()), Err(TokenError::ForbiddenHeader(name)));
    }
    assert_eq!(
        source.fetches(),
        0,
        "a forbidden header must never cause a fetch"
    );
    // Even when signed by the legitimate key, `jku` is refused.
    let header = json!({"alg": "RS256", "kid": KID, "jku": "https://issuer/jwks"}).to_string();
    let t = forge_rs256(&primary().pair, &header, &payload_json());
    assert_eq!(verify(&t), Err(TokenError::ForbiddenHeader("jku")));
}

#[test]
fn rejects_crit_header() {
    let header = r#"{"alg":"RS256","kid":"key-1","crit":["b64"],"b64":false}"#;
    let t = forge_rs256(&primary().pair, header, &payload_json());
    assert_eq!(verify(&t), Err(TokenError::ForbiddenHeader("crit")));
}

// ----------------------------------------------------------------- signature

#[test]
fn rejects_tampered_payload() {
    let t = sign(&base_claims());
    let parts: Vec<&str> = t.split('.').collect();
    let evil = claims_with("client_id", Some(json!("admin-client"))).to_string();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        encode_segment(evil.as_bytes()),
        parts[2]
    );
    assert_eq!(verify(&forged), Err(TokenError::BadSignature));
}

#[test]
fn rejects_tampered_header() {
    let t = sign(&base_claims());
    let parts: Vec<&str> = t.split('.').collect();
    let header = encode_segment(br#"{"alg":"RS256","kid":"key-1","typ":"JWT"}"#);
    let forged = format!("{header}.{}.{}", parts[1], parts[2]);
    assert_eq!(verify(&forged), Err(TokenError::BadSignature));
}

#[test]
fn rejects_truncated_signature() {
    let t = sign(&base_claims());
    let (input, sig) = t.rsplit_once('.').unwrap();
    let raw = decode_segment(sig).unwrap();
    for len in [255, 128, 1] {
        let forged = format!("{input}.{}", encode_segment(&raw[..len]));
        assert_eq!(verify(&forged), Err(TokenError::BadSignature), "{len}");
    }
    let mut longer = raw.clone();
    longer.push(0);
    assert_eq!(
        verify(&format!("{input}.{}", encode_segment(&longer))),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn rejects_signature_from_another_key_with_same_kid() {
    let t = impostor().signer.sign(&base_claims()).unwrap();
    assert_eq!(jws_kid(&t), KID);
    assert_eq!(verify(&t), Err(TokenError::BadSignature));
}

fn jws_kid(t: &str) -> String {
    crate::token::jws::parse(t).unwrap().header.kid
}

#[test]
fn rejects_null_signature_bytes() {
    for sig in [vec![0u8; 256], vec![0u8; 1], vec![0xff; 256]] {
        let t = with_signature(RS256_HEADER, &payload_json(), &sig);
        assert_eq!(verify(&t), Err(TokenError::BadSignature));
    }
}

#[test]
fn rejects_flipped_signature_bit() {
    let t = sign(&base_claims());
    let (input, sig) = t.rsplit_once('.').unwrap();
    let mut raw = decode_segment(sig).unwrap();
    raw[100] ^= 1;
    assert_eq!(
        verify(&format!("{input}.{}", encode_segment(&raw))),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn signature_is_checked_before_claims() {
    // Expired and wrong issuer, but forged: the signature failure wins, so
    // nothing about the (untrusted) claims is reported.
    let claims = json!({"sub": 5, "iss": "evil", "exp": "soon"});
    let t = with_signature(RS256_HEADER, &claims.to_string(), &[1u8; 256]);
    assert_eq!(verify(&t), Err(TokenError::BadSignature));
}
