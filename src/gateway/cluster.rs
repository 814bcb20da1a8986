//! The internal listener of a cluster: requests another instance forwarded for a session whose agent process runs
//! here (`command` runtimes), already authenticated, rate-limited and bound to its owner there, authenticated by
//! the secret every instance shares (compared in constant time, `pipeline::peer`). Here only the pipeline's last
//! phases run: the agent headers again, then the local process. Must never be routed from the public gateway,
//! accept a request without the secret, or forward a request again (it always serves locally).
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::pipeline::agent_ws::{self, AgentSocket};
use super::pipeline::answer::{send_to_agent, AgentRequest};
use super::pipeline::headers::{agent_headers, REQUEST_ID_HEADER, SESSION_HEADER, USER_ID_HEADER};
use super::session::validate_session_id;
use super::{GatewayError, GatewayState, Runtime};

pub use super::pipeline::peer::{
    Cluster, INVOKE_PATH, METHOD_HEADER, MIN_SECRET_BYTES, PING_PATH, RUNTIME_HEADER,
    SECRET_HEADER, STOP_PATH, WS_PATH,
};

/// The internal listener's routes: nothing else is served there, and none of them on the public gateway.
pub fn router(state: Arc<GatewayState>) -> Router {
    Router::new()
        .route(INVOKE_PATH, post(internal_invoke))
        .route(STOP_PATH, post(internal_stop))
        .route(WS_PATH, get(internal_ws))
        .route(PING_PATH, get(internal_ping))
        .fallback(|| async { GatewayError::UnknownOperation })
        .with_state(state)
}

/// What a forwarding instance vouches for.
struct Forwarded {
    runtime: Arc<Runtime>,
    session: String,
    user: String,
    request_id: String,
}

fn single<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => v.to_str().ok().filter(|s| !s.is_empty()),
        _ => None,
    }
}

fn check_peer(state: &GatewayState, headers: &HeaderMap) -> Result<(), GatewayError> {
    match &state.cluster {
        Some(c) if c.authentic(headers) => Ok(()),
        Some(_) => {
            tracing::warn!("internal listener: refused a request without the cluster secret");
            Err(GatewayError::NotAPeer)
        }
        None => Err(GatewayError::UnknownOperation),
    }
}

fn forwarded(state: &GatewayState, headers: &HeaderMap) -> Result<Forwarded, GatewayError> {
    check_peer(state, headers)?;
    let arn = single(headers, RUNTIME_HEADER).ok_or(GatewayError::Validation(
        "A forwarded request needs exactly one X-Gatehouse-Runtime-Arn header.",
    ))?;
    let runtime = state
        .runtimes
        .iter()
        .find(|r| r.arn == arn)
        .cloned()
        .ok_or_else(|| GatewayError::RuntimeNotFound(arn.chars().take(256).collect()))?;
    if runtime.process.is_none() {
        return Err(GatewayError::Validation(
            "Only sessions of command runtimes are forwarded between instances.",
        ));
    }
    let session = single(headers, SESSION_HEADER).ok_or(GatewayError::InvalidSessionId)?;
    validate_session_id(session)?;
    let user = single(headers, USER_ID_HEADER).ok_or(GatewayError::Validation(
        "A forwarded request needs exactly one user id header.",
    ))?;
    Ok(Forwarded {
        session: session.to_string(),
        user: user.to_string(),
        request_id: single(headers, REQUEST_ID_HEADER)
            .map_or_else(crate::util::uuid_v4, str::to_string),
        runtime,
    })
}

async fn internal_ping(State(state): State<Arc<GatewayState>>, headers: HeaderMap) -> Response {
    match check_peer(&state, &headers) {
        Ok(()) => "ok\n".into_response(),
        Err(e) => e.into_response(),
    }
}

