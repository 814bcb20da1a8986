//! Refresh tokens: REFRESH_TOKEN_AUTH, GetTokensFromRefreshToken with and without rotation, the grace period,
//! reuse detection, the races of security checklist section 12, RevokeToken, and refresh after GlobalSignOut,
//! password change and disable.
use serde_json::{json, Value};

use crate::common::{assert_refused, password, password2, poll, shared, Gatehouse};

async fn refresh_auth(g: &Gatehouse, client: &str, token: &str) -> (u16, Value) {
    g.idp(
        "InitiateAuth",
        &json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": client,
                "AuthParameters": {"REFRESH_TOKEN": token}}),
    )
    .await
}

async fn get_tokens(g: &Gatehouse, client: &str, token: &str) -> (u16, Value) {
    g.idp(
        "GetTokensFromRefreshToken",
        &json!({"ClientId": client, "RefreshToken": token}),
    )
    .await
}

async fn get_user(g: &Gatehouse, access: &str) -> (u16, Value) {
    g.idp("GetUser", &json!({"AccessToken": access})).await
}

async fn sign_in(g: &Gatehouse, client: &str, user: &str) -> Value {
    let (s, b) = g.password_auth(client, user, password()).await;
    assert_eq!(s, 200, "{b}");
    b["AuthenticationResult"].clone()
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap().to_string()
}

/// Waits until the wall clock is more than `secs` seconds past now (revocations and grace periods have
/// one-second resolution; a grace period of 0 still covers the rotation's second and the next).
fn seconds_pass(secs: i64) {
    let start = gatehouse::clock::Clock::now_unix(&gatehouse::clock::SystemClock);
    poll(
        std::time::Duration::from_secs(5),
        "the clock to move on",
        || {
            (gatehouse::clock::Clock::now_unix(&gatehouse::clock::SystemClock) > start + secs)
                .then_some(())
        },
    );
}

#[tokio::test]
async fn refresh_token_auth_returns_new_access_and_id_tokens_but_no_refresh_token() {
    let g = shared();
    let user = g.new_user("refresh");
    let auth = sign_in(g, &g.endpoints.client_id, &user).await;
    let (st, b) = refresh_auth(g, &g.endpoints.client_id, &s(&auth, "RefreshToken")).await;
    assert_eq!(st, 200, "{b}");
    let r = &b["AuthenticationResult"];
    assert!(r.get("RefreshToken").is_none());
    assert_ne!(r["AccessToken"], auth["AccessToken"]);
    let a = gatehouse::token::jws::parse(r["AccessToken"].as_str().unwrap())
        .unwrap()
        .payload;
    let a0 = gatehouse::token::jws::parse(auth["AccessToken"].as_str().unwrap())
        .unwrap()
        .payload;
    assert_eq!(a["origin_jti"], a0["origin_jti"]);
    assert_eq!(a["auth_time"], a0["auth_time"]);
    assert_eq!(get_user(g, r["AccessToken"].as_str().unwrap()).await.0, 200);
    // Without rotation, GetTokensFromRefreshToken works too and returns no refresh token.
    let (st, b) = get_tokens(g, &g.endpoints.client_id, &s(&auth, "RefreshToken")).await;
    assert_eq!(st, 200, "{b}");
    assert!(b["AuthenticationResult"].get("RefreshToken").is_none());
}

#[tokio::test]
async fn an_unknown_or_foreign_refresh_token_is_refused() {
    let g = shared();
    let user = g.new_user("refreshforeign");
    let auth = sign_in(g, &g.endpoints.client_id, &user).await;
    assert_refused(
        &refresh_auth(g, &g.endpoints.client_id, "not-a-token").await,
        "NotAuthorizedException",
    );
    let (other, _) = g.create_client(&[]);
    assert_refused(
        &refresh_auth(g, &other, &s(&auth, "RefreshToken")).await,
        "NotAuthorizedException",
    );
}

