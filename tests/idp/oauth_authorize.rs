//! `GET /oauth2/authorize` over real sockets, driven like a browser (a cookie jar, the hosted form's hidden
//! fields): the state and `iss` round trip, the ID token's `nonce`, `auth_time` and `at_hash`, PKCE (missing for
//! a public client, `plain`, a wrong verifier), a replayed code, refusals that must never redirect (unknown
//! client, unregistered redirect URI), scope escalation, `prompt=none` and `prompt=login`. Also the `Browser`
//! the hosted-page tests share. Test code only.
use std::collections::HashMap;

use http::HeaderMap;
use serde_json::Value;

use gatehouse::idp::oauth::code_grant::s256;

use crate::common::{body_text, password, send, shared, Gatehouse};

pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CALLBACK: &str = "https://app.example.com/cb";

/// A browser: cookies kept by name, redirects not followed.
#[derive(Default, Clone)]
pub struct Browser {
    pub cookies: HashMap<String, String>,
}

/// A response as the tests read it.
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<String> {
        self.headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
    }

    /// The query parameters of the `Location` header.
    pub fn redirect_params(&self) -> HashMap<String, String> {
        let loc = self.location().expect("a Location header");
        query_params(&loc)
    }

    /// A hidden input's value.
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let i = self.body.find(&marker).unwrap_or_else(|| {
            panic!("no hidden {name} in {}", self.body);
        }) + marker.len();
        self.body[i..].split('"').next().unwrap().to_string()
    }
}

/// The query parameters of a URL, decoded.
pub fn query_params(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map_or("", |(_, q)| q);
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .unwrap()
        .into_owned()
}

pub fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&mut self, headers: &HeaderMap) {
        for v in headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let first = v.split(';').next().unwrap();
            let (name, value) = first.split_once('=').unwrap();
            if v.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
    }

    async fn request(&mut self, method: &str, url: &str, form: Option<String>) -> Page {
        let cookie = self.cookie_header();
        let mut headers = vec![("cookie", cookie.as_str())];
        if form.is_some() {
            headers.push(("content-type", "application/x-www-form-urlencoded"));
        }
        let resp = send(method, url, &headers, form.unwrap_or_default()).await;
        let status = resp.status().as_u16();
        let h = resp.headers().clone();
        self.absorb(&h);
        Page {
            status,
            headers: h,
            body: body_text(resp).await,
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        self.request("GET", url, None).await
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.request("POST", url, Some(body)).await
    }

    /// Posts the sign-in form of `form` (a page showing it) as `username`/`pw`.
    pub async fn sign_in(&mut self, g: &Gatehouse, form: &Page, username: &str, pw: &str) -> Page {
        let request = form.hidden("request");
        let csrf = form.hidden("csrf");
        self.post(
            &format!("{}/login", g.endpoints.idp),
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("username", username),
                ("password", pw),
            ],
        )
        .await
    }
}

/// An authorization URL for `client` with PKCE S256 and `extra` parameters (which replace defaults of the
/// same name; an empty value drops one).
pub fn authorize_url(g: &Gatehouse, client: &str, extra: &[(&str, &str)]) -> String {
    let challenge = s256(VERIFIER);
    let mut params: Vec<(&str, String)> = vec![
        ("response_type", "code".into()),
        ("client_id", client.into()),
        ("redirect_uri", CALLBACK.into()),
        ("scope", "openid email".into()),
        ("state", "st-1 &x".into()),
        ("nonce", "n-0S6_WzA2Mj".into()),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256".into()),
    ];
    for (k, v) in extra {
        params.retain(|(p, _)| p != k);
        if !v.is_empty() {
            params.push((k, v.to_string()));
        }
    }
    let q = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{}/oauth2/authorize?{q}", g.endpoints.idp)
}

/// A public code-flow client (with `extra` flags of `client create`; an `--oauth-scopes` there replaces the
/// default `openid email profile`).
pub fn code_client(g: &Gatehouse, extra: &[&str]) -> String {
    let mut args = vec![
        "--oauth-flows",
        "code",
        "--callback-url",
        CALLBACK,
        "--logout-url",
        "https://app.example.com/bye",
    ];
    if !extra.contains(&"--oauth-scopes") {
        args.extend_from_slice(&["--oauth-scopes", "openid email profile"]);
    }
    args.extend_from_slice(extra);
    g.create_client(&args).0
}

