//! `GET /runtimes/{runtime}/ws`: the WebSocket data plane. Every refusal happens before the upgrade (no token,
//! bad token, wrong client, hijacked session, disallowed origin, too many sockets, unreachable agent). The
//! 101 echoes only `base64UrlBearerAuthorization`, never the token entry. Frames relay both ways; the socket
//! follows the token: it is closed with 4401 at expiry or revocation unless the client re-authenticates in band
//! with `{"type":"gatehouse.reauth","token":"…"}` (consumed here, never forwarded). The agent never receives the
//! token, the subprotocol list or a client-sent identity header.
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant as TokioInstant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message as AgentMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::credential::{self, WS_PROTOCOL};
use super::forward::{
    admit, agent_headers, authenticate_token, client_session_id, user_key, CUSTOM_HEADER_PREFIX,
    SESSION_HEADER,
};
use super::limits::SlotGuard;
use super::session::{mint_session_id, validate_session_id};
use super::{GatewayError, GatewayState, Runtime};
use crate::token::VerifiedClaims;

/// Close code for "your token is no longer valid: re-authenticate" (HTTP 401 in the 4000 range).
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// The in-band re-authentication message type.
pub const REAUTH_TYPE: &str = "gatehouse.reauth";
/// The answer to an accepted in-band re-authentication.
pub const REAUTH_OK_TYPE: &str = "gatehouse.reauth.ok";
/// The answer to a refused in-band re-authentication.
pub const REAUTH_ERROR_TYPE: &str = "gatehouse.reauth.error";

pub(super) type AgentSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Query parameters a browser uses instead of headers (names compared case-insensitively).
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// The session id from the header or the query; both present and different is an error.
fn ws_session_id(headers: &HeaderMap, pairs: &[(String, String)]) -> Result<String, GatewayError> {
    let from_header = client_session_id(headers)?;
    let from_query: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(SESSION_HEADER))
        .map(|(_, v)| v.as_str())
        .collect();
    let from_query = match from_query.as_slice() {
        [] => None,
        [one] => {
            validate_session_id(one)?;
            Some((*one).to_string())
        }
        _ => return Err(GatewayError::InvalidSessionId),
    };
    match (from_header, from_query) {
        (Some(h), Some(q)) if h != q => Err(GatewayError::InvalidSessionId),
        (Some(h), _) => Ok(h),
        (None, Some(q)) => Ok(q),
        (None, None) => Ok(mint_session_id()),
    }
}

/// Everything the relay needs after the upgrade.
struct Relay {
    state: Arc<GatewayState>,
    runtime: Arc<Runtime>,
    claims: Arc<VerifiedClaims>,
    request_id: String,
    _slot: SlotGuard,
    _lease: Option<crate::agent::supervisor::Lease>,
}

/// Authenticates, binds the session, connects to the agent, then upgrades.
pub(super) async fn upgrade(
    state: &Arc<GatewayState>,
    runtime: &Arc<Runtime>,
    qualifier: Option<&str>,
    req: Request,
    request_id: &str,
    sub_out: &mut Option<String>,
    session_out: &mut Option<String>,
) -> Result<Response, GatewayError> {
    let fixed = runtime.static_upstream(qualifier)?;
    let (mut parts, _body) = req.into_parts();
    credential::refuse_query_token(parts.uri.query())?;
    let cred = credential::parse_ws_credential(&parts.headers)?;
    let claims = authenticate_token(state, runtime, &cred.token, sub_out).await?;
    let pairs = query_pairs(parts.uri.query());
    let session_id = ws_session_id(&parts.headers, &pairs)?;
    *session_out = Some(session_id.clone());
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .map_err(|_| {
            GatewayError::Validation(
                "This endpoint needs a WebSocket upgrade request (GET with Upgrade: websocket).",
            )
        })?;

    admit(state, runtime, &claims, &session_id).await?;
    let user_key = user_key(&claims);
    let slot = state
        .sockets
        .acquire(
            &format!("{}\n{user_key}", runtime.arn),
            runtime.limits.ws_max_sockets_per_user,
        )
        .ok_or(GatewayError::TooManySockets)?;

    // The agent sees headers only: query parameters become headers, the token and subprotocols never pass.
    let allowlist: Vec<String> = runtime
        .header_allowlist
        .iter()
        .filter(|h| *h != "authorization")
        .cloned()
        .collect();
    let mut headers = agent_headers(
        &parts.headers,
        &session_id,
        &claims.sub,
        request_id,
        &allowlist,
    );
    for (k, v) in &pairs {
        let lower = k.to_ascii_lowercase();
        if lower.starts_with(CUSTOM_HEADER_PREFIX) && lower.len() > CUSTOM_HEADER_PREFIX.len() {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(lower.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                headers.insert(name, value);
            }
        }
    }
    headers.remove("content-type");
    let peer = match (&fixed, &state.cluster) {
        (None, Some(cluster)) => {
            super::cluster::owner_elsewhere(state, cluster, runtime, &session_id).await?
        }
        _ => None,
    };
    let (agent, lease) = match (peer, &state.cluster) {
        // The session's process runs on another instance: relay through its internal listener.
        (Some(peer), Some(cluster)) => {
            let url = format!("{peer}{}", super::cluster::WS_PATH);
            let headers = cluster.peer_headers(headers, &runtime.arn)?;
            (connect_ws(&url, headers, runtime).await?, None)
        }
        _ => {
            let (upstream, lease) = runtime
                .resolve_upstream(state, fixed, &session_id, &claims.sub)
                .await?;
            (connect_agent(&upstream, headers, runtime).await?, lease)
        }
    };

    let mut upgrade = upgrade
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(runtime.limits.ws_max_message_bytes)
        .max_frame_size(runtime.limits.ws_max_message_bytes);
    if cred.via_subprotocol {
        // RFC 6455 §4.2.2: echo one offered subprotocol — the sentinel, never the token-bearing entry.
        upgrade = upgrade.protocols([WS_PROTOCOL]);
    }
    let relay = Relay {
        state: state.clone(),
        runtime: runtime.clone(),
        claims,
        request_id: request_id.to_string(),
        _slot: slot,
        _lease: lease,
    };
    let mut resp = upgrade.on_upgrade(move |socket| relay.run(socket, agent));
    if let Ok(v) = HeaderValue::from_str(&session_id) {
        resp.headers_mut()
            .insert(HeaderName::from_static(SESSION_HEADER), v);
    }
    Ok(resp)
}

