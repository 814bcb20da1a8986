//! MCP servers behind the gateway (Streamable HTTP): `POST` (one JSON-RPC message or a batch; a JSON or SSE
//! answer), `GET` (the server-to-client SSE stream) and `DELETE` (end the session) on the runtime's invocations URL,
//! each through the same pipeline as an HTTP invocation. `Mcp-Session-Id` is a session like a runtime session id:
//! bound to the user on first use (another user's → 403, never reaching the server); a server-issued id is bound
//! before the client sees it; a gateway-issued one is added when the server is stateless (AgentCore's behaviour).
//! A `command` runtime's process is per MCP session; a stateful server's own id stays inside the gateway
//! ([`ServerIds`]), the client only ever sees the gateway's. Must never pass the token to the server.
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::Response;

use super::pipeline::deliver::{deliver, Delivery};
use super::pipeline::headers::{agent_headers, MCP_SESSION_HEADER};
use super::pipeline::{self, Ctx};
use super::{GatewayError, GatewayState, Runtime};
use crate::token::VerifiedClaims;

/// The longest `Mcp-Session-Id` accepted.
pub const MAX_MCP_SESSION_ID: usize = 256;
/// The client's `Mcp-Session-Id`: at most one, visible ASCII as the MCP specification requires.
pub(in crate::gateway) fn client_mcp_session(
    headers: &HeaderMap,
) -> Result<Option<String>, GatewayError> {
    const BAD: GatewayError = GatewayError::Validation(
        "Invalid Mcp-Session-Id: send at most one, of 1 to 256 visible ASCII characters.",
    );
    let mut values = headers.get_all(MCP_SESSION_HEADER).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => {
            let b = v.as_bytes();
            if b.is_empty()
                || b.len() > MAX_MCP_SESSION_ID
                || !b.iter().all(|c| (0x21..=0x7e).contains(c))
            {
                return Err(BAD);
            }
            Ok(Some(String::from_utf8_lossy(b).into_owned()))
        }
        (Some(_), Some(_)) => Err(BAD),
    }
}

/// What the gateway reads of a POST body: the JSON-RPC methods and tool names, nothing else.
#[derive(Debug, Default, PartialEq)]
pub(in crate::gateway) struct Peek {
    /// The body holds an `initialize` request.
    pub initialize: bool,
}

/// Reads the JSON-RPC message (or batch) of a POST body; a body that is not JSON is left to the server.
pub(in crate::gateway) fn peek(body: &[u8]) -> Peek {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Peek::default();
    };
    let messages = match &value {
        serde_json::Value::Array(a) => a.iter().collect::<Vec<_>>(),
        other => vec![other],
    };
    Peek {
        initialize: messages
            .iter()
            .any(|m| m.get("method").and_then(|v| v.as_str()) == Some("initialize")),
    }
}

/// The session of a request that names none: a new one for `initialize`, otherwise the caller's own stable one
/// (sessionless clients get one process per user on a `command` runtime, and one binding, not one per request).
fn session_for(runtime: &Runtime, claims: &VerifiedClaims, initialize: bool) -> String {
    if initialize {
        return super::session::mint_session_id();
    }
    let key = format!("{}\n{}\n{}", runtime.arn, claims.iss, claims.sub);
    format!(
        "mcp-user-{}",
        &crate::util::sha256_hex(key.as_bytes())[..48]
    )
}

/// `POST`, `GET` or `DELETE` on an MCP runtime's invocations URL.
pub(super) async fn relay(
    state: &GatewayState,
    runtime: &Arc<Runtime>,
    qualifier: Option<&str>,
    req: Request,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let fixed = runtime.static_upstream(qualifier)?;
    let (parts, body) = req.into_parts();
    let claims = pipeline::authenticate(state, runtime, &parts, ctx).await?;
    let method = parts.method.clone();
    let client_mcp = client_mcp_session(&parts.headers)?;
    let client_runtime = pipeline::client_session_id(&parts.headers)?;
    if method == Method::DELETE && client_mcp.is_none() {
        return Err(GatewayError::Validation(
            "DELETE ends an MCP session: send its Mcp-Session-Id.",
        ));
    }
    let body = if method == Method::POST {
        pipeline::read_body(runtime, &parts.headers, body).await?
    } else {
        axum::body::Bytes::new()
    };
    let seen = peek(&body);
    let session_id = match client_mcp.clone().or(client_runtime) {
        Some(id) => id,
        None => session_for(runtime, &claims, seen.initialize),
    };
    ctx.session = Some(session_id.clone());
    pipeline::admit(state, runtime, &claims, &session_id).await?;
    let mut headers = agent_headers(
        &parts.headers,
        &session_id,
        &claims.sub,
        &ctx.request_id,
        &runtime.header_allowlist,
    );
    if let Some(v) = client_mcp
        .as_deref()
        .and_then(|m| HeaderValue::from_str(m).ok())
    {
        headers.insert(HeaderName::from_static(MCP_SESSION_HEADER), v);
    }
    let admitted = if method == Method::POST {
        match super::mcp_policy::check(state, runtime, qualifier, &claims, &parts.headers, &body) {
            Ok(a) => a.list_filter,
            Err(refused) => return Ok(*refused),
        }
    } else {
        None
    };
    let delivery = Delivery {
        fixed,
        method: method.clone(),
        path: &runtime.agent_path,
        headers,
        body,
        session_id: &session_id,
        user: &claims.sub,
        request_id: &ctx.request_id,
    };
    let mut resp = Box::pin(deliver(state, runtime, delivery)).await?;
    if client_mcp.is_none() {
        adopt_session(
            state,
            runtime,
            &claims,
            &session_id,
            seen.initialize,
            resp.headers_mut(),
        )
        .await?;
    }
    if let (Some(policy), true) = (admitted, resp.status().is_success()) {
        resp = super::mcp_policy::filter_list(resp, &policy, &claims).await?;
    }
    if method == Method::DELETE && resp.status().is_success() {
        end_session(state, runtime, &claims, &session_id).await;
    }
    Ok(resp)
}

