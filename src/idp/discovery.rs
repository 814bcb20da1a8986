//! The pool's public documents: `/{poolId}/.well-known/jwks.json` (every active public key) and
//! `/{poolId}/.well-known/openid-configuration` (whose `issuer` equals the tokens' `iss`; its OAuth members are
//! `oauth::metadata`'s), and the RFC 8414 authorization-server metadata. Read-only; never publishes private key
//! material.
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{CognitoError, IdpState};

fn check_pool(state: &IdpState, pool_id: &str) -> Result<(), CognitoError> {
    if pool_id == state.pool.id {
        Ok(())
    } else {
        Err(CognitoError::ResourceNotFound(format!(
            "User pool {pool_id} does not exist."
        )))
    }
}

fn json_response(body: serde_json::Value) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "application/json"),
        (header::CACHE_CONTROL, "public, max-age=300"),
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
    ];
    (headers, body.to_string()).into_response()
}

/// `GET /{poolId}/.well-known/jwks.json`
pub async fn jwks(State(state): State<Arc<IdpState>>, Path(pool_id): Path<String>) -> Response {
    if let Err(e) = check_pool(&state, &pool_id) {
        return e.into_response();
    }
    let keys = match state.keys.current(state.clock.now_unix()).await {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    match serde_json::to_value(&keys.jwks) {
        Ok(v) => json_response(v),
        Err(e) => CognitoError::Internal(format!("jwks serialisation: {e}")).into_response(),
    }
}

/// `GET /{poolId}/.well-known/openid-configuration`
pub async fn openid_configuration(
    State(state): State<Arc<IdpState>>,
    Path(pool_id): Path<String>,
) -> Response {
    if let Err(e) = check_pool(&state, &pool_id) {
        return e.into_response();
    }
    // Only what gatehouse serves: the OAuth members (the authorization endpoint and its hosted sign-in page
    // included) are the authorization server's (`oauth::metadata`).
    let mut doc = super::oauth::metadata::oauth_members(&state);
    let oidc = json!({
        "userinfo_endpoint": format!("{}/oauth2/userInfo", super::oauth::metadata::base_url(&state)),
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "jti", "origin_jti", "event_id", "token_use",
            "client_id", "scope", "username", "cognito:username", "email", "email_verified"
        ],
    });
    if let serde_json::Value::Object(m) = oidc {
        doc.extend(m);
    }
    json_response(serde_json::Value::Object(doc))
}

/// `GET /.well-known/oauth-authorization-server/{poolId}` and `GET /{poolId}/.well-known/oauth-authorization-server`
/// (RFC 8414).
pub async fn authorization_server(
    State(state): State<Arc<IdpState>>,
    Path(pool_id): Path<String>,
) -> Response {
    if let Err(e) = check_pool(&state, &pool_id) {
        return e.into_response();
    }
    json_response(serde_json::Value::Object(
        super::oauth::metadata::oauth_members(&state),
    ))
}
