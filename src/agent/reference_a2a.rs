//! The reference A2A agent (`gatehouse agent --protocol a2a`), A2A protocol 0.3 over JSON-RPC at `POST /`: its
//! card at `/.well-known/agent-card.json`, `message/send` (a completed task whose artifact tells what reached it:
//! the user id header and the message's text), `message/stream` (the same as SSE task events), `tasks/get` and
//! `tasks/cancel` over the tasks it remembers (in memory, bounded, per process). Never validates tokens (the
//! gateway did) and never persists anything.
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::jsonrpc::{self, Incoming, RpcError, METHOD_NOT_FOUND};
use super::reference::{header_str, reply_text, SESSION_HEADER, USER_ID_HEADER};
use crate::clock::{rfc3339, Clock, SystemClock};

/// The A2A protocol version served.
pub const PROTOCOL_VERSION: &str = "0.3.0";
/// The card's path.
pub const CARD_PATH: &str = "/.well-known/agent-card.json";
/// Most tasks remembered; the oldest is forgotten first.
pub const MAX_TASKS: usize = 1024;
/// A2A's error codes.
pub const TASK_NOT_FOUND: i64 = -32001;
pub const TASK_NOT_CANCELABLE: i64 = -32002;
pub const PUSH_NOT_SUPPORTED: i64 = -32003;
pub const UNSUPPORTED_OPERATION: i64 = -32004;
pub const CONTENT_TYPE_NOT_SUPPORTED: i64 = -32005;
pub const EXTENDED_CARD_NOT_CONFIGURED: i64 = -32007;

/// The agent's state: where it listens (for its card) and the tasks it remembers.
pub struct A2aState {
    url: String,
    tasks: Mutex<Tasks>,
}

#[derive(Default)]
struct Tasks {
    order: VecDeque<String>,
    by_id: HashMap<String, Value>,
}

impl A2aState {
    /// An agent whose card says it is at `base_url` (e.g. `http://127.0.0.1:9000`) + `/`.
    pub fn new(base_url: &str) -> Self {
        Self {
            url: format!("{}/", base_url.trim_end_matches('/')),
            tasks: Mutex::new(Tasks::default()),
        }
    }

    fn remember(&self, task: &Value) {
        let Some(id) = task["id"].as_str() else {
            return;
        };
        let Ok(mut t) = self.tasks.lock() else {
            return;
        };
        if t.by_id.insert(id.to_string(), task.clone()).is_none() {
            t.order.push_back(id.to_string());
        }
        while t.order.len() > MAX_TASKS {
            if let Some(old) = t.order.pop_front() {
                t.by_id.remove(&old);
            }
        }
    }

    fn task(&self, id: &str) -> Option<Value> {
        self.tasks.lock().ok()?.by_id.get(id).cloned()
    }
}

/// The agent's routes.
pub fn router(state: Arc<A2aState>) -> Router {
    Router::new()
        .route("/", post(rpc))
        .route(CARD_PATH, get(card))
        .with_state(state)
}

async fn card(State(state): State<Arc<A2aState>>) -> Json<Value> {
    let skill = |id: &str, name: &str, description: &str| json!({ "id": id, "name": name, "description": description, "tags": ["test"] });
    Json(json!({
        "protocolVersion": PROTOCOL_VERSION,
        "name": "gatehouse reference agent",
        "description": "A test agent: it answers every message with what reached it (the user id and the text).",
        "url": state.url,
        "preferredTransport": "JSONRPC",
        "version": env!("CARGO_PKG_VERSION"),
        "capabilities": { "streaming": true, "pushNotifications": false, "stateTransitionHistory": false },
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [
            skill("whoami", "Who am I", "Tells the user id and session id the agent received."),
            skill("echo", "Echo", "Repeats the message's text."),
        ],
    }))
}

