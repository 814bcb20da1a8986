//! The reference agent as a process serving MCP and A2A: `gatehouse agent --protocol all` answers every
//! protocol's routes on one listener, and `--protocol mcp` or `a2a` serves only its own.
use serde_json::{json, Value};

use crate::common::{body_text, send, RefAgent, BIN};

const USER: (&str, &str) = ("x-amzn-bedrock-agentcore-runtime-user-id", "user-p");
const ACCEPT: (&str, &str) = ("accept", "application/json, text/event-stream");

async fn post_json(url: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Value) {
    let resp = send("POST", url, headers, body.to_string()).await;
    let status = resp.status().as_u16();
    let text = body_text(resp).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn rpc(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params })
}

fn a2a_message(text: &str) -> Value {
    json!({ "message": { "kind": "message", "role": "user", "messageId": "m-1",
        "parts": [{ "kind": "text", "text": text }] } })
}

#[tokio::test]
async fn protocol_all_answers_http_mcp_and_a2a_on_one_listener() {
    let a = RefAgent::start_with(&["--protocol", "all"]);
    let ping = send("GET", &format!("{}/ping", a.url), &[], "").await;
    assert_eq!(ping.status(), 200);
    let (status, inv) = post_json(
        &format!("{}/invocations", a.url),
        &[USER],
        &json!({ "prompt": "hi", "stream": false }),
    )
    .await;
    assert_eq!((status, &inv["user_id"]), (200, &json!("user-p")));

    let mcp = format!("{}/mcp", a.url);
    let (status, init) = post_json(
        &mcp,
        &[ACCEPT],
        &rpc("initialize", json!({ "protocolVersion": "2025-06-18" })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    let (_, who) = post_json(
        &mcp,
        &[ACCEPT, USER, ("mcp-protocol-version", "2025-06-18")],
        &rpc("tools/call", json!({ "name": "whoami" })),
    )
    .await;
    assert_eq!(who["result"]["structuredContent"]["user_id"], "user-p");

    let card = send(
        "GET",
        &format!("{}/.well-known/agent-card.json", a.url),
        &[],
        "",
    )
    .await;
    assert_eq!(card.status(), 200);
    let card: Value = serde_json::from_str(&body_text(card).await).unwrap();
    assert_eq!(card["url"], format!("{}/", a.url));
    let (status, sent) = post_json(
        &format!("{}/", a.url),
        &[USER],
        &rpc("message/send", a2a_message("yo")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sent["result"]["status"]["state"], "completed");
    let text = sent["result"]["artifacts"][0]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert!(text.contains("user-p") && text.contains("yo"), "{text}");
}

#[tokio::test]
async fn one_protocol_serves_only_its_own_routes() {
    let m = RefAgent::start_with(&["--protocol", "mcp"]);
    assert_eq!(
        send("GET", &format!("{}/ping", m.url), &[], "")
            .await
            .status(),
        200
    );
    let (status, pong) = post_json(
        &format!("{}/mcp", m.url),
        &[ACCEPT],
        &rpc("ping", json!({})),
    )
    .await;
    assert_eq!((status, &pong["result"]), (200, &json!({})));
    let inv = send("POST", &format!("{}/invocations", m.url), &[], "{}").await;
    assert_eq!(inv.status(), 404);
    let root = send("POST", &format!("{}/", m.url), &[], "{}").await;
    assert_eq!(root.status(), 404);

    let a = RefAgent::start_with(&["--protocol", "a2a"]);
    let (status, _) = post_json(
        &format!("{}/", a.url),
        &[],
        &rpc("message/send", a2a_message("x")),
    )
    .await;
    assert_eq!(status, 200);
    let mcp = send(
        "POST",
        &format!("{}/mcp", a.url),
        &[ACCEPT],
        rpc("ping", json!({})).to_string(),
    )
    .await;
    assert_eq!(mcp.status(), 404);
}

#[test]
fn the_protocol_flag_is_explained_and_checked() {
    let help = std::process::Command::new(BIN)
        .args(["agent", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for word in [
        "--protocol",
        "http",
        "mcp",
        "a2a",
        "all",
        "/invocations",
        "/mcp",
        "agent-card.json",
    ] {
        assert!(help.contains(word), "--help lacks {word}: {help}");
    }
    let bad = std::process::Command::new(BIN)
        .args(["agent", "--protocol", "grpc", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("grpc"));
}

#[tokio::test]
async fn sigterm_ends_an_open_mcp_stream_and_the_agent_exits_at_once() {
    use http_body_util::BodyExt as _;
    let mut a = RefAgent::start_with(&["--protocol", "all"]);
    let resp = send("GET", &format!("{}/mcp", a.url), &[ACCEPT], "").await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), body.frame())
        .await
        .expect("no first event")
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(first.data_ref().unwrap()).contains("notifications/message"));

    let pid = nix::unistd::Pid::from_raw(i32::try_from(a.child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    // The stream ends (it would otherwise last forever) and the process exits well before a SIGKILL grace period.
    let end = tokio::time::timeout(std::time::Duration::from_secs(4), body.frame()).await;
    assert!(
        matches!(end, Ok(None | Some(Err(_)))),
        "the stream went on: {end:?}"
    );
    let status = loop {
        if let Some(s) = a.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the agent did not exit"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
}
