//! The attack suite, one file per attack class: every case this build can be attacked with, against a running
//! gatehouse over real sockets, as data-driven tables (`case | expected | got`, printed; run with `--nocapture` to
//! see them). A case that finds a real weakness stays here as an `#[ignore = "finding: …"]` test until the module
//! that owns the check is fixed. Owns no production code and must never weaken a case to make it pass. This file
//! holds what the classes share (a victim's token and its parts, the request helpers) and the table's self-test.

mod cors;
mod credentials;
mod edge_paths;
mod identity_headers;
mod idp;
mod input;
mod jwks;
mod logs;
mod protocol_sessions;
mod sessions;
mod tokens;
mod websocket;
mod wire;

use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer as _;
use base64::Engine as _;
use futures_util::StreamExt as _;
use gatehouse::clock::Clock as _;
use gatehouse::token::jws::encode_segment;
use serde_json::{json, Map, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::common::attack::{
    authority, hs256, raw, raw_jws, report, request, rs256, rs256_segments, slowloris, Answer,
    Recorder, Row,
};
use crate::common::{cognito, password, shared, Gatehouse};

const INVALID: &str = "401 invalid_token";
const BAD_REQUEST: &str = "401 invalid_request";

struct Victim {
    token: String,
    header: Map<String, Value>,
    payload: Map<String, Value>,
    sub: String,
}

async fn victim(g: &Gatehouse, prefix: &str) -> Victim {
    let user = g.new_user(prefix);
    let token = g.access_token(&user).await;
    let parsed = gatehouse::token::jws::parse(&token).unwrap();
    let header_b64 = token.split('.').next().unwrap();
    let header: Map<String, Value> = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header_b64)
            .unwrap(),
    )
    .unwrap();
    let sub = parsed.payload["sub"].as_str().unwrap().to_string();
    let payload = parsed.payload.clone();
    Victim {
        token,
        header,
        payload,
        sub,
    }
}

/// Which of the default deployment's demo runtimes an attack goes to: the same groups run against each protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `demo`: AgentCore's HTTP contract.
    Http,
    /// `demo_mcp`: an MCP server (one `tools/call whoami`).
    Mcp,
    /// `demo_a2a`: an A2A agent (one `message/send`).
    A2a,
}

impl Route {
    fn url(self, g: &Gatehouse) -> String {
        match self {
            Route::Http => g.invocations_url(),
            Route::Mcp => g.runtime_url("demo_mcp"),
            Route::A2a => g.runtime_url("demo_a2a"),
        }
    }

    fn body(self) -> String {
        match self {
            Route::Http => json!({"stream": false}),
            Route::Mcp => json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "whoami", "arguments": {}}}),
            Route::A2a => json!({"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": {
                "kind": "message", "messageId": "m1", "role": "user", "parts": [{"kind": "text", "text": "hi"}]}}}),
        }
        .to_string()
    }

    /// The user id the agent says it received, from this route's answer.
    fn user_seen(self, a: &Answer) -> Option<String> {
        let body = a.json();
        match self {
            Route::Http => body["user_id"].as_str().map(str::to_string),
            Route::Mcp => body["result"]["structuredContent"]["user_id"]
                .as_str()
                .map(str::to_string),
            Route::A2a => body["result"]["artifacts"][0]["parts"][0]["text"]
                .as_str()
                .and_then(|t| t.split("user id: ").nth(1))
                .and_then(|t| t.split(';').next())
                .map(str::to_string),
        }
    }

    /// The headers the agent says it received (JSON text; the A2A agent reports only its artifact's text).
    fn headers_seen(self, a: &Answer) -> String {
        let body = a.json();
        match self {
            Route::Http => body["headers"].to_string(),
            Route::Mcp => body["result"]["structuredContent"]["headers"].to_string(),
            Route::A2a => body["result"]["artifacts"].to_string(),
        }
    }
}

/// POSTs one request of `route` with `authorization` set to `auth` (raw bytes, if any).
async fn invoke_on(
    g: &Gatehouse,
    route: Route,
    auth: Option<&[u8]>,
    extra: &[(&str, &[u8])],
) -> Answer {
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("content-type", b"application/json"),
        ("accept", b"application/json"),
    ];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    headers.extend_from_slice(extra);
    request("POST", &route.url(g), &headers, route.body()).await
}

/// POSTs a non-streaming invocation of the HTTP demo runtime with `authorization` set to `auth`.
async fn invoke_with(g: &Gatehouse, auth: Option<&[u8]>, extra: &[(&str, &[u8])]) -> Answer {
    invoke_on(g, Route::Http, auth, extra).await
}

async fn bearer_on(g: &Gatehouse, route: Route, token: &str) -> String {
    invoke_on(g, route, Some(format!("Bearer {token}").as_bytes()), &[])
        .await
        .describe()
}

async fn bearer(g: &Gatehouse, token: &str) -> String {
    bearer_on(g, Route::Http, token).await
}

fn obj(m: &Map<String, Value>) -> Value {
    Value::Object(m.clone())
}

fn with(m: &Map<String, Value>, k: &str, v: Value) -> Value {
    let mut m = m.clone();
    m.insert(k.into(), v);
    Value::Object(m)
}

fn without(m: &Map<String, Value>, k: &str) -> Value {
    let mut m = m.clone();
    m.remove(k);
    Value::Object(m)
}

fn now() -> i64 {
    gatehouse::clock::SystemClock.now_unix()
}

/// The table itself: a row whose answer is not one of the expected ones fails the run (so breaking any check that
/// a case covers turns the suite red).
#[test]
#[should_panic(expected = "1 case(s) answered wrongly")]
fn a_wrong_answer_fails_the_table() {
    report(
        "self-test",
        &[
            Row::new(
                "refused",
                "401 invalid_token | 401 invalid_request",
                "401 invalid_request",
            ),
            Row::new("accepted although forged", INVALID, "200"),
        ],
    );
}
