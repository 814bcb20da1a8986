//! MCP and A2A runtimes through the gateway, against a recording server (`common::fake_mcp`): Streamable HTTP's
//! POST (JSON and SSE answers), GET stream and DELETE relayed; `Mcp-Session-Id` and A2A task ids bound to their
//! user (another user's refused before the server sees anything); `Origin` checked; the token never passed on;
//! the 401 challenge, both protected-resource metadata URLs, resource-bound audiences; the agent card rewritten.
use serde_json::{json, Value};

use crate::common::fake_mcp::{self, FakeMcp};
use crate::common::{body_text, send, start_with_config, Gatehouse, Invocation};

struct Fixture {
    _tmp: tempfile::TempDir,
    g: Gatehouse,
    stateful: FakeMcp,
    stateless: FakeMcp,
    a2a: FakeMcp,
}

fn fixture() -> Fixture {
    let (stateful, stateless, a2a) = (
        fake_mcp::start(true),
        fake_mcp::start(false),
        fake_mcp::start(false),
    );
    let (tmp, g) = start_with_config(&format!(
        r#"
[[runtime]]
name = "tools"
protocol = "mcp"
upstream = "{}"
allowed_origins = ["https://app.example"]

[[runtime]]
name = "tools_sl"
protocol = "mcp"
upstream = "{}"

[[runtime]]
name = "agents"
protocol = "a2a"
upstream = "{}"
"#,
        stateful.url, stateless.url, a2a.url
    ));
    Fixture {
        _tmp: tmp,
        g,
        stateful,
        stateless,
        a2a,
    }
}

async fn rpc(
    url: &str,
    token: &str,
    session: Option<&str>,
    extra: &[(&str, &str)],
    msg: &Value,
) -> Invocation {
    let auth = format!("Bearer {token}");
    let mut h = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    if let Some(s) = session {
        h.push(("mcp-session-id", s));
    }
    h.extend_from_slice(extra);
    let resp = send("POST", url, &h, msg.to_string()).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    Invocation {
        status,
        headers,
        body: body_text(resp).await,
    }
}

fn initialize() -> Value {
    json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",
        "capabilities":{},"clientInfo":{"name":"t","version":"1"}}})
}

fn call(tool: &str) -> Value {
    json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":tool,"arguments":{}}})
}

