//! The hosted page's change-password form for a user whose correct password was a temporary one (status
//! `FORCE_CHANGE_PASSWORD`, Cognito's `NEW_PASSWORD_REQUIRED`): the form (`signin::new_password_form`, rendered
//! by `/login`) parks the authorization request with the identity the temporary password proved; here
//! `POST /changePassword` — CSRF-checked and single use through `form` — sets the new password with
//! `auth::set_new_password` (the same policy, status change and revocation semantics as
//! `RespondToAuthChallenge`), then signs the user in as `/login` does (`signin::start_session`). Must never read whose password changes from the post, and never log
//! a password, a CSRF token or a parked id.
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::form::{checked_post, expired, field, fields};
use super::page;
use super::request::server_error;
use super::signin::{new_password_form, start_session};
use crate::idp::auth::{lookup, set_new_password};
use crate::idp::password::POLICY_SUMMARY;
use crate::idp::{CognitoError, IdpState};
use crate::store::UserStatus;

/// `POST /changePassword`: the new password of the user the parked request names.
pub async fn change(
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
    let (req, Some(who)) = (parked.request, parked.new_password_for) else {
        return expired();
    };
    let new_pw = field(&pairs, "new_password").unwrap_or_default();
    let confirm = field(&pairs, "confirm_password").unwrap_or_default();
    let (st, h, r, w) = (&*state, &headers, &req, &who);
    let refuse = move |msg: String, status| async move {
        new_password_form(st, h, r.clone(), w.clone(), Some(&msg), status).await
    };
    if new_pw.is_empty() || confirm.is_empty() {
        let msg = "Enter your new password twice.".to_string();
        return refuse(msg, StatusCode::BAD_REQUEST).await;
    }
    if new_pw != confirm {
        let msg = "The two passwords do not match.".to_string();
        return refuse(msg, StatusCode::BAD_REQUEST).await;
    }
    // The parked user must still be the one proven, and still waiting for a new password.
    match lookup(&state, &who.username).await {
        Ok(Some(u))
            if u.sub == who.sub && u.enabled && u.status == UserStatus::ForceChangePassword => {}
        Ok(_) => return expired(),
        Err(e) => return server_error(&state, &req, e.into()),
    }
    let now = state.clock.now_unix();
    let user = match set_new_password(&state, &who.username, new_pw, ip, now).await {
        Ok(u) => u,
        Err(CognitoError::InvalidPassword(m)) => {
            return refuse(format!("{POLICY_SUMMARY} {m}"), StatusCode::BAD_REQUEST).await;
        }
        Err(CognitoError::TooManyRequests) | Err(CognitoError::LimitExceeded) => {
            let msg = "Too many attempts, please try again later.".to_string();
            return refuse(msg, StatusCode::TOO_MANY_REQUESTS).await;
        }
        Err(e) => return server_error(&state, &req, e.into()),
    };
    tracing::info!(sub = %user.sub, "hosted page: a temporary password was replaced");
    if !user.enabled {
        return page::error(StatusCode::UNAUTHORIZED, "User is disabled.");
    }
    start_session(&state, &headers, req, &user.sub).await
}
