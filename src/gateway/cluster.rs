//! Cross-instance forwarding of isolated sessions (runtimes with `command`). A session's agent process lives on
//! the instance that started it, and the session row records that instance's internal URL. Another instance that
//! receives a request of the session (already authenticated, rate-limited and bound to its owner there) forwards
//! it over the owner's internal listener, authenticated by a secret every instance shares, compared in constant
//! time; if the owner does not answer, the session starts afresh locally and the row names this instance.
//! The internal listener must never be routed from the public gateway, accept a request without the secret, or
//! forward a request again (it always serves locally).
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::forward::{
    agent_headers, send_to_agent, REQUEST_ID_HEADER, SESSION_HEADER, USER_ID_HEADER,
};
use super::session::validate_session_id;
use super::{GatewayError, GatewayState, Runtime};

/// The header carrying the shared secret between instances.
pub const SECRET_HEADER: &str = "x-gatehouse-cluster-secret";
/// The header naming the runtime (by ARN) of a forwarded request.
pub const RUNTIME_HEADER: &str = "x-gatehouse-runtime-arn";
/// A forwarded invocation.
pub const INVOKE_PATH: &str = "/internal/v1/invocations";
/// A forwarded WebSocket.
pub const WS_PATH: &str = "/internal/v1/ws";
/// A forwarded `StopRuntimeSession`.
pub const STOP_PATH: &str = "/internal/v1/stop";
/// Whether an instance answers (and shares the secret).
pub const PING_PATH: &str = "/internal/v1/ping";
/// The shortest secret accepted.
pub const MIN_SECRET_BYTES: usize = 32;
/// How long the liveness check of the owning instance may take.
const PING_TIMEOUT: Duration = Duration::from_secs(1);
/// Headers of a peer's answer passed on to the client (the peer already applied the agent's header policy).
const PEER_RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "cache-control",
    "content-encoding",
    "x-amzn-errortype",
    "retry-after",
];

/// This instance's place in the cluster.
pub struct Cluster {
    /// The URL other instances reach this one's internal listener at.
    pub self_url: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("self_url", &self.self_url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Cluster {
    /// `secret` is the content of the shared secret file, trailing whitespace removed.
    pub fn new(self_url: String, secret: &[u8]) -> Result<Self, String> {
        let secret = secret.trim_ascii_end();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "the cluster secret must be at least {MIN_SECRET_BYTES} bytes (it has {})",
                secret.len()
            ));
        }
        if HeaderValue::from_bytes(secret).is_err() {
            return Err(
                "the cluster secret must be printable ASCII (e.g. `openssl rand -hex 32`)".into(),
            );
        }
        Ok(Self {
            self_url: self_url.trim_end_matches('/').to_string(),
            secret: secret.to_vec(),
        })
    }

    /// Whether a request carries exactly one secret header with the shared secret (constant-time comparison).
    pub fn authentic(&self, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(SECRET_HEADER).iter();
        match (values.next(), values.next()) {
            (Some(v), None) => {
                aws_lc_rs::constant_time::verify_slices_are_equal(v.as_bytes(), &self.secret)
                    .is_ok()
            }
            _ => false,
        }
    }

    /// `headers` plus the secret and the runtime, for a request to another instance.
    pub(super) fn peer_headers(
        &self,
        mut headers: HeaderMap,
        runtime_arn: &str,
    ) -> Result<HeaderMap, GatewayError> {
        headers.remove(SECRET_HEADER);
        let secret = HeaderValue::from_bytes(&self.secret)
            .map_err(|e| GatewayError::Internal(format!("cluster secret header: {e}")))?;
        headers.insert(HeaderName::from_static(SECRET_HEADER), secret);
        let arn = HeaderValue::from_str(runtime_arn)
            .map_err(|e| GatewayError::Internal(format!("runtime ARN header: {e}")))?;
        headers.insert(HeaderName::from_static(RUNTIME_HEADER), arn);
        Ok(headers)
    }

    fn request(
        &self,
        peer: &str,
        path: &str,
        runtime_arn: &str,
        headers: HeaderMap,
        body: Body,
    ) -> Result<http::Request<Body>, GatewayError> {
        let headers = self.peer_headers(headers, runtime_arn)?;
        let mut req = http::Request::post(format!("{peer}{path}"))
            .body(body)
            .map_err(|e| GatewayError::Internal(format!("building the forwarded request: {e}")))?;
        *req.headers_mut() = headers;
        Ok(req)
    }

    /// Whether the instance at `peer` answers on its internal listener and accepts our secret.
    async fn alive(&self, client: &crate::outbound::HttpClient, peer: &str) -> bool {
        let Ok(mut req) = http::Request::get(format!("{peer}{PING_PATH}")).body(Body::empty())
        else {
            return false;
        };
        if let Ok(v) = HeaderValue::from_bytes(&self.secret) {
            req.headers_mut()
                .insert(HeaderName::from_static(SECRET_HEADER), v);
        }
        matches!(
            tokio::time::timeout(PING_TIMEOUT, client.request(req)).await,
            Ok(Ok(r)) if r.status() == StatusCode::OK
        )
    }
}

