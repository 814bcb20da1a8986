//! `GET|POST /oauth2/userInfo` (OpenID Connect Core §5.3): the bearer access token verified as `GetUser` does it
//! (`user_api::verify_access`: keys, issuer, expiry, revocations), the `openid` scope required, and the user's
//! claims as far as the token's scopes and the client's readable attributes allow — `email` for the e-mail
//! claims, `phone` for the phone claims, `profile` (or `aws.cognito.signin.user.admin`) for the rest. Refusals
//! are RFC 6750's: 401 `invalid_token`, 403 `insufficient_scope`. Must never log the token.
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::idp::user_api::{attributes_of, verify_access};
use crate::idp::{CognitoError, IdpState};

/// An RFC 6750 refusal.
fn bearer_error(status: StatusCode, error: &str, description: &str) -> Response {
    let challenge = format!("Bearer error=\"{error}\", error_description=\"{description}\"");
    let mut resp = (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// Which scope a claim needs.
fn scope_of(claim: &str) -> &'static str {
    match claim {
        "email" | "email_verified" => "email",
        "phone_number" | "phone_number_verified" => "phone",
        _ => "profile",
    }
}

/// `GET|POST /oauth2/userInfo`, the token in the `Authorization: Bearer` header.
pub async fn userinfo(State(state): State<Arc<IdpState>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
        })
        .map(|(_, t)| t.trim().to_string());
    let Some(token) = token.filter(|t| !t.is_empty() && t.len() <= 8192) else {
        let mut resp = bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "send the access token as Authorization: Bearer",
        );
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    };
    let (user, client_id, scopes) = match verify_access(&state, Some(&token)).await {
        Ok(v) => v,
        Err(CognitoError::Unavailable(_)) => {
            return bearer_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "try again later",
            )
        }
        Err(CognitoError::Internal(m)) => {
            tracing::error!(error = %m, "userinfo: internal error");
            return bearer_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
            );
        }
        Err(_) => {
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the access token is invalid, expired or revoked",
            )
        }
    };
    if !scopes.iter().any(|s| s == "openid") {
        return bearer_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the access token lacks the openid scope",
        );
    }
    let all = scopes.iter().any(|s| s == crate::idp::mint::SIGNIN_SCOPE);
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.sub));
    claims.insert("username".into(), json!(user.username));
    for a in attributes_of(&state, &client_id, &user) {
        let (Some(name), Some(value)) = (a["Name"].as_str(), a.get("Value")) else {
            continue;
        };
        if name == "sub" {
            continue;
        }
        if all || scopes.iter().any(|s| s == scope_of(name)) {
            claims.insert(name.to_string(), value.clone());
        }
    }
    let mut resp = axum::Json(Value::Object(claims)).into_response();
    super::error::no_store(&mut resp);
    resp
}
