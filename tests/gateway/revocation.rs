//! Revocation at the perimeter: tokens of gatehouse's own pool that were signed out, revoked or belong to a
//! disabled user are refused by the gateway within a second — over HTTP and on open WebSockets.
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{cognito, invoke, shared, Gatehouse, BIN};

async fn status(g: &Gatehouse, token: &str) -> u16 {
    invoke(
        &g.invocations_url(),
        Some(token),
        &[],
        &json!({"stream": false}),
    )
    .await
    .status
}

/// Polls until the token is refused, for at most `within`.
async fn refused_within(g: &Gatehouse, token: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if status(g, token).await == 401 {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "the revoked token was still accepted after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn global_sign_out_revokes_access_tokens_at_the_gateway_within_a_second() {
    let g = shared();
    let user = g.new_user("gso");
    let token = g.access_token(&user).await;
    assert_eq!(status(g, &token).await, 200);
    let (s, body) = cognito(
        &g.endpoints.idp,
        "GlobalSignOut",
        &json!({"AccessToken": token}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    refused_within(g, &token, Duration::from_secs(1)).await;
    let r = invoke(&g.invocations_url(), Some(&token), &[], &json!({})).await;
    assert!(r.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("revoked"));
    // Signing in again gives a token that works.
    let fresh = g.access_token(&user).await;
    assert_eq!(status(g, &fresh).await, 200);
}

#[tokio::test]
async fn revoke_token_refuses_the_access_tokens_of_that_refresh_token() {
    let g = shared();
    let user = g.new_user("rvk");
    let first = g.login(&user).await;
    let second = g.login(&user).await;
    let access = first["AccessToken"].as_str().unwrap().to_string();
    let other = second["AccessToken"].as_str().unwrap().to_string();
    let (s, body) = cognito(
        &g.endpoints.idp,
        "RevokeToken",
        &json!({"Token": first["RefreshToken"], "ClientId": g.endpoints.client_id}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    refused_within(g, &access, Duration::from_secs(1)).await;
    assert_eq!(
        status(g, &other).await,
        200,
        "another sign-in of the same user is unaffected"
    );
}

#[tokio::test]
async fn a_disabled_user_is_refused_and_a_re_enabled_user_can_sign_in_again() {
    let g = shared();
    let user = g.new_user("dis");
    let token = g.access_token(&user).await;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(&g.dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["user", "disable", "--username", &user]);
    refused_within(g, &token, Duration::from_secs(1)).await;
    run(&["user", "enable", "--username", &user]);
    let fresh = g.access_token(&user).await;
    // The gateway learns of the re-enable at its next revocation poll (fails closed until then).
    let start = Instant::now();
    while status(g, &fresh).await != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "a re-enabled user's new token is still refused"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        status(g, &token).await,
        401,
        "tokens from before the disable stay revoked"
    );
}

#[tokio::test]
async fn an_open_websocket_closes_with_4401_when_the_user_signs_out_everywhere() {
    let g = shared();
    let user = g.new_user("wsgso");
    let token = g.access_token(&user).await;
    let mut req = g.endpoints.runtimes[0]
        .ws_url
        .as_str()
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::Text(json!({"prompt": "hi"}).to_string().into()))
        .await
        .unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Message::Text(_)))));
    let (s, _) = cognito(
        &g.endpoints.idp,
        "GlobalSignOut",
        &json!({"AccessToken": token}),
    )
    .await;
    assert_eq!(s, 200);
    let start = Instant::now();
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("socket still open")
        {
            Some(Ok(Message::Close(Some(f)))) => break u16::from(f.code),
            Some(Ok(_)) => continue,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(code, 4401);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "closed only after {:?}",
        start.elapsed()
    );
}
