//! `gatehouse up`.
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;

use super::listen::{ListenArgs, WebArgs};
use super::{StoreArgs, UsageError};
use crate::config::{self, Overrides};
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
    #[command(flatten)]
    pub listen: ListenArgs,
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
    #[command(flatten)]
    pub web: WebArgs,
    /// Shut down when the parent process dies (for supervisors and test harnesses).
    #[arg(long, hide = true)]
    pub exit_with_parent: bool,
}

/// Runs `up` until SIGINT or SIGTERM.
pub fn execute(args: UpArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        web_root: args.web_root,
        redis_url: args.redis_url,
        internal_listen: args.internal_listen,
        internal_url: args.internal_url,
        ..args.web.overrides()
    };
    let database = args.store.database()?;
    let config = config::resolve(args.config.as_deref(), &overrides)?;
    let opts = UpOptions {
        data_dir: args.store.data_dir,
        database,
        web_listen: args.listen.web_listen,
        idp_listen: args.listen.idp_listen,
        gateway_listen: args.listen.gateway_listen,
        admin_listen: args.listen.admin_listen,
        token_cache_entries: args.token_cache_entries,
        config,
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
