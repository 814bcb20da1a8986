//! `gatehouse up`.
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;

use super::{StoreArgs, UsageError};
use crate::config::Config;
use crate::server::{self, ServerError, UpOptions};

/// Arguments of `up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Configuration file (TOML). Without it: the embedded default (one pool, one public client, runtime `demo`).
    /// Behind a proxy set `[listeners] trusted_proxies` (and `proxy_protocol`); TLS on the IdP and gateway
    /// listeners: `[idp]` / `[gateway]` `tls_cert` + `tls_key` (reloaded when the files change).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Web listener, HOST:PORT (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:4000")]
    pub web_listen: SocketAddr,
    /// Identity-provider listener, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:4001")]
    pub idp_listen: SocketAddr,
    /// Runtime-gateway listener, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:4002")]
    pub gateway_listen: SocketAddr,
    /// Admin listener for /metrics and /healthz, HOST:PORT (keep it on loopback or a private network).
    #[arg(long, default_value = "127.0.0.1:4003")]
    pub admin_listen: SocketAddr,
    /// Verified tokens remembered so a re-used token skips the RSA check (0 turns the cache off: every request
    /// then verifies its token's signature; benchmarks use it to measure the uncached path).
    #[arg(long, default_value_t = crate::gateway::tokencache::CAPACITY)]
    pub token_cache_entries: usize,
    /// Redis for rate limits shared by every instance (`redis://HOST:PORT/DB`); overrides `[gateway] redis_url`.
    #[arg(long, env = crate::config::env::ENV_REDIS_URL, hide_env_values = true)]
    pub redis_url: Option<crate::config::Secret>,
    /// Internal listener for forwarding isolated sessions between instances, HOST:PORT (needs `[cluster]`
    /// shared_secret_file; overrides `[cluster] internal_listen`). Reachable by the other instances only.
    #[arg(long)]
    pub internal_listen: Option<SocketAddr>,
    /// The URL other instances reach this one's internal listener at (overrides `[cluster] internal_url`;
    /// e.g. `http://$(POD_IP):4010` in Kubernetes).
    #[arg(long, env = crate::config::env::ENV_INTERNAL_URL)]
    pub internal_url: Option<String>,
    /// The built web app to serve (a directory with index.html); overrides [web] root. Without it: a
    /// placeholder page.
    #[arg(long)]
    pub web_root: Option<PathBuf>,
    /// PEM certificate chain for the web listener (with --web-tls-key): it then speaks HTTPS only.
    #[arg(long, requires = "web_tls_key")]
    pub web_tls_cert: Option<PathBuf>,
    /// PEM private key for --web-tls-cert.
    #[arg(long, requires = "web_tls_cert")]
    pub web_tls_key: Option<PathBuf>,
    /// A plain-HTTP listener, HOST:PORT, that answers every request with 308 to [web] public_url (needs TLS).
    #[arg(long)]
    pub web_redirect_listen: Option<SocketAddr>,
    /// Serve plain HTTP on a non-loopback --web-listen (only when a TLS proxy on a private network is in front).
    #[arg(long)]
    pub allow_plaintext_public: bool,
    /// Shut down when the parent process dies (for supervisors and test harnesses).
    #[arg(long, hide = true)]
    pub exit_with_parent: bool,
}

/// Runs `up` until SIGINT or SIGTERM.
pub fn execute(args: UpArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    // Flags win over the file.
    let web = &mut config.web;
    if let Some(root) = args.web_root {
        web.root = Some(root);
    }
    if let (Some(cert), Some(key)) = (args.web_tls_cert, args.web_tls_key) {
        web.tls_cert = Some(cert);
        web.tls_key = Some(key);
    }
    if let Some(r) = args.web_redirect_listen {
        web.redirect_listen = Some(r);
    }
    web.allow_plaintext_public |= args.allow_plaintext_public;
    let opts = UpOptions {
        data_dir: args.store.data_dir,
        database_url: args.store.database_url,
        web_listen: args.web_listen,
        idp_listen: args.idp_listen,
        gateway_listen: args.gateway_listen,
        admin_listen: args.admin_listen,
        token_cache_entries: args.token_cache_entries,
        config,
        redis_url: args.redis_url,
        internal_listen: args.internal_listen,
        internal_url: args.internal_url,
        exe: std::env::current_exe().context("cannot find the gatehouse executable")?,
        config_path: args.config.clone(),
    };
    let rt = super::runtime()?;
    rt.block_on(server::run(opts, super::stop_signal(args.exit_with_parent)))
        .map_err(|e| match e {
            ServerError::Config(c) => anyhow::Error::new(c),
            e if e.is_usage() => anyhow::Error::new(UsageError(e.to_string())),
            other => anyhow::Error::new(other),
        })
}
