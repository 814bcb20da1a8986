//! The command line (clap): `up`, `user`, `client`, `keys`, `agent`, each an `execute(args)`. Parses, dispatches, prints errors as
//! one readable line and maps them to exit codes (0 ok, 1 failure, 64 usage or configuration). `anyhow` lives
//! here only. Nothing imports this module.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::store::{DatabaseUrl, OpenError};

pub mod agent;
pub mod bench_upstream;
pub mod client;
pub mod client_oauth;
pub mod client_registration;
pub mod config;
pub mod doctor;
pub mod exec;
mod exec_userns;
pub mod keys;
pub mod listen;
pub mod resource_server;
pub mod sessions;
pub mod up;
pub mod user;

/// gatehouse: a self-hosted Cognito-compatible identity provider and AgentCore-compatible runtime gateway.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the web, identity-provider and gateway listeners (and the reference agent), and write
    /// <data-dir>/endpoints.json once they accept connections.
    Up(up::UpArgs),
    /// Manage users of the built-in user pool.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Live session processes of a running gatehouse.
    #[command(subcommand)]
    Sessions(sessions::SessionsCommand),
    /// Check configuration files.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// The trivial upstream of the benchmark suite (bench/run.sh).
    #[command(name = "bench-upstream", hide = true)]
    BenchUpstream(bench_upstream::BenchUpstreamArgs),
    /// Start a session's agent program (used by `up`; not for direct use).
    #[command(name = "exec-agent", hide = true)]
    ExecAgent(exec::ExecArgs),
    /// Manage app clients of the built-in user pool.
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Manage the pool's OAuth resource servers and their scopes.
    #[command(subcommand, name = "resource-server")]
    ResourceServer(resource_server::ResourceServerCommand),
    /// Rotate and list the user pool's signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Run the reference agent: AgentCore's HTTP container contract (/ping, /invocations, /ws), an MCP server
    /// (/mcp), an A2A agent (POST /, /.well-known/agent-card.json), or all three (--protocol).
    Agent(agent::AgentArgs),
    /// Audit a configuration (and, with --endpoints, a running deployment) against the controls of a production
    /// perimeter: one line per control with pass/fail and the fix; exit 1 if any fails.
    Doctor(doctor::DoctorArgs),
}

/// Where the state lives: `--data-dir` (SQLite inside) or `--database-url`.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Directory for the embedded SQLite database, signing keys and endpoints.json.
    #[arg(long, env = crate::config::env::ENV_DATA_DIR, default_value = "./.gatehouse")]
    pub data_dir: PathBuf,
    /// A database URL instead of the data directory's SQLite file (sqlite:PATH).
    #[arg(long, env = crate::config::env::ENV_DATABASE_URL)]
    pub database_url: Option<String>,
}

impl StoreArgs {
    /// `--database-url` parsed and checked, the one place the CLI does it (each command calls this before
    /// anything else): `None` without one (or a blank one). A scheme gatehouse does not speak is a usage error
    /// (exit code 64); an unparsable PostgreSQL URL fails as it would on connecting (exit code 1).
    pub fn parsed_database_url(&self) -> anyhow::Result<Option<DatabaseUrl>> {
        let Some(url) = self
            .database_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        else {
            return Ok(None);
        };
        url.parse().map(Some).map_err(|e: OpenError| {
            if e.is_usage() {
                anyhow::Error::new(UsageError(e.to_string()))
            } else {
                anyhow::Error::new(e)
            }
        })
    }

    /// The database these flags name: `--database-url`, or else the data directory's SQLite file.
    pub fn database(&self) -> anyhow::Result<DatabaseUrl> {
        Ok(self
            .parsed_database_url()?
            .unwrap_or_else(|| DatabaseUrl::in_data_dir(&self.data_dir)))
    }
}

/// A usage or configuration problem: exit code 64.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Parses the command line, runs the command, returns the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 64 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    crate::telemetry::init();
    let result = match cli.command {
        Command::Up(a) => up::execute(a),
        Command::User(c) => user::execute(c),
        Command::Client(c) => client::execute(c),
        Command::ResourceServer(c) => resource_server::execute(c),
        Command::Keys(c) => keys::execute(c),
        Command::Agent(a) => agent::execute(a),
        Command::Config(c) => config::execute(c),
        Command::ExecAgent(a) => exec::execute(a),
        Command::BenchUpstream(a) => bench_upstream::execute(a),
        Command::Sessions(c) => sessions::execute(c),
        Command::Doctor(a) => match doctor::execute(a) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse: {e:#}");
            if e.downcast_ref::<UsageError>().is_some()
                || e.downcast_ref::<crate::config::ConfigErrors>().is_some()
            {
                ExitCode::from(64)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// A multi-threaded tokio runtime for a command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

/// Resolves when the parent process has gone (gatehouse was re-parented), checked twice a second.
pub async fn parent_gone() {
    let parent = nix::unistd::getppid();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        if nix::unistd::getppid() != parent {
            return;
        }
    }
}

/// Resolves on SIGINT, SIGTERM or — with `exit_with_parent` — the death of the parent process.
pub async fn stop_signal(exit_with_parent: bool) {
    let orphaned = async {
        if exit_with_parent {
            parent_gone().await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = shutdown_signal() => {}
        () = orphaned => tracing::warn!("parent process gone; exiting"),
    }
}
