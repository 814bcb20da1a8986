//! The gateway's admission pipeline: one function per phase, in the order every request goes through them, called
//! by HTTP (`forward`), WebSocket (`ws`) and the internal listener (`cluster`), which never call each other:
//!
//! 1. **authenticate** — the request's credential: the bearer header ([`authenticate`]; the WebSocket credential is
//!    read by `credential::parse_ws_credential`), never a query token;
//! 2. **authorize** — the token through the runtime's authorizer (verified-token cache), then, for gatehouse's own
//!    issuer, the revocation set ([`authorize`]);
//! 3. **session** — the session id, the client's validated or a new one ([`session_id`], [`client_session_id`]);
//! 4. **limits and binding** — rate limit, the session bound to its owner, the user's session cap, in that order
//!    ([`admit`]);
//! 5. **agent headers** — the allow-listed headers plus the gateway's identity headers ([`headers`]);
//! 6. **forward** — where the session is served ([`peer::owner_elsewhere`]: this instance, or the instance that runs
//!    its process), then the request sent and its answer streamed back ([`answer`], [`peer::forward`]) or the
//!    agent's WebSocket dialed ([`agent_ws`]).
//!
//! Must never take the caller's identity from anything but the verified token, and must not make the hot path
//! slower: no allocation, boxing or lock per request beyond what each phase itself needs.
use std::sync::Arc;
use std::time::Instant;

use axum::http::HeaderMap;

use super::credential;
use super::session::{mint_session_id, validate_session_id};
use super::{GatewayError, GatewayState, Runtime};
use crate::token::VerifiedClaims;

pub mod agent_ws;
pub mod answer;
pub mod deliver;
pub mod headers;
pub mod mcp_ids;
pub mod peer;

/// What one request has learned so far, for the log line and metrics.
#[derive(Debug, Default)]
pub(in crate::gateway) struct Ctx {
    pub(in crate::gateway) request_id: String,
    pub(in crate::gateway) session: Option<String>,
    pub(in crate::gateway) sub: Option<String>,
}

/// Phases 1–2 for HTTP: no query token, the bearer token, then [`authorize`]. Returns the verified claims.
pub(in crate::gateway) async fn authenticate(
    state: &GatewayState,
    runtime: &Runtime,
    parts: &http::request::Parts,
    ctx: &mut Ctx,
) -> Result<Arc<VerifiedClaims>, GatewayError> {
    credential::refuse_query_token(parts.uri.query())?;
    let token = credential::parse_bearer(&parts.headers)?;
    authorize(state, runtime, token, &mut ctx.sub).await
}

/// Phase 2: checks one token against the runtime's authorizer and, for gatehouse's own issuer, the revocation set.
pub(in crate::gateway) async fn authorize(
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
    check_resource_audience(state, runtime, &claims)?;
    tracing::debug!(token = %crate::util::log_id(token), "token accepted");
    Ok(claims)
}

/// A token bound to a resource (RFC 8707: an `aud` that is a URL) is accepted only by that resource: the runtime's
/// canonical URI (`{gateway}/runtimes/{ARN}/invocations`) or an audience its authorizer lists. Tokens without a
/// URL audience (Cognito's access tokens carry `client_id`) are not affected.
fn check_resource_audience(
    state: &GatewayState,
    runtime: &Runtime,
    claims: &VerifiedClaims,
) -> Result<(), GatewayError> {
    let is_url = |a: &String| a.starts_with("https://") || a.starts_with("http://");
    if !claims.aud.iter().any(is_url) {
        return Ok(());
    }
    let canonical = resource_uri(state, runtime);
    let allowed = &runtime.authorizer.policy.allowed_audience;
    if claims
        .aud
        .iter()
        .any(|a| *a == canonical || allowed.contains(a))
    {
        Ok(())
    } else {
        Err(GatewayError::Token(
            crate::token::TokenError::AudienceNotAllowed,
        ))
    }
}

/// The runtime's canonical resource URI, as its protected-resource metadata names it.
pub(in crate::gateway) fn resource_uri(state: &GatewayState, runtime: &Runtime) -> String {
    format!(
        "{}/runtimes/{}/invocations",
        state.public_url,
        super::arn::encode(&runtime.arn)
    )
}

