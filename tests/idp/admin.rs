//! Administration from the CLI (users, clients, keys), NEW_PASSWORD_REQUIRED, key rotation, restarts,
//! throttling, CORS, discovery, the revocation rows the gateway polls, and SMTP delivery.
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;

use serde_json::{json, Value};

use crate::common::{
    assert_refused, body_text, password, password2, poll_async, send, shared, start_with_config,
    Gatehouse,
};

#[tokio::test]
async fn a_temporary_password_gets_new_password_required() {
    let g = shared();
    let user = format!("temp-{}", gatehouse::util::random_lower_alnum(8));
    let (ok, out) = g.cli(
        &[
            "user",
            "create",
            "--username",
            &user,
            "--email",
            "t@example.com",
            "--temporary",
            "--password-stdin",
        ],
        password(),
    );
    assert!(ok, "{out}");
    let (st, b) = g
        .password_auth(&g.endpoints.client_id, &user, password())
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["ChallengeName"], "NEW_PASSWORD_REQUIRED");
    assert!(b.get("AuthenticationResult").is_none());
    assert_eq!(b["ChallengeParameters"]["requiredAttributes"], "[]");
    assert_eq!(b["ChallengeParameters"]["USER_ID_FOR_SRP"], user.as_str());
    let session = b["Session"].as_str().unwrap().to_string();
    let respond = |session: String, pw: &'static str| {
        let user = user.clone();
        async move {
            g.idp(
                "RespondToAuthChallenge",
                &json!({"ChallengeName": "NEW_PASSWORD_REQUIRED", "ClientId": g.endpoints.client_id,
                        "Session": session, "ChallengeResponses": {"USERNAME": user, "NEW_PASSWORD": pw}}),
            )
            .await
        }
    };
    assert_refused(
        &respond(session.clone(), "weak").await,
        "InvalidPasswordException",
    );
    assert_refused(
        &respond("x".repeat(40), password2()).await,
        "NotAuthorizedException",
    );
    let (st, b) = respond(session.clone(), password2()).await;
    assert_eq!(st, 200, "{b}");
    assert!(b["AuthenticationResult"]["AccessToken"].is_string());
    assert_refused(
        &respond(session, password2()).await,
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
async fn user_list_set_password_and_delete_from_the_cli() {
    let g = shared();
    let user = g.new_user("cliuser");
    let (ok, out) = g.cli(&["user", "list"], "");
    assert!(
        ok && out.contains(&user) && out.contains("CONFIRMED"),
        "{out}"
    );
    let before = g.login(&user).await;
    let (ok, out) = g.cli(
        &[
            "user",
            "set-password",
            "--username",
            &user,
            "--password-stdin",
        ],
        password2(),
    );
    assert!(ok, "{out}");
    assert_eq!(
        g.password_auth(&g.endpoints.client_id, &user, password2())
            .await
            .0,
        200
    );
    assert_refused(
        &g.idp("GetUser", &json!({"AccessToken": before["AccessToken"]}))
            .await,
        "NotAuthorizedException",
    );
    let (ok, out) = g.cli(
        &[
            "user",
            "set-password",
            "--username",
            &user,
            "--temporary",
            "--password-stdin",
        ],
        password(),
    );
    assert!(ok, "{out}");
    let (_, b) = g
        .password_auth(&g.endpoints.client_id, &user, password())
        .await;
    assert_eq!(b["ChallengeName"], "NEW_PASSWORD_REQUIRED");
    let (ok, out) = g.cli(&["user", "delete", "--username", &user], "");
    assert!(ok, "{out}");
    assert_refused(
        &g.password_auth(&g.endpoints.client_id, &user, password())
            .await,
        "NotAuthorizedException",
    );
    let (ok, out) = g.cli(&["user", "disable", "--username", &user], "");
    assert!(!ok && out.contains("does not exist"), "{out}");
    let (ok, out) = g.cli(
        &[
            "user",
            "set-password",
            "--username",
            &user,
            "--password-stdin",
        ],
        "weak",
    );
    assert!(!ok && out.contains("policy"), "{out}");
}

#[tokio::test]
async fn client_create_and_list() {
    let g = shared();
    let (id, secret) = g.create_client(&[
        "--secret",
        "--scopes",
        "aws.cognito.signin.user.admin,demo/read",
        "--access-token-validity",
        "900",
        "--allowed-origin",
        "https://app.example.com",
    ]);
    assert_eq!(id.len(), 26);
    assert!(secret.is_some_and(|s| s.len() >= 24));
    let (ok, out) = g.cli(&["client", "list"], "");
    assert!(
        ok && out.contains(&id) && out.contains("demo/read"),
        "{out}"
    );
    let (ok, out) = g.cli(
        &["client", "create", "--name", "x", "--grace-period", "61"],
        "",
    );
    assert!(!ok && out.contains("--grace-period"), "{out}");
    let (id2, _) = g.create_client(&[
        "--access-token-validity",
        "900",
        "--scopes",
        "aws.cognito.signin.user.admin demo/read",
    ]);
    let user = g.new_user("clientscopes");
    let (st, b) = g.password_auth(&id2, &user, password()).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["AuthenticationResult"]["ExpiresIn"], 900);
    let a =
        gatehouse::token::jws::parse(b["AuthenticationResult"]["AccessToken"].as_str().unwrap())
            .unwrap()
            .payload;
    assert_eq!(a["scope"], "aws.cognito.signin.user.admin demo/read");
    assert_eq!(a["exp"].as_i64().unwrap() - a["iat"].as_i64().unwrap(), 900);
}

