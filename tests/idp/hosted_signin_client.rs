//! The web app's client for the hosted sign-in, set up by `up` itself: the default client registered for the
//! authorization-code flow with the web listener's own callback and logout URLs and `openid email profile`
//! (rewritten when the web origin changes, left alone when a loopback one only changes port), `/config.json`
//! naming the issuer, that callback and the scopes, a code issued for it exchanged at `/oauth2/token` with
//! PKCE and the refresh token it gives taken by `REFRESH_TOKEN_AUTH` (what the web app's token store uses), and
//! no `oauth` in `/config.json` for a `[web] client_id` that is not registered for the callback.
use std::sync::Arc;

use serde_json::{json, Value};

use gatehouse::idp::oauth::code_grant::s256;
use gatehouse::store::{AuthCodeRow, ClientRow, DatabaseUrl, OAuthFlow, Store};

use crate::common::{body_text, cognito, send, Gatehouse};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

async fn store_of(g: &Gatehouse) -> Arc<dyn Store> {
    let url = DatabaseUrl::resolve(&g.dir, g.database_url.as_deref()).unwrap();
    gatehouse::store::open(&url).await.unwrap()
}

async fn default_client(g: &Gatehouse) -> ClientRow {
    let pool = g.endpoints.user_pool_id.as_str().into();
    let clients = store_of(g).await.clients(&pool).await.unwrap();
    clients
        .into_iter()
        .find(|c| c.id == g.endpoints.client_id.as_str())
        .unwrap()
}

async fn config_json(g: &Gatehouse) -> Value {
    let resp = send("GET", &format!("{}/config.json", g.endpoints.web), &[], "").await;
    assert_eq!(resp.status(), 200);
    serde_json::from_str(&body_text(resp).await).unwrap()
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A code for `username` issued to `client` for `redirect_uri`, as `/oauth2/authorize` writes it.
async fn issue_code(g: &Gatehouse, client: &str, username: &str, redirect_uri: &str) -> String {
    let store = store_of(g).await;
    let pool = g.endpoints.user_pool_id.as_str().into();
    let user = store.find_user(&pool, username).await.unwrap();
    let code = gatehouse::util::opaque_token(32);
    let now = gatehouse::clock::Clock::now_unix(&gatehouse::clock::SystemClock);
    let row = AuthCodeRow {
        code_hash: gatehouse::util::sha256_hex(code.as_bytes()),
        pool_id: pool,
        client_id: client.into(),
        sub: user.sub,
        redirect_uri: redirect_uri.into(),
        code_challenge: Some(s256(VERIFIER)),
        nonce: Some("n-0S6_WzA2Mj".into()),
        scope: "openid email profile".into(),
        resource: None,
        auth_time: now,
        created_at: now,
        expires_at: now + 60,
        used_at: None,
        family_id: None,
    };
    store.put_auth_code(row, now).await.unwrap();
    code
}

#[tokio::test]
async fn up_registers_the_default_client_for_the_web_apps_callback() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut g = Gatehouse::start_in(&dir, &[]);
    let web = g.endpoints.web.trim_end_matches('/').to_string();
    let c = default_client(&g).await;
    assert!(c.oauth_flows.allows(OAuthFlow::Code), "{:?}", c.oauth_flows);
    assert_eq!(c.callback_urls.as_str(), format!("{web}/callback"));
    assert_eq!(c.logout_urls.as_str(), format!("{web}/"));
    assert_eq!(c.oauth_scopes.as_str(), "openid email profile");
    assert!(c.secret.is_none(), "the web app's client stays public");

    // A restart on another port: the loopback URLs still match (any port), so nothing is rewritten.
    g.stop();
    let g = Gatehouse::start_in(&dir, &[]);
    let web2 = g.endpoints.web.trim_end_matches('/').to_string();
    assert_ne!(web, web2, "port 0 gave the same port twice");
    let again = default_client(&g).await;
    assert_eq!(
        again, c,
        "a restart rewrote a client that was registered already"
    );
    let cfg = config_json(&g).await;
    assert_eq!(cfg["oauth"]["redirect_uri"], format!("{web2}/callback"));
}

