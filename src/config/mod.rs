//! Configuration: the TOML file (`RawConfig`, unknown keys refused) checked into `Config`, with every error
//! reported at once and each naming its key. Holds no business logic and never reads the environment except
//! through `env::EnvSource`.
use std::fmt;
use std::path::Path;

use serde::Deserialize;

pub mod authorizer;
pub mod cluster;
mod common;
pub mod env;
pub mod gateway;
pub mod idp;
pub mod idp_oauth;
pub mod idp_policy;
pub mod listeners;
pub mod overrides;
pub mod protocol;
pub mod runtime;
pub mod runtime_limits;
pub mod sandbox;
pub mod secret;
pub mod tool_policy;
pub mod url;
pub mod web;

pub use authorizer::{AuthorizerConfig, RawAuthorizer, RawClaimRule};
pub use cluster::{ClusterConfig, RawCluster};
pub use common::parse_duration;
use common::{check_url, err, positive};
pub use gateway::{
    check_redis_url, RateLimitBackend, RawGateway, RawListener, DEFAULT_REDIS_KEY_PREFIX,
    DEFAULT_REDIS_TIMEOUT,
};
pub use idp::{IdpConfig, RawIdp, RawSmtp, SmtpConfig};
pub use overrides::{resolve, Overrides};
pub use protocol::Protocol;
pub use runtime::{
    restricted_header, valid_runtime_name, RawEndpoint, RawRuntime, RawVersion, RuntimeConfig,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_LIFETIME,
};
pub use runtime_limits::{LimitsConfig, RawLimits};
pub use sandbox::{Egress, Isolation, SandboxConfig};
pub use secret::Secret;
pub use tool_policy::{ToolPolicy, ToolPolicyFile};
pub use url::HttpUrl;
pub use web::{ip_is_loopback, RawWeb, WebConfig};

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
    /// Trusted proxies and the PROXY protocol, for every listener.
    #[serde(default)]
    pub listeners: listeners::RawListeners,
    #[serde(default)]
    pub idp: RawIdp,
    #[serde(default)]
    pub gateway: RawGateway,
    #[serde(default)]
    pub web: RawWeb,
    #[serde(default)]
    pub runtime: Vec<RawRuntime>,
    #[serde(default)]
    pub agents: RawAgents,
    pub cluster: Option<RawCluster>,
    #[serde(default)]
    pub sandbox: sandbox::RawSandbox,
}

/// `[agents]`: settings for session processes across all runtimes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgents {
    /// Session processes across all runtimes at once (default 128).
    pub max_processes: Option<i64>,
}

/// A checked configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Trusted proxies, the PROXY protocol, and the IdP's and gateway's TLS files.
    pub listeners: listeners::ListenersConfig,
    pub idp_public_url: Option<HttpUrl>,
    pub gateway_public_url: Option<HttpUrl>,
    pub web_public_url: Option<HttpUrl>,
    /// The web listener: app root, TLS, redirect listener.
    pub web: WebConfig,
    /// The user pool's tunables.
    pub idp: IdpConfig,
    /// Empty: the embedded `demo` runtime served by the reference agent.
    pub runtimes: Vec<RuntimeConfig>,
    /// Session processes across all runtimes at once.
    pub max_agent_processes: u32,
    /// Where per-user rate limits live.
    pub rate_limits: RateLimitBackend,
    /// Cross-instance forwarding of isolated sessions; `None`: this instance stands alone.
    pub cluster: Option<ClusterConfig>,
    /// The agent sandbox (`[sandbox]`).
    pub sandbox: SandboxConfig,
}

/// Default of `[agents] max_processes`.
pub const DEFAULT_MAX_AGENT_PROCESSES: u32 = 128;

impl Default for Config {
    fn default() -> Self {
        Self {
            listeners: listeners::ListenersConfig::default(),
            idp_public_url: None,
            gateway_public_url: None,
            web_public_url: None,
            web: WebConfig::default(),
            idp: IdpConfig::default(),
            runtimes: Vec::new(),
            max_agent_processes: DEFAULT_MAX_AGENT_PROCESSES,
            rate_limits: RateLimitBackend::default(),
            cluster: None,
            sandbox: SandboxConfig::default(),
        }
    }
}