fn mcp_session(inv: &Invocation) -> String {
    inv.headers["mcp-session-id"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn a_stateful_servers_session_is_relayed_and_bound_to_its_user() {
    let f = fixture();
    let url = f.g.runtime_url("tools");
    let alice = f.g.access_token(&f.g.new_user("mcpa")).await;
    let init = rpc(&url, &alice, None, &[], &initialize()).await;
    assert_eq!(init.status, 200, "{}", init.body);
    let sid = mcp_session(&init);
    assert!(
        sid.starts_with("srv-"),
        "the server's own id reaches the client: {sid}"
    );

    let json_call = rpc(&url, &alice, Some(&sid), &[], &call("whoami")).await;
    assert_eq!(json_call.status, 200, "{}", json_call.body);
    let result = &json_call.json()["result"]["structuredContent"];
    assert_eq!(
        result["mcp_session"],
        sid.as_str(),
        "the session id passes to the server"
    );
    assert_eq!(
        result["authorization"],
        Value::Null,
        "the token never reaches the server"
    );
    let sub = gatehouse::token::jws::parse(&alice).unwrap().payload["sub"].clone();
    assert_eq!(result["user"], sub, "the user id comes from the token");

    let streamed = rpc(&url, &alice, Some(&sid), &[], &call("stream")).await;
    assert!(streamed.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = crate::common::sse_events(&streamed.body.replace("event: message\n", ""));
    assert_eq!(events.len(), 2, "{}", streamed.body);
    assert_eq!(events[0]["method"], "notifications/progress");

    let auth = format!("Bearer {alice}");
    let get = send(
        "GET",
        &url,
        &[
            ("authorization", &auth),
            ("accept", "text/event-stream"),
            ("mcp-session-id", &sid),
        ],
        "",
    )
    .await;
    assert_eq!(get.status(), 200);
    assert!(body_text(get).await.contains("notifications/message"));

    let del = send(
        "DELETE",
        &url,
        &[("authorization", &auth), ("mcp-session-id", &sid)],
        "",
    )
    .await;
    assert_eq!(del.status(), 200);
    let methods: Vec<String> = f.stateful.seen().iter().map(|s| s.method.clone()).collect();
    assert_eq!(methods, ["POST", "POST", "POST", "GET", "DELETE"]);
}

#[tokio::test]
async fn another_users_mcp_session_is_refused_before_the_server() {
    let f = fixture();
    let url = f.g.runtime_url("tools");
    let alice = f.g.access_token(&f.g.new_user("mcpo")).await;
    let mallory = f.g.access_token(&f.g.new_user("mcpm")).await;
    let sid = mcp_session(&rpc(&url, &alice, None, &[], &initialize()).await);
    let before = f.stateful.count();
    let hijack = rpc(&url, &mallory, Some(&sid), &[], &call("whoami")).await;
    assert_eq!(hijack.status, 403, "{}", hijack.body);
    let auth = format!("Bearer {mallory}");
    for method in ["GET", "DELETE"] {
        let r = send(
            method,
            &url,
            &[("authorization", &auth), ("mcp-session-id", &sid)],
            "",
        )
        .await;
        assert_eq!(r.status(), 403, "{method}");
    }
    assert_eq!(
        f.stateful.count(),
        before,
        "nothing of mallory's reached the server"
    );
    // The owner's session still works.
    assert_eq!(
        rpc(&url, &alice, Some(&sid), &[], &call("whoami"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_stateless_server_gets_the_gateways_session_id() {
    let f = fixture();
    let url = f.g.runtime_url("tools_sl");
    let alice = f.g.access_token(&f.g.new_user("mcps")).await;
    let mallory = f.g.access_token(&f.g.new_user("mcpt")).await;
    let init = rpc(&url, &alice, None, &[], &initialize()).await;
    let sid = mcp_session(&init);
    assert_eq!(
        sid,
        init.session_id(),
        "the runtime session id doubles as the MCP session id"
    );
    let ok = rpc(&url, &alice, Some(&sid), &[], &call("whoami")).await;
    assert_eq!(
        ok.json()["result"]["structuredContent"]["mcp_session"],
        sid.as_str()
    );
    assert_eq!(
        rpc(&url, &mallory, Some(&sid), &[], &call("whoami"))
            .await
            .status,
        403
    );
    // A sessionless request (a client of the stateless revision) is served under the caller's own session.
    let a = rpc(&url, &alice, None, &[], &call("whoami")).await;
    let b = rpc(&url, &alice, None, &[], &call("whoami")).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.session_id(),
        b.session_id(),
        "one session per user, not one per request"
    );
    assert_ne!(
        a.session_id(),
        rpc(&url, &mallory, None, &[], &call("whoami"))
            .await
            .session_id()
    );
    assert!(f.stateless.count() >= 4);
}

#[tokio::test]
async fn bad_session_ids_origins_and_deletes_without_a_session_are_refused() {
    let f = fixture();
    let url = f.g.runtime_url("tools");
    let alice = f.g.access_token(&f.g.new_user("mcpb")).await;
    let before = f.stateful.count();
    let bad = rpc(&url, &alice, Some("has space"), &[], &call("whoami")).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let evil = rpc(
        &url,
        &alice,
        None,
        &[("origin", "https://evil.example")],
        &initialize(),
    )
    .await;
    assert_eq!(evil.status, 403, "DNS-rebinding protection: {}", evil.body);
    let auth = format!("Bearer {alice}");
    let del = send("DELETE", &url, &[("authorization", &auth)], "").await;
    assert_eq!(del.status(), 400);
    assert!(body_text(del).await.contains("Mcp-Session-Id"));
    assert_eq!(f.stateful.count(), before);
    let allowed = rpc(
        &url,
        &alice,
        None,
        &[("origin", "https://app.example")],
        &initialize(),
    )
    .await;
    assert_eq!(allowed.status, 200);
    let exposed = allowed.headers["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(exposed.contains("mcp-session-id"), "{exposed}");
}

#[tokio::test]
async fn mcp_clients_find_the_authorization_server_from_a_401() {
    let f = fixture();
    let url = f.g.runtime_url("tools");
    let r = send(
        "POST",
        &url,
        &[("content-type", "application/json")],
        initialize().to_string(),
    )
    .await;
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let meta_url = challenge
        .split("resource_metadata=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let meta: Value =
        serde_json::from_str(&body_text(send("GET", meta_url, &[], "").await).await).unwrap();
    let resource = url.split('?').next().unwrap();
    assert_eq!(meta["resource"], resource);
    assert!(meta["authorization_servers"][0]
        .as_str()
        .unwrap()
        .starts_with("http"));
    // RFC 9728 §3.1: the path-suffixed form MCP clients try first.
    let gw = &f.g.endpoints.gateway;
    let path = resource.strip_prefix(gw.as_str()).unwrap();
    let suffixed = send(
        "GET",
        &format!("{gw}/.well-known/oauth-protected-resource{path}"),
        &[],
        "",
    )
    .await;
    assert_eq!(suffixed.status(), 200);
    let again: Value = serde_json::from_str(&body_text(suffixed).await).unwrap();
    assert_eq!(again, meta);
}

#[tokio::test]
async fn a_token_bound_to_another_resource_is_refused() {
    let f = fixture();
    let url = f.g.runtime_url("tools");
    let resource = url.split('?').next().unwrap().to_string();
    let alice = f.g.access_token(&f.g.new_user("mcpr")).await;
    let mut payload = gatehouse::token::jws::parse(&alice).unwrap().payload;
    let signer = f.g.signer().await;
    payload.insert("aud".into(), json!("https://elsewhere.example/mcp"));
    let other = signer.sign(&Value::Object(payload.clone())).unwrap();
    assert_eq!(
        rpc(&url, &other, None, &[], &initialize()).await.status,
        401
    );
    payload.insert("aud".into(), json!(resource));
    let ours = signer.sign(&Value::Object(payload.clone())).unwrap();
    assert_eq!(rpc(&url, &ours, None, &[], &initialize()).await.status, 200);
    // Bound to this runtime, it is no good at another one.
    let sl = f.g.runtime_url("tools_sl");
    assert_eq!(rpc(&sl, &ours, None, &[], &initialize()).await.status, 401);
}

#[tokio::test]
async fn the_agent_card_names_the_gateway_and_tasks_are_bound_to_their_user() {
    let f = fixture();
    let url = f.g.runtime_url("agents");
    let alice = f.g.access_token(&f.g.new_user("a2aa")).await;
    let mallory = f.g.access_token(&f.g.new_user("a2am")).await;
    let base = url.split('?').next().unwrap();
    let card_url = format!("{base}/.well-known/agent-card.json");
    assert_eq!(send("GET", &card_url, &[], "").await.status(), 401);
    let auth = format!("Bearer {alice}");
    let card: Value = serde_json::from_str(
        &body_text(send("GET", &card_url, &[("authorization", &auth)], "").await).await,
    )
    .unwrap();
    assert_eq!(card["url"], url.as_str(), "{card}");
    assert!(card["securitySchemes"]["gatehouse"]["openIdConnectUrl"]
        .as_str()
        .unwrap()
        .ends_with("/.well-known/openid-configuration"));

    let send_msg = json!({"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{
        "kind":"message","messageId":"m1","role":"user","parts":[{"kind":"text","text":"hi"}]}}});
    let sent = rpc(&url, &alice, None, &[], &send_msg).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let task = sent.json()["result"]["id"].as_str().unwrap().to_string();
    let before = f.a2a.count();
    let get = json!({"jsonrpc":"2.0","id":2,"method":"tasks/get","params":{"id":task}});
    assert_eq!(
        rpc(&url, &mallory, None, &[], &get).await.status,
        403,
        "another user's task"
    );
    let follow = json!({"jsonrpc":"2.0","id":3,"method":"message/send","params":{"message":{
        "kind":"message","messageId":"m2","role":"user","taskId":task,"parts":[{"kind":"text","text":"x"}]}}});
    assert_eq!(rpc(&url, &mallory, None, &[], &follow).await.status, 403);
    assert_eq!(
        f.a2a.count(),
        before,
        "nothing of mallory's reached the agent"
    );
    assert_eq!(rpc(&url, &alice, None, &[], &get).await.status, 200);

    let stream = json!({"jsonrpc":"2.0","id":4,"method":"message/stream","params":{"message":{
        "kind":"message","messageId":"m3","role":"user","parts":[{"kind":"text","text":"go"}]}}});
    let streamed = rpc(&url, &alice, None, &[], &stream).await;
    let events = crate::common::sse_events(&streamed.body.replace("event: message\n", ""));
    assert_eq!(events.len(), 2, "{}", streamed.body);
    let streamed_task = events[0]["result"]["taskId"].as_str().unwrap();
    let get = json!({"jsonrpc":"2.0","id":5,"method":"tasks/get","params":{"id":streamed_task}});
    assert_eq!(
        rpc(&url, &mallory, None, &[], &get).await.status,
        403,
        "a streamed task is bound too"
    );
}

#[tokio::test]
async fn a_token_without_the_runtimes_scope_gets_a_step_up_challenge() {
    let der = gatehouse::token::RsaSigner::generate_pkcs8().unwrap();
    let signer = gatehouse::token::RsaSigner::from_pkcs8("ext".into(), &der).unwrap();
    let idp =
        crate::common::attack::FakeIdp::start(serde_json::to_value(signer.public_jwk()).unwrap())
            .await;
    let server = fake_mcp::start(false);
    let (_tmp, g) = start_with_config(&format!(
        "[[runtime]]\nname = \"scoped\"\nprotocol = \"mcp\"\nupstream = \"{}\"\n\n[runtime.authorizer]\n\
         discovery_url = \"{}/ok/.well-known/openid-configuration\"\nallowed_clients = [\"c\"]\nallowed_scopes = [\"tools/read\"]\n",
        server.url, idp.base
    ));
    let now = {
        use gatehouse::clock::Clock as _;
        gatehouse::clock::SystemClock.now_unix()
    };
    let token = |scope: &str| {
        signer
            .sign(
                &json!({"sub": "ext-user", "iss": format!("{}/ok", idp.base), "token_use": "access",
                "client_id": "c", "scope": scope, "iat": now, "exp": now + 600}),
            )
            .unwrap()
    };
    let url = g.runtime_url("scoped");
    let refused = rpc(&url, &token("other"), None, &[], &initialize()).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let challenge = refused.headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    assert!(
        challenge.contains("scope=\"tools/read\""),
        "names the scope to ask for: {challenge}"
    );
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    assert_eq!(server.count(), 0, "never reached the server");
    assert_eq!(
        rpc(&url, &token("tools/read"), None, &[], &initialize())
            .await
            .status,
        200
    );
}
