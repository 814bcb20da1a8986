//! The hosted page's single sign-on session and its cookies: after a sign-in, a store row keyed by the SHA-256
//! of a random secret that only the `gatehouse_sso` cookie holds (HttpOnly, SameSite=Lax, Path=/, `Secure` when
//! the IdP's public URL is https), valid for the configured lifetime (Cognito's hosted UI: one hour); found
//! again by the next `/oauth2/authorize` in the same browser — unless the user has been disabled, deleted or
//! globally signed out since —, ended by `/logout` and replaced by a new sign-in. Also reads cookies for the
//! CSRF token (`gatehouse_csrf`). Must never store or log the cookie's secret.
use axum::http::{header, HeaderMap, HeaderValue};

use super::error::OAuthError;
use crate::idp::IdpState;
use crate::store::{SsoSessionRow, Sub, UserStatus};

/// The SSO session cookie.
pub const SSO_COOKIE: &str = "gatehouse_sso";
/// The CSRF cookie of the hosted forms.
pub const CSRF_COOKIE: &str = "gatehouse_csrf";

/// The value of cookie `name` in the request (the first, if the browser sent several).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// Whether cookies must be `Secure`: the IdP is reached over https.
fn secure(state: &IdpState) -> bool {
    state.issuer.starts_with("https://")
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/; `max_age` 0 clears it.
pub fn set_cookie(state: &IdpState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("x=; Max-Age=0"))
}

/// The browser's live SSO session, if it has one.
pub async fn current(
    state: &IdpState,
    headers: &HeaderMap,
) -> Result<Option<SsoSessionRow>, OAuthError> {
    let Some(secret) = cookie(headers, SSO_COOKIE) else {
        return Ok(None);
    };
    let hash = crate::util::sha256_hex(secret.as_bytes());
    let now = state.clock.now_unix();
    let Some(row) = state
        .store
        .find_sso_session(&hash, now)
        .await?
        .filter(|r| r.pool_id == state.pool.id)
    else {
        return Ok(None);
    };
    // The user may have been disabled, deleted or globally signed out since: then the session is over.
    let user = match state.store.find_user_by_sub(&state.pool.id, &row.sub).await {
        Ok(u) => Some(u),
        Err(crate::store::StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let revoked = state
        .store
        .latest_sub_revocation(&state.pool.id, &row.sub)
        .await?
        .is_some_and(|nb| nb >= row.created_at);
    let usable = user.is_some_and(|u| u.enabled && u.status == UserStatus::Confirmed);
    if !usable || revoked {
        state.store.delete_sso_session(&hash).await?;
        return Ok(None);
    }
    Ok(Some(row))
}

/// Starts an SSO session for `sub`; returns the `Set-Cookie` value that carries it.
pub async fn start(state: &IdpState, sub: &Sub, auth_time: i64) -> Result<HeaderValue, OAuthError> {
    let secret = crate::util::opaque_token(32);
    let now = state.clock.now_unix();
    let lifetime = state.settings.sso_session_lifetime;
    let row = SsoSessionRow {
        id_hash: crate::util::sha256_hex(secret.as_bytes()),
        pool_id: state.pool.id.clone(),
        sub: sub.clone(),
        auth_time,
        created_at: now,
        expires_at: now + lifetime,
    };
    state.store.put_sso_session(row, now).await?;
    tracing::info!(sub = %sub, session = %crate::util::log_id(&secret), "started an SSO session");
    Ok(set_cookie(state, SSO_COOKIE, &secret, lifetime))
}

/// Ends the browser's SSO session (if any); returns the `Set-Cookie` value that clears the cookie.
pub async fn end(state: &IdpState, headers: &HeaderMap) -> Result<HeaderValue, OAuthError> {
    if let Some(secret) = cookie(headers, SSO_COOKIE) {
        let hash = crate::util::sha256_hex(secret.as_bytes());
        state.store.delete_sso_session(&hash).await?;
        tracing::info!(session = %crate::util::log_id(secret), "ended an SSO session");
    }
    Ok(set_cookie(state, SSO_COOKIE, "", 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("x_gatehouse_sso=evil; gatehouse_sso=abc; other=1"),
        );
        assert_eq!(cookie(&h, SSO_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, CSRF_COOKIE), None);
    }
}