/// Signs `user` in through the form of a fresh authorization request; returns the redirect page.
pub async fn sign_in_fresh(g: &Gatehouse, b: &mut Browser, client: &str, user: &str) -> Page {
    let form = b.get(&authorize_url(g, client, &[])).await;
    assert_eq!(form.status, 200, "{}", form.body);
    b.sign_in(g, &form, user, password()).await
}

pub async fn exchange(g: &Gatehouse, client: &str, code: &str, verifier: &str) -> (u16, Value) {
    let form = format!(
        "grant_type=authorization_code&client_id={client}&code={}&redirect_uri={}&code_verifier={verifier}",
        encode(code),
        encode(CALLBACK)
    );
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

fn claims(token: &Value) -> Value {
    Value::Object(
        gatehouse::token::jws::parse(token.as_str().unwrap())
            .unwrap()
            .payload,
    )
}

#[tokio::test]
async fn authorize_round_trips_state_and_iss_and_the_id_token_carries_nonce_and_at_hash() {
    let g = shared();
    let client = code_client(g, &[]);
    let user = g.new_user("authz");
    let mut b = Browser::default();
    let done = sign_in_fresh(g, &mut b, &client, &user).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let loc = done.location().unwrap();
    assert!(loc.starts_with(&format!("{CALLBACK}?code=")), "{loc}");
    let p = done.redirect_params();
    assert_eq!(p["state"], "st-1 &x");
    assert_eq!(p["iss"], g.endpoints.issuer);
    let (status, body) = exchange(g, &client, &p["code"], VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    let id = claims(&body["id_token"]);
    let access = claims(&body["access_token"]);
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["aud"], client.as_str());
    assert!(id["auth_time"].as_i64().unwrap() > 0);
    assert_eq!(id["auth_time"], access["auth_time"]);
    assert_eq!(
        id["at_hash"].as_str().unwrap(),
        gatehouse::idp::mint::at_hash(body["access_token"].as_str().unwrap())
    );
    assert_eq!(access["scope"], "openid email");
}

#[tokio::test]
async fn a_public_client_without_pkce_is_refused_by_a_redirect() {
    let g = shared();
    let client = code_client(g, &[]);
    let page = Browser::default()
        .get(&authorize_url(
            g,
            &client,
            &[("code_challenge", ""), ("code_challenge_method", "")],
        ))
        .await;
    assert_eq!(page.status, 302, "{}", page.body);
    let p = page.redirect_params();
    assert_eq!(p["error"], "invalid_request");
    assert!(p["error_description"].contains("code_challenge"));
    assert_eq!(p["state"], "st-1 &x");
    assert_eq!(p["iss"], g.endpoints.issuer);
    assert!(!p.contains_key("code"));
}

#[tokio::test]
async fn plain_pkce_is_refused() {
    let g = shared();
    let client = code_client(g, &[]);
    let page = Browser::default()
        .get(&authorize_url(
            g,
            &client,
            &[
                ("code_challenge", VERIFIER),
                ("code_challenge_method", "plain"),
            ],
        ))
        .await;
    assert_eq!(page.status, 302);
    let p = page.redirect_params();
    assert_eq!(p["error"], "invalid_request");
    assert!(p["error_description"].contains("S256"), "{p:?}");
}

#[tokio::test]
async fn a_wrong_verifier_after_a_real_authorize_is_refused() {
    let g = shared();
    let client = code_client(g, &[]);
    let user = g.new_user("authzv");
    let done = sign_in_fresh(g, &mut Browser::default(), &client, &user).await;
    let code = done.redirect_params()["code"].clone();
    let wrong = "x".repeat(43);
    let (status, body) = exchange(g, &client, &code, &wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_replayed_code_from_authorize_is_refused_and_revokes_what_it_issued() {
    let g = shared();
    let client = code_client(g, &[]);
    let user = g.new_user("authzr");
    let done = sign_in_fresh(g, &mut Browser::default(), &client, &user).await;
    let code = done.redirect_params()["code"].clone();
    let (status, first) = exchange(g, &client, &code, VERIFIER).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = exchange(g, &client, &code, VERIFIER).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let refresh = first["refresh_token"].as_str().unwrap();
    let resp = send(
        "POST",
        &format!("{}/oauth2/token", g.endpoints.idp),
        &[("content-type", "application/x-www-form-urlencoded")],
        format!(
            "grant_type=refresh_token&client_id={client}&refresh_token={}",
            encode(refresh)
        ),
    )
    .await;
    assert_eq!(
        resp.status().as_u16(),
        400,
        "the first redemption's refresh token is revoked"
    );
}

#[tokio::test]
async fn a_redirect_uri_mismatch_shows_an_error_page_and_never_redirects() {
    let g = shared();
    let client = code_client(g, &[]);
    for uri in [
        "https://evil.example.com/cb",
        "https://app.example.com/cb/",
        "https://app.example.com/cb?x=1",
    ] {
        let page = Browser::default()
            .get(&authorize_url(g, &client, &[("redirect_uri", uri)]))
            .await;
        assert_eq!(page.status, 400, "{uri}");
        assert!(page.location().is_none(), "{uri}: no Location header");
        assert!(page.body.contains("role=\"alert\""));
        assert!(page.body.contains("redirect_uri"));
    }
    let missing = Browser::default()
        .get(&authorize_url(g, &client, &[("redirect_uri", "")]))
        .await;
    assert_eq!(missing.status, 400);
    assert!(missing.location().is_none());
}

#[tokio::test]
async fn an_unknown_client_is_never_redirected() {
    let g = shared();
    let page = Browser::default()
        .get(&authorize_url(g, "nosuchclient0000000000000", &[]))
        .await;
    assert_eq!(page.status, 400);
    assert!(page.location().is_none());
    assert!(page.body.contains("no such client"), "{}", page.body);
}

#[tokio::test]
async fn scope_escalation_is_refused_by_a_redirect() {
    let g = shared();
    let client = code_client(g, &[]);
    let page = Browser::default()
        .get(&authorize_url(
            g,
            &client,
            &[("scope", "openid aws.cognito.signin.user.admin")],
        ))
        .await;
    assert_eq!(page.status, 302);
    let p = page.redirect_params();
    assert_eq!(p["error"], "invalid_scope");
    assert!(p["error_description"].contains("aws.cognito.signin.user.admin"));
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    let g = shared();
    let client = code_client(g, &[]);
    let page = Browser::default()
        .get(&authorize_url(g, &client, &[("prompt", "none")]))
        .await;
    assert_eq!(page.status, 302, "{}", page.body);
    let p = page.redirect_params();
    assert_eq!(p["error"], "login_required");
    assert_eq!(p["state"], "st-1 &x");
    assert_eq!(p["iss"], g.endpoints.issuer);
}

#[tokio::test]
async fn prompt_login_with_a_session_shows_the_form() {
    let g = shared();
    let client = code_client(g, &[]);
    let user = g.new_user("authzp");
    let mut b = Browser::default();
    let done = sign_in_fresh(g, &mut b, &client, &user).await;
    assert_eq!(done.status, 303);
    assert!(b.cookies.contains_key("gatehouse_sso"));
    let page = b
        .get(&authorize_url(g, &client, &[("prompt", "login")]))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"password\""));
    assert!(page.location().is_none());
}

#[tokio::test]
async fn an_unsupported_response_type_is_refused_by_a_redirect() {
    let g = shared();
    let client = code_client(g, &[]);
    let page = Browser::default()
        .get(&authorize_url(g, &client, &[("response_type", "token")]))
        .await;
    assert_eq!(page.status, 302);
    assert_eq!(page.redirect_params()["error"], "unsupported_response_type");
}

#[tokio::test]
async fn a_resource_is_carried_into_the_code_and_an_unknown_one_is_refused() {
    let g = shared();
    let api = g.resource_server("authz", &["read:Read"]);
    let scope = format!("openid {api}/read");
    let client = code_client(g, &["--oauth-scopes", &scope]);
    let user = g.new_user("authzres");
    let mut b = Browser::default();
    let form = b
        .get(&authorize_url(
            g,
            &client,
            &[("scope", &scope), ("resource", &api)],
        ))
        .await;
    assert_eq!(form.status, 200, "{}", form.body);
    let done = b.sign_in(g, &form, &user, password()).await;
    let (status, body) = exchange(g, &client, &done.redirect_params()["code"], VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    let access = claims(&body["access_token"]);
    assert_eq!(access["aud"], api.as_str());
    assert_eq!(access["scope"], scope.as_str());
    let page = Browser::default()
        .get(&authorize_url(
            g,
            &client,
            &[("scope", &scope), ("resource", "https://other.example.com")],
        ))
        .await;
    assert_eq!(page.redirect_params()["error"], "invalid_target");
}