/// Read buffer of each side of a relayed WebSocket. tungstenite's default (128 KiB, allocated up front) made an idle
/// relayed socket cost ~215 KiB; messages larger than this are still read, in several reads. Writes are not
/// buffered (each relayed message is sent at once).
const WS_READ_BUFFER: usize = 4096;

pub(super) async fn connect_agent(
    upstream: &str,
    headers: HeaderMap,
    runtime: &Runtime,
) -> Result<AgentSocket, GatewayError> {
    connect_ws(
        &format!("{}/ws", upstream.trim_end_matches('/')),
        headers,
        runtime,
    )
    .await
}

/// Opens a WebSocket to `url` (`http://…`, turned into `ws://…`) with `headers`.
async fn connect_ws(
    url: &str,
    headers: HeaderMap,
    runtime: &Runtime,
) -> Result<AgentSocket, GatewayError> {
    let url = url.replacen("http", "ws", 1);
    let mut req = url
        .as_str()
        .into_client_request()
        .map_err(|e| GatewayError::Internal(format!("agent WebSocket URL {url}: {e}")))?;
    for (k, v) in &headers {
        req.headers_mut().append(k.clone(), v.clone());
    }
    let mut config = WebSocketConfig::default();
    config.read_buffer_size = WS_READ_BUFFER;
    config.write_buffer_size = 0;
    config.max_message_size = Some(runtime.limits.ws_max_message_bytes);
    config.max_frame_size = Some(runtime.limits.ws_max_message_bytes);
    let connect = async {
        let authority = req.uri().authority().map(|a| a.as_str().to_string());
        match authority
            .as_deref()
            .and_then(crate::agent::netns::split_authority)
        {
            // A sandboxed session's agent: dialed inside its own network namespace.
            Some((host, _)) if crate::agent::netns::is_sandbox_host(host) => {
                let stream = crate::agent::pool::dial(authority.as_deref().unwrap_or_default())
                    .await
                    .map_err(|e| {
                        tokio_tungstenite::tungstenite::Error::Io(std::io::Error::other(
                            e.to_string(),
                        ))
                    })?;
                let _ = stream.set_nodelay(true);
                tokio_tungstenite::client_async_with_config(
                    req,
                    MaybeTlsStream::Plain(stream),
                    Some(config),
                )
                .await
            }
            _ => tokio_tungstenite::connect_async_with_config(req, Some(config), true).await,
        }
    };
    match tokio::time::timeout(runtime.limits.response_timeout, connect).await {
        Err(_) => Err(GatewayError::AgentTimeout),
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(resp))) => {
            Err(GatewayError::AgentError {
                status: resp.status().as_u16(),
                message: "the agent refused the WebSocket".into(),
            })
        }
        Ok(Err(e)) => Err(GatewayError::AgentUnreachable(format!("{url}: {e}"))),
    }
}

