//! The attack suite's identity-provider cases from the outside review: oversize unauthenticated fields and SRP
//! state growth, code brute force by re-issuing, reset codes redirected through a changed e-mail, enumeration by
//! timing and message, open sign-up and self-written claims, decode errors that log values, and JSON `null`
//! members. Each case is a table row (`case | expected | got`) against a running gatehouse over real sockets.
//! Owns no production code and must never weaken a case to make it pass.
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::attack::{report, Row};
use crate::common::{password, password2, shared, start_with_config, Gatehouse};

fn got(r: &(u16, Value)) -> String {
    format!("{} {}", r.0, r.1["__type"].as_str().unwrap_or("ok"))
}

/// A valid SRP_A of maximum size (768 hex digits, below N).
fn big_a() -> String {
    "ab".repeat(384)
}

async fn srp_start(g: &Gatehouse, user: &str, a: &str) -> (u16, Value) {
    g.idp(
        "InitiateAuth",
        &json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": g.endpoints.client_id,
                "AuthParameters": {"USERNAME": user, "SRP_A": a}}),
    )
    .await
}

#[tokio::test]
async fn unauthenticated_fields_are_capped_and_srp_work_is_throttled_per_address() {
    let (_t, g) = start_with_config("[idp]\nmax_cpu_heavy_per_ip_per_minute = 30\n");
    let client = g.endpoints.client_id.clone();
    let mut rows = Vec::new();
    let huge = "u".repeat(60_000);
    let r = srp_start(&g, &huge, &big_a()).await;
    rows.push(Row::new(
        "USER_SRP_AUTH with a 60 kB USERNAME",
        "400 InvalidParameterException",
        got(&r),
    ));
    rows.push(Row::new(
        "  the refusal names the field and is not echoed",
        "named",
        if r.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("authParameters.USERNAME") && !m.contains(&huge[..200]))
        {
            "named".into()
        } else {
            format!("{}", r.1["message"])
        },
    ));
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "USERNAME of 129 characters",
            "InitiateAuth",
            json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                   "AuthParameters": {"USERNAME": "u".repeat(129), "PASSWORD": "p"}}),
        ),
        (
            "PASSWORD of 257 characters",
            "InitiateAuth",
            json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                   "AuthParameters": {"USERNAME": "u", "PASSWORD": "p".repeat(257)}}),
        ),
        (
            "SRP_A of 1,025 hex digits",
            "InitiateAuth",
            json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": client,
                   "AuthParameters": {"USERNAME": "u", "SRP_A": "a".repeat(1025)}}),
        ),
        (
            "ClientId of 129 characters",
            "InitiateAuth",
            json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": "c".repeat(129),
                   "AuthParameters": {"USERNAME": "u", "SRP_A": big_a()}}),
        ),
        (
            "17 AuthParameters",
            "InitiateAuth",
            json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": client,
                   "AuthParameters": (0..17).map(|i| (format!("K{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}),
        ),
        (
            "Session of 2,049 characters",
            "RespondToAuthChallenge",
            json!({"ChallengeName": "NEW_PASSWORD_REQUIRED", "ClientId": client, "Session": "s".repeat(2049),
                   "ChallengeResponses": {"USERNAME": "u", "NEW_PASSWORD": password()}}),
        ),
        (
            "PASSWORD_CLAIM_SECRET_BLOCK of 3,000 characters",
            "RespondToAuthChallenge",
            json!({"ChallengeName": "PASSWORD_VERIFIER", "ClientId": client,
                   "ChallengeResponses": {"USERNAME": "u", "PASSWORD_CLAIM_SECRET_BLOCK": "b".repeat(3000),
                                          "TIMESTAMP": "t", "PASSWORD_CLAIM_SIGNATURE": "s"}}),
        ),
        (
            "SignUp Username of 129 characters",
            "SignUp",
            json!({"ClientId": client, "Username": "u".repeat(129), "Password": password()}),
        ),
        (
            "ConfirmForgotPassword code of 2,049 characters",
            "ConfirmForgotPassword",
            json!({"ClientId": client, "Username": "u", "ConfirmationCode": "1".repeat(2049),
                   "Password": password()}),
        ),
        (
            "attribute value of 2,049 characters",
            "SignUp",
            json!({"ClientId": client, "Username": "u", "Password": password(),
                   "UserAttributes": [{"Name": "name", "Value": "v".repeat(2049)}]}),
        ),
        (
            "51 attributes",
            "SignUp",
            json!({"ClientId": client, "Username": "u", "Password": password(),
                   "UserAttributes": (0..51).map(|_| json!({"Name": "name", "Value": "v"})).collect::<Vec<_>>()}),
        ),
    ];
    for (case, op, body) in cases {
        rows.push(Row::new(
            case,
            "400 InvalidParameterException",
            got(&g.idp(op, &body).await),
        ));
    }
    // The per-address budget of SRP work: 30 a minute here; a flood is refused, cheaply.
    let mut refused = 0;
    for i in 0..40 {
        let r = srp_start(&g, &format!("ghost{i:03}{}", "x".repeat(100)), &big_a()).await;
        if r.1["__type"] == "TooManyRequestsException" {
            refused += 1;
        }
    }
    rows.push(Row::new(
        "40 max-size USER_SRP_AUTH from one address (budget 30/min)",
        "the excess refused with TooManyRequestsException",
        if refused >= 10 {
            "the excess refused with TooManyRequestsException".to_string()
        } else {
            format!("{refused} refused")
        },
    ));
    report("IdP: unauthenticated input bounds (finding 1)", &rows);
}

/// Issues a reset code for `user` and returns its digits (the `nth` message to `email`).
async fn reset_code(g: &Gatehouse, user: &str, email: &str, nth: usize) -> (u16, Value, String) {
    let r = g
        .idp(
            "ForgotPassword",
            &json!({"ClientId": g.endpoints.client_id, "Username": user}),
        )
        .await;
    if r.0 != 200 {
        return (r.0, r.1, String::new());
    }
    let code = g.code_for(email, nth);
    (r.0, r.1, code)
}

async fn confirm_reset(g: &Gatehouse, user: &str, code: &str) -> (u16, Value) {
    g.idp(
        "ConfirmForgotPassword",
        &json!({"ClientId": g.endpoints.client_id, "Username": user, "ConfirmationCode": code,
                "Password": password2()}),
    )
    .await
}

fn wrong(code: &str, i: u32) -> String {
    let n: u32 = code.parse().unwrap_or(0);
    format!("{:06}", (n + 1 + i) % 1_000_000)
}

#[tokio::test]
async fn reset_codes_cannot_be_brute_forced_by_reissuing() {
    let (_t, g) = start_with_config(
        "[idp]\nmax_codes_per_user_per_hour = 4\nmax_code_failures_per_hour = 8\nmax_codes_per_ip_per_hour = 30\n",
    );
    let mut rows = Vec::new();
    let user = g.new_user("reissue");
    let email = format!("{user}@example.com");
    // Two rounds of four wrong guesses (each round a fresh code): the eighth wrong guess locks the code flows.
    let mut last = String::new();
    let mut answers = Vec::new();
    for round in 0..2 {
        let (_, _, code) = reset_code(&g, &user, &email, round).await;
        for i in 0..4 {
            answers.push(got(&confirm_reset(&g, &user, &wrong(&code, i)).await));
        }
        last = code;
    }
    rows.push(Row::new(
        "the 8th wrong code across two re-issues",
        "400 LimitExceededException",
        answers.last().cloned().unwrap_or_default(),
    ));
    rows.push(Row::new(
        "  then the right code of the latest issue",
        "400 LimitExceededException",
        got(&confirm_reset(&g, &user, &last).await),
    ));
    rows.push(Row::new(
        "  and a new ForgotPassword while locked",
        "400 LimitExceededException",
        got(&g
            .idp(
                "ForgotPassword",
                &json!({"ClientId": g.endpoints.client_id, "Username": user}),
            )
            .await),
    ));
    // Issuance per user: four codes an hour.
    let other = g.new_user("flood");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(got(&g
            .idp(
                "ForgotPassword",
                &json!({"ClientId": g.endpoints.client_id, "Username": other}),
            )
            .await));
    }
    rows.push(Row::new(
        "5th ForgotPassword for one user within the hour (limit 4)",
        "400 LimitExceededException",
        statuses[4].clone(),
    ));
    rows.push(Row::new(
        "  the first four",
        "200 ok",
        if statuses[..4].iter().all(|s| s == "200 ok") {
            "200 ok".to_string()
        } else {
            statuses.join(", ")
        },
    ));
    // Issuance per address, whoever the user: 30 an hour here (some were used above).
    let mut limited = false;
    for i in 0..40 {
        let r = g
            .idp(
                "ResendConfirmationCode",
                &json!({"ClientId": g.endpoints.client_id, "Username": format!("nobody{i}")}),
            )
            .await;
        limited |= r.1["__type"] == "LimitExceededException";
    }
    rows.push(Row::new(
        "40 code requests from one address (limit 30/h)",
        "LimitExceededException",
        if limited {
            "LimitExceededException"
        } else {
            "never limited"
        },
    ));
    report("IdP: code issuance and guessing (finding 2)", &rows);
}

