//! Configuration: the TOML file (`RawConfig`, unknown keys refused) checked into `Config`, with every error
//! reported at once and each naming its key. Holds no business logic and never reads the environment except
//! through `env::EnvSource`.
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub mod env;
pub mod idp_policy;
pub mod listeners;
pub mod sandbox;

pub use sandbox::{Egress, Isolation, SandboxConfig};

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

/// `[cluster]`: the internal listener over which instances forward isolated sessions to each other.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// HOST:PORT of the internal listener (`--internal-listen` overrides it).
    pub internal_listen: Option<String>,
    /// The URL other instances use to reach this one's internal listener (default: `http://` + the bound address).
    pub internal_url: Option<String>,
    /// A file holding the secret every instance shares (at least 32 bytes).
    pub shared_secret_file: Option<String>,
}

/// A checked `[cluster]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    pub internal_listen: Option<std::net::SocketAddr>,
    pub internal_url: Option<String>,
    pub shared_secret_file: std::path::PathBuf,
}

fn check_cluster(errors: &mut Vec<ConfigError>, raw: Option<RawCluster>) -> Option<ClusterConfig> {
    let raw = raw?;
    let internal_listen = raw.internal_listen.as_ref().and_then(|a| match a.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            err(
                errors,
                "cluster.internal_listen",
                format!("'{a}' is not HOST:PORT (e.g. \"10.0.0.11:4010\")"),
            );
            None
        }
    });
    if let Some(u) = &raw.internal_url {
        check_url(errors, "cluster.internal_url", u);
    }
    let Some(file) = raw.shared_secret_file else {
        err(
            errors,
            "cluster.shared_secret_file",
            "missing; name a file holding a secret of at least 32 bytes, the same on every instance",
        );
        return None;
    };
    Some(ClusterConfig {
        internal_listen,
        internal_url: raw
            .internal_url
            .map(|u| u.trim_end_matches('/').to_string()),
        shared_secret_file: file.into(),
    })
}

/// `[agents]`: settings for session processes across all runtimes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgents {
    /// Session processes across all runtimes at once (default 128).
    pub max_processes: Option<i64>,
}

/// `[idp]`, `[gateway]`, `[web]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListener {
    /// The externally visible URL (behind a load balancer).
    pub public_url: Option<String>,
}

/// `[gateway]`: the listener's public URL and the shared rate-limit backend.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGateway {
    /// The externally visible URL (behind a load balancer).
    pub public_url: Option<String>,
    /// PEM certificate chain and private key: the gateway listener speaks HTTPS and WSS.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// `redis://host:port/db`: per-user rate limits shared by every instance (omitted: in memory).
    pub redis_url: Option<String>,
    /// `closed` (default: 503 while Redis is unreachable) or `open` (admit without a limit).
    pub redis_unavailable: Option<String>,
    /// How long one rate-limit check may wait for Redis before the policy applies (default 100ms).
    pub redis_timeout: Option<String>,
    /// Prefix of every Redis key gatehouse writes (default `gatehouse:`).
    pub redis_key_prefix: Option<String>,
}

/// `[web]`: the web listener (the app's files, TLS, the HTTP→HTTPS redirect).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    /// The externally visible URL; the redirect listener sends every request there.
    pub public_url: Option<String>,
    /// The built single-page app (a directory with `index.html`).
    pub root: Option<String>,
    /// PEM certificate chain and private key: the web listener speaks TLS.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// A plain-HTTP listener that answers every request with 308 to `public_url`.
    pub redirect_listen: Option<String>,
    /// Serve plain HTTP on a non-loopback address (TLS terminated by a proxy in front).
    pub allow_plaintext_public: Option<bool>,
    /// The app client the web app signs in with (named in `/config.json`, accepted by the built-in authorizer
    /// beside the default client). Default: the pool's default client.
    pub client_id: Option<String>,
}

/// A checked `[web]` (everything but `public_url`), merged with `up`'s flags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebConfig {
    /// The built app; `None`: the placeholder page.
    pub root: Option<PathBuf>,
    /// PEM certificate chain; set together with `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
    /// Plain-HTTP listener that redirects to `[web] public_url`.
    pub redirect_listen: Option<SocketAddr>,
    pub allow_plaintext_public: bool,
    /// `[web] client_id`: the app client of the web app; `None`: the pool's default client.
    pub client_id: Option<String>,
}

