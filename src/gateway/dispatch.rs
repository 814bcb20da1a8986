//! Every request to the gateway listener: routed (`route::resolve`), the CORS origin checked (preflights answered
//! here), then handed to its operation — `InvokeAgentRuntime` and `StopRuntimeSession` (`forward`), the WebSocket
//! (`ws`), the runtime's protected-resource metadata (RFC 9728, here) — and finally decorated (CORS, the metadata
//! link of a 401, the request id), counted and logged. Must never log a token or a request body.
use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::pipeline::Ctx;
use super::route::{resolve, Operation};
use super::{a2a, cors, forward, mcp, ws, GatewayError, GatewayState, Runtime};
use crate::config::Protocol;

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
        operation(&state, &runtime, op, qualifier.as_deref(), req, &mut ctx).await
    };
    let mut resp = result.unwrap_or_else(|e| {
        if let Some(reason) = e.auth_failure_reason() {
            state.metrics.auth_failure(&reason);
        }
        e.into_response()
    });
    cors::decorate(resp.headers_mut(), &origin);
    // A 401, and a 403 for scope (MCP clients step up from it), name the metadata and the runtime's scopes.
    let scope_refusal = resp.status() == StatusCode::FORBIDDEN
        && resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("insufficient_scope") && !v.contains("resource_metadata"));
    if resp.status() == StatusCode::UNAUTHORIZED || scope_refusal {
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

/// Runs the operation a routed request names, by the runtime's protocol.
async fn operation(
    state: &Arc<GatewayState>,
    runtime: &Arc<Runtime>,
    op: Operation,
    qualifier: Option<&str>,
    req: Request,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    match (op, req.method().clone(), runtime.protocol) {
        (Operation::Invocations, Method::POST | Method::GET | Method::DELETE, Protocol::Mcp) => {
            Box::pin(mcp::relay(state, runtime, qualifier, req, ctx)).await
        }
        (Operation::Invocations, Method::POST, Protocol::A2a) => {
            Box::pin(a2a::invoke(state, runtime, qualifier, req, ctx)).await
        }
        (Operation::AgentCard, Method::GET, Protocol::A2a) => {
            Box::pin(a2a::card(state, runtime, qualifier, req, ctx)).await
        }
        (Operation::Invocations, Method::POST, Protocol::Http) => {
            forward::invoke(state, runtime, qualifier, req, ctx).await
        }
        (Operation::StopSession, Method::POST, _) => {
            Box::pin(forward::stop_session(state, runtime, req, ctx)).await
        }
        (Operation::ResourceMetadata, Method::GET, _) => Ok(metadata(state, runtime, qualifier)),
        (Operation::WebSocket, Method::GET, Protocol::Http) => {
            let rid = ctx.request_id.clone();
            Box::pin(ws::upgrade(
                state,
                runtime,
                qualifier,
                req,
                &rid,
                &mut ctx.sub,
                &mut ctx.session,
            ))
            .await
        }
        _ => Err(GatewayError::UnknownOperation),
    }
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_encoding::percent_decode_str(v).decode_utf8_lossy())
    })
}

/// RFC 9728 §5.1: a 401 names where the client can learn how to get a token.
fn add_resource_metadata(
    state: &GatewayState,
    runtime: &Runtime,
    qualifier: Option<&str>,
    h: &mut HeaderMap,
) {
    let url = super::pipeline::metadata_url(state, runtime, qualifier);
    let current = h
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Bearer");
    let scopes = &runtime.authorizer.policy.allowed_scopes;
    let scope = if scopes.is_empty() {
        String::new()
    } else {
        format!(", scope=\"{}\"", scopes.join(" "))
    };
    let value = if current == "Bearer" {
        format!("Bearer resource_metadata=\"{url}\"{scope}")
    } else {
        format!("{current}, resource_metadata=\"{url}\"{scope}")
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        h.insert("www-authenticate", v);
    }
}

/// `GET …/invocations/.well-known/oauth-protected-resource`: where to get a token for this runtime.
fn metadata(state: &GatewayState, runtime: &Runtime, qualifier: Option<&str>) -> Response {
    let resource = super::pipeline::resource_uri(state, runtime);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_param_decodes() {
        assert_eq!(
            query_param(Some("a=1&qualifier=DEF%41ULT"), "qualifier").as_deref(),
            Some("DEFAULT")
        );
        assert_eq!(query_param(Some("a=1"), "qualifier"), None);
    }
}
