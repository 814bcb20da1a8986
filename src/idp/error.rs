//! Cognito's error wire format, and the one place IdP errors become HTTP responses: status 400 for client
//! errors (500 for `InternalErrorException`), `{"__type": ..., "message": ...}`, `x-amzn-ErrorType` and
//! `x-amzn-ErrorMessage` headers. Must never put a password, a token or an internal error text in a body.
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

/// Every refusal the IdP sends. The `#[error]` text is the public `message`.
#[derive(Debug, thiserror::Error)]
pub enum CognitoError {
    /// Wrong credentials, disabled user, unusable token: one type so that callers learn nothing more.
    #[error("{0}")]
    NotAuthorized(String),
    /// A parameter is missing, malformed, or a flow is not enabled for the client.
    #[error("{0}")]
    InvalidParameter(String),
    /// The pool or client does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// The user has not confirmed their account.
    #[error("User is not confirmed.")]
    UserNotConfirmed,
    /// The `X-Amz-Target` names no operation gatehouse knows.
    #[error("{0}")]
    UnknownOperation(String),
    /// The body is not the JSON the operation expects.
    #[error("{0}")]
    Serialization(String),
    /// A confirmation or reset code does not match.
    #[error("Invalid verification code provided, please try again.")]
    CodeMismatch,
    /// The code has expired, was used, or was never sent.
    #[error("Invalid code provided, please request a code again.")]
    ExpiredCode,
    /// Too many wrong codes: the code is gone.
    #[error("Attempt limit exceeded, please try after some time.")]
    LimitExceeded,
    /// The password does not satisfy the pool's policy.
    #[error("{0}")]
    InvalidPassword(String),
    /// `SignUp` with a username that is taken.
    #[error("User already exists")]
    UsernameExists,
    /// The client address has failed too often.
    #[error("Too many requests, please try again later.")]
    TooManyRequests,
    /// The user must reset the password first.
    #[error("Password reset required for the user")]
    PasswordResetRequired,
    /// `RevokeToken` was given something other than a refresh token.
    #[error("The token type is not supported; pass a refresh token.")]
    UnsupportedTokenType,
    /// A rotated refresh token was presented again after its grace period; its family is revoked.
    #[error("The refresh token has been invalidated by refresh-token rotation.")]
    RefreshTokenReuse,
    /// The user does not exist (only where Cognito says so despite `PreventUserExistenceErrors`).
    #[error("User does not exist.")]
    UserNotFound,
    /// Cognito's own `UnauthorizedException` (`RevokeToken` for another client's token).
    #[error("Request isn't authorized.")]
    Unauthorized,
    /// The database cannot be reached and the operation needs it; nothing was written. 503, so that SDKs retry.
    #[error(
        "The user pool's database is temporarily unavailable; nothing was changed. Retry shortly."
    )]
    Unavailable(String),
    /// The store or the signer failed; the detail is logged, never sent.
    #[error("An internal error occurred.")]
    Internal(String),
}

impl CognitoError {
    /// Cognito's `__type` for this error.
    pub fn type_name(&self) -> &'static str {
        match self {
            CognitoError::NotAuthorized(_) => "NotAuthorizedException",
            CognitoError::InvalidParameter(_) => "InvalidParameterException",
            CognitoError::ResourceNotFound(_) => "ResourceNotFoundException",
            CognitoError::UserNotConfirmed => "UserNotConfirmedException",
            CognitoError::UnknownOperation(_) => "UnknownOperationException",
            CognitoError::Serialization(_) => "SerializationException",
            CognitoError::CodeMismatch => "CodeMismatchException",
            CognitoError::ExpiredCode => "ExpiredCodeException",
            CognitoError::LimitExceeded => "LimitExceededException",
            CognitoError::InvalidPassword(_) => "InvalidPasswordException",
            CognitoError::UsernameExists => "UsernameExistsException",
            CognitoError::TooManyRequests => "TooManyRequestsException",
            CognitoError::PasswordResetRequired => "PasswordResetRequiredException",
            CognitoError::UnsupportedTokenType => "UnsupportedTokenTypeException",
            CognitoError::RefreshTokenReuse => "RefreshTokenReuseException",
            CognitoError::UserNotFound => "UserNotFoundException",
            CognitoError::Unauthorized => "UnauthorizedException",
            CognitoError::Internal(_) | CognitoError::Unavailable(_) => "InternalErrorException",
        }
    }

    /// The HTTP status: Cognito sends 400 for every client error and 500 for internal faults.
    pub fn status(&self) -> StatusCode {
        match self {
            CognitoError::NotAuthorized(_)
            | CognitoError::InvalidParameter(_)
            | CognitoError::ResourceNotFound(_)
            | CognitoError::UserNotConfirmed
            | CognitoError::UnknownOperation(_)
            | CognitoError::Serialization(_)
            | CognitoError::CodeMismatch
            | CognitoError::ExpiredCode
            | CognitoError::LimitExceeded
            | CognitoError::InvalidPassword(_)
            | CognitoError::UsernameExists
            | CognitoError::TooManyRequests
            | CognitoError::PasswordResetRequired
            | CognitoError::UnsupportedTokenType
            | CognitoError::RefreshTokenReuse
            | CognitoError::UserNotFound
            | CognitoError::Unauthorized => StatusCode::BAD_REQUEST,
            CognitoError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            CognitoError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The wrong-credentials error, identical for an unknown user and a wrong password.
    pub fn bad_credentials() -> Self {
        CognitoError::NotAuthorized("Incorrect username or password.".into())
    }
}

impl From<StoreError> for CognitoError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => CognitoError::Unavailable(format!("store: {e}")),
            e => CognitoError::Internal(format!("store: {e}")),
        }
    }
}

impl From<super::password::PasswordError> for CognitoError {
    fn from(e: super::password::PasswordError) -> Self {
        match e {
            super::password::PasswordError::Busy => CognitoError::TooManyRequests,
            e => CognitoError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for CognitoError {
    fn into_response(self) -> Response {
        let type_name = self.type_name();
        let message = self.to_string();
        match &self {
            CognitoError::Internal(detail) => {
                tracing::error!(error = %detail, "idp internal error")
            }
            CognitoError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "idp request failed: store unavailable")
            }
            _ => tracing::info!(error_type = type_name, %message, "idp request refused"),
        }
        let body = serde_json::json!({ "__type": type_name, "message": message });
        let mut resp = (self.status(), body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert(
            "content-type",
            HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        h.insert("x-amzn-errortype", HeaderValue::from_static(type_name));
        if let Ok(v) = HeaderValue::from_str(&message) {
            h.insert("x-amzn-errormessage", v);
        }
        if matches!(self, CognitoError::Unavailable(_)) {
            h.insert("retry-after", HeaderValue::from_static("1"));
        }
        resp
    }
}