async fn jwks_kids(g: &Gatehouse) -> Vec<String> {
    let v: Value =
        serde_json::from_str(&body_text(send("GET", &g.endpoints.jwks_uri, &[], "").await).await)
            .unwrap();
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

fn kid_of(token: &Value) -> String {
    gatehouse::token::jws::parse(token.as_str().unwrap())
        .unwrap()
        .header
        .kid
}

#[tokio::test]
async fn key_rotation_and_restart_keep_everything() {
    // A fixed IdP port: the issuer (and so every token's `iss`) stays the same across the restart.
    let idp_listen = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut g = Gatehouse::start_in_at(&dir, &idp_listen, &[]);
    let user = g.new_user("rotatekeys");
    let (client, _) = g.create_client(&["--rotation", "--grace-period", "0"]);
    let before = g.login(&user).await;
    let old_kid = kid_of(&before["AccessToken"]);
    let (ok, out) = g.cli(&["keys", "rotate"], "");
    assert!(ok, "{out}");
    let new_kid = out.trim().rsplit(' ').next().unwrap().to_string();
    assert_ne!(new_kid, old_kid);
    // New tokens use the new key at once (within the IdP's one-second reload).
    let after = poll_async(
        std::time::Duration::from_secs(10),
        "the new kid",
        || async {
            let auth = g.login(&user).await;
            (kid_of(&auth["AccessToken"]) == new_kid).then_some(auth)
        },
    )
    .await;
    let kids = jwks_kids(&g).await;
    assert!(
        kids.contains(&old_kid) && kids.contains(&new_kid),
        "{kids:?}"
    );
    // The gateway accepts tokens signed by either key (it fetches the JWKS again for the new kid).
    for t in [&before["AccessToken"], &after["AccessToken"]] {
        let r = crate::common::invoke(
            &g.invocations_url(),
            t.as_str(),
            &[],
            &json!({"stream": false}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let (ok, out) = g.cli(&["keys", "list"], "");
    assert!(
        ok && out.contains("signing") && out.contains("published"),
        "{out}"
    );
    // A rotated refresh token, before the restart.
    let (_, rot) = g.password_auth(&client, &user, password()).await;
    let rt0 = rot["AuthenticationResult"]["RefreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    let rotated_at = gatehouse::clock::Clock::now_unix(&gatehouse::clock::SystemClock);
    let (st, b) = g
        .idp(
            "GetTokensFromRefreshToken",
            &json!({"ClientId": client, "RefreshToken": rt0}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let rt1 = b["AuthenticationResult"]["RefreshToken"]
        .as_str()
        .unwrap()
        .to_string();

    assert!(g.stop().success());
    let g2 = Gatehouse::start_in_at(&dir, &idp_listen, &[]);
    assert_eq!(g2.endpoints.issuer, g.endpoints.issuer);
    assert_eq!(g2.endpoints.user_pool_id, g.endpoints.user_pool_id);
    assert_eq!(g2.endpoints.client_id, g.endpoints.client_id);
    // Tokens from before the restart (signed by either key) still verify.
    for t in [&before["AccessToken"], &after["AccessToken"]] {
        let (st, b) = g2.idp("GetUser", &json!({"AccessToken": t})).await;
        assert_eq!(st, 200, "{b}");
    }
    // Users, clients, keys and refresh tokens survived.
    assert_eq!(g2.password_auth(&client, &user, password()).await.0, 200);
    let (st, _) = g2
        .idp(
            "InitiateAuth",
            &json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": g2.endpoints.client_id,
                    "AuthParameters": {"REFRESH_TOKEN": before["RefreshToken"]}}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(jwks_kids(&g2).await.len(), 2);
    // A restart does not re-enable a rotated refresh token: its reuse is still detected (grace 0 s: wait until
    // the rotation's second is over).
    poll_async(
        std::time::Duration::from_secs(6),
        "the next second",
        || async {
            (gatehouse::clock::Clock::now_unix(&gatehouse::clock::SystemClock)
                > rotated_at + 1 + gatehouse::idp::refresh::MIN_GRACE)
                .then_some(())
        },
    )
    .await;
    assert_refused(
        &g2.idp(
            "GetTokensFromRefreshToken",
            &json!({"ClientId": client, "RefreshToken": rt0}),
        )
        .await,
        "RefreshTokenReuseException",
    );
    assert_refused(
        &g2.idp(
            "GetTokensFromRefreshToken",
            &json!({"ClientId": client, "RefreshToken": rt1}),
        )
        .await,
        "NotAuthorizedException",
    );
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_user() {
    let g = shared();
    let user = g.new_user("lockout");
    for _ in 0..5 {
        assert_refused(
            &g.password_auth(&g.endpoints.client_id, &user, password2())
                .await,
            "NotAuthorizedException",
        );
    }
    let r = g
        .password_auth(&g.endpoints.client_id, &user, password())
        .await;
    assert_refused(&r, "NotAuthorizedException");
    assert_eq!(r.1["message"], "Password attempts exceeded");
    // Unknown users are counted the same way.
    for _ in 0..5 {
        g.password_auth(&g.endpoints.client_id, "nobody-lockout", password2())
            .await;
    }
    let r = g
        .password_auth(&g.endpoints.client_id, "nobody-lockout", password2())
        .await;
    assert_eq!(r.1["message"], "Password attempts exceeded");
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_address() {
    let (_tmp, g) = start_with_config("[idp]\nmax_failed_signins_per_ip = 3\n");
    for i in 0..3 {
        assert_refused(
            &g.password_auth(&g.endpoints.client_id, &format!("nobody-{i}"), password2())
                .await,
            "NotAuthorizedException",
        );
    }
    assert_refused(
        &g.password_auth(&g.endpoints.client_id, "nobody-else", password2())
            .await,
        "TooManyRequestsException",
    );
}

#[tokio::test]
async fn cors_preflight_and_errors_carry_the_headers_for_allowed_origins_only() {
    let g = shared();
    let idp = format!("{}/", g.endpoints.idp);
    let web = g.endpoints.web.as_str();
    let pre = send(
        "OPTIONS",
        &idp,
        &[
            ("origin", web),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type,x-amz-target,x-amz-user-agent",
            ),
        ],
        "",
    )
    .await;
    assert_eq!(pre.status(), 204);
    let h = pre.headers();
    assert_eq!(h["access-control-allow-origin"], web);
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_string();
    for name in [
        "content-type",
        "x-amz-target",
        "x-amz-user-agent",
        "cache-control",
    ] {
        assert!(allowed.contains(name), "{allowed}");
    }
    assert!(!allowed.contains('*'));
    assert!(h.get("access-control-allow-credentials").is_none());
    // An error response carries the CORS headers too.
    let err = send(
        "POST",
        &idp,
        &[
            ("origin", web),
            (
                "x-amz-target",
                "AWSCognitoIdentityProviderService.InitiateAuth",
            ),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": g.endpoints.client_id,
               "AuthParameters": {"USERNAME": "nobody-cors", "PASSWORD": "x"}})
        .to_string(),
    )
    .await;
    assert_eq!(err.status(), 400);
    assert_eq!(err.headers()["access-control-allow-origin"], web);
    // Other origins get nothing.
    for evil in [
        "http://evil.example",
        "null",
        &format!("{web}.evil.example"),
    ] {
        let pre = send(
            "OPTIONS",
            &idp,
            &[("origin", evil), ("access-control-request-method", "POST")],
            "",
        )
        .await;
        assert_eq!(pre.status(), 403, "{evil}");
        assert!(pre.headers().get("access-control-allow-origin").is_none());
    }
    // A client's allowed origin is honoured (while `up` runs).
    let origin = format!(
        "https://app-{}.example.com",
        gatehouse::util::random_lower_alnum(6)
    );
    g.create_client(&["--allowed-origin", &origin]);
    poll_async(
        std::time::Duration::from_secs(10),
        "the new origin",
        || async {
            let resp = send(
                "OPTIONS",
                &idp,
                &[
                    ("origin", origin.as_str()),
                    ("access-control-request-method", "POST"),
                ],
                "",
            )
            .await;
            (resp.status() == 204).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn discovery_issuer_equals_iss_byte_for_byte() {
    let g = shared();
    let d: Value = serde_json::from_str(
        &body_text(send("GET", &g.endpoints.discovery_url, &[], "").await).await,
    )
    .unwrap();
    let user = g.new_user("issuer");
    let auth = g.login(&user).await;
    for t in ["AccessToken", "IdToken"] {
        let p = gatehouse::token::jws::parse(auth[t].as_str().unwrap())
            .unwrap()
            .payload;
        assert_eq!(p["iss"], d["issuer"]);
    }
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256"]));
    assert!(d["claims_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "origin_jti"));
}

#[tokio::test]
async fn revocation_rows_are_written_for_the_gateway() {
    use gatehouse::store::Store as _;
    let g = shared();
    let store = gatehouse::store::SqliteStore::open_in(&g.dir)
        .await
        .unwrap();
    let start = store
        .revocations_after(0, i64::MAX)
        .await
        .unwrap()
        .last()
        .map_or(0, |r| r.id);
    let user = g.new_user("revrows");
    let auth = g.login(&user).await;
    let sub = gatehouse::token::jws::parse(auth["AccessToken"].as_str().unwrap())
        .unwrap()
        .payload["sub"]
        .as_str()
        .unwrap()
        .to_string();
    let origin = gatehouse::token::jws::parse(auth["AccessToken"].as_str().unwrap())
        .unwrap()
        .payload["origin_jti"]
        .as_str()
        .unwrap()
        .to_string();
    g.idp(
        "RevokeToken",
        &json!({"ClientId": g.endpoints.client_id, "Token": auth["RefreshToken"]}),
    )
    .await;
    let again = g.login(&user).await;
    g.idp(
        "GlobalSignOut",
        &json!({"AccessToken": again["AccessToken"]}),
    )
    .await;
    assert!(g.cli(&["user", "disable", "--username", &user], "").0);
    let rows: Vec<_> = store
        .revocations_after(start, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.origin_jti.as_deref() == Some(origin.as_str())
                || r.sub.as_deref() == Some(sub.as_str())
        })
        .collect();
    assert!(rows.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(rows[0].origin_jti.as_deref(), Some(origin.as_str()));
    assert_eq!(rows[1].sub.as_deref(), Some(sub.as_str()));
    assert!(rows[1].not_before < i64::MAX);
    assert_eq!(
        rows.last().unwrap().not_before,
        i64::MAX,
        "disabled: every token revoked"
    );
}

/// A tiny SMTP server on 127.0.0.1 that accepts one message and returns its DATA.
fn smtp_server() -> (u16, std::thread::JoinHandle<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        w.write_all(b"220 test ESMTP\r\n").unwrap();
        let mut data = String::new();
        let mut in_data = false;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if in_data {
                if line == ".\r\n" {
                    in_data = false;
                    w.write_all(b"250 queued\r\n").unwrap();
                } else {
                    data.push_str(&line);
                }
                continue;
            }
            let cmd = line.to_ascii_uppercase();
            if cmd.starts_with("EHLO") {
                w.write_all(b"250-test\r\n250 8BITMIME\r\n").unwrap();
            } else if cmd.starts_with("DATA") {
                in_data = true;
                w.write_all(b"354 go\r\n").unwrap();
            } else if cmd.starts_with("QUIT") {
                w.write_all(b"221 bye\r\n").unwrap();
                break;
            } else {
                w.write_all(b"250 ok\r\n").unwrap();
            }
        }
        data
    });
    (port, h)
}

#[tokio::test]
async fn codes_are_sent_by_smtp_when_configured() {
    let (port, server) = smtp_server();
    let (_tmp, g) = start_with_config(&format!(
        "[idp.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nfrom = \"gatehouse <no-reply@example.com>\"\n"
    ));
    let user = format!("smtp-{}", gatehouse::util::random_lower_alnum(8));
    let (st, b) = g
        .idp(
            "SignUp",
            &json!({"ClientId": g.endpoints.client_id, "Username": user, "Password": password(),
                    "UserAttributes": [{"Name": "email", "Value": format!("{user}@example.com")}]}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let data = tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
    assert!(data.contains(&format!("To: {user}@example.com")), "{data}");
    let code = crate::common::extract_code(&data).expect("a code in the message");
    assert!(
        !g.dir.join("outbox").exists(),
        "nothing written to the outbox with SMTP configured"
    );
    let (st, _) = g
        .idp(
            "ConfirmSignUp",
            &json!({"ClientId": g.endpoints.client_id, "Username": user, "ConfirmationCode": code}),
        )
        .await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn passwords_codes_and_tokens_never_reach_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let log_path = tmp.path().join("gatehouse.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut g = Gatehouse::start_in_with(
        &tmp.path().join("data"),
        "127.0.0.1:0",
        &[],
        "debug",
        std::process::Stdio::from(log),
    );
    let user = format!("logs-{}", gatehouse::util::random_lower_alnum(8));
    let c = g.endpoints.client_id.clone();
    let (st, _) = g
        .idp(
            "SignUp",
            &json!({"ClientId": c, "Username": user, "Password": password(),
                    "UserAttributes": [{"Name": "email", "Value": format!("{user}@example.com")}]}),
        )
        .await;
    assert_eq!(st, 200);
    let code = g.code_for(&format!("{user}@example.com"), 0);
    g.idp(
        "ConfirmSignUp",
        &json!({"ClientId": c, "Username": user, "ConfirmationCode": code}),
    )
    .await;
    g.password_auth(&c, &user, password2()).await;
    let (st, b) = g.password_auth(&c, &user, password()).await;
    assert_eq!(st, 200, "{b}");
    let r = &b["AuthenticationResult"];
    let (st, rb) = g
        .idp(
            "InitiateAuth",
            &json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": c,
                    "AuthParameters": {"REFRESH_TOKEN": r["RefreshToken"]}}),
        )
        .await;
    assert_eq!(st, 200);
    g.idp("GetUser", &json!({"AccessToken": r["AccessToken"]}))
        .await;
    g.idp(
        "ChangePassword",
        &json!({"AccessToken": r["AccessToken"], "PreviousPassword": password(), "ProposedPassword": password2()}),
    )
    .await;
    g.idp(
        "RevokeToken",
        &json!({"ClientId": c, "Token": r["RefreshToken"]}),
    )
    .await;
    assert!(g.stop().success());
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        text.contains("issued tokens"),
        "the log is on: {}",
        text.len()
    );
    let secrets = [
        password().to_string(),
        password2().to_string(),
        format!("code is {code}"),
        r["AccessToken"].as_str().unwrap().to_string(),
        r["IdToken"].as_str().unwrap().to_string(),
        r["RefreshToken"].as_str().unwrap().to_string(),
        rb["AuthenticationResult"]["AccessToken"]
            .as_str()
            .unwrap()
            .to_string(),
    ];
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "a secret reached the log");
    }
}
