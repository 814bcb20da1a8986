//! `POST /oauth2/token` over real sockets: the client-credentials grant (Basic and post client authentication,
//! Cognito's token shape — the client as subject, no ID or refresh token), every refusal with its RFC 6749
//! error body (failed client authentication: 401 + `WWW-Authenticate: Basic`; a public client; scope
//! escalation; unknown grants, resources and malformed bodies), and the RFC 8414 metadata.
use base64::Engine as _;
use serde_json::Value;

use crate::common::{body_text, send, shared, Gatehouse};

/// A resource server with scopes `read` and `write`, and a confidential client-credentials client allowed
/// `read`: (identifier, client id, secret).
fn m2m(g: &Gatehouse) -> (String, String, String) {
    let api = g.resource_server("api", &["read:Read", "write:Write"]);
    let read = format!("{api}/read");
    let (id, secret) = g.create_client(&[
        "--secret",
        "--oauth-flows",
        "client_credentials",
        "--oauth-scopes",
        &read,
    ]);
    (api, id, secret.unwrap())
}

/// POSTs a form to `/oauth2/token`; (status, headers, JSON body).
async fn token(
    g: &Gatehouse,
    basic: Option<(&str, &str)>,
    form: &str,
) -> (u16, http::HeaderMap, Value) {
    let auth = basic.map(|(id, s)| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{s}"))
        )
    });
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if let Some(a) = &auth {
        headers.push(("authorization", a));
    }
    let resp = send(
        "POST",
        &format!("{}/oauth2/token", g.endpoints.idp),
        &headers,
        form.to_string(),
    )
    .await;
    let status = resp.status().as_u16();
    let h = resp.headers().clone();
    let text = body_text(resp).await;
    (
        status,
        h,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn client_credentials_mints_a_token_with_the_client_as_subject() {
    let g = shared();
    let (api, id, secret) = m2m(g);
    let (status, h, body) = token(g, Some((&id, &secret)), "grant_type=client_credentials").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(
        body.get("id_token").is_none() && body.get("refresh_token").is_none(),
        "{body}"
    );
    let t = gatehouse::token::jws::parse(body["access_token"].as_str().unwrap()).unwrap();
    let c = &t.payload;
    assert_eq!(c["sub"], id.as_str());
    assert_eq!(c["client_id"], id.as_str());
    assert_eq!(c["token_use"], "access");
    assert_eq!(c["scope"], format!("{api}/read").as_str());
    assert_eq!(c["iss"], g.endpoints.issuer.as_str());
    assert!(c.contains_key("auth_time") && c.contains_key("jti"));
    assert!(
        !c.contains_key("username") && !c.contains_key("aud"),
        "{c:?}"
    );

    // client_secret_post, an explicit scope and a resource indicator: aud is the resource.
    let form = format!(
        "grant_type=client_credentials&client_id={id}&client_secret={secret}&scope={}&resource={}",
        enc(&format!("{api}/read")),
        enc(&api)
    );
    let (status, _, body) = token(g, None, &form).await;
    assert_eq!(status, 200, "{body}");
    let t = gatehouse::token::jws::parse(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(t.payload["aud"], api.as_str());
}

#[tokio::test]
async fn failed_client_authentication_is_401_with_www_authenticate_basic() {
    let g = shared();
    let (_, id, secret) = m2m(g);
    for (basic, form) in [
        (
            Some((id.as_str(), "wrong")),
            "grant_type=client_credentials".to_string(),
        ),
        (
            None,
            format!("grant_type=client_credentials&client_id={id}&client_secret=wrong"),
        ),
        (
            None,
            format!("grant_type=client_credentials&client_id={id}"),
        ),
        (
            Some(("nosuchclient", secret.as_str())),
            "grant_type=client_credentials".to_string(),
        ),
    ] {
        let (status, h, body) = token(g, basic, &form).await;
        assert_eq!(status, 401, "{form}: {body}");
        assert_eq!(body["error"], "invalid_client");
        assert!(
            h["www-authenticate"].to_str().unwrap().starts_with("Basic"),
            "{h:?}"
        );
        assert!(!body.to_string().contains(&secret));
    }
    // Both methods at once is a malformed request.
    let form = format!("grant_type=client_credentials&client_secret={secret}");
    let (status, _, body) = token(g, Some((&id, &secret)), &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn client_credentials_from_a_public_client_or_beyond_its_scopes_is_refused() {
    let g = shared();
    let (api, id, secret) = m2m(g);
    // The pool's default client is public: it authenticates by id alone, and may not use this grant.
    let form = format!(
        "grant_type=client_credentials&client_id={}",
        g.endpoints.client_id
    );
    let (status, _, body) = token(g, None, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    // A confidential client without the flow.
    let (plain, plain_secret) = g.create_client(&["--secret"]);
    let (status, _, body) = token(
        g,
        Some((&plain, &plain_secret.unwrap())),
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    // Scope escalation: a scope of the same server the client was not given, and an OpenID scope.
    for scope in [format!("{api}/write"), format!("{api}/read openid")] {
        let form = format!("grant_type=client_credentials&scope={}", enc(&scope));
        let (status, _, body) = token(g, Some((&id, &secret)), &form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_scope")),
            "{scope}: {body}"
        );
    }
    // A resource that is no resource server.
    let form = "grant_type=client_credentials&resource=https%3A%2F%2Fevil.example.com";
    let (status, _, body) = token(g, Some((&id, &secret)), form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target")),
        "{body}"
    );
}

#[tokio::test]
async fn malformed_token_requests_get_rfc_6749_errors() {
    let g = shared();
    let (_, id, secret) = m2m(g);
    let cases = [
        (
            "grant_type=password&username=a&password=b",
            "unsupported_grant_type",
        ),
        ("", "invalid_request"),
        (
            "grant_type=client_credentials&grant_type=client_credentials",
            "invalid_request",
        ),
    ];
    for (form, want) in cases {
        let (status, h, body) = token(g, Some((&id, &secret)), form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(want)),
            "{form}: {body}"
        );
        assert!(body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
        assert_eq!(h["cache-control"], "no-store");
    }
    let resp = send(
        "POST",
        &format!("{}/oauth2/token", g.endpoints.idp),
        &[("content-type", "application/json")],
        r#"{"grant_type":"client_credentials"}"#.to_string(),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = serde_json::from_str(&body_text(resp).await).unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn authorization_server_metadata_lists_what_is_served() {
    let g = shared();
    let pool = g.endpoints.issuer.rsplit('/').next().unwrap().to_string();
    for path in [
        format!(
            "{}/.well-known/oauth-authorization-server/{pool}",
            g.endpoints.idp
        ),
        format!(
            "{}/.well-known/oauth-authorization-server",
            g.endpoints.issuer
        ),
        format!("{}/.well-known/openid-configuration", g.endpoints.issuer),
    ] {
        let resp = send("GET", &path, &[], String::new()).await;
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let doc: Value = serde_json::from_str(&body_text(resp).await).unwrap();
        assert_eq!(doc["issuer"], g.endpoints.issuer.as_str());
        assert_eq!(
            doc["token_endpoint"],
            format!("{}/oauth2/token", g.endpoints.idp).as_str()
        );
        assert_eq!(
            doc["revocation_endpoint"],
            format!("{}/oauth2/revoke", g.endpoints.idp).as_str()
        );
        assert_eq!(
            doc["grant_types_supported"],
            serde_json::json!(["authorization_code", "client_credentials", "refresh_token"])
        );
        assert_eq!(
            doc["token_endpoint_auth_methods_supported"],
            serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
        );
        assert_eq!(
            doc["authorization_endpoint"],
            format!("{}/oauth2/authorize", g.endpoints.idp).as_str()
        );
        assert_eq!(
            doc["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            doc["prompt_values_supported"],
            serde_json::json!(["none", "login"])
        );
        assert!(doc["scopes_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "openid"));
    }
    let resp = send(
        "GET",
        &format!(
            "{}/.well-known/oauth-authorization-server/us-east-1_nope",
            g.endpoints.idp
        ),
        &[],
        String::new(),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn repeated_failed_client_authentication_is_throttled_per_client() {
    // Its own instance: the failures count against the address too, which the shared instance's other tests use.
    let own = Gatehouse::start();
    let g = &own;
    let (_, id, secret) = m2m(g);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (status, _, _) = token(g, Some((&id, "wrong")), "grant_type=client_credentials").await;
        statuses.push(status);
    }
    assert_eq!(statuses[..5], [401; 5], "{statuses:?}");
    assert_eq!(
        statuses[5], 429,
        "the sixth failure within the window is throttled: {statuses:?}"
    );
    // Throttled even with the right secret: guessing cannot go on.
    let (status, _, body) = token(g, Some((&id, &secret)), "grant_type=client_credentials").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("slow_down")),
        "{body}"
    );
}
