//! The hosted page's account forms — create an account (`/signup`), confirm it with the mailed code
//! (`/confirm`), forgot password (`/forgotPassword`, `/confirmForgotPassword`) — over the Cognito operations of
//! `account` (the same checks, limits, mail path and enumeration resistance; `SECRET_HASH` computed here for a
//! confidential client), each CSRF-checked by `form` and carrying the parked authorization request, so that the
//! sign-in form of that request follows. Must never log a password or a code.
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;

use super::form::{self, checked_post, field, fields, Parked};
use super::page;
use super::signin::show_form;
use crate::idp::account::{self, AccountRequest};
use crate::idp::client_auth::{find_client, secret_hash};
use crate::idp::user_api::AttributeType;
use crate::idp::{CognitoError, IdpState};

/// Which account form to show.
#[derive(Clone, Copy)]
enum Screen {
    SignUp,
    Confirm,
    Forgot,
    Reset,
}

impl Screen {
    fn title(self) -> &'static str {
        match self {
            Screen::SignUp => "Create an account",
            Screen::Confirm => "Confirm your account",
            Screen::Forgot => "Forgot your password?",
            Screen::Reset => "Set a new password",
        }
    }
}

/// Renders `screen` for the parked request `id` (`message` in the alert region, `username` pre-filled).
fn render(
    state: &IdpState,
    headers: &HeaderMap,
    screen: Screen,
    id: &str,
    username: &str,
    message: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, set) = form::csrf_token(state, headers);
    let user = page::input("username", "Username", "text", username, "username");
    let code = page::input("code", "Code", "text", "", "one-time-code");
    let (action, fields, button) = match screen {
        Screen::SignUp => (
            "/signup",
            format!(
                "{user}\n{}\n{}",
                page::input("email", "Email", "email", "", "email"),
                page::input("password", "Password", "password", "", "new-password")
            ),
            "Create account",
        ),
        Screen::Confirm => ("/confirm", format!("{user}\n{code}"), "Confirm"),
        Screen::Forgot => ("/forgotPassword", user, "Send code"),
        Screen::Reset => (
            "/confirmForgotPassword",
            format!(
                "{user}\n{code}\n{}",
                page::input("password", "New password", "password", "", "new-password")
            ),
            "Set password",
        ),
    };
    let alert = message.map(page::alert).unwrap_or_default();
    let body = format!(
        "{alert}\n<form method=\"post\" action=\"{action}\">\n{}\n{}\n{fields}\n\
         <button type=\"submit\">{button}</button>\n</form>",
        page::hidden("request", id),
        page::hidden("csrf", &csrf),
    );
    let mut resp = page::respond(status, page::html(screen.title(), &body), "'self'");
    if let Some(c) = set {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// `GET /signup`, `/confirm`, `/forgotPassword` with `?request=<id>` (and an optional `username`).
async fn show(
    state: &IdpState,
    headers: &HeaderMap,
    query: &[(String, String)],
    screen: Screen,
) -> Response {
    let get = |k: &str| {
        query
            .iter()
            .find(|(n, _)| n == k)
            .map_or("", |(_, v)| v.as_str())
    };
    let id = get("request");
    // Peek: the request stays parked under its id for the form's post.
    match form::take(state, id).await {
        Ok(Some(parked)) => {
            if form::park_under(state, id, &parked).await.is_err() {
                return page::error(StatusCode::SERVICE_UNAVAILABLE, "Try again later.");
            }
        }
        Ok(None) => return form::expired(),
        Err(_) => return page::error(StatusCode::SERVICE_UNAVAILABLE, "Try again later."),
    }
    let username = get("username");
    render(state, headers, screen, id, username, None, StatusCode::OK)
}

type QueryPairs = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

fn pairs_of(q: QueryPairs) -> Vec<(String, String)> {
    q.map(|Query(p)| p).unwrap_or_default()
}

/// `GET /signup`.
pub async fn signup_page(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
    q: QueryPairs,
) -> Response {
    show(&state, &headers, &pairs_of(q), Screen::SignUp).await
}

/// `GET /confirm`.
pub async fn confirm_page(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
    q: QueryPairs,
) -> Response {
    show(&state, &headers, &pairs_of(q), Screen::Confirm).await
}

/// `GET /forgotPassword`.
pub async fn forgot_page(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
    q: QueryPairs,
) -> Response {
    show(&state, &headers, &pairs_of(q), Screen::Forgot).await
}

/// A post's parked request (re-parked under the same id, so the next form still names it), its id and the
/// account operation's request for the form's fields.
async fn accept(
    state: &IdpState,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<(Parked, String, AccountRequest), Response> {
    let parked = checked_post(state, headers, pairs).await?;
    let id = field(pairs, "request").unwrap_or_default().to_string();
    if form::park_under(state, &id, &parked).await.is_err() {
        return Err(page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again later.",
        ));
    }
    let username = field(pairs, "username")
        .unwrap_or_default()
        .trim()
        .to_string();
    let secret = match find_client(state, &parked.request.client_id).await {
        Ok(c) => secret_hash(&c, &username),
        Err(_) => None,
    };
    let email = field(pairs, "email").map(|e| AttributeType {
        name: Some("email".into()),
        value: Some(e.trim().to_string()),
    });
    let req = AccountRequest {
        client_id: Some(parked.request.client_id.clone()),
        username: Some(username),
        password: field(pairs, "password").map(String::from),
        secret_hash: secret,
        confirmation_code: field(pairs, "code").map(|c| c.trim().to_string()),
        user_attributes: email.into_iter().collect(),
    };
    Ok((parked, id, req))
}

/// A Cognito refusal as the form's message.
fn message(e: &CognitoError) -> String {
    match e {
        CognitoError::Internal(_) => "Something went wrong; try again later.".into(),
        other => other.to_string(),
    }
}

/// One account post: `op` runs the operation, then `next` is the screen that follows (`None`: the request's
/// sign-in form, with `done` as its notice).
async fn post(
    state: Arc<IdpState>,
    headers: HeaderMap,
    ip: Option<IpAddr>,
    form: super::token::FormBody,
    screen: Screen,
    next: Option<Screen>,
    done: &str,
) -> Response {
    let Some(pairs) = fields(form) else {
        return page::error(StatusCode::BAD_REQUEST, "The form is malformed.");
    };
    let (parked, id, req) = match accept(&state, &headers, &pairs).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let username = req.username.clone().unwrap_or_default();
    let result = match screen {
        Screen::SignUp => account::sign_up(&state, req, ip).await,
        Screen::Confirm => account::confirm_sign_up(&state, req).await,
        Screen::Forgot => account::forgot_password(&state, req, ip).await,
        Screen::Reset => account::confirm_forgot_password(&state, req, ip).await,
    };
    if let Err(e) = result {
        let m = message(&e);
        return render(
            &state,
            &headers,
            screen,
            &id,
            &username,
            Some(&m),
            StatusCode::BAD_REQUEST,
        );
    }
    match next {
        Some(n) => render(
            &state,
            &headers,
            n,
            &id,
            &username,
            Some(done),
            StatusCode::OK,
        ),
        None => {
            // Back to the authorization request: its sign-in form, parked anew.
            let _ = form::take(&state, &id).await;
            let notice = (done, username.as_str());
            show_form(
                &state,
                &headers,
                parked.request,
                Some(notice),
                StatusCode::OK,
            )
            .await
        }
    }
}

fn ip_of(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions.get::<crate::net::ClientAddr>().map(|c| c.0)
}

/// `POST /signup`.
pub async fn signup(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    form: super::token::FormBody,
) -> Response {
    let done = "We sent a code to your email address. Enter it to confirm your account.";
    post(
        state,
        headers,
        ip_of(&extensions),
        form,
        Screen::SignUp,
        Some(Screen::Confirm),
        done,
    )
    .await
}

/// `POST /confirm`.
pub async fn confirm(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    form: super::token::FormBody,
) -> Response {
    let done = "Your account is confirmed. Sign in.";
    post(
        state,
        headers,
        ip_of(&extensions),
        form,
        Screen::Confirm,
        None,
        done,
    )
    .await
}

/// `POST /forgotPassword`.
pub async fn forgot(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    form: super::token::FormBody,
) -> Response {
    let done = "If the account exists and has a verified email address, we sent it a code.";
    post(
        state,
        headers,
        ip_of(&extensions),
        form,
        Screen::Forgot,
        Some(Screen::Reset),
        done,
    )
    .await
}

/// `POST /confirmForgotPassword`.
pub async fn reset(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    form: super::token::FormBody,
) -> Response {
    let done = "Your password is changed. Sign in.";
    post(
        state,
        headers,
        ip_of(&extensions),
        form,
        Screen::Reset,
        None,
        done,
    )
    .await
}