async fn rpc(State(state): State<Arc<A2aState>>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, method, params) = match jsonrpc::parse(&body) {
        Ok(Incoming::Request { id, method, params }) => (id, method, params),
        Ok(Incoming::Notification { .. } | Incoming::Response) => {
            return StatusCode::ACCEPTED.into_response()
        }
        Err(e) => return jsonrpc::json_response(StatusCode::OK, &jsonrpc::error(&Value::Null, &e)),
    };
    let answer = match method.as_str() {
        "message/send" => new_task(&state, &headers, &params),
        "message/stream" => match new_task(&state, &headers, &params) {
            Ok(task) => return stream(&id, &task),
            Err(e) => Err(e),
        },
        "tasks/get" => get_task(&state, &params),
        "tasks/cancel" => known_task(&state, &params).and_then(|_| {
            Err(RpcError::new(
                TASK_NOT_CANCELABLE,
                "Task cannot be canceled: it has completed",
            ))
        }),
        "tasks/resubscribe" => known_task(&state, &params).and_then(|_| {
            Err(RpcError::new(
                UNSUPPORTED_OPERATION,
                "This operation is not supported: the task has completed",
            ))
        }),
        m if m.starts_with("tasks/pushNotificationConfig/") => Err(RpcError::new(
            PUSH_NOT_SUPPORTED,
            "Push Notification is not supported",
        )),
        "agent/getAuthenticatedExtendedCard" => Err(RpcError::new(
            EXTENDED_CARD_NOT_CONFIGURED,
            "Authenticated Extended Card is not configured",
        )),
        other => Err(RpcError::new(
            METHOD_NOT_FOUND,
            format!(
                "Method not found: {}",
                other.chars().take(64).collect::<String>()
            ),
        )),
    };
    let body = match answer {
        Ok(v) => jsonrpc::result(&id, v),
        Err(e) => jsonrpc::error(&id, &e),
    };
    jsonrpc::json_response(StatusCode::OK, &body)
}

/// The message a client sent, checked: its text and the ids it continues.
struct UserMessage {
    text: String,
    context_id: Option<String>,
    task_id: Option<String>,
    message: Value,
}

fn user_message(params: &Value) -> Result<UserMessage, RpcError> {
    let m = params
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| RpcError::params("params.message, an object, is required"))?;
    if m.get("role").and_then(Value::as_str) != Some("user") {
        return Err(RpcError::params("message.role must be \"user\""));
    }
    if !m.get("messageId").is_some_and(Value::is_string) {
        return Err(RpcError::params("message.messageId, a string, is required"));
    }
    let parts = m
        .get("parts")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| RpcError::params("message.parts must be a non-empty array"))?;
    let mut texts = Vec::new();
    for p in parts {
        match (p.get("kind").and_then(Value::as_str), p.get("text")) {
            (Some("text"), Some(Value::String(t))) => texts.push(t.as_str()),
            (Some("file" | "data"), _) => {
                return Err(RpcError::new(
                    CONTENT_TYPE_NOT_SUPPORTED,
                    "Incompatible content types: this agent accepts text/plain parts only",
                ))
            }
            _ => return Err(RpcError::params("each part needs kind \"text\" and a text")),
        }
    }
    let id = |k: &str| match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(RpcError::params(format!(
            "message.{k} must be a non-empty string"
        ))),
    };
    Ok(UserMessage {
        text: texts.join("\n"),
        context_id: id("contextId")?,
        task_id: id("taskId")?,
        message: m.clone(),
    })
}

/// Answers the message with a completed task, remembered for `tasks/get`.
fn new_task(state: &A2aState, headers: &HeaderMap, params: &Value) -> Result<Value, RpcError> {
    let msg = user_message(params)?;
    let task_id = msg.task_id.unwrap_or_else(crate::util::uuid_v4);
    let context_id = msg.context_id.unwrap_or_else(crate::util::uuid_v4);
    let user = header_str(headers, USER_ID_HEADER).unwrap_or("(none)");
    let session = header_str(headers, SESSION_HEADER).unwrap_or("(none)");
    let text = format!(
        "{} (user id: {user}; session id: {session})",
        reply_text(&msg.text)
    );
    let mut history = msg.message;
    if let Some(o) = history.as_object_mut() {
        o.insert("taskId".into(), json!(task_id));
        o.insert("contextId".into(), json!(context_id));
    }
    let task = json!({
        "kind": "task",
        "id": task_id,
        "contextId": context_id,
        "status": { "state": "completed", "timestamp": rfc3339(SystemClock.now_unix()) },
        "artifacts": [{
            "artifactId": crate::util::uuid_v4(),
            "name": "reply",
            "parts": [{ "kind": "text", "text": text }],
        }],
        "history": [history],
    });
    state.remember(&task);
    Ok(task)
}