#[tokio::test]
async fn a_new_web_origin_replaces_the_default_clients_callback() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut g = Gatehouse::start_in(&dir, &[]);
    g.stop();
    let cfg = tmp.path().join("gatehouse.toml");
    std::fs::write(
        &cfg,
        "version = 1\n[web]\npublic_url = \"https://app.example.com\"\n",
    )
    .unwrap();
    let mut g = Gatehouse::start_in(&dir, &["--config", cfg.to_str().unwrap()]);
    let c = default_client(&g).await;
    assert_eq!(c.callback_urls.as_str(), "https://app.example.com/callback");
    assert_eq!(c.logout_urls.as_str(), "https://app.example.com/");
    assert_eq!(c.oauth_flows.as_str(), "code", "flows are not repeated");
    assert_eq!(c.oauth_scopes.as_str(), "openid email profile");
    g.stop();

    // And back on the loopback listener: the https URL, which no longer is the app's, is replaced again.
    let g = Gatehouse::start_in(&dir, &[]);
    let web = g.endpoints.web.trim_end_matches('/');
    let c = default_client(&g).await;
    assert_eq!(c.callback_urls.as_str(), format!("{web}/callback"));
    assert_eq!(c.logout_urls.as_str(), format!("{web}/"));
    let cfg = config_json(&g).await;
    assert_eq!(cfg["oauth"]["redirect_uri"], format!("{web}/callback"));
}

#[tokio::test]
async fn config_json_names_the_oauth_endpoints_and_a_code_for_its_callback_signs_in() {
    let g = Gatehouse::start();
    let ep = &g.endpoints;
    let web = ep.web.trim_end_matches('/');
    let cfg = config_json(&g).await;
    let o = &cfg["oauth"];
    assert_eq!(
        *o,
        json!({
            "issuer": ep.issuer,
            "redirect_uri": format!("{web}/callback"),
            "logout_uri": format!("{web}/"),
            "scopes": ["openid", "email", "profile"],
        })
    );
    assert_eq!(cfg["client_id"], ep.client_id.as_str());
    let text = cfg.to_string();
    assert!(!text.contains("secret"), "{text}");

    // What the web app does after the hosted page's redirect: the code, its redirect_uri and the verifier.
    let user = g.new_user("hosted");
    let redirect_uri = o["redirect_uri"].as_str().unwrap();
    let code = issue_code(&g, &ep.client_id, &user, redirect_uri).await;
    let form = format!(
        "grant_type=authorization_code&client_id={}&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        ep.client_id,
        enc(redirect_uri)
    );
    let resp = send(
        "POST",
        &format!("{}/oauth2/token", cfg["idp_url"].as_str().unwrap()),
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", web),
        ],
        form,
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        web,
        "the web app's origin may read the token answer"
    );
    let tokens: Value = serde_json::from_str(&body_text(resp).await).unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    // The app's token store refreshes with REFRESH_TOKEN_AUTH; the grant's scope survives it.
    let (st, b) = cognito(
        &ep.idp,
        "InitiateAuth",
        &json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": ep.client_id,
                "AuthParameters": {"REFRESH_TOKEN": refresh}}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let access = b["AuthenticationResult"]["AccessToken"].as_str().unwrap();
    let claims = gatehouse::token::jws::parse(access).unwrap().payload;
    assert_eq!(claims["scope"], "openid email profile");
}

#[tokio::test]
async fn a_web_client_without_the_callback_gets_no_hosted_sign_in() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out = std::process::Command::new(crate::common::BIN)
        .args(["client", "create", "--name", "plain-web", "--data-dir"])
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("client_id "))
        .unwrap()
        .trim()
        .to_string();
    let cfg = tmp.path().join("gatehouse.toml");
    std::fs::write(&cfg, format!("version = 1\n[web]\nclient_id = \"{id}\"\n")).unwrap();
    let g = Gatehouse::start_in(&dir, &["--config", cfg.to_str().unwrap()]);
    let c = config_json(&g).await;
    assert_eq!(c["client_id"], id.as_str());
    assert!(c.get("oauth").is_none(), "{c}");
    // The default client is registered all the same (it is not the web app's here, and not rewritten).
    assert!(default_client(&g).await.oauth_flows.allows(OAuthFlow::Code));
}
