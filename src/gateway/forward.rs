//! `POST /runtimes/{runtime}/invocations`: route → refuse query tokens → bearer token → authorizer → session id
//! (validate or mint) → bind session to the caller → build the agent's headers from an allow-list → stream the
//! agent's answer back frame by frame, never buffering it. Must never forward `Authorization` or any identity
//! header a client sent; the user id comes from the verified token only.
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::route::{resolve, Operation};
use super::session::{mint_session_id, validate_session_id};
use super::stream::GuardedBody;
use super::{cors, credential, GatewayError, GatewayState, Runtime};
use crate::store::SessionOwner;
use crate::token::VerifiedClaims;

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
const RESPONSE_HEADERS: &[&str] = &["content-type", "cache-control", "content-encoding"];

/// What one request has learned so far, for the log line and metrics.
#[derive(Debug, Default)]
struct Ctx {
    request_id: String,
    session: Option<String>,
    sub: Option<String>,
}

/// Every request to the gateway listener: routes it (`route::resolve`), then runs the operation.
pub async fn handle(state: Arc<GatewayState>, req: Request) -> Response {
    let started = Instant::now();
    // The address the listener resolved (the peer, or a trusted proxy's X-Forwarded-For / PROXY header).
    let client = req
        .extensions()
        .get::<crate::net::ClientAddr>()
        .map(|c| c.0);
    let (runtime, op) = match resolve(&state.runtimes, req.uri().path()) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let origin = cors::check_origin(req.headers(), &runtime.allowed_origins);
    if req.method() == Method::OPTIONS {
        return cors::preflight(&origin, req.headers(), &runtime.header_allowlist);
    }
    let qualifier = query_param(req.uri().query(), "qualifier").map(|q| q.into_owned());
    let mut ctx = Ctx {
        request_id: crate::util::uuid_v4(),
        ..Ctx::default()
    };
    let result = if origin == cors::OriginCheck::Refused {
        Err(GatewayError::OriginNotAllowed)
    } else {
        match (op, req.method().clone()) {
            (Operation::Invocations, Method::POST) => {
                invoke(&state, &runtime, qualifier.as_deref(), req, &mut ctx).await
            }
            (Operation::StopSession, Method::POST) => {
                Box::pin(stop_session(&state, &runtime, req, &mut ctx)).await
            }
            (Operation::ResourceMetadata, Method::GET) => {
                Ok(metadata(&state, &runtime, qualifier.as_deref()))
            }
            (Operation::WebSocket, Method::GET) => {
                let rid = ctx.request_id.clone();
                Box::pin(super::ws::upgrade(
                    &state,
                    &runtime,
                    qualifier.as_deref(),
                    req,
                    &rid,
                    &mut ctx.sub,
                    &mut ctx.session,
                ))
                .await
            }
            _ => Err(GatewayError::UnknownOperation),
        }
    };
    let mut resp = result.unwrap_or_else(|e| {
        if let Some(reason) = e.auth_failure_reason() {
            state.metrics.auth_failure(&reason);
        }
        e.into_response()
    });
    cors::decorate(resp.headers_mut(), &origin);
    if resp.status() == StatusCode::UNAUTHORIZED {
        add_resource_metadata(&state, &runtime, qualifier.as_deref(), resp.headers_mut());
    }
    if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
        resp.headers_mut()
            .insert(HeaderName::from_static("x-amzn-requestid"), v);
    }
    let status = resp.status().as_u16();
    state.metrics.request(&runtime.name, status);
    tracing::info!(
        request_id = %ctx.request_id,
        runtime = %runtime.name,
        session = ctx.session.as_deref().unwrap_or("-"),
        user = ctx.sub.as_deref().unwrap_or("-"),
        client = ?client,
        status,
        duration_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    resp
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_encoding::percent_decode_str(v).decode_utf8_lossy())
    })
}

/// The URL of the runtime's protected-resource metadata (RFC 9728), as AgentCore names it.
fn metadata_url(state: &GatewayState, runtime: &Runtime, qualifier: Option<&str>) -> String {
    format!(
        "{}/runtimes/{}{}?qualifier={}",
        state.public_url,
        crate::gateway::arn::encode(&runtime.arn),
        super::route::METADATA_SUFFIX,
        qualifier.unwrap_or(super::route::DEFAULT_QUALIFIER)
    )
}

