//! The `refresh_token` grant at `POST /oauth2/token`: Cognito's refresh itself (new access and ID tokens; with
//! the client's rotation, a new refresh token that works in turn), refused for an unknown token, another
//! client's token and a scope the token was not granted.
use serde_json::{json, Value};

use crate::common::{body_text, cognito, password, send, shared, Gatehouse};

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

#[tokio::test]
async fn a_refresh_token_from_a_sign_in_refreshes_at_the_token_endpoint() {
    let g = shared();
    let user = g.new_user("oauthrefresh");
    let auth = g.login(&user).await;
    let refresh = auth["RefreshToken"].as_str().unwrap();
    let client = &g.endpoints.client_id;
    let (status, body) = token(
        g,
        format!("grant_type=refresh_token&client_id={client}&refresh_token={refresh}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        body.get("refresh_token").is_none(),
        "no rotation: no new refresh token"
    );
    let access = gatehouse::token::jws::parse(body["access_token"].as_str().unwrap()).unwrap();
    let id = gatehouse::token::jws::parse(body["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(access.payload["username"], user.as_str());
    assert_eq!(id.payload["cognito:username"], user.as_str());

    for (form, want) in [
        (
            format!("grant_type=refresh_token&client_id={client}&refresh_token=nope"),
            "invalid_grant",
        ),
        (
            format!("grant_type=refresh_token&client_id={client}"),
            "invalid_request",
        ),
        (
            format!(
                "grant_type=refresh_token&client_id={client}&refresh_token={refresh}&scope=openid"
            ),
            "invalid_scope",
        ),
    ] {
        let (status, body) = token(g, form.clone()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(want)),
            "{form}: {body}"
        );
    }
    // Another (confidential) client cannot use this client's token.
    let (other, secret) = g.create_client(&["--secret"]);
    let form = format!(
        "grant_type=refresh_token&client_id={other}&client_secret={}&refresh_token={refresh}",
        secret.unwrap()
    );
    let (status, body) = token(g, form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

#[tokio::test]
async fn a_rotating_client_gets_a_new_refresh_token_that_works_in_turn() {
    let g = shared();
    let user = g.new_user("oauthrotate");
    let (client, _) = g.create_client(&["--rotation", "--grace-period", "0"]);
    let (status, body) = cognito(
        &g.endpoints.idp,
        "InitiateAuth",
        &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                "AuthParameters": {"USERNAME": user, "PASSWORD": password()}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let first = body["AuthenticationResult"]["RefreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = token(
        g,
        format!("grant_type=refresh_token&client_id={client}&refresh_token={first}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let second = body["refresh_token"]
        .as_str()
        .expect("rotation returns a new refresh token")
        .to_string();
    assert_ne!(second, first);
    let (status, body) = token(
        g,
        format!("grant_type=refresh_token&client_id={client}&refresh_token={second}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
