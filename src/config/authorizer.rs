//! `[runtime.authorizer]` and its `custom_claims`: AgentCore's `customJWTAuthorizer`, raw and checked. Must
//! never fetch the discovery document (the gateway does).
use std::time::Duration;

use serde::Deserialize;

use super::common::{check_url, duration_or, err};
use super::url::HttpUrl;
use super::ConfigError;

/// `[[runtime.authorizer.custom_claims]]`: AgentCore's `customClaims`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClaimRule {
    pub claim: Option<String>,
    /// `EQUALS` (string claim), `CONTAINS` or `CONTAINS_ANY` (string-array claim).
    pub operator: Option<String>,
    pub value: Option<String>,
    #[serde(default)]
    pub values: Vec<String>,
}

/// `[runtime.authorizer]`: AgentCore's `customJWTAuthorizer`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuthorizer {
    pub discovery_url: Option<String>,
    #[serde(default)]
    pub allowed_clients: Vec<String>,
    #[serde(default)]
    pub allowed_audience: Vec<String>,
    #[serde(default)]
    pub allowed_scopes: Vec<String>,
    #[serde(default)]
    pub custom_claims: Vec<RawClaimRule>,
    /// Shortest time between two JWKS fetches caused by unknown `kid`s (default 30s).
    pub jwks_refresh_interval: Option<String>,
}

/// A checked `[runtime.authorizer]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// The provider's discovery document (`…/.well-known/openid-configuration`), checked when read.
    pub discovery_url: HttpUrl,
    pub allowed_clients: Vec<String>,
    pub allowed_audience: Vec<String>,
    pub allowed_scopes: Vec<String>,
    pub custom_claims: Vec<crate::token::ClaimRule>,
    pub jwks_refresh_interval: Duration,
}

/// AgentCore's claim-value pattern `[A-Za-z0-9_.-]+`, 1–255 characters.
fn valid_claim_value(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 255
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

fn check_claim_rule(
    errors: &mut Vec<ConfigError>,
    key: &str,
    r: RawClaimRule,
) -> Option<crate::token::ClaimRule> {
    use crate::token::{ClaimOp, ClaimRule};
    let claim = r.claim.unwrap_or_default();
    if claim.is_empty()
        || claim.len() > 255
        || !claim
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-:".contains(&b))
    {
        err(
            errors,
            format!("{key}.claim"),
            "must be 1-255 characters of [A-Za-z0-9_.-:]",
        );
    }
    let op = match (r.operator.as_deref(), r.value, r.values.is_empty()) {
        (Some("EQUALS"), Some(v), true) => Some(ClaimOp::Equals(v)),
        (Some("CONTAINS"), Some(v), true) => Some(ClaimOp::Contains(v)),
        (Some("CONTAINS_ANY"), None, false) => Some(ClaimOp::ContainsAny(r.values)),
        (Some("EQUALS" | "CONTAINS"), _, _) => {
            err(
                errors,
                format!("{key}.value"),
                "EQUALS and CONTAINS take exactly one `value` (and no `values`)",
            );
            None
        }
        (Some("CONTAINS_ANY"), _, _) => {
            err(
                errors,
                format!("{key}.values"),
                "CONTAINS_ANY takes a non-empty `values` list (and no `value`)",
            );
            None
        }
        (other, _, _) => {
            err(
                errors,
                format!("{key}.operator"),
                format!("{other:?} is not one of EQUALS, CONTAINS, CONTAINS_ANY"),
            );
            None
        }
    }?;
    let bad = match &op {
        ClaimOp::Equals(v) | ClaimOp::Contains(v) => !valid_claim_value(v),
        ClaimOp::ContainsAny(vs) => vs.iter().any(|v| !valid_claim_value(v)),
    };
    if bad {
        err(
            errors,
            format!("{key}.value"),
            "values must be 1-255 characters of [A-Za-z0-9_.-]",
        );
    }
    Some(ClaimRule { claim, op })
}

/// Checks `[runtime.authorizer]`; `k` turns a key below `runtime[i]` into its full name. `None` if its
/// `discovery_url` is missing or not a URL (the error is in `errors`).
pub(super) fn check_authorizer(
    errors: &mut Vec<ConfigError>,
    k: &dyn Fn(&str) -> String,
    a: RawAuthorizer,
) -> Option<AuthorizerConfig> {
    let raw_url = a.discovery_url.unwrap_or_default();
    let mut discovery_url = None;
    if raw_url.is_empty() {
        err(
            errors,
            k("authorizer.discovery_url"),
            "missing; give the IdP's .well-known/openid-configuration URL",
        );
    } else {
        discovery_url = check_url(errors, &k("authorizer.discovery_url"), &raw_url);
        if !raw_url.contains("/.well-known/openid-configuration")
            && !raw_url.contains("/.well-known/oauth-authorization-server")
        {
            err(
                errors,
                k("authorizer.discovery_url"),
                "must end in /.well-known/openid-configuration",
            );
        }
    }
    if a.allowed_clients.is_empty() && a.allowed_audience.is_empty() {
        err(errors, k("authorizer"), "set allowed_clients or allowed_audience (or both): a token from any client of the IdP must not be accepted");
    }
    let custom_claims = a
        .custom_claims
        .into_iter()
        .enumerate()
        .filter_map(|(j, c)| {
            check_claim_rule(errors, &k(&format!("authorizer.custom_claims[{j}]")), c)
        })
        .collect();
    let jwks_refresh_interval = duration_or(
        errors,
        k("authorizer.jwks_refresh_interval"),
        a.jwks_refresh_interval,
        Duration::from_secs(30),
    );
    Some(AuthorizerConfig {
        discovery_url: discovery_url?,
        allowed_clients: a.allowed_clients,
        allowed_audience: a.allowed_audience,
        allowed_scopes: a.allowed_scopes,
        custom_claims,
        jwks_refresh_interval,
    })
}
