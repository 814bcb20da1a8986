//! `POST /oauth2/register` (RFC 7591) over real sockets: refused while off (and not advertised), open
//! registration of a confidential client that then gets client-credentials tokens and of a public one,
//! token-gated registration without, with a wrong and with a right initial access token, each bad redirect URI
//! refused, an oversized body refused, the per-address limit, an unused registered client expiring, and a
//! registered client being a third party that `/oauth2/authorize` asks the user's consent for.
use std::sync::LazyLock;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::{body_text, send, shared, start_with_config, Gatehouse};

/// One gatehouse with `dynamic_client_registration = "open"` for the tests that only add clients.
static OPEN: LazyLock<(tempfile::TempDir, Gatehouse)> =
    LazyLock::new(|| start_with_config("[idp.oauth]\ndynamic_client_registration = \"open\"\n"));

fn open() -> &'static Gatehouse {
    &OPEN.1
}

/// POSTs `body` to `/oauth2/register`, with `bearer` as the initial access token; (status, JSON body).
async fn register(g: &Gatehouse, bearer: Option<&str>, body: String) -> (u16, Value) {
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let resp = send(
        "POST",
        &format!("{}/oauth2/register", g.endpoints.idp),
        &headers,
        body,
    )
    .await;
    let status = resp.status().as_u16();
    let text = body_text(resp).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A resource server with scope `read`; its `IDENTIFIER/read`.
fn resource_scope(g: &Gatehouse) -> String {
    let api = g.resource_server("api", &["read:Read"]);
    format!("{api}/read")
}

/// The client-credentials grant for `id`/`secret` with `scope`; (status, JSON body).
async fn client_credentials(g: &Gatehouse, id: &str, secret: &str, scope: &str) -> (u16, Value) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let resp = send(
        "POST",
        &format!("{}/oauth2/token", g.endpoints.idp),
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", &format!("Basic {basic}")),
        ],
        format!(
            "grant_type=client_credentials&scope={}",
            percent_encoding::utf8_percent_encode(scope, percent_encoding::NON_ALPHANUMERIC)
        ),
    )
    .await;
    let status = resp.status().as_u16();
    let text = body_text(resp).await;
    (status, serde_json::from_str(&text).unwrap())
}

async fn metadata(g: &Gatehouse) -> Value {
    let url = format!(
        "{}/.well-known/oauth-authorization-server/{}",
        g.endpoints.idp, g.endpoints.user_pool_id
    );
    let resp = send("GET", &url, &[], "").await;
    serde_json::from_str(&body_text(resp).await).unwrap()
}

fn public_client(redirect: &str) -> String {
    json!({
        "client_name": "an MCP client",
        "redirect_uris": [redirect],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    })
    .to_string()
}

#[tokio::test]
async fn registration_is_refused_while_off_and_not_advertised() {
    let g = shared();
    let (status, body) = register(g, None, public_client("https://app.example.com/cb")).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "access_denied");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("registration is off"));
    assert!(metadata(g).await.get("registration_endpoint").is_none());
}

#[tokio::test]
async fn open_registration_gives_a_confidential_client_client_credentials_tokens() {
    let g = open();
    let md = metadata(g).await;
    assert_eq!(
        md["registration_endpoint"],
        format!("{}/oauth2/register", g.endpoints.idp)
    );
    let scope = resource_scope(g);
    let (status, reg) = register(
        g,
        None,
        json!({
            "client_name": "robot",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": scope,
        })
        .to_string(),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    let id = reg["client_id"].as_str().unwrap();
    let secret = reg["client_secret"].as_str().unwrap();
    assert_eq!(reg["client_secret_expires_at"], 0);
    assert!(reg["client_id_issued_at"].as_i64().unwrap() > 0);
    assert_eq!(reg["grant_types"], json!(["client_credentials"]));
    assert_eq!(reg["scope"], scope);
    let (status, tok) = client_credentials(g, id, secret, &scope).await;
    assert_eq!(status, 200, "{tok}");
    assert!(tok["access_token"].as_str().is_some());
    let (status, _) = client_credentials(g, id, "wrong", &scope).await;
    assert_eq!(status, 401);
    let (ok, list) = g.cli(&["client", "list"], "");
    assert!(ok, "{list}");
    let after = list.split(id).nth(1).unwrap();
    let marker = after.lines().nth(1).unwrap();
    assert!(
        marker.contains("dynamically registered (third party)") && !marker.contains("never"),
        "list marks the client and its last use: {marker}"
    );
}

#[tokio::test]
async fn open_registration_of_a_public_client_returns_no_secret() {
    let (status, reg) = register(open(), None, public_client("http://127.0.0.1/callback")).await;
    assert_eq!(status, 201, "{reg}");
    assert!(reg.get("client_secret").is_none());
    assert_eq!(reg["token_endpoint_auth_method"], "none");
    assert_eq!(reg["redirect_uris"], json!(["http://127.0.0.1/callback"]));
    assert_eq!(reg["response_types"], json!(["code"]));
    assert_eq!(reg["client_name"], "an MCP client");
}

/// A gatehouse with `dynamic_client_registration = "token"` and one initial access token.
fn token_mode() -> (tempfile::TempDir, Gatehouse, String) {
    let (tmp, g) = start_with_config("[idp.oauth]\ndynamic_client_registration = \"token\"\n");
    let (ok, out) = g.cli(&["client", "registration-token", "create"], "");
    assert!(ok, "{out}");
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("registration_token "))
        .unwrap()
        .trim()
        .to_string();
    (tmp, g, token)
}

