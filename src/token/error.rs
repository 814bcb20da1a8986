//! Owns the single error type of the token module ([`TokenError`]) and its
//! mapping to an HTTP-edge refusal class ([`Refusal`]).
//!
//! Must never: include any part of a token, key or claim value in a message
//! (only static reasons and, for custom-claim mismatches, the configured claim
//! *name*), because every `Display` text here may be shown to clients.

/// How the HTTP edge should refuse a request whose token failed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The caller is not authenticated (HTTP 401).
    Unauthorized,
    /// The caller is authenticated but not allowed (HTTP 403).
    Forbidden,
    /// The verifier cannot decide right now, e.g. no signing keys (HTTP 503).
    Unavailable,
}

/// Every way a token can be refused. `Display` texts are safe to show to
/// clients: they never echo the token or any value taken from it.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// The token (or a JWKS document) is structurally invalid; the payload
    /// names the part that failed.
    #[error("the token is malformed ({0})")]
    Malformed(&'static str),
    /// The token is longer than [`crate::token::jws::MAX_TOKEN_BYTES`].
    #[error("the token is too large")]
    TooLarge,
    /// The `alg` header is absent, `none`, or anything other than `RS256`.
    #[error("the token uses an unsupported signing algorithm")]
    UnsupportedAlgorithm,
    /// The header has no `kid`.
    #[error("the token header has no key id")]
    MissingKid,
    /// No trusted signing key has the token's `kid`.
    #[error("the token was signed with an unknown key")]
    UnknownKid,
    /// The header carries a parameter we refuse to honour (`jku`, `x5u`,
    /// `jwk`, `x5c`, `crit`).
    #[error("the token header contains the forbidden parameter `{0}`")]
    ForbiddenHeader(&'static str),
    /// The signature does not verify against the selected key.
    #[error("the token signature is invalid")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// A claim is missing or has the wrong JSON type; the payload names it.
    #[error("the token claim `{0}` is missing or invalid")]
    InvalidClaim(&'static str),
    /// `iss` is not the expected issuer.
    #[error("the token was issued by an untrusted issuer")]
    WrongIssuer,
    /// `token_use` is not the required one (e.g. an ID token was presented).
    #[error("the token is not of the required type")]
    WrongTokenUse,
    /// `client_id` is not in the allowed-clients list.
    #[error("the token was issued for a client this runtime does not allow")]
    ClientNotAllowed,
    /// No `aud` value is in the allowed-audience list.
    #[error("the token was issued for an audience this runtime does not allow")]
    AudienceNotAllowed,
    /// No token scope is in the allowed-scopes list.
    #[error("the token does not carry a scope this runtime requires")]
    InsufficientScope,
    /// A configured custom-claim rule did not match; the payload is the
    /// configured claim *name* (never its value).
    #[error("the token claim `{0}` does not satisfy this runtime's requirements")]
    CustomClaimMismatch(String),
    /// `exp - iat` exceeds the maximum lifetime the policy allows.
    #[error("the token lifetime is longer than allowed")]
    LifetimeTooLong,
    /// Signing keys could not be loaded (never loaded, or fetch failed).
    #[error("token signing keys are currently unavailable")]
    KeysUnavailable,
}

impl TokenError {
    /// The refusal class for this error: scope and custom-claim failures are
    /// `Forbidden` (403), missing keys are `Unavailable` (503), everything
    /// else (including client and audience mismatches) is `Unauthorized` (401).
    pub fn refusal(&self) -> Refusal {
        match self {
            TokenError::InsufficientScope | TokenError::CustomClaimMismatch(_) => {
                Refusal::Forbidden
            }
            TokenError::KeysUnavailable => Refusal::Unavailable,
            TokenError::Malformed(_)
            | TokenError::TooLarge
            | TokenError::UnsupportedAlgorithm
            | TokenError::MissingKid
            | TokenError::UnknownKid
            | TokenError::ForbiddenHeader(_)
            | TokenError::BadSignature
            | TokenError::Expired
            | TokenError::NotYetValid
            | TokenError::IssuedInFuture
            | TokenError::InvalidClaim(_)
            | TokenError::WrongIssuer
            | TokenError::WrongTokenUse
            | TokenError::ClientNotAllowed
            | TokenError::AudienceNotAllowed
            | TokenError::LifetimeTooLong => Refusal::Unauthorized,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_classes_match_http_edge_contract() {
        assert_eq!(TokenError::InsufficientScope.refusal(), Refusal::Forbidden);
        assert_eq!(
            TokenError::CustomClaimMismatch("dept".into()).refusal(),
            Refusal::Forbidden
        );
        assert_eq!(TokenError::KeysUnavailable.refusal(), Refusal::Unavailable);
        for e in [
            TokenError::Malformed("x"),
            TokenError::TooLarge,
            TokenError::UnsupportedAlgorithm,
            TokenError::MissingKid,
            TokenError::UnknownKid,
            TokenError::ForbiddenHeader("jku"),
            TokenError::BadSignature,
            TokenError::Expired,
            TokenError::NotYetValid,
            TokenError::IssuedInFuture,
            TokenError::InvalidClaim("exp"),
            TokenError::WrongIssuer,
            TokenError::WrongTokenUse,
            TokenError::ClientNotAllowed,
            TokenError::AudienceNotAllowed,
            TokenError::LifetimeTooLong,
        ] {
            assert_eq!(e.refusal(), Refusal::Unauthorized, "{e:?}");
        }
    }

    #[test]
    fn display_texts_are_human_readable() {
        assert_eq!(TokenError::Expired.to_string(), "the token has expired");
        assert_eq!(
            TokenError::ClientNotAllowed.to_string(),
            "the token was issued for a client this runtime does not allow"
        );
        assert_eq!(
            TokenError::CustomClaimMismatch("department".into()).to_string(),
            "the token claim `department` does not satisfy this runtime's requirements"
        );
    }
}
