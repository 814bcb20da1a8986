//! `InvokeAgentRuntime` (`POST /runtimes/{runtime}/invocations`) and `StopRuntimeSession` over HTTP: each runs the
//! pipeline's phases (`pipeline`: authenticate → authorize → session id → limits and binding → agent headers →
//! forward) and streams the agent's answer back frame by frame, never buffering it. Must never forward
//! `Authorization` or any identity header a client sent; the user id comes from the verified token only.
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::pipeline::answer::{send_to_agent, AgentRequest};
use super::pipeline::{self, peer, Ctx};
use super::{GatewayError, GatewayState, Runtime};
use crate::store::SessionOwner;

pub use super::pipeline::headers::{
    agent_headers, CUSTOM_HEADER_PREFIX, REQUEST_ID_HEADER, SESSION_HEADER, USER_ID_HEADER,
};

/// `InvokeAgentRuntime`: the payload within the runtime's limit, sent to the session's agent here or on the
/// instance that runs its process.
pub(super) async fn invoke(
    state: &GatewayState,
    runtime: &Arc<Runtime>,
    qualifier: Option<&str>,
    req: Request,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let fixed = runtime.static_upstream(qualifier)?;
    let (parts, body) = req.into_parts();
    let claims = pipeline::authenticate(state, runtime, &parts, ctx).await?;
    let session_id = pipeline::session_id(&parts.headers)?;
    ctx.session = Some(session_id.clone());
    pipeline::admit(state, runtime, &claims, &session_id).await?;
    let limited = pipeline::limited_body(runtime, &parts.headers, body)?;

    let headers = agent_headers(
        &parts.headers,
        &session_id,
        &claims.sub,
        &ctx.request_id,
        &runtime.header_allowlist,
    );
    if let (None, Some(cluster)) = (&fixed, &state.cluster) {
        if let Some(peer) =
            Box::pin(peer::owner_elsewhere(state, cluster, runtime, &session_id)).await?
        {
            return Box::pin(peer::forward(
                state,
                cluster,
                runtime,
                &peer,
                headers,
                Body::new(limited),
                &session_id,
                &ctx.request_id,
            ))
            .await;
        }
    }
    let (upstream, lease) = runtime
        .resolve_upstream(state, fixed, &session_id, &claims.sub)
        .await?;
    let call = AgentRequest {
        method: http::Method::POST,
        path: &runtime.agent_path,
        upstream: &upstream,
        lease,
        headers,
        body: Body::new(limited),
        session_id: &session_id,
        request_id: &ctx.request_id,
    };
    send_to_agent(state, runtime, call).await
}

/// `StopRuntimeSession`: the session's owner ends its in-flight streams; the session stays bound to them.
pub(super) async fn stop_session(
    state: &GatewayState,
    runtime: &Arc<Runtime>,
    req: Request,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let (parts, _body) = req.into_parts();
    let claims = pipeline::authenticate(state, runtime, &parts, ctx).await?;
    let session_id =
        pipeline::client_session_id(&parts.headers)?.ok_or(GatewayError::Validation(
            "StopRuntimeSession needs the X-Amzn-Bedrock-AgentCore-Runtime-Session-Id header.",
        ))?;
    ctx.session = Some(session_id.clone());
    let caller = SessionOwner {
        issuer: claims.iss.clone(),
        sub: claims.sub.clone(),
    };
    match state.sessions.owner(&runtime.arn, &session_id).await? {
        None => return Err(GatewayError::SessionNotFound),
        Some(o) if o != caller => return Err(GatewayError::SessionOwnedByAnother),
        Some(_) => {}
    }
    let stopped = state.streams.stop(&runtime.arn, &session_id);
    let process = state
        .supervisor
        .stop(&runtime.arn, &session_id, runtime.limits.stop_grace)
        .await;
    if let (Some(_), Some(cluster)) = (&runtime.process, &state.cluster) {
        peer::stop_remote(state, cluster, runtime, &session_id, &claims.sub).await;
        // The session no longer has a process here: the next request may start it on any instance.
        let _ = state
            .sessions
            .release_instance(&runtime.arn, &session_id, &cluster.self_url)
            .await;
    }
    state
        .session_counter
        .forget(&runtime.arn, &pipeline::user_key(&claims), &session_id);
    tracing::info!(request_id = %ctx.request_id, runtime = %runtime.name, streams = stopped, process, "session stopped");
    let body = serde_json::json!({ "runtimeSessionId": session_id, "statusCode": 200 });
    let mut resp = body.to_string().into_response();
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(&session_id) {
        h.insert(HeaderName::from_static(SESSION_HEADER), v);
    }
    Ok(resp)
}
