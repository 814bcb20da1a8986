//! Attack class: the identity provider (user enumeration, password guessing). Owns no production code.
use super::*;

// === 12: the IdP ===

pub(super) async fn initiate(g: &Gatehouse, user: &str, pw: &str) -> (u16, Value, Duration) {
    let start = Instant::now();
    let (s, b) = cognito(
        &g.endpoints.idp,
        "InitiateAuth",
        &json!({
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": g.endpoints.client_id,
            "AuthParameters": {"USERNAME": user, "PASSWORD": pw},
        }),
    )
    .await;
    (s, b, start.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
async fn the_idp_does_not_tell_who_exists() {
    let g = shared();
    let user = g.new_user("enum");
    let wrong = format!("Wrong1!{}", gatehouse::util::random_alnum(10));
    let ghost = format!("ghost-{}", gatehouse::util::random_lower_alnum(10));
    let mut rows = Vec::new();
    let (s1, b1, _) = initiate(g, &user, &wrong).await;
    let (s2, b2, _) = initiate(g, &ghost, &wrong).await;
    rows.push(Row::new(
        "wrong password vs unknown user: status, __type, message",
        "identical",
        if (s1, &b1) == (s2, &b2) {
            "identical".to_string()
        } else {
            format!("differs: {s1} {b1} vs {s2} {b2}")
        },
    ));
    rows.push(Row::new(
        "wrong password answer",
        "400 NotAuthorizedException",
        format!("{s1} {}", b1["__type"].as_str().unwrap_or("?")),
    ));
    let (s3, b3, _) = initiate(g, &user.to_uppercase(), &wrong).await;
    rows.push(Row::new(
        "upper-cased existing username, wrong password",
        "identical",
        if (s3, &b3) == (s2, &b2) {
            "identical".into()
        } else {
            format!("differs: {s3} {b3}")
        },
    ));
    let injection = initiate(g, "' OR '1'='1' --", "' OR '1'='1' --").await;
    rows.push(Row::new(
        "SQL injection in USERNAME and PASSWORD",
        "400 NotAuthorizedException",
        format!(
            "{} {}",
            injection.0,
            injection.1["__type"].as_str().unwrap_or("?")
        ),
    ));
    // Timing: the same argon2 work for an unknown user (a dummy hash) as for a wrong password.
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..7 {
        known.push(initiate(g, &user, &wrong).await.2);
        unknown.push(initiate(g, &ghost, &wrong).await.2);
    }
    let (k, u) = (median(known), median(unknown));
    let ratio =
        k.as_secs_f64().max(u.as_secs_f64()) / k.as_secs_f64().min(u.as_secs_f64()).max(1e-6);
    rows.push(Row::new(
        "timing: median wrong-password vs unknown-user (ratio < 2)",
        "indistinguishable",
        if ratio < 2.0 {
            "indistinguishable".to_string()
        } else {
            format!("known {k:?} vs unknown {u:?}")
        },
    ));
    rows.push(Row::new(
        "a wrong password takes argon2 work (≥ 5 ms)",
        "yes",
        if k >= Duration::from_millis(5) {
            "yes".to_string()
        } else {
            format!("no ({k:?})")
        },
    ));
    let (s, b, _) = initiate(g, &user, &"A".repeat(70_000)).await;
    rows.push(Row::new(
        "70 kB password (over the body limit)",
        "413 | 400 SerializationException | 413 SerializationException | 400 NotAuthorizedException",
        format!("{s}{}", b["__type"].as_str().map(|t| format!(" {t}")).unwrap_or_default()),
    ));
    for flow in ["ADMIN_NO_SRP_AUTH", "CUSTOM_AUTH", "user_password_auth", ""] {
        let (s, b) = cognito(
            &g.endpoints.idp,
            "InitiateAuth",
            &json!({
                "AuthFlow": flow,
                "ClientId": g.endpoints.client_id,
                "AuthParameters": {"USERNAME": user, "PASSWORD": password()},
            }),
        )
        .await;
        rows.push(Row::new(
            format!("AuthFlow {flow:?} with the right password"),
            "400 InvalidParameterException | 400 NotAuthorizedException",
            format!("{s} {}", b["__type"].as_str().unwrap_or("?")),
        ));
    }
    let (s, b) = cognito(
        &g.endpoints.idp,
        "InitiateAuth",
        &json!({
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": "someotherclient",
            "AuthParameters": {"USERNAME": user, "PASSWORD": password()},
        }),
    )
    .await;
    rows.push(Row::new(
        "unknown ClientId with the right password",
        "400 ResourceNotFoundException | 400 NotAuthorizedException",
        format!("{s} {}", b["__type"].as_str().unwrap_or("?")),
    ));
    report("IdP enumeration (checklist 12)", &rows);
}

/// Brute force: after a run of wrong passwords the account (or the client) must be throttled, as Cognito does
/// ("Password attempts exceeded").
#[tokio::test]
async fn the_idp_throttles_password_guessing() {
    let g = shared();
    let user = g.new_user("brute");
    let mut statuses = Vec::new();
    for i in 0..20 {
        let (s, b, _) = initiate(g, &user, &format!("Guess{i}!aaaa")).await;
        statuses.push(format!("{s} {}", b["__type"].as_str().unwrap_or("?")));
    }
    let (s, b, _) = initiate(g, &user, password()).await;
    let throttled_during = statuses.iter().any(|s| {
        s.starts_with("429") || s.contains("TooManyRequests") || s.contains("LimitExceeded")
    });
    let got = if s == 200 && !throttled_during {
        "not throttled: right password accepted after 20 failures".to_string()
    } else {
        "throttled".to_string()
    };
    let _ = b;
    report(
        "IdP brute force (checklist 12)",
        &[Row::new(
            "20 wrong passwords, then the right one",
            "throttled",
            got,
        )],
    );
}
