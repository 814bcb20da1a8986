//! Credential extraction, pure: finds the one bearer token a request carries and refuses ambiguous or smuggled
//! ones (two `Authorization` headers, `Bearer a,b`, tokens in the query string). Never logs the token.
use axum::http::HeaderMap;

use super::GatewayError;

/// Whether `b` may appear in a JWS compact token: base64url characters and the two dots.
const fn is_token_char(b: u8) -> bool {
    // Arithmetic instead of a table, and `|` instead of `||`, so `all_token_chars` compiles to SIMD.
    ((b | 0x20).wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'-')
        | (b == b'_')
        | (b == b'.')
}

/// Whether every byte of `bytes` is a token character. Tokens are ~1 KB and checked on every request: the
/// check runs branch-free over 64-byte blocks.
fn all_token_chars(bytes: &[u8]) -> bool {
    bytes
        .chunks(64)
        .all(|block| block.iter().fold(true, |ok, &b| ok & is_token_char(b)))
}

/// `Bearer <token>` with a well-formed token, recognised in one pass; `None` sends the value through the full
/// checks of [`parse_bearer`], which name what is wrong. Accepts exactly what those checks accept.
fn well_formed_bearer(value: &[u8]) -> Option<&str> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let start = rest.iter().position(|&b| b != b' ')?;
    let end = rest.iter().rposition(|&b| b != b' ')? + 1;
    let token = &rest[start..end];
    if !all_token_chars(token) {
        return None;
    }
    std::str::from_utf8(token).ok()
}

/// The bearer token of a request: exactly one `Authorization` header of the form `Bearer <token>` (scheme
/// case-insensitive per RFC 7235 §2.1, one or more spaces), token of base64url characters and dots only.
pub fn parse_bearer(headers: &HeaderMap) -> Result<&str, GatewayError> {
    let mut values = headers.get_all("authorization").iter();
    let Some(value) = values.next() else {
        return Err(GatewayError::MissingToken);
    };
    if values.next().is_some() {
        return Err(GatewayError::MalformedCredential(
            "Send exactly one Authorization header.",
        ));
    }
    if let Some(token) = well_formed_bearer(value.as_bytes()) {
        return Ok(token);
    }
    let value = value
        .to_str()
        .map_err(|_| GatewayError::MalformedCredential("The Authorization header is not ASCII."))?;
    let Some((scheme, rest)) = value.split_once(' ') else {
        return Err(GatewayError::MalformedCredential(
            "Use 'Authorization: Bearer <access token>'.",
        ));
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(GatewayError::MalformedCredential(
            "Only the Bearer scheme is accepted: 'Authorization: Bearer <access token>'.",
        ));
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Err(GatewayError::MissingToken);
    }
    if !all_token_chars(token.as_bytes()) {
        return Err(GatewayError::MalformedCredential(
            "The bearer token must be one JWT (base64url segments separated by dots).",
        ));
    }
    Ok(token)
}

/// The sentinel subprotocol browsers offer beside the token-bearing one; the only value the gateway echoes.
pub const WS_PROTOCOL: &str = "base64UrlBearerAuthorization";
/// The prefix of the token-bearing subprotocol entry: `base64UrlBearerAuthorization.<base64url(token)>`.
pub const WS_TOKEN_PREFIX: &str = "base64UrlBearerAuthorization.";
/// Longest encoded token accepted in a subprotocol entry.
const MAX_WS_TOKEN_B64: usize = 12 * 1024;

/// How a WebSocket handshake authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsCredential {
    /// The bearer token.
    pub token: String,
    /// Whether it came in `Sec-WebSocket-Protocol` (then the 101 must echo `base64UrlBearerAuthorization`).
    pub via_subprotocol: bool,
}