async fn id_token_email(g: &Gatehouse, user: &str) -> String {
    let id = g.login(user).await["IdToken"].as_str().unwrap().to_string();
    let p = gatehouse::token::jws::parse(&id).unwrap();
    p.payload["email"].as_str().unwrap_or("").to_string()
}

fn outbox_to(g: &Gatehouse, email: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(g.dir.join("outbox")) else {
        return Vec::new();
    };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .filter(|t| t.contains(&format!("To: {email}\r\n")))
        .collect()
}

#[tokio::test]
async fn a_stolen_access_token_cannot_redirect_reset_codes() {
    let g = shared();
    let mut rows = Vec::new();
    let user = g.new_user("takeover");
    let own = format!("{user}@example.com");
    let evil = format!(
        "evil-{}@attacker.example",
        gatehouse::util::random_lower_alnum(6)
    );
    let token = g.access_token(&user).await;
    let r = g
        .idp(
            "UpdateUserAttributes",
            &json!({"AccessToken": token, "UserAttributes": [{"Name": "email", "Value": evil}]}),
        )
        .await;
    rows.push(Row::new(
        "UpdateUserAttributes email = attacker's",
        "200 ok",
        got(&r),
    ));
    rows.push(Row::new(
        "  the original address stays active (ID token)",
        own.clone(),
        id_token_email(g, &user).await,
    ));
    let r = g
        .idp(
            "ForgotPassword",
            &json!({"ClientId": g.endpoints.client_id, "Username": user}),
        )
        .await;
    rows.push(Row::new("ForgotPassword", "200 ok", got(&r)));
    let reset_to_evil = outbox_to(g, &evil)
        .iter()
        .any(|t| t.contains("password reset code"));
    rows.push(Row::new(
        "  a reset code reaches the attacker's address",
        "no",
        if reset_to_evil { "yes" } else { "no" },
    ));
    let code = g.code_for(&own, 0);
    rows.push(Row::new(
        "  the reset code reaches the verified address",
        "yes",
        if code.len() == 6 { "yes" } else { "no" },
    ));
    // The verification code went to the new address; a correct one makes it the active address.
    let verify = outbox_to(g, &evil)
        .iter()
        .find_map(|t| crate::common::extract_code(t))
        .unwrap_or_default();
    let r = g
        .idp(
            "VerifyUserAttribute",
            &json!({"AccessToken": token, "AttributeName": "email", "Code": wrong(&verify, 0)}),
        )
        .await;
    rows.push(Row::new(
        "VerifyUserAttribute with a wrong code",
        "400 CodeMismatchException",
        got(&r),
    ));
    let r = g
        .idp(
            "VerifyUserAttribute",
            &json!({"AccessToken": token, "AttributeName": "email", "Code": verify}),
        )
        .await;
    rows.push(Row::new(
        "VerifyUserAttribute with the code sent to the new address",
        "200 ok",
        got(&r),
    ));
    rows.push(Row::new(
        "  the new address is now active",
        evil.clone(),
        id_token_email(g, &user).await,
    ));
    report("IdP: e-mail change and reset codes (finding 3)", &rows);
}

