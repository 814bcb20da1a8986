//! `[web] client_id`: the web app's own app client — named in /config.json, accepted by the built-in
//! authorizer of the demo runtime beside the default client; an unknown id stops `up` with a message naming the
//! key. Also the short token lifetimes `client create` allows for tests and demos (60 s and up).
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::common::{body_text, invoke, password, send, Gatehouse, BIN};

fn create_client(dir: &std::path::Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["client", "create", "--name", "web-app"])
        .args(extra)
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn the_web_client_is_named_in_config_json_and_its_tokens_reach_the_demo_runtime() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    // Created before `up`: the CLI bootstraps the pool.
    let (ok, out) = create_client(&dir, &["--access-token-validity", "90"]);
    assert!(ok, "{out}");
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("client_id "))
        .unwrap()
        .trim()
        .to_string();
    let cfg = tmp.path().join("gatehouse.toml");
    std::fs::write(&cfg, format!("version = 1\n[web]\nclient_id = \"{id}\"\n")).unwrap();
    let g = Gatehouse::start_in(&dir, &["--config", cfg.to_str().unwrap()]);

    let resp = send("GET", &format!("{}/config.json", g.endpoints.web), &[], "").await;
    let c: Value = serde_json::from_str(&body_text(resp).await).unwrap();
    assert_eq!(c["client_id"], id.as_str());
    assert_ne!(c["client_id"], g.endpoints.client_id.as_str());

    let user = g.new_user("webclient");
    let (st, b) = g.password_auth(&id, &user, password()).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["AuthenticationResult"]["ExpiresIn"], 90);
    let token = b["AuthenticationResult"]["AccessToken"].as_str().unwrap();
    let r = invoke(
        &g.invocations_url(),
        Some(token),
        &[],
        &json!({"prompt": "hi"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The default client keeps working.
    let token = g.access_token(&user).await;
    let r = invoke(
        &g.invocations_url(),
        Some(&token),
        &[],
        &json!({"prompt": "hi"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Any other client of the pool is still refused by the built-in authorizer.
    let (other, _) = g.create_client(&[]);
    let (st, b) = g.password_auth(&other, &user, password()).await;
    assert_eq!(st, 200, "{b}");
    let token = b["AuthenticationResult"]["AccessToken"].as_str().unwrap();
    let r = invoke(
        &g.invocations_url(),
        Some(token),
        &[],
        &json!({"prompt": "hi"}),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.body);
}

#[test]
fn an_unknown_web_client_id_stops_up_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("gatehouse.toml");
    std::fs::write(&cfg, "version = 1\n[web]\nclient_id = \"nosuchclient\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["up", "--config", cfg.to_str().unwrap(), "--data-dir"])
        .arg(tmp.path().join("data"))
        .args(crate::common::LOOPBACK_LISTENERS)
        .stdin(Stdio::null())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(
        err.contains("[web] client_id") && err.contains("nosuchclient"),
        "{err}"
    );
}

#[test]
fn client_create_allows_token_lifetimes_down_to_60_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (ok, out) = create_client(
        &dir,
        &["--access-token-validity", "60", "--id-token-validity", "60"],
    );
    assert!(ok, "{out}");
    let (ok, out) = create_client(&dir, &["--access-token-validity", "59"]);
    assert!(!ok && out.contains("--access-token-validity"), "{out}");
}
