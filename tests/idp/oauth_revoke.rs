//! `POST /oauth2/revoke` (RFC 7009) over real sockets: a refresh token's family is revoked (the token stops
//! refreshing), an unknown token answers 200, an access token is `unsupported_token_type`, another client's
//! token is refused, and failed client authentication is 401 with `WWW-Authenticate: Basic`.
use serde_json::{json, Value};

use crate::common::{body_text, cognito, send, shared, Gatehouse};

async fn revoke(g: &Gatehouse, form: String) -> (u16, http::HeaderMap, String) {
    let resp = send(
        "POST",
        &format!("{}/oauth2/revoke", g.endpoints.idp),
        &[("content-type", "application/x-www-form-urlencoded")],
        form,
    )
    .await;
    let status = resp.status().as_u16();
    let h = resp.headers().clone();
    (status, h, body_text(resp).await)
}

fn error_of(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_revoked_refresh_token_stops_refreshing() {
    let g = shared();
    let user = g.new_user("revoke");
    let auth = g.login(&user).await;
    let refresh = auth["RefreshToken"].as_str().unwrap();
    let client = &g.endpoints.client_id;

    let (status, _, body) = revoke(
        g,
        format!(
            "client_id={client}&token={}",
            auth["AccessToken"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(
        (status, error_of(&body).as_str()),
        (400, "unsupported_token_type"),
        "{body}"
    );

    let (status, h, body) = revoke(g, format!("client_id={client}&token={refresh}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(h["cache-control"], "no-store");
    let (status, body) = cognito(
        &g.endpoints.idp,
        "InitiateAuth",
        &json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": client, "AuthParameters": {"REFRESH_TOKEN": refresh}}),
    )
    .await;
    assert_eq!(status, 400, "the revoked token no longer refreshes: {body}");
    assert_eq!(body["__type"], "NotAuthorizedException");

    let (status, _, body) =
        revoke(g, format!("client_id={client}&token=unknown-token-value")).await;
    assert_eq!(
        status, 200,
        "an unknown token is as revoked as it gets: {body}"
    );
}

#[tokio::test]
async fn another_clients_token_and_failed_client_authentication_are_refused() {
    let g = shared();
    let user = g.new_user("revoke2");
    let auth = g.login(&user).await;
    let refresh = auth["RefreshToken"].as_str().unwrap();
    let (other, secret) = g.create_client(&["--secret"]);
    let secret = secret.unwrap();
    let (status, _, body) = revoke(
        g,
        format!("client_id={other}&client_secret={secret}&token={refresh}"),
    )
    .await;
    assert_eq!(
        (status, error_of(&body).as_str()),
        (400, "unauthorized_client"),
        "{body}"
    );
    let (status, h, body) = revoke(
        g,
        format!("client_id={other}&client_secret=wrong&token={refresh}"),
    )
    .await;
    assert_eq!(
        (status, error_of(&body).as_str()),
        (401, "invalid_client"),
        "{body}"
    );
    assert!(h["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    let (status, _, body) = revoke(g, format!("client_id={other}&client_secret={secret}")).await;
    assert_eq!(
        (status, error_of(&body).as_str()),
        (400, "invalid_request"),
        "{body}"
    );
    // The token still works for its own client.
    let (status, body) = cognito(
        &g.endpoints.idp,
        "InitiateAuth",
        &json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": g.endpoints.client_id, "AuthParameters": {"REFRESH_TOKEN": refresh}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
