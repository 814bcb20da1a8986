//! `gatehouse doctor`: audits a configuration (and, with `--endpoints`, a running deployment) against the
//! controls of a production perimeter; prints one line per control (or `--json`) and exits 1 if any fails.
//! Holds no judgement itself (that is `crate::doctor::audit`) and never prints a secret.
use std::path::PathBuf;

use super::listen::{ListenArgs, WebArgs};
use super::StoreArgs;
use crate::config;
use crate::doctor::{self, probe};

/// Arguments of `doctor`: the same configuration, data directory and listen addresses as `up`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Configuration file (TOML) to audit. Without it: the embedded default.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub web: WebArgs,
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
    // The same configuration `up` would run with: the file with the same flags over it.
    let config =
        config::resolve(args.config.as_deref(), &args.web.overrides()).map_err(|e| e.to_string());
    let database_url = args.store.parsed_database_url()?;
    let opts = probe::ProbeOptions {
        config,
        listeners: args.listen.listeners(),
        data_dir: args.store.data_dir,
        database_url,
        endpoints: args.endpoints,
        live: args.live,
    };
    let rt = super::runtime()?;
    let facts = rt.block_on(probe::gather(&opts))?;
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
