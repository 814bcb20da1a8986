//! The OAuth error wire format (RFC 6749 §5.2) and the one place OAuth errors become HTTP responses:
//! `{"error": …, "error_description": …}` with 400, 401 and `WWW-Authenticate: Basic` when client authentication
//! failed, 503 when the store is away, 500 for internal failures; never cached. Must never put a secret, a code
//! or a token, nor an internal error's text, in a body.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::idp::CognitoError;
use crate::store::StoreError;

/// Every refusal of the token, userinfo and revocation endpoints.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// A parameter is missing, repeated, malformed or not allowed here.
    #[error("{0}")]
    InvalidRequest(String),
    /// The client could not be authenticated (unknown, wrong secret, none sent for a confidential client).
    #[error("{0}")]
    InvalidClient(String),
    /// The code, refresh token or PKCE verifier is invalid, expired, used, or another client's.
    #[error("{0}")]
    InvalidGrant(String),
    /// The client may not use this grant type.
    #[error("{0}")]
    UnauthorizedClient(String),
    /// A grant type gatehouse does not implement.
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// A scope the client may not have.
    #[error("{0}")]
    InvalidScope(String),
    /// RFC 8707: a resource gatehouse does not know.
    #[error("{0}")]
    InvalidTarget(String),
    /// RFC 7009: a token of a type that cannot be revoked.
    #[error("{0}")]
    UnsupportedTokenType(String),
    /// Too many failures from this address.
    #[error("Too many requests, please try again later.")]
    TooManyRequests,
    /// The store is unavailable.
    #[error("The service is unavailable, please try again later.")]
    Unavailable(String),
    /// An internal failure (logged, never shown).
    #[error("internal error")]
    Internal(String),
}

impl OAuthError {
    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::InvalidTarget(_) => "invalid_target",
            OAuthError::UnsupportedTokenType(_) => "unsupported_token_type",
            OAuthError::TooManyRequests => "slow_down",
            OAuthError::Unavailable(_) => "temporarily_unavailable",
            OAuthError::Internal(_) => "server_error",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            OAuthError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            OAuthError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            OAuthError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            OAuthError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => OAuthError::Unavailable(m),
            other => OAuthError::Internal(other.to_string()),
        }
    }
}

impl From<CognitoError> for OAuthError {
    /// Minting and the shared checks speak Cognito's errors; here they become OAuth's.
    fn from(e: CognitoError) -> Self {
        match e {
            CognitoError::NotAuthorized(m) => OAuthError::InvalidGrant(m),
            CognitoError::TooManyRequests | CognitoError::LimitExceeded => {
                OAuthError::TooManyRequests
            }
            CognitoError::Unavailable(m) => OAuthError::Unavailable(m),
            other => OAuthError::Internal(other.to_string()),
        }
    }
}

/// Marks an answer as never cacheable (RFC 6749 §5.1).
pub fn no_store(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        let description = match &self {
            OAuthError::Internal(m) => {
                tracing::error!(error = %m, "oauth: internal error");
                "internal error".to_string()
            }
            OAuthError::Unavailable(m) => {
                tracing::warn!(error = %m, "oauth: store unavailable");
                self.to_string()
            }
            other => other.to_string(),
        };
        let body = serde_json::json!({"error": self.code(), "error_description": description});
        let mut resp = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"gatehouse\""),
            );
        }
        no_store(&mut resp);
        resp
    }
}