/// The credential of a WebSocket handshake: the subprotocol pair (browsers) or `Authorization: Bearer`
/// (servers, SDKs). Two different credentials are refused; so is a token entry without the sentinel entry,
/// more than one token entry, or a token that is not base64url of a JWT.
pub fn parse_ws_credential(headers: &HeaderMap) -> Result<WsCredential, GatewayError> {
    let mut entries = Vec::new();
    for v in headers.get_all("sec-websocket-protocol") {
        let v = v.to_str().map_err(|_| {
            GatewayError::MalformedCredential("Sec-WebSocket-Protocol is not ASCII.")
        })?;
        entries.extend(
            v.split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_string),
        );
    }
    let tokens: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.strip_prefix(WS_TOKEN_PREFIX))
        .collect();
    let sentinel = entries.iter().any(|e| e == WS_PROTOCOL);
    let from_protocol = match tokens.as_slice() {
        [] => None,
        [one] => {
            if !sentinel {
                return Err(GatewayError::MalformedCredential(
                    "Offer the subprotocol 'base64UrlBearerAuthorization' next to the token entry.",
                ));
            }
            if one.is_empty() || one.len() > MAX_WS_TOKEN_B64 {
                return Err(GatewayError::MalformedCredential(
                    "The subprotocol token entry is empty or too long.",
                ));
            }
            let bytes =
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, one)
                    .map_err(|_| {
                        GatewayError::MalformedCredential(
                            "The subprotocol token is not base64url without padding.",
                        )
                    })?;
            let token = String::from_utf8(bytes)
                .ok()
                .filter(|t| !t.is_empty() && all_token_chars(t.as_bytes()))
                .ok_or(GatewayError::MalformedCredential(
                    "The subprotocol token is not a JWT.",
                ))?;
            Some(token)
        }
        _ => {
            return Err(GatewayError::MalformedCredential(
                "Send exactly one token subprotocol entry.",
            ));
        }
    };
    let from_header = match parse_bearer(headers) {
        Ok(t) => Some(t.to_string()),
        Err(GatewayError::MissingToken) if headers.get("authorization").is_none() => None,
        Err(e) => return Err(e),
    };
    match (from_protocol, from_header) {
        (Some(p), Some(h)) if p != h => Err(GatewayError::MalformedCredential(
            "Two different credentials in one handshake: send the token once.",
        )),
        (Some(p), _) => Ok(WsCredential {
            token: p,
            via_subprotocol: true,
        }),
        (None, Some(h)) => Ok(WsCredential {
            token: h,
            via_subprotocol: false,
        }),
        (None, None) => Err(GatewayError::MissingToken),
    }
}

/// Query parameter names that carry credentials in some clients.
const CREDENTIAL_PARAMS: &[&str] = &[
    "access_token",
    "id_token",
    "token",
    "jwt",
    "authorization",
    "bearer",
    "auth",
];

/// Whether a (percent-decoded) value looks like a JWS compact token.
fn looks_like_jwt(v: &str) -> bool {
    let v = v
        .trim_start_matches("Bearer ")
        .trim_start_matches("Bearer+")
        .trim_start_matches("Bearer%20");
    v.starts_with("eyJ") && v.matches('.').count() == 2
}

