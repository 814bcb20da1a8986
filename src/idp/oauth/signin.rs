//! The hosted sign-in and consent forms of `/oauth2/authorize`: the pending request parked by `form` (single
//! use, re-parked after a failed attempt) and every post CSRF-checked there; the password checked by
//! `auth::check_password` (the throttle counters and the one generic error of `InitiateAuth`); a temporary
//! password gets the change-password form (`new_password_form`, parked with the identity it proved; its post
//! is `new_password`); then the SSO session (`start_session`), the consent screen of third-party clients
//! (`consent_required`) and the code. Must never log a password, a CSRF token or a code.
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;

use super::error::OAuthError;
use super::form::{checked_post, csrf_token, expired, field, fields, park, NewPasswordFor, Parked};
use super::page::{self, esc};
use super::request::{error_redirect, form_action_sources, issue_code, server_error, AuthRequest};
use super::sso;
use crate::idp::auth::check_password;
use crate::idp::{CognitoError, IdpState};
use crate::store::{Sub, UserStatus};

/// Renders the sign-in form for `req` (parked anew), with `error` in the alert region.
pub async fn show_form(
    state: &IdpState,
    headers: &HeaderMap,
    req: AuthRequest,
    error: Option<(&str, &str)>,
    status: StatusCode,
) -> Response {
    let (csrf, set) = csrf_token(state, headers);
    let form_action = form_action_sources(&req.redirect_uri);
    let username = error
        .map(|(_, u)| u.to_string())
        .or_else(|| req.login_hint.clone())
        .unwrap_or_default();
    let parked = Parked {
        csrf_hash: crate::util::sha256_hex(csrf.as_bytes()),
        request: req.clone(),
        user: None,
        new_password_for: None,
    };
    let id = match park(state, &parked).await {
        Ok(id) => id,
        Err(e) => return server_error(state, &req, e),
    };
    let alert = error.map(|(m, _)| page::alert(m)).unwrap_or_default();
    let body = format!(
        "{alert}\n<form method=\"post\" action=\"/login\">\n{}\n{}\n{}\n{}\n\
         <button type=\"submit\">Sign in</button>\n</form>\n<nav>\n\
         <a href=\"/signup?request={rid}\">Create an account</a>\n\
         <a href=\"/forgotPassword?request={rid}\">Forgot your password?</a>\n</nav>",
        page::hidden("request", &id),
        page::hidden("csrf", &csrf),
        page::input("username", "Username", "text", &username, "username"),
        page::input("password", "Password", "password", "", "current-password"),
        rid = esc(&id),
    );
    let mut resp = page::respond(status, page::html("Sign in", &body), &form_action);
    if let Some(c) = set {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// Renders the change-password form for `who` with `req` parked anew (bound to `who`), `error` in the alert
/// region.
pub async fn new_password_form(
    state: &IdpState,
    headers: &HeaderMap,
    req: AuthRequest,
    who: NewPasswordFor,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, set) = csrf_token(state, headers);
    let form_action = form_action_sources(&req.redirect_uri);
    let parked = Parked {
        csrf_hash: crate::util::sha256_hex(csrf.as_bytes()),
        request: req.clone(),
        user: None,
        new_password_for: Some(who),
    };
    let id = match park(state, &parked).await {
        Ok(id) => id,
        Err(e) => return server_error(state, &req, e),
    };
    let alert = page::alert(
        error.unwrap_or("Your password is temporary. Choose a new password to continue."),
    );
    let body = format!(
        "{alert}\n<form method=\"post\" action=\"/changePassword\">\n{}\n{}\n{}\n{}\n\
         <button type=\"submit\">Change password</button>\n</form>",
        page::hidden("request", &id),
        page::hidden("csrf", &csrf),
        page::input(
            "new_password",
            "New password",
            "password",
            "",
            "new-password"
        ),
        page::input(
            "confirm_password",
            "Confirm new password",
            "password",
            "",
            "new-password"
        ),
    );
    let mut resp = page::respond(status, page::html("Change password", &body), &form_action);
    if let Some(c) = set {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// After the user is known (a password just now, or the SSO session): the consent screen for a third-party
/// client, else the code.
pub async fn after_sign_in(
    state: &IdpState,
    headers: &HeaderMap,
    req: AuthRequest,
    sub: &Sub,
    auth_time: i64,
    status: StatusCode,
) -> Result<Response, OAuthError> {
    let client = super::clients::resolve(state, &req.client_id).await?;
    if !client.needs_consent() {
        return issue_code(state, &req, sub, auth_time, status).await;
    }
    if req.prompt_none {
        return Ok(error_redirect(
            state,
            status,
            &req.redirect_uri,
            req.state.as_deref(),
            "consent_required",
            "the client needs the user's consent",
        ));
    }
    let (csrf, set) = csrf_token(state, headers);
    let form_action = form_action_sources(&req.redirect_uri);
    let scopes: String = req
        .scope
        .split(' ')
        .map(|s| format!("<li>{}</li>", esc(s)))
        .collect();
    let resource = req
        .resource
        .as_deref()
        .map(|r| format!("<p>For the resource <strong>{}</strong>.</p>", esc(r)))
        .unwrap_or_default();
    let parked = Parked {
        csrf_hash: crate::util::sha256_hex(csrf.as_bytes()),
        request: req,
        user: Some((sub.clone(), auth_time)),
        new_password_for: None,
    };
    let id = park(state, &parked).await?;
    let body = format!(
        "<p><strong>{name}</strong> asks for access to your account:</p>\n<ul>{scopes}</ul>\n{resource}\n\
         <form method=\"post\" action=\"/oauth2/consent\">\n{}\n{}\n\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n</form>",
        page::hidden("request", &id),
        page::hidden("csrf", &csrf),
        name = esc(&client.client.name),
    );
    let mut resp = page::respond(
        StatusCode::OK,
        page::html("Allow access?", &body),
        &form_action,
    );
    if let Some(c) = set {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}

/// A notice page for a user who cannot sign in yet.
fn notice(title: &str, message: &str, link: Option<(&str, &str)>) -> Response {
    let link = link
        .map(|(href, text)| format!("<nav><a href=\"{}\">{}</a></nav>", esc(href), esc(text)))
        .unwrap_or_default();
    let body = format!("{}\n{link}", page::alert(message));
    page::respond(StatusCode::OK, page::html(title, &body), "'self'")
}

/// `POST /login`: the sign-in form.
pub async fn login(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    form: super::token::FormBody,
) -> Response {
    let ip: Option<IpAddr> = extensions.get::<crate::net::ClientAddr>().map(|c| c.0);
    let Some(pairs) = fields(form) else {
        return page::error(StatusCode::BAD_REQUEST, "The form is malformed.");
    };
    let parked = match checked_post(&state, &headers, &pairs).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let req = parked.request.clone();
    let parked_again = parked;
    let username = field(&pairs, "username")
        .unwrap_or_default()
        .trim()
        .to_string();
    let password = field(&pairs, "password").unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        let e = ("Enter your username and password.", username.as_str());
        return show_form(&state, &headers, req, Some(e), StatusCode::BAD_REQUEST).await;
    }
    let user = match check_password(&state, &username, password, ip).await {
        Ok(u) => u,
        Err(CognitoError::NotAuthorized(m)) => {
            let e = (m.as_str(), username.as_str());
            return show_form(&state, &headers, req, Some(e), StatusCode::UNAUTHORIZED).await;
        }
        Err(CognitoError::TooManyRequests) | Err(CognitoError::LimitExceeded) => {
            let e = ("Too many attempts, please try again later.", &*username);
            let status = StatusCode::TOO_MANY_REQUESTS;
            return show_form(&state, &headers, req, Some(e), status).await;
        }
        Err(e) => return server_error(&state, &req, e.into()),
    };
    if !user.enabled {
        let e = ("User is disabled.", username.as_str());
        return show_form(&state, &headers, req, Some(e), StatusCode::UNAUTHORIZED).await;
    }
    if user.status == UserStatus::ForceChangePassword {
        // The identity the temporary password proved is parked with the request, server-side.
        let who = NewPasswordFor {
            sub: user.sub.clone(),
            username: user.username.clone(),
        };
        return new_password_form(&state, &headers, req, who, None, StatusCode::OK).await;
    }
    if let Some((path, title, message)) = status_detour(user.status) {
        // The request waits (parked again) while the user confirms or resets.
        let again = Parked {
            user: None,
            new_password_for: None,
            ..parked_again
        };
        let id = match park(&state, &again).await {
            Ok(id) => id,
            Err(e) => return server_error(&state, &req, e),
        };
        let href = format!(
            "{path}?request={id}&username={}",
            percent_encoding::utf8_percent_encode(&username, percent_encoding::NON_ALPHANUMERIC)
        );
        return notice(title, message, Some((&href, title)));
    }
    start_session(&state, &headers, req, &user.sub).await
}

/// A user just proved (a password, or a new password set here): the browser's previous SSO session ends, a new
/// one starts, and the authorization continues (consent or code) with a `303`.
pub async fn start_session(
    state: &IdpState,
    headers: &HeaderMap,
    req: AuthRequest,
    sub: &Sub,
) -> Response {
    let auth_time = state.clock.now_unix();
    // A new sign-in replaces the browser's previous session (prompt=login, another user).
    if let Err(e) = sso::end(state, headers).await {
        return server_error(state, &req, e);
    }
    let cookie = match sso::start(state, sub, auth_time).await {
        Ok(c) => c,
        Err(e) => return server_error(state, &req, e),
    };
    let status = StatusCode::SEE_OTHER;
    let mut resp = match after_sign_in(state, headers, req.clone(), sub, auth_time, status).await {
        Ok(r) => r,
        Err(e) => server_error(state, &req, e),
    };
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    resp
}

/// Where an unconfirmed user or one whose password must be reset goes instead of a code: the confirm or reset
/// page (path, title, message). A temporary password gets the change-password form (`new_password`) instead.
fn status_detour(status: UserStatus) -> Option<(&'static str, &'static str, &'static str)> {
    match status {
        UserStatus::Confirmed | UserStatus::ForceChangePassword => None,
        UserStatus::Unconfirmed => Some((
            "/confirm",
            "Confirm your account",
            "Your account is not confirmed yet. Enter the code we sent to your email address.",
        )),
        UserStatus::ResetRequired => Some((
            "/forgotPassword",
            "Reset your password",
            "Your password must be reset before you can sign in.",
        )),
    }
}

/// `POST /oauth2/consent`: approve (the code) or deny (`access_denied`).
pub async fn consent(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
    form: super::token::FormBody,
) -> Response {
    let Some(pairs) = fields(form) else {
        return page::error(StatusCode::BAD_REQUEST, "The form is malformed.");
    };
    let parked = match checked_post(&state, &headers, &pairs).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let (req, Some((sub, auth_time))) = (parked.request, parked.user) else {
        return expired();
    };
    match field(&pairs, "decision") {
        Some("approve") => {
            match issue_code(&state, &req, &sub, auth_time, StatusCode::SEE_OTHER).await {
                Ok(r) => r,
                Err(e) => server_error(&state, &req, e),
            }
        }
        _ => error_redirect(
            &state,
            StatusCode::SEE_OTHER,
            &req.redirect_uri,
            req.state.as_deref(),
            "access_denied",
            "the user denied the request",
        ),
    }
}
