//! Configuration: the TOML file (`RawConfig`, unknown keys refused) checked into `Config`, with every error
//! reported at once and each naming its key. Holds no business logic and never reads the environment except
//! through `env::EnvSource`.
use std::fmt;
use std::path::Path;

use serde::Deserialize;

pub mod env;

/// One problem with the configuration, naming the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key, e.g. `runtime[0].upstream`.
    pub key: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// Every problem found in one configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.key, e.reason))
            .collect();
        write!(f, "invalid configuration: {}", lines.join("; "))
    }
}

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub version: Option<i64>,
    #[serde(default)]
    pub idp: RawIdp,
    #[serde(default)]
    pub gateway: RawListener,
    #[serde(default)]
    pub web: RawListener,
    #[serde(default)]
    pub runtime: Vec<RawRuntime>,
}

/// `[idp]`, `[gateway]`, `[web]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListener {
    /// The externally visible URL (behind a load balancer).
    pub public_url: Option<String>,
}

/// `[idp]`: the listener's public URL and the user pool's tunables.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdp {
    pub public_url: Option<String>,
    /// Lifetime of confirmation and reset codes, seconds (default: 24 h for sign-up, 1 h for reset).
    pub code_lifetime_secs: Option<i64>,
    /// Failed sign-ins of one user within the window before "Password attempts exceeded" (default 5).
    pub max_failed_signins_per_user: Option<u32>,
    /// Failed sign-ins from one address within the window before `TooManyRequestsException` (default 100).
    pub max_failed_signins_per_ip: Option<u32>,
    /// The throttling window, seconds (default 900).
    pub failed_signin_window_secs: Option<i64>,
    pub smtp: Option<RawSmtp>,
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
}

impl Default for IdpConfig {
    fn default() -> Self {
        Self {
            code_lifetime_secs: None,
            max_failed_signins_per_user: 5,
            max_failed_signins_per_ip: 100,
            failed_signin_window_secs: 900,
            smtp: None,
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

/// `[[runtime]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuntime {
    pub name: Option<String>,
    pub upstream: Option<String>,
    pub authorizer: Option<RawAuthorizer>,
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
}

/// A checked configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub idp_public_url: Option<String>,
    pub gateway_public_url: Option<String>,
    pub web_public_url: Option<String>,
    /// The user pool's tunables.
    pub idp: IdpConfig,
    /// Empty: the embedded `demo` runtime served by the reference agent.
    pub runtimes: Vec<RuntimeConfig>,
}

/// A checked `[[runtime]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    pub name: String,
    pub upstream: String,
    /// `None`: the built-in pool and its default client.
    pub authorizer: Option<AuthorizerConfig>,
}

/// A checked `[runtime.authorizer]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerConfig {
    pub discovery_url: String,
    pub allowed_clients: Vec<String>,
    pub allowed_audience: Vec<String>,
    pub allowed_scopes: Vec<String>,
}

fn err(errors: &mut Vec<ConfigError>, key: impl Into<String>, reason: impl Into<String>) {
    errors.push(ConfigError {
        key: key.into(),
        reason: reason.into(),
    });
}

fn check_url(errors: &mut Vec<ConfigError>, key: &str, url: &str) {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.parse::<http::Uri>().is_ok();
    if !ok {
        err(
            errors,
            key,
            format!("'{url}' is not an http:// or https:// URL"),
        );
    }
}

/// AgentCore's runtime-name pattern `[a-zA-Z][a-zA-Z0-9_]{0,47}`.
pub fn valid_runtime_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 48
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fn check_idp(errors: &mut Vec<ConfigError>, raw: &RawIdp) -> IdpConfig {
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
    }
}