impl WebConfig {
    /// True when the web listener terminates TLS itself.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }

    /// Relative paths of a configuration file are taken from the file's directory.
    fn relative_to(&mut self, dir: &Path) {
        for p in [&mut self.root, &mut self.tls_cert, &mut self.tls_key]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
    }

    /// Checks the web settings once `up`'s flags are merged in: TLS needs both files, a redirect listener needs
    /// TLS and an https:// `public_url`, and plain HTTP is served on a non-loopback `listen` only when
    /// `allow_plaintext_public` says so.
    pub fn check_for(
        &self,
        listen: SocketAddr,
        public_url: Option<&str>,
    ) -> Result<(), ConfigErrors> {
        let mut errors = Vec::new();
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => err(
                &mut errors,
                "web.tls_key",
                "missing; tls_cert and tls_key (--web-tls-cert/--web-tls-key) come together",
            ),
            (None, Some(_)) => err(
                &mut errors,
                "web.tls_cert",
                "missing; tls_cert and tls_key (--web-tls-cert/--web-tls-key) come together",
            ),
            _ => {}
        }
        if let Some(r) = self.redirect_listen {
            if !self.tls() {
                err(
                    &mut errors,
                    "web.redirect_listen",
                    format!(
                        "{r}: a redirect to HTTPS needs the web listener to serve TLS; set [web] tls_cert and \
                         tls_key (or --web-tls-cert/--web-tls-key)"
                    ),
                );
            }
            if !public_url.is_some_and(|u| u.starts_with("https://")) {
                err(
                    &mut errors,
                    "web.redirect_listen",
                    format!(
                        "{r}: needs [web] public_url = \"https://…\", the address redirects go to (never the \
                         request's Host header)"
                    ),
                );
            }
        }
        if !self.tls() && !self.allow_plaintext_public && !ip_is_loopback(listen.ip()) {
            err(
                &mut errors,
                "web.tls_cert",
                format!(
                    "--web-listen {listen} is not a loopback address and the web listener has no TLS: set [web] \
                     tls_cert and tls_key (or --web-tls-cert/--web-tls-key), or bind it to 127.0.0.1 behind a TLS \
                     proxy; if a proxy on a private network terminates TLS, pass --allow-plaintext-public \
                     ([web] allow_plaintext_public = true)"
                ),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

/// True for loopback addresses (IPv4-mapped included).
pub fn ip_is_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

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

/// `[[runtime]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuntime {
    pub name: Option<String>,
    /// The upstream of version 1 when no `[[runtime.version]]` is given.
    pub upstream: Option<String>,
    /// One agent process per session instead of an upstream: argv, given its port in `$PORT`.
    pub command: Option<Vec<String>>,
    pub authorizer: Option<RawAuthorizer>,
    #[serde(default)]
    pub version: Vec<RawVersion>,
    #[serde(default)]
    pub endpoint: Vec<RawEndpoint>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub request_header_allowlist: Vec<String>,
    pub idle_timeout: Option<String>,
    pub max_lifetime: Option<String>,
    /// `"sandbox"` (default) or `"none"`.
    pub isolation: Option<String>,
    /// `"none"` (default); `"all"` is refused until implemented.
    pub egress: Option<String>,
    /// Keep a session's working directory after it ends (debugging).
    pub keep_workdir: Option<bool>,
    #[serde(default)]
    pub limits: RawLimits,
}

/// `[[runtime.version]]`: an immutable version of the runtime.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVersion {
    pub number: Option<i64>,
    pub upstream: Option<String>,
}

/// `[[runtime.endpoint]]`: a named endpoint pinned to a version (`DEFAULT` always tracks the latest).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    pub name: Option<String>,
    pub version: Option<i64>,
}

/// `[runtime.limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_payload_bytes: Option<i64>,
    pub requests_per_minute: Option<i64>,
    pub burst: Option<i64>,
    pub max_sessions_per_user: Option<i64>,
    pub response_timeout: Option<String>,
    pub stream_idle_timeout: Option<String>,
    pub ws_max_message_bytes: Option<i64>,
    pub ws_frames_per_second: Option<i64>,
    pub ws_max_lifetime: Option<String>,
    pub ws_idle_timeout: Option<String>,
    pub ws_max_sockets_per_user: Option<i64>,
    pub max_processes: Option<i64>,
    pub memory_limit_mb: Option<i64>,
    pub cpu_time_limit_secs: Option<i64>,
    pub start_timeout: Option<String>,
    pub stop_grace: Option<String>,
}

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

