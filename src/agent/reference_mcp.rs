//! The reference MCP server (`gatehouse agent --protocol mcp`): Streamable HTTP at `/mcp`, stateless as AgentCore
//! requires (no `Mcp-Session-Id`), revisions 2025-03-26 to 2025-11-25. Tools `whoami` (what it received: identity
//! headers, MCP headers, every header), `echo`, `progress` (progress notifications on SSE) and `admin_reset`
//! (harmless; for scope-gating tests). Never validates tokens (the gateway did) and never stores anything.
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::jsonrpc::{self, Incoming, RpcError, METHOD_NOT_FOUND};
use super::reference::{header_str, headers_json, SESSION_HEADER, USER_ID_HEADER};

/// The protocol revisions this server speaks, oldest first.
pub const VERSIONS: &[&str] = &["2025-03-26", "2025-06-18", "2025-11-25"];
/// The revision offered to a client asking for one it does not know.
pub const LATEST: &str = "2025-11-25";
/// The revision assumed when a request has no `MCP-Protocol-Version` header (the spec's rule).
const ASSUMED: &str = "2025-03-26";
/// The first revision that reports bad tool arguments as a tool error rather than `-32602`.
const TOOL_ERRORS_FROM: &str = "2025-11-25";
/// Most `progress` steps, and longest delay between two.
const MAX_STEPS: u64 = 100;
const MAX_STEP_DELAY_MS: u64 = 10_000;
/// How often the GET stream sends a comment to keep idle proxies from closing it.
const KEEPALIVE: Duration = Duration::from_secs(15);
const PROTOCOL_HEADER: &str = "mcp-protocol-version";
const SESSION_ID_HEADER: &str = "mcp-session-id";
const SERVER_NAME: &str = "gatehouse-reference";

/// The MCP endpoint's routes. `stop` turning true ends the open `GET /mcp` streams (so a graceful shutdown does
/// not wait for them).
pub fn router(stop: watch::Receiver<bool>) -> Router {
    Router::new()
        .route("/mcp", post(post_mcp).get(get_mcp).delete(delete_mcp))
        .with_state(stop)
}

/// What the client's `Accept` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Accepts {
    json: bool,
    sse: bool,
}

fn accepts(headers: &HeaderMap) -> Accepts {
    let types: Vec<String> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|t| !t.is_empty())
        .collect();
    if types.is_empty() {
        return Accepts {
            json: true,
            sse: true,
        };
    }
    let any = |names: &[&str]| types.iter().any(|t| names.contains(&t.as_str()));
    Accepts {
        json: any(&["application/json", "application/*", "*/*"]),
        sse: any(&["text/event-stream", "text/*", "*/*"]),
    }
}

/// The request's revision: its `MCP-Protocol-Version`, or the assumed one; an unknown one is refused.
fn protocol_version(headers: &HeaderMap) -> Result<&'static str, RpcError> {
    let Some(v) = headers.get(PROTOCOL_HEADER) else {
        return Ok(ASSUMED);
    };
    let v = v.to_str().unwrap_or_default();
    VERSIONS.iter().copied().find(|k| *k == v).ok_or_else(|| {
        RpcError::new(
            jsonrpc::INVALID_REQUEST,
            format!(
                "Bad Request: unsupported MCP-Protocol-Version '{}'; supported: {}",
                v.chars().take(32).collect::<String>(),
                VERSIONS.join(", ")
            ),
        )
    })
}

/// HTTP 400 with the JSON-RPC error `e` (no id: the request was not read as one).
fn bad_request(e: &RpcError) -> Response {
    jsonrpc::json_response(StatusCode::BAD_REQUEST, &jsonrpc::error(&Value::Null, e))
}