impl Config {
    /// Parses and checks TOML text (a relative `tool_policy` is read from the working directory).
    pub fn from_toml(text: &str) -> Result<Config, ConfigErrors> {
        Self::from_toml_in(text, None)
    }

    /// Parses and checks TOML text whose relative `tool_policy` files are in `dir`.
    pub fn from_toml_in(text: &str, dir: Option<&Path>) -> Result<Config, ConfigErrors> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                key: "(file)".into(),
                reason: e.message().to_string(),
            }])
        })?;
        Self::from_raw_in(raw, dir)
    }

    /// Reads, parses and checks a file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                key: path.display().to_string(),
                reason: format!("cannot read: {e}"),
            }])
        })?;
        let mut c = Self::from_toml_in(&text, path.parent())?;
        if let Some(dir) = path.parent() {
            c.web.relative_to(dir);
            c.listeners.relative_to(dir);
        }
        Ok(c)
    }

    /// Checks a parsed file, collecting every error.
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigErrors> {
        Self::from_raw_in(raw, None)
    }

    /// Checks a parsed file whose relative `tool_policy` files are in `dir`, collecting every error.
    pub fn from_raw_in(raw: RawConfig, dir: Option<&Path>) -> Result<Config, ConfigErrors> {
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
        let mut public_url = |key: &str, url: &Option<String>| {
            url.as_ref().and_then(|u| check_url(&mut errors, key, u))
        };
        let idp_public_url = public_url("idp.public_url", &raw.idp.public_url);
        let gateway_public_url = public_url("gateway.public_url", &raw.gateway.public_url);
        let web_public_url = public_url("web.public_url", &raw.web.public_url);
        let mut listeners = listeners::check_listeners(&mut errors, &raw.listeners);
        listeners.idp_tls =
            listeners::check_tls(&mut errors, "idp", &raw.idp.tls_cert, &raw.idp.tls_key);
        listeners.gateway_tls = listeners::check_tls(
            &mut errors,
            "gateway",
            &raw.gateway.tls_cert,
            &raw.gateway.tls_key,
        );
        let idp = idp::check_idp(&mut errors, &raw.idp);
        let rate_limits = gateway::check_rate_limits(&mut errors, &raw.gateway);
        let cluster = cluster::check_cluster(&mut errors, raw.cluster);
        let sandbox = sandbox::check_sandbox(&mut errors, raw.sandbox);
        let web = web::check_web(&mut errors, &raw.web);
        let mut runtimes = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (i, r) in raw.runtime.into_iter().enumerate() {
            if let Some(rc) = runtime::check_runtime(&mut errors, i, r, &mut names, dir) {
                runtimes.push(rc);
            }
        }
        let max_agent_processes = positive(
            &mut errors,
            "agents.max_processes".into(),
            raw.agents.max_processes,
            u64::from(DEFAULT_MAX_AGENT_PROCESSES),
            1_000_000,
        ) as u32;
        if errors.is_empty() {
            Ok(Config {
                listeners,
                max_agent_processes,
                idp_public_url,
                gateway_public_url,
                web_public_url,
                web,
                idp,
                runtimes,
                rate_limits,
                cluster,
                sandbox,
            })
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::time::Duration;

    /// The keys `text` is refused for, in order, and the errors.
    fn refused_keys(text: &str) -> (Vec<String>, ConfigErrors) {
        let e = Config::from_toml(text).unwrap_err();
        (e.0.iter().map(|e| e.key.clone()).collect(), e)
    }

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
    fn redis_rate_limit_settings_are_checked() {
        let c = Config::from_toml(
            r#"
            version = 1
            [gateway]
            redis_url = "redis://cache.internal:6379/0"
            redis_unavailable = "open"
            redis_timeout = "50ms"
            redis_key_prefix = "gh:"
            "#,
        )
        .unwrap();
        assert_eq!(
            c.rate_limits,
            RateLimitBackend {
                redis_url: Some("redis://cache.internal:6379/0".into()),
                fail_open: true,
                timeout: Duration::from_millis(50),
                key_prefix: "gh:".into(),
            }
        );
        assert!(
            !Config::default().rate_limits.fail_open,
            "fail closed by default"
        );
        let (keys, e) = refused_keys(
            r#"
            version = 1
            [gateway]
            redis_url = "rediss://:hunter2@cache:6379"
            redis_unavailable = "maybe"
            redis_timeout = "0ms"
            redis_key_prefix = "has space"
            "#,
        );
        assert_eq!(
            keys,
            vec![
                "gateway.redis_url",
                "gateway.redis_unavailable",
                "gateway.redis_timeout",
                "gateway.redis_key_prefix"
            ]
        );
        assert!(
            !e.to_string().contains("hunter2"),
            "a Redis password is never echoed"
        );
    }

    #[test]
    fn cluster_settings_are_checked() {
        let c = Config::from_toml(
            r#"
            version = 1
            [cluster]
            internal_listen = "10.0.0.11:4010"
            internal_url = "http://10.0.0.11:4010/"
            shared_secret_file = "/etc/gatehouse/cluster-secret"
            "#,
        )
        .unwrap();
        let cluster = c.cluster.unwrap();
        assert_eq!(
            cluster.internal_url.as_deref(),
            Some("http://10.0.0.11:4010")
        );
        assert_eq!(
            cluster.internal_listen,
            Some("10.0.0.11:4010".parse().unwrap())
        );
        assert!(Config::default().cluster.is_none());
        let (keys, _) = refused_keys(
            "version = 1\n[cluster]\ninternal_listen = \"nowhere\"\ninternal_url = \"ftp://x\"\n",
        );
        assert_eq!(
            keys,
            vec![
                "cluster.internal_listen",
                "cluster.internal_url",
                "cluster.shared_secret_file"
            ]
        );
        let e = Config::from_toml(
            "version = 1\n[[runtime]]\nname = \"a\"\nupstream = \"http://127.0.0.1:1\"\nrequest_header_allowlist = [\"X-Gatehouse-Cluster-Secret\"]\n",
        )
        .unwrap_err();
        assert_eq!(e.0[0].key, "runtime[0].request_header_allowlist[0]");
    }

    #[test]
    fn every_error_is_reported_with_its_key() {
        let (keys, _) = refused_keys(
            r#"
            [[runtime]]
            name = "bad-name"
            [[runtime]]
            name = "ok"
            upstream = "ftp://x"
            [runtime.authorizer]
            discovery_url = "http://idp/.well-known/openid-configuration"
            "#,
        );
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
    fn idp_oauth_is_off_by_default_and_each_bad_key_is_named() {
        use idp_oauth::{HostPattern, Registration};
        let c = Config::from_toml("version = 1\n").unwrap();
        assert_eq!(c.idp.oauth, idp_oauth::IdpOAuthConfig::default());
        assert_eq!(c.idp.oauth.dynamic_client_registration, Registration::Off);
        let c = Config::from_toml(
            "version = 1\n[idp.oauth]\ndynamic_client_registration = \"token\"\n\
             client_id_metadata_documents = \"on\"\nmetadata_document_hosts = [\"*.example.com\"]\n\
             allow_private_metadata_hosts = true\n",
        )
        .unwrap();
        assert_eq!(c.idp.oauth.dynamic_client_registration, Registration::Token);
        assert!(c.idp.oauth.client_id_metadata_documents);
        assert!(c.idp.oauth.allow_private_metadata_hosts);
        assert_eq!(
            c.idp.oauth.metadata_document_hosts,
            [HostPattern::Subdomains("example.com".into())]
        );
        let (keys, _) = refused_keys(
            "version = 1\n[idp.oauth]\ndynamic_client_registration = \"yes\"\n\
             client_id_metadata_documents = \"true\"\nmetadata_document_hosts = [\"https://x/\"]\n",
        );
        assert_eq!(
            keys,
            [
                "idp.oauth.dynamic_client_registration",
                "idp.oauth.client_id_metadata_documents",
                "idp.oauth.metadata_document_hosts",
            ]
        );
        assert!(Config::from_toml("version = 1\n[idp.oauth]\nbogus = 1\n").is_err());
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
        assert_eq!(c.idp.code_lifetime, Some(Duration::from_secs(60)));
        assert_eq!(c.idp.smtp.unwrap().port, 25);
        let d = Config::from_toml(
            "version = 1\n[idp]\ncode_lifetime_secs = \"2h\"\nfailed_signin_window_secs = \"30m\"\ncode_lockout_secs = \"1h\"\n",
        )
        .unwrap();
        assert_eq!(d.idp.code_lifetime, Some(Duration::from_secs(7200)));
        assert_eq!(d.idp.failed_signin_window, Duration::from_secs(1800));
        assert_eq!(d.idp.policy.code_lockout, Duration::from_secs(3600));
        let (keys, _) = refused_keys("version = 1\n[idp]\ncode_lifetime_secs = 0\nmax_failed_signins_per_ip = 0\n[idp.smtp]\nport = 2525\n");
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

    #[test]
    fn web_client_id_is_optional_and_checked() {
        assert_eq!(
            Config::from_toml("version = 1\n").unwrap().web.client_id,
            None
        );
        let c = Config::from_toml("version = 1\n[web]\nclient_id = \"abc123xyz\"\n").unwrap();
        assert_eq!(c.web.client_id.as_deref(), Some("abc123xyz"));
        for bad in ["", "has space", "semi;colon"] {
            let e = Config::from_toml(&format!("version = 1\n[web]\nclient_id = \"{bad}\"\n"))
                .unwrap_err();
            assert_eq!(e.0[0].key, "web.client_id", "{e}");
        }
    }

    #[test]
    fn web_settings_are_checked_and_merged_with_the_listen_address() {
        let c = Config::from_toml(
            "version = 1\n[web]\npublic_url = \"https://app.example.com\"\nroot = \"web/dist\"\n\
             tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\nredirect_listen = \"0.0.0.0:80\"\n",
        )
        .unwrap();
        assert_eq!(c.web.root, Some(PathBuf::from("web/dist")));
        assert!(c.web.tls());
        assert_eq!(c.web.redirect_listen, Some("0.0.0.0:80".parse().unwrap()));
        let public: SocketAddr = "0.0.0.0:443".parse().unwrap();
        let loopback: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert!(c.web.check_for(public, c.web_public_url.as_deref()).is_ok());

        let (keys, _) = refused_keys(
            "version = 1\n[web]\nroot = \"\"\ntls_key = \"k.pem\"\nredirect_listen = \"nowhere\"\n\
             allow_plaintext_public = true\n",
        );
        assert_eq!(keys, ["web.root", "web.tls_cert", "web.redirect_listen"]);
        let e = Config::from_toml("version = 1\n[web]\nredirect_listen = \"0.0.0.0:80\"\n")
            .unwrap_err();
        assert_eq!(e.0[0].key, "web.redirect_listen");
        assert!(e.0[0].reason.contains("public_url"), "{e}");
        assert!(Config::from_toml("version = 1\n[web]\nrooot = \"x\"\n").is_err());

        // Merged with the flags: plain HTTP only on loopback unless allowed; a redirect needs TLS.
        let mut w = WebConfig::default();
        assert!(w.check_for(loopback, None).is_ok());
        let e = w.check_for(public, None).unwrap_err();
        assert!(e.to_string().contains("--allow-plaintext-public"), "{e}");
        assert!(e.to_string().contains("0.0.0.0:443"), "{e}");
        assert!(w
            .check_for("[::ffff:127.0.0.1]:4000".parse().unwrap(), None)
            .is_ok());
        w.allow_plaintext_public = true;
        assert!(w.check_for(public, None).is_ok());
        w.redirect_listen = Some("127.0.0.1:80".parse().unwrap());
        let e = w
            .check_for(loopback, Some("http://app.example.com"))
            .unwrap_err();
        assert_eq!(e.0.len(), 2, "{e}");
        assert!(e.0.iter().all(|e| e.key == "web.redirect_listen"), "{e}");
    }

    #[test]
    fn relative_web_paths_are_taken_from_the_config_files_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("g.toml");
        std::fs::write(
            &f,
            "version = 1\n[web]\nroot = \"dist\"\ntls_cert = \"/etc/c.pem\"\ntls_key = \"k.pem\"\n",
        )
        .unwrap();
        let c = Config::load(&f).unwrap();
        assert_eq!(c.web.root, Some(tmp.path().join("dist")));
        assert_eq!(c.web.tls_cert, Some(PathBuf::from("/etc/c.pem")));
        assert_eq!(c.web.tls_key, Some(tmp.path().join("k.pem")));
    }
}