async fn timed(g: &Gatehouse, op: &str, body: &Value) -> ((u16, Value), Duration) {
    let t = Instant::now();
    let r = g.idp(op, body).await;
    (r, t.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
async fn reset_flows_do_not_tell_who_exists() {
    let g = shared();
    let mut rows = Vec::new();
    let known = g.new_user("enum6");
    let ghost = format!("ghost-{}", gatehouse::util::random_lower_alnum(10));
    let body = |u: &str| {
        json!({"ClientId": g.endpoints.client_id, "Username": u, "ConfirmationCode": "123456",
               "Password": password2()})
    };
    let (mut k, mut u) = (Vec::new(), Vec::new());
    let mut answers = Vec::new();
    for _ in 0..5 {
        let (rk, tk) = timed(g, "ConfirmForgotPassword", &body(&known)).await;
        let (ru, tu) = timed(g, "ConfirmForgotPassword", &body(&ghost)).await;
        answers.push((got(&rk), got(&ru)));
        k.push(tk);
        u.push(tu);
    }
    let (k, u) = (median(k), median(u));
    let ratio =
        k.as_secs_f64().max(u.as_secs_f64()) / k.as_secs_f64().min(u.as_secs_f64()).max(1e-6);
    rows.push(Row::new(
        "ConfirmForgotPassword timing: known vs unknown user (ratio < 2)",
        "indistinguishable",
        if ratio < 2.0 {
            "indistinguishable".to_string()
        } else {
            format!("known {k:?} vs unknown {u:?}")
        },
    ));
    rows.push(Row::new(
        "  answers: known (no code) vs unknown",
        "identical",
        if answers.iter().all(|(a, b)| a == b) {
            "identical".to_string()
        } else {
            format!("{answers:?}")
        },
    ));
    // ForgotPassword: unknown, disabled and unverified users get the same answer as a real one.
    let disabled = g.new_user("disabled6");
    let (ok, out) = g.cli(&["user", "disable", "--username", &disabled], "");
    assert!(ok, "{out}");
    let unverified = format!("unverified-{}", gatehouse::util::random_lower_alnum(8));
    let (ok, out) = g.create_user_with(&unverified, password(), None);
    assert!(ok, "{out}");
    let shape = |r: &(u16, Value)| {
        let d = &r.1["CodeDeliveryDetails"];
        let dest = d["Destination"].as_str().unwrap_or("");
        let masked = dest.len() == 9 && dest.contains("***@") && dest.ends_with("***");
        format!(
            "{} {} {} {}",
            r.0,
            if masked { "masked" } else { dest },
            d["DeliveryMedium"],
            d["AttributeName"]
        )
    };
    let fp = |u: String| async move {
        g.idp_owned(
            "ForgotPassword",
            json!({"ClientId": g.endpoints.client_id, "Username": u}),
        )
        .await
    };
    let real = shape(&fp(known.clone()).await);
    for (case, who) in [
        ("unknown user", ghost.clone()),
        ("disabled user", disabled),
        ("user without a verified e-mail", unverified),
    ] {
        rows.push(Row::new(
            format!("ForgotPassword for an {case} vs a real one"),
            real.clone(),
            shape(&fp(who).await),
        ));
    }
    report("IdP: enumeration through the reset flow (finding 6)", &rows);
}

#[tokio::test]
async fn sign_up_can_be_closed_and_users_cannot_write_their_own_claims() {
    let mut rows = Vec::new();
    let (_t, closed) = start_with_config("[idp]\nallow_sign_up = false\n");
    let r = closed
        .idp(
            "SignUp",
            &json!({"ClientId": closed.endpoints.client_id, "Username": "newcomer", "Password": password(),
                    "UserAttributes": [{"Name": "email", "Value": "newcomer@example.com"}]}),
        )
        .await;
    rows.push(Row::new(
        "SignUp with allow_sign_up = false",
        "400 NotAuthorizedException",
        got(&r),
    ));
    let (ok, _) = closed.create_user_with("operator-made", password(), Some("o@example.com"));
    rows.push(Row::new(
        "  `user create` still works",
        "created",
        if ok { "created" } else { "failed" },
    ));
    let g = shared();
    let user = format!("claims-{}", gatehouse::util::random_lower_alnum(8));
    let r = g
        .idp(
            "SignUp",
            &json!({"ClientId": g.endpoints.client_id, "Username": user, "Password": password(),
                    "UserAttributes": [{"Name": "email", "Value": format!("{user}@example.com")},
                                       {"Name": "custom:role", "Value": "admin"}]}),
        )
        .await;
    rows.push(Row::new(
        "SignUp with an undeclared custom:role",
        "400 InvalidParameterException",
        got(&r),
    ));
    let victim = g.new_user("claims");
    let token = g.access_token(&victim).await;
    let r = g
        .idp(
            "UpdateUserAttributes",
            &json!({"AccessToken": token, "UserAttributes": [{"Name": "custom:groups", "Value": "admins"}]}),
        )
        .await;
    rows.push(Row::new(
        "UpdateUserAttributes with an undeclared custom:groups",
        "400 InvalidParameterException",
        got(&r),
    ));
    let id = g.login(&victim).await["IdToken"]
        .as_str()
        .unwrap()
        .to_string();
    let claims = gatehouse::token::jws::parse(&id).unwrap().payload;
    rows.push(Row::new(
        "  the ID token carries no custom:groups",
        "absent",
        if claims.get("custom:groups").is_none() {
            "absent"
        } else {
            "present"
        },
    ));
    report(
        "IdP: sign-up switch and attribute schema (finding 8)",
        &rows,
    );
}

#[tokio::test]
async fn decode_errors_never_log_the_offending_values() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("gatehouse.log");
    let mut g = crate::common::attack::start_logged(&tmp.path().join("data"), &log);
    let mut rows = Vec::new();
    let secret_number = 98_765_432_123_u64;
    let secret_text = format!("Pw-{}", gatehouse::util::random_alnum(16));
    let bodies = [
        json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": g.endpoints.client_id,
               "AuthParameters": {"USERNAME": "u", "PASSWORD": secret_number}}),
        json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": g.endpoints.client_id,
               "AuthParameters": secret_text}),
        json!({"ClientId": g.endpoints.client_id, "Username": "u", "Password": [secret_text],
               "ConfirmationCode": secret_number}),
    ];
    let ops = ["InitiateAuth", "InitiateAuth", "ConfirmForgotPassword"];
    for (op, body) in ops.iter().zip(bodies) {
        let r = g.idp(op, &body).await;
        rows.push(Row::new(
            format!("{op} with a password of the wrong type"),
            "400 SerializationException",
            got(&r),
        ));
        let m = r.1["message"].as_str().unwrap_or("").to_string();
        rows.push(Row::new(
            "  the message names the member, not the value",
            "path only",
            if m.contains(" at '") && !m.contains(&secret_text) && !m.contains("98765432123") {
                "path only".to_string()
            } else {
                m
            },
        ));
    }
    g.stop();
    let text = std::fs::read_to_string(&log).unwrap();
    rows.push(Row::new(
        "the log holds neither value",
        "clean",
        if text.contains(&secret_text) || text.contains("98765432123") {
            "leaked"
        } else {
            "clean"
        },
    ));
    report("IdP: decode errors (finding 11)", &rows);
}