/// The spec's defence against DNS rebinding: a browser's `Origin`, when there is one, must be a loopback host (the
/// gateway never forwards a client's `Origin`).
fn origin_allowed(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some((_, rest)) = origin.to_str().unwrap_or_default().split_once("://") else {
        return false;
    };
    let host = match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => rest.split([':', '/']).next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn forbidden_origin() -> Response {
    (
        StatusCode::FORBIDDEN,
        "Origin is not a loopback host: refused (DNS rebinding defence)\n",
    )
        .into_response()
}

fn not_acceptable(what: &str) -> Response {
    (
        StatusCode::NOT_ACCEPTABLE,
        format!("Accept must allow {what}\n"),
    )
        .into_response()
}

async fn post_mcp(headers: HeaderMap, body: Bytes) -> Response {
    if !origin_allowed(&headers) {
        return forbidden_origin();
    }
    let version = match protocol_version(&headers) {
        Ok(v) => v,
        Err(e) => return bad_request(&e),
    };
    let accept = accepts(&headers);
    if !accept.json && !accept.sse {
        return not_acceptable("application/json or text/event-stream");
    }
    let (id, method, params) = match jsonrpc::parse(&body) {
        Ok(Incoming::Request { id, method, params }) => (id, method, params),
        Ok(Incoming::Notification { .. } | Incoming::Response) => {
            return StatusCode::ACCEPTED.into_response()
        }
        Err(e) => return bad_request(&e),
    };
    let call = Call {
        headers: &headers,
        version,
    };
    let answer = match call.answer(&method, &params) {
        Ok(Answer::Now(v)) => jsonrpc::result(&id, v),
        Ok(Answer::Progress(p)) if accept.sse => return progress_stream(id, p),
        Ok(Answer::Progress(p)) => {
            // Only JSON allowed: no notifications, just the result once the work is done.
            tokio::time::sleep(p.delay * u32::try_from(p.steps).unwrap_or(0)).await;
            jsonrpc::result(&id, progress_result(p.steps))
        }
        Err(e) => jsonrpc::error(&id, &e),
    };
    if accept.json {
        jsonrpc::json_response(StatusCode::OK, &answer)
    } else {
        let event = jsonrpc::sse_event(&answer);
        jsonrpc::sse_response(futures_util::stream::iter([event]))
    }
}

/// What a request is answered with.
enum Answer {
    /// A result, now.
    Now(Value),
    /// The `progress` tool's work: streamed on SSE when the client allows it.
    Progress(Progress),
}

#[derive(Debug, Clone)]
struct Progress {
    steps: u64,
    delay: Duration,
    token: Option<Value>,
}

/// One request, with what it was sent with.
struct Call<'a> {
    headers: &'a HeaderMap,
    version: &'static str,
}

impl Call<'_> {
    fn answer(&self, method: &str, params: &Value) -> Result<Answer, RpcError> {
        let now = match method {
            "initialize" => initialize(params)?,
            "ping" | "logging/setLevel" => json!({}),
            "tools/list" => json!({ "tools": tools() }),
            "tools/call" => return self.call_tool(params),
            other => {
                return Err(RpcError::new(
                    METHOD_NOT_FOUND,
                    format!(
                        "Method not found: {}",
                        other.chars().take(64).collect::<String>()
                    ),
                ))
            }
        };
        Ok(Answer::Now(now))
    }

    fn call_tool(&self, params: &Value) -> Result<Answer, RpcError> {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::params("tools/call needs params.name, a string"))?;
        let args = match params.get("arguments") {
            None | Some(Value::Null) => json!({}),
            Some(a @ Value::Object(_)) => a.clone(),
            Some(_) => return Err(RpcError::params("params.arguments must be an object")),
        };
        let now = match name {
            "whoami" => self.whoami(),
            "echo" => match args.get("text").and_then(Value::as_str) {
                Some(t) => text_result(t),
                None => return self.bad_arguments("echo needs arguments.text, a string"),
            },
            "progress" => return self.progress(&args, params),
            "admin_reset" => {
                text_result("reset done (the reference server keeps no state, so nothing changed)")
            }
            other => {
                // Every revision's rule: an unknown tool is a protocol error.
                return Err(RpcError::params(format!(
                    "Unknown tool: {}",
                    other.chars().take(64).collect::<String>()
                )));
            }
        };
        Ok(Answer::Now(now))
    }

    /// Bad tool arguments: a tool error the model can read (2025-11-25), `-32602` before.
    fn bad_arguments(&self, why: &str) -> Result<Answer, RpcError> {
        if self.version >= TOOL_ERRORS_FROM {
            Ok(Answer::Now(json!({
                "content": [{ "type": "text", "text": why }],
                "isError": true,
            })))
        } else {
            Err(RpcError::params(why))
        }
    }

    fn whoami(&self) -> Value {
        let h = |name| header_str(self.headers, name).map_or(Value::Null, |v| json!(v));
        let who = json!({
            "user_id": h(USER_ID_HEADER),
            "session_id": h(SESSION_HEADER),
            "mcp_session_id": h(SESSION_ID_HEADER),
            "mcp_protocol_version": h(PROTOCOL_HEADER),
            "pid": std::process::id(),
            "headers": headers_json(self.headers),
        });
        json!({
            "content": [{ "type": "text", "text": who.to_string() }],
            "structuredContent": who,
        })
    }

    fn progress(&self, args: &Value, params: &Value) -> Result<Answer, RpcError> {
        let number = |key: &str, default: u64| match args.get(key) {
            None => Some(default),
            Some(v) => v.as_u64(),
        };
        let (Some(steps), Some(delay_ms)) = (number("steps", 3), number("delay_ms", 0)) else {
            return self.bad_arguments("progress: steps and delay_ms must be whole numbers");
        };
        if steps > MAX_STEPS || delay_ms > MAX_STEP_DELAY_MS {
            return self.bad_arguments(&format!(
                "progress: at most {MAX_STEPS} steps and {MAX_STEP_DELAY_MS} ms between them"
            ));
        }
        let token = params
            .get("_meta")
            .and_then(|m| m.get("progressToken"))
            .filter(|t| t.is_string() || t.is_i64() || t.is_u64())
            .cloned();
        Ok(Answer::Progress(Progress {
            steps,
            delay: Duration::from_millis(delay_ms),
            token,
        }))
    }
}