/// Refuses a token passed in the query string (it would end up in access logs): RFC 6750 §2.3 is not offered.
/// Any credential-named parameter, or any parameter whose value is a JWT, is refused.
pub fn refuse_query_token(query: Option<&str>) -> Result<(), GatewayError> {
    let Some(q) = query else { return Ok(()) };
    for pair in q.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
        if CREDENTIAL_PARAMS
            .iter()
            .any(|c| key.eq_ignore_ascii_case(c))
            || looks_like_jwt(&value)
        {
            return Err(GatewayError::MalformedCredential(
                "Tokens are not accepted in the query string; use the Authorization header.",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(values: &[&str]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for v in values {
            m.append("authorization", HeaderValue::from_str(v).unwrap());
        }
        m
    }

    #[test]
    fn accepts_bearer_in_any_case() {
        assert_eq!(parse_bearer(&h(&["Bearer a.b.c"])).unwrap(), "a.b.c");
        assert_eq!(parse_bearer(&h(&["bearer a.b.c"])).unwrap(), "a.b.c");
        assert_eq!(parse_bearer(&h(&["BEARER  a.b.c"])).unwrap(), "a.b.c");
    }

    #[test]
    fn token_characters_are_exactly_base64url_and_dots() {
        for b in 0..=255u8 {
            let spec = b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.';
            assert_eq!(is_token_char(b), spec, "byte {b:#04x}");
            // Every position of a long token, in and across the 64-byte blocks.
            for at in [0, 63, 64, 100, 899] {
                let mut token = vec![b'a'; 900];
                token[at] = b;
                assert_eq!(all_token_chars(&token), spec, "byte {b:#04x} at {at}");
            }
        }
        assert!(all_token_chars(b""));
    }

    #[test]
    fn the_one_pass_reading_agrees_with_the_full_checks() {
        let long = format!(
            "Bearer {}.{}.{}",
            "a".repeat(300),
            "B-_9".repeat(100),
            "z".repeat(342)
        );
        let cases = [
            "Bearer a.b.c",
            "bearer a.b.c",
            "BEARER    a.b.c   ",
            "Bearer ",
            "Bearer      ",
            "Bearer a.b.c d.e.f",
            "Bearer a.b.c,d.e.f",
            "Bearera.b.c",
            "Bearer\ta.b.c",
            "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
            "Bearer a+b/c=",
            "Bearer a.b.\u{e9}",
            "B\u{e9}arer a.b.c",
            long.as_str(),
        ];
        for case in cases {
            let m = {
                let mut m = HeaderMap::new();
                m.append(
                    "authorization",
                    HeaderValue::from_bytes(case.as_bytes()).unwrap(),
                );
                m
            };
            let fast = well_formed_bearer(case.as_bytes());
            let full = parse_bearer(&m);
            match fast {
                Some(token) => assert_eq!(full.unwrap(), token, "{case:?}"),
                None => assert!(
                    full.is_err(),
                    "{case:?}: the full checks accepted what the one pass refused"
                ),
            }
        }
        assert_eq!(
            well_formed_bearer(long.as_bytes()).map(str::len),
            Some(long.len() - 7)
        );
    }

    #[test]
    fn missing_header_is_missing_token() {
        assert!(matches!(
            parse_bearer(&HeaderMap::new()),
            Err(GatewayError::MissingToken)
        ));
        assert!(matches!(
            parse_bearer(&h(&["Bearer "])),
            Err(GatewayError::MissingToken)
        ));
    }

    #[test]
    fn refuses_smuggled_and_ambiguous_tokens() {
        for bad in [
            &["Bearer a.b.c", "Bearer d.e.f"][..],
            &["Bearer a.b.c,d.e.f"],
            &["Basic YWxhZGRpbjpvcGVuc2VzYW1l"],
            &["Bearer a.b.c d.e.f"],
            &["Bearera.b.c"],
        ] {
            assert!(
                matches!(
                    parse_bearer(&h(bad)),
                    Err(GatewayError::MalformedCredential(_))
                ),
                "{bad:?}"
            );
        }
    }

    fn ws(protocols: &[&str], auth: Option<&str>) -> HeaderMap {
        let mut m = HeaderMap::new();
        for p in protocols {
            m.append("sec-websocket-protocol", HeaderValue::from_str(p).unwrap());
        }
        if let Some(a) = auth {
            m.insert("authorization", HeaderValue::from_str(a).unwrap());
        }
        m
    }

    fn b64(t: &str) -> String {
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, t)
    }

    #[test]
    fn websocket_credentials_come_from_the_subprotocol_pair_or_the_header() {
        let entry = format!("{WS_TOKEN_PREFIX}{}", b64("a.b.c"));
        let c = parse_ws_credential(&ws(&[&format!("{entry}, {WS_PROTOCOL}")], None)).unwrap();
        assert_eq!(
            c,
            WsCredential {
                token: "a.b.c".into(),
                via_subprotocol: true
            }
        );
        let c = parse_ws_credential(&ws(&[&entry, WS_PROTOCOL], None)).unwrap();
        assert!(c.via_subprotocol);
        let c = parse_ws_credential(&ws(&[], Some("Bearer a.b.c"))).unwrap();
        assert_eq!(
            c,
            WsCredential {
                token: "a.b.c".into(),
                via_subprotocol: false
            }
        );
        let same = parse_ws_credential(&ws(&[&entry, WS_PROTOCOL], Some("Bearer a.b.c"))).unwrap();
        assert_eq!(same.token, "a.b.c");
    }

    #[test]
    fn websocket_credential_refusals() {
        let entry = format!("{WS_TOKEN_PREFIX}{}", b64("a.b.c"));
        let other = format!("{WS_TOKEN_PREFIX}{}", b64("d.e.f"));
        assert!(matches!(
            parse_ws_credential(&ws(&[WS_PROTOCOL], None)),
            Err(GatewayError::MissingToken)
        ));
        for bad in [
            ws(&[&entry], None),                              // no sentinel
            ws(&[&entry, &other, WS_PROTOCOL], None),         // two token entries
            ws(&[&entry, WS_PROTOCOL], Some("Bearer d.e.f")), // two different credentials
            ws(
                &[&format!("{WS_TOKEN_PREFIX}{}=", b64("a.b.c")), WS_PROTOCOL],
                None,
            ), // padding
            ws(
                &[&format!("{WS_TOKEN_PREFIX}{}", b64("a b")), WS_PROTOCOL],
                None,
            ), // not a JWT
            ws(&[WS_TOKEN_PREFIX, WS_PROTOCOL], None),        // empty
        ] {
            assert!(
                matches!(
                    parse_ws_credential(&bad),
                    Err(GatewayError::MalformedCredential(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refuses_tokens_in_the_query_string() {
        assert!(refuse_query_token(Some("qualifier=DEFAULT&access_token=x")).is_err());
        for q in [
            "token=x",
            "jwt=x",
            "Authorization=x",
            "bearer=x",
            "x=eyJhbGciOi.eyJzdWIi.c2ln",
            "a=Bearer%20eyJh.eyJz.c2",
        ] {
            assert!(refuse_query_token(Some(q)).is_err(), "{q}");
        }
        assert!(refuse_query_token(Some(
            "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id=abc&qualifier=v1"
        ))
        .is_ok());
        assert!(refuse_query_token(Some("qualifier=DEFAULT")).is_ok());
        assert!(refuse_query_token(None).is_ok());
    }
}
