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
            CognitoError::Internal(_) => "InternalErrorException",
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
            | CognitoError::Serialization(_) => StatusCode::BAD_REQUEST,
            CognitoError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The wrong-credentials error, identical for an unknown user and a wrong password.
    pub fn bad_credentials() -> Self {
        CognitoError::NotAuthorized("Incorrect username or password.".into())
    }
}

impl From<StoreError> for CognitoError {
    fn from(e: StoreError) -> Self {
        CognitoError::Internal(format!("store: {e}"))
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
        resp
    }
}