fn initialize(params: &Value) -> Result<Value, RpcError> {
    let asked = params
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::params("initialize needs params.protocolVersion, a string"))?;
    let version = VERSIONS
        .iter()
        .copied()
        .find(|v| *v == asked)
        .unwrap_or(LATEST);
    Ok(json!({
        "protocolVersion": version,
        "capabilities": { "tools": { "listChanged": false }, "logging": {} },
        "serverInfo": {
            "name": SERVER_NAME,
            "title": "gatehouse reference MCP server",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "instructions": "A test server: whoami tells what reached it, echo repeats, progress reports progress.",
    }))
}

fn text_result(text: &str) -> Value {
    json!({ "content": [{ "type": "text", "text": text }] })
}

fn progress_result(steps: u64) -> Value {
    json!({
        "content": [{ "type": "text", "text": format!("done: {steps} steps") }],
        "structuredContent": { "steps": steps },
    })
}

fn tools() -> Value {
    let object = |props: Value, required: &[&str]| json!({ "type": "object", "properties": props, "required": required });
    json!([
        {
            "name": "whoami",
            "title": "Who am I",
            "description": "What reached the server: user id, session ids, protocol version and every header.",
            "inputSchema": object(json!({}), &[]),
        },
        {
            "name": "echo",
            "title": "Echo",
            "description": "Returns the text it is given.",
            "inputSchema": object(json!({ "text": { "type": "string" } }), &["text"]),
        },
        {
            "name": "progress",
            "title": "Progress",
            "description": "Works in steps, reporting progress after each when given a progressToken.",
            "inputSchema": object(json!({
                "steps": { "type": "integer", "minimum": 0, "maximum": MAX_STEPS },
                "delay_ms": { "type": "integer", "minimum": 0, "maximum": MAX_STEP_DELAY_MS },
            }), &[]),
        },
        {
            "name": "admin_reset",
            "title": "Admin reset",
            "description": "A harmless administrative tool, for testing that a gateway gates it behind a scope.",
            "inputSchema": object(json!({}), &[]),
        },
    ])
}

