//! SignUp, ConfirmSignUp, ResendConfirmationCode, ForgotPassword, ConfirmForgotPassword, ChangePassword, GetUser,
//! UpdateUserAttributes, DeleteUser, GlobalSignOut and confidential clients (SECRET_HASH), each success and each
//! documented refusal with Cognito's `__type`. Codes are read from `<data-dir>/outbox/`.
use serde_json::{json, Value};

use crate::common::{
    assert_refused, password, password2, secret_hash, shared, start_with_config, Gatehouse,
};

fn uname(prefix: &str) -> String {
    format!("{prefix}-{}", gatehouse::util::random_lower_alnum(8))
}

async fn sign_up(g: &Gatehouse, user: &str, pw: &str) -> (u16, Value) {
    g.idp(
        "SignUp",
        &json!({"ClientId": g.endpoints.client_id, "Username": user, "Password": pw,
                "UserAttributes": [{"Name": "email", "Value": format!("{user}@example.com")}]}),
    )
    .await
}

async fn confirm(g: &Gatehouse, user: &str, code: &str) -> (u16, Value) {
    g.idp(
        "ConfirmSignUp",
        &json!({"ClientId": g.endpoints.client_id, "Username": user, "ConfirmationCode": code}),
    )
    .await
}

fn wrong(code: &str) -> String {
    let d = (code.as_bytes()[0] - b'0' + 1) % 10;
    format!("{d}{}", &code[1..])
}

#[tokio::test]
async fn sign_up_confirm_and_sign_in() {
    let g = shared();
    let user = uname("signup");
    let (st, b) = sign_up(g, &user, password()).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["UserConfirmed"], false);
    assert_eq!(b["UserSub"].as_str().unwrap().len(), 36);
    assert_eq!(b["CodeDeliveryDetails"]["DeliveryMedium"], "EMAIL");
    assert_eq!(
        b["CodeDeliveryDetails"]["Destination"],
        format!("{}***@e***", &user[..1])
    );
    assert_refused(
        &g.password_auth(&g.endpoints.client_id, &user, password())
            .await,
        "UserNotConfirmedException",
    );
    let code = g.code_for(&format!("{user}@example.com"), 0);
    assert_refused(
        &confirm(g, &user, &wrong(&code)).await,
        "CodeMismatchException",
    );
    assert_eq!(confirm(g, &user, &code).await.0, 200);
    let (st, b) = g
        .password_auth(&g.endpoints.client_id, &user, password())
        .await;
    assert_eq!(st, 200, "{b}");
    let id = gatehouse::token::jws::parse(b["AuthenticationResult"]["IdToken"].as_str().unwrap())
        .unwrap()
        .payload;
    assert_eq!(id["email_verified"], true);
    // A code is single-use.
    assert_refused(&confirm(g, &user, &code).await, "NotAuthorizedException");
}

#[tokio::test]
async fn sign_up_refusals() {
    let g = shared();
    let user = uname("signupref");
    let r = sign_up(g, &user, "short").await;
    assert_refused(&r, "InvalidPasswordException");
    assert!(r.1["message"]
        .as_str()
        .unwrap()
        .starts_with("Password did not conform with policy"));
    let r = g
        .idp(
            "SignUp",
            &json!({"ClientId": g.endpoints.client_id, "Username": user, "Password": password()}),
        )
        .await;
    assert_refused(&r, "InvalidParameterException");
    assert_eq!(sign_up(g, &user, password()).await.0, 200);
    assert_refused(
        &sign_up(g, &user, password()).await,
        "UsernameExistsException",
    );
    assert_refused(
        &g.idp(
            "SignUp",
            &json!({"ClientId": "nosuchclient", "Username": "x", "Password": password()}),
        )
        .await,
        "ResourceNotFoundException",
    );
}

