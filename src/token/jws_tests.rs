//! Unit tests for strict JWS compact parsing (`jws::parse`): segment count,
//! base64url strictness, JSON strictness, size limit, `alg`, `kid` and
//! forbidden header parameters. No keys involved.
//!
//! Must never: depend on key generation or the clock.

use super::*;

const SIG: &str = "c2lnbmF0dXJl";
const PAYLOAD: &str = r#"{"sub":"a"}"#;

fn b64(s: &str) -> String {
    encode_segment(s.as_bytes())
}

fn token(header_json: &str) -> String {
    format!("{}.{}.{SIG}", b64(header_json), b64(PAYLOAD))
}

fn err(t: &str) -> TokenError {
    parse(t).expect_err("token must be refused")
}

#[test]
fn parses_valid_token_and_exposes_exact_signing_input() {
    let t = token(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#);
    let p = parse(&t).expect("valid");
    assert_eq!(p.header.alg, Alg::RS256);
    assert_eq!(p.header.kid, "k1");
    assert_eq!(p.header.typ.as_deref(), Some("JWT"));
    let dot = t.rfind('.').expect("dot");
    assert_eq!(p.signing_input, &t.as_bytes()[..dot]);
    assert_eq!(p.payload.get("sub"), Some(&Value::String("a".into())));
    assert_eq!(p.signature, b"signature");
}

#[test]
fn rejects_single_segment() {
    assert!(matches!(err("abc"), TokenError::Malformed(_)));
}

#[test]
fn rejects_two_segments() {
    let t = format!("{}.{}", b64(r#"{"alg":"RS256","kid":"k"}"#), b64(PAYLOAD));
    assert!(matches!(err(&t), TokenError::Malformed(_)));
}

#[test]
fn rejects_four_segments() {
    let t = format!("{}.{SIG}", token(r#"{"alg":"RS256","kid":"k"}"#));
    assert!(matches!(err(&t), TokenError::Malformed(_)));
}

#[test]
fn rejects_five_segments_jwe() {
    let h = b64(r#"{"alg":"RSA-OAEP","enc":"A256GCM","kid":"k"}"#);
    let t = format!("{h}.{SIG}.{SIG}.{SIG}.{SIG}");
    assert!(matches!(err(&t), TokenError::Malformed(_)));
}

#[test]
fn rejects_empty_string() {
    assert!(matches!(err(""), TokenError::Malformed(_)));
}

#[test]
fn rejects_empty_signature_segment() {
    let t = format!("{}.{}.", b64(r#"{"alg":"RS256","kid":"k"}"#), b64(PAYLOAD));
    assert_eq!(err(&t), TokenError::Malformed("empty signature"));
}

#[test]
fn rejects_empty_header_and_payload_segments() {
    assert!(matches!(err(&format!("..{SIG}")), TokenError::Malformed(_)));
    let t = format!("{}..{SIG}", b64(r#"{"alg":"RS256","kid":"k"}"#));
    assert!(matches!(err(&t), TokenError::Malformed(_)));
}

#[test]
fn rejects_padded_base64() {
    // `{"alg":"RS256","kid":"k1"}` is 26 bytes, so its base64 needs padding.
    let h = r#"{"alg":"RS256","kid":"k1"}"#;
    let padded = base64::engine::general_purpose::URL_SAFE.encode(h);
    assert!(padded.ends_with('='));
    let t = format!("{padded}.{}.{SIG}", b64(PAYLOAD));
    assert!(matches!(err(&t), TokenError::Malformed(_)));
    // Padding on the signature segment too.
    let t = format!("{}.{}.c2lnbg==", b64(h), b64(PAYLOAD));
    assert!(matches!(err(&t), TokenError::Malformed(_)));
}

#[test]
fn rejects_standard_alphabet_base64() {
    // A header whose standard encoding contains '+' or '/'.
    let h = r#"{"alg":"RS256","kid":"k>>>??"}"#;
    let std = base64::engine::general_purpose::STANDARD_NO_PAD.encode(h);
    assert!(std.contains('+') || std.contains('/'), "{std}");
    let t = format!("{std}.{}.{SIG}", b64(PAYLOAD));
    assert!(matches!(err(&t), TokenError::Malformed(_)));
    let t = format!("{}.{}.ab+/cd", b64(h), b64(PAYLOAD));
    assert!(matches!(err(&t), TokenError::Malformed(_)));
}

#[test]
fn rejects_non_canonical_trailing_bits() {
    // "QQ" is the canonical encoding of "A"; "QR" decodes to the same byte
    // with non-zero trailing bits and must be refused (no malleability).
    let t = format!(
        "{}.{}.QR",
        b64(r#"{"alg":"RS256","kid":"k"}"#),
        b64(PAYLOAD)
    );
    assert!(matches!(err(&t), TokenError::Malformed(_)));
}

#[test]
fn rejects_whitespace_inside_segments() {
    let t = format!(
        "{} .{}.{SIG}",
        b64(r#"{"alg":"RS256","kid":"k"}"#),
        b64(PAYLOAD)
    );
    assert!(matches!(err(&t), TokenError::Malformed(_)));
}

#[test]
fn rejects_non_json_header() {
    let t = format!("{}.{}.{SIG}", b64("not json"), b64(PAYLOAD));
    assert!(matches!(err(&t), TokenError::Malformed(_)));
}

#[test]
fn rejects_non_json_payload() {
    let t = format!(
        "{}.{}.{SIG}",
        b64(r#"{"alg":"RS256","kid":"k"}"#),
        b64("{nope")
    );
    assert!(matches!(err(&t), TokenError::Malformed(_)));
}

#[test]
fn rejects_non_object_header_and_payload() {
    for h in ["[]", "\"RS256\"", "null", "42"] {
        let t = format!("{}.{}.{SIG}", b64(h), b64(PAYLOAD));
        assert!(matches!(err(&t), TokenError::Malformed(_)), "{h}");
    }
    for p in ["[]", "\"x\"", "null", "true"] {
        let t = format!("{}.{}.{SIG}", b64(r#"{"alg":"RS256","kid":"k"}"#), b64(p));
        assert!(matches!(err(&t), TokenError::Malformed(_)), "{p}");
    }
}

#[test]
fn rejects_trailing_garbage_after_json() {
    let t = format!(
        "{}.{}.{SIG}",
        b64(r#"{"alg":"RS256","kid":"k"} {}"#),
        b64(PAYLOAD)
    );
    assert!(matches!(err(&t), TokenError::Malformed(_)));
}

#[test]
fn rejects_duplicate_keys_in_header() {
    let t = token(r#"{"alg":"none","alg":"RS256","kid":"k"}"#);
    assert_eq!(err(&t), TokenError::Malformed("duplicate JSON key"));
    let t = token(r#"{"alg":"RS256","kid":"a","kid":"b"}"#);
    assert_eq!(err(&t), TokenError::Malformed("duplicate JSON key"));
}

#[test]
fn rejects_duplicate_keys_in_payload() {
    let t = format!(
        "{}.{}.{SIG}",
        b64(r#"{"alg":"RS256","kid":"k"}"#),
        b64(r#"{"sub":"a","exp":1,"exp":99999999999}"#)
    );
    assert_eq!(err(&t), TokenError::Malformed("duplicate JSON key"));
}

#[test]
fn rejects_token_over_8_kib_before_decoding() {
    // Not even valid base64: size is checked first.
    let t = "!".repeat(MAX_TOKEN_BYTES + 1);
    assert_eq!(err(&t), TokenError::TooLarge);
    let big_payload = format!(r#"{{"sub":"{}"}}"#, "a".repeat(MAX_TOKEN_BYTES));
    let t = format!(
        "{}.{}.{SIG}",
        b64(r#"{"alg":"RS256","kid":"k"}"#),
        b64(&big_payload)
    );
    assert_eq!(err(&t), TokenError::TooLarge);
}

#[test]
fn accepts_token_of_exactly_max_size() {
    let head = format!("{}.", b64(r#"{"alg":"RS256","kid":"k"}"#));
    let tail = format!(".{SIG}");
    // Pad the payload with a long claim until the token is exactly the limit.
    let mut filler = 0;
    loop {
        let p = format!(r#"{{"sub":"{}"}}"#, "a".repeat(filler));
        let t = format!("{head}{}{tail}", b64(&p));
        if t.len() == MAX_TOKEN_BYTES {
            assert!(parse(&t).is_ok());
            return;
        }
        assert!(t.len() < MAX_TOKEN_BYTES, "overshot");
        filler += 1;
    }
}

#[test]
fn rejects_alg_none_in_every_casing() {
    for alg in ["none", "None", "NONE", "nOnE", "NoNe"] {
        let t = token(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#));
        assert_eq!(err(&t), TokenError::UnsupportedAlgorithm, "{alg}");
    }
}

#[test]
fn rejects_absent_alg() {
    assert_eq!(
        err(&token(r#"{"kid":"k"}"#)),
        TokenError::UnsupportedAlgorithm
    );
}

#[test]
fn rejects_non_string_alg() {
    for alg in ["256", "null", "true", r#"["RS256"]"#, r#"{"name":"RS256"}"#] {
        let t = token(&format!(r#"{{"alg":{alg},"kid":"k"}}"#));
        assert_eq!(err(&t), TokenError::UnsupportedAlgorithm, "{alg}");
    }
}

#[test]
fn rejects_every_algorithm_except_exact_rs256() {
    for alg in [
        "HS256",
        "HS384",
        "HS512",
        "PS256",
        "ES256",
        "ES256K",
        "EdDSA",
        "RS384",
        "RS512",
        "rs256",
        "RS256 ",
        " RS256",
        "RS256\u{0000}",
    ] {
        let header = serde_json::json!({"alg": alg, "kid": "k"}).to_string();
        assert_eq!(
            err(&token(&header)),
            TokenError::UnsupportedAlgorithm,
            "{alg:?}"
        );
    }
}

#[test]
fn rejects_missing_kid() {
    assert_eq!(err(&token(r#"{"alg":"RS256"}"#)), TokenError::MissingKid);
}

#[test]
fn rejects_empty_non_string_and_overlong_kid() {
    for kid in [r#""""#, "7", "null", "true", r#"["k"]"#] {
        let t = token(&format!(r#"{{"alg":"RS256","kid":{kid}}}"#));
        assert_eq!(err(&t), TokenError::Malformed("kid"), "{kid}");
    }
    let long = "k".repeat(257);
    let t = token(&format!(r#"{{"alg":"RS256","kid":"{long}"}}"#));
    assert_eq!(err(&t), TokenError::Malformed("kid"));
    let max = "k".repeat(256);
    let t = token(&format!(r#"{{"alg":"RS256","kid":"{max}"}}"#));
    assert!(parse(&t).is_ok());
}

#[test]
fn keeps_hostile_kid_opaque() {
    for kid in [
        "../../etc/passwd",
        "' OR 1=1 --",
        "$(rm -rf /)",
        "k\u{0000}",
    ] {
        let header = serde_json::json!({"alg": "RS256", "kid": kid}).to_string();
        let t = token(&header);
        let p = parse(&t).expect("parses; key lookup refuses later");
        assert_eq!(p.header.kid, kid);
    }
}

#[test]
fn rejects_embedded_jwk_header() {
    let t = token(r#"{"alg":"RS256","kid":"k","jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}"#);
    assert_eq!(err(&t), TokenError::ForbiddenHeader("jwk"));
}

#[test]
fn rejects_jku_header() {
    let t = token(r#"{"alg":"RS256","kid":"k","jku":"https://evil.example/jwks.json"}"#);
    assert_eq!(err(&t), TokenError::ForbiddenHeader("jku"));
}

#[test]
fn rejects_x5u_header() {
    let t = token(r#"{"alg":"RS256","kid":"k","x5u":"https://evil.example/cert.pem"}"#);
    assert_eq!(err(&t), TokenError::ForbiddenHeader("x5u"));
}

#[test]
fn rejects_x5c_header() {
    let t = token(r#"{"alg":"RS256","kid":"k","x5c":["MIIBIjAN"]}"#);
    assert_eq!(err(&t), TokenError::ForbiddenHeader("x5c"));
}

#[test]
fn rejects_forbidden_header_even_when_null() {
    let t = token(r#"{"alg":"RS256","kid":"k","jku":null}"#);
    assert_eq!(err(&t), TokenError::ForbiddenHeader("jku"));
}

#[test]
fn rejects_crit_header() {
    let t = token(r#"{"alg":"RS256","kid":"k","crit":["b64"],"b64":false}"#);
    assert_eq!(err(&t), TokenError::ForbiddenHeader("crit"));
}

#[test]
fn rejects_non_string_typ() {
    let t = token(r#"{"alg":"RS256","kid":"k","typ":1}"#);
    assert_eq!(err(&t), TokenError::Malformed("typ"));
}

#[test]
fn error_messages_never_echo_the_token() {
    let t = token(r#"{"alg":"HS256","kid":"secret-kid-value"}"#);
    let msg = err(&t).to_string();
    assert!(!msg.contains("secret-kid-value"));
    assert!(!msg.contains(&t[..10]));
}

#[test]
fn encode_segment_is_url_safe_without_padding() {
    let s = encode_segment(&[0xfb, 0xff, 0xfe]);
    assert_eq!(s, "-__-");
    assert_eq!(encode_segment(b"a"), "YQ");
    assert_eq!(decode_segment("YQ").as_deref(), Some(&b"a"[..]));
    assert_eq!(decode_segment("YQ=="), None);
}
