//! Phase 5 for the protocol relays (MCP, A2A): an admitted request delivered to the session's agent — on the
//! instance that runs its process when that is another one (its method named for the internal listener), else
//! here, starting the process if the runtime has one. Must never deliver a request that was not admitted.
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::Response;

use super::answer::{send_to_agent, AgentRequest};
use super::peer;
use crate::gateway::{GatewayError, GatewayState, Runtime};

/// An admitted request for the session's agent.
pub(in crate::gateway) struct Delivery<'a> {
    /// The runtime's fixed upstream for the qualifier; `None`: the session's own process.
    pub fixed: Option<String>,
    pub method: Method,
    /// Appended to the agent's base URL.
    pub path: &'a str,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub session_id: &'a str,
    /// The caller's `sub` (a process is started for them).
    pub user: &'a str,
    pub request_id: &'a str,
}

/// Delivers `d` and returns the agent's answer (streamed).
pub(in crate::gateway) async fn deliver(
    state: &GatewayState,
    runtime: &Runtime,
    mut d: Delivery<'_>,
) -> Result<Response, GatewayError> {
    // The internal listener serves the runtime's agent path; other paths (the A2A card) are served here.
    let forwardable = d.path == runtime.agent_path;
    if let (None, Some(cluster), true) = (&d.fixed, &state.cluster, forwardable) {
        if let Some(owner) =
            Box::pin(peer::owner_elsewhere(state, cluster, runtime, d.session_id)).await?
        {
            if d.method != Method::POST {
                if let Ok(v) = HeaderValue::from_str(d.method.as_str()) {
                    d.headers
                        .insert(HeaderName::from_static(peer::METHOD_HEADER), v);
                }
            }
            return Box::pin(peer::forward(
                state,
                cluster,
                runtime,
                &owner,
                d.headers,
                Body::from(d.body),
                d.session_id,
                d.request_id,
            ))
            .await;
        }
    }
    let (upstream, lease) = runtime
        .resolve_upstream(state, d.fixed, d.session_id, d.user)
        .await?;
    let call = AgentRequest {
        method: d.method,
        path: d.path,
        upstream: &upstream,
        lease,
        headers: d.headers,
        body: Body::from(d.body),
        session_id: d.session_id,
        request_id: d.request_id,
    };
    send_to_agent(state, runtime, call).await
}