#[tokio::test]
async fn rotation_returns_a_new_refresh_token_each_time_and_refuses_refresh_token_auth() {
    let g = shared();
    let (client, _) = g.create_client(&["--rotation", "--grace-period", "60"]);
    let user = g.new_user("rotate");
    let auth = sign_in(g, &client, &user).await;
    let rt0 = s(&auth, "RefreshToken");
    assert_refused(
        &refresh_auth(g, &client, &rt0).await,
        "NotAuthorizedException",
    );
    let (st, b1) = get_tokens(g, &client, &rt0).await;
    assert_eq!(st, 200, "{b1}");
    let rt1 = s(&b1["AuthenticationResult"], "RefreshToken");
    assert_ne!(rt0, rt1);
    let (st, b2) = get_tokens(g, &client, &rt1).await;
    assert_eq!(st, 200, "{b2}");
    assert_ne!(s(&b2["AuthenticationResult"], "RefreshToken"), rt1);
    // Within the 60 s grace period the old token still works.
    let (st, _) = get_tokens(g, &client, &rt0).await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn reuse_after_the_grace_period_revokes_the_whole_family() {
    let g = shared();
    let (client, _) = g.create_client(&["--rotation", "--grace-period", "0"]);
    let user = g.new_user("reuse");
    let auth = sign_in(g, &client, &user).await;
    let rt0 = s(&auth, "RefreshToken");
    let (st, b1) = get_tokens(g, &client, &rt0).await;
    assert_eq!(st, 200);
    let rt1 = s(&b1["AuthenticationResult"], "RefreshToken");
    let access1 = s(&b1["AuthenticationResult"], "AccessToken");
    seconds_pass(gatehouse::idp::refresh::MIN_GRACE);
    assert_refused(
        &get_tokens(g, &client, &rt0).await,
        "RefreshTokenReuseException",
    );
    // The successor belongs to the same family: it is revoked too, and so are tokens minted from it.
    assert_refused(
        &get_tokens(g, &client, &rt1).await,
        "NotAuthorizedException",
    );
    let r = get_user(g, &access1).await;
    assert_refused(&r, "NotAuthorizedException");
    assert_eq!(r.1["message"], "Access Token has been revoked");
    assert_refused(
        &get_user(g, &s(&auth, "AccessToken")).await,
        "NotAuthorizedException",
    );
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_all_succeed_and_share_one_family() {
    let g = shared();
    let (client, _) = g.create_client(&["--rotation", "--grace-period", "10"]);
    let user = g.new_user("race");
    let auth = sign_in(g, &client, &user).await;
    let rt0 = s(&auth, "RefreshToken");
    let calls = (0..8).map(|_| get_tokens(g, &client, &rt0));
    let results = futures_util::future::join_all(calls).await;
    let mut successors = Vec::new();
    for (st, b) in &results {
        assert_eq!(*st, 200, "a concurrent refresh logged the user out: {b}");
        successors.push(s(&b["AuthenticationResult"], "RefreshToken"));
    }
    // Revoking one successor kills every other one: there is one family, not eight.
    let (st, b) = g
        .idp(
            "RevokeToken",
            &json!({"ClientId": client, "Token": successors[0]}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    for rt in &successors {
        assert_refused(&get_tokens(g, &client, rt).await, "NotAuthorizedException");
    }
}

#[tokio::test]
async fn same_second_double_refresh_with_zero_grace_does_not_log_out() {
    let g = shared();
    let (client, _) = g.create_client(&["--rotation", "--grace-period", "0"]);
    let user = g.new_user("double");
    let auth = sign_in(g, &client, &user).await;
    let rt0 = s(&auth, "RefreshToken");
    let (a, b) = tokio::join!(get_tokens(g, &client, &rt0), get_tokens(g, &client, &rt0));
    // Both succeed, even if they straddle a second boundary.
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    let rt1 = s(&a.1["AuthenticationResult"], "RefreshToken");
    assert_eq!(get_tokens(g, &client, &rt1).await.0, 200);
}

#[tokio::test]
async fn refresh_racing_revoke_never_leaves_a_live_token() {
    let g = shared();
    let user = g.new_user("revrace");
    for _ in 0..5 {
        let auth = sign_in(g, &g.endpoints.client_id, &user).await;
        let rt = s(&auth, "RefreshToken");
        let revoke = g.idp_owned(
            "RevokeToken",
            json!({"ClientId": g.endpoints.client_id, "Token": rt}),
        );
        let (refreshed, revoked) =
            tokio::join!(refresh_auth(g, &g.endpoints.client_id, &rt), revoke);
        assert_eq!(revoked.0, 200, "{revoked:?}");
        if refreshed.0 == 200 {
            let access = s(&refreshed.1["AuthenticationResult"], "AccessToken");
            assert_refused(&get_user(g, &access).await, "NotAuthorizedException");
        }
        assert_refused(
            &refresh_auth(g, &g.endpoints.client_id, &rt).await,
            "NotAuthorizedException",
        );
    }
}

#[tokio::test]
async fn revoke_token_ends_refresh_and_the_tokens_minted_from_it() {
    let g = shared();
    let user = g.new_user("revoke");
    let auth = sign_in(g, &g.endpoints.client_id, &user).await;
    let other = sign_in(g, &g.endpoints.client_id, &user).await;
    let rt = s(&auth, "RefreshToken");
    let (st, _) = g
        .idp(
            "RevokeToken",
            &json!({"ClientId": g.endpoints.client_id, "Token": rt}),
        )
        .await;
    assert_eq!(st, 200);
    let r = refresh_auth(g, &g.endpoints.client_id, &rt).await;
    assert_refused(&r, "NotAuthorizedException");
    assert_eq!(r.1["message"], "Refresh Token has been revoked");
    assert_refused(
        &get_user(g, &s(&auth, "AccessToken")).await,
        "NotAuthorizedException",
    );
    // Another sign-in of the same user is untouched.
    assert_eq!(get_user(g, &s(&other, "AccessToken")).await.0, 200);
    assert_eq!(
        refresh_auth(g, &g.endpoints.client_id, &s(&other, "RefreshToken"))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn revoke_token_refusals() {
    let g = shared();
    let user = g.new_user("revokeref");
    let auth = sign_in(g, &g.endpoints.client_id, &user).await;
    assert_refused(
        &g.idp(
            "RevokeToken",
            &json!({"ClientId": g.endpoints.client_id, "Token": s(&auth, "AccessToken")}),
        )
        .await,
        "UnsupportedTokenTypeException",
    );
    let (other, _) = g.create_client(&[]);
    assert_refused(
        &g.idp(
            "RevokeToken",
            &json!({"ClientId": other, "Token": s(&auth, "RefreshToken")}),
        )
        .await,
        "UnauthorizedException",
    );
    assert_refused(
        &g.idp("RevokeToken", &json!({"ClientId": g.endpoints.client_id}))
            .await,
        "InvalidParameterException",
    );
    assert_eq!(
        refresh_auth(g, &g.endpoints.client_id, &s(&auth, "RefreshToken"))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn refresh_fails_after_global_sign_out() {
    let g = shared();
    let user = g.new_user("gso");
    let auth = sign_in(g, &g.endpoints.client_id, &user).await;
    let (st, b) = g
        .idp(
            "GlobalSignOut",
            &json!({"AccessToken": s(&auth, "AccessToken")}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_refused(
        &refresh_auth(g, &g.endpoints.client_id, &s(&auth, "RefreshToken")).await,
        "NotAuthorizedException",
    );
    let r = get_user(g, &s(&auth, "AccessToken")).await;
    assert_eq!(r.1["message"], "Access Token has been revoked");
    // Signing in again works at once, and the new token is not caught by the revocation.
    let again = sign_in(g, &g.endpoints.client_id, &user).await;
    assert_eq!(get_user(g, &s(&again, "AccessToken")).await.0, 200);
}

#[tokio::test]
async fn refresh_fails_after_a_password_change() {
    let g = shared();
    let user = g.new_user("pwchange");
    let auth = sign_in(g, &g.endpoints.client_id, &user).await;
    let (st, b) = g
        .idp(
            "ChangePassword",
            &json!({"AccessToken": s(&auth, "AccessToken"), "PreviousPassword": password(),
                    "ProposedPassword": password2()}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_refused(
        &refresh_auth(g, &g.endpoints.client_id, &s(&auth, "RefreshToken")).await,
        "NotAuthorizedException",
    );
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
}

#[tokio::test]
async fn refresh_fails_when_the_user_is_disabled_and_works_again_when_enabled() {
    let g = shared();
    let user = g.new_user("disable");
    let auth = sign_in(g, &g.endpoints.client_id, &user).await;
    let (ok, out) = g.cli(&["user", "disable", "--username", &user], "");
    assert!(ok, "{out}");
    assert_refused(
        &refresh_auth(g, &g.endpoints.client_id, &s(&auth, "RefreshToken")).await,
        "NotAuthorizedException",
    );
    let r = g
        .password_auth(&g.endpoints.client_id, &user, password())
        .await;
    assert_refused(&r, "NotAuthorizedException");
    assert_eq!(r.1["message"], "User is disabled.");
    assert_refused(
        &get_user(g, &s(&auth, "AccessToken")).await,
        "NotAuthorizedException",
    );
    let (ok, out) = g.cli(&["user", "enable", "--username", &user], "");
    assert!(ok, "{out}");
    let again = sign_in(g, &g.endpoints.client_id, &user).await;
    assert_eq!(get_user(g, &s(&again, "AccessToken")).await.0, 200);
}
