//! Phase 4 of the pipeline, the agent's headers: an allow-list of the client's headers plus the gateway's own
//! identity headers (session, user, request id), for HTTP, WebSocket and forwarded requests alike. Must never copy
//! `Authorization` (unless a runtime allow-lists it for HTTP), a cookie, a hop-by-hop header or any identity header
//! a client sent; the user id comes from the verified token only.
use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// The session header, as AgentCore names it.
pub const SESSION_HEADER: &str = "x-amzn-bedrock-agentcore-runtime-session-id";
/// The user-id header the agent receives; set only from the verified token's `sub`.
pub const USER_ID_HEADER: &str = "x-amzn-bedrock-agentcore-runtime-user-id";
/// A per-request id the agent receives (the AgentCore SDK reads it).
pub const REQUEST_ID_HEADER: &str = "x-amzn-bedrock-agentcore-runtime-request-id";
/// Client headers with this prefix pass to the agent (AgentCore's custom headers).
pub const CUSTOM_HEADER_PREFIX: &str = "x-amzn-bedrock-agentcore-runtime-custom-";
/// Tracing headers that pass to the agent.
const TRACE_HEADERS: &[&str] = &["traceparent", "tracestate", "baggage", "x-amzn-trace-id"];
/// Representation headers the agent needs to read the body.
const BODY_HEADERS: &[&str] = &["content-type", "accept"];
/// Headers of the agent's answer that reach the client.
pub(in crate::gateway) const RESPONSE_HEADERS: &[&str] =
    &["content-type", "cache-control", "content-encoding"];
/// Headers of an MCP server's answer that reach the client: those, plus the session and protocol version.
pub(in crate::gateway) const MCP_RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "cache-control",
    "content-encoding",
    MCP_SESSION_HEADER,
    "mcp-protocol-version",
];
/// The MCP session header (Streamable HTTP).
pub const MCP_SESSION_HEADER: &str = "mcp-session-id";
/// Protocol headers that pass to the server: MCP's negotiated version, SSE resumption and the sessionless
/// revision's method and tool names (`Mcp-Session-Id` is set by the gateway); A2A's version and extensions.
const PROTOCOL_HEADERS: &[&str] = &[
    "mcp-protocol-version",
    "last-event-id",
    "mcp-method",
    "mcp-name",
    "a2a-version",
    "a2a-extensions",
];

/// The headers the agent receives: an allow-list of the client's, plus the gateway's own identity headers.
/// Everything else — `Authorization` (unless the runtime allow-lists it), cookies, hop-by-hop headers, any
/// client-sent `x-amzn-*` identity header in any letter case — is simply never copied.
pub fn agent_headers(
    client: &HeaderMap,
    session_id: &str,
    user_id: &str,
    request_id: &str,
    allowlist: &[String],
) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in client {
        let n = name.as_str(); // http lower-cases header names
        let allowed = BODY_HEADERS.contains(&n)
            || TRACE_HEADERS.contains(&n)
            || PROTOCOL_HEADERS.contains(&n)
            || (n.starts_with(CUSTOM_HEADER_PREFIX) && n.len() > CUSTOM_HEADER_PREFIX.len())
            || allowlist.iter().any(|a| a == n);
        let identity = n == SESSION_HEADER || n == USER_ID_HEADER || n == REQUEST_ID_HEADER;
        if allowed && !identity {
            out.append(name.clone(), value.clone());
        }
    }
    let set = |out: &mut HeaderMap, name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(HeaderName::from_static(name), v);
        }
    };
    set(&mut out, SESSION_HEADER, session_id);
    set(&mut out, USER_ID_HEADER, user_id);
    set(&mut out, REQUEST_ID_HEADER, request_id);
    out
}

/// The headers a WebSocket's agent receives: those of [`agent_headers`] without `Authorization` even when the
/// runtime allow-lists it, plus the custom headers a browser sent as query parameters; no `content-type`.
pub(in crate::gateway) fn ws_agent_headers(
    client: &HeaderMap,
    pairs: &[(String, String)],
    session_id: &str,
    user_id: &str,
    request_id: &str,
    allowlist: &[String],
) -> HeaderMap {
    // The agent sees headers only: query parameters become headers, the token and subprotocols never pass.
    let allowlist: Vec<String> = allowlist
        .iter()
        .filter(|h| *h != "authorization")
        .cloned()
        .collect();
    let mut headers = agent_headers(client, session_id, user_id, request_id, &allowlist);
    for (k, v) in pairs {
        let lower = k.to_ascii_lowercase();
        if lower.starts_with(CUSTOM_HEADER_PREFIX) && lower.len() > CUSTOM_HEADER_PREFIX.len() {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(lower.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                headers.insert(name, value);
            }
        }
    }
    headers.remove("content-type");
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_headers_drop_credentials_and_spoofed_identity() {
        let mut c = HeaderMap::new();
        c.insert("authorization", HeaderValue::from_static("Bearer x.y.z"));
        c.insert("cookie", HeaderValue::from_static("a=b"));
        c.append(
            "x-amzn-bedrock-agentcore-runtime-user-id",
            HeaderValue::from_static("mallory"),
        );
        c.append(
            "x-amzn-bedrock-agentcore-runtime-session-id",
            HeaderValue::from_static("spoof"),
        );
        c.insert("x-user-id", HeaderValue::from_static("mallory"));
        c.insert("x-forwarded-for", HeaderValue::from_static("1.2.3.4"));
        c.insert("connection", HeaderValue::from_static("close"));
        c.insert("content-type", HeaderValue::from_static("application/json"));
        c.insert("traceparent", HeaderValue::from_static("00-abc-def-01"));
        c.insert(
            "x-amzn-bedrock-agentcore-runtime-custom-tenant",
            HeaderValue::from_static("t1"),
        );
        let out = agent_headers(&c, "sess", "alice-sub", "req", &[]);
        assert_eq!(out.get(USER_ID_HEADER).unwrap(), "alice-sub");
        assert_eq!(out.get_all(USER_ID_HEADER).iter().count(), 1);
        assert_eq!(out.get(SESSION_HEADER).unwrap(), "sess");
        assert_eq!(out.get_all(SESSION_HEADER).iter().count(), 1);
        for gone in [
            "authorization",
            "cookie",
            "x-user-id",
            "x-forwarded-for",
            "connection",
        ] {
            assert!(out.get(gone).is_none(), "{gone} must not reach the agent");
        }
        assert_eq!(out.get("content-type").unwrap(), "application/json");
        assert_eq!(out.get("traceparent").unwrap(), "00-abc-def-01");
        assert_eq!(
            out.get("x-amzn-bedrock-agentcore-runtime-custom-tenant")
                .unwrap(),
            "t1"
        );
    }
}
