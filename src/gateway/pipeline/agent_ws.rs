//! Phase 5 of the pipeline for WebSockets, the agent's side: dialing the agent's (or the owning instance's)
//! WebSocket — inside the session's network namespace for a sandboxed agent — with small read buffers and the
//! runtime's message limits, and converting frames between the client's and the agent's WebSocket types. Must never
//! send the client's token or subprotocol list to the agent.
use axum::extract::ws;
use axum::http::HeaderMap;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message as AgentMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::gateway::{GatewayError, Runtime};

/// The agent's (or the owning instance's) side of a relayed WebSocket.
pub(in crate::gateway) type AgentSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Read buffer of each side of a relayed WebSocket. tungstenite's default (128 KiB, allocated up front) made an idle
/// relayed socket cost ~215 KiB; messages larger than this are still read, in several reads. Writes are not
/// buffered (each relayed message is sent at once).
pub(in crate::gateway) const WS_READ_BUFFER: usize = 4096;

/// Opens the WebSocket of the agent at `upstream` (its `/ws`).
pub(in crate::gateway) async fn connect_agent(
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
pub(in crate::gateway) async fn connect_ws(
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

/// A client's frame as the agent's WebSocket type.
pub(in crate::gateway) fn to_agent(m: ws::Message) -> AgentMessage {
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

/// An agent's frame as the client's WebSocket type (`None`: a raw frame, never relayed).
pub(in crate::gateway) fn to_client(m: AgentMessage) -> Option<ws::Message> {
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

/// A close frame with `code` and `reason`.
pub(in crate::gateway) fn close(code: u16, reason: &str) -> ws::Message {
    ws::Message::Close(Some(ws::CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Resolves when gatehouse starts shutting down.
pub(in crate::gateway) async fn stopping(rx: &mut tokio::sync::watch::Receiver<bool>) {
    if rx.wait_for(|s| *s).await.is_err() {
        // The sender is gone: gatehouse is going away.
    }
}
