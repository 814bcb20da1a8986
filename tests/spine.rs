//! The whole path: `up` → `user create` → `InitiateAuth` → invoke → SSE from the reference agent.
use std::time::Duration;

use http_body_util::BodyExt;
use serde_json::json;

use crate::common::{invoke, poll, send, shared, Gatehouse};

#[tokio::test]
async fn login_then_invoke_streams_whoami_with_session_and_user_and_no_authorization() {
    let g = shared();
    let user = g.new_user("alice");
    let auth = g.login(&user).await;
    let token = auth["AccessToken"].as_str().unwrap();
    let sub = gatehouse::token::jws::parse(token).unwrap().payload["sub"]
        .as_str()
        .unwrap()
        .to_string();

    let first = invoke(
        &g.invocations_url(),
        Some(token),
        &[],
        &json!({"prompt": "hello gatehouse"}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let session = first.session_id();
    assert!(
        session.len() >= 33,
        "minted session id too short: {session}"
    );
    let events = first.events();
    let whoami = &events[0];
    assert_eq!(whoami["type"], "whoami");
    assert_eq!(whoami["session_id"], session.as_str());
    assert_eq!(whoami["user_id"], sub.as_str());
    assert_eq!(whoami["turn"], 1);
    let headers = whoami["headers"].as_object().unwrap();
    assert!(
        !headers.contains_key("authorization"),
        "the agent saw the token: {headers:?}"
    );
    let words: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "text")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(words.join(" "), "You said: hello gatehouse");
    assert_eq!(events.last().unwrap()["type"], "done");

    let second = invoke(
        &g.invocations_url(),
        Some(token),
        &[("x-amzn-bedrock-agentcore-runtime-session-id", &session)],
        &json!({"prompt": "again"}),
    )
    .await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.session_id(), session);
    let whoami = &second.events()[0];
    assert_eq!(whoami["turn"], 2);
    assert_eq!(whoami["session_id"], session.as_str());
}

