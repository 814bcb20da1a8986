//! `[idp]` and `[idp.smtp]`: the user pool's tunables, raw and checked (the policy half lives in
//! `idp_policy`). Must never contact the SMTP relay.
use serde::Deserialize;

use super::common::err;
use super::{idp_policy, ConfigError};

/// `[idp]`: the listener's public URL and the user pool's tunables.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdp {
    pub public_url: Option<String>,
    /// PEM certificate chain and private key: the IdP listener speaks HTTPS.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// Lifetime of confirmation and reset codes, seconds (default: 24 h for sign-up, 1 h for reset).
    pub code_lifetime_secs: Option<i64>,
    /// Failed sign-ins of one user within the window before "Password attempts exceeded" (default 5).
    pub max_failed_signins_per_user: Option<u32>,
    /// Failed sign-ins from one address within the window before `TooManyRequestsException` (default 100).
    pub max_failed_signins_per_ip: Option<u32>,
    /// The throttling window, seconds (default 900).
    pub failed_signin_window_secs: Option<i64>,
    pub smtp: Option<RawSmtp>,
    /// `false`: `SignUp` is refused (Cognito's `AllowAdminCreateUserOnly`); default true.
    pub allow_sign_up: Option<bool>,
    /// SRP / argon2 steps admitted per client address per minute (default 600; 0: unlimited).
    pub max_cpu_heavy_per_ip_per_minute: Option<u32>,
    /// Codes sent per client address per hour (default 100).
    pub max_codes_per_ip_per_hour: Option<u32>,
    /// Codes sent per user per hour (default 5).
    pub max_codes_per_user_per_hour: Option<u32>,
    /// Wrong codes per user per hour, across re-issues, before the code flows lock (default 10).
    pub max_code_failures_per_hour: Option<u32>,
    /// How long the code flows stay locked, seconds (default 900).
    pub code_lockout_secs: Option<i64>,
    #[serde(default)]
    pub custom_attribute: Vec<idp_policy::RawCustomAttribute>,
    #[serde(default)]
    pub app_client: Vec<idp_policy::RawAppClient>,
}

/// `[idp.smtp]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub from: Option<String>,
}

/// A checked `[idp]` (everything but `public_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpConfig {
    pub code_lifetime_secs: Option<i64>,
    pub max_failed_signins_per_user: u32,
    pub max_failed_signins_per_ip: u32,
    pub failed_signin_window_secs: i64,
    /// `None`: codes are written to `<data-dir>/outbox/`.
    pub smtp: Option<SmtpConfig>,
    /// Sign-up switch, schema, per-client attributes and the limits of the unauthenticated flows.
    pub policy: idp_policy::IdpPolicy,
}

impl Default for IdpConfig {
    fn default() -> Self {
        Self {
            code_lifetime_secs: None,
            max_failed_signins_per_user: 5,
            max_failed_signins_per_ip: 100,
            failed_signin_window_secs: 900,
            smtp: None,
            policy: idp_policy::IdpPolicy::default(),
        }
    }
}

/// A checked `[idp.smtp]`: a relay reached over plain TCP (no TLS, no AUTH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    /// Default 25.
    pub port: u16,
    /// The `From:` address.
    pub from: String,
}

pub(super) fn check_idp(errors: &mut Vec<ConfigError>, raw: &RawIdp) -> IdpConfig {
    let d = IdpConfig::default();
    if raw
        .code_lifetime_secs
        .is_some_and(|s| !(1..=7 * 86_400).contains(&s))
    {
        err(
            errors,
            "idp.code_lifetime_secs",
            "must be 1 to 604800 seconds",
        );
    }
    if raw
        .failed_signin_window_secs
        .is_some_and(|s| !(1..=86_400).contains(&s))
    {
        err(
            errors,
            "idp.failed_signin_window_secs",
            "must be 1 to 86400 seconds",
        );
    }
    for (k, v) in [
        (
            "idp.max_failed_signins_per_user",
            raw.max_failed_signins_per_user,
        ),
        (
            "idp.max_failed_signins_per_ip",
            raw.max_failed_signins_per_ip,
        ),
    ] {
        if v == Some(0) {
            err(errors, k, "must be at least 1");
        }
    }
    let smtp = raw.smtp.as_ref().map(|s| {
        let host = s.host.clone().unwrap_or_default();
        if host.is_empty() {
            err(
                errors,
                "idp.smtp.host",
                "missing; give the SMTP relay's host name or address",
            );
        }
        let from = s.from.clone().unwrap_or_default();
        if !from.contains('@') || from.contains(['\r', '\n']) {
            err(errors, "idp.smtp.from", "missing or not an e-mail address");
        }
        SmtpConfig {
            host,
            port: s.port.unwrap_or(25),
            from,
        }
    });
    IdpConfig {
        code_lifetime_secs: raw.code_lifetime_secs,
        max_failed_signins_per_user: raw
            .max_failed_signins_per_user
            .unwrap_or(d.max_failed_signins_per_user),
        max_failed_signins_per_ip: raw
            .max_failed_signins_per_ip
            .unwrap_or(d.max_failed_signins_per_ip),
        failed_signin_window_secs: raw
            .failed_signin_window_secs
            .unwrap_or(d.failed_signin_window_secs),
        smtp,
        policy: idp_policy::check(errors, raw),
    }
}
