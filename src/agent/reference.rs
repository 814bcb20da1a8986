//! The reference agent. Follows the AgentCore container contract (`GET /ping`, `POST /invocations`, `GET /ws`)
//! and tells the caller what it received — session id, user id, headers, turn — so the perimeter can be checked
//! from outside. Never validates tokens (the gateway did) and never stores anything.
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// Longest `delay_ms` honoured.
const MAX_DELAY_MS: u64 = 60_000;
pub(crate) const SESSION_HEADER: &str = "x-amzn-bedrock-agentcore-runtime-session-id";
pub(crate) const USER_ID_HEADER: &str = "x-amzn-bedrock-agentcore-runtime-user-id";

/// The agent's state: a turn counter per session.
pub struct AgentState {
    turns: Mutex<HashMap<String, u64>>,
    /// (busy until, unix time of the last status change)
    status: Mutex<(Option<std::time::Instant>, i64)>,
}

impl AgentState {
    /// A fresh agent that reports `started_at` (Unix seconds) as its last status change.
    pub fn new(started_at: i64) -> Self {
        Self {
            turns: Mutex::new(HashMap::new()),
            status: Mutex::new((None, started_at)),
        }
    }

    fn next_turn(&self, session: &str) -> u64 {
        let Ok(mut turns) = self.turns.lock() else {
            return 0;
        };
        let t = turns.entry(session.to_string()).or_insert(0);
        *t += 1;
        *t
    }
}

/// The agent's routes.
pub fn router(state: Arc<AgentState>) -> Router {
    Router::new()
        .route("/ping", get(ping))
        .route("/invocations", post(invocations))
        .route("/ws", get(ws))
        .with_state(state)
}

/// `GET /ping` alone, for an agent serving another protocol (AgentCore probes every kind of agent's health).
pub fn ping_router(state: Arc<AgentState>) -> Router {
    Router::new().route("/ping", get(ping)).with_state(state)
}

async fn ping(State(state): State<Arc<AgentState>>) -> Json<Value> {
    // `time_of_last_update` changes only when the status changes, so idle timeouts work.
    let Ok(mut st) = state.status.lock() else {
        return Json(json!({ "status": "Healthy" }));
    };
    let busy = st.0.is_some_and(|until| std::time::Instant::now() < until);
    if !busy && st.0.is_some() {
        *st = (
            None,
            crate::clock::Clock::now_unix(&crate::clock::SystemClock),
        );
    }
    let status = if busy { "HealthyBusy" } else { "Healthy" };
    Json(json!({ "status": status, "time_of_last_update": st.1 }))
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The headers received, lower-case names, repeated ones joined with `, `.
pub(crate) fn headers_json(headers: &HeaderMap) -> Value {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        map.entry(name.as_str().to_string())
            .and_modify(|e| {
                e.push_str(", ");
                e.push_str(&v);
            })
            .or_insert(v);
    }
    json!(map)
}

/// What a caller asked for.
#[derive(Debug, Default)]
struct Ask {
    prompt: String,
    stream: bool,
    delay_ms: u64,
    /// Report `HealthyBusy` on `/ping` for this long (a background task, as AgentCore's SDK would).
    busy_ms: u64,
}

fn parse_ask(body: &[u8]) -> Ask {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ask {
            prompt: o
                .get("prompt")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            stream: o.get("stream").and_then(Value::as_bool).unwrap_or(true),
            delay_ms: o
                .get("delay_ms")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .min(MAX_DELAY_MS),
            busy_ms: o
                .get("busy_ms")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .min(3_600_000),
        },
        Ok(Value::String(s)) => Ask {
            prompt: s,
            stream: true,
            ..Ask::default()
        },
        _ => Ask {
            prompt: String::from_utf8_lossy(body).into_owned(),
            stream: true,
            ..Ask::default()
        },
    }
}

pub(crate) fn reply_text(prompt: &str) -> String {
    if prompt.trim().is_empty() {
        "Hello from the gatehouse reference agent.".to_string()
    } else {
        format!("You said: {}", prompt.trim())
    }
}

