//! CORS for the data plane, per runtime, pure: an `Origin` is allowed only if it equals one of the runtime's
//! `allowed_origins` exactly (no wildcards, no suffix or prefix matching, never `null`). Preflights list the
//! headers explicitly; answers expose the session header; every answer varies on `Origin`. Credentials mode is
//! never enabled (bearer tokens, not cookies).
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Request headers a browser may send (plus the runtime's allow-listed ones).
pub const BASE_ALLOW_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "accept",
    "x-amzn-bedrock-agentcore-runtime-session-id",
    "x-amzn-trace-id",
    "traceparent",
    "tracestate",
    "baggage",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
    "a2a-version",
    "a2a-extensions",
];
/// Response headers a browser script may read.
pub const EXPOSE_HEADERS: &str =
    "x-amzn-bedrock-agentcore-runtime-session-id, x-amzn-requestid, x-amzn-errortype, mcp-session-id, mcp-protocol-version";

/// What the `Origin` header says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginCheck {
    /// No `Origin`: not a browser cross-origin request (curl, a server, an SDK).
    Absent,
    /// An allowed origin, to be echoed.
    Allowed(HeaderValue),
    /// Any other origin, `null`, several `Origin` headers, or garbage.
    Refused,
}

/// Checks the request's `Origin` against `allowed`.
pub fn check_origin(headers: &HeaderMap, allowed: &[String]) -> OriginCheck {
    let mut values = headers.get_all("origin").iter();
    let Some(v) = values.next() else {
        return OriginCheck::Absent;
    };
    if values.next().is_some() {
        return OriginCheck::Refused;
    }
    let Ok(origin) = v.to_str() else {
        return OriginCheck::Refused;
    };
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        OriginCheck::Allowed(v.clone())
    } else {
        OriginCheck::Refused
    }
}

/// Adds `Vary: Origin` and, for an allowed origin, the CORS answer headers.
pub fn decorate(headers: &mut HeaderMap, origin: &OriginCheck) {
    headers.append(axum::http::header::VARY, HeaderValue::from_static("origin"));
    if let OriginCheck::Allowed(o) = origin {
        headers.insert(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, o.clone());
        headers.insert(
            axum::http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
}

/// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`).
pub fn preflight(
    origin: &OriginCheck,
    request_headers: &HeaderMap,
    extra_allowed: &[String],
) -> Response {
    let method_ok = request_headers
        .get("access-control-request-method")
        .and_then(|m| m.to_str().ok())
        .is_some_and(|m| m == "POST" || m == "GET");
    let OriginCheck::Allowed(_) = origin else {
        let mut r = StatusCode::FORBIDDEN.into_response();
        decorate(r.headers_mut(), origin);
        return r;
    };
    let mut r = if method_ok {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::FORBIDDEN
    }
    .into_response();
    let h = r.headers_mut();
    decorate(h, origin);
    if method_ok {
        let mut allow: Vec<String> = BASE_ALLOW_HEADERS
            .iter()
            .map(|s| (*s).to_string())
            .collect();
        allow.extend(extra_allowed.iter().cloned());
        if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
            h.insert(HeaderName::from_static("access-control-allow-headers"), v);
        }
        h.insert(
            HeaderName::from_static("access-control-allow-methods"),
            HeaderValue::from_static("POST, GET, DELETE, OPTIONS"),
        );
        h.insert(
            HeaderName::from_static("access-control-max-age"),
            HeaderValue::from_static("600"),
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origin(o: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in o {
            h.append("origin", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn only_exact_origins_are_allowed() {
        let allowed = vec!["https://app.example.com".to_string()];
        assert!(matches!(
            check_origin(&with_origin(&["https://app.example.com"]), &allowed),
            OriginCheck::Allowed(_)
        ));
        for bad in [
            "null",
            "https://evil-app.example.com",
            "https://app.example.com.evil",
            "http://app.example.com",
            "https://app.example.com:444",
            "https://app.example.co",
            "https://APP.example.com.evil",
        ] {
            assert_eq!(
                check_origin(&with_origin(&[bad]), &allowed),
                OriginCheck::Refused,
                "{bad}"
            );
        }
        assert_eq!(
            check_origin(
                &with_origin(&["https://app.example.com", "https://app.example.com"]),
                &allowed
            ),
            OriginCheck::Refused
        );
        assert_eq!(
            check_origin(&HeaderMap::new(), &allowed),
            OriginCheck::Absent
        );
        assert_eq!(
            check_origin(&with_origin(&["null"]), &["null".to_string()][..0]),
            OriginCheck::Refused
        );
    }
}