/// The `progress` tool on SSE: a `notifications/progress` after each step (with a token), then the result.
fn progress_stream(id: Value, p: Progress) -> Response {
    let events = futures_util::stream::unfold(0u64, move |step| {
        let (id, p) = (id.clone(), p.clone());
        async move {
            if step > p.steps {
                return None;
            }
            if step == p.steps {
                let done = jsonrpc::result(&id, progress_result(p.steps));
                return Some((Some(jsonrpc::sse_event(&done)), step + 1));
            }
            tokio::time::sleep(p.delay).await;
            let note = p.token.as_ref().map(|token| {
                jsonrpc::sse_event(&json!({
                    "jsonrpc": "2.0",
                    "method": "notifications/progress",
                    "params": {
                        "progressToken": token,
                        "progress": step + 1,
                        "total": p.steps,
                        "message": format!("step {} of {}", step + 1, p.steps),
                    },
                }))
            });
            Some((note, step + 1))
        }
    });
    jsonrpc::sse_response(futures_util::StreamExt::filter_map(
        events,
        |e| async move { e },
    ))
}

/// `GET /mcp`: a stream for the server's own messages; one log message, then keep-alive comments.
async fn get_mcp(State(stop): State<watch::Receiver<bool>>, headers: HeaderMap) -> Response {
    if !origin_allowed(&headers) {
        return forbidden_origin();
    }
    if let Err(e) = protocol_version(&headers) {
        return bad_request(&e);
    }
    if !accepts(&headers).sse {
        return not_acceptable("text/event-stream");
    }
    let hello = jsonrpc::sse_event(&json!({
        "jsonrpc": "2.0",
        "method": "notifications/message",
        "params": {
            "level": "info",
            "logger": SERVER_NAME,
            "data": { "message": "stream open", "user_id": header_str(&headers, USER_ID_HEADER) },
        },
    }));
    let events =
        futures_util::stream::unfold((Some(hello), stop), |(first, mut stop)| async move {
            if let Some(hello) = first {
                return Some((hello, (None, stop)));
            }
            tokio::select! {
                () = tokio::time::sleep(KEEPALIVE) => {}
                // Stopping, or the sender is gone: the stream ends.
                _ = stop.wait_for(|s| *s) => return None,
            }
            Some((Bytes::from_static(b": keep-alive\n\n"), (None, stop)))
        });
    jsonrpc::sse_response(events)
}

/// `DELETE /mcp`: ends a session; stateless, so there is none to end.
async fn delete_mcp(headers: HeaderMap) -> Response {
    if !origin_allowed(&headers) {
        return forbidden_origin();
    }
    StatusCode::OK.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn accept_is_read_by_media_type() {
        let both = Accepts {
            json: true,
            sse: true,
        };
        assert_eq!(accepts(&with(&[])), both);
        assert_eq!(accepts(&with(&[("accept", "*/*")])), both);
        let only_json = accepts(&with(&[("accept", "application/json;q=1")]));
        assert!(only_json.json && !only_json.sse);
        let split = with(&[
            ("accept", "application/json"),
            ("accept", "text/event-stream"),
        ]);
        assert_eq!(accepts(&split), both);
        let html = accepts(&with(&[("accept", "text/html")]));
        assert!(!html.json && !html.sse);
    }

    #[test]
    fn only_loopback_origins_are_let_in() {
        assert!(origin_allowed(&with(&[])));
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1",
            "https://[::1]:8443",
            "http://LOCALHOST/x",
        ] {
            assert!(origin_allowed(&with(&[("origin", ok)])), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "http://localhost.evil.example",
            "null",
            "http://10.0.0.1:8000",
            "x",
        ] {
            assert!(!origin_allowed(&with(&[("origin", bad)])), "{bad}");
        }
    }

    #[test]
    fn versions_are_negotiated_and_checked() {
        for (asked, got) in [
            ("2025-06-18", "2025-06-18"),
            ("2025-03-26", "2025-03-26"),
            ("2024-11-05", LATEST),
            ("2099-01-01", LATEST),
        ] {
            let v = initialize(&json!({ "protocolVersion": asked })).unwrap();
            assert_eq!(v["protocolVersion"], got, "{asked}");
        }
        assert!(initialize(&json!({})).is_err());
        assert_eq!(protocol_version(&with(&[])).unwrap(), ASSUMED);
        let bad = protocol_version(&with(&[("mcp-protocol-version", "1999-01-01")]));
        assert_eq!(bad.unwrap_err().code, jsonrpc::INVALID_REQUEST);
    }
}