/// RFC 9728 §5.1: a 401 names where the client can learn how to get a token.
fn add_resource_metadata(
    state: &GatewayState,
    runtime: &Runtime,
    qualifier: Option<&str>,
    h: &mut HeaderMap,
) {
    let url = metadata_url(state, runtime, qualifier);
    let current = h
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Bearer");
    let value = if current == "Bearer" {
        format!("Bearer resource_metadata=\"{url}\"")
    } else {
        format!("{current}, resource_metadata=\"{url}\"")
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        h.insert("www-authenticate", v);
    }
}

/// `GET …/invocations/.well-known/oauth-protected-resource`: where to get a token for this runtime.
fn metadata(state: &GatewayState, runtime: &Runtime, qualifier: Option<&str>) -> Response {
    let resource = format!(
        "{}/runtimes/{}/invocations",
        state.public_url,
        crate::gateway::arn::encode(&runtime.arn)
    );
    let _ = qualifier;
    let body = serde_json::json!({
        "resource": resource,
        "resource_name": runtime.name,
        "authorization_servers": [runtime.authorization_server],
        "bearer_methods_supported": ["header"],
        "scopes_supported": runtime.authorizer.policy.allowed_scopes,
    });
    let mut r = body.to_string().into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

/// The session id of a request: the client's (validated) or a new one.
fn session_id(headers: &HeaderMap) -> Result<String, GatewayError> {
    match client_session_id(headers)? {
        Some(id) => Ok(id),
        None => Ok(mint_session_id()),
    }
}

pub(super) fn client_session_id(headers: &HeaderMap) -> Result<Option<String>, GatewayError> {
    let mut values = headers.get_all(SESSION_HEADER).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => {
            let id = v.to_str().map_err(|_| GatewayError::InvalidSessionId)?;
            validate_session_id(id)?;
            Ok(Some(id.to_string()))
        }
        (Some(_), Some(_)) => Err(GatewayError::InvalidSessionId),
    }
}

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

/// Bearer token → authorizer → revocation set. Returns the verified claims.
async fn authenticate(
    state: &GatewayState,
    runtime: &Runtime,
    parts: &http::request::Parts,
    ctx: &mut Ctx,
) -> Result<Arc<VerifiedClaims>, GatewayError> {
    credential::refuse_query_token(parts.uri.query())?;
    let token = credential::parse_bearer(&parts.headers)?;
    authenticate_token(state, runtime, token, &mut ctx.sub).await
}

/// The caller's rate limit, the session's ownership (bound on first use, refused for anyone else) and the
/// user's session cap — in that order, for HTTP and WebSocket alike.
pub(super) async fn admit(
    state: &GatewayState,
    runtime: &Runtime,
    claims: &VerifiedClaims,
    session_id: &str,
) -> Result<(), GatewayError> {
    let now = Instant::now();
    match &state.shared_rate {
        Some(shared) => {
            Box::pin(shared.check(
                &runtime.arn,
                &user_key(claims),
                runtime.limits.requests_per_minute,
                runtime.limits.burst,
            ))
            .await?
        }
        None => state
            .rate
            .check(
                (&runtime.name, &claims.sub),
                runtime.limits.requests_per_minute,
                runtime.limits.burst,
                now,
            )
            .map_err(|retry| GatewayError::Throttled(retry.as_secs().max(1)))?,
    }
    state
        .sessions
        .bind(
            &runtime.arn,
            session_id,
            &claims.iss,
            &claims.sub,
            state.clock.now_unix(),
        )
        .await?;
    if !state.session_counter.admit(
        &runtime.arn,
        &user_key(claims),
        session_id,
        runtime.limits.max_sessions_per_user,
        runtime.idle_timeout,
        now,
    ) {
        return Err(GatewayError::TooManySessions);
    }
    Ok(())
}

/// The key of a user in per-user limits: issuer and subject.
pub(super) fn user_key(claims: &VerifiedClaims) -> String {
    format!("{}\n{}", claims.iss, claims.sub)
}