#[tokio::test]
async fn token_mode_refuses_a_registration_without_an_initial_access_token() {
    let (_tmp, g, _token) = token_mode();
    let (status, body) = register(&g, None, public_client("https://app.example.com/cb")).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn token_mode_refuses_a_wrong_initial_access_token() {
    let (_tmp, g, token) = token_mode();
    let wrong = format!("{token}x");
    let (status, body) = register(
        &g,
        Some(&wrong),
        public_client("https://app.example.com/cb"),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn token_mode_accepts_the_right_initial_access_token() {
    let (_tmp, g, token) = token_mode();
    let (status, body) = register(
        &g,
        Some(&token),
        public_client("https://app.example.com/cb"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["client_id"].as_str().is_some());
    assert!(metadata(&g).await["registration_endpoint"].is_string());
}

async fn refused_redirect(uri: &str) {
    let (status, body) = register(open(), None, public_client(uri)).await;
    assert_eq!(status, 400, "{uri}: {body}");
    assert_eq!(body["error"], "invalid_redirect_uri", "{uri}");
}

#[tokio::test]
async fn a_plain_http_redirect_uri_off_loopback_is_refused() {
    refused_redirect("http://app.example.com/cb").await;
}

#[tokio::test]
async fn a_redirect_uri_with_a_fragment_is_refused() {
    refused_redirect("https://app.example.com/cb#frag").await;
}

#[tokio::test]
async fn a_wildcard_redirect_uri_is_refused() {
    refused_redirect("https://*.example.com/cb").await;
    refused_redirect("https://app.example.com/*").await;
}

#[tokio::test]
async fn bad_client_metadata_is_refused() {
    for body in [
        json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]}),
        json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none", "scope": "x/y"}),
        json!({"redirect_uris": ["https://a.example/cb"], "scope": "not-a-scope"}),
    ] {
        let (status, reply) = register(open(), None, body.to_string()).await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert_eq!(reply["error"], "invalid_client_metadata", "{body}");
    }
}

#[tokio::test]
async fn an_oversized_registration_body_is_refused() {
    let body = json!({
        "redirect_uris": ["https://app.example.com/cb"],
        "token_endpoint_auth_method": "none",
        "client_name": "x",
        "padding": "p".repeat(17 * 1024),
    })
    .to_string();
    let (status, reply) = register(open(), None, body).await;
    assert_eq!(status, 413, "{reply}");
    assert_eq!(reply["error"], "invalid_client_metadata");
}

#[tokio::test]
async fn an_unused_registered_client_expires() {
    let (_tmp, g) = start_with_config("[idp.oauth]\ndynamic_client_registration = \"open\"\n");
    let scope = resource_scope(&g);
    let (status, reg) = register(
        &g,
        None,
        json!({"grant_types": ["client_credentials"], "scope": scope}).to_string(),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    let id = reg["client_id"].as_str().unwrap().to_string();
    let secret = reg["client_secret"].as_str().unwrap().to_string();
    assert_eq!(client_credentials(&g, &id, &secret, &scope).await.0, 200);
    // 31 days pass without a token: move the client's creation and last use back (the running server reads the
    // same database file).
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        g.dir.join("gatehouse.db").display()
    ))
    .await
    .unwrap();
    let month = 31 * 86_400_i64;
    let n = sqlx::query(
        "UPDATE app_clients SET created_at = created_at - ?1, last_used_at = last_used_at - ?1 \
         WHERE id = ?2 AND dynamic = 1",
    )
    .bind(month)
    .bind(&id)
    .execute(&db)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(n, 1);
    db.close().await;
    let (status, body) = client_credentials(&g, &id, &secret, &scope).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    let (ok, list) = g.cli(&["client", "list"], "");
    assert!(ok, "{list}");
    assert!(!list.contains(&id), "the unused client is deleted: {list}");
}

#[tokio::test]
async fn registrations_are_limited_per_address() {
    let (_tmp, g) = start_with_config("[idp.oauth]\ndynamic_client_registration = \"open\"\n");
    for i in 0..20 {
        let (status, body) = register(&g, None, public_client("https://app.example.com/cb")).await;
        assert_eq!(status, 201, "registration {i}: {body}");
    }
    let (status, body) = register(&g, None, public_client("https://app.example.com/cb")).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "slow_down");
}

#[tokio::test]
async fn a_registered_client_is_a_third_party_and_authorize_asks_for_consent() {
    use super::oauth_authorize::{exchange, CALLBACK, VERIFIER};
    let g = open();
    let (status, body) = register(g, None, public_client(CALLBACK)).await;
    assert_eq!(status, 201, "{body}");
    let client = body["client_id"].as_str().unwrap().to_string();
    // The operator never approved this client: the user must, on the consent screen, before any code.
    let (mut b, page) = super::oauth_hosted::consent_page(g, &client).await;
    assert!(page.body.contains("an MCP client"), "{}", page.body);
    let p = b
        .post(
            &format!("{}/oauth2/consent", g.endpoints.idp),
            &[
                ("request", &page.hidden("request")),
                ("csrf", &page.hidden("csrf")),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let (status, body) = exchange(g, &client, &p.redirect_params()["code"], VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id_token"].is_string());
}
