//! Phase 5 of the pipeline across instances: this instance's place in the cluster (`Cluster`: its internal URL
//! and the secret every instance shares, compared in constant time), where a `command` runtime's session is served
//! (`owner_elsewhere`: the live instance that runs its process, or here), and the requests sent to that instance's
//! internal listener — a forwarded invocation streamed back, a stop. Must never send a request to another instance
//! without the secret, or forward a request the internal listener received.
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use super::answer::{is_length_limit, stream_back};
use super::headers::{SESSION_HEADER, USER_ID_HEADER};
use crate::gateway::{GatewayError, GatewayState, Runtime};

/// The header carrying the shared secret between instances.
pub const SECRET_HEADER: &str = "x-gatehouse-cluster-secret";
/// The header naming the runtime (by ARN) of a forwarded request.
pub const RUNTIME_HEADER: &str = "x-gatehouse-runtime-arn";
/// The agent-side method of a forwarded MCP request other than POST (`GET`, `DELETE`).
pub const METHOD_HEADER: &str = "x-gatehouse-agent-method";
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
    "mcp-session-id",
    "mcp-protocol-version",
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
    pub(in crate::gateway) fn peer_headers(
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
pub(in crate::gateway) async fn owner_elsewhere(
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
pub(in crate::gateway) async fn forward(
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
        Ok(Err(e)) if is_length_limit(&e) => {
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
    Ok(stream_back(
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
pub(in crate::gateway) async fn stop_remote(
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
