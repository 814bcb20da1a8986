//! The reference A2A agent over a real socket: its card, message/send, message/stream's event order, tasks/get,
//! tasks/cancel and every refusal. Tests only; owns no production code.
#![allow(clippy::unwrap_used)]
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::jsonrpc::sse_messages;
use super::reference_a2a::{router, A2aState, CARD_PATH};
use super::reference_mcp_tests::send;

const USER: (&str, &str) = ("x-amzn-bedrock-agentcore-runtime-user-id", "user-42");

async fn agent() -> String {
    // The card names the address the agent listens on, known once bound: bind, then build the state.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(Arc::new(A2aState::new(&base)));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn rpc(base: &str, method: &str, params: Value) -> Value {
    let msg = json!({ "jsonrpc": "2.0", "id": "r1", "method": method, "params": params });
    let got = send("POST", &format!("{base}/"), &[USER], &msg.to_string()).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(got.content_type, "application/json");
    serde_json::from_str(&got.body).unwrap()
}

fn message(text: &str, extra: Value) -> Value {
    let mut m = json!({ "kind": "message", "role": "user", "messageId": "m-1",
        "parts": [{ "kind": "text", "text": text }] });
    if let (Some(m), Value::Object(extra)) = (m.as_object_mut(), extra) {
        m.extend(extra);
    }
    json!({ "message": m })
}

#[tokio::test]
async fn the_card_names_the_address_skills_and_protocol() {
    let base = agent().await;
    let got = send("GET", &format!("{base}{CARD_PATH}"), &[], "").await;
    assert_eq!(got.status, StatusCode::OK);
    let card: Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(card["url"], format!("{base}/"));
    assert_eq!(card["protocolVersion"], "0.3.0");
    assert_eq!(card["capabilities"]["streaming"], true);
    assert_eq!(card["defaultInputModes"], json!(["text/plain"]));
    assert_eq!(card["defaultOutputModes"], json!(["text/plain"]));
    let skills: Vec<&str> = card["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(skills, ["whoami", "echo"]);
    assert!(
        card["name"].is_string() && card["description"].is_string() && card["version"].is_string()
    );
}

#[tokio::test]
async fn send_completes_a_task_that_get_returns_and_cancel_refuses() {
    let base = agent().await;
    let sent = rpc(&base, "message/send", message("hello there", json!({}))).await;
    assert_eq!(sent["id"], "r1");
    let task = &sent["result"];
    assert_eq!(task["kind"], "task");
    assert_eq!(task["status"]["state"], "completed");
    assert_eq!(task["id"].as_str().unwrap().len(), 36, "a new uuid");
    assert_eq!(task["contextId"].as_str().unwrap().len(), 36, "a new uuid");
    let text = task["artifacts"][0]["parts"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("user-42") && text.contains("hello there"),
        "{text}"
    );
    assert_eq!(task["history"][0]["parts"][0]["text"], "hello there");

    let id = task["id"].as_str().unwrap();
    let got = rpc(&base, "tasks/get", json!({ "id": id })).await;
    assert_eq!(&got["result"], task);
    let trimmed = rpc(&base, "tasks/get", json!({ "id": id, "historyLength": 0 })).await;
    assert_eq!(trimmed["result"]["history"], json!([]));
    let cancel = rpc(&base, "tasks/cancel", json!({ "id": id })).await;
    assert_eq!(cancel["error"]["code"], -32002);
    assert_eq!(cancel["id"], "r1");

    // The client's ids are kept.
    let cont = rpc(
        &base,
        "message/send",
        message("again", json!({ "contextId": "ctx-1", "taskId": "task-1" })),
    )
    .await;
    assert_eq!(cont["result"]["contextId"], "ctx-1");
    assert_eq!(cont["result"]["id"], "task-1");
    assert_eq!(
        rpc(&base, "tasks/get", json!({ "id": "task-1" })).await["result"]["id"],
        "task-1"
    );
}

#[tokio::test]
async fn stream_sends_working_the_artifact_then_the_final_completed_status() {
    let base = agent().await;
    let msg = json!({ "jsonrpc": "2.0", "id": 3, "method": "message/stream",
        "params": message("stream me", json!({ "contextId": "ctx-s" })) });
    let got = send("POST", &format!("{base}/"), &[USER], &msg.to_string()).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.content_type, "text/event-stream");
    let events = sse_messages(&got.body);
    let kinds: Vec<(&str, bool)> = events
        .iter()
        .map(|e| {
            assert_eq!(e["id"], 3);
            assert_eq!(e["result"]["contextId"], "ctx-s");
            (
                e["result"]["kind"].as_str().unwrap(),
                e["result"]["final"] == true,
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("status-update", false),
            ("artifact-update", false),
            ("status-update", true)
        ]
    );
    assert_eq!(events[0]["result"]["status"]["state"], "working");
    assert_eq!(events[2]["result"]["status"]["state"], "completed");
    let text = events[1]["result"]["artifact"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert!(
        text.contains("user-42") && text.contains("stream me"),
        "{text}"
    );
    let task_id = events[0]["result"]["taskId"].as_str().unwrap();
    let got = rpc(&base, "tasks/get", json!({ "id": task_id })).await;
    assert_eq!(got["result"]["status"]["state"], "completed");
}

#[tokio::test]
async fn refusals_carry_a2a_error_codes() {
    let base = agent().await;
    let code = |v: &Value| v["error"]["code"].as_i64().unwrap();
    assert_eq!(
        code(&rpc(&base, "tasks/get", json!({ "id": "nope" })).await),
        -32001
    );
    assert_eq!(
        code(&rpc(&base, "tasks/cancel", json!({ "id": "nope" })).await),
        -32001
    );
    assert_eq!(code(&rpc(&base, "tasks/get", json!({})).await), -32602);
    assert_eq!(code(&rpc(&base, "message/send", json!({})).await), -32602);
    assert_eq!(code(&rpc(&base, "message/stream", json!({})).await), -32602);
    let file = json!({ "message": { "role": "user", "messageId": "m",
        "parts": [{ "kind": "file", "file": { "uri": "file:///etc/passwd" } }] } });
    assert_eq!(code(&rpc(&base, "message/send", file).await), -32005);
    let push = rpc(&base, "tasks/pushNotificationConfig/set", json!({})).await;
    assert_eq!(code(&push), -32003);
    assert_eq!(
        code(&rpc(&base, "agent/getAuthenticatedExtendedCard", json!({})).await),
        -32007
    );
    assert_eq!(code(&rpc(&base, "tasks/list", json!({})).await), -32601);

    let url = format!("{base}/");
    let bad = send("POST", &url, &[], "{not json").await;
    let v: Value = serde_json::from_str(&bad.body).unwrap();
    assert_eq!(
        (v["error"]["code"].as_i64(), &v["id"]),
        (Some(-32700), &Value::Null)
    );
    let batch = send(
        "POST",
        &url,
        &[],
        r#"[{"jsonrpc":"2.0","id":1,"method":"tasks/get"}]"#,
    )
    .await;
    let v: Value = serde_json::from_str(&batch.body).unwrap();
    assert_eq!(v["error"]["code"], -32600);
    assert_eq!(
        send("GET", &url, &[], "").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}
