//! The reference MCP server over a real socket: initialize, tools/list, tools/call (whoami, echo, progress on SSE
//! and as JSON), the GET stream, DELETE, and every refusal. Tests only; owns no production code.
#![allow(clippy::unwrap_used)]
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::Router;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::jsonrpc::sse_messages;
use super::reference_mcp::{router, LATEST};

/// Serves `app` on 127.0.0.1:0; returns its base URL.
pub(super) async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// An answer: status, content type and body.
pub(super) struct Got {
    pub status: StatusCode,
    pub content_type: String,
    pub body: String,
}

pub(super) async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Got {
    let mut req = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = crate::outbound::client()
        .request(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(resp.headers().get("mcp-session-id").is_none(), "stateless");
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Got {
        status,
        content_type,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

const BOTH: (&str, &str) = ("accept", "application/json, text/event-stream");
const JSON_ONLY: (&str, &str) = ("accept", "application/json");

async fn rpc(base: &str, headers: &[(&str, &str)], msg: Value) -> Value {
    let got = send("POST", &format!("{base}/mcp"), headers, &msg.to_string()).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(got.content_type, "application/json", "{}", got.body);
    serde_json::from_str(&got.body).unwrap()
}

fn call(id: u64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

#[tokio::test]
async fn initialize_list_and_whoami_tell_what_reached_the_server() {
    let base = serve(router(watch::channel(false).1)).await;
    let init = rpc(
        &base,
        &[BOTH],
        call(
            1,
            "initialize",
            json!({ "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": { "name": "t", "version": "1" } }),
        ),
    )
    .await;
    assert_eq!(init["id"], 1);
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init["result"]["serverInfo"]["name"], "gatehouse-reference");
    assert!(init["result"]["capabilities"]["tools"].is_object());
    let newer = rpc(
        &base,
        &[BOTH],
        call(2, "initialize", json!({ "protocolVersion": "2099-01-01" })),
    )
    .await;
    assert_eq!(newer["result"]["protocolVersion"], LATEST);

    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let got = send(
        "POST",
        &format!("{base}/mcp"),
        &[BOTH],
        &initialized.to_string(),
    )
    .await;
    assert_eq!((got.status, got.body.as_str()), (StatusCode::ACCEPTED, ""));

    let v = ("mcp-protocol-version", "2025-06-18");
    let list = rpc(&base, &[BOTH, v], call(3, "tools/list", json!({}))).await;
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["whoami", "echo", "progress", "admin_reset"]);

    let who = rpc(
        &base,
        &[
            BOTH,
            v,
            ("x-amzn-bedrock-agentcore-runtime-user-id", "user-7"),
            ("x-amzn-bedrock-agentcore-runtime-session-id", "sess-1"),
            ("mcp-session-id", "client-chosen"),
            ("X-Custom-Thing", "yes"),
        ],
        call(
            4,
            "tools/call",
            json!({ "name": "whoami", "arguments": {} }),
        ),
    )
    .await;
    let s = &who["result"]["structuredContent"];
    assert_eq!(s["user_id"], "user-7");
    assert_eq!(s["session_id"], "sess-1");
    assert_eq!(s["mcp_session_id"], "client-chosen");
    assert_eq!(s["mcp_protocol_version"], "2025-06-18");
    assert_eq!(s["headers"]["x-custom-thing"], "yes");
    let text: Value =
        serde_json::from_str(who["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        &text, s,
        "the text block is the structured result serialized"
    );

    let echo = rpc(
        &base,
        &[BOTH],
        call(
            5,
            "tools/call",
            json!({ "name": "echo", "arguments": { "text": "hi" } }),
        ),
    )
    .await;
    assert_eq!(echo["result"]["content"][0]["text"], "hi");
    let pong = rpc(&base, &[BOTH], call(6, "ping", json!({}))).await;
    assert_eq!(pong["result"], json!({}));
}

#[tokio::test]
async fn progress_streams_its_notifications_then_the_result_on_sse() {
    let base = serve(router(watch::channel(false).1)).await;
    let msg = call(
        9,
        "tools/call",
        json!({ "name": "progress", "arguments": { "steps": 4, "delay_ms": 5 },
            "_meta": { "progressToken": "tok-1" } }),
    );
    let got = send("POST", &format!("{base}/mcp"), &[BOTH], &msg.to_string()).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.content_type, "text/event-stream");
    let events = sse_messages(&got.body);
    assert_eq!(events.len(), 5, "{}", got.body);
    for (i, e) in events[..4].iter().enumerate() {
        assert_eq!(e["method"], "notifications/progress");
        assert_eq!(e["params"]["progressToken"], "tok-1");
        assert_eq!(e["params"]["progress"], i + 1);
        assert_eq!(e["params"]["total"], 4);
        assert!(e.get("id").is_none(), "a notification has no id");
    }
    assert_eq!(events[4]["id"], 9);
    assert_eq!(events[4]["result"]["structuredContent"]["steps"], 4);

    // Without a token: still a stream, but only the result.
    let quiet = call(
        10,
        "tools/call",
        json!({ "name": "progress", "arguments": { "steps": 2 } }),
    );
    let got = send("POST", &format!("{base}/mcp"), &[BOTH], &quiet.to_string()).await;
    let events = sse_messages(&got.body);
    assert_eq!(events.len(), 1, "{}", got.body);
    assert_eq!(events[0]["id"], 10);
}

#[tokio::test]
async fn a_client_accepting_only_json_gets_the_result_as_json() {
    let base = serve(router(watch::channel(false).1)).await;
    let msg = call(
        11,
        "tools/call",
        json!({ "name": "progress", "arguments": { "steps": 3, "delay_ms": 1 },
            "_meta": { "progressToken": 5 } }),
    );
    let v = rpc(&base, &[JSON_ONLY], msg).await;
    assert_eq!(v["id"], 11);
    assert_eq!(v["result"]["structuredContent"]["steps"], 3);
    // Only SSE accepted: even a plain answer comes as one event.
    let got = send(
        "POST",
        &format!("{base}/mcp"),
        &[("accept", "text/event-stream")],
        &call(12, "ping", json!({})).to_string(),
    )
    .await;
    assert_eq!(got.content_type, "text/event-stream");
    assert_eq!(sse_messages(&got.body)[0]["id"], 12);
}

#[tokio::test]
async fn errors_carry_the_codes_the_spec_gives() {
    let base = serve(router(watch::channel(false).1)).await;
    let code = |v: &Value| v["error"]["code"].as_i64().unwrap();
    let unknown = rpc(&base, &[BOTH], call(1, "resources/list", json!({}))).await;
    assert_eq!((code(&unknown), &unknown["id"]), (-32601, &json!(1)));
    let no_name = rpc(
        &base,
        &[BOTH],
        call(2, "tools/call", json!({ "arguments": {} })),
    )
    .await;
    assert_eq!(code(&no_name), -32602);
    let no_tool = rpc(
        &base,
        &[BOTH],
        call(3, "tools/call", json!({ "name": "rm_rf" })),
    )
    .await;
    assert_eq!(code(&no_tool), -32602);
    assert!(no_tool["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Unknown tool"));
    let no_version = rpc(&base, &[BOTH], call(4, "initialize", json!({}))).await;
    assert_eq!(code(&no_version), -32602);
    // Bad tool arguments: -32602 before 2025-11-25, a tool error the model can read from it on.
    let bad_echo = call(
        5,
        "tools/call",
        json!({ "name": "echo", "arguments": { "text": 3 } }),
    );
    let old = rpc(
        &base,
        &[BOTH, ("mcp-protocol-version", "2025-06-18")],
        bad_echo.clone(),
    )
    .await;
    assert_eq!(code(&old), -32602);
    let new = rpc(
        &base,
        &[BOTH, ("mcp-protocol-version", "2025-11-25")],
        bad_echo,
    )
    .await;
    assert_eq!(new["result"]["isError"], true);
    let too_long = call(
        6,
        "tools/call",
        json!({ "name": "progress", "arguments": { "steps": 1000 } }),
    );
    assert_eq!(code(&rpc(&base, &[BOTH], too_long).await), -32602);
}

#[tokio::test]
async fn http_refusals_answer_400_406_403_and_405() {
    let base = serve(router(watch::channel(false).1)).await;
    let url = format!("{base}/mcp");
    for (headers, body, status, rpc_code) in [
        (
            vec![BOTH],
            "{not json".to_string(),
            StatusCode::BAD_REQUEST,
            Some(-32700),
        ),
        (
            vec![BOTH],
            format!("[{}]", call(1, "ping", json!({}))),
            StatusCode::BAD_REQUEST,
            Some(-32600),
        ),
        (
            vec![BOTH, ("mcp-protocol-version", "2024-01-01")],
            call(1, "ping", json!({})).to_string(),
            StatusCode::BAD_REQUEST,
            Some(-32600),
        ),
        (
            vec![("accept", "text/html")],
            call(1, "ping", json!({})).to_string(),
            StatusCode::NOT_ACCEPTABLE,
            None,
        ),
    ] {
        let got = send("POST", &url, &headers, &body).await;
        assert_eq!(got.status, status, "{body}: {}", got.body);
        if let Some(c) = rpc_code {
            let v: Value = serde_json::from_str(&got.body).unwrap();
            assert_eq!(
                (v["error"]["code"].as_i64(), &v["id"]),
                (Some(c), &Value::Null),
                "{body}"
            );
        }
    }
    let got = send("GET", &url, &[JSON_ONLY], "").await;
    assert_eq!(got.status, StatusCode::NOT_ACCEPTABLE);
    let evil = ("origin", "http://rebound.example");
    for method in ["POST", "GET", "DELETE"] {
        let got = send(
            method,
            &url,
            &[BOTH, evil],
            &call(1, "ping", json!({})).to_string(),
        )
        .await;
        assert_eq!(got.status, StatusCode::FORBIDDEN, "{method}");
    }
    let local = send(
        "POST",
        &url,
        &[BOTH, ("origin", "http://localhost:4000")],
        &call(1, "ping", json!({})).to_string(),
    )
    .await;
    assert_eq!(local.status, StatusCode::OK);
    let got = send("PUT", &url, &[BOTH], "").await;
    assert_eq!(got.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_get_stream_sends_a_log_message_stays_open_until_stop_and_delete_is_ok() {
    let (stopping, stop) = watch::channel(false);
    let base = serve(router(stop)).await;
    let req = http::Request::get(format!("{base}/mcp"))
        .header("accept", "text/event-stream")
        .header("x-amzn-bedrock-agentcore-runtime-user-id", "u-9")
        .body(Body::empty())
        .unwrap();
    let resp = crate::outbound::client().request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("\n\n") {
        let frame = tokio::time::timeout_at(deadline, body.frame()).await;
        let frame = frame.expect("no event in time").unwrap().unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
    let first = &sse_messages(&seen)[0];
    assert_eq!(first["method"], "notifications/message");
    assert_eq!(first["params"]["level"], "info");
    assert_eq!(first["params"]["data"]["user_id"], "u-9");
    // Still open: nothing more arrives soon (the next thing is a keep-alive comment after 15 s).
    let next = tokio::time::timeout(Duration::from_millis(200), body.frame()).await;
    assert!(next.is_err(), "the stream ended or sent more: {next:?}");
    // Stopping ends it (a graceful shutdown would otherwise wait for it forever).
    stopping.send(true).unwrap();
    let end = tokio::time::timeout_at(deadline, body.frame()).await;
    assert!(end.expect("the stream did not end").is_none());

    let got = send("DELETE", &format!("{base}/mcp"), &[], "").await;
    assert_eq!(got.status, StatusCode::OK);
}
