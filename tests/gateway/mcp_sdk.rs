//! Real SDKs on both sides of the gateway (`tests/mcp-js/` through `common::sdk`): the MCP SDK client lists and
//! calls every tool of the MCP SDK server behind an `mcp` runtime (SSE and JSON answers, the GET stream, DELETE),
//! another user cannot resume its session, one sandboxed process serves each MCP session of a `command` runtime
//! (the reference MCP server);
//! the A2A SDK client fetches the card through the gateway (and then follows the card's rewritten URL) and streams
//! a task, and another user cannot read that task. Owns no production code.
use serde_json::{json, Value};

use super::sdk_drivers::{assert_every_tool, every_tool, types};
use crate::common::sdk::{self, McpMode};
use crate::common::{start_with_config, Gatehouse};

const USER_ID: &str = "x-amzn-bedrock-agentcore-runtime-user-id";

fn sub_of(token: &str) -> Value {
    gatehouse::token::jws::parse(token).unwrap().payload["sub"].clone()
}

fn mcp_gateway(upstreams: &[(&str, &str)]) -> (tempfile::TempDir, Gatehouse) {
    let runtimes: String = upstreams
        .iter()
        .map(|(name, url)| {
            format!("[[runtime]]\nname = \"{name}\"\nprotocol = \"mcp\"\nupstream = \"{url}\"\n\n")
        })
        .collect();
    start_with_config(&runtimes)
}

#[tokio::test]
async fn the_mcp_sdk_client_calls_every_tool_through_the_gateway_with_sse_and_json_answers() {
    let (sse, _a) = sdk::spawn_mcp_server(McpMode::Stateless, false);
    let (json_server, _b) = sdk::spawn_mcp_server(McpMode::Stateless, true);
    let (_tmp, g) = mcp_gateway(&[("sse", &sse), ("json", &json_server)]);
    let token = g.access_token(&g.new_user("mcpsdk")).await;
    for (runtime, answer_type) in [("sse", "text/event-stream"), ("json", "application/json")] {
        let report = sdk::mcp_client(&json!({
            "url": g.runtime_url(runtime), "token": token, "steps": every_tool(), "terminate": true,
        }))
        .await;
        assert_every_tool(&report);
        let who = sdk::call_json(&report, 0);
        assert_eq!(
            who[USER_ID],
            sub_of(&token),
            "the user comes from the token: {report}"
        );
        assert_eq!(
            who["authorization"],
            Value::Null,
            "the token never reaches the server"
        );
        assert_eq!(
            who["mcp-session-id"], report["session_id"],
            "the gateway's session id: {report}"
        );
        assert_eq!(who["mcp-protocol-version"], report["protocol_version"]);
        // Progress notifications need an SSE answer; a JSON answer carries the result alone.
        let progress = report["calls"][3]["progress"].as_array().unwrap().len();
        let expected = if runtime == "sse" { 3 } else { 0 };
        assert_eq!(progress, expected, "{runtime}: {report}");
        assert!(
            types(&report, "POST", 200).iter().all(|t| t == answer_type),
            "{runtime}: {report}"
        );
        assert_eq!(
            types(&report, "GET", 405).len(),
            1,
            "a stateless server's 405 passes: {report}"
        );
    }
}

