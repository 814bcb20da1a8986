//! The hosted page's change-password form for a user with a temporary password, over real sockets: the whole
//! flow to a code that exchanges for tokens, the new password then working with `InitiateAuth` (and the
//! temporary one not), and each refusal — a mismatched confirmation, a password the policy refuses, a post
//! without or with a wrong CSRF token, a forged post naming another user, a second post of the same form.
//! Test code only.
use super::oauth_authorize::{authorize_url, code_client, exchange, Browser, Page, VERIFIER};
use crate::common::{assert_refused, password, password2, shared, Gatehouse};

/// A new user whose password (`password()`) is temporary, as `gatehouse user set-password --temporary` makes it.
fn temp_user(g: &Gatehouse, prefix: &str) -> String {
    let user = g.new_user(prefix);
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
    user
}

/// Signs `user` in with the temporary password through a fresh authorization request; the change-password form.
async fn change_form(g: &Gatehouse, b: &mut Browser, client: &str, user: &str) -> Page {
    let form = b.get(&authorize_url(g, client, &[])).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let page = b.sign_in(g, &form, user, password()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page
}

/// Posts `page`'s change-password form (its hidden fields) with `fields`.
async fn post_change(g: &Gatehouse, b: &mut Browser, page: &Page, fields: &[(&str, &str)]) -> Page {
    post_change_to(g, b, page, "/changePassword", fields).await
}

fn new_pw(pw: &str) -> [(&str, &str); 2] {
    [("new_password", pw), ("confirm_password", pw)]
}

/// Whether `user` still has the temporary password: `InitiateAuth` with it answers `NEW_PASSWORD_REQUIRED`.
async fn still_temporary(g: &Gatehouse, user: &str) -> bool {
    let (status, body) = g
        .password_auth(&g.endpoints.client_id, user, password())
        .await;
    status == 200 && body["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
}

#[tokio::test]
async fn a_temporary_password_gets_the_change_password_form_and_then_a_code_that_exchanges() {
    let g = shared();
    let client = code_client(g, &[]);
    let user = temp_user(g, "npflow");
    let mut b = Browser::default();
    let page = change_form(g, &mut b, &client, &user).await;
    let body = &page.body;
    assert!(body.contains("<title>Change password</title>"), "{body}");
    assert!(body.contains("action=\"/changePassword\""), "{body}");
    assert!(body.contains("<label for=\"new_password\">New password</label>"));
    assert!(body.contains("name=\"new_password\" type=\"password\""));
    assert!(body.contains("<label for=\"confirm_password\">Confirm new password</label>"));
    assert!(body.contains("name=\"confirm_password\" type=\"password\""));
    assert!(body.contains("<button type=\"submit\">Change password</button>"));
    assert!(!body.contains(&user), "the form names nobody: {body}");
    assert!(!page.hidden("csrf").is_empty() && !page.hidden("request").is_empty());
    assert!(!b.cookies.contains_key("gatehouse_sso"), "no session yet");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");

    let done = post_change(g, &mut b, &page, &new_pw(password2())).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let params = done.redirect_params();
    assert_eq!(params["state"], "st-1 &x");
    assert!(b.cookies.contains_key("gatehouse_sso"), "an SSO session");
    let (status, tokens) = exchange(g, &client, &params["code"], VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["id_token"].is_string() && tokens["access_token"].is_string());
}

#[tokio::test]
async fn after_the_change_the_new_password_signs_in_and_the_temporary_one_does_not() {
    let g = shared();
    let client = code_client(g, &[]);
    let user = temp_user(g, "npafter");
    assert!(still_temporary(g, &user).await);
    let mut b = Browser::default();
    let page = change_form(g, &mut b, &client, &user).await;
    let done = post_change(g, &mut b, &page, &new_pw(password2())).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let (status, body) = g
        .password_auth(&g.endpoints.client_id, &user, password2())
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("ChallengeName").is_none(), "CONFIRMED now: {body}");
    assert!(body["AuthenticationResult"]["AccessToken"].is_string());
    let old = g
        .password_auth(&g.endpoints.client_id, &user, password())
        .await;
    assert_refused(&old, "NotAuthorizedException");
}

#[tokio::test]
async fn a_mismatched_confirmation_is_refused_and_changes_nothing() {
    let g = shared();
    let client = code_client(g, &[]);
    let user = temp_user(g, "npmismatch");
    let mut b = Browser::default();
    let page = change_form(g, &mut b, &client, &user).await;
    let other = format!("{}x", password2());
    let p = post_change(
        g,
        &mut b,
        &page,
        &[("new_password", password2()), ("confirm_password", &other)],
    )
    .await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(
        p.body.contains("The two passwords do not match."),
        "{}",
        p.body
    );
    assert!(p.body.contains("role=\"alert\""));
    assert!(p.location().is_none());
    assert!(!b.cookies.contains_key("gatehouse_sso"));
    assert!(still_temporary(g, &user).await, "nothing changed");
    // The form shown again still works.
    let done = post_change(g, &mut b, &p, &new_pw(password2())).await;
    assert_eq!(done.status, 303, "{}", done.body);
}

#[tokio::test]
async fn a_password_the_policy_refuses_is_refused_with_what_the_policy_wants() {
    let g = shared();
    let client = code_client(g, &[]);
    let user = temp_user(g, "nppolicy");
    let mut b = Browser::default();
    let page = change_form(g, &mut b, &client, &user).await;
    let p = post_change(g, &mut b, &page, &new_pw("short")).await;
    assert_eq!(p.status, 400, "{}", p.body);
    // The same words as `RespondToAuthChallenge`'s InvalidPasswordException.
    assert!(
        p.body.contains("Password did not conform with policy"),
        "{}",
        p.body
    );
    assert!(
        p.body.contains("Passwords need at least 8 characters"),
        "the whole policy: {}",
        p.body
    );
    for wanted in [
        "at least 8 characters",
        "an upper-case letter",
        "a number",
        "a symbol",
    ] {
        assert!(p.body.contains(wanted), "{wanted}: {}", p.body);
    }
    assert!(p.body.contains("name=\"new_password\""), "the form again");
    assert!(!b.cookies.contains_key("gatehouse_sso"));
    assert!(still_temporary(g, &user).await, "nothing changed");
}

#[tokio::test]
async fn a_change_password_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing()
{
    let g = shared();
    let client = code_client(g, &[]);
    let user = temp_user(g, "npcsrf");
    let mut b = Browser::default();
    let page = change_form(g, &mut b, &client, &user).await;
    let url = format!("{}/changePassword", g.endpoints.idp);
    let request = page.hidden("request");
    let pw = password2();
    let mut fields = vec![("request", request.as_str())];
    fields.extend_from_slice(&new_pw(pw));

    // No token.
    let p = b.post(&url, &fields).await;
    assert_eq!(p.status, 403, "{}", p.body);
    // A wrong token, with the right cookie.
    let bad = "A".repeat(43);
    let mut f = fields.clone();
    f.push(("csrf", &bad));
    let p = b.post(&url, &f).await;
    assert_eq!(p.status, 403, "{}", p.body);
    // Another browser's own valid token and cookie.
    let mut attacker = Browser::default();
    let theirs = attacker
        .get(&authorize_url(g, &client, &[]))
        .await
        .hidden("csrf");
    let mut f = fields.clone();
    f.push(("csrf", &theirs));
    let p = attacker.post(&url, &f).await;
    assert_eq!(p.status, 403, "{}", p.body);
    assert!(p.location().is_none());
    assert!(!attacker.cookies.contains_key("gatehouse_sso"));
    assert!(!b.cookies.contains_key("gatehouse_sso"));
    assert!(still_temporary(g, &user).await, "nothing changed");

    // The legitimate form still works.
    let done = post_change(g, &mut b, &page, &new_pw(pw)).await;
    assert_eq!(done.status, 303, "{}", done.body);
}

#[tokio::test]
async fn a_forged_post_naming_another_user_changes_only_the_parked_user() {
    let g = shared();
    let client = code_client(g, &[]);
    let attacker = temp_user(g, "npforger");
    let victim = temp_user(g, "npvictim");
    let mut b = Browser::default();

    // A sign-in form's parked request carries no proven identity: naming the victim changes nothing.
    let signin = b.get(&authorize_url(g, &client, &[])).await;
    let named = [("username", victim.as_str()), ("sub", victim.as_str())];
    let mut fields = new_pw(password2()).to_vec();
    fields.extend_from_slice(&named);
    let p = post_change(g, &mut b, &signin, &fields).await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(p.body.contains("expired or was already used"), "{}", p.body);
    assert!(still_temporary(g, &victim).await);

    // The attacker's own change-password form, posted naming the victim: the parked identity is used.
    let page = change_form(g, &mut b, &client, &attacker).await;
    let done = post_change(g, &mut b, &page, &fields).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(still_temporary(g, &victim).await, "the victim is untouched");
    let (status, body) = g
        .password_auth(&g.endpoints.client_id, &attacker, password2())
        .await;
    assert_eq!(status, 200, "the attacker's own password changed: {body}");
    assert!(body["AuthenticationResult"]["AccessToken"].is_string());
    let (status, body) = g
        .password_auth(&g.endpoints.client_id, &victim, password2())
        .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn the_parked_change_password_request_is_single_use() {
    let g = shared();
    let client = code_client(g, &[]);
    let user = temp_user(g, "nponce");
    let mut b = Browser::default();
    let page = change_form(g, &mut b, &client, &user).await;
    let done = post_change(g, &mut b, &page, &new_pw(password2())).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let again_pw = format!("{}y", password2());
    let again = post_change(g, &mut b, &page, &new_pw(&again_pw)).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(
        again.body.contains("expired or was already used"),
        "{}",
        again.body
    );
    assert!(again.location().is_none());
    let (status, _) = g
        .password_auth(&g.endpoints.client_id, &user, &again_pw)
        .await;
    assert_eq!(status, 400, "the second post changed nothing");
    // A refused post (mismatch) also spends its form: only the form shown again is usable.
    let user2 = temp_user(g, "nponce2");
    let mut b2 = Browser::default();
    let first = change_form(g, &mut b2, &client, &user2).await;
    let retry = post_change(
        g,
        &mut b2,
        &first,
        &[("new_password", "a"), ("confirm_password", "b")],
    )
    .await;
    assert_eq!(retry.status, 400);
    let stale = post_change(g, &mut b2, &first, &new_pw(password2())).await;
    assert_eq!(stale.status, 400, "{}", stale.body);
    assert!(stale.body.contains("expired or was already used"));
    assert!(still_temporary(g, &user2).await);
}

#[tokio::test]
async fn the_change_password_form_cannot_be_skipped_through_the_consent_post() {
    let g = shared();
    let client = code_client(g, &["--consent"]);
    let user = temp_user(g, "npskip");
    let mut b = Browser::default();
    let page = change_form(g, &mut b, &client, &user).await;
    // The parked request of the change-password form, posted as an approval: no code, no session.
    let p = post_change_to(
        g,
        &mut b,
        &page,
        "/oauth2/consent",
        &[("decision", "approve")],
    )
    .await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(p.location().is_none(), "no code");
    assert!(!b.cookies.contains_key("gatehouse_sso"));
    assert!(still_temporary(g, &user).await);
}

/// Posts `page`'s hidden fields with `fields` to `path`.
async fn post_change_to(
    g: &Gatehouse,
    b: &mut Browser,
    page: &Page,
    path: &str,
    fields: &[(&str, &str)],
) -> Page {
    let request = page.hidden("request");
    let csrf = page.hidden("csrf");
    let mut f = vec![("request", request.as_str()), ("csrf", csrf.as_str())];
    f.extend_from_slice(fields);
    b.post(&format!("{}{path}", g.endpoints.idp), &f).await
}