/// A checked configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Trusted proxies, the PROXY protocol, and the IdP's and gateway's TLS files.
    pub listeners: listeners::ListenersConfig,
    pub idp_public_url: Option<String>,
    pub gateway_public_url: Option<String>,
    pub web_public_url: Option<String>,
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

/// Default of `[gateway] redis_timeout`.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(100);
/// Default of `[gateway] redis_key_prefix`.
pub const DEFAULT_REDIS_KEY_PREFIX: &str = "gatehouse:";

/// The checked rate-limit settings of `[gateway]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitBackend {
    /// Redis shared by every instance; `None`: buckets in this process's memory.
    pub redis_url: Option<String>,
    /// Admit requests without a limit while Redis is unreachable (default: refuse them with 503).
    pub fail_open: bool,
    /// The longest one check waits for Redis.
    pub timeout: Duration,
    /// Prefix of every key.
    pub key_prefix: String,
}

impl Default for RateLimitBackend {
    fn default() -> Self {
        Self {
            redis_url: None,
            fail_open: false,
            timeout: DEFAULT_REDIS_TIMEOUT,
            key_prefix: DEFAULT_REDIS_KEY_PREFIX.to_string(),
        }
    }
}

/// Checks a Redis URL: `redis://` only (this build has no TLS to Redis).
pub fn check_redis_url(url: &str) -> Result<(), String> {
    if url.starts_with("rediss://") {
        return Err(
            "rediss:// (TLS) is not supported by this build; use redis:// on a private network \
                    or a local TLS tunnel"
                .into(),
        );
    }
    let ok = url.starts_with("redis://")
        && url
            .parse::<http::Uri>()
            .is_ok_and(|u| u.host().is_some_and(|h| !h.is_empty()));
    if ok {
        Ok(())
    } else {
        Err("not a redis://HOST[:PORT][/DB] URL".into())
    }
}

fn check_rate_limits(errors: &mut Vec<ConfigError>, raw: &RawGateway) -> RateLimitBackend {
    let d = RateLimitBackend::default();
    if let Some(u) = &raw.redis_url {
        if let Err(reason) = check_redis_url(u) {
            // The URL may carry a password: never echo it.
            err(errors, "gateway.redis_url", reason);
        }
    }
    let fail_open = match raw.redis_unavailable.as_deref() {
        None | Some("closed") => false,
        Some("open") => true,
        Some(other) => {
            err(
                errors,
                "gateway.redis_unavailable",
                format!("'{other}' is not a policy; use \"closed\" (refuse with 503) or \"open\" (admit)"),
            );
            false
        }
    };
    let timeout = duration_or(
        errors,
        "gateway.redis_timeout".into(),
        raw.redis_timeout.clone(),
        d.timeout,
    );
    if timeout.is_zero() || timeout > Duration::from_secs(10) {
        err(errors, "gateway.redis_timeout", "must be 1ms to 10s");
    }
    let key_prefix = raw.redis_key_prefix.clone().unwrap_or(d.key_prefix);
    if key_prefix.len() > 64 || key_prefix.bytes().any(|b| !b.is_ascii_graphic()) {
        err(
            errors,
            "gateway.redis_key_prefix",
            "must be at most 64 printable ASCII characters without spaces",
        );
    }
    RateLimitBackend {
        redis_url: raw.redis_url.clone(),
        fail_open,
        timeout,
        key_prefix,
    }
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

/// A checked `[[runtime]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    pub name: String,
    /// Version number → upstream base URL; empty only for a `command` runtime. `DEFAULT` routes to the highest.
    pub versions: std::collections::BTreeMap<u32, String>,
    /// One process per session: the argv to start (`"gatehouse"` as argv[0] means this executable).
    pub command: Option<Vec<String>>,
    /// Named endpoints other than `DEFAULT`, each pinned to a version.
    pub endpoints: std::collections::BTreeMap<String, u32>,
    /// `None`: the built-in pool and its default client.
    pub authorizer: Option<AuthorizerConfig>,
    /// Browser origins allowed to call the runtime (CORS); empty: none (non-browser clients only).
    pub allowed_origins: Vec<String>,
    /// Extra request headers forwarded to the agent (lower-case).
    pub request_header_allowlist: Vec<String>,
    /// Session idle timeout (default 15 min).
    pub idle_timeout: Duration,
    /// Session maximum lifetime (default 8 h).
    pub max_lifetime: Duration,
    /// How session processes of a `command` runtime are isolated.
    pub isolation: Isolation,
    /// Outbound network of sandboxed session processes.
    pub egress: Egress,
    /// Keep working directories after their session ends.
    pub keep_workdir: bool,
    pub limits: LimitsConfig,
}

