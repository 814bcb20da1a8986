//! A runtime's tool policy applied to MCP requests at the perimeter: every `tools/call` of a POST body decided
//! before anything reaches the server (a refused call answered with a JSON-RPC error — HTTP 403 and an
//! `insufficient_scope` challenge when scopes would help), counted and logged per tool and user; a body the
//! gateway cannot read unambiguously refused rather than let the server read it differently; and `tools/list`
//! answers (JSON or SSE) filtered to what the caller may call. Must never forward a refused call.
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use serde_json::Value;
use std::sync::Arc;

use super::mcp_tools::{self, HEADER_MISMATCH};
use super::tool_policy::{self, ToolDecision};
use super::{GatewayError, GatewayState, Runtime};
use crate::config::tool_policy::ToolPolicy;
use crate::token::VerifiedClaims;

/// The largest `tools/list` answer filtered (a larger one is refused rather than passed unfiltered).
const MAX_LIST_ANSWER: usize = 8 * 1024 * 1024;

/// What a checked request needs on the way back.
pub(super) struct Admitted {
    /// The policy, when the body asks for `tools/list` (its answer is filtered).
    pub list_filter: Option<Arc<ToolPolicy>>,
}

/// Decides the body's tool calls; `Err` is the answer to send instead of forwarding.
pub(super) fn check(
    state: &GatewayState,
    runtime: &Runtime,
    qualifier: Option<&str>,
    claims: &VerifiedClaims,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Admitted, Box<Response>> {
    let Some(handle) = &runtime.tool_policy else {
        return Ok(Admitted { list_filter: None });
    };
    let policy = handle.current();
    let messages = mcp_tools::parse_messages(body).map_err(|e| -> Box<Response> {
        tracing::info!(runtime = %runtime.name, "MCP body refused: {e}");
        rpc_answer(
            StatusCode::BAD_REQUEST,
            &mcp_tools::jsonrpc_error(None, e.code(), &e.to_string(), None),
            None,
        )
    })?;
    mcp_tools::check_headers(headers, &messages).map_err(|why| {
        rpc_answer(
            StatusCode::BAD_REQUEST,
            &mcp_tools::jsonrpc_error(None, HEADER_MISMATCH, &why, None),
            None,
        )
    })?;
    let calls = messages.tool_calls();
    for call in &calls {
        tracing::info!(runtime = %runtime.name, tool = %call.name.chars().take(128).collect::<String>(), user = %claims.sub, "tool call");
    }
    let refused = tool_policy::refused_calls(&policy, &runtime.name, calls, claims, &state.metrics);
    if !refused.is_empty() {
        return Err(refusal(
            state,
            runtime,
            qualifier,
            claims,
            &refused,
            messages.batch,
        ));
    }
    let lists = messages
        .messages
        .iter()
        .any(|m| m.method.as_deref() == Some("tools/list"));
    Ok(Admitted {
        list_filter: lists.then_some(policy),
    })
}

/// The answer to a body with refused calls: one JSON-RPC error per refused call; HTTP 403 with the scopes every
/// refused call needs when a scope is what is missing, else 200 (the refusal is the protocol's answer).
fn refusal(
    state: &GatewayState,
    runtime: &Runtime,
    qualifier: Option<&str>,
    claims: &VerifiedClaims,
    refused: &[(mcp_tools::ToolCall, ToolDecision)],
    batch: bool,
) -> Box<Response> {
    let mut scopes: Vec<String> = Vec::new();
    let mut errors = Vec::new();
    for (call, d) in refused {
        tracing::warn!(runtime = %runtime.name, tool = %call.name.chars().take(128).collect::<String>(), user = %claims.sub, "tool call refused by the tool policy");
        if let ToolDecision::Deny {
            missing_scopes,
            required_scopes,
            ..
        } = d
        {
            if !missing_scopes.is_empty() {
                scopes.extend(required_scopes.iter().cloned());
            }
        }
        errors.extend(tool_policy::refusal(call, d));
    }
    scopes.sort();
    scopes.dedup();
    let body = if batch || errors.len() > 1 {
        Value::Array(errors)
    } else {
        errors.pop().unwrap_or(Value::Null)
    };
    if scopes.is_empty() {
        return rpc_answer(StatusCode::OK, &body, None);
    }
    let meta = super::pipeline::metadata_url(state, runtime, qualifier);
    let challenge =
        mcp_tools::insufficient_scope_challenge(&scopes, &meta, Some("this tool needs more scope"));
    rpc_answer(StatusCode::FORBIDDEN, &body, Some(challenge))
}

fn rpc_answer(status: StatusCode, body: &Value, challenge: Option<HeaderValue>) -> Box<Response> {
    let mut r = (status, body.to_string()).into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(c) = challenge {
        h.insert("www-authenticate", c);
    }
    Box::new(r)
}

/// A `tools/list` answer with the tools the caller may not call removed (JSON, or each SSE event).
pub(super) async fn filter_list(
    resp: Response,
    policy: &ToolPolicy,
    claims: &VerifiedClaims,
) -> Result<Response, GatewayError> {
    let allowed = |name: &str| policy.allows(name, claims);
    let (mut parts, body) = resp.into_parts();
    let bytes = http_body_util::Limited::new(body, MAX_LIST_ANSWER)
        .collect()
        .await
        .map_err(|_| {
            GatewayError::AgentUnreachable("the tools/list answer is too large or cut short".into())
        })?
        .to_bytes();
    let sse = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let out: Vec<u8> = if sse {
        filter_sse(&String::from_utf8_lossy(&bytes), &allowed).into_bytes()
    } else {
        mcp_tools::filter_tools_list(&bytes, allowed).unwrap_or_else(|| bytes.to_vec())
    };
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Ok(Response::from_parts(parts, Body::from(out)))
}

/// Each event of an SSE body with its `data` filtered; other fields (`event`, `id`, `retry`) kept as they were.
fn filter_sse(text: &str, allowed: &dyn Fn(&str) -> bool) -> String {
    let normalized = text.replace("\r\n", "\n");
    let mut out = String::with_capacity(normalized.len());
    for event in normalized.split_inclusive("\n\n") {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        match mcp_tools::filter_sse_event(&data.join("\n"), allowed) {
            None => out.push_str(event),
            Some(filtered) => {
                for line in event
                    .lines()
                    .filter(|l| !l.starts_with("data:") && !l.is_empty())
                {
                    out.push_str(line);
                    out.push('\n');
                }
                out.push_str("data: ");
                out.push_str(&filtered);
                out.push_str("\n\n");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_keep_their_fields_and_lose_forbidden_tools() {
        let body = "event: message\nid: 7\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"ok\"},{\"name\":\"secret\"}]}}\n\n: comment\n\n";
        let out = filter_sse(body, &|n| n != "secret");
        assert!(out.starts_with("event: message\nid: 7\ndata: "), "{out}");
        assert!(out.contains("\"ok\"") && !out.contains("secret"), "{out}");
        assert!(out.ends_with(": comment\n\n"), "{out}");
    }
}
