//! The Cognito wire protocol of the built-in IdP.
use serde_json::json;

use crate::common::{body_text, cognito, password, send, shared};

#[tokio::test]
async fn tokens_carry_cognitos_claims_and_a_kid() {
    let g = shared();
    let user = g.new_user("claims");
    let auth = g.login(&user).await;
    assert_eq!(auth["TokenType"], "Bearer");
    assert_eq!(auth["ExpiresIn"], 3600);
    assert!(auth["RefreshToken"]
        .as_str()
        .is_some_and(|t| t.len() >= 40 && !t.contains(' ')));
    let access = gatehouse::token::jws::parse(auth["AccessToken"].as_str().unwrap()).unwrap();
    assert!(!access.header.kid.is_empty());
    let a = &access.payload;
    for k in [
        "sub",
        "iss",
        "client_id",
        "token_use",
        "scope",
        "auth_time",
        "exp",
        "iat",
        "jti",
        "origin_jti",
        "username",
    ] {
        assert!(a.contains_key(k), "access token lacks {k}");
    }
    assert_eq!(a["token_use"], "access");
    assert_eq!(a["iss"], g.endpoints.issuer.as_str());
    assert_eq!(a["client_id"], g.endpoints.client_id.as_str());
    assert_eq!(a["scope"], "aws.cognito.signin.user.admin");
    assert_eq!(a["username"], user.as_str());
    assert!(!a.contains_key("aud"));
    let id = gatehouse::token::jws::parse(auth["IdToken"].as_str().unwrap())
        .unwrap()
        .payload;
    assert_eq!(id["token_use"], "id");
    assert_eq!(id["aud"], g.endpoints.client_id.as_str());
    assert_eq!(id["cognito:username"], user.as_str());
    assert_eq!(id["email"], format!("{user}@example.com"));
    assert_eq!(id["sub"], a["sub"]);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_error() {
    let g = shared();
    let user = g.new_user("wrongpw");
    let attempt = |username: String, password: &'static str| {
        let idp = g.endpoints.idp.clone();
        let client = g.endpoints.client_id.clone();
        async move {
            cognito(
                &idp,
                "InitiateAuth",
                &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                "AuthParameters": {"USERNAME": username, "PASSWORD": password}}),
            )
            .await
        }
    };
    let (s1, b1) = attempt(user.clone(), "Wr0ng-password!").await;
    let (s2, b2) = attempt("nobody-at-all".into(), "Wr0ng-password!").await;
    assert_eq!((s1, s2), (400, 400));
    assert_eq!(b1, b2);
    assert_eq!(b1["__type"], "NotAuthorizedException");
    assert_eq!(b1["message"], "Incorrect username or password.");
    let (s3, _) = attempt(user, password()).await;
    assert_eq!(s3, 200);
}

#[tokio::test]
async fn bad_requests_get_cognito_errors() {
    let g = shared();
    let idp = &g.endpoints.idp;
    let (s, b) = cognito(idp, "InitiateAuth", &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "nosuchclient", "AuthParameters": {"USERNAME": "a", "PASSWORD": "b"}})).await;
    assert_eq!(
        (s, b["__type"].as_str().unwrap()),
        (400, "ResourceNotFoundException")
    );
    let (s, b) = cognito(idp, "InitiateAuth", &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": g.endpoints.client_id, "AuthParameters": {"USERNAME": "a"}})).await;
    assert_eq!(
        (s, b["__type"].as_str().unwrap()),
        (400, "InvalidParameterException")
    );
    assert!(b["message"].as_str().unwrap().contains("PASSWORD"));
    let (s, b) = cognito(
        idp,
        "InitiateAuth",
        &json!({"AuthFlow": "MAGIC", "ClientId": g.endpoints.client_id}),
    )
    .await;
    assert_eq!(
        (s, b["__type"].as_str().unwrap()),
        (400, "InvalidParameterException")
    );
    let (s, b) = cognito(idp, "NoSuchOperation", &json!({})).await;
    assert_eq!(
        (s, b["__type"].as_str().unwrap()),
        (400, "UnknownOperationException")
    );
    let resp = send(
        "POST",
        &format!("{idp}/"),
        &[(
            "x-amz-target",
            "AWSCognitoIdentityProviderService.InitiateAuth",
        )],
        "{not json",
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["x-amzn-errortype"], "SerializationException");
    let b: serde_json::Value = serde_json::from_str(&body_text(resp).await).unwrap();
    assert_eq!(b["__type"], "SerializationException");
    let resp = send("POST", &format!("{idp}/"), &[], "{}").await;
    assert_eq!(
        resp.status(),
        400,
        "a missing X-Amz-Target is a Cognito error, not a 404 page"
    );
}

#[tokio::test]
async fn discovery_and_jwks_match_the_tokens() {
    let g = shared();
    let e = &g.endpoints;
    let d: serde_json::Value =
        serde_json::from_str(&body_text(send("GET", &e.discovery_url, &[], "").await).await)
            .unwrap();
    assert_eq!(d["issuer"], e.issuer.as_str());
    assert_eq!(d["jwks_uri"], e.jwks_uri.as_str());
    let jwks: serde_json::Value =
        serde_json::from_str(&body_text(send("GET", &e.jwks_uri, &[], "").await).await).unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["e"], "AQAB");
    assert!(
        key.get("d").is_none() && key.get("p").is_none(),
        "private key material published"
    );
    let user = g.new_user("jwks");
    let token = g.access_token(&user).await;
    assert_eq!(
        gatehouse::token::jws::parse(&token).unwrap().header.kid,
        key["kid"].as_str().unwrap()
    );
    let other = send(
        "GET",
        &format!("{}/us-east-1_nope00000/.well-known/jwks.json", e.idp),
        &[],
        "",
    )
    .await;
    assert_eq!(other.status(), 400);
}

#[tokio::test]
async fn unknown_users_cost_about_the_same_time_as_known_ones() {
    let g = shared();
    let user = g.new_user("timing");
    let attempt = |username: String| {
        let idp = g.endpoints.idp.clone();
        let client = g.endpoints.client_id.clone();
        async move {
            let t = std::time::Instant::now();
            let (s, _) = cognito(
                &idp,
                "InitiateAuth",
                &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                        "AuthParameters": {"USERNAME": username, "PASSWORD": "Wr0ng-password!"}}),
            )
            .await;
            assert_eq!(s, 400);
            t.elapsed()
        }
    };
    let (mut known, mut unknown) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    // Four each: a fifth failure would lock the user out (and a locked-out answer costs no hashing).
    for i in 0..4 {
        known += attempt(user.clone()).await;
        unknown += attempt(format!("nobody-timing-{i}")).await;
    }
    let ratio = known.as_secs_f64() / unknown.as_secs_f64();
    assert!(
        (0.25..4.0).contains(&ratio),
        "known {known:?} vs unknown {unknown:?}: the hash work must not depend on the user existing"
    );
}
