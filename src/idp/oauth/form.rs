//! The hosted forms' plumbing: the pending authorization request parked in the pending sign-ins
//! (`idp::pending`: in memory, or in the store when instances share it) under a random id the form carries,
//! and CSRF — the `csrf` field must equal the `gatehouse_csrf` cookie (HttpOnly, SameSite=Lax) and hash to the
//! token the request was parked with, else 403 and nothing happens. Must never log a CSRF token or an id.
use aws_lc_rs::constant_time;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::error::OAuthError;
use super::page;
use super::request::AuthRequest;
use super::sso;
use crate::idp::pending::Pending;
use crate::idp::IdpState;
use crate::store::Sub;

/// How long a form may wait for its post, seconds.
pub const FORM_LIFETIME: i64 = 600;

/// What a parked form remembers.
#[derive(Serialize, Deserialize)]
pub struct Parked {
    pub request: AuthRequest,
    /// SHA-256 of the CSRF token the form was rendered with.
    pub csrf_hash: String,
    /// Signed in and waiting for consent: `(sub, auth_time)`.
    pub user: Option<(Sub, i64)>,
    /// Proven by a temporary password and waiting for the new one (`new_password`). Only this, never a field
    /// of the post, says whose password changes.
    #[serde(default)]
    pub new_password_for: Option<NewPasswordFor>,
}

/// The user a temporary password just proved.
#[derive(Clone, Serialize, Deserialize)]
pub struct NewPasswordFor {
    pub sub: Sub,
    pub username: String,
}

pub async fn park(state: &IdpState, parked: &Parked) -> Result<String, OAuthError> {
    let id = crate::util::opaque_token(24);
    let json = serde_json::to_string(parked)
        .map_err(|e| OAuthError::Internal(format!("parking a request: {e}")))?;
    let now = state.clock.now_unix();
    state
        .pending
        .put(
            id.clone(),
            Pending::Authorize(json),
            now + FORM_LIFETIME,
            now,
        )
        .await?;
    Ok(id)
}

pub async fn take(state: &IdpState, id: &str) -> Result<Option<Parked>, OAuthError> {
    if id.len() > 64 {
        return Ok(None);
    }
    let now = state.clock.now_unix();
    Ok(match state.pending.take(id, now).await? {
        Some(Pending::Authorize(json)) => serde_json::from_str(&json).ok(),
        _ => None,
    })
}

/// The browser's CSRF token (its cookie if it has a well-formed one, else a new one with the cookie to set).
pub fn csrf_token(state: &IdpState, headers: &HeaderMap) -> (String, Option<header::HeaderValue>) {
    match sso::cookie(headers, sso::CSRF_COOKIE) {
        Some(t) if t.len() == 43 => (t.to_string(), None),
        _ => {
            let t = crate::util::opaque_token(32);
            let cookie = sso::set_cookie(state, sso::CSRF_COOKIE, &t, FORM_LIFETIME * 6);
            (t, Some(cookie))
        }
    }
}

/// Whether the post's `csrf` field equals the cookie (checked before anything is read or changed).
pub fn csrf_matches_cookie(headers: &HeaderMap, field: Option<&str>) -> bool {
    match (sso::cookie(headers, sso::CSRF_COOKIE), field) {
        (Some(c), Some(f)) => {
            constant_time::verify_slices_are_equal(c.as_bytes(), f.as_bytes()).is_ok()
        }
        _ => false,
    }
}

pub fn forbidden() -> Response {
    page::error(
        StatusCode::FORBIDDEN,
        "The form could not be verified (missing or wrong CSRF token). Start the sign-in again.",
    )
}

pub fn expired() -> Response {
    page::error(
        StatusCode::BAD_REQUEST,
        "This sign-in form has expired or was already used. Start the sign-in again.",
    )
}

/// A form post's fields (each at most once).
pub fn fields(form: super::token::FormBody) -> Option<Vec<(String, String)>> {
    let axum::Form(pairs) = form.ok()?;
    (pairs.len() <= 10).then_some(pairs)
}

pub fn field<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    let mut it = pairs.iter().filter(|(k, _)| k == key);
    match (it.next(), it.next()) {
        (Some((_, v)), None) => Some(v.as_str()),
        _ => None,
    }
}

/// The CSRF checks of a post, then the parked form it names.
pub async fn checked_post(
    state: &IdpState,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<Parked, Response> {
    let csrf = field(pairs, "csrf");
    if !csrf_matches_cookie(headers, csrf) {
        tracing::warn!("hosted form posted without its CSRF token");
        return Err(forbidden());
    }
    let csrf = csrf.unwrap_or_default();
    let Some(id) = field(pairs, "request") else {
        return Err(expired());
    };
    let parked = match take(state, id).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(expired()),
        Err(e) => {
            tracing::warn!(error = %e, "hosted form: cannot read the parked request");
            return Err(page::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again later.",
            ));
        }
    };
    let hash = crate::util::sha256_hex(csrf.as_bytes());
    if constant_time::verify_slices_are_equal(hash.as_bytes(), parked.csrf_hash.as_bytes()).is_err()
    {
        tracing::warn!("hosted form posted with another browser's CSRF token");
        // The legitimate browser's form stays usable.
        let _ = park_under(state, id, &parked).await;
        return Err(forbidden());
    }
    Ok(parked)
}

pub async fn park_under(state: &IdpState, id: &str, parked: &Parked) -> Result<(), OAuthError> {
    let json = serde_json::to_string(parked)
        .map_err(|e| OAuthError::Internal(format!("parking a request: {e}")))?;
    let now = state.clock.now_unix();
    Ok(state
        .pending
        .put(
            id.to_string(),
            Pending::Authorize(json),
            now + FORM_LIFETIME,
            now,
        )
        .await?)
}
