//! `GET /oauth2/authorize` (Cognito's path on the IdP listener): the request checked by `request`, then the
//! browser's SSO session skips the form (unless `prompt=login`), `prompt=none` without one is `login_required`,
//! and otherwise the hosted sign-in form (`signin`). Must never show a page for `prompt=none`, nor log a
//! request value.
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::request::{error_redirect, parse_request, refuse, server_error};
use super::{page, signin, sso};
use crate::idp::IdpState;

/// `GET /oauth2/authorize`.
pub async fn authorize(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(pairs)) = query else {
        return page::error(StatusCode::BAD_REQUEST, "The query string is malformed.");
    };
    let req = match parse_request(&state, &pairs).await {
        Ok(r) => r,
        Err(r) => return refuse(&state, r),
    };
    let session = match sso::current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return server_error(&state, &req, e),
    };
    match (session, req.prompt_login) {
        (Some(s), false) => {
            match signin::after_sign_in(
                &state,
                &headers,
                req.clone(),
                &s.sub,
                s.auth_time,
                StatusCode::FOUND,
            )
            .await
            {
                Ok(resp) => resp,
                Err(e) => server_error(&state, &req, e),
            }
        }
        _ if req.prompt_none => error_redirect(
            &state,
            StatusCode::FOUND,
            &req.redirect_uri,
            req.state.as_deref(),
            "login_required",
            "the user is not signed in",
        ),
        _ => signin::show_form(&state, &headers, req, None, StatusCode::OK).await,
    }
}
