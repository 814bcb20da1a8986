//! `gatehouse doctor`: audits a configuration (and, with `--endpoints`, a running deployment) against the
//! controls of a production perimeter; prints one line per control (or `--json`) and exits 1 if any fails.
//! Holds no judgement itself (that is `crate::doctor::audit`) and never prints a secret.
use std::net::SocketAddr;
use std::path::PathBuf;

use super::StoreArgs;
use crate::doctor::{self, probe, Listeners};

/// Arguments of `doctor`: the same configuration, data directory and listen addresses as `up`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Configuration file (TOML) to audit. Without it: the embedded default.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// The web listener `up` is (or will be) given.
    #[arg(long, default_value = "127.0.0.1:4000")]
    pub web_listen: SocketAddr,
    /// The IdP listener.
    #[arg(long, default_value = "127.0.0.1:4001")]
    pub idp_listen: SocketAddr,
    /// The gateway listener.
    #[arg(long, default_value = "127.0.0.1:4002")]
    pub gateway_listen: SocketAddr,
    /// The admin (metrics) listener.
    #[arg(long, default_value = "127.0.0.1:4003")]
    pub admin_listen: SocketAddr,
    /// The web listener's TLS certificate `up` is given (overrides [web] tls_cert).
    #[arg(long, requires = "web_tls_key")]
    pub web_tls_cert: Option<PathBuf>,
    /// The web listener's TLS key (overrides [web] tls_key).
    #[arg(long, requires = "web_tls_cert")]
    pub web_tls_key: Option<PathBuf>,
    /// The redirect listener `up` is given (overrides [web] redirect_listen).
    #[arg(long)]
    pub web_redirect_listen: Option<SocketAddr>,
    /// As given to `up`: plain HTTP on a non-loopback web listener (still reported as a failing control).
    #[arg(long)]
    pub allow_plaintext_public: bool,
    /// endpoints.json of a running deployment: also check JWKS reachability, that an invocation without a token
    /// is refused and that a foreign origin gets no CORS answer.
    #[arg(long)]
    pub endpoints: Option<PathBuf>,
    /// Also fetch the JWKS of every authorizer in the configuration.
    #[arg(long)]
    pub live: bool,
    /// Print a JSON array of {control, subject, pass, detail, fix} instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Runs `doctor`; `Ok(false)` when any control failed.
pub fn execute(args: DoctorArgs) -> anyhow::Result<bool> {
    let opts = probe::ProbeOptions {
        config: args.config,
        listeners: Listeners {
            web: args.web_listen,
            idp: args.idp_listen,
            gateway: args.gateway_listen,
            admin: args.admin_listen,
        },
        data_dir: args.store.data_dir,
        database_url: args.store.database_url,
        endpoints: args.endpoints,
        live: args.live,
    };
    let rt = super::runtime()?;
    let mut facts = rt.block_on(probe::gather(&opts))?;
    if let Ok(c) = &mut facts.config {
        // The same precedence as `up`: flags win over the file.
        if let (Some(cert), Some(key)) = (args.web_tls_cert, args.web_tls_key) {
            c.web.tls_cert = Some(cert);
            c.web.tls_key = Some(key);
        }
        if let Some(r) = args.web_redirect_listen {
            c.web.redirect_listen = Some(r);
        }
        c.web.allow_plaintext_public |= args.allow_plaintext_public;
    }
    probe::web_tls(&mut facts);
    let checks = doctor::audit(&facts);
    let failed = checks.iter().filter(|c| !c.pass).count();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checks)?);
    } else {
        for c in &checks {
            println!("{}", c.line());
        }
        println!("{} passed, {failed} failed", checks.len() - failed);
    }
    Ok(failed == 0)
}