impl RuntimeConfig {
    /// A runtime with one version served by `upstream` and every other setting at its default.
    pub fn simple(name: &str, upstream: &str) -> Self {
        Self {
            name: name.to_string(),
            versions: std::collections::BTreeMap::from([(1, upstream.to_string())]),
            command: None,
            endpoints: std::collections::BTreeMap::new(),
            authorizer: None,
            allowed_origins: Vec::new(),
            request_header_allowlist: Vec::new(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            isolation: Isolation::default(),
            egress: Egress::default(),
            keep_workdir: false,
            limits: LimitsConfig::default(),
        }
    }
}

/// AgentCore's default session idle timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// AgentCore's default session maximum lifetime.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// A checked `[runtime.limits]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Largest request body (default 100 MB, AgentCore's payload limit).
    pub max_payload_bytes: u64,
    /// Sustained requests per user per minute (default 600).
    pub requests_per_minute: u32,
    /// Requests a user may make in a burst (default 60).
    pub burst: u32,
    /// Sessions one user may hold on the runtime at once (default 100).
    pub max_sessions_per_user: u32,
    /// How long the agent has to start answering (default 15 min, AgentCore's synchronous request timeout).
    pub response_timeout: Duration,
    /// A stream that sends nothing for this long is ended (default 15 min).
    pub stream_idle_timeout: Duration,
    /// Largest WebSocket message or frame (default 64 KiB, AgentCore's frame quota).
    pub ws_max_message_bytes: usize,
    /// Messages a client may send per second on one WebSocket (default 250, AgentCore's quota).
    pub ws_frames_per_second: u32,
    /// Longest a WebSocket may stay open (default 60 min, AgentCore's streaming maximum).
    pub ws_max_lifetime: Duration,
    /// A WebSocket with no message either way for this long is closed (default 15 min).
    pub ws_idle_timeout: Duration,
    /// WebSockets one user may hold open on the runtime (default 20).
    pub ws_max_sockets_per_user: u32,
    /// Session processes of a `command` runtime at once (default 32).
    pub max_processes: u32,
    /// Address-space limit of each session process, MiB (RLIMIT_AS; default none).
    pub memory_limit_mb: Option<u64>,
    /// CPU-time limit of each session process, seconds (RLIMIT_CPU; default none).
    pub cpu_time_limit_secs: Option<u64>,
    /// How long a session process has to answer `/ping` (default 30 s).
    pub start_timeout: Duration,
    /// Time between SIGTERM and SIGKILL when stopping a session process (default 10 s).
    pub stop_grace: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_payload_bytes: 100_000_000,
            requests_per_minute: 600,
            burst: 60,
            max_sessions_per_user: 100,
            response_timeout: Duration::from_secs(15 * 60),
            stream_idle_timeout: Duration::from_secs(15 * 60),
            ws_max_message_bytes: 64 * 1024,
            ws_frames_per_second: 250,
            ws_max_lifetime: Duration::from_secs(60 * 60),
            ws_idle_timeout: Duration::from_secs(15 * 60),
            ws_max_sockets_per_user: 20,
            max_processes: 32,
            memory_limit_mb: None,
            cpu_time_limit_secs: None,
            start_timeout: Duration::from_secs(30),
            stop_grace: Duration::from_secs(10),
        }
    }
}

/// A checked `[runtime.authorizer]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerConfig {
    pub discovery_url: String,
    pub allowed_clients: Vec<String>,
    pub allowed_audience: Vec<String>,
    pub allowed_scopes: Vec<String>,
    pub custom_claims: Vec<crate::token::ClaimRule>,
    pub jwks_refresh_interval: Duration,
}

