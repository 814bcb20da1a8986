//! Phase 5 of the pipeline for HTTP, the answer: an admitted request sent to the agent (or the owning instance's
//! answer) streamed back to the client frame by frame through a `GuardedBody`, never buffered; an agent's error is
//! turned into AgentCore's 424 with at most 1 KiB of its text. Must never pass an agent's header that is not listed.
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use std::time::Instant;

use super::headers::{MCP_RESPONSE_HEADERS, RESPONSE_HEADERS, SESSION_HEADER};
use crate::config::Protocol;
use crate::gateway::stream::GuardedBody;
use crate::gateway::{GatewayError, GatewayState, Runtime};

/// Whether a body error is `Limited`'s: the request was larger than the runtime allows.
pub(in crate::gateway) fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Reads at most `max` bytes of an error body, for the 424 message.
async fn error_text(body: crate::agent::pool::PooledBody, max: usize) -> String {
    use http_body_util::BodyExt as _;
    let mut body = body;
    let mut buf = Vec::new();
    let read = async {
        while buf.len() < max {
            match body.frame().await {
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        buf.extend_from_slice(&d);
                    }
                }
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), read).await;
    buf.truncate(max);
    let text = String::from_utf8_lossy(&buf);
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = clean.trim();
    if trimmed.is_empty() {
        "(no message)".to_string()
    } else {
        trimmed.to_string()
    }
}

/// One admitted request on its way to the agent.
pub(in crate::gateway) struct AgentRequest<'a> {
    pub method: http::Method,
    /// Appended to the upstream's base URL (the runtime's `agent_path`, or the A2A card's path).
    pub path: &'a str,
    /// The agent's base URL.
    pub upstream: &'a str,
    pub lease: Option<crate::agent::supervisor::Lease>,
    pub headers: HeaderMap,
    pub body: Body,
    pub session_id: &'a str,
    pub request_id: &'a str,
}

/// Sends an admitted request to the agent and streams its answer back. An HTTP agent's error status becomes
/// AgentCore's 424; an MCP server's or A2A agent's status is the protocol's own and passes unchanged.
pub(in crate::gateway) async fn send_to_agent(
    state: &GatewayState,
    runtime: &Runtime,
    mut r: AgentRequest<'_>,
) -> Result<Response, GatewayError> {
    let max = runtime.limits.max_payload_bytes;
    let upstream = r.upstream;
    let uri = format!("{}{}", upstream.trim_end_matches('/'), r.path);
    let translate = runtime.protocol == Protocol::Mcp && r.lease.is_some();
    if translate {
        super::mcp_ids::to_server_id(state, runtime, r.session_id, &mut r.headers);
    }
    let mut upstream_req = http::Request::builder()
        .method(r.method)
        .uri(uri)
        .body(r.body)
        .map_err(|e| GatewayError::Internal(format!("building the agent request: {e}")))?;
    *upstream_req.headers_mut() = r.headers;
    let sent = Instant::now();
    let answer = tokio::time::timeout(
        runtime.limits.response_timeout,
        state.pool.send(upstream_req),
    )
    .await;
    let upstream_resp = match answer {
        Err(_) => {
            state.metrics.agent_failure();
            return Err(GatewayError::AgentTimeout);
        }
        Ok(Err(e)) if is_length_limit(&e) => return Err(GatewayError::PayloadTooLarge(max)),
        Ok(Err(e)) => {
            state.metrics.agent_failure();
            return Err(GatewayError::AgentUnreachable(format!("{upstream}: {e}")));
        }
        Ok(Ok(r)) => r,
    };
    state.metrics.upstream_latency(sent.elapsed());
    let status = upstream_resp.status();
    let (mut up_parts, up_body) = upstream_resp.into_parts();
    if runtime.protocol == Protocol::Http && (status.is_client_error() || status.is_server_error())
    {
        let message: String = Box::pin(error_text(up_body, 4096))
            .await
            .chars()
            .take(1024)
            .collect();
        return Err(GatewayError::AgentError {
            status: status.as_u16(),
            message,
        });
    }
    if translate {
        super::mcp_ids::from_server_id(state, runtime, r.session_id, &mut up_parts.headers);
    }
    Ok(stream_back(
        state,
        runtime,
        r.session_id,
        r.request_id,
        (up_parts, up_body),
        response_headers(runtime.protocol),
        r.lease,
    ))
}

/// The agent's answer headers that reach the client, by protocol.
pub(in crate::gateway) fn response_headers(protocol: Protocol) -> &'static [&'static str] {
    match protocol {
        Protocol::Mcp => MCP_RESPONSE_HEADERS,
        Protocol::Http | Protocol::A2a => RESPONSE_HEADERS,
    }
}

/// The client's answer: `answer`'s status, the listed headers and its body streamed through a `GuardedBody`
/// (idle timeout, stop signal, clean SSE ending), plus the session header. Shared by local and forwarded answers.
pub(in crate::gateway) fn stream_back(
    state: &GatewayState,
    runtime: &Runtime,
    session_id: &str,
    request_id: &str,
    (parts, body): (http::response::Parts, crate::agent::pool::PooledBody),
    pass_headers: &[&'static str],
    lease: Option<crate::agent::supervisor::Lease>,
) -> Response {
    let sse = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let stop = state.streams.register(&runtime.arn, session_id);
    let body = GuardedBody::new(
        body,
        sse,
        runtime.limits.stream_idle_timeout,
        stop,
        state.metrics.clone(),
        request_id.to_string(),
        lease,
    );
    let mut resp = Response::new(Body::new(body));
    *resp.status_mut() = parts.status;
    let h = resp.headers_mut();
    for name in pass_headers {
        for v in parts.headers.get_all(*name) {
            h.append(HeaderName::from_static(name), v.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_str(session_id) {
        h.insert(HeaderName::from_static(SESSION_HEADER), v);
    }
    resp
}
