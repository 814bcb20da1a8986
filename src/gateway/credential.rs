//! Credential extraction, pure: finds the one bearer token a request carries and refuses ambiguous or smuggled
//! ones (two `Authorization` headers, `Bearer a,b`, tokens in the query string). Never logs the token.
use axum::http::HeaderMap;

use super::GatewayError;

/// Characters a JWS compact token may contain (base64url and the two dots).
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
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
    if !token.bytes().all(is_token_char) {
        return Err(GatewayError::MalformedCredential(
            "The bearer token must be one JWT (base64url segments separated by dots).",
        ));
    }
    Ok(token)
}

/// Refuses a token passed in the query string (it would end up in access logs): RFC 6750 §2.3 is not offered.
pub fn refuse_query_token(query: Option<&str>) -> Result<(), GatewayError> {
    let Some(q) = query else { return Ok(()) };
    for pair in q.split('&') {
        let key = pair.split('=').next().unwrap_or("");
        if key.eq_ignore_ascii_case("access_token") || key.eq_ignore_ascii_case("id_token") {
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

    #[test]
    fn refuses_tokens_in_the_query_string() {
        assert!(refuse_query_token(Some("qualifier=DEFAULT&access_token=x")).is_err());
        assert!(refuse_query_token(Some("qualifier=DEFAULT")).is_ok());
        assert!(refuse_query_token(None).is_ok());
    }
}