/// Parses `500ms`, `30s`, `15m`, `8h`, `1d`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let ms = match unit {
        "ms" => n,
        "s" => n.checked_mul(1000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        "d" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

/// Headers that may never be put on a runtime's allow-list (AgentCore's restricted list, abridged to what
/// matters here): hop-by-hop, representation, cookies, forwarding and every `x-amz*` header except the
/// custom-header prefix.
pub fn restricted_header(name: &str) -> bool {
    const RESTRICTED: &[&str] = &[
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "cookie",
        "set-cookie",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
        "via",
        "origin",
        "www-authenticate",
        "sec-websocket-key",
        "sec-websocket-accept",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
    ];
    let n = name.to_ascii_lowercase();
    RESTRICTED.contains(&n.as_str())
        || n.starts_with("x-gatehouse-")
        || ((n.starts_with("x-amz-") || n.starts_with("x-amzn-"))
            && !n.starts_with("x-amzn-bedrock-agentcore-runtime-custom-"))
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

fn check_origin(errors: &mut Vec<ConfigError>, key: &str, origin: &str) {
    let ok = match origin.split_once("://") {
        Some((scheme, rest)) => {
            (scheme == "http" || scheme == "https")
                && !rest.is_empty()
                && !rest.contains('/')
                && !rest.contains('*')
                && rest.parse::<http::uri::Authority>().is_ok()
        }
        None => false,
    };
    if !ok {
        err(
            errors,
            key,
            format!(
                "'{origin}' is not an origin like https://app.example.com (no path, no wildcard)"
            ),
        );
    }
}

fn duration_or(
    errors: &mut Vec<ConfigError>,
    key: String,
    v: Option<String>,
    default: Duration,
) -> Duration {
    match v {
        None => default,
        Some(t) => parse_duration(&t).unwrap_or_else(|| {
            err(
                errors,
                key,
                format!("'{t}' is not a duration like \"500ms\", \"30s\", \"15m\" or \"8h\""),
            );
            default
        }),
    }
}

fn positive(
    errors: &mut Vec<ConfigError>,
    key: String,
    v: Option<i64>,
    default: u64,
    max: u64,
) -> u64 {
    match v {
        None => default,
        Some(n) if n >= 1 && (n as u64) <= max => n as u64,
        Some(n) => {
            err(errors, key, format!("{n} is out of range 1..={max}"));
            default
        }
    }
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

fn check_runtime(
    errors: &mut Vec<ConfigError>,
    i: usize,
    r: RawRuntime,
    names: &mut std::collections::HashSet<String>,
) -> Option<RuntimeConfig> {
    let k = |f: &str| format!("runtime[{i}].{f}");
    let name = r.name.unwrap_or_default();
    if !valid_runtime_name(&name) {
        err(errors, k("name"), "must match [a-zA-Z][a-zA-Z0-9_]{0,47}");
    } else if !names.insert(name.clone()) {
        err(errors, k("name"), format!("'{name}' is defined twice"));
    }
    let mut versions = std::collections::BTreeMap::new();
    let (isolation, egress) =
        sandbox::check_runtime_keys(errors, &k, r.isolation, r.egress, r.command.is_some());
    if r.keep_workdir.is_some() && r.command.is_none() {
        err(
            errors,
            k("keep_workdir"),
            "applies only to a `command` runtime",
        );
    }
    let keep_workdir = r.keep_workdir.unwrap_or(false);
    let command = match r.command {
        Some(argv) if argv.is_empty() || argv[0].is_empty() => {
            err(
                errors,
                k("command"),
                "must name a program, e.g. [\"gatehouse\", \"agent\"]",
            );
            None
        }
        Some(_) if r.upstream.is_some() || !r.version.is_empty() => {
            err(errors, k("command"), "give either `command` (one process per session) or `upstream`/[[runtime.version]], not both");
            None
        }
        other => other,
    };
    match (r.upstream, r.version.is_empty()) {
        (None, true) if command.is_some() => {}
        (Some(u), true) => {
            check_url(errors, &k("upstream"), &u);
            versions.insert(1, u);
        }
        (None, true) => err(errors, k("upstream"), "missing; give the agent's base URL, e.g. \"http://127.0.0.1:8080\" (or [[runtime.version]] entries)"),
        (Some(_), false) => err(errors, k("upstream"), "give either `upstream` or [[runtime.version]] entries, not both"),
        (None, false) => {
            for (j, v) in r.version.into_iter().enumerate() {
                let vk = |f: &str| k(&format!("version[{j}].{f}"));
                let number = match v.number {
                    Some(n) if (1..=99_999).contains(&n) => n as u32,
                    _ => {
                        err(errors, vk("number"), "must be a version number from 1 to 99999");
                        continue;
                    }
                };
                let upstream = v.upstream.unwrap_or_default();
                check_url(errors, &vk("upstream"), &upstream);
                if versions.insert(number, upstream).is_some() {
                    err(errors, vk("number"), format!("version {number} is defined twice"));
                }
            }
        }
    }
    let mut endpoints = std::collections::BTreeMap::new();
    for (j, e) in r.endpoint.into_iter().enumerate() {
        let ek = |f: &str| k(&format!("endpoint[{j}].{f}"));
        let ename = e.name.unwrap_or_default();
        let valid = !ename.is_empty()
            && ename.len() <= 48
            && ename.as_bytes()[0].is_ascii_alphabetic()
            && ename
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid || ename == "DEFAULT" {
            err(errors, ek("name"), "must match [a-zA-Z][a-zA-Z0-9_]{0,47} and not be DEFAULT (DEFAULT always tracks the latest version)");
            continue;
        }
        match e.version {
            Some(v) if versions.contains_key(&(v as u32)) && v > 0 => {
                if endpoints.insert(ename.clone(), v as u32).is_some() {
                    err(
                        errors,
                        ek("name"),
                        format!("endpoint '{ename}' is defined twice"),
                    );
                }
            }
            other => err(
                errors,
                ek("version"),
                format!("{other:?} names no version of this runtime"),
            ),
        }
    }
    for (j, o) in r.allowed_origins.iter().enumerate() {
        check_origin(errors, &k(&format!("allowed_origins[{j}]")), o);
    }
    let mut allow = Vec::new();
    for (j, h) in r.request_header_allowlist.iter().enumerate() {
        let key = k(&format!("request_header_allowlist[{j}]"));
        let valid = !h.is_empty()
            && h.len() <= 256
            && h.as_bytes()[0].is_ascii_alphabetic()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            err(
                errors,
                key,
                format!("'{h}' is not a header name ([A-Za-z][A-Za-z0-9_-]*)"),
            );
        } else if restricted_header(h) {
            err(
                errors,
                key,
                format!("'{h}' may not be forwarded to an agent"),
            );
        } else {
            allow.push(h.to_ascii_lowercase());
        }
    }
    if allow.len() > 20 {
        err(errors, k("request_header_allowlist"), "at most 20 headers");
    }
    let idle_timeout = duration_or(
        errors,
        k("idle_timeout"),
        r.idle_timeout,
        DEFAULT_IDLE_TIMEOUT,
    );
    let max_lifetime = duration_or(
        errors,
        k("max_lifetime"),
        r.max_lifetime,
        DEFAULT_MAX_LIFETIME,
    );
    if idle_timeout > max_lifetime {
        err(
            errors,
            k("idle_timeout"),
            "must not be longer than max_lifetime",
        );
    }
    let d = LimitsConfig::default();
    let l = r.limits;
    let limits = LimitsConfig {
        max_payload_bytes: positive(
            errors,
            k("limits.max_payload_bytes"),
            l.max_payload_bytes,
            d.max_payload_bytes,
            d.max_payload_bytes,
        ),
        requests_per_minute: positive(
            errors,
            k("limits.requests_per_minute"),
            l.requests_per_minute,
            u64::from(d.requests_per_minute),
            1_000_000,
        ) as u32,
        burst: positive(
            errors,
            k("limits.burst"),
            l.burst,
            u64::from(d.burst),
            1_000_000,
        ) as u32,
        max_sessions_per_user: positive(
            errors,
            k("limits.max_sessions_per_user"),
            l.max_sessions_per_user,
            u64::from(d.max_sessions_per_user),
            1_000_000,
        ) as u32,
        response_timeout: duration_or(
            errors,
            k("limits.response_timeout"),
            l.response_timeout,
            d.response_timeout,
        ),
        stream_idle_timeout: duration_or(
            errors,
            k("limits.stream_idle_timeout"),
            l.stream_idle_timeout,
            d.stream_idle_timeout,
        ),
        ws_max_message_bytes: positive(
            errors,
            k("limits.ws_max_message_bytes"),
            l.ws_max_message_bytes,
            d.ws_max_message_bytes as u64,
            16 * 1024 * 1024,
        ) as usize,
        ws_frames_per_second: positive(
            errors,
            k("limits.ws_frames_per_second"),
            l.ws_frames_per_second,
            u64::from(d.ws_frames_per_second),
            100_000,
        ) as u32,
        ws_max_lifetime: duration_or(
            errors,
            k("limits.ws_max_lifetime"),
            l.ws_max_lifetime,
            d.ws_max_lifetime,
        ),
        ws_idle_timeout: duration_or(
            errors,
            k("limits.ws_idle_timeout"),
            l.ws_idle_timeout,
            d.ws_idle_timeout,
        ),
        ws_max_sockets_per_user: positive(
            errors,
            k("limits.ws_max_sockets_per_user"),
            l.ws_max_sockets_per_user,
            u64::from(d.ws_max_sockets_per_user),
            1_000_000,
        ) as u32,
        max_processes: positive(
            errors,
            k("limits.max_processes"),
            l.max_processes,
            u64::from(d.max_processes),
            100_000,
        ) as u32,
        memory_limit_mb: l.memory_limit_mb.map(|_| {
            positive(
                errors,
                k("limits.memory_limit_mb"),
                l.memory_limit_mb,
                1,
                1 << 30,
            )
        }),
        cpu_time_limit_secs: l.cpu_time_limit_secs.map(|_| {
            positive(
                errors,
                k("limits.cpu_time_limit_secs"),
                l.cpu_time_limit_secs,
                1,
                1 << 30,
            )
        }),
        start_timeout: duration_or(
            errors,
            k("limits.start_timeout"),
            l.start_timeout,
            d.start_timeout,
        ),
        stop_grace: duration_or(errors, k("limits.stop_grace"), l.stop_grace, d.stop_grace),
    };
    let authorizer = r.authorizer.map(|a| {
        let discovery_url = a.discovery_url.unwrap_or_default();
        if discovery_url.is_empty() {
            err(errors, k("authorizer.discovery_url"), "missing; give the IdP's .well-known/openid-configuration URL");
        } else {
            check_url(errors, &k("authorizer.discovery_url"), &discovery_url);
            if !discovery_url.contains("/.well-known/openid-configuration") && !discovery_url.contains("/.well-known/oauth-authorization-server") {
                err(errors, k("authorizer.discovery_url"), "must end in /.well-known/openid-configuration");
            }
        }
        if a.allowed_clients.is_empty() && a.allowed_audience.is_empty() {
            err(errors, k("authorizer"), "set allowed_clients or allowed_audience (or both): a token from any client of the IdP must not be accepted");
        }
        let custom_claims = a
            .custom_claims
            .into_iter()
            .enumerate()
            .filter_map(|(j, c)| check_claim_rule(errors, &k(&format!("authorizer.custom_claims[{j}]")), c))
            .collect();
        AuthorizerConfig {
            discovery_url,
            allowed_clients: a.allowed_clients,
            allowed_audience: a.allowed_audience,
            allowed_scopes: a.allowed_scopes,
            custom_claims,
            jwks_refresh_interval: duration_or(errors, k("authorizer.jwks_refresh_interval"), a.jwks_refresh_interval, Duration::from_secs(30)),
        }
    });
    Some(RuntimeConfig {
        name,
        versions,
        command,
        endpoints,
        authorizer,
        allowed_origins: r.allowed_origins,
        request_header_allowlist: allow,
        idle_timeout,
        max_lifetime,
        isolation,
        egress,
        keep_workdir,
        limits,
    })
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
        policy: idp_policy::check(errors, raw),
    }
}

fn check_web(errors: &mut Vec<ConfigError>, raw: &RawWeb) -> WebConfig {
    let path = |errors: &mut Vec<ConfigError>, key: &str, v: &Option<String>| {
        v.as_ref().and_then(|p| {
            if p.trim().is_empty() {
                err(errors, key, "is empty; give a path or leave the key out");
                None
            } else {
                Some(PathBuf::from(p))
            }
        })
    };
    let root = path(errors, "web.root", &raw.root);
    let tls_cert = path(errors, "web.tls_cert", &raw.tls_cert);
    let tls_key = path(errors, "web.tls_key", &raw.tls_key);
    match (&raw.tls_cert, &raw.tls_key) {
        (Some(_), None) => err(
            errors,
            "web.tls_key",
            "missing; tls_cert and tls_key come together",
        ),
        (None, Some(_)) => err(
            errors,
            "web.tls_cert",
            "missing; tls_cert and tls_key come together",
        ),
        _ => {}
    }
    let redirect_listen = raw.redirect_listen.as_ref().and_then(|r| {
        let parsed = r.parse::<SocketAddr>().ok();
        if parsed.is_none() {
            err(
                errors,
                "web.redirect_listen",
                format!("'{r}' is not HOST:PORT with an IP address (e.g. \"0.0.0.0:80\")"),
            );
        } else if !raw
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
        {
            err(
                errors,
                "web.redirect_listen",
                "needs [web] public_url = \"https://…\": redirects go there, never to the request's Host header",
            );
        }
        parsed
    });
    if let Some(id) = &raw.client_id {
        // Cognito's ClientIdType: 1 to 128 word characters (or '+').
        let ok = !id.is_empty()
            && id.len() <= 128
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+');
        if !ok {
            err(
                errors,
                "web.client_id",
                format!(
                    "'{id}' is not a client id (1 to 128 letters, digits, '_' or '+'); take one from \
                     `gatehouse client list`"
                ),
            );
        }
    }
    WebConfig {
        root,
        tls_cert,
        tls_key,
        redirect_listen,
        allow_plaintext_public: raw.allow_plaintext_public.unwrap_or(false),
        client_id: raw.client_id.clone(),
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
        let mut c = Self::from_toml(&text)?;
        if let Some(dir) = path.parent() {
            c.web.relative_to(dir);
            c.listeners.relative_to(dir);
        }
        Ok(c)
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
        let mut listeners = listeners::check_listeners(&mut errors, &raw.listeners);
        listeners.idp_tls =
            listeners::check_tls(&mut errors, "idp", &raw.idp.tls_cert, &raw.idp.tls_key);
        listeners.gateway_tls = listeners::check_tls(
            &mut errors,
            "gateway",
            &raw.gateway.tls_cert,
            &raw.gateway.tls_key,
        );
        let idp = check_idp(&mut errors, &raw.idp);
        let rate_limits = check_rate_limits(&mut errors, &raw.gateway);
        let cluster = check_cluster(&mut errors, raw.cluster);
        let sandbox = sandbox::check_sandbox(&mut errors, raw.sandbox);
        let web = check_web(&mut errors, &raw.web);
        let mut runtimes = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (i, r) in raw.runtime.into_iter().enumerate() {
            if let Some(rc) = check_runtime(&mut errors, i, r, &mut names) {
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
                idp_public_url: raw.idp.public_url,
                gateway_public_url: raw.gateway.public_url,
                web_public_url: raw.web.public_url,
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
        let e = Config::from_toml(
            r#"
            version = 1
            [gateway]
            redis_url = "rediss://:hunter2@cache:6379"
            redis_unavailable = "maybe"
            redis_timeout = "0ms"
            redis_key_prefix = "has space"
            "#,
        )
        .unwrap_err();
        let keys: Vec<&str> = e.0.iter().map(|e| e.key.as_str()).collect();
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
        let e = Config::from_toml(
            "version = 1\n[cluster]\ninternal_listen = \"nowhere\"\ninternal_url = \"ftp://x\"\n",
        )
        .unwrap_err();
        let keys: Vec<&str> = e.0.iter().map(|e| e.key.as_str()).collect();
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

        let e = Config::from_toml(
            "version = 1\n[web]\nroot = \"\"\ntls_key = \"k.pem\"\nredirect_listen = \"nowhere\"\n\
             allow_plaintext_public = true\n",
        )
        .unwrap_err();
        let keys: Vec<&str> = e.0.iter().map(|e| e.key.as_str()).collect();
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