/// Where a request of a `command` runtime's session is served: `Some(url)` of the live instance that runs its
/// process, or `None` for here (after recording this instance in the session row if it was not recorded).
pub(super) async fn owner_elsewhere(
    state: &GatewayState,
    cluster: &Cluster,
    runtime: &Runtime,
    session_id: &str,
) -> Result<Option<String>, GatewayError> {
    if state.supervisor.running(&runtime.arn, session_id).await {
        return Ok(None);
    }
    let (arn, me) = (&runtime.arn, cluster.self_url.as_str());
    match state.sessions.instance(arn, session_id).await? {
        Some(url) if url == me => return Ok(None),
        Some(url) => {
            if cluster.alive(&state.client, &url).await {
                return Ok(Some(url));
            }
            tracing::warn!(
                instance = %url,
                runtime = %runtime.name,
                "the instance running the session's agent process does not answer; starting the session afresh here"
            );
            state
                .sessions
                .release_instance(arn, session_id, &url)
                .await?;
        }
        None => {}
    }
    // First claim wins: if another instance claimed the session meanwhile, its process serves it.
    match state.sessions.claim_instance(arn, session_id, me).await? {
        Some(url) if url != me && cluster.alive(&state.client, &url).await => Ok(Some(url)),
        _ => Ok(None),
    }
}

/// Forwards an authenticated, admitted invocation to the instance at `peer` and streams its answer back.
#[allow(clippy::too_many_arguments)]
pub(super) async fn forward(
    state: &GatewayState,
    cluster: &Cluster,
    runtime: &Runtime,
    peer: &str,
    headers: HeaderMap,
    body: Body,
    session_id: &str,
    request_id: &str,
) -> Result<Response, GatewayError> {
    let req = cluster.request(peer, INVOKE_PATH, &runtime.arn, headers, body)?;
    tracing::debug!(instance = %peer, runtime = %runtime.name, "forwarding the session to its instance");
    let answer = tokio::time::timeout(runtime.limits.response_timeout, state.pool.send(req)).await;
    let resp = match answer {
        Err(_) => return Err(GatewayError::AgentTimeout),
        Ok(Err(e)) if super::forward::is_length_limit(&e) => {
            return Err(GatewayError::PayloadTooLarge(
                runtime.limits.max_payload_bytes,
            ))
        }
        Ok(Err(e)) => {
            state.metrics.agent_failure();
            return Err(GatewayError::AgentUnreachable(format!(
                "instance {peer}: {e}"
            )));
        }
        Ok(Ok(r)) => r,
    };
    Ok(super::forward::stream_back(
        state,
        runtime,
        session_id,
        request_id,
        resp.into_parts(),
        PEER_RESPONSE_HEADERS,
        None,
    ))
}

/// Asks the instance that runs the session's process to stop it (best effort; failures are logged).
pub(super) async fn stop_remote(
    state: &GatewayState,
    cluster: &Cluster,
    runtime: &Runtime,
    session_id: &str,
    user: &str,
) {
    let peer = match state.sessions.instance(&runtime.arn, session_id).await {
        Ok(Some(url)) if url != cluster.self_url => url,
        _ => return,
    };
    let mut headers = HeaderMap::new();
    for (name, value) in [(SESSION_HEADER, session_id), (USER_ID_HEADER, user)] {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    let Ok(req) = cluster.request(&peer, STOP_PATH, &runtime.arn, headers, Body::empty()) else {
        return;
    };
    match tokio::time::timeout(Duration::from_secs(5), state.client.request(req)).await {
        Ok(Ok(r)) if r.status().is_success() => {}
        other => {
            let what = match other {
                Ok(Ok(r)) => format!("HTTP {}", r.status()),
                Ok(Err(e)) => e.to_string(),
                Err(_) => "timed out".into(),
            };
            tracing::warn!(instance = %peer, error = %what, "could not stop the session on its instance");
        }
    }
}

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
        send_to_agent(
            &state,
            &f.runtime,
            &upstream,
            lease,
            headers,
            Body::new(limited),
            &f.session,
            &f.request_id,
        )
        .await
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
        let agent = super::ws::connect_agent(&upstream, headers, &f.runtime).await?;
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
    mut agent: super::ws::AgentSocket,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    _lease: Option<crate::agent::supervisor::Lease>,
) {
    use futures_util::{SinkExt as _, StreamExt as _};
    loop {
        tokio::select! {
            msg = peer.recv() => match msg {
                Some(Ok(m)) => {
                    let closing = matches!(m, axum::extract::ws::Message::Close(_));
                    if agent.send(super::ws::to_agent(m)).await.is_err() || closing {
                        break;
                    }
                }
                _ => break,
            },
            msg = agent.next() => match msg {
                Some(Ok(m)) => {
                    let closing = m.is_close();
                    if let Some(out) = super::ws::to_client(m) {
                        if peer.send(out).await.is_err() {
                            break;
                        }
                    }
                    if closing {
                        break;
                    }
                }
                _ => {
                    let _ = peer.send(super::ws::close(1011, "the agent went away")).await;
                    break;
                }
            },
            () = super::ws::stopping(&mut shutdown) => {
                let _ = peer.send(super::ws::close(1001, "gatehouse is shutting down")).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_unprintable_secrets_are_refused() {
        assert!(Cluster::new("http://a".into(), b"short").is_err());
        assert!(Cluster::new("http://a".into(), &[0u8; 40]).is_err());
        assert!(Cluster::new(
            "http://a/".into(),
            format!("{}\n", "k".repeat(32)).as_bytes()
        )
        .is_ok());
    }

    #[test]
    fn only_exactly_the_shared_secret_is_authentic() {
        let secret = "s".repeat(40);
        let c = Cluster::new("http://a".into(), secret.as_bytes()).unwrap();
        let with = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(SECRET_HEADER, HeaderValue::from_str(v).unwrap());
            }
            c.authentic(&h)
        };
        assert!(with(&[&secret]));
        assert!(!with(&[]));
        assert!(!with(&[&"s".repeat(39)]));
        assert!(!with(&[&format!("{secret}s")]));
        assert!(!with(&[&secret, &secret]), "two secret headers are refused");
    }
}
