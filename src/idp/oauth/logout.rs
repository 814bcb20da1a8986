//! `GET /logout` (Cognito's sign-out endpoint): `client_id` and `logout_uri`, which must be one of that client's
//! registered logout URLs (`redirect::matches`: exact, or a loopback http URL with any port) — then a 302 to it.
//! Anything else is a 400 page naming what to fix and never a redirect (no open redirect). A valid sign-out also
//! ends the browser's hosted-page SSO session (`sso::end`) and clears its cookie. Must never build a
//! `Location` from anything but a registered URL.
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{redirect, sso};
use crate::idp::client_auth::find_client;
use crate::idp::{CognitoError, IdpState};

/// A refusal as a small plain-text page (a person's browser shows it).
fn refuse(status: StatusCode, message: &str) -> Response {
    let mut resp = (status, format!("Sign-out refused: {message}\n")).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `GET /logout?client_id=…&logout_uri=…`.
pub async fn logout(
    State(state): State<Arc<IdpState>>,
    headers: axum::http::HeaderMap,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(pairs)) = query else {
        return refuse(StatusCode::BAD_REQUEST, "the query string is malformed");
    };
    let get = |k: &str| {
        let mut it = pairs.iter().filter(|(n, _)| n == k);
        match (it.next(), it.next()) {
            (Some((_, v)), None) if !v.is_empty() => Ok(Some(v.as_str())),
            (Some(_), Some(_)) => Err(format!("{k} is given more than once")),
            _ => Ok(None),
        }
    };
    let (client_id, logout_uri) = match (get("client_id"), get("logout_uri")) {
        (Ok(Some(c)), Ok(Some(u))) => (c, u),
        (Err(e), _) | (_, Err(e)) => return refuse(StatusCode::BAD_REQUEST, &e),
        _ => return refuse(
            StatusCode::BAD_REQUEST,
            "client_id and logout_uri are required (logout_uri: one of the client's --logout-url)",
        ),
    };
    if client_id.len() > 128 || logout_uri.len() > redirect::MAX_URL_LEN {
        return refuse(
            StatusCode::BAD_REQUEST,
            "client_id or logout_uri is too long",
        );
    }
    let client = match find_client(&state, client_id).await {
        Ok(c) => c,
        Err(CognitoError::ResourceNotFound(_)) => {
            return refuse(StatusCode::BAD_REQUEST, "there is no such client")
        }
        Err(e) => return e.into_response(),
    };
    if !redirect::is_registered(client.logout_urls.iter(), logout_uri) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "logout_uri is not one of the client's registered logout URLs",
        );
    }
    let Ok(location) = HeaderValue::from_str(logout_uri) else {
        return refuse(StatusCode::BAD_REQUEST, "logout_uri is not a valid URL");
    };
    let cleared = match sso::end(&state, &headers).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let mut resp = StatusCode::FOUND.into_response();
    let h = resp.headers_mut();
    h.insert(header::SET_COOKIE, cleared);
    h.insert(header::LOCATION, location);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
