//! The hosted sign-in page over real sockets: the pinned form (labels, button, links), its security headers and
//! accessibility, CSRF (a post without or with a wrong token is refused and signs nobody in), the generic error
//! for a wrong password and an unknown user, the throttle shared with `InitiateAuth`, an unconfirmed user's page,
//! the SSO session (a second client skips the form; `/logout` ends it server-side) and the consent screen.
//! Test code only.
use serde_json::json;

use super::oauth_authorize::{
    authorize_url, code_client, encode, exchange, sign_in_fresh, Browser, Page, VERIFIER,
};
use crate::common::{password, shared, start_with_config, Gatehouse};

/// The form page with the request-specific values (hidden ids) blanked, to compare two pages.
fn normalized(p: &Page) -> String {
    let mut body = p.body.clone();
    for name in ["request", "csrf"] {
        let v = p.hidden(name);
        body = body.replace(&v, "X");
    }
    body
}

#[tokio::test]
async fn the_sign_in_form_has_the_pinned_labels_button_and_links() {
    let g = shared();
    let client = code_client(g, &[]);
    let page = Browser::default()
        .get(&authorize_url(g, &client, &[("login_hint", "hinted")]))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let b = &page.body;
    assert!(b.contains("<html lang=\"en\">"));
    assert!(b.contains("<label for=\"username\">Username</label>"));
    assert!(b.contains("<input id=\"username\" name=\"username\" type=\"text\" value=\"hinted\""));
    assert!(b.contains("<label for=\"password\">Password</label>"));
    assert!(b.contains("name=\"password\" type=\"password\""));
    assert!(b.contains("<button type=\"submit\">Sign in</button>"));
    assert!(b.contains(">Create an account</a>"));
    assert!(b.contains(">Forgot your password?</a>"));
    assert!(
        !b.to_lowercase().contains("<script"),
        "no JavaScript at all"
    );
    assert!(!b.contains(" style="), "no inline style");
}