fn identity(state: &AgentState, headers: &HeaderMap) -> (String, Value, u64) {
    let session = header_str(headers, SESSION_HEADER)
        .unwrap_or_default()
        .to_string();
    let user = header_str(headers, USER_ID_HEADER).map_or(Value::Null, |u| json!(u));
    let turn = state.next_turn(&session);
    (session, user, turn)
}

async fn invocations(
    State(state): State<Arc<AgentState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ask = parse_ask(&body);
    if ask.busy_ms > 0 {
        if let Ok(mut st) = state.status.lock() {
            *st = (
                Some(std::time::Instant::now() + Duration::from_millis(ask.busy_ms)),
                crate::clock::Clock::now_unix(&crate::clock::SystemClock),
            );
        }
    }
    let (session, user, turn) = identity(&state, &headers);
    let text = reply_text(&ask.prompt);
    let whoami = json!({
        "type": "whoami", "session_id": session, "user_id": user, "turn": turn,
        "pid": std::process::id(), "headers": headers_json(&headers),
    });
    if !ask.stream {
        let mut obj = whoami;
        if let Some(o) = obj.as_object_mut() {
            o.remove("type");
            o.insert("text".into(), json!(text));
        }
        return Json(obj).into_response();
    }
    let mut events = vec![whoami];
    events.extend(
        text.split_whitespace()
            .map(|w| json!({ "type": "text", "text": w })),
    );
    events.push(json!({ "type": "done", "turn": turn }));
    let last = events.len() - 1;
    let delay = Duration::from_millis(ask.delay_ms);
    let stream = futures_util::stream::unfold((0usize, events), move |(i, events)| async move {
        let event = events.get(i)?;
        if i > 0 && i < last && !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let chunk = Bytes::from(format!("data: {event}\n\n"));
        Some((Ok::<_, Infallible>(chunk), (i + 1, events)))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn ws(
    State(state): State<Arc<AgentState>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade.on_upgrade(move |socket| talk(socket, state, headers))
}

async fn talk(mut socket: WebSocket, state: Arc<AgentState>, headers: HeaderMap) {
    while let Some(Ok(msg)) = socket.recv().await {
        let reply = match msg {
            Message::Text(t) => {
                // `{"close": {"code": 4001, "reason": "…"}}` makes the agent close first (to test close relaying).
                if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(t.as_str()) {
                    if let Some(c) = o.get("close") {
                        let code = c
                            .get("code")
                            .and_then(Value::as_u64)
                            .and_then(|c| u16::try_from(c).ok())
                            .unwrap_or(1000);
                        let reason = c
                            .get("reason")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string();
                        let frame = axum::extract::ws::CloseFrame {
                            code,
                            reason: reason.into(),
                        };
                        let _ = socket.send(Message::Close(Some(frame))).await;
                        continue;
                    }
                }
                let prompt = match serde_json::from_str::<Value>(t.as_str()) {
                    Ok(Value::Object(o)) => o
                        .get("prompt")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    _ => t.as_str().to_string(),
                };
                let (session, user, turn) = identity(&state, &headers);
                let v = json!({
                    "type": "reply", "session_id": session, "user_id": user, "turn": turn,
                    "pid": std::process::id(), "headers": headers_json(&headers), "text": reply_text(&prompt),
                });
                Message::Text(v.to_string().into())
            }
            Message::Binary(b) => Message::Binary(b),
            // tungstenite answers a close with the same code and reason (RFC 6455 §5.5.1) and flushes it on the
            // next read, which then ends the loop.
            Message::Close(_) => continue,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if socket.send(reply).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_body_is_a_prompt() {
        let a = parse_ask(br#"{"prompt":"hi there","stream":false,"delay_ms":999999}"#);
        assert_eq!(a.prompt, "hi there");
        assert!(!a.stream);
        assert_eq!(a.delay_ms, MAX_DELAY_MS);
        let b = parse_ask(b"plain words");
        assert_eq!(b.prompt, "plain words");
        assert!(b.stream);
        assert_eq!(parse_ask(b"").prompt, "");
    }

    #[test]
    fn turns_count_per_session() {
        let s = AgentState::new(0);
        assert_eq!(s.next_turn("a"), 1);
        assert_eq!(s.next_turn("a"), 2);
        assert_eq!(s.next_turn("b"), 1);
    }
}
