//! `gatehouse sessions list|stop`: the live session processes of a running `up`, through its admin listener
//! (found in `<data-dir>/endpoints.json`), authenticated with the admin token in `<data-dir>/admin.token`.
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use http_body_util::BodyExt as _;

use super::UsageError;
use crate::agent::supervisor::SessionInfo;
use crate::config::Secret;
use crate::server::{Endpoints, ENDPOINTS_FILE};

/// `sessions` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SessionsCommand {
    /// Show live session processes: runtime, user, session, started, last active, pid, state.
    List {
        /// The data directory of the running gatehouse.
        #[arg(long, env = crate::config::env::ENV_DATA_DIR, default_value = "./.gatehouse")]
        data_dir: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Stop a session's agent process and its streams (authenticated with <data-dir>/admin.token).
    Stop {
        /// The session id.
        #[arg(long)]
        session: String,
        /// Only on this runtime (name).
        #[arg(long)]
        runtime: Option<String>,
        /// The data directory of the running gatehouse.
        #[arg(long, env = crate::config::env::ENV_DATA_DIR, default_value = "./.gatehouse")]
        data_dir: PathBuf,
    },
}

fn admin_url(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(ENDPOINTS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|_| {
        UsageError(format!(
            "{} not found: is `gatehouse up --data-dir {}` running?",
            path.display(),
            data_dir.display()
        ))
    })?;
    let e: Endpoints =
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    Ok(e.admin)
}

/// The admin token `up` wrote to `<data-dir>/admin.token`.
fn admin_token(data_dir: &Path) -> anyhow::Result<Secret> {
    let path = data_dir.join(crate::server::ADMIN_TOKEN_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        UsageError(format!(
            "{}: {e}; run this as the user `gatehouse up --data-dir {}` runs as",
            path.display(),
            data_dir.display()
        ))
    })?;
    Ok(Secret::new(text.trim()))
}

async fn call(method: &str, url: &str, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let client = crate::outbound::client();
    let req = http::Request::builder()
        .method(method)
        .uri(url)
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", admin_token(data_dir)?.expose()),
        )
        .body(axum::body::Body::empty())?;
    let resp = client
        .request(req)
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    anyhow::ensure!(resp.status().is_success(), "{url}: HTTP {}", resp.status());
    Ok(resp.into_body().collect().await?.to_bytes().to_vec())
}

fn ago(now: i64, t: i64) -> String {
    let s = (now - t).max(0);
    if s < 120 {
        format!("{s}s ago")
    } else if s < 7200 {
        format!("{}m ago", s / 60)
    } else {
        format!("{}h ago", s / 3600)
    }
}

/// Runs a `sessions` subcommand.
pub fn execute(cmd: SessionsCommand) -> anyhow::Result<()> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        match cmd {
            SessionsCommand::List { data_dir, json } => {
                let body = call(
                    "GET",
                    &format!("{}/sessions", admin_url(&data_dir)?),
                    &data_dir,
                )
                .await?;
                let rows: Vec<SessionInfo> = serde_json::from_slice(&body)?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&rows)?);
                    return Ok(());
                }
                let now = crate::clock::Clock::now_unix(&crate::clock::SystemClock);
                println!(
                    "{:<12} {:<38} {:<55} {:>8} {:<9} {:<10} {:<10}",
                    "RUNTIME", "USER", "SESSION", "PID", "STATE", "STARTED", "ACTIVE"
                );
                for r in &rows {
                    println!(
                        "{:<12} {:<38} {:<55} {:>8} {:<9} {:<10} {:<10}",
                        r.runtime,
                        r.user,
                        r.session_id,
                        r.pid,
                        r.state,
                        ago(now, r.started),
                        ago(now, r.last_active)
                    );
                }
                if rows.is_empty() {
                    println!("(no live session processes)");
                }
                Ok(())
            }
            SessionsCommand::Stop {
                session,
                runtime,
                data_dir,
            } => {
                let mut url = format!(
                    "{}/sessions/stop?session={}",
                    admin_url(&data_dir)?,
                    percent_encoding::utf8_percent_encode(
                        &session,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                );
                if let Some(r) = runtime {
                    url.push_str(&format!("&runtime={r}"));
                }
                let body = call("POST", &url, &data_dir).await?;
                let v: serde_json::Value = serde_json::from_slice(&body)?;
                if v["stopped"].as_bool() == Some(true) {
                    println!("stopped session {session}");
                    Ok(())
                } else {
                    Err(anyhow::anyhow!("no live process for session {session}"))
                }
            }
        }
    })
}