#[tokio::test]
async fn resend_confirmation_code_replaces_the_old_code() {
    let g = shared();
    let user = uname("resend");
    let email = format!("{user}@example.com");
    assert_eq!(sign_up(g, &user, password()).await.0, 200);
    let first = g.code_for(&email, 0);
    let (st, b) = g
        .idp(
            "ResendConfirmationCode",
            &json!({"ClientId": g.endpoints.client_id, "Username": user}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["CodeDeliveryDetails"]["AttributeName"], "email");
    let second = g.code_for(&email, 1);
    if first != second {
        assert_refused(&confirm(g, &user, &first).await, "CodeMismatchException");
    }
    assert_eq!(confirm(g, &user, &second).await.0, 200);
    assert_refused(
        &g.idp(
            "ResendConfirmationCode",
            &json!({"ClientId": g.endpoints.client_id, "Username": user}),
        )
        .await,
        "InvalidParameterException",
    );
}

#[tokio::test]
async fn too_many_wrong_codes_void_the_code() {
    let g = shared();
    let user = uname("attempts");
    assert_eq!(sign_up(g, &user, password()).await.0, 200);
    let code = g.code_for(&format!("{user}@example.com"), 0);
    for _ in 0..4 {
        assert_refused(
            &confirm(g, &user, &wrong(&code)).await,
            "CodeMismatchException",
        );
    }
    assert_refused(
        &confirm(g, &user, &wrong(&code)).await,
        "LimitExceededException",
    );
    assert_refused(&confirm(g, &user, &code).await, "ExpiredCodeException");
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    use gatehouse::clock::{Clock as _, SystemClock};
    let (_tmp, g) = start_with_config("[idp]\ncode_lifetime_secs = 1\n");
    let user = uname("expire");
    let t0 = SystemClock.now_unix();
    assert_eq!(sign_up(&g, &user, password()).await.0, 200);
    let code = g.code_for(&format!("{user}@example.com"), 0);
    crate::common::poll(
        std::time::Duration::from_secs(5),
        "the code to expire",
        || (SystemClock.now_unix() >= t0 + 3).then_some(()),
    );
    assert_refused(&confirm(&g, &user, &code).await, "ExpiredCodeException");
}

#[tokio::test]
async fn forgot_password_and_confirm_forgot_password() {
    let g = shared();
    let user = g.new_user("forgot");
    let email = format!("{user}@example.com");
    let before = g.login(&user).await;
    let (st, b) = g
        .idp(
            "ForgotPassword",
            &json!({"ClientId": g.endpoints.client_id, "Username": user}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["CodeDeliveryDetails"]["DeliveryMedium"], "EMAIL");
    let code = g.code_for(&email, 0);
    let cfp = |code: String, pw: &'static str| {
        let user = user.clone();
        async move {
            g.idp(
                "ConfirmForgotPassword",
                &json!({"ClientId": g.endpoints.client_id, "Username": user,
                        "ConfirmationCode": code, "Password": pw}),
            )
            .await
        }
    };
    assert_refused(&cfp(code.clone(), "weak").await, "InvalidPasswordException");
    assert_refused(
        &cfp(wrong(&code), password2()).await,
        "CodeMismatchException",
    );
    assert_eq!(cfp(code.clone(), password2()).await.0, 200);
    assert_refused(&cfp(code, password2()).await, "ExpiredCodeException");
    assert_refused(
        &g.password_auth(&g.endpoints.client_id, &user, password())
            .await,
        "NotAuthorizedException",
    );
    assert_eq!(
        g.password_auth(&g.endpoints.client_id, &user, password2())
            .await
            .0,
        200
    );
    // The reset revoked the sessions from before.
    assert_refused(
        &g.idp("GetUser", &json!({"AccessToken": before["AccessToken"]}))
            .await,
        "NotAuthorizedException",
    );
}

#[tokio::test]
async fn unknown_users_get_the_same_answers_as_known_ones() {
    let g = shared();
    let (st, b) = g
        .idp(
            "ForgotPassword",
            &json!({"ClientId": g.endpoints.client_id, "Username": "no-such-user-at-all"}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["CodeDeliveryDetails"]["DeliveryMedium"], "EMAIL");
    assert_refused(
        &g.idp(
            "ConfirmForgotPassword",
            &json!({"ClientId": g.endpoints.client_id, "Username": "no-such-user-at-all",
                    "ConfirmationCode": "123456", "Password": password()}),
        )
        .await,
        // Exactly what a known user who never asked for a code gets.
        "ExpiredCodeException",
    );
    assert_refused(
        &confirm(g, "no-such-user-at-all", "123456").await,
        "CodeMismatchException",
    );
}

#[tokio::test]
async fn get_user_and_update_user_attributes() {
    let g = shared();
    let user = g.new_user("getuser");
    let auth = g.login(&user).await;
    let token = auth["AccessToken"].clone();
    let (st, b) = g.idp("GetUser", &json!({"AccessToken": token})).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["Username"], user.as_str());
    let attrs = b["UserAttributes"].as_array().unwrap();
    assert!(attrs
        .iter()
        .any(|a| a["Name"] == "email" && a["Value"] == format!("{user}@example.com")));
    assert!(attrs.iter().any(|a| a["Name"] == "sub"));
    let (st, b) = g
        .idp(
            "UpdateUserAttributes",
            &json!({"AccessToken": token, "UserAttributes": [
                {"Name": "name", "Value": "Alice Example"}, {"Name": "locale", "Value": "en"}]}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (_, b) = g.idp("GetUser", &json!({"AccessToken": token})).await;
    let attrs = b["UserAttributes"].as_array().unwrap();
    assert!(attrs
        .iter()
        .any(|a| a["Name"] == "name" && a["Value"] == "Alice Example"));
    // No custom attribute is declared in this pool's configuration.
    assert_refused(
        &g.idp(
            "UpdateUserAttributes",
            &json!({"AccessToken": token, "UserAttributes": [{"Name": "custom:tenant", "Value": "t1"}]}),
        )
        .await,
        "InvalidParameterException",
    );
    assert_refused(
        &g.idp(
            "UpdateUserAttributes",
            &json!({"AccessToken": token, "UserAttributes": [{"Name": "sub", "Value": "x"}]}),
        )
        .await,
        "NotAuthorizedException",
    );
    assert_refused(
        &g.idp(
            "UpdateUserAttributes",
            &json!({"AccessToken": token, "UserAttributes": [{"Name": "shoe_size", "Value": "9"}]}),
        )
        .await,
        "InvalidParameterException",
    );
}

#[tokio::test]
async fn access_token_operations_refuse_bad_tokens() {
    let g = shared();
    let user = g.new_user("badtoken");
    let auth = g.login(&user).await;
    assert_refused(
        &g.idp("GetUser", &json!({})).await,
        "InvalidParameterException",
    );
    let r = g.idp("GetUser", &json!({"AccessToken": "a.b.c"})).await;
    assert_refused(&r, "NotAuthorizedException");
    assert_eq!(r.1["message"], "Invalid Access Token");
    // An ID token is not an access token.
    assert_refused(
        &g.idp("GetUser", &json!({"AccessToken": auth["IdToken"]}))
            .await,
        "NotAuthorizedException",
    );
}

#[tokio::test]
async fn change_password_refusals() {
    let g = shared();
    let user = g.new_user("chpw");
    let auth = g.login(&user).await;
    let call = |prev: &'static str, next: &'static str| {
        g.idp_owned(
            "ChangePassword",
            json!({"AccessToken": auth["AccessToken"], "PreviousPassword": prev, "ProposedPassword": next}),
        )
    };
    assert_refused(&call(password(), "weak").await, "InvalidPasswordException");
    let r = call(password2(), password2()).await;
    assert_refused(&r, "NotAuthorizedException");
    assert_eq!(r.1["message"], "Incorrect username or password.");
}

#[tokio::test]
async fn delete_user_removes_the_user_and_its_sessions() {
    let g = shared();
    let user = g.new_user("deleteme");
    let auth = g.login(&user).await;
    let (st, b) = g
        .idp("DeleteUser", &json!({"AccessToken": auth["AccessToken"]}))
        .await;
    assert_eq!(st, 200, "{b}");
    assert_refused(
        &g.password_auth(&g.endpoints.client_id, &user, password())
            .await,
        "NotAuthorizedException",
    );
    assert_refused(
        &g.idp("GetUser", &json!({"AccessToken": auth["AccessToken"]}))
            .await,
        "NotAuthorizedException",
    );
    let (ok, out) = g.cli(&["user", "list"], "");
    assert!(ok && !out.contains(&user), "{out}");
}

#[tokio::test]
async fn confidential_clients_require_a_correct_secret_hash() {
    let g = shared();
    let (client, secret) = g.create_client(&["--secret"]);
    let secret = secret.expect("a secret is printed once");
    let user = g.new_user("secret");
    let call = |hash: Option<String>| {
        let mut params = json!({"USERNAME": user, "PASSWORD": password()});
        if let Some(h) = hash {
            params["SECRET_HASH"] = json!(h);
        }
        g.idp_owned(
            "InitiateAuth",
            json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client, "AuthParameters": params}),
        )
    };
    let r = call(None).await;
    assert_refused(&r, "NotAuthorizedException");
    assert_eq!(
        r.1["message"],
        format!("Client {client} is configured for secret but secret was not received")
    );
    let r = call(Some(secret_hash("wrong-secret", &user, &client))).await;
    assert_eq!(
        r.1["message"],
        format!("Unable to verify secret hash for client {client}")
    );
    let (st, b) = call(Some(secret_hash(&secret, &user, &client))).await;
    assert_eq!(st, 200, "{b}");
    let rt = b["AuthenticationResult"]["RefreshToken"].clone();
    // GetTokensFromRefreshToken and RevokeToken take the plain ClientSecret.
    assert_refused(
        &g.idp(
            "GetTokensFromRefreshToken",
            &json!({"ClientId": client, "RefreshToken": rt}),
        )
        .await,
        "NotAuthorizedException",
    );
    let (st, _) = g
        .idp(
            "GetTokensFromRefreshToken",
            &json!({"ClientId": client, "RefreshToken": rt, "ClientSecret": secret}),
        )
        .await;
    assert_eq!(st, 200);
    // REFRESH_TOKEN_AUTH: SECRET_HASH over the internal username.
    let (st, b) = g
        .idp(
            "InitiateAuth",
            &json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": client, "AuthParameters":
                    {"REFRESH_TOKEN": rt, "SECRET_HASH": secret_hash(&secret, &user, &client)}}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    // SignUp on a confidential client needs SecretHash too.
    assert_refused(
        &g.idp(
            "SignUp",
            &json!({"ClientId": client, "Username": "x-secret-signup", "Password": password()}),
        )
        .await,
        "NotAuthorizedException",
    );
}

#[tokio::test]
async fn flows_not_enabled_for_a_client_are_refused() {
    let g = shared();
    let user = g.new_user("flows");
    let (srp_only, _) = g.create_client(&["--auth-flows", "ALLOW_USER_SRP_AUTH"]);
    let r = g.password_auth(&srp_only, &user, password()).await;
    assert_refused(&r, "InvalidParameterException");
    assert_eq!(
        r.1["message"],
        "USER_PASSWORD_AUTH flow not enabled for this client"
    );
    let (pw_only, _) = g.create_client(&["--auth-flows", "ALLOW_USER_PASSWORD_AUTH"]);
    let r = g
        .idp(
            "InitiateAuth",
            &json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": pw_only,
                    "AuthParameters": {"USERNAME": user, "SRP_A": "02"}}),
        )
        .await;
    assert_refused(&r, "InvalidParameterException");
    let (st, b) = g.password_auth(&pw_only, &user, password()).await;
    assert_eq!(st, 200);
    let r = g
        .idp(
            "InitiateAuth",
            &json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": pw_only,
                    "AuthParameters": {"REFRESH_TOKEN": b["AuthenticationResult"]["RefreshToken"]}}),
        )
        .await;
    assert_refused(&r, "InvalidParameterException");
    let (ok, out) = g.cli(
        &[
            "client",
            "create",
            "--name",
            "x",
            "--auth-flows",
            "ALLOW_MAGIC",
        ],
        "",
    );
    assert!(!ok && out.contains("--auth-flows"), "{out}");
}