pub(super) fn to_agent(m: ws::Message) -> AgentMessage {
    match m {
        ws::Message::Text(t) => AgentMessage::Text(t.as_str().into()),
        ws::Message::Binary(b) => AgentMessage::Binary(b),
        ws::Message::Ping(b) => AgentMessage::Ping(b),
        ws::Message::Pong(b) => AgentMessage::Pong(b),
        ws::Message::Close(f) => AgentMessage::Close(f.map(|f| CloseFrame {
            code: CloseCode::from(f.code),
            reason: f.reason.as_str().into(),
        })),
    }
}

pub(super) fn to_client(m: AgentMessage) -> Option<ws::Message> {
    Some(match m {
        AgentMessage::Text(t) => ws::Message::Text(t.as_str().into()),
        AgentMessage::Binary(b) => ws::Message::Binary(b),
        AgentMessage::Ping(b) => ws::Message::Ping(b),
        AgentMessage::Pong(b) => ws::Message::Pong(b),
        AgentMessage::Close(f) => ws::Message::Close(f.map(|f| ws::CloseFrame {
            code: u16::from(f.code),
            reason: f.reason.as_str().into(),
        })),
        AgentMessage::Frame(_) => return None,
    })
}

pub(super) fn close(code: u16, reason: &str) -> ws::Message {
    ws::Message::Close(Some(ws::CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Resolves when gatehouse starts shutting down.
pub(super) async fn stopping(rx: &mut tokio::sync::watch::Receiver<bool>) {
    if rx.wait_for(|s| *s).await.is_err() {
        // The sender is gone: gatehouse is going away.
    }
}

/// The expiry instant of a token, on tokio's clock.
fn deadline_for(exp: i64, now_unix: i64) -> TokioInstant {
    let secs = u64::try_from(exp.saturating_sub(now_unix)).unwrap_or(0);
    TokioInstant::now() + Duration::from_secs(secs)
}

/// A re-authentication request, if this text is one.
fn reauth_token(text: &str) -> Option<Option<String>> {
    if !text.trim_start().starts_with('{') || !text.contains(REAUTH_TYPE) {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    if v.get("type").and_then(|t| t.as_str()) != Some(REAUTH_TYPE) {
        return None;
    }
    Some(v.get("token").and_then(|t| t.as_str()).map(str::to_string))
}

impl Relay {
    async fn run(mut self, mut client: WebSocket, mut agent: AgentSocket) {
        let limits = self.runtime.limits.clone();
        let mut shutdown = self.state.shutdown.clone();
        let mut expiry = Box::pin(tokio::time::sleep_until(deadline_for(
            self.claims.exp,
            self.state.clock.now_unix(),
        )));
        let lifetime = tokio::time::sleep(limits.ws_max_lifetime);
        tokio::pin!(lifetime);
        let idle = tokio::time::sleep(limits.ws_idle_timeout);
        tokio::pin!(idle);
        let mut revocation_check = tokio::time::interval(Duration::from_millis(250));
        let mut window_start = TokioInstant::now();
        let mut in_window = 0u32;
        self.state.metrics.stream_opened();
        let reason = loop {
            tokio::select! {
                msg = client.recv() => {
                    idle.as_mut().reset(TokioInstant::now() + limits.ws_idle_timeout);
                    let msg = match msg {
                        Some(Ok(m)) => m,
                        Some(Err(e)) => {
                            let too_big = e
                                .into_inner()
                                .downcast::<tokio_tungstenite::tungstenite::Error>()
                                .is_ok_and(|e| matches!(*e, tokio_tungstenite::tungstenite::Error::Capacity(_)));
                            if too_big {
                                let _ = client.send(close(1009, "message too big")).await;
                            }
                            let _ = agent.close(None).await;
                            break if too_big { "message too big" } else { "client error" };
                        }
                        None => {
                            let _ = agent.close(None).await;
                            break "client went away";
                        }
                    };
                    let now = TokioInstant::now();
                    if now.duration_since(window_start) >= Duration::from_secs(1) {
                        window_start = now;
                        in_window = 0;
                    }
                    in_window += 1;
                    if in_window > limits.ws_frames_per_second {
                        let _ = client.send(close(1008, "message rate limit exceeded")).await;
                        let _ = agent.close(None).await;
                        break "rate limit";
                    }
                    if let ws::Message::Text(t) = &msg {
                        if let Some(token) = reauth_token(t.as_str()) {
                            let reply = self.reauth(token).await;
                            if let Ok(exp) = &reply {
                                expiry.as_mut().reset(deadline_for(*exp, self.state.clock.now_unix()));
                            }
                            let body = match reply {
                                Ok(exp) => serde_json::json!({"type": REAUTH_OK_TYPE, "expires_at": exp}),
                                Err(e) => serde_json::json!({"type": REAUTH_ERROR_TYPE, "message": e.to_string()}),
                            };
                            if client.send(ws::Message::Text(body.to_string().into())).await.is_err() {
                                let _ = agent.close(None).await;
                                break "client went away";
                            }
                            continue;
                        }
                    }
                    let closing = matches!(msg, ws::Message::Close(_));
                    if agent.send(to_agent(msg)).await.is_err() && !closing {
                        let _ = client.send(close(1011, "the agent went away")).await;
                        break "agent went away";
                    }
                    if closing {
                        // Finish both closing handshakes: our automatic reply to the client, then the agent's answer.
                        let _ = client.flush().await;
                        let _ = tokio::time::timeout(Duration::from_secs(2), async {
                            while let Some(Ok(m)) = agent.next().await {
                                if m.is_close() {
                                    break;
                                }
                            }
                        })
                        .await;
                        break "client closed";
                    }
                }
                msg = agent.next() => {
                    idle.as_mut().reset(TokioInstant::now() + limits.ws_idle_timeout);
                    match msg {
                        Some(Ok(AgentMessage::Pong(_))) => {}
                        Some(Ok(m)) => {
                            let closing = matches!(m, AgentMessage::Close(_));
                            if let Some(out) = to_client(m) {
                                if client.send(out).await.is_err() {
                                    let _ = agent.close(None).await;
                                    break "client went away";
                                }
                            }
                            if closing {
                                break "agent closed";
                            }
                        }
                        Some(Err(_)) | None => {
                            self.state.metrics.agent_failure();
                            let _ = client.send(close(1011, "the agent went away")).await;
                            break "agent went away";
                        }
                    }
                }
                () = &mut expiry => {
                    let _ = client.send(close(CLOSE_UNAUTHORIZED, "token expired: reconnect or send gatehouse.reauth with a fresh token")).await;
                    let _ = agent.close(None).await;
                    break "token expired";
                }
                _ = revocation_check.tick() => {
                    if self.runtime.builtin_issuer && self.state.revocations.is_revoked(&self.claims) {
                        let _ = client.send(close(CLOSE_UNAUTHORIZED, "token revoked: sign in again")).await;
                        let _ = agent.close(None).await;
                        break "token revoked";
                    }
                }
                () = &mut lifetime => {
                    let _ = client.send(close(1008, "maximum connection duration reached")).await;
                    let _ = agent.close(None).await;
                    break "max lifetime";
                }
                () = &mut idle => {
                    let _ = client.send(close(1008, "idle timeout")).await;
                    let _ = agent.close(None).await;
                    break "idle timeout";
                }
                () = stopping(&mut shutdown) => {
                    let _ = client.send(close(1001, "gatehouse is shutting down")).await;
                    let _ = agent.close(None).await;
                    break "shutdown";
                }
            }
        };
        self.state.metrics.stream_closed();
        tracing::info!(request_id = %self.request_id, runtime = %self.runtime.name, reason, "websocket closed");
    }

    /// Verifies a fresh token for the same user; returns its `exp`.
    async fn reauth(&mut self, token: Option<String>) -> Result<i64, GatewayError> {
        let token = token.ok_or(GatewayError::MissingToken)?;
        let mut sub = None;
        let fresh = authenticate_token(&self.state, &self.runtime, &token, &mut sub).await?;
        if fresh.iss != self.claims.iss || fresh.sub != self.claims.sub {
            return Err(GatewayError::SessionOwnedByAnother);
        }
        let exp = fresh.exp;
        self.claims = fresh;
        Ok(exp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reauth_messages_are_recognised_exactly() {
        assert_eq!(
            reauth_token(r#"{"type":"gatehouse.reauth","token":"a.b.c"}"#),
            Some(Some("a.b.c".into()))
        );
        assert_eq!(reauth_token(r#"{"type":"gatehouse.reauth"}"#), Some(None));
        assert_eq!(
            reauth_token(r#"{"type":"chat","text":"gatehouse.reauth"}"#),
            None
        );
        assert_eq!(reauth_token("gatehouse.reauth"), None);
    }

    #[test]
    fn session_id_from_query_or_header_must_agree() {
        let id = "q".repeat(40);
        let pairs = vec![(SESSION_HEADER.to_uppercase(), id.clone())];
        assert_eq!(ws_session_id(&HeaderMap::new(), &pairs).unwrap(), id);
        let mut h = HeaderMap::new();
        h.insert(
            SESSION_HEADER,
            HeaderValue::from_str(&"h".repeat(40)).unwrap(),
        );
        assert!(matches!(
            ws_session_id(&h, &pairs),
            Err(GatewayError::InvalidSessionId)
        ));
        assert!(ws_session_id(&HeaderMap::new(), &[]).unwrap().len() >= 33);
        assert!(ws_session_id(
            &HeaderMap::new(),
            &[(SESSION_HEADER.into(), "short".into())]
        )
        .is_err());
    }
}
