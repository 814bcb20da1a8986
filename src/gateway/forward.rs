//! `POST /runtimes/{runtime}/invocations`: route → refuse query tokens → bearer token → authorizer → session id
//! (validate or mint) → bind session to the caller → build the agent's headers from an allow-list → stream the
//! agent's answer back frame by frame, never buffering it. Must never forward `Authorization` or any identity
//! header a client sent; the user id comes from the verified token only.
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};

use super::route::{check_qualifier, find_runtime, parse_path, Operation};
use super::session::{mint_session_id, validate_session_id};
use super::{credential, GatewayError, GatewayState};
use crate::store::SessionOwner;

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

/// The axum handler for everything under `/runtimes/`.
pub async fn handle(
    State(state): State<Arc<GatewayState>>,
    Path(rest): Path<String>,
    req: Request,
) -> Response {
    invoke(&state, &rest, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_encoding::percent_decode_str(v).decode_utf8_lossy())
    })
}

/// The session id of a request: the client's (validated) or a new one.
fn session_id(headers: &HeaderMap) -> Result<String, GatewayError> {
    let mut values = headers.get_all(SESSION_HEADER).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(mint_session_id()),
        (Some(v), None) => {
            let id = v.to_str().map_err(|_| GatewayError::InvalidSessionId)?;
            validate_session_id(id)?;
            Ok(id.to_string())
        }
        (Some(_), Some(_)) => Err(GatewayError::InvalidSessionId),
    }
}

/// The headers the agent receives: an allow-list of the client's, plus the gateway's own identity headers.
/// Everything else — `Authorization`, cookies, hop-by-hop headers, any client-sent `x-amzn-*` identity
/// header in any letter case — is simply never copied.
pub fn agent_headers(
    client: &HeaderMap,
    session_id: &str,
    user_id: &str,
    request_id: &str,
) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in client {
        let n = name.as_str(); // http lower-cases header names
        let allowed = BODY_HEADERS.contains(&n)
            || TRACE_HEADERS.contains(&n)
            || (n.starts_with(CUSTOM_HEADER_PREFIX) && n.len() > CUSTOM_HEADER_PREFIX.len());
        if allowed {
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

async fn invoke(state: &GatewayState, rest: &str, req: Request) -> Result<Response, GatewayError> {
    let (parts, body) = req.into_parts();
    let (runtime_ref, op) = parse_path(rest)?;
    let runtime = find_runtime(&state.runtimes, runtime_ref)
        .ok_or_else(|| GatewayError::RuntimeNotFound(runtime_ref.chars().take(256).collect()))?
        .clone();
    let query = parts.uri.query();
    check_qualifier(query_param(query, "qualifier").as_deref())?;
    if op != Operation::Invocations || parts.method != Method::POST {
        return Err(GatewayError::UnknownOperation);
    }
    credential::refuse_query_token(query)?;
    let token = credential::parse_bearer(&parts.headers)?;
    let now = state.clock.now_unix();
    let claims = runtime
        .authorizer
        .authorize(token, now, Instant::now())
        .await?;
    let session_id = session_id(&parts.headers)?;
    let owner = SessionOwner {
        issuer: claims.iss.clone(),
        sub: claims.sub.clone(),
    };
    state
        .sessions
        .bind(&runtime.arn, &session_id, &owner, now)
        .await?;

    let request_id = crate::util::uuid_v4();
    let uri = format!("{}/invocations", runtime.upstream.trim_end_matches('/'));
    let mut upstream_req = http::Request::post(uri)
        .body(Body::new(body))
        .map_err(|e| GatewayError::Internal(format!("building the agent request: {e}")))?;
    *upstream_req.headers_mut() =
        agent_headers(&parts.headers, &session_id, &claims.sub, &request_id);
    tracing::info!(
        runtime = %runtime.name,
        sub = %claims.sub,
        token = %crate::util::log_id(token),
        %request_id,
        "invoking agent"
    );
    let upstream_resp = state
        .client
        .request(upstream_req)
        .await
        .map_err(|e| GatewayError::AgentUnreachable(format!("{}: {e}", runtime.upstream)))?;
    let status = upstream_resp.status();
    if status.is_client_error() || status.is_server_error() {
        return Err(GatewayError::AgentError(status.as_u16()));
    }
    let (up_parts, up_body) = upstream_resp.into_parts();
    let mut resp = Response::new(Body::new(up_body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    for name in RESPONSE_HEADERS {
        for v in up_parts.headers.get_all(*name) {
            h.append(HeaderName::from_static(name), v.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_str(&session_id) {
        h.insert(HeaderName::from_static(SESSION_HEADER), v);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert(HeaderName::from_static("x-amzn-requestid"), v);
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
        let out = agent_headers(&c, "sess", "alice-sub", "req");
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