#[tokio::test]
async fn json_null_members_are_absent_in_every_operation() {
    let g = shared();
    let mut rows = Vec::new();
    let user = g.new_user("nulls");
    let auth = g.login(&user).await;
    let refresh = auth["RefreshToken"].as_str().unwrap();
    let access = auth["AccessToken"].as_str().unwrap();
    let client = &g.endpoints.client_id;
    let cases = [
        (
            "REFRESH_TOKEN_AUTH with \"DEVICE_KEY\": null (amazon-cognito-identity-js)",
            "InitiateAuth",
            json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": client,
                   "AuthParameters": {"REFRESH_TOKEN": refresh, "DEVICE_KEY": null},
                   "ClientMetadata": null, "AnalyticsMetadata": null, "UserContextData": null}),
        ),
        (
            "USER_PASSWORD_AUTH with \"SECRET_HASH\": null",
            "InitiateAuth",
            json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                   "AuthParameters": {"USERNAME": user, "PASSWORD": password(), "SECRET_HASH": null}}),
        ),
        (
            "GetUser with \"UserAttributes\": null",
            "GetUser",
            json!({"AccessToken": access, "UserAttributes": null}),
        ),
        (
            "UpdateUserAttributes with \"UserAttributes\": null",
            "UpdateUserAttributes",
            json!({"AccessToken": access, "UserAttributes": null, "ClientMetadata": null}),
        ),
        (
            "ForgotPassword with \"SecretHash\": null",
            "ForgotPassword",
            json!({"ClientId": client, "Username": user, "SecretHash": null, "ClientMetadata": null}),
        ),
        (
            "GetTokensFromRefreshToken with \"ClientSecret\": null",
            "GetTokensFromRefreshToken",
            json!({"ClientId": client, "RefreshToken": refresh, "ClientSecret": null}),
        ),
    ];
    for (case, op, body) in cases {
        rows.push(Row::new(case, "200 ok", got(&g.idp(op, &body).await)));
    }
    let r = g
        .idp(
            "InitiateAuth",
            &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                    "AuthParameters": {"USERNAME": user, "PASSWORD": null}}),
        )
        .await;
    rows.push(Row::new(
        "a required member sent as null is missing, not malformed",
        "400 InvalidParameterException",
        got(&r),
    ));
    report("IdP: AWS JSON null members", &rows);
}
