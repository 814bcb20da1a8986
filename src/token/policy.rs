//! Owns the AgentCore-style authorizer [`Policy`] (allowed clients,
//! audiences, scopes, custom claims, token use, leeway, maximum lifetime) and
//! [`check`], which applies it to already-verified claims. Pure: the current
//! time is passed in.
//!
//! Must never: read the clock, look at unverified claims, normalise issuers
//! (no trailing-slash or case folding), or report a claim *value* in an error.

use serde_json::Value;

use crate::token::claims::VerifiedClaims;
use crate::token::error::TokenError;

/// Default clock-skew leeway, in seconds.
pub const DEFAULT_LEEWAY_SECS: i64 = 30;
/// Largest leeway honoured; larger configured values are clamped to this.
pub const MAX_LEEWAY_SECS: i64 = 60;
/// Default maximum token lifetime (`exp - iat`), in seconds (24 h).
pub const DEFAULT_MAX_LIFETIME_SECS: i64 = 86_400;

/// The match operator of a custom-claim rule (AgentCore `customClaims`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOp {
    /// `EQUALS`: the claim is a string equal to this value.
    Equals(String),
    /// `CONTAINS`: the claim is an array of strings containing this value.
    Contains(String),
    /// `CONTAINS_ANY`: the claim is an array of strings containing at least
    /// one of these values.
    ContainsAny(Vec<String>),
}

/// One custom-claim rule: claim `claim` must satisfy `op`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRule {
    /// The claim name. Named claims are seen as strings, `aud`/`scope` as
    /// string arrays (see `VerifiedClaims::claim_value`).
    pub claim: String,
    /// The operator and operand(s).
    pub op: ClaimOp,
}

/// What a verified token must satisfy to be authorized.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Empty (default) = not checked; else the token's `client_id` must be
    /// one of these (Cognito access tokens carry `client_id`, not `aud`).
    pub allowed_clients: Vec<String>,
    /// Empty (default) = not checked; else one of the token's `aud` values
    /// must be listed.
    pub allowed_audience: Vec<String>,
    /// Empty (default); else a token whose `aud` holds one of these was issued for this very resource (RFC 8707)
    /// and passes the client check whatever its `client_id` (a gateway runtime's canonical URI, for tokens its
    /// own pool issued to OAuth clients such as MCP clients).
    pub resource_audience: Vec<String>,
    /// Empty (default) = not checked; else at least one token scope must be
    /// listed, otherwise `InsufficientScope` (403).
    pub allowed_scopes: Vec<String>,
    /// Empty (default); every rule must match, otherwise
    /// `CustomClaimMismatch(name)` (403).
    pub custom_claims: Vec<ClaimRule>,
    /// Default `Some("access")`: `token_use` must equal it (ID tokens are
    /// refused with `WrongTokenUse`). `None` = not checked.
    pub required_token_use: Option<String>,
    /// Default 30 s of clock-skew leeway for `exp`/`nbf`/`iat`; clamped to
    /// `0..=60` when applied.
    pub leeway_secs: i64,
    /// Default `Some(86400)`: `exp - iat` (or `exp - now` when `iat` is
    /// absent) beyond this is `LifetimeTooLong`. `None` = not checked.
    pub max_lifetime_secs: Option<i64>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allowed_clients: Vec::new(),
            allowed_audience: Vec::new(),
            resource_audience: Vec::new(),
            allowed_scopes: Vec::new(),
            custom_claims: Vec::new(),
            required_token_use: Some("access".to_owned()),
            leeway_secs: DEFAULT_LEEWAY_SECS,
            max_lifetime_secs: Some(DEFAULT_MAX_LIFETIME_SECS),
        }
    }
}

impl Policy {
    /// The leeway actually applied: `leeway_secs` clamped to `0..=60`.
    pub fn effective_leeway(&self) -> i64 {
        self.leeway_secs.clamp(0, MAX_LEEWAY_SECS)
    }
}

/// Applies `policy` to verified `claims`, in this order: issuer (exact
/// string match) → `exp` (`now - leeway >= exp` is `Expired`) → `nbf`
/// (`nbf > now + leeway`) → `iat` (`iat > now + leeway`) → lifetime →
/// `token_use` → clients → audience → scopes → custom claims.
pub fn check(
    policy: &Policy,
    claims: &VerifiedClaims,
    expected_issuer: &str,
    now_unix: i64,
) -> Result<(), TokenError> {
    if claims.iss != expected_issuer {
        return Err(TokenError::WrongIssuer);
    }
    let leeway = policy.effective_leeway();
    if now_unix.saturating_sub(leeway) >= claims.exp {
        return Err(TokenError::Expired);
    }
    let latest_acceptable = now_unix.saturating_add(leeway);
    if claims.nbf.is_some_and(|nbf| nbf > latest_acceptable) {
        return Err(TokenError::NotYetValid);
    }
    if claims.iat.is_some_and(|iat| iat > latest_acceptable) {
        return Err(TokenError::IssuedInFuture);
    }
    if let Some(max) = policy.max_lifetime_secs {
        let start = claims.iat.unwrap_or(now_unix);
        if claims.exp.saturating_sub(start) > max {
            return Err(TokenError::LifetimeTooLong);
        }
    }
    if let Some(required) = &policy.required_token_use {
        if claims.token_use.as_deref() != Some(required.as_str()) {
            return Err(TokenError::WrongTokenUse);
        }
    }
    let for_resource = !policy.resource_audience.is_empty()
        && claims
            .aud
            .iter()
            .any(|a| policy.resource_audience.contains(a));
    if !for_resource
        && !policy.allowed_clients.is_empty()
        && !claims
            .client_id
            .as_ref()
            .is_some_and(|c| policy.allowed_clients.contains(c))
    {
        return Err(TokenError::ClientNotAllowed);
    }
    if !policy.allowed_audience.is_empty()
        && !claims
            .aud
            .iter()
            .any(|a| policy.allowed_audience.contains(a))
    {
        return Err(TokenError::AudienceNotAllowed);
    }
    if !policy.allowed_scopes.is_empty()
        && !claims
            .scopes
            .iter()
            .any(|s| policy.allowed_scopes.contains(s))
    {
        return Err(TokenError::InsufficientScope);
    }
    for rule in &policy.custom_claims {
        if !rule_matches(rule, claims) {
            return Err(TokenError::CustomClaimMismatch(rule.claim.clone()));
        }
    }
    Ok(())
}

fn rule_matches(rule: &ClaimRule, claims: &VerifiedClaims) -> bool {
    let value = claims.claim_value(&rule.claim);
    match (&rule.op, &value) {
        (ClaimOp::Equals(want), Some(Value::String(have))) => have == want,
        (ClaimOp::Contains(want), Some(Value::Array(items))) => {
            string_array(items).is_some_and(|have| have.contains(&want.as_str()))
        }
        (ClaimOp::ContainsAny(wants), Some(Value::Array(items))) => {
            string_array(items).is_some_and(|have| wants.iter().any(|w| have.contains(&w.as_str())))
        }
        // Wrong type (e.g. EQUALS on an array) or absent claim never matches.
        _ => false,
    }
}

/// The items as strings, or `None` if any item is not a string (the claim
/// is then not a STRING_ARRAY and CONTAINS/CONTAINS_ANY cannot match).
fn string_array(items: &[Value]) -> Option<Vec<&str>> {
    items.iter().map(Value::as_str).collect()
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
