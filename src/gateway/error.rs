//! The one place gateway errors become HTTP responses, in AgentCore's shape: the status, an `x-amzn-ErrorType`
//! header naming the exception, a `{"message": ...}` body, and on 401/403 the RFC 6750 `WWW-Authenticate: Bearer`
//! challenge. Exhaustive match, no `_` arm. Must never put a token or an internal error text in a response.
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::token::{Refusal, TokenError};

/// Every refusal or failure of the data plane.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No `Authorization: Bearer` header.
    #[error("Missing bearer token: send 'Authorization: Bearer <access token>'.")]
    MissingToken,
    /// The `Authorization` header is present but not one well-formed bearer token.
    #[error("{0}")]
    MalformedCredential(&'static str),
    /// The token was refused by the runtime's authorizer.
    #[error("{0}")]
    Token(#[from] TokenError),
    /// No runtime matches the ARN, id or name in the path.
    #[error("No runtime matches '{0}'.")]
    RuntimeNotFound(String),
    /// The runtime has no endpoint with this qualifier.
    #[error("The runtime has no endpoint named '{0}'.")]
    EndpointNotFound(String),
    /// The path names no data-plane operation.
    #[error("Unknown operation: use POST /runtimes/{{runtime ARN}}/invocations.")]
    UnknownOperation,
    /// The session id is not 33–256 characters of `[A-Za-z0-9_-]`.
    #[error("Invalid session id: X-Amzn-Bedrock-AgentCore-Runtime-Session-Id must be 33 to 256 characters of letters, digits, '-' and '_', starting with a letter or digit.")]
    InvalidSessionId,
    /// The session belongs to another user.
    #[error("This session belongs to another user; start a new session.")]
    SessionOwnedByAnother,
    /// The agent could not be reached.
    #[error("The agent is not reachable.")]
    AgentUnreachable(String),
    /// The agent answered with an error status (its message, shortened, follows).
    #[error("The agent returned HTTP {status}: {message}")]
    AgentError { status: u16, message: String },
    /// The agent did not start answering within the runtime's `response_timeout`.
    #[error("The agent did not answer in time.")]
    AgentTimeout,
    /// The token is valid but was revoked (sign-out, revoked refresh token, disabled user).
    #[error("The token has been revoked.")]
    Revoked,
    /// The request body is larger than the runtime allows.
    #[error("The request body is larger than {0} bytes.")]
    PayloadTooLarge(u64),
    /// A browser origin that the runtime does not allow.
    #[error("Requests from this origin are not allowed for this runtime.")]
    OriginNotAllowed,
    /// Too many requests by this user.
    #[error("Rate exceeded; retry after {0} seconds.")]
    Throttled(u64),
    /// Rate limits are shared through Redis, Redis does not answer, and the policy is to fail closed.
    #[error("Rate limits cannot be checked right now (the shared rate-limit store is unreachable); retry shortly.")]
    RateLimitUnavailable,
    /// A request on the internal listener without the cluster's shared secret.
    #[error("This listener accepts requests from gatehouse instances only.")]
    NotAPeer,
    /// The process limit of the runtime or of gatehouse is reached.
    #[error("Too many agent processes are running; try again later.")]
    TooManyProcesses,
    /// The session's agent process could not be started (detail logged with its stderr).
    #[error("The agent for this session could not be started.")]
    AgentStartFailed(String),
    /// The user holds as many WebSockets as the runtime allows.
    #[error("Too many open WebSockets for this user; close one first.")]
    TooManySockets,
    /// The user holds as many sessions as the runtime allows.
    #[error("Too many concurrent sessions for this user; stop one or wait until one goes idle.")]
    TooManySessions,
    /// A required header is missing or malformed.
    #[error("{0}")]
    Validation(&'static str),
    /// No such session (StopRuntimeSession).
    #[error("Session not found or already terminated.")]
    SessionNotFound,
    /// The database is unreachable and this request needs it (a session's first request binds it); nothing
    /// was written. Detail logged, never sent.
    #[error("The session store is temporarily unavailable; retry shortly.")]
    StoreUnavailable(String),
    /// Something inside gatehouse failed; detail is logged, never sent.
    #[error("An internal error occurred.")]
    Internal(String),
}

impl From<crate::agent::supervisor::SupervisorError> for GatewayError {
    fn from(e: crate::agent::supervisor::SupervisorError) -> Self {
        match e {
            crate::agent::supervisor::SupervisorError::TooManyProcesses => {
                GatewayError::TooManyProcesses
            }
            crate::agent::supervisor::SupervisorError::StartFailed(m) => {
                GatewayError::AgentStartFailed(m)
            }
        }
    }
}

impl GatewayError {
    /// A short fixed label for metrics (`auth_failures_total{reason}`), for authentication refusals only.
    pub fn auth_failure_reason(&self) -> Option<String> {
        match self {
            GatewayError::MissingToken => Some("missing_token".into()),
            GatewayError::MalformedCredential(_) => Some("malformed_credential".into()),
            GatewayError::Revoked => Some("revoked".into()),
            GatewayError::Token(e) => {
                let debug = format!("{e:?}");
                Some(debug.split('(').next().unwrap_or("token").to_string())
            }
            _ => None,
        }
    }

    fn status_and_type(&self) -> (StatusCode, &'static str) {
        match self {
            GatewayError::MissingToken | GatewayError::MalformedCredential(_) => {
                (StatusCode::UNAUTHORIZED, "UnauthorizedException")
            }
            GatewayError::Token(e) => match e.refusal() {
                Refusal::Unauthorized => (StatusCode::UNAUTHORIZED, "UnauthorizedException"),
                Refusal::Forbidden => (StatusCode::FORBIDDEN, "AccessDeniedException"),
                Refusal::Unavailable => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailableException",
                ),
            },
            GatewayError::RuntimeNotFound(_)
            | GatewayError::EndpointNotFound(_)
            | GatewayError::UnknownOperation => {
                (StatusCode::NOT_FOUND, "ResourceNotFoundException")
            }
            GatewayError::InvalidSessionId
            | GatewayError::PayloadTooLarge(_)
            | GatewayError::Validation(_) => (StatusCode::BAD_REQUEST, "ValidationException"),
            GatewayError::SessionOwnedByAnother
            | GatewayError::OriginNotAllowed
            | GatewayError::NotAPeer => (StatusCode::FORBIDDEN, "AccessDeniedException"),
            GatewayError::AgentUnreachable(_) => (StatusCode::BAD_GATEWAY, "RuntimeClientError"),
            GatewayError::AgentTimeout => (StatusCode::GATEWAY_TIMEOUT, "RuntimeClientError"),
            GatewayError::AgentError { .. } => {
                (StatusCode::FAILED_DEPENDENCY, "RuntimeClientError")
            }
            GatewayError::Revoked => (StatusCode::UNAUTHORIZED, "UnauthorizedException"),
            GatewayError::AgentStartFailed(_)
            | GatewayError::RateLimitUnavailable
            | GatewayError::StoreUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
            ),
            GatewayError::Throttled(_)
            | GatewayError::TooManySessions
            | GatewayError::TooManySockets
            | GatewayError::TooManyProcesses => {
                (StatusCode::TOO_MANY_REQUESTS, "ThrottlingException")
            }
            GatewayError::SessionNotFound => (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
            GatewayError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerException")
            }
        }
    }

    /// The RFC 6750 §3 challenge for this error, if it is an authentication or authorisation refusal.
    fn challenge(&self) -> Option<String> {
        match self {
            GatewayError::MissingToken => Some("Bearer".into()),
            GatewayError::MalformedCredential(_) => Some("Bearer error=\"invalid_request\"".into()),
            GatewayError::Token(e) => match e.refusal() {
                Refusal::Unauthorized => Some(format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    e.to_string().replace('"', "'")
                )),
                Refusal::Forbidden => Some("Bearer error=\"insufficient_scope\"".into()),
                Refusal::Unavailable => None,
            },
            GatewayError::Revoked => Some(
                "Bearer error=\"invalid_token\", error_description=\"the token has been revoked\""
                    .into(),
            ),
            GatewayError::RuntimeNotFound(_)
            | GatewayError::EndpointNotFound(_)
            | GatewayError::UnknownOperation
            | GatewayError::InvalidSessionId
            | GatewayError::SessionOwnedByAnother
            | GatewayError::AgentUnreachable(_)
            | GatewayError::AgentTimeout
            | GatewayError::AgentError { .. }
            | GatewayError::PayloadTooLarge(_)
            | GatewayError::OriginNotAllowed
            | GatewayError::Throttled(_)
            | GatewayError::RateLimitUnavailable
            | GatewayError::NotAPeer
            | GatewayError::TooManySessions
            | GatewayError::TooManySockets
            | GatewayError::TooManyProcesses
            | GatewayError::AgentStartFailed(_)
            | GatewayError::Validation(_)
            | GatewayError::SessionNotFound
            | GatewayError::StoreUnavailable(_)
            | GatewayError::Internal(_) => None,
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let (status, type_name) = self.status_and_type();
        let message = self.to_string();
        match &self {
            GatewayError::AgentUnreachable(detail)
            | GatewayError::Internal(detail)
            | GatewayError::StoreUnavailable(detail)
            | GatewayError::AgentStartFailed(detail) => {
                tracing::error!(error_type = type_name, %detail, "gateway failure");
            }
            _ => {
                tracing::info!(status = status.as_u16(), error_type = type_name, %message, "gateway refused request")
            }
        }
        let body = serde_json::json!({ "message": message });
        let mut resp = (status, body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("x-amzn-errortype", HeaderValue::from_static(type_name));
        if let Some(v) = self
            .challenge()
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            h.insert("www-authenticate", v);
        }
        match &self {
            GatewayError::Throttled(secs) => {
                h.insert("retry-after", HeaderValue::from(*secs));
            }
            GatewayError::RateLimitUnavailable => {
                h.insert("retry-after", HeaderValue::from_static("1"));
            }
            GatewayError::TooManySessions
            | GatewayError::TooManySockets
            | GatewayError::TooManyProcesses => {
                h.insert("retry-after", HeaderValue::from_static("60"));
            }
            _ => {}
        }
        resp
    }
}