#[tokio::test]
async fn hosted_pages_carry_a_strict_csp_and_the_security_headers() {
    let g = shared();
    let client = code_client(g, &[]);
    let form = Browser::default()
        .get(&authorize_url(g, &client, &[]))
        .await;
    let error = Browser::default()
        .get(&authorize_url(g, "nosuchclient0000000000000", &[]))
        .await;
    for page in [&form, &error] {
        let h = |k: &str| page.headers.get(k).unwrap().to_str().unwrap().to_string();
        let csp = h("content-security-policy");
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(csp.contains("style-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("form-action "), "{csp}");
        assert!(!csp.contains("script-src"), "{csp}");
        assert_eq!(h("x-frame-options"), "DENY");
        assert_eq!(h("cache-control"), "no-store");
        assert_eq!(h("referrer-policy"), "no-referrer");
        assert!(h("content-type").starts_with("text/html"));
    }
    let csp = form.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("form-action 'self' https://app.example.com;"),
        "{csp}"
    );
    let cookie = form.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("gatehouse_csrf="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
}

#[tokio::test]
async fn a_post_without_or_with_a_wrong_csrf_token_is_refused_and_signs_nobody_in() {
    let g = shared();
    let client = code_client(g, &[]);
    let user = g.new_user("csrf");
    let mut b = Browser::default();
    let form = b.get(&authorize_url(g, &client, &[])).await;
    let request = form.hidden("request");
    let csrf = form.hidden("csrf");
    let login = format!("{}/login", g.endpoints.idp);
    let creds = [("username", user.as_str()), ("password", password())];

    // No token in the form.
    let mut f = vec![("request", request.as_str())];
    f.extend_from_slice(&creds);
    let p = b.post(&login, &f).await;
    assert_eq!(p.status, 403, "{}", p.body);
    // A wrong token, with the right cookie.
    let bad = "A".repeat(43);
    let mut f = vec![("request", request.as_str()), ("csrf", bad.as_str())];
    f.extend_from_slice(&creds);
    let p = b.post(&login, &f).await;
    assert_eq!(p.status, 403);
    // The right token but no cookie (another site's page posting it).
    let mut other = Browser::default();
    let mut f = vec![("request", request.as_str()), ("csrf", csrf.as_str())];
    f.extend_from_slice(&creds);
    let p = other.post(&login, &f).await;
    assert_eq!(p.status, 403);
    // Another browser's own (valid) token and cookie against this request.
    let mut attacker = Browser::default();
    let theirs = attacker
        .get(&authorize_url(g, &client, &[]))
        .await
        .hidden("csrf");
    let mut f = vec![("request", request.as_str()), ("csrf", theirs.as_str())];
    f.extend_from_slice(&creds);
    let p = attacker.post(&login, &f).await;
    assert_eq!(p.status, 403);
    assert!(p.location().is_none());
    assert!(p.headers.get("set-cookie").is_none(), "no SSO session");
    assert!(!attacker.cookies.contains_key("gatehouse_sso"));
    assert!(!b.cookies.contains_key("gatehouse_sso"));

    // Nothing happened: the legitimate form still works, once.
    let done = b.sign_in(g, &form, &user, password()).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(done.redirect_params().contains_key("code"));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_give_the_same_page() {
    let g = shared();
    let client = code_client(g, &[]);
    let user = g.new_user("samepage");
    let mut b = Browser::default();
    let form = b.get(&authorize_url(g, &client, &[])).await;
    let wrong = b.sign_in(g, &form, &user, "Wrong-password-1!").await;
    let form = b.get(&authorize_url(g, &client, &[])).await;
    let unknown_name = format!("{user}x");
    let unknown = b
        .sign_in(g, &form, &unknown_name, "Wrong-password-1!")
        .await;
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert!(wrong
        .body
        .contains("role=\"alert\">Incorrect username or password."));
    // The same page but for the echoed username.
    assert_eq!(
        normalized(&wrong).replace(&user, "U"),
        normalized(&unknown).replace(&unknown_name, "U")
    );
    assert!(wrong.location().is_none() && unknown.location().is_none());
}

#[tokio::test]
async fn the_hosted_form_is_throttled_after_n_failures_like_initiate_auth() {
    let (_tmp, g) = start_with_config("[idp]\nmax_failed_signins_per_user = 3\n");
    let client = code_client(&g, &[]);
    let user = g.new_user("throttled");
    let mut b = Browser::default();
    for _ in 0..3 {
        let form = b.get(&authorize_url(&g, &client, &[])).await;
        let p = b.sign_in(&g, &form, &user, "Wrong-password-1!").await;
        assert_eq!(p.status, 401);
    }
    // The right password is refused now, on the page and through InitiateAuth (one set of counters).
    let form = b.get(&authorize_url(&g, &client, &[])).await;
    let p = b.sign_in(&g, &form, &user, password()).await;
    assert_eq!(p.status, 401, "{}", p.body);
    assert!(p.body.contains("Password attempts exceeded"), "{}", p.body);
    assert!(p.location().is_none());
    let (status, body) = g
        .password_auth(&g.endpoints.client_id, &user, password())
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("Password attempts exceeded"));
}

#[tokio::test]
async fn an_unconfirmed_user_gets_the_confirm_page() {
    let g = shared();
    let client = code_client(g, &[]);
    let name = format!("unconf-{}", gatehouse::util::random_lower_alnum(8));
    let (status, body) = g
        .idp(
            "SignUp",
            &json!({"ClientId": g.endpoints.client_id, "Username": name, "Password": password(),
                    "UserAttributes": [{"Name": "email", "Value": format!("{name}@example.com")}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut b = Browser::default();
    let form = b.get(&authorize_url(g, &client, &[])).await;
    let p = b.sign_in(g, &form, &name, password()).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("Confirm your account"), "{}", p.body);
    assert!(p.location().is_none());
    assert!(!b.cookies.contains_key("gatehouse_sso"));
    // The confirm page, then back to the same authorization request.
    let confirm = b
        .get(&format!(
            "{}{}",
            g.endpoints.idp,
            href(&p, "Confirm your account")
        ))
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains(&format!("value=\"{name}\"")));
    let code = g.code_for(&format!("{name}@example.com"), 0);
    let signin = post_form(
        g,
        &mut b,
        &confirm,
        "/confirm",
        &[("username", &name), ("code", &code)],
    )
    .await;
    assert!(
        signin.body.contains("Your account is confirmed"),
        "{}",
        signin.body
    );
    let done = b.sign_in(g, &signin, &name, password()).await;
    assert_eq!(done.status, 303, "{}", done.body);
}

#[tokio::test]
async fn sso_signs_a_second_client_in_without_the_form() {
    let g = shared();
    let first = code_client(g, &[]);
    let second = code_client(g, &[]);
    let user = g.new_user("sso");
    let mut b = Browser::default();
    let done = sign_in_fresh(g, &mut b, &first, &user).await;
    assert_eq!(done.status, 303);
    let cookie = done
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("gatehouse_sso="))
        .expect("an SSO cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/")
    );
    let first_auth_time = {
        let (_, body) = exchange(g, &first, &done.redirect_params()["code"], VERIFIER).await;
        gatehouse::token::jws::parse(body["id_token"].as_str().unwrap())
            .unwrap()
            .payload["auth_time"]
            .clone()
    };

    let page = b.get(&authorize_url(g, &second, &[])).await;
    assert_eq!(page.status, 302, "no form: {}", page.body);
    let p = page.redirect_params();
    assert_eq!(p["state"], "st-1 &x");
    let (status, body) = exchange(g, &second, &p["code"], VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    let id = gatehouse::token::jws::parse(body["id_token"].as_str().unwrap())
        .unwrap()
        .payload;
    assert_eq!(id["aud"], second.as_str());
    assert_eq!(id["cognito:username"], user.as_str());
    assert_eq!(
        id["auth_time"], first_auth_time,
        "the session's sign-in time"
    );
    // prompt=none with the session: a code, not an error.
    let page = b
        .get(&authorize_url(g, &second, &[("prompt", "none")]))
        .await;
    assert!(page.redirect_params().contains_key("code"));
}

#[tokio::test]
async fn logout_ends_the_sso_session_and_clears_its_cookie() {
    let g = shared();
    let client = code_client(g, &[]);
    let user = g.new_user("ssoout");
    let mut b = Browser::default();
    sign_in_fresh(g, &mut b, &client, &user).await;
    let kept = b.clone();
    let out = b
        .get(&format!(
            "{}/logout?client_id={client}&logout_uri={}",
            g.endpoints.idp,
            encode("https://app.example.com/bye")
        ))
        .await;
    assert_eq!(out.status, 302, "{}", out.body);
    assert!(!b.cookies.contains_key("gatehouse_sso"), "cookie cleared");
    // The session is gone on the server too: the old cookie no longer signs in.
    let mut old = kept;
    assert!(old.cookies.contains_key("gatehouse_sso"));
    let page = old
        .get(&authorize_url(g, &client, &[("prompt", "none")]))
        .await;
    assert_eq!(page.redirect_params()["error"], "login_required");
    let page = old.get(&authorize_url(g, &client, &[])).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"password\""));
}

/// Signs in to a third-party client; returns the browser and its consent page.
pub async fn consent_page(g: &Gatehouse, client: &str) -> (Browser, Page) {
    let user = g.new_user("consent");
    let mut b = Browser::default();
    let page = sign_in_fresh(g, &mut b, client, &user).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Allow access?"));
    assert!(page.body.contains("<li>openid</li><li>email</li>"));
    (b, page)
}

#[tokio::test]
async fn consent_deny_redirects_access_denied() {
    let g = shared();
    let client = code_client(g, &["--consent"]);
    let (mut b, page) = consent_page(g, &client).await;
    let p = b
        .post(
            &format!("{}/oauth2/consent", g.endpoints.idp),
            &[
                ("request", &page.hidden("request")),
                ("csrf", &page.hidden("csrf")),
                ("decision", "deny"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let params = p.redirect_params();
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "st-1 &x");
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn consent_approve_issues_the_code_and_prompt_none_needs_consent() {
    let g = shared();
    let client = code_client(g, &["--consent"]);
    let (mut b, page) = consent_page(g, &client).await;
    let consent = format!("{}/oauth2/consent", g.endpoints.idp);
    // Without the CSRF token: refused.
    let p = b
        .post(
            &consent,
            &[
                ("request", &page.hidden("request")),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(p.status, 403);
    let p = b
        .post(
            &consent,
            &[
                ("request", &page.hidden("request")),
                ("csrf", &page.hidden("csrf")),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let (status, body) = exchange(g, &client, &p.redirect_params()["code"], VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    let page = b
        .get(&authorize_url(g, &client, &[("prompt", "none")]))
        .await;
    assert_eq!(page.redirect_params()["error"], "consent_required");
}

/// The `href` of the link whose text is `text`, unescaped.
fn href(p: &Page, text: &str) -> String {
    let end = p
        .body
        .find(&format!("\">{text}</a>"))
        .unwrap_or_else(|| panic!("no link {text} in {}", p.body));
    let start = p.body[..end].rfind("href=\"").unwrap() + "href=\"".len();
    p.body[start..end].replace("&amp;", "&")
}

/// Posts the form of `page` to `path` with its hidden fields and `fields`.
async fn post_form(
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

#[tokio::test]
async fn sign_up_and_confirm_on_the_hosted_page_return_to_the_authorization() {
    let g = shared();
    let client = code_client(g, &[]);
    let name = format!("hostedsu-{}", gatehouse::util::random_lower_alnum(8));
    let email = format!("{name}@example.com");
    let mut b = Browser::default();
    let form = b.get(&authorize_url(g, &client, &[])).await;
    let signup = b
        .get(&format!(
            "{}{}",
            g.endpoints.idp,
            href(&form, "Create an account")
        ))
        .await;
    assert_eq!(signup.status, 200, "{}", signup.body);
    assert!(signup.body.contains("<label for=\"email\">Email</label>"));
    let confirm = post_form(
        g,
        &mut b,
        &signup,
        "/signup",
        &[
            ("username", &name),
            ("email", &email),
            ("password", password()),
        ],
    )
    .await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("<label for=\"code\">Code</label>"));
    let code = g.code_for(&email, 0);
    let signin = post_form(
        g,
        &mut b,
        &confirm,
        "/confirm",
        &[("username", &name), ("code", &code)],
    )
    .await;
    assert_eq!(signin.status, 200, "{}", signin.body);
    assert!(signin.body.contains("Your account is confirmed"));
    let done = b.sign_in(g, &signin, &name, password()).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let p = done.redirect_params();
    assert_eq!(p["state"], "st-1 &x");
    let (status, body) = exchange(g, &client, &p["code"], VERIFIER).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn forgot_password_on_the_hosted_page_returns_to_the_authorization() {
    let g = shared();
    let client = code_client(g, &[]);
    let user = g.new_user("hostedfp");
    let mut b = Browser::default();
    let form = b.get(&authorize_url(g, &client, &[])).await;
    let forgot = b
        .get(&format!(
            "{}{}",
            g.endpoints.idp,
            href(&form, "Forgot your password?")
        ))
        .await;
    assert_eq!(forgot.status, 200, "{}", forgot.body);
    let reset = post_form(
        g,
        &mut b,
        &forgot,
        "/forgotPassword",
        &[("username", &user)],
    )
    .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert!(reset.body.contains("New password"));
    let code = g.code_for(&format!("{user}@example.com"), 0);
    let new_pw = crate::common::password2();
    let signin = post_form(
        g,
        &mut b,
        &reset,
        "/confirmForgotPassword",
        &[("username", &user), ("code", &code), ("password", new_pw)],
    )
    .await;
    assert_eq!(signin.status, 200, "{}", signin.body);
    assert!(signin.body.contains("Your password is changed"));
    let done = b.sign_in(g, &signin, &user, new_pw).await;
    assert_eq!(done.status, 303, "{}", done.body);
}

#[tokio::test]
async fn a_disabled_users_sso_session_signs_nobody_in() {
    let g = shared();
    let client = code_client(g, &[]);
    let user = g.new_user("ssodis");
    let mut b = Browser::default();
    let done = sign_in_fresh(g, &mut b, &client, &user).await;
    assert_eq!(done.status, 303);
    let (ok, out) = g.cli(&["user", "disable", "--username", &user], "");
    assert!(ok, "{out}");
    let page = b
        .get(&authorize_url(g, &client, &[("prompt", "none")]))
        .await;
    assert_eq!(page.redirect_params()["error"], "login_required");
}
