//! The real MCP and A2A SDK drivers (`tests/mcp-js/`, through `common::sdk`) against each other on 127.0.0.1, no
//! gatehouse between them: the MCP client against the stateless server (SSE and JSON answers) and the stateful
//! one (session id, GET stream, DELETE), the A2A client against the A2A agent in v1.0 and v0.3, their refusals as
//! data, and the MCP SDK's OAuth flow against a running gatehouse up to the token. Owns no production code.
use serde_json::{json, Value};

use crate::common::sdk::{self, McpMode, MCP_PATH};
use crate::common::{body_text, send, start_with_config};

const USER_ID: &str = "x-amzn-bedrock-agentcore-runtime-user-id";

pub fn every_tool() -> Value {
    json!([
        {"call": "whoami"},
        {"call": "echo", "args": {"text": "hello"}},
        {"call": "add", "args": {"a": 2, "b": 40}},
        {"call": "progress", "args": {"steps": 3}, "progress": true},
        {"call": "admin_reset"},
        {"call": "no_such_tool"},
        {"request": "resources/list"},
    ])
}

/// The answers of `every_tool()` in `report`, and what the server saw as headers.
pub fn assert_every_tool(report: &Value) {
    let tools = json!(["add", "admin_reset", "echo", "progress", "whoami"]);
    assert_eq!(report["tools"], tools, "{report}");
    assert_eq!(report["server"]["name"], "gatehouse-test-mcp");
    assert_eq!(sdk::call_json(report, 1), "hello");
    assert_eq!(sdk::call_json(report, 2), 42);
    assert_eq!(sdk::call_json(report, 3), "done 3");
    assert_eq!(sdk::call_json(report, 4), "reset");
    assert_eq!(report["calls"][5]["is_error"], true, "{report}");
    assert_eq!(report["calls"][6]["rpc_error"]["code"], -32601, "{report}");
}