/// Checks one token against the runtime's authorizer and, for gatehouse's own issuer, the revocation set.
pub(super) async fn authenticate_token(
    state: &GatewayState,
    runtime: &Runtime,
    token: &str,
    sub_out: &mut Option<String>,
) -> Result<Arc<VerifiedClaims>, GatewayError> {
    let now = state.clock.now_unix();
    let claims = state
        .verified
        .authorize(&runtime.authorizer, token, now, Instant::now())
        .await?;
    *sub_out = Some(claims.sub.clone());
    if runtime.builtin_issuer && state.revocations.is_revoked(&claims) {
        return Err(GatewayError::Revoked);
    }
    tracing::debug!(token = %crate::util::log_id(token), "token accepted");
    Ok(claims)
}

pub(super) fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
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

async fn invoke(
    state: &GatewayState,
    runtime: &Arc<Runtime>,
    qualifier: Option<&str>,
    req: Request,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let fixed = runtime.static_upstream(qualifier)?;
    let (parts, body) = req.into_parts();
    let claims = authenticate(state, runtime, &parts, ctx).await?;
    let session_id = session_id(&parts.headers)?;
    ctx.session = Some(session_id.clone());
    admit(state, runtime, &claims, &session_id).await?;
    let max = runtime.limits.max_payload_bytes;
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(GatewayError::PayloadTooLarge(max));
    }
    let limited = http_body_util::Limited::new(body, usize::try_from(max).unwrap_or(usize::MAX));

    let headers = agent_headers(
        &parts.headers,
        &session_id,
        &claims.sub,
        &ctx.request_id,
        &runtime.header_allowlist,
    );
    if let (None, Some(cluster)) = (&fixed, &state.cluster) {
        if let Some(peer) = Box::pin(super::cluster::owner_elsewhere(
            state,
            cluster,
            runtime,
            &session_id,
        ))
        .await?
        {
            return Box::pin(super::cluster::forward(
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
    send_to_agent(
        state,
        runtime,
        &upstream,
        lease,
        headers,
        Body::new(limited),
        &session_id,
        &ctx.request_id,
    )
    .await
}

/// Sends an admitted request to the agent at `upstream` and streams its answer back.
#[allow(clippy::too_many_arguments)]
pub(super) async fn send_to_agent(
    state: &GatewayState,
    runtime: &Runtime,
    upstream: &str,
    lease: Option<crate::agent::supervisor::Lease>,
    headers: HeaderMap,
    body: Body,
    session_id: &str,
    request_id: &str,
) -> Result<Response, GatewayError> {
    let max = runtime.limits.max_payload_bytes;
    let uri = format!("{}/invocations", upstream.trim_end_matches('/'));
    let mut upstream_req = http::Request::post(uri)
        .body(body)
        .map_err(|e| GatewayError::Internal(format!("building the agent request: {e}")))?;
    *upstream_req.headers_mut() = headers;
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
    let (up_parts, up_body) = upstream_resp.into_parts();
    if status.is_client_error() || status.is_server_error() {
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
    Ok(stream_back(
        state,
        runtime,
        session_id,
        request_id,
        (up_parts, up_body),
        RESPONSE_HEADERS,
        lease,
    ))
}

/// The client's answer: `answer`'s status, the listed headers and its body streamed through a `GuardedBody`
/// (idle timeout, stop signal, clean SSE ending), plus the session header. Shared by local and forwarded answers.
pub(super) fn stream_back(
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

/// `StopRuntimeSession`: the session's owner ends its in-flight streams; the session stays bound to them.
async fn stop_session(
    state: &GatewayState,
    runtime: &Arc<Runtime>,
    req: Request,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let (parts, _body) = req.into_parts();
    let claims = authenticate(state, runtime, &parts, ctx).await?;
    let session_id = client_session_id(&parts.headers)?.ok_or(GatewayError::Validation(
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
        super::cluster::stop_remote(state, cluster, runtime, &session_id, &claims.sub).await;
        // The session no longer has a process here: the next request may start it on any instance.
        let _ = state
            .sessions
            .release_instance(&runtime.arn, &session_id, &cluster.self_url)
            .await;
    }
    state
        .session_counter
        .forget(&runtime.arn, &user_key(&claims), &session_id);
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

    #[test]
    fn query_param_decodes() {
        assert_eq!(
            query_param(Some("a=1&qualifier=DEF%41ULT"), "qualifier").as_deref(),
            Some("DEFAULT")
        );
        assert_eq!(query_param(Some("a=1"), "qualifier"), None);
    }
}
