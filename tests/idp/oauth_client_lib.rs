//! A real, widely used OAuth 2 / OpenID Connect client library against gatehouse: openid-client (installed by
//! scripts/test into tests/oauth-js/) discovers the issuer, runs the client-credentials grant with a resource
//! indicator, refreshes a sign-in's refresh token and reads userinfo, and runs the authorization code flow with
//! PKCE through the hosted sign-in page, then refresh and userinfo with its tokens. Owns no production code.
use serde_json::json;

use crate::common::{cognito, node_driver, password, shared};

#[tokio::test]
async fn openid_client_runs_client_credentials_refresh_userinfo_and_the_code_flow() {
    let dir = node_driver::driver_dir("oauth-js", "openid-client");
    let g = shared();
    let api = g.resource_server("lib", &["read:Read"]);
    let scope = format!("{api}/read");
    let (m2m, secret) = g.create_client(&[
        "--secret",
        "--oauth-flows",
        "client_credentials",
        "--oauth-scopes",
        &scope,
    ]);
    let (app, _) = g.create_client(&["--scopes", "openid email aws.cognito.signin.user.admin"]);
    let user = g.new_user("oidclib");
    let (status, body) = cognito(
        &g.endpoints.idp,
        "InitiateAuth",
        &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": app,
                "AuthParameters": {"USERNAME": user, "PASSWORD": password()}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let refresh = body["AuthenticationResult"]["RefreshToken"]
        .as_str()
        .unwrap()
        .to_string();

    let callback = "https://app.example.com/cb";
    let (web, _) = g.create_client(&[
        "--oauth-flows",
        "code",
        "--callback-url",
        callback,
        "--oauth-scopes",
        "openid email",
    ]);
    let secret = secret.unwrap();
    let env = [
        ("CODE_APP_ID", web.as_str()),
        ("CALLBACK", callback),
        ("USERNAME", user.as_str()),
        ("ISSUER", g.endpoints.issuer.as_str()),
        ("M2M_ID", m2m.as_str()),
        ("M2M_SECRET", secret.as_str()),
        ("SCOPE", scope.as_str()),
        ("RESOURCE", api.as_str()),
        ("APP_ID", app.as_str()),
    ];
    let secrets = json!({"refresh": refresh, "password": password()}).to_string();
    let report = node_driver::run(&dir, "drive.mjs", &env, &secrets).await;
    assert_eq!(report["discovered_issuer"], g.endpoints.issuer.as_str());
    let cc = &report["client_credentials"];
    assert_eq!(
        cc["token_type"]
            .as_str()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("bearer"),
        "{report}"
    );
    assert_eq!(cc["sub"], m2m.as_str());
    assert_eq!(cc["scope"], scope.as_str());
    assert_eq!(cc["aud"], api.as_str());
    assert_eq!(cc["id_token"], false);
    assert_eq!(report["refresh"]["access_token"], true, "{report}");
    assert_eq!(report["refresh"]["username"], user.as_str(), "{report}");
    let sub = report["refresh"]["id_sub"].clone();
    assert_eq!(report["userinfo"]["sub"], sub, "{report}");
    assert_eq!(report["userinfo"]["username"], user.as_str());
    assert_eq!(
        report["userinfo"]["email"],
        format!("{user}@example.com").as_str()
    );
    assert_eq!(
        report["authorization_endpoint"],
        format!("{}/oauth2/authorize", g.endpoints.idp).as_str()
    );
    assert_eq!(report["login_status"], 303, "{report}");
    let code = &report["code"];
    assert_eq!(code["id_sub"], sub, "{report}");
    assert_eq!(code["username"], user.as_str());
    assert_eq!(code["nonce"], true);
    assert_eq!(code["at_hash"], true);
    assert_eq!(code["sso_cookie"], true);
    assert_eq!(report["code_refresh"]["access_token"], true, "{report}");
    assert_eq!(report["code_refresh"]["id_sub"], sub);
    assert_eq!(report["code_userinfo"]["sub"], sub);
    assert_eq!(
        report["code_userinfo"]["email"],
        format!("{user}@example.com").as_str()
    );
}
