//! Attack class: tokens and passwords never reach the log. Owns no production code.
use super::idp::initiate;
use super::*;

// === 5: tokens and passwords never reach the log ===

#[tokio::test]
async fn tokens_and_passwords_are_never_logged_even_at_trace_level() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("gatehouse.log");
    let mut g = crate::common::attack::start_logged(&tmp.path().join("data"), &log);
    let user = g.new_user("logged");
    let result = g.login(&user).await;
    let access = result["AccessToken"].as_str().unwrap().to_string();
    let id = result["IdToken"].as_str().unwrap().to_string();
    let refresh = result["RefreshToken"].as_str().unwrap_or("").to_string();
    let _ = bearer(&g, &access).await;
    let _ = bearer(&g, &id).await;
    let forged = format!("{access}x");
    let _ = bearer(&g, &forged).await;
    let _ = request(
        "POST",
        &format!("{}&access_token={access}", g.invocations_url()),
        &[],
        "{}",
    )
    .await;
    let wrong = format!("Wrong1!{}", gatehouse::util::random_alnum(12));
    let _ = initiate(&g, &user, &wrong).await;
    g.stop();
    let text = std::fs::read_to_string(&log).unwrap();
    // A signature segment is unique to its token: finding it means the token (or enough of it) was logged.
    let sig = |t: &str| t.rsplit('.').next().unwrap_or("").to_string();
    let mut rows = vec![Row::new(
        "the log is not empty (trace level on)",
        "has lines",
        if text.lines().count() > 3 {
            "has lines"
        } else {
            "empty"
        },
    )];
    for (name, secret) in [
        ("access token", sig(&access)),
        ("ID token", sig(&id)),
        ("forged token", sig(&forged)),
        ("refresh token", refresh.clone()),
        ("password", crate::common::password().to_string()),
        ("wrong password", wrong.clone()),
    ] {
        rows.push(Row::new(
            format!("{name} in the log"),
            "absent",
            if !secret.is_empty() && text.contains(&secret) {
                "LOGGED"
            } else {
                "absent"
            },
        ));
    }
    report("secrets in logs (checklist 5)", &rows);
}