pub fn types(report: &Value, method: &str, status: u64) -> Vec<String> {
    report["http"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["method"] == method && x["status"] == status)
        .map(|x| x["type"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn mcp_sdk_client_calls_every_tool_of_the_stateless_sdk_server_over_sse() {
    let (url, _server) = sdk::spawn_mcp_server(McpMode::Stateless, false);
    let report = sdk::mcp_client(&json!({
        "url": format!("{url}{MCP_PATH}"), "token": "not-a-real-token",
        "headers": {USER_ID: "user-1"}, "steps": every_tool(), "terminate": true,
    }))
    .await;
    assert_every_tool(&report);
    let who = sdk::call_json(&report, 0);
    assert_eq!(who[USER_ID], "user-1", "{report}");
    assert_eq!(
        who["authorization"], "Bearer",
        "sent straight to the server"
    );
    assert_eq!(who["mcp-session-id"], Value::Null);
    assert_eq!(who["mcp-protocol-version"], report["protocol_version"]);
    let steps: Vec<u64> = report["calls"][3]["progress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["progress"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [1, 2, 3], "{report}");
    assert_eq!(report["session_id"], Value::Null);
    assert_eq!(report["get_stream_message"], false);
    assert!(
        types(&report, "GET", 405).len() == 1,
        "no GET stream: {report}"
    );
    assert!(types(&report, "POST", 200)
        .iter()
        .all(|t| t == "text/event-stream"));
    assert_eq!(report["terminated"]["status"], Value::Null, "no session");
}

#[tokio::test]
async fn mcp_sdk_server_answers_json_when_asked_to() {
    let (url, _server) = sdk::spawn_mcp_server(McpMode::Stateless, true);
    let report = sdk::mcp_client(&json!({
        "url": format!("{url}{MCP_PATH}"), "token": null, "steps": every_tool(),
    }))
    .await;
    assert_every_tool(&report);
    assert_eq!(sdk::call_json(&report, 0)["authorization"], Value::Null);
    let posts = types(&report, "POST", 200);
    assert!(!posts.is_empty(), "{report}");
    assert!(posts.iter().all(|t| t == "application/json"), "{report}");
}

#[tokio::test]
async fn mcp_sdk_stateful_server_issues_a_session_streams_on_get_and_ends_it_on_delete() {
    let (url, _server) = sdk::spawn_mcp_server(McpMode::Stateful, false);
    let endpoint = format!("{url}{MCP_PATH}");
    let report = sdk::mcp_client(&json!({
        "url": endpoint, "token": null, "expect_get_stream": true, "terminate": true,
        "steps": [{"call": "whoami"}, {"call": "progress", "args": {"steps": 2}, "progress": true}],
    }))
    .await;
    let session = report["session_id"]
        .as_str()
        .expect("a session id")
        .to_string();
    assert_eq!(
        sdk::call_json(&report, 0)["mcp-session-id"],
        session.as_str()
    );
    assert_eq!(report["calls"][1]["progress"].as_array().unwrap().len(), 2);
    assert_eq!(report["get_stream_message"], true, "{report}");
    assert_eq!(types(&report, "GET", 200), ["text/event-stream"]);
    assert_eq!(report["terminated"]["status"], 200, "{report}");
    assert_eq!(report["session_id_after"], Value::Null);

    // The ended session is gone: resuming it is refused as data, and so is a made-up one.
    for id in [session.as_str(), "no-such-session"] {
        let again = sdk::mcp_client(&json!({"url": endpoint, "session_id": id, "steps": []})).await;
        assert_eq!(again["refused"]["status"], 404, "{again}");
        assert!(again["refused"]["body"]
            .as_str()
            .unwrap()
            .contains("Session not found"));
    }
}

#[tokio::test]
async fn mcp_sdk_client_reports_a_wrong_endpoint_as_a_refusal_and_the_servers_answer_ping() {
    let (url, _server) = sdk::spawn_mcp_server(McpMode::Stateless, false);
    let report = sdk::mcp_client(&json!({"url": format!("{url}/elsewhere"), "steps": []})).await;
    assert_eq!(report["refused"]["status"], 404, "{report}");
    assert!(report.get("tools").is_none());
    // MCP_PATH moves the endpoint.
    let (moved, _other) = sdk::spawn_node_server("mcp_server.mjs", &[("MCP_PATH", "/custom")]);
    let report = sdk::mcp_client(&json!({"url": format!("{moved}/custom"), "steps": []})).await;
    assert_eq!(report["server"]["name"], "gatehouse-test-mcp", "{report}");
    let report = sdk::mcp_client(&json!({"url": format!("{moved}{MCP_PATH}"), "steps": []})).await;
    assert_eq!(report["refused"]["status"], 404, "{report}");
    let (a2a, _agent) = sdk::spawn_a2a_server();
    for base in [url, a2a] {
        let body = body_text(send("GET", &format!("{base}/ping"), &[], "").await).await;
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["status"],
            "Healthy"
        );
    }
}

/// The whoami JSON of an A2A artifact text.
fn artifact(text: &Value) -> Value {
    serde_json::from_str(text.as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn a2a_sdk_client_sends_and_streams_to_the_sdk_agent_in_v1_and_v0_3() {
    let (url, _agent) = sdk::spawn_a2a_server();
    for legacy in [false, true] {
        let report = sdk::a2a_client(&json!({
            "card_url": format!("{url}/.well-known/agent-card.json"), "url": format!("{url}/"),
            "token": "not-a-real-token", "headers": {USER_ID: "user-2"}, "legacy": legacy,
            "steps": [{"send": "hello"}, {"stream": "hi"}, {"get_task": "no-such-task"}],
        }))
        .await;
        assert_eq!(
            report["protocol_version"],
            if legacy { "0.3" } else { "1.0" }
        );
        let card = &report["card"];
        assert_eq!(card["name"], "gatehouse-test-a2a", "{report}");
        assert_eq!(
            card["url"],
            format!("{url}/").as_str(),
            "the card names the agent"
        );
        assert!(card["skills"]
            .as_array()
            .unwrap()
            .contains(&json!("whoami")));
        assert_eq!(card["streaming"], true);

        let sent = &report["steps"][0];
        assert_eq!(sent["kind"], "task", "{report}");
        assert_eq!(sent["state"], "TASK_STATE_COMPLETED");
        let who = artifact(&sent["artifacts"][0]);
        assert_eq!(who["text"], "hello");
        assert_eq!(who["headers"][USER_ID], "user-2");
        assert_eq!(who["headers"]["authorization"], "Bearer");

        let streamed = &report["steps"][1];
        let kinds: Vec<&str> = streamed["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["task", "status-update", "artifact-update", "status-update"],
            "{report}"
        );
        let task = streamed["task_id"].as_str().unwrap();
        assert!(streamed["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["task_id"] == task && e["context_id"] == streamed["context_id"]));
        assert_ne!(task, sent["task_id"].as_str().unwrap());
        assert_eq!(streamed["final_state"], "TASK_STATE_COMPLETED");
        assert_eq!(artifact(&streamed["events"][2]["texts"][0])["text"], "hi");

        assert_eq!(report["steps"][2]["rpc_error"]["code"], -32001, "{report}");
    }
}

#[tokio::test]
async fn a2a_sdk_client_reports_a_missing_card_and_a_wrong_endpoint_as_refusals() {
    let (url, _agent) = sdk::spawn_a2a_server();
    let report =
        sdk::a2a_client(&json!({"card_url": format!("{url}/no-card.json"), "steps": []})).await;
    assert_eq!(report["refused"]["status"], 404, "{report}");
    assert!(report.get("card").is_none());
    let report = sdk::a2a_client(&json!({
        "card_url": format!("{url}/.well-known/agent-card.json"), "url": format!("{url}/elsewhere"),
        "steps": [{"send": "hello"}],
    }))
    .await;
    assert_eq!(report["steps"][0]["refused"]["status"], 404, "{report}");
}

/// The runtime URL's protected-resource metadata, read the way a client reads it: from the 401's challenge.
async fn resource_of(runtime_url: &str) -> String {
    let resp = send(
        "POST",
        runtime_url,
        &[("content-type", "application/json")],
        "{}",
    )
    .await;
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let meta = challenge
        .split("resource_metadata=\"")
        .nth(1)
        .unwrap()
        .trim_end_matches('"');
    let doc: Value =
        serde_json::from_str(&body_text(send("GET", meta, &[], "").await).await).unwrap();
    doc["resource"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn mcp_sdk_oauth_flow_discovers_registers_signs_in_and_gets_a_token_from_nothing_but_the_url()
{
    let (mcp, _server) = sdk::spawn_mcp_server(McpMode::Stateless, false);
    let (_tmp, g) = start_with_config(&format!(
        "[idp.oauth]\ndynamic_client_registration = \"open\"\n\n\
         [[runtime]]\nname = \"tools\"\nupstream = \"{mcp}\"\nprotocol = \"mcp\"\n"
    ));
    let runtime_url = g.runtime_url("tools");
    let resource = resource_of(&runtime_url).await;
    let (ok, out) = g.cli(
        &["resource-server", "create", "--identifier", &resource],
        "",
    );
    assert!(ok, "{out}");
    let user = g.new_user("mcpoauth");
    let report = sdk::mcp_oauth_client(&json!({
        "url": runtime_url, "username": user, "password": crate::common::password(),
    }))
    .await;
    let issuer = g.endpoints.issuer.as_str();
    assert_eq!(report["unauthorized"]["status"], 401, "{report}");
    assert!(report["unauthorized"]["www_authenticate"]
        .as_str()
        .unwrap()
        .contains("resource_metadata="));
    assert_eq!(report["resource_metadata"]["resource"], resource.as_str());
    assert_eq!(
        report["resource_metadata"]["authorization_servers"],
        json!([issuer])
    );
    assert_eq!(report["authorization_server"]["issuer"], issuer, "{report}");
    assert_eq!(report["registration"]["status"], 201, "{report}");
    assert_eq!(report["registration"]["client_id"], true);
    assert_eq!(
        report["registration"]["client_secret"], false,
        "a public client"
    );
    assert_eq!(report["authorize"]["resource"], resource.as_str());
    assert_eq!(report["authorize"]["code_challenge_method"], "S256");
    assert_eq!(
        report["consent_shown"], true,
        "a registered client is a third party"
    );
    let callback = &report["callback"];
    assert_eq!(callback["code"], true, "{report}");
    assert_eq!(callback["state_matches"], true);
    assert_eq!(callback["iss"], issuer);
    let token = &report["token"];
    assert_eq!(token["status"], 200, "{report}");
    assert_eq!(token["claims"]["iss"], issuer);
    assert_eq!(token["claims"]["aud"], resource.as_str(), "{report}");
    assert_eq!(token["claims"]["username"], user.as_str());
    assert_eq!(token["refresh_token"], true);
    // The token works at the MCP URL: the SDK calls whoami through the gateway, which passes the user, not the token.
    let whoami = &report["mcp"]["whoami"];
    assert!(whoami.is_object(), "{report}");
    assert_eq!(whoami["authorization"], Value::Null, "{report}");
    let user_id = whoami["x-amzn-bedrock-agentcore-runtime-user-id"]
        .as_str()
        .unwrap();
    match token["claims"]["sub"].as_str() {
        Some(sub) => assert_eq!(user_id, sub),
        None => assert!(!user_id.is_empty()),
    }
    assert_eq!(
        whoami["mcp-session-id"],
        whoami["x-amzn-bedrock-agentcore-runtime-session-id"]
    );
}
