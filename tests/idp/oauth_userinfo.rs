//! `GET|POST /oauth2/userInfo` over real sockets: the user's claims for an access token with `openid` (only the
//! claims its scopes allow), 403 `insufficient_scope` without `openid`, 401 `invalid_token` for a forged,
//! missing or revoked token — each with its RFC 6750 `WWW-Authenticate` challenge.
use serde_json::{json, Value};

use crate::common::{body_text, cognito, password, send, shared, Gatehouse};

async fn userinfo(
    g: &Gatehouse,
    method: &str,
    token: Option<&str>,
) -> (u16, http::HeaderMap, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    let resp = send(
        method,
        &format!("{}/oauth2/userInfo", g.endpoints.idp),
        &headers,
        String::new(),
    )
    .await;
    let status = resp.status().as_u16();
    let h = resp.headers().clone();
    (
        status,
        h,
        serde_json::from_str(&body_text(resp).await).unwrap_or(Value::Null),
    )
}

async fn sign_in(g: &Gatehouse, client: &str, user: &str) -> Value {
    let (status, body) = cognito(
        &g.endpoints.idp,
        "InitiateAuth",
        &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                "AuthParameters": {"USERNAME": user, "PASSWORD": password()}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["AuthenticationResult"].clone()
}

#[tokio::test]
async fn userinfo_returns_the_claims_the_tokens_scopes_allow() {
    let g = shared();
    let user = g.new_user("userinfo");
    let (client, _) = g.create_client(&["--scopes", "openid email"]);
    let auth = sign_in(g, &client, &user).await;
    let access = auth["AccessToken"].as_str().unwrap();
    let sub = gatehouse::token::jws::parse(access).unwrap().payload["sub"].clone();
    for method in ["GET", "POST"] {
        let (status, h, body) = userinfo(g, method, Some(access)).await;
        assert_eq!(status, 200, "{method}: {body}");
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(body["sub"], sub);
        assert_eq!(body["username"], user.as_str());
        assert_eq!(
            body["email"],
            format!("{user}@example.com").as_str(),
            "{body}"
        );
        assert!(body.get("email_verified").is_some(), "{body}");
    }

    // The default client's tokens carry aws.cognito.signin.user.admin only: no openid, no userinfo.
    let token = g.access_token(&user).await;
    let (status, h, body) = userinfo(g, "GET", Some(&token)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope")),
        "{body}"
    );
    assert!(h["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
}

#[tokio::test]
async fn userinfo_refuses_a_missing_forged_or_revoked_token() {
    let g = shared();
    let user = g.new_user("userinfo2");
    let (client, _) = g.create_client(&["--scopes", "openid"]);
    let auth = sign_in(g, &client, &user).await;
    let access = auth["AccessToken"].as_str().unwrap().to_string();

    let (status, h, _) = userinfo(g, "GET", None).await;
    assert_eq!(status, 401);
    assert!(h["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    // A flipped signature byte.
    let mut forged = access.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let (status, h, body) = userinfo(g, "GET", Some(std::str::from_utf8(&forged).unwrap())).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    assert!(h["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));

    let (status, _, body) = userinfo(g, "GET", Some(&access)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("email").is_none(),
        "openid alone does not release the e-mail: {body}"
    );
    let resp = send(
        "POST",
        &format!("{}/oauth2/revoke", g.endpoints.idp),
        &[("content-type", "application/x-www-form-urlencoded")],
        format!(
            "client_id={client}&token={}",
            auth["RefreshToken"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    let (status, _, body) = userinfo(g, "GET", Some(&access)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "a revoked token: {body}"
    );
}
