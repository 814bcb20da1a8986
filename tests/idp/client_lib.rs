//! A real, widely used Cognito client library against gatehouse: amazon-cognito-identity-js (installed by
//! scripts/test into tests/cognito-js/) signs in with SRP and refreshes with browser-like storage, which sends
//! `"DEVICE_KEY": null` — the AWS JSON null member that used to break refresh. Owns no production code.
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{password, shared};

fn driver_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cognito-js")
}

#[tokio::test]
async fn amazon_cognito_identity_js_signs_in_with_srp_and_refreshes_with_a_null_device_key() {
    let dir = driver_dir();
    assert!(
        dir.join("node_modules/amazon-cognito-identity-js").is_dir(),
        "amazon-cognito-identity-js is not installed: scripts/test installs it (npm ci --prefix tests/cognito-js)"
    );
    let g = shared();
    let user = g.new_user("cognitojs");
    let mut child = Command::new("node")
        .arg(dir.join("refresh.mjs"))
        .current_dir(&dir)
        .env(
            "ENDPOINT",
            format!("{}/", g.endpoints.idp.trim_end_matches('/')),
        )
        .env("POOL_ID", &g.endpoints.user_pool_id)
        .env("CLIENT_ID", &g.endpoints.client_id)
        .env("USERNAME", &user)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is needed for this test");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(password().as_bytes())
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "driver output is not JSON ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(report.get("error").is_none(), "{report}");
    assert_eq!(report["signed_in"], true, "{report}");
    assert_eq!(
        report["targets"][0], "InitiateAuth",
        "the library starts with InitiateAuth: {report}"
    );
    assert!(
        report["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "RespondToAuthChallenge"),
        "SRP: {report}"
    );
    // The capture proves the case is exercised: the library really sends a null member.
    assert_eq!(
        report["refresh_null_members"],
        serde_json::json!(["DEVICE_KEY"]),
        "{report}"
    );
    assert_eq!(report["refreshed"], true, "{report}");
    assert_eq!(report["new_access_token"], true, "{report}");
    assert_eq!(report["refreshed_sub"], true, "{report}");
}
