//! Owns [`VerifiedClaims`] and the strictly-typed extraction of registered
//! and Cognito claims from a payload whose signature has already been
//! verified. Pure: no clock, no policy decisions (that is `policy`).
//!
//! Must never: be called on a payload whose signature was not verified,
//! coerce types (a string `exp`, a float `iat`, a number `sub` are all
//! refused), or treat `null` as "absent".

use serde_json::{Map, Value};

use crate::token::error::TokenError;

/// Largest integer a time claim may hold (2^53, the JSON-safe range).
const MAX_NUMERIC_DATE: u64 = 1 << 53;

/// Claims that have a dedicated field and are therefore not in `extra`.
const NAMED: [&str; 11] = [
    "sub",
    "iss",
    "token_use",
    "client_id",
    "aud",
    "scope",
    "username",
    "exp",
    "iat",
    "nbf",
    "jti",
];

/// The claims of a token whose signature verified and whose claims passed
/// type checks (policy checks are separate: see `policy::check`).
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedClaims {
    /// Subject (required, non-empty).
    pub sub: String,
    /// Issuer (required).
    pub iss: String,
    /// Cognito `token_use` (`"access"` or `"id"`).
    pub token_use: Option<String>,
    /// Cognito `client_id` (present on access tokens).
    pub client_id: Option<String>,
    /// Audience values (`aud` as string or array); empty when absent.
    pub aud: Vec<String>,
    /// Scopes from the space-separated `scope` claim; empty when absent.
    pub scopes: Vec<String>,
    /// Cognito `username` (access tokens).
    pub username: Option<String>,
    /// Expiry, seconds since the Unix epoch (required).
    pub exp: i64,
    /// Issued-at, seconds since the Unix epoch.
    pub iat: Option<i64>,
    /// Not-before, seconds since the Unix epoch.
    pub nbf: Option<i64>,
    /// Token id.
    pub jti: Option<String>,
    /// Every other claim, untouched (e.g. `cognito:groups`, `auth_time`).
    pub extra: Map<String, Value>,
}

impl VerifiedClaims {
    /// Extracts claims from a *signature-verified* payload with strict
    /// types. `exp` is required; `exp`/`iat`/`nbf` must be JSON integers in
    /// `0..=2^53`; `sub` a non-empty string; `iss` a string; `aud` a
    /// non-empty string or a non-empty array of non-empty strings; `scope`,
    /// `client_id`, `token_use`, `username`, `jti` strings when present
    /// (`client_id` and `token_use` non-empty). A `null` value is a type
    /// error, not an absence. Errors are `InvalidClaim(name)`.
    pub fn from_payload(mut payload: Map<String, Value>) -> Result<VerifiedClaims, TokenError> {
        let exp = numeric_date(&payload, "exp")?.ok_or(TokenError::InvalidClaim("exp"))?;
        let iat = numeric_date(&payload, "iat")?;
        let nbf = numeric_date(&payload, "nbf")?;
        let sub = opt_string(&payload, "sub")?
            .filter(|s| !s.is_empty())
            .ok_or(TokenError::InvalidClaim("sub"))?;
        let iss = opt_string(&payload, "iss")?.ok_or(TokenError::InvalidClaim("iss"))?;
        let token_use = non_empty(opt_string(&payload, "token_use")?, "token_use")?;
        let client_id = non_empty(opt_string(&payload, "client_id")?, "client_id")?;
        let username = opt_string(&payload, "username")?;
        let jti = opt_string(&payload, "jti")?;
        let aud = audience(&payload)?;
        let scopes = opt_string(&payload, "scope")?
            .map(|s| {
                s.split(' ')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        for name in NAMED {
            payload.remove(name);
        }
        Ok(VerifiedClaims {
            sub,
            iss,
            token_use,
            client_id,
            aud,
            scopes,
            username,
            exp,
            iat,
            nbf,
            jti,
            extra: payload,
        })
    }

    /// The value of claim `name` as a custom-claim rule sees it: named
    /// string claims as strings, `aud` and `scope` as string arrays, anything
    /// else from `extra`. `None` if the claim is absent.
    pub fn claim_value(&self, name: &str) -> Option<Value> {
        let s = |v: &Option<String>| v.clone().map(Value::String);
        let arr = |v: &[String]| Some(Value::Array(v.iter().cloned().map(Value::String).collect()));
        match name {
            "sub" => Some(Value::String(self.sub.clone())),
            "iss" => Some(Value::String(self.iss.clone())),
            "token_use" => s(&self.token_use),
            "client_id" => s(&self.client_id),
            "username" => s(&self.username),
            "jti" => s(&self.jti),
            "aud" if !self.aud.is_empty() => arr(&self.aud),
            "scope" if !self.scopes.is_empty() => arr(&self.scopes),
            "exp" => Some(Value::from(self.exp)),
            "iat" => self.iat.map(Value::from),
            "nbf" => self.nbf.map(Value::from),
            "aud" | "scope" => None,
            other => self.extra.get(other).cloned(),
        }
    }
}

fn numeric_date(
    payload: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, TokenError> {
    match payload.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            // as_u64 is None for floats (even 1.0) and negative integers.
            Some(v) if v <= MAX_NUMERIC_DATE => i64::try_from(v)
                .map(Some)
                .map_err(|_| TokenError::InvalidClaim(name)),
            _ => Err(TokenError::InvalidClaim(name)),
        },
        Some(_) => Err(TokenError::InvalidClaim(name)),
    }
}

fn opt_string(
    payload: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, TokenError> {
    match payload.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(TokenError::InvalidClaim(name)),
    }
}

fn non_empty(value: Option<String>, name: &'static str) -> Result<Option<String>, TokenError> {
    match value {
        Some(s) if s.is_empty() => Err(TokenError::InvalidClaim(name)),
        other => Ok(other),
    }
}

fn audience(payload: &Map<String, Value>) -> Result<Vec<String>, TokenError> {
    const BAD: TokenError = TokenError::InvalidClaim("aud");
    match payload.get("aud") {
        None => Ok(Vec::new()),
        Some(Value::String(s)) if !s.is_empty() => Ok(vec![s.clone()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Value::String(s) if !s.is_empty() => Ok(s.clone()),
                _ => Err(BAD),
            })
            .collect(),
        Some(_) => Err(BAD),
    }
}

#[cfg(test)]
#[path = "claims_tests.rs"]
mod tests;