/// The URL of the runtime's protected-resource metadata (RFC 9728), as AgentCore names it.
pub(in crate::gateway) fn metadata_url(
    state: &GatewayState,
    runtime: &Runtime,
    qualifier: Option<&str>,
) -> String {
    format!(
        "{}/runtimes/{}{}?qualifier={}",
        state.public_url,
        super::arn::encode(&runtime.arn),
        super::route::METADATA_SUFFIX,
        qualifier.unwrap_or(super::route::DEFAULT_QUALIFIER)
    )
}

/// A request body within the runtime's payload limit: refused at once when its `Content-Length` says more, cut
/// off (a length-limit error) when it sends more than it said.
pub(in crate::gateway) fn limited_body(
    runtime: &Runtime,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<http_body_util::Limited<axum::body::Body>, GatewayError> {
    let max = runtime.limits.max_payload_bytes;
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(GatewayError::PayloadTooLarge(max));
    }
    Ok(http_body_util::Limited::new(
        body,
        usize::try_from(max).unwrap_or(usize::MAX),
    ))
}

/// [`limited_body`] read whole (the protocol relays read one JSON-RPC message to route and check it).
pub(in crate::gateway) async fn read_body(
    runtime: &Runtime,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<axum::body::Bytes, GatewayError> {
    use http_body_util::BodyExt as _;
    match limited_body(runtime, headers, body)?.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if answer::is_length_limit(e.as_ref()) => Err(GatewayError::PayloadTooLarge(
            runtime.limits.max_payload_bytes,
        )),
        Err(_) => Err(GatewayError::Validation(
            "The request body could not be read.",
        )),
    }
}

/// Phase 3 for HTTP: the session id of a request, the client's (validated) or a new one.
pub(in crate::gateway) fn session_id(headers: &HeaderMap) -> Result<String, GatewayError> {
    match client_session_id(headers)? {
        Some(id) => Ok(id),
        None => Ok(mint_session_id()),
    }
}

/// The client's session header, validated: at most one, of AgentCore's shape.
pub(in crate::gateway) fn client_session_id(
    headers: &HeaderMap,
) -> Result<Option<String>, GatewayError> {
    let mut values = headers.get_all(headers::SESSION_HEADER).iter();
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

/// Phase 4: the caller's rate limit, the session's ownership (bound on first use, refused for anyone else) and the
/// user's session cap — in that order, for HTTP and WebSocket alike.
pub(in crate::gateway) async fn admit(
    state: &GatewayState,
    runtime: &Runtime,
    claims: &VerifiedClaims,
    session_id: &str,
) -> Result<(), GatewayError> {
    let now = Instant::now();
    rate_limit(state, runtime, claims, now).await?;
    bind_session(state, runtime, claims, session_id).await?;
    session_cap(state, runtime, claims, session_id, now)
}

/// The caller's requests per minute: in Redis when the limits are shared, else in this process.
async fn rate_limit(
    state: &GatewayState,
    runtime: &Runtime,
    claims: &VerifiedClaims,
    now: Instant,
) -> Result<(), GatewayError> {
    match &state.shared_rate {
        Some(shared) => {
            Box::pin(shared.check(
                &runtime.arn,
                &user_key(claims),
                runtime.limits.requests_per_minute,
                runtime.limits.burst,
            ))
            .await
        }
        None => state
            .rate
            .check(
                (&runtime.name, &claims.sub),
                runtime.limits.requests_per_minute,
                runtime.limits.burst,
                now,
            )
            .map_err(|retry| GatewayError::Throttled(retry.as_secs().max(1))),
    }
}

/// The session bound to the caller on its first request; anyone else's request is refused.
async fn bind_session(
    state: &GatewayState,
    runtime: &Runtime,
    claims: &VerifiedClaims,
    session_id: &str,
) -> Result<(), GatewayError> {
    state
        .sessions
        .bind(
            &runtime.arn,
            session_id,
            &claims.iss,
            &claims.sub,
            state.clock.now_unix(),
        )
        .await
}

/// The user's live sessions of the runtime, this one included, within the runtime's cap.
fn session_cap(
    state: &GatewayState,
    runtime: &Runtime,
    claims: &VerifiedClaims,
    session_id: &str,
    now: Instant,
) -> Result<(), GatewayError> {
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
pub(in crate::gateway) fn user_key(claims: &VerifiedClaims) -> String {
    format!("{}\n{}", claims.iss, claims.sub)
}
