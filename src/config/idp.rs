//! `[idp]` and `[idp.smtp]`: the user pool's tunables, raw and checked (the policy half lives in
//! `idp_policy`, `[idp.oauth]` in `idp_oauth`). Must never contact the SMTP relay.
use std::time::Duration;

use serde::Deserialize;

use super::common::{at_least_one, err, or_default, seconds, RawSeconds};
use super::{idp_oauth, idp_policy, ConfigError};

/// `[idp]`: the listener's public URL and the user pool's tunables.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdp {
    pub public_url: Option<String>,
    /// PEM certificate chain and private key: the IdP listener speaks HTTPS.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// Lifetime of confirmation and reset codes, seconds or a duration (default: 24 h for sign-up, 1 h for reset).
    pub code_lifetime_secs: Option<RawSeconds>,
    /// Failed sign-ins of one user within the window before "Password attempts exceeded" (default 5).
    pub max_failed_signins_per_user: Option<u32>,
    /// Failed sign-ins from one address within the window before `TooManyRequestsException` (default 100).
    pub max_failed_signins_per_ip: Option<u32>,
    /// The throttling window, seconds or a duration (default 900, "15m").
    pub failed_signin_window_secs: Option<RawSeconds>,
    /// How long the hosted sign-in page's single sign-on session lasts, seconds or a duration (default 3600).
    pub sso_session_secs: Option<RawSeconds>,
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
    /// How long the code flows stay locked, seconds or a duration (default 900, "15m").
    pub code_lockout_secs: Option<RawSeconds>,
    #[serde(default)]
    pub custom_attribute: Vec<idp_policy::RawCustomAttribute>,
    #[serde(default)]
    pub app_client: Vec<idp_policy::RawAppClient>,
    pub oauth: Option<idp_oauth::RawIdpOAuth>,
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
    /// `code_lifetime_secs`; `None`: 24 h for sign-up, 1 h for reset.
    pub code_lifetime: Option<Duration>,
    pub max_failed_signins_per_user: u32,
    pub max_failed_signins_per_ip: u32,
    /// `failed_signin_window_secs`.
    pub failed_signin_window: Duration,
    /// `sso_session_secs`: the hosted page's single sign-on session (Cognito: one hour).
    pub sso_session: Duration,
    /// `None`: codes are written to `<data-dir>/outbox/`.
    pub smtp: Option<SmtpConfig>,
    /// Sign-up switch, schema, per-client attributes and the limits of the unauthenticated flows.
    pub policy: idp_policy::IdpPolicy,
    /// `[idp.oauth]`: dynamic registration and Client ID Metadata Documents.
    pub oauth: idp_oauth::IdpOAuthConfig,
}

impl Default for IdpConfig {
    fn default() -> Self {
        Self {
            code_lifetime: None,
            max_failed_signins_per_user: 5,
            max_failed_signins_per_ip: 100,
            failed_signin_window: Duration::from_secs(900),
            sso_session: Duration::from_secs(3600),
            smtp: None,
            policy: idp_policy::IdpPolicy::default(),
            oauth: idp_oauth::IdpOAuthConfig::default(),
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
    let code_lifetime = seconds(
        errors,
        "idp.code_lifetime_secs",
        &raw.code_lifetime_secs,
        7 * 86_400,
    );
    let failed_signin_window = seconds(
        errors,
        "idp.failed_signin_window_secs",
        &raw.failed_signin_window_secs,
        86_400,
    );
    let sso_session = seconds(
        errors,
        "idp.sso_session_secs",
        &raw.sso_session_secs,
        86_400,
    );
    at_least_one(
        errors,
        &[
            (
                "idp.max_failed_signins_per_user",
                raw.max_failed_signins_per_user,
            ),
            (
                "idp.max_failed_signins_per_ip",
                raw.max_failed_signins_per_ip,
            ),
        ],
    );
    let smtp = raw.smtp.as_ref().map(|s| check_smtp(errors, s));
    IdpConfig {
        code_lifetime,
        max_failed_signins_per_user: or_default!(raw, d, max_failed_signins_per_user),
        max_failed_signins_per_ip: or_default!(raw, d, max_failed_signins_per_ip),
        failed_signin_window: failed_signin_window.unwrap_or(d.failed_signin_window),
        sso_session: sso_session.unwrap_or(d.sso_session),
        smtp,
        policy: idp_policy::check(errors, raw),
        oauth: idp_oauth::check(errors, raw.oauth.as_ref()),
    }
}

fn check_smtp(errors: &mut Vec<ConfigError>, s: &RawSmtp) -> SmtpConfig {
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
}