#[tokio::test]
async fn a_stateful_sdk_servers_get_stream_and_session_are_relayed_and_bound_to_their_user() {
    let (server, _s) = sdk::spawn_mcp_server(McpMode::Stateful, false);
    let (_tmp, g) = mcp_gateway(&[("stateful", &server)]);
    let url = g.runtime_url("stateful");
    let alice = g.access_token(&g.new_user("mcpsa")).await;
    let mallory = g.access_token(&g.new_user("mcpsm")).await;
    let report = sdk::mcp_client(&json!({
        "url": url, "token": alice, "expect_get_stream": true,
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
    assert_eq!(
        report["get_stream_message"], true,
        "the GET stream carries the server's message: {report}"
    );
    assert_eq!(types(&report, "GET", 200), ["text/event-stream"]);

    let hijack = sdk::mcp_client(&json!({"url": url, "token": mallory, "session_id": session,
        "steps": [{"call": "whoami"}]}))
    .await;
    let status = hijack["refused"]["status"].clone();
    let per_call = hijack["calls"][0]["refused"]["status"].clone();
    assert!(
        status == 403 || per_call == 403,
        "another user's session: {hijack}"
    );

    let resumed = sdk::mcp_client(&json!({"url": url, "token": alice, "session_id": session,
        "steps": [{"call": "echo", "args": {"text": "again"}}], "terminate": true}))
    .await;
    assert_eq!(sdk::call_json(&resumed, 0), "again", "{resumed}");
    assert_eq!(resumed["terminated"]["status"], 200, "{resumed}");
}

#[tokio::test]
async fn each_mcp_session_of_a_command_runtime_gets_its_own_sandboxed_server() {
    // The reference MCP server (one executable: the sandbox covers /tmp, where a checkout's node_modules may lie,
    // and binds back only the command's own files).
    let tmp = tempfile::tempdir().unwrap();
    let config = format!(
        "[[runtime]]\nname = \"boxed\"\nprotocol = \"mcp\"\n\
         command = [\"gatehouse\", \"agent\", \"--protocol\", \"mcp\"]\n\n\
         [sandbox]\nworkdir_root = \"{}\"\n",
        tmp.path().join("sessions").display()
    );
    let cfg = tmp.path().join("g.toml");
    std::fs::write(&cfg, format!("version = 1\n{config}")).unwrap();
    let g = Gatehouse::start_in(
        &tmp.path().join("data"),
        &["--config", cfg.to_str().unwrap()],
    );
    let token = g.access_token(&g.new_user("mcpbox")).await;
    let url = g.runtime_url("boxed");
    let mut sessions = Vec::new();
    let mut pids = Vec::new();
    for _ in 0..2 {
        let report = sdk::mcp_client(&json!({"url": url, "token": token,
            "steps": [{"call": "whoami"}, {"call": "echo", "args": {"text": "hi"}}, {"call": "whoami"}]}))
        .await;
        let (first, again) = (
            sdk::call_json(&report, 0).clone(),
            sdk::call_json(&report, 2).clone(),
        );
        assert_eq!(
            first["pid"], again["pid"],
            "one process serves the session: {report}"
        );
        assert_eq!(first["user_id"], sub_of(&token));
        assert!(first["headers"].get("authorization").is_none(), "{report}");
        assert_eq!(first["mcp_session_id"], report["session_id"], "{report}");
        sessions.push(report["session_id"].as_str().unwrap().to_string());
        pids.push(first["pid"].clone());
    }
    assert_ne!(sessions[0], sessions[1], "two MCP sessions");
    assert_ne!(pids[0], pids[1], "each MCP session has its own process");
    // Each session's process has its own working directory, named after a hash of the session id.
    let dirs: Vec<String> = std::fs::read_dir(tmp.path().join("sessions").join("boxed"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for session in &sessions {
        let prefix = &gatehouse::util::sha256_hex(session.as_bytes())[..16];
        assert!(
            dirs.iter().any(|d| d.starts_with(prefix)),
            "no process of its own for {session}: {dirs:?}"
        );
    }
}

#[tokio::test]
async fn the_a2a_sdk_client_follows_the_gateways_card_and_streams_a_task() {
    let (agent, _a) = sdk::spawn_a2a_server();
    let (_tmp, g) = start_with_config(&format!(
        "[[runtime]]\nname = \"agent\"\nprotocol = \"a2a\"\nupstream = \"{agent}\"\n"
    ));
    let url = g.runtime_url("agent");
    let base = url.split('?').next().unwrap();
    let card_url = format!("{base}/.well-known/agent-card.json");
    let alice = g.access_token(&g.new_user("a2asdk")).await;
    let mallory = g.access_token(&g.new_user("a2asdm")).await;
    for legacy in [false, true] {
        let report = sdk::a2a_client(&json!({
            "card_url": card_url, "token": alice, "legacy": legacy,
            "steps": [{"send": "hello"}, {"stream": "hi"}],
        }))
        .await;
        assert_eq!(
            report["card"]["url"],
            url.as_str(),
            "the card names the gateway: {report}"
        );
        let sent = &report["steps"][0];
        assert_eq!(sent["state"], "TASK_STATE_COMPLETED", "{report}");
        let who: Value = serde_json::from_str(sent["artifacts"][0].as_str().unwrap()).unwrap();
        assert_eq!(who["headers"][USER_ID], sub_of(&alice));
        assert_eq!(who["headers"]["authorization"], Value::Null);
        let streamed = &report["steps"][1];
        assert_eq!(streamed["final_state"], "TASK_STATE_COMPLETED", "{report}");
        assert_eq!(streamed["events"].as_array().unwrap().len(), 4, "{report}");

        let task = streamed["task_id"].as_str().unwrap();
        let theft = sdk::a2a_client(&json!({
            "card_url": card_url, "token": mallory, "legacy": legacy, "steps": [{"get_task": task}],
        }))
        .await;
        assert_eq!(
            theft["steps"][0]["refused"]["status"], 403,
            "another user's task: {theft}"
        );
        let own = sdk::a2a_client(&json!({
            "card_url": card_url, "token": alice, "legacy": legacy, "steps": [{"get_task": task}],
        }))
        .await;
        assert!(own["steps"][0].get("refused").is_none(), "{own}");
    }
}

#[tokio::test]
async fn the_tool_policy_hides_and_refuses_what_the_caller_may_not_call() {
    let (server, _s) = sdk::spawn_mcp_server(McpMode::Stateless, false);
    let tmp = tempfile::tempdir().unwrap();
    let policy = tmp.path().join("tools.toml");
    std::fs::write(
        &policy,
        "default = \"allow\"\n\n[[tool]]\nname = \"admin_*\"\nscopes = [\"tools/admin\"]\n\n\
         [[tool]]\nname = \"echo\"\ndeny = true\n",
    )
    .unwrap();
    let cfg = tmp.path().join("g.toml");
    std::fs::write(
        &cfg,
        format!(
            "version = 1\n[[runtime]]\nname = \"guarded\"\nprotocol = \"mcp\"\nupstream = \"{server}\"\n\
             tool_policy = \"tools.toml\"\n"
        ),
    )
    .unwrap();
    let g = Gatehouse::start_in(
        &tmp.path().join("data"),
        &["--config", cfg.to_str().unwrap()],
    );
    let token = g.access_token(&g.new_user("policy")).await;
    let report = sdk::mcp_client(&json!({"url": g.runtime_url("guarded"), "token": token,
        "steps": [{"call": "add", "args": {"a": 1, "b": 1}}, {"call": "admin_reset"}, {"call": "echo", "args": {"text": "x"}}]}))
    .await;
    assert_eq!(
        report["tools"],
        json!(["add", "progress", "whoami"]),
        "tools/list is filtered: {report}"
    );
    assert_eq!(sdk::call_json(&report, 0), 2, "{report}");
    let scoped = &report["calls"][1];
    assert_eq!(
        scoped["refused"]["status"], 403,
        "a missing scope: {report}"
    );
    let challenge = scoped["refused"]["www_authenticate"].as_str().unwrap_or("");
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains("tools/admin"),
        "{challenge}"
    );
    assert_eq!(
        report["calls"][2]["rpc_error"]["code"], -31003,
        "a denied tool: {report}"
    );
    let metrics = crate::common::body_text(
        crate::common::send("GET", &format!("{}/metrics", g.endpoints.admin), &[], "").await,
    )
    .await;
    let sub = sub_of(&token);
    let sub = sub.as_str().unwrap();
    for (tool, decision) in [
        ("add", "allowed"),
        ("admin_reset", "refused"),
        ("echo", "refused"),
    ] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("gatehouse_tool_calls_total")
                    && l.contains(&format!("tool=\"{tool}\""))
                    && l.contains(sub)
                    && l.contains(decision)),
            "{tool} {decision}:\n{metrics}"
        );
    }
    // The sessionless revision's headers must agree with the body: a call naming `add` in `Mcp-Name` but
    // `admin_reset` in the body is refused, so the server cannot route by one and the policy judge the other.
    let auth = format!("Bearer {token}");
    let smuggled = json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"admin_reset","arguments":{}}});
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "add"),
    ];
    let r = crate::common::send(
        "POST",
        &g.runtime_url("guarded"),
        &headers,
        smuggled.to_string(),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(crate::common::body_text(r).await.contains("-32020"));
    let dup = r#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"add","name":"admin_reset"}}"#;
    let r = crate::common::send("POST", &g.runtime_url("guarded"), &headers[..3], dup).await;
    assert_eq!(
        r.status(),
        400,
        "duplicate members are refused, not read one way here and another there"
    );
    // Reloaded when the file changes: admin_* opens up.
    std::fs::write(&policy, "default = \"allow\"\n").unwrap();
    crate::common::poll_async(
        std::time::Duration::from_secs(10),
        "the policy reload",
        || {
            let url = g.runtime_url("guarded");
            let token = token.clone();
            async move {
                let r = sdk::mcp_client(
                    &json!({"url": url, "token": token, "steps": [{"call": "admin_reset"}]}),
                )
                .await;
                (r["calls"][0]["json"] == "reset").then_some(())
            }
        },
    )
    .await;
}