#[tokio::test]
async fn json_responses_pass_through_unchanged_and_content_type_is_optional() {
    let g = shared();
    let user = g.new_user("json");
    let token = g.access_token(&user).await;
    let auth = format!("Bearer {token}");
    let resp = send(
        "POST",
        &g.invocations_url(),
        &[("authorization", &auth)],
        json!({"prompt": "x", "stream": false}).to_string(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: serde_json::Value = serde_json::from_str(&crate::common::body_text(resp).await).unwrap();
    assert_eq!(v["text"], "You said: x");
    assert_eq!(v["turn"], 1);
}

#[tokio::test]
async fn an_sse_event_reaches_the_client_before_the_agent_writes_the_next() {
    let g = shared();
    let user = g.new_user("stream");
    let token = g.access_token(&user).await;
    let auth = format!("Bearer {token}");
    // The agent writes `whoami` at once, then waits 20 s before each word: a buffering gateway would hold the
    // first event for at least 40 s.
    let resp = send(
        "POST",
        &g.invocations_url(),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        json!({"prompt": "slow words", "delay_ms": 20000}).to_string(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut got = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !got.contains("\n\n") {
            let frame = body.frame().await.expect("stream ended early").unwrap();
            if let Ok(data) = frame.into_data() {
                got.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    })
    .await
    .expect(
        "the first event did not arrive while the agent was still writing: the gateway buffers",
    );
    let first = crate::common::sse_events(&got);
    assert_eq!(first[0]["type"], "whoami");
    assert!(
        !got.contains("\"done\""),
        "the whole stream arrived at once"
    );
}

#[tokio::test]
async fn bare_runtime_name_and_raw_arn_route_too() {
    let g = shared();
    let user = g.new_user("route");
    let token = g.access_token(&user).await;
    let rt = &g.endpoints.runtimes[0];
    for path in [
        rt.name.clone(),
        rt.arn.clone(),
        rt.arn.rsplit('/').next().unwrap().to_string(),
    ] {
        let url = format!("{}/runtimes/{path}/invocations", g.endpoints.gateway);
        let r = invoke(&url, Some(&token), &[], &json!({"stream": false})).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
}

#[tokio::test]
async fn endpoints_json_has_the_contract_shape() {
    let g = shared();
    let e = &g.endpoints;
    let pool = e.user_pool_id.strip_prefix("us-east-1_").unwrap();
    assert_eq!(pool.len(), 9);
    assert!(pool.bytes().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(e.client_id.len(), 26);
    assert_eq!(e.issuer, format!("{}/{}", e.idp, e.user_pool_id));
    assert_eq!(
        e.discovery_url,
        format!("{}/.well-known/openid-configuration", e.issuer)
    );
    let rt = &e.runtimes[0];
    assert_eq!(rt.name, "demo");
    let id = rt
        .arn
        .strip_prefix("arn:aws:bedrock-agentcore:us-east-1:000000000000:runtime/demo-")
        .unwrap();
    assert_eq!(id.len(), 10);
    assert!(id.bytes().all(|c| c.is_ascii_alphanumeric()));
    assert!(rt
        .invocations_url
        .contains("arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A000000000000%3Aruntime%2Fdemo-"));
    assert!(rt
        .invocations_url
        .ends_with("/invocations?qualifier=DEFAULT"));
    assert!(rt.ws_url.starts_with("ws://"));
    // The placeholder web page and config.json answer, without secrets.
    let page = crate::common::body_text(send("GET", &format!("{}/", e.web), &[], "").await).await;
    assert!(page.contains("gatehouse"));
    let cfg = send("GET", &format!("{}/config.json", e.web), &[], "").await;
    assert!(cfg.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let cfg: serde_json::Value =
        serde_json::from_str(&crate::common::body_text(cfg).await).unwrap();
    assert_eq!(cfg["client_id"], e.client_id.as_str());
    assert!(!cfg.to_string().to_lowercase().contains("password"));
}

#[tokio::test]
async fn restart_keeps_pool_client_keys_runtime_and_users() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut g = Gatehouse::start_in(&dir, &[]);
    let user = g.new_user("keep");
    let token_before = g.access_token(&user).await;
    let kid_before = gatehouse::token::jws::parse(&token_before)
        .unwrap()
        .header
        .kid;
    let before = g.endpoints.clone();
    assert!(g.stop().success());
    assert!(
        !dir.join("endpoints.json").exists(),
        "endpoints.json must not outlive the server"
    );

    let g2 = Gatehouse::start_in(&dir, &[]);
    let after = &g2.endpoints;
    assert_eq!(after.user_pool_id, before.user_pool_id);
    assert_eq!(after.client_id, before.client_id);
    assert_eq!(after.runtimes[0].arn, before.runtimes[0].arn);
    let token_after = g2.access_token(&user).await;
    assert_eq!(
        gatehouse::token::jws::parse(&token_after)
            .unwrap()
            .header
            .kid,
        kid_before,
        "the signing key was regenerated"
    );
    let r = invoke(
        &g2.invocations_url(),
        Some(&token_after),
        &[],
        &json!({"stream": false}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn sigterm_stops_the_reference_agent_too() {
    let mut g = Gatehouse::start();
    let user = g.new_user("term");
    let token = g.access_token(&user).await;
    let r = invoke(
        &g.invocations_url(),
        Some(&token),
        &[],
        &json!({"stream": false}),
    )
    .await;
    let pid = r.json()["pid"].as_i64().unwrap() as i32;
    let agent = nix::unistd::Pid::from_raw(pid);
    assert!(
        nix::sys::signal::kill(agent, None).is_ok(),
        "agent should be alive"
    );
    assert!(g.stop().success());
    poll(Duration::from_secs(10), "the agent to exit", || {
        nix::sys::signal::kill(agent, None).is_err().then_some(())
    });
}

#[tokio::test]
async fn user_create_refuses_weak_passwords_duplicates_and_missing_flag() {
    let g = shared();
    let (ok, out) = g.create_user_with("weakling", "password", None);
    assert!(!ok);
    assert!(
        out.contains("Password did not conform with policy"),
        "{out}"
    );
    let name = g.new_user("dup");
    let (ok, out) = g.create_user_with(&name, crate::common::password(), None);
    assert!(!ok);
    assert!(out.contains("already exists"), "{out}");
    let out = std::process::Command::new(crate::common::BIN)
        .args(["user", "create", "--username", "x", "--data-dir"])
        .arg(&g.dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-stdin"));
}

#[tokio::test]
async fn up_with_a_config_file_routes_to_the_configured_upstream() {
    let agent = crate::common::RefAgent::start();
    let url = agent.url.clone();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("gatehouse.toml");
    std::fs::write(
        &cfg,
        format!("version = 1\n[[runtime]]\nname = \"support\"\nupstream = \"{url}\"\n"),
    )
    .unwrap();
    let g = Gatehouse::start_in(
        &tmp.path().join("data"),
        &["--config", cfg.to_str().unwrap()],
    );
    assert_eq!(g.endpoints.runtimes.len(), 1);
    assert_eq!(g.endpoints.runtimes[0].name, "support");
    let user = g.new_user("cfg");
    let token = g.access_token(&user).await;
    let r = invoke(
        &g.invocations_url(),
        Some(&token),
        &[],
        &json!({"stream": false}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["pid"].as_u64().unwrap(),
        u64::from(agent.child.id())
    );
}

#[tokio::test]
async fn a_bad_config_file_exits_64_naming_every_bad_key() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[[runtime]]\nname = \"9bad\"\nupstream = \"ftp://x\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(crate::common::BIN)
        .args(["up", "--data-dir"])
        .arg(tmp.path().join("data"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in ["version", "runtime[0].name", "runtime[0].upstream"] {
        assert!(err.contains(key), "{key} not named in: {err}");
    }
}