fn known_task(state: &A2aState, params: &Value) -> Result<Value, RpcError> {
    let id = params
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::params("params.id, a string, is required"))?;
    state
        .task(id)
        .ok_or_else(|| RpcError::new(TASK_NOT_FOUND, "Task not found"))
}

fn get_task(state: &A2aState, params: &Value) -> Result<Value, RpcError> {
    let mut task = known_task(state, params)?;
    match params.get("historyLength") {
        None | Some(Value::Null) => {}
        Some(n) => {
            let n = n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| RpcError::params("historyLength must be a whole number"))?;
            if let Some(h) = task.get_mut("history").and_then(Value::as_array_mut) {
                let drop = h.len().saturating_sub(n);
                h.drain(..drop);
            }
        }
    }
    Ok(task)
}

/// `message/stream`: the task as A2A events — working, the artifact, completed (final).
fn stream(id: &Value, task: &Value) -> Response {
    let (task_id, context_id) = (&task["id"], &task["contextId"]);
    let status = |state: &str, is_final: bool| {
        json!({
            "kind": "status-update",
            "taskId": task_id,
            "contextId": context_id,
            "status": { "state": state, "timestamp": task["status"]["timestamp"] },
            "final": is_final,
        })
    };
    let artifact = json!({
        "kind": "artifact-update",
        "taskId": task_id,
        "contextId": context_id,
        "artifact": task["artifacts"][0],
        "append": false,
        "lastChunk": true,
    });
    let events: Vec<Bytes> = [
        status("working", false),
        artifact,
        status("completed", true),
    ]
    .iter()
    .map(|e| jsonrpc::sse_event(&jsonrpc::result(id, e.clone())))
    .collect();
    jsonrpc::sse_response(futures_util::stream::iter(events))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(parts: Value) -> Value {
        json!({ "message": { "role": "user", "messageId": "m1", "parts": parts } })
    }

    #[test]
    fn messages_are_checked() {
        let ok = user_message(&msg(json!([{ "kind": "text", "text": "hi" }]))).unwrap();
        assert_eq!(ok.text, "hi");
        assert!(ok.context_id.is_none() && ok.task_id.is_none());
        let file = user_message(&msg(json!([{ "kind": "file", "file": {} }])));
        assert_eq!(file.err().unwrap().code, CONTENT_TYPE_NOT_SUPPORTED);
        for bad in [
            json!({}),
            msg(json!([])),
            msg(json!([{ "kind": "text" }])),
            json!({ "message": { "role": "agent", "messageId": "m", "parts": [{ "kind": "text", "text": "x" }] } }),
            json!({ "message": { "role": "user", "parts": [{ "kind": "text", "text": "x" }] } }),
            json!({ "message": { "role": "user", "messageId": "m", "contextId": 5,
                    "parts": [{ "kind": "text", "text": "x" }] } }),
        ] {
            let e = user_message(&bad).err().unwrap();
            assert_eq!(e.code, jsonrpc::INVALID_PARAMS, "{bad}");
        }
    }

    #[test]
    fn memory_is_bounded_and_forgets_the_oldest() {
        let s = A2aState::new("http://127.0.0.1:1/");
        assert_eq!(s.url, "http://127.0.0.1:1/");
        for i in 0..=MAX_TASKS {
            s.remember(&json!({ "id": format!("t{i}") }));
        }
        assert!(s.task("t0").is_none());
        assert!(s.task("t1").is_some());
        assert!(s.task(&format!("t{MAX_TASKS}")).is_some());
        assert_eq!(s.tasks.lock().unwrap().by_id.len(), MAX_TASKS);
    }
}