impl Config {
    /// Parses and checks TOML text.
    pub fn from_toml(text: &str) -> Result<Config, ConfigErrors> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                key: "(file)".into(),
                reason: e.message().to_string(),
            }])
        })?;
        Self::from_raw(raw)
    }

    /// Reads, parses and checks a file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                key: path.display().to_string(),
                reason: format!("cannot read: {e}"),
            }])
        })?;
        Self::from_toml(&text)
    }

    /// Checks a parsed file, collecting every error.
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigErrors> {
        let mut errors = Vec::new();
        match raw.version {
            Some(1) => {}
            Some(v) => err(
                &mut errors,
                "version",
                format!("unsupported version {v}; this gatehouse reads version = 1"),
            ),
            None => err(
                &mut errors,
                "version",
                "missing; add `version = 1` at the top of the file",
            ),
        }
        for (key, l) in [
            ("idp.public_url", &raw.idp.public_url),
            ("gateway.public_url", &raw.gateway.public_url),
            ("web.public_url", &raw.web.public_url),
        ] {
            if let Some(u) = l {
                check_url(&mut errors, key, u);
            }
        }
        let idp = check_idp(&mut errors, &raw.idp);
        let mut runtimes = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (i, r) in raw.runtime.into_iter().enumerate() {
            let k = |f: &str| format!("runtime[{i}].{f}");
            let name = r.name.unwrap_or_default();
            if !valid_runtime_name(&name) {
                err(
                    &mut errors,
                    k("name"),
                    "must match [a-zA-Z][a-zA-Z0-9_]{0,47}",
                );
            } else if !names.insert(name.clone()) {
                err(&mut errors, k("name"), format!("'{name}' is defined twice"));
            }
            let upstream = r.upstream.unwrap_or_default();
            if upstream.is_empty() {
                err(
                    &mut errors,
                    k("upstream"),
                    "missing; give the agent's base URL, e.g. \"http://127.0.0.1:8080\"",
                );
            } else {
                check_url(&mut errors, &k("upstream"), &upstream);
            }
            let authorizer = r.authorizer.map(|a| {
                let discovery_url = a.discovery_url.unwrap_or_default();
                if discovery_url.is_empty() {
                    err(&mut errors, k("authorizer.discovery_url"), "missing; give the IdP's .well-known/openid-configuration URL");
                } else {
                    check_url(&mut errors, &k("authorizer.discovery_url"), &discovery_url);
                }
                if a.allowed_clients.is_empty() && a.allowed_audience.is_empty() {
                    err(&mut errors, k("authorizer"), "set allowed_clients or allowed_audience (or both): a token from any client of the IdP must not be accepted");
                }
                AuthorizerConfig {
                    discovery_url,
                    allowed_clients: a.allowed_clients,
                    allowed_audience: a.allowed_audience,
                    allowed_scopes: a.allowed_scopes,
                }
            });
            runtimes.push(RuntimeConfig {
                name,
                upstream,
                authorizer,
            });
        }
        if errors.is_empty() {
            Ok(Config {
                idp_public_url: raw.idp.public_url,
                gateway_public_url: raw.gateway.public_url,
                web_public_url: raw.web.public_url,
                idp,
                runtimes,
            })
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_runtime_parses() {
        let c = Config::from_toml(
            r#"
            version = 1
            [gateway]
            public_url = "https://agents.example.com"
            [[runtime]]
            name = "support"
            upstream = "http://127.0.0.1:9000"
            [runtime.authorizer]
            discovery_url = "http://127.0.0.1:1/us-east-1_x/.well-known/openid-configuration"
            allowed_clients = ["abc"]
            "#,
        )
        .unwrap();
        assert_eq!(c.runtimes[0].name, "support");
        assert_eq!(
            c.runtimes[0].authorizer.as_ref().unwrap().allowed_clients,
            vec!["abc"]
        );
    }

    #[test]
    fn every_error_is_reported_with_its_key() {
        let e = Config::from_toml(
            r#"
            [[runtime]]
            name = "bad-name"
            [[runtime]]
            name = "ok"
            upstream = "ftp://x"
            [runtime.authorizer]
            discovery_url = "http://idp/.well-known/openid-configuration"
            "#,
        )
        .unwrap_err();
        let keys: Vec<&str> = e.0.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "version",
                "runtime[0].name",
                "runtime[0].upstream",
                "runtime[1].upstream",
                "runtime[1].authorizer"
            ]
        );
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let e =
            Config::from_toml("version = 1\n[[runtime]]\nname = \"a\"\nupstrem = \"http://x\"\n")
                .unwrap_err();
        assert!(e.to_string().contains("upstrem"), "{e}");
    }

    #[test]
    fn idp_settings_have_defaults_and_are_checked() {
        let c = Config::from_toml("version = 1\n").unwrap();
        assert_eq!(c.idp, IdpConfig::default());
        assert_eq!(c.idp.max_failed_signins_per_user, 5);
        assert!(c.idp.smtp.is_none());
        let c = Config::from_toml(
            "version = 1\n[idp]\ncode_lifetime_secs = 60\n[idp.smtp]\nhost = \"127.0.0.1\"\nfrom = \"a@b.c\"\n",
        )
        .unwrap();
        assert_eq!(c.idp.code_lifetime_secs, Some(60));
        assert_eq!(c.idp.smtp.unwrap().port, 25);
        let e = Config::from_toml(
            "version = 1\n[idp]\ncode_lifetime_secs = 0\nmax_failed_signins_per_ip = 0\n[idp.smtp]\nport = 2525\n",
        )
        .unwrap_err();
        let keys: Vec<&str> = e.0.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "idp.code_lifetime_secs",
                "idp.max_failed_signins_per_ip",
                "idp.smtp.host",
                "idp.smtp.from"
            ]
        );
    }
}
