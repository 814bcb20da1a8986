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
use tokio::time::Instant as TokioInstant;
use tokio_tungstenite::tungstenite::Message as AgentMessage;

use super::credential::{self, WS_PROTOCOL};
use super::limits::SlotGuard;
use super::pipeline::agent_ws::{
    close, connect_agent, connect_ws, stopping, to_agent, to_client, AgentSocket, WS_READ_BUFFER,
};
use super::pipeline::headers::{ws_agent_headers, SESSION_HEADER};
use super::pipeline::{self, peer};
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
    let from_header = pipeline::client_session_id(headers)?;
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
    let claims = pipeline::authorize(state, runtime, &cred.token, sub_out).await?;
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

    pipeline::admit(state, runtime, &claims, &session_id).await?;
    let user_key = pipeline::user_key(&claims);
    let slot = state
        .sockets
        .acquire(
            &format!("{}\n{user_key}", runtime.arn),
            runtime.limits.ws_max_sockets_per_user,
        )
        .ok_or(GatewayError::TooManySockets)?;

    let headers = ws_agent_headers(
        &parts.headers,
        &pairs,
        &session_id,
        &claims.sub,
        request_id,
        &runtime.header_allowlist,
    );
    let peer = match (&fixed, &state.cluster) {
        (None, Some(cluster)) => {
            peer::owner_elsewhere(state, cluster, runtime, &session_id).await?
        }
        _ => None,
    };
    let (agent, lease) = match (peer, &state.cluster) {
        // The session's process runs on another instance: relay through its internal listener.
        (Some(peer), Some(cluster)) => {
            let url = format!("{peer}{}", peer::WS_PATH);
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

/// The client's messages in the current one-second window, for `ws_frames_per_second`.
struct FrameWindow {
    start: TokioInstant,
    count: u32,
}

impl FrameWindow {
    /// Counts one message; `false` once the window holds more than `max`.
    fn admit(&mut self, max: u32) -> bool {
        let now = TokioInstant::now();
        if now.duration_since(self.start) >= Duration::from_secs(1) {
            self.start = now;
            self.count = 0;
        }
        self.count += 1;
        self.count <= max
    }
}

/// What a relayed event leaves the loop with: go on, or stop for this reason (the log line's).
type Step = Result<(), &'static str>;

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
        let mut window = FrameWindow {
            start: TokioInstant::now(),
            count: 0,
        };
        self.state.metrics.stream_opened();
        let reason = loop {
            let step = tokio::select! {
                msg = client.recv() => {
                    idle.as_mut().reset(TokioInstant::now() + limits.ws_idle_timeout);
                    self.on_client(msg, &mut client, &mut agent, &mut window, &mut expiry).await
                }
                msg = agent.next() => {
                    idle.as_mut().reset(TokioInstant::now() + limits.ws_idle_timeout);
                    self.on_agent(msg, &mut client, &mut agent).await
                }
                () = &mut expiry => {
                    let _ = client.send(close(CLOSE_UNAUTHORIZED, "token expired: reconnect or send gatehouse.reauth with a fresh token")).await;
                    let _ = agent.close(None).await;
                    Err("token expired")
                }
                _ = revocation_check.tick() => {
                    if self.runtime.builtin_issuer && self.state.revocations.is_revoked(&self.claims) {
                        let _ = client.send(close(CLOSE_UNAUTHORIZED, "token revoked: sign in again")).await;
                        let _ = agent.close(None).await;
                        Err("token revoked")
                    } else {
                        Ok(())
                    }
                }
                () = &mut lifetime => {
                    let _ = client.send(close(1008, "maximum connection duration reached")).await;
                    let _ = agent.close(None).await;
                    Err("max lifetime")
                }
                () = &mut idle => {
                    let _ = client.send(close(1008, "idle timeout")).await;
                    let _ = agent.close(None).await;
                    Err("idle timeout")
                }
                () = stopping(&mut shutdown) => {
                    let _ = client.send(close(1001, "gatehouse is shutting down")).await;
                    let _ = agent.close(None).await;
                    Err("shutdown")
                }
            };
            if let Err(reason) = step {
                break reason;
            }
        };
        self.state.metrics.stream_closed();
        tracing::info!(request_id = %self.request_id, runtime = %self.runtime.name, reason, "websocket closed");
    }

    /// One event of the client's side: a message relayed to the agent (or an in-band reauth answered here), an
    /// error, or the end.
    async fn on_client(
        &mut self,
        msg: Option<Result<ws::Message, axum::Error>>,
        client: &mut WebSocket,
        agent: &mut AgentSocket,
        window: &mut FrameWindow,
        expiry: &mut std::pin::Pin<Box<tokio::time::Sleep>>,
    ) -> Step {
        let msg = match msg {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                let too_big = e
                    .into_inner()
                    .downcast::<tokio_tungstenite::tungstenite::Error>()
                    .is_ok_and(|e| {
                        matches!(*e, tokio_tungstenite::tungstenite::Error::Capacity(_))
                    });
                if too_big {
                    let _ = client.send(close(1009, "message too big")).await;
                }
                let _ = agent.close(None).await;
                return Err(if too_big {
                    "message too big"
                } else {
                    "client error"
                });
            }
            None => {
                let _ = agent.close(None).await;
                return Err("client went away");
            }
        };
        if !window.admit(self.runtime.limits.ws_frames_per_second) {
            let _ = client
                .send(close(1008, "message rate limit exceeded"))
                .await;
            let _ = agent.close(None).await;
            return Err("rate limit");
        }
        if let ws::Message::Text(t) = &msg {
            if let Some(token) = reauth_token(t.as_str()) {
                let reply = self.reauth(token).await;
                if let Ok(exp) = &reply {
                    expiry
                        .as_mut()
                        .reset(deadline_for(*exp, self.state.clock.now_unix()));
                }
                let body = match reply {
                    Ok(exp) => serde_json::json!({"type": REAUTH_OK_TYPE, "expires_at": exp}),
                    Err(e) => {
                        serde_json::json!({"type": REAUTH_ERROR_TYPE, "message": e.to_string()})
                    }
                };
                if client
                    .send(ws::Message::Text(body.to_string().into()))
                    .await
                    .is_err()
                {
                    let _ = agent.close(None).await;
                    return Err("client went away");
                }
                return Ok(());
            }
        }
        let closing = matches!(msg, ws::Message::Close(_));
        if agent.send(to_agent(msg)).await.is_err() && !closing {
            let _ = client.send(close(1011, "the agent went away")).await;
            return Err("agent went away");
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
            return Err("client closed");
        }
        Ok(())
    }

    /// One event of the agent's side: a message relayed to the client (pongs are the relay's own), or the end.
    async fn on_agent(
        &self,
        msg: Option<Result<AgentMessage, tokio_tungstenite::tungstenite::Error>>,
        client: &mut WebSocket,
        agent: &mut AgentSocket,
    ) -> Step {
        match msg {
            Some(Ok(AgentMessage::Pong(_))) => Ok(()),
            Some(Ok(m)) => {
                let closing = matches!(m, AgentMessage::Close(_));
                if let Some(out) = to_client(m) {
                    if client.send(out).await.is_err() {
                        let _ = agent.close(None).await;
                        return Err("client went away");
                    }
                }
                if closing {
                    return Err("agent closed");
                }
                Ok(())
            }
            Some(Err(_)) | None => {
                self.state.metrics.agent_failure();
                let _ = client.send(close(1011, "the agent went away")).await;
                Err("agent went away")
            }
        }
    }

    /// Verifies a fresh token for the same user; returns its `exp`.
    async fn reauth(&mut self, token: Option<String>) -> Result<i64, GatewayError> {
        let token = token.ok_or(GatewayError::MissingToken)?;
        let mut sub = None;
        let fresh = pipeline::authorize(&self.state, &self.runtime, &token, &mut sub).await?;
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