#[tokio::test]
async fn refresh_token_is_an_alias_of_refresh_token_auth() {
    let g = shared();
    let user = g.new_user("alias");
    let auth = g.login(&user).await;
    let (st, b) = g
        .idp(
            "InitiateAuth",
            &json!({"AuthFlow": "REFRESH_TOKEN", "ClientId": g.endpoints.client_id,
                    "AuthParameters": {"REFRESH_TOKEN": auth["RefreshToken"]}}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert!(b["AuthenticationResult"]["AccessToken"].is_string());
}

#[tokio::test]
async fn unsupported_challenges_and_flows_are_refused() {
    let g = shared();
    assert_refused(
        &g.idp(
            "RespondToAuthChallenge",
            &json!({"ChallengeName": "SMS_MFA", "ClientId": g.endpoints.client_id, "ChallengeResponses": {}}),
        )
        .await,
        "InvalidParameterException",
    );
    assert_refused(
        &g.idp(
            "InitiateAuth",
            &json!({"AuthFlow": "ADMIN_USER_PASSWORD_AUTH", "ClientId": g.endpoints.client_id,
                    "AuthParameters": {}}),
        )
        .await,
        "InvalidParameterException",
    );
}

#[tokio::test]
async fn forgot_password_answers_alike_without_a_verified_address_or_when_disabled() {
    let g = shared();
    let no_email = format!("noemail-{}", gatehouse::util::random_lower_alnum(8));
    let (ok, out) = g.cli(
        &[
            "user",
            "create",
            "--username",
            &no_email,
            "--password-stdin",
        ],
        password(),
    );
    assert!(ok, "{out}");
    // No verified address and a disabled user: the same answer as anyone else (nothing is sent).
    let r = g
        .idp(
            "ForgotPassword",
            &json!({"ClientId": g.endpoints.client_id, "Username": no_email}),
        )
        .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(r.1["CodeDeliveryDetails"]["DeliveryMedium"], "EMAIL");
    let disabled = g.new_user("fpdisabled");
    assert!(g.cli(&["user", "disable", "--username", &disabled], "").0);
    let r = g
        .idp(
            "ForgotPassword",
            &json!({"ClientId": g.endpoints.client_id, "Username": disabled}),
        )
        .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert!(
        !g.dir.join("outbox").exists()
            || std::fs::read_dir(g.dir.join("outbox")).unwrap().all(|e| {
                !std::fs::read_to_string(e.unwrap().path())
                    .unwrap_or_default()
                    .contains(&format!("To: {disabled}@example.com"))
            }),
        "no code is sent to a disabled user"
    );
}

#[tokio::test]
async fn expired_tokens_and_tokens_without_the_sign_in_scope_are_refused() {
    let g = shared();
    let user = g.new_user("scopes");
    // A client whose access tokens lack aws.cognito.signin.user.admin.
    let (client, _) = g.create_client(&["--scopes", "demo/read"]);
    let (st, b) = g.password_auth(&client, &user, password()).await;
    assert_eq!(st, 200, "{b}");
    let r = g
        .idp(
            "GetUser",
            &json!({"AccessToken": b["AuthenticationResult"]["AccessToken"]}),
        )
        .await;
    assert_refused(&r, "NotAuthorizedException");
    assert_eq!(r.1["message"], "Access Token does not have required scopes");
    // An expired token signed with the pool's real key.
    let auth = g.login(&user).await;
    let mut claims = gatehouse::token::jws::parse(auth["AccessToken"].as_str().unwrap())
        .unwrap()
        .payload;
    let now = claims["iat"].as_i64().unwrap();
    claims.insert("iat".into(), json!(now - 7200));
    claims.insert("exp".into(), json!(now - 3600));
    let expired = g.signer().await.sign(&Value::Object(claims)).unwrap();
    let r = g.idp("GetUser", &json!({"AccessToken": expired})).await;
    assert_refused(&r, "NotAuthorizedException");
    assert_eq!(r.1["message"], "Access Token has expired");
}

#[tokio::test]
async fn sign_up_takes_standard_and_declared_custom_attributes_only() {
    let g = shared();
    let user = uname("attrs");
    let (st, b) = g
        .idp(
            "SignUp",
            &json!({"ClientId": g.endpoints.client_id, "Username": user, "Password": password(),
                    "UserAttributes": [{"Name": "email", "Value": format!("{user}@example.com")},
                                       {"Name": "phone_number", "Value": "+15555550100"}],
                    "ClientMetadata": {"k": "v"}, "ValidationData": []}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_refused(
        &g.idp(
            "SignUp",
            &json!({"ClientId": g.endpoints.client_id, "Username": uname("attrs"), "Password": password(),
                    "UserAttributes": [{"Name": "email", "Value": "x@example.com"}, {"Name": "sub", "Value": "x"}]}),
        )
        .await,
        "InvalidParameterException",
    );
    // An undeclared custom attribute is refused (declare it in [[idp.custom_attribute]]).
    assert_refused(
        &g.idp(
            "SignUp",
            &json!({"ClientId": g.endpoints.client_id, "Username": uname("attrs"), "Password": password(),
                    "UserAttributes": [{"Name": "email", "Value": "x@example.com"},
                                       {"Name": "custom:plan", "Value": "pro"}]}),
        )
        .await,
        "InvalidParameterException",
    );
}