async fn internal_invoke(State(state): State<Arc<GatewayState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let f = match forwarded(&state, &parts.headers) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let max = f.runtime.limits.max_payload_bytes;
    let limited = http_body_util::Limited::new(body, usize::try_from(max).unwrap_or(usize::MAX));
    // The forwarding instance built these from its client's request with the same policy; apply it again.
    let mut client_headers = parts.headers;
    client_headers.remove(SECRET_HEADER);
    // An MCP GET stream or DELETE travels as a POST naming its method.
    let method = match client_headers
        .remove(METHOD_HEADER)
        .as_ref()
        .map(|v| v.as_bytes())
    {
        Some(b"GET") => http::Method::GET,
        Some(b"DELETE") => http::Method::DELETE,
        _ => http::Method::POST,
    };
    let headers = agent_headers(
        &client_headers,
        &f.session,
        &f.user,
        &f.request_id,
        &f.runtime.header_allowlist,
    );
    let result = async {
        let (upstream, lease) = f
            .runtime
            .resolve_upstream(&state, None, &f.session, &f.user)
            .await?;
        let call = AgentRequest {
            method,
            path: &f.runtime.agent_path,
            upstream: &upstream,
            lease,
            headers,
            body: Body::new(limited),
            session_id: &f.session,
            request_id: &f.request_id,
        };
        send_to_agent(&state, &f.runtime, call).await
    }
    .await;
    let resp = result.unwrap_or_else(IntoResponse::into_response);
    tracing::info!(
        request_id = %f.request_id,
        runtime = %f.runtime.name,
        session = %f.session,
        user = %f.user,
        status = resp.status().as_u16(),
        "forwarded request"
    );
    resp
}

/// A WebSocket forwarded by another instance, which keeps the client-facing checks (token expiry, reauth,
/// frame limits); here the frames are relayed to the session's local process as they are.
async fn internal_ws(State(state): State<Arc<GatewayState>>, req: Request) -> Response {
    use axum::extract::FromRequestParts as _;
    let (mut parts, _body) = req.into_parts();
    let result = async {
        let f = forwarded(&state, &parts.headers)?;
        let upgrade = axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, &())
            .await
            .map_err(|_| GatewayError::Validation("This endpoint needs a WebSocket upgrade request."))?;
        let mut client_headers = parts.headers.clone();
        client_headers.remove(SECRET_HEADER);
        let mut headers = agent_headers(
            &client_headers,
            &f.session,
            &f.user,
            &f.request_id,
            &f.runtime.header_allowlist,
        );
        headers.remove("content-type");
        let (upstream, lease) = f
            .runtime
            .resolve_upstream(&state, None, &f.session, &f.user)
            .await?;
        let agent = agent_ws::connect_agent(&upstream, headers, &f.runtime).await?;
        let max = f.runtime.limits.ws_max_message_bytes;
        let shutdown = state.shutdown.clone();
        tracing::info!(request_id = %f.request_id, runtime = %f.runtime.name, "forwarded websocket");
        Ok::<_, GatewayError>(
            upgrade
                .max_message_size(max)
                .max_frame_size(max)
                .on_upgrade(move |socket| pipe(socket, agent, shutdown, lease)),
        )
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Relays frames both ways until either side closes or gatehouse shuts down.
async fn pipe(
    mut peer: axum::extract::ws::WebSocket,
    mut agent: AgentSocket,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    _lease: Option<crate::agent::supervisor::Lease>,
) {
    use futures_util::{SinkExt as _, StreamExt as _};
    loop {
        tokio::select! {
            msg = peer.recv() => match msg {
                Some(Ok(m)) => {
                    let closing = matches!(m, axum::extract::ws::Message::Close(_));
                    if agent.send(agent_ws::to_agent(m)).await.is_err() || closing {
                        break;
                    }
                }
                _ => break,
            },
            msg = agent.next() => match msg {
                Some(Ok(m)) => {
                    let closing = m.is_close();
                    if let Some(out) = agent_ws::to_client(m) {
                        if peer.send(out).await.is_err() {
                            break;
                        }
                    }
                    if closing {
                        break;
                    }
                }
                _ => {
                    let _ = peer.send(agent_ws::close(1011, "the agent went away")).await;
                    break;
                }
            },
            () = agent_ws::stopping(&mut shutdown) => {
                let _ = peer.send(agent_ws::close(1001, "gatehouse is shutting down")).await;
                break;
            }
        }
    }
    let _ = agent.close(None).await;
}

async fn internal_stop(State(state): State<Arc<GatewayState>>, headers: HeaderMap) -> Response {
    let f = match forwarded(&state, &headers) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let streams = state.streams.stop(&f.runtime.arn, &f.session);
    let process = state
        .supervisor
        .stop(&f.runtime.arn, &f.session, f.runtime.limits.stop_grace)
        .await;
    if let Some(c) = &state.cluster {
        let _ = state
            .sessions
            .release_instance(&f.runtime.arn, &f.session, &c.self_url)
            .await;
    }
    tracing::info!(runtime = %f.runtime.name, streams, process, "session stopped for another instance");
    StatusCode::NO_CONTENT.into_response()
}
