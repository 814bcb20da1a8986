//! The reference agent on its own, as an AgentCore container: /ping, /invocations and /ws.
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{body_text, send, RefAgent};

fn start_agent() -> RefAgent {
    RefAgent::start()
}

#[tokio::test]
async fn ping_reports_healthy_with_a_stable_timestamp() {
    let a = start_agent();
    let p1: Value = serde_json::from_str(
        &body_text(send("GET", &format!("{}/ping", a.url), &[], "").await).await,
    )
    .unwrap();
    assert_eq!(p1["status"], "Healthy");
    assert!(p1["time_of_last_update"].as_i64().unwrap() > 0);
    let p2: Value = serde_json::from_str(
        &body_text(send("GET", &format!("{}/ping", a.url), &[], "").await).await,
    )
    .unwrap();
    assert_eq!(
        p1["time_of_last_update"], p2["time_of_last_update"],
        "the timestamp changes only with the status"
    );
}

#[tokio::test]
async fn websocket_replies_echoes_binary_and_answers_close_with_the_same_code() {
    let a = start_agent();
    let mut req = format!("{}/ws", a.url.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "x-amzn-bedrock-agentcore-runtime-session-id",
        "ws-session-000000000000000000000000001".parse().unwrap(),
    );
    req.headers_mut().insert(
        "x-amzn-bedrock-agentcore-runtime-user-id",
        "user-1".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();

    ws.send(Message::Text(json!({"prompt": "hi"}).to_string().into()))
        .await
        .unwrap();
    let Some(Ok(Message::Text(t))) = ws.next().await else {
        panic!("no text reply")
    };
    let v: Value = serde_json::from_str(t.as_str()).unwrap();
    assert_eq!(v["type"], "reply");
    assert_eq!(v["turn"], 1);
    assert_eq!(v["session_id"], "ws-session-000000000000000000000000001");
    assert_eq!(v["user_id"], "user-1");
    assert_eq!(v["text"], "You said: hi");

    ws.send(Message::Text("plain words".into())).await.unwrap();
    let Some(Ok(Message::Text(t))) = ws.next().await else {
        panic!("no text reply")
    };
    let v: Value = serde_json::from_str(t.as_str()).unwrap();
    assert_eq!(v["turn"], 2);
    assert_eq!(v["text"], "You said: plain words");

    ws.send(Message::Binary(vec![0u8, 1, 2, 255].into()))
        .await
        .unwrap();
    let Some(Ok(Message::Binary(b))) = ws.next().await else {
        panic!("no binary echo")
    };
    assert_eq!(b.as_ref(), &[0u8, 1, 2, 255]);

    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::from(4000),
        reason: "bye".into(),
    })))
    .await
    .unwrap();
    let closed = loop {
        match ws.next().await {
            Some(Ok(Message::Close(f))) => break f,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(closed.unwrap().code, CloseCode::from(4000));
}
