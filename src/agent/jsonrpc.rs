//! JSON-RPC 2.0 framing for the reference MCP and A2A agents: one message read from a request body, answers and
//! errors built, and a server-sent-events body of JSON messages. Must never know what a method means.
use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use futures_util::StreamExt as _;
use serde_json::{json, Map, Value};

/// The body is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON is not a JSON-RPC 2.0 message (or is a batch).
pub const INVALID_REQUEST: i64 = -32600;
/// No such method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// The method's parameters are wrong.
pub const INVALID_PARAMS: i64 = -32602;

/// A JSON-RPC error: the code, a message, and optional data.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    /// An error without data.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// `-32602` with `message`.
    pub fn params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }
}

/// One message a client sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A request: it gets an answer with its `id`.
    Request {
        id: Value,
        method: String,
        /// The parameters; an empty object when absent.
        params: Value,
    },
    /// A notification: no answer.
    Notification { method: String },
    /// The client's answer to a request of the server's: no answer either.
    Response,
}

/// Reads one JSON-RPC 2.0 message; a batch, a missing `jsonrpc: "2.0"`, a null or non-scalar `id` and
/// non-structured `params` are refused (`INVALID_REQUEST`), a body that is not JSON too (`PARSE_ERROR`).
pub fn parse(body: &[u8]) -> Result<Incoming, RpcError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| RpcError::new(PARSE_ERROR, format!("Parse error: {e}")))?;
    let Value::Object(o) = v else {
        let why = if v.is_array() {
            "Invalid Request: batches are not supported; send one message per request"
        } else {
            "Invalid Request: a JSON-RPC message is an object"
        };
        return Err(RpcError::new(INVALID_REQUEST, why));
    };
    if o.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(RpcError::new(
            INVALID_REQUEST,
            "Invalid Request: jsonrpc must be \"2.0\"",
        ));
    }
    let id = match o.get("id") {
        None => None,
        Some(id @ (Value::String(_) | Value::Number(_))) => Some(id.clone()),
        Some(_) => {
            return Err(RpcError::new(
                INVALID_REQUEST,
                "Invalid Request: id must be a string or a number",
            ))
        }
    };
    let params = match o.get("params") {
        None => Value::Object(Map::new()),
        Some(p @ (Value::Object(_) | Value::Array(_))) => p.clone(),
        Some(_) => {
            return Err(RpcError::new(
                INVALID_REQUEST,
                "Invalid Request: params must be an object or an array",
            ))
        }
    };
    match (o.get("method"), id) {
        (Some(Value::String(m)), Some(id)) => Ok(Incoming::Request {
            id,
            method: m.clone(),
            params,
        }),
        (Some(Value::String(m)), None) => Ok(Incoming::Notification { method: m.clone() }),
        (None, Some(_)) if o.contains_key("result") || o.contains_key("error") => {
            Ok(Incoming::Response)
        }
        _ => Err(RpcError::new(INVALID_REQUEST, "Invalid Request: no method")),
    }
}

/// The answer to request `id`.
pub fn result(id: &Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// The error answer to request `id` (`null` when the request could not be read).
pub fn error(id: &Value, e: &RpcError) -> Value {
    let mut err = json!({ "code": e.code, "message": e.message });
    if let (Some(data), Some(o)) = (&e.data, err.as_object_mut()) {
        o.insert("data".into(), data.clone());
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": err })
}

/// `body` as `application/json` with `status`.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// An SSE event carrying one JSON message.
pub fn sse_event(message: &Value) -> Bytes {
    Bytes::from(format!("event: message\ndata: {message}\n\n"))
}

/// A `text/event-stream` answer whose chunks are `events` (from `sse_event`, or SSE comments).
pub fn sse_response(events: impl Stream<Item = Bytes> + Send + 'static) -> Response {
    let body = Body::from_stream(events.map(Ok::<_, Infallible>));
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// The JSON messages of an SSE body (each event's `data` lines), in order; comments and other fields skipped.
pub fn sse_messages(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            if data.is_empty() {
                return None;
            }
            serde_json::from_str(&data.join("\n")).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_notifications_and_responses_are_told_apart() {
        let r = parse(br#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#).unwrap();
        assert_eq!(
            r,
            Incoming::Request {
                id: json!(7),
                method: "ping".into(),
                params: json!({})
            }
        );
        let n = parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert!(matches!(n, Incoming::Notification { .. }));
        let a = parse(br#"{"jsonrpc":"2.0","id":"s1","result":{}}"#).unwrap();
        assert_eq!(a, Incoming::Response);
    }

    #[test]
    fn malformed_messages_are_refused_with_the_right_code() {
        assert_eq!(parse(b"{not json").unwrap_err().code, PARSE_ERROR);
        for bad in [
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            r#"{"id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":3}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#""ping""#,
        ] {
            assert_eq!(
                parse(bad.as_bytes()).unwrap_err().code,
                INVALID_REQUEST,
                "{bad}"
            );
        }
    }

    #[test]
    fn sse_bodies_round_trip() {
        let mut body = String::from(": comment\n\n");
        body.push_str(std::str::from_utf8(&sse_event(&json!({"a": 1}))).unwrap());
        body.push_str(std::str::from_utf8(&sse_event(&json!({"b": 2}))).unwrap());
        assert_eq!(sse_messages(&body), vec![json!({"a": 1}), json!({"b": 2})]);
        let e = error(&json!(1), &RpcError::new(-32002, "no"));
        assert_eq!(e["error"]["code"], -32002);
        assert!(e["error"].get("data").is_none());
    }
}
