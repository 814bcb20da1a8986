//! The `authorization_code` grant at `POST /oauth2/token` over real sockets, with codes written into the running
//! instance's store as `/oauth2/authorize` will write them: PKCE S256 (missing, wrong and stripped verifiers
//! refused), the exact redirect URI, another client's code, expiry, and a replayed code — refused, and the refresh
//! token its first redemption issued revoked. The tokens carry the code's scope, nonce, auth_time and resource.
use std::sync::Arc;

use serde_json::Value;

use gatehouse::idp::oauth::code_grant::s256;
use gatehouse::store::{AuthCodeRow, DatabaseUrl, Store};

use crate::common::{body_text, send, shared, Gatehouse};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CALLBACK: &str = "https://app.example.com/cb";

async fn store_of(g: &Gatehouse) -> Arc<dyn Store> {
    let url = DatabaseUrl::resolve(&g.dir, g.database_url.as_deref()).unwrap();
    gatehouse::store::open(&url).await.unwrap()
}

/// A code for `user`'s `sub` issued to `client`; returns the code.
async fn issue(
    g: &Gatehouse,
    client: &str,
    sub: &str,
    challenge: Option<String>,
    expires_in: i64,
) -> String {
    let code = gatehouse::util::opaque_token(32);
    let now = gatehouse::clock::Clock::now_unix(&gatehouse::clock::SystemClock);
    store_of(g)
        .await
        .put_auth_code(
            AuthCodeRow {
                code_hash: gatehouse::util::sha256_hex(code.as_bytes()),
                pool_id: g.endpoints.user_pool_id.as_str().into(),
                client_id: client.into(),
                sub: sub.into(),
                redirect_uri: CALLBACK.into(),
                code_challenge: challenge,
                nonce: Some("n-0S6_WzA2Mj".into()),
                scope: "openid email".into(),
                resource: Some("https://api.example.com".into()),
                auth_time: now - 5,
                created_at: now,
                expires_at: now + expires_in,
                used_at: None,
                family_id: None,
            },
            now,
        )
        .await
        .unwrap();
    code
}

async fn token(g: &Gatehouse, form: String) -> (u16, Value) {
    let resp = send(
        "POST",
        &format!("{}/oauth2/token", g.endpoints.idp),
        &[("content-type", "application/x-www-form-urlencoded")],
        form,
    )
    .await;
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_str(&body_text(resp).await).unwrap(),
    )
}

fn exchange_form(client: &str, code: &str, verifier: Option<&str>) -> String {
    let mut f = format!("grant_type=authorization_code&client_id={client}&code={code}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb");
    if let Some(v) = verifier {
        f.push_str(&format!("&code_verifier={v}"));
    }
    f
}

/// A public code-flow client and a user's `sub`.
async fn setup(g: &Gatehouse) -> (String, String) {
    let (client, _) = g.create_client(&[
        "--oauth-flows",
        "code",
        "--callback-url",
        CALLBACK,
        "--oauth-scopes",
        "openid email",
    ]);
    let user = g.new_user("codegrant");
    let access = g.access_token(&user).await;
    let sub = gatehouse::token::jws::parse(&access).unwrap().payload["sub"]
        .as_str()
        .unwrap()
        .to_string();
    (client, sub)
}

#[tokio::test]
async fn a_code_with_its_verifier_gives_tokens_shaped_by_the_grant_and_a_replay_revokes_them() {
    let g = shared();
    let (client, sub) = setup(g).await;
    let code = issue(g, &client, &sub, Some(s256(VERIFIER)), 300).await;
    let (status, body) = token(g, exchange_form(&client, &code, Some(VERIFIER))).await;
    assert_eq!(status, 200, "{body}");
    let access = gatehouse::token::jws::parse(body["access_token"].as_str().unwrap())
        .unwrap()
        .payload;
    assert_eq!(access["scope"], "openid email");
    assert_eq!(access["aud"], "https://api.example.com");
    assert_eq!(access["sub"], sub.as_str());
    let id = gatehouse::token::jws::parse(body["id_token"].as_str().unwrap())
        .unwrap()
        .payload;
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["aud"], client.as_str());
    assert_eq!(id["auth_time"], access["auth_time"]);
    let refresh = body["refresh_token"].as_str().unwrap().to_string();

    // The refresh keeps the grant's scope and resource.
    let (status, body) = token(
        g,
        format!("grant_type=refresh_token&client_id={client}&refresh_token={refresh}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let again = gatehouse::token::jws::parse(body["access_token"].as_str().unwrap())
        .unwrap()
        .payload;
    assert_eq!(
        (again["scope"].clone(), again["aud"].clone()),
        (access["scope"].clone(), access["aud"].clone())
    );

    // Replay: refused, and the refresh token the code issued is revoked.
    let (status, body) = token(g, exchange_form(&client, &code, Some(VERIFIER))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = token(
        g,
        format!("grant_type=refresh_token&client_id={client}&refresh_token={refresh}"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "the replay revoked it: {body}"
    );
}

#[tokio::test]
async fn missing_wrong_or_stripped_pkce_and_a_wrong_redirect_or_client_are_refused() {
    let g = shared();
    let (client, sub) = setup(g).await;
    let code = issue(g, &client, &sub, Some(s256(VERIFIER)), 300).await;
    let wrong = "x".repeat(43);
    for (form, why) in [
        (exchange_form(&client, &code, None), "missing verifier"),
        (
            exchange_form(&client, &code, Some(&wrong)),
            "wrong verifier",
        ),
        (
            exchange_form(&client, &code, Some("short")),
            "malformed verifier",
        ),
        (
            exchange_form(&client, &code, Some(VERIFIER)).replace("%2Fcb", "%2Fother"),
            "another redirect_uri",
        ),
    ] {
        let (status, body) = token(g, form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{why}: {body}"
        );
    }
    let (other, _) = g.create_client(&["--oauth-flows", "code", "--callback-url", CALLBACK]);
    let (status, body) = token(g, exchange_form(&other, &code, Some(VERIFIER))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "another client: {body}"
    );
    // None of the refusals used the code up.
    let (status, body) = token(g, exchange_form(&client, &code, Some(VERIFIER))).await;
    assert_eq!(status, 200, "{body}");

    // A code issued without a challenge refuses a verifier (PKCE cannot be added or stripped afterwards).
    let plain = issue(g, &client, &sub, None, 300).await;
    let (status, body) = token(g, exchange_form(&client, &plain, Some(VERIFIER))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // An expired code.
    let old = issue(g, &client, &sub, Some(s256(VERIFIER)), -1).await;
    let (status, body) = token(g, exchange_form(&client, &old, Some(VERIFIER))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = token(g, exchange_form(&client, "unknown", Some(VERIFIER))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}