/// A request that named no MCP session: a server-issued id is bound to the caller before the client learns it;
/// a stateless server's `initialize` answer gets the gateway's session id (which the client then sends back).
async fn adopt_session(
    state: &GatewayState,
    runtime: &Runtime,
    claims: &VerifiedClaims,
    session_id: &str,
    initialize: bool,
    headers: &mut HeaderMap,
) -> Result<(), GatewayError> {
    let issued = headers
        .get(MCP_SESSION_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    match issued {
        Some(id) if id != session_id => {
            let bound = state
                .sessions
                .bind(
                    &runtime.arn,
                    &id,
                    &claims.iss,
                    &claims.sub,
                    state.clock.now_unix(),
                )
                .await;
            if let Err(e) = bound {
                tracing::error!(runtime = %runtime.name, "the MCP server issued a session id that is not the caller's: {e}");
                return Err(GatewayError::AgentUnreachable(
                    "the MCP server reused a session id".into(),
                ));
            }
        }
        Some(_) => {}
        None if initialize => {
            if let Ok(v) = HeaderValue::from_str(session_id) {
                headers.insert(HeaderName::from_static(MCP_SESSION_HEADER), v);
            }
        }
        None => {}
    }
    Ok(())
}

/// After the server ended an MCP session: its process (a `command` runtime's) stopped, its id forgotten.
async fn end_session(
    state: &GatewayState,
    runtime: &Runtime,
    claims: &VerifiedClaims,
    session_id: &str,
) {
    // The server ends its own streams; the DELETE's answer is itself a registered stream of the session, so
    // stopping the session's streams here would cut it.
    state.mcp_ids.forget(&runtime.arn, session_id);
    if runtime.process.is_some() {
        let (supervisor, arn, id) = (
            state.supervisor.clone(),
            runtime.arn.clone(),
            session_id.to_string(),
        );
        let grace = runtime.limits.stop_grace;
        // In the background: the answer is still being read from the process.
        tokio::spawn(async move { supervisor.stop(&arn, &id, grace).await });
    }
    state
        .session_counter
        .forget(&runtime.arn, &pipeline::user_key(claims), session_id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcp_session_ids_are_visible_ascii() {
        let mut h = HeaderMap::new();
        assert_eq!(client_mcp_session(&h).unwrap(), None);
        h.insert(MCP_SESSION_HEADER, HeaderValue::from_static("abc-123"));
        assert_eq!(client_mcp_session(&h).unwrap().as_deref(), Some("abc-123"));
        h.insert(MCP_SESSION_HEADER, HeaderValue::from_static("a b"));
        assert!(client_mcp_session(&h).is_err());
        h.insert(MCP_SESSION_HEADER, HeaderValue::from_static("x"));
        h.append(MCP_SESSION_HEADER, HeaderValue::from_static("y"));
        assert!(client_mcp_session(&h).is_err(), "two ids");
        let long = "a".repeat(MAX_MCP_SESSION_ID + 1);
        let mut h = HeaderMap::new();
        h.insert(MCP_SESSION_HEADER, HeaderValue::from_str(&long).unwrap());
        assert!(client_mcp_session(&h).is_err());
    }

    #[test]
    fn initialize_is_seen_in_a_message_or_a_batch() {
        assert!(peek(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#).initialize);
        assert!(peek(br#"[{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":1,"method":"initialize"}]"#).initialize);
        assert!(!peek(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).initialize);
        assert!(!peek(b"not json").initialize);
    }
}
