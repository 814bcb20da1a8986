//! Starts the reference agent as a child process (`gatehouse agent --listen 127.0.0.1:0 --exit-with-parent
//! --protocol …`), learns its address from the one line it prints, waits until `/ping` answers, and stops it with
//! SIGTERM (SIGKILL after a grace period). The child gets a minimal environment (an allow-list, never gatehouse's own:
//! no database or Redis URL, no secrets). Must never leave a child running after gatehouse has stopped.
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::outbound::{get_document, HttpClient};

/// The line prefix the reference agent prints once it listens.
pub const LISTENING_PREFIX: &str = "gatehouse agent listening on ";
/// How long a child has to start and answer `/ping`.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a child has to exit after SIGTERM.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Variables of gatehouse's environment the reference agent may see (nothing secret).
pub const ENV_ALLOWLIST: &[&str] = &["PATH", "LANG", "LC_ALL", "TZ", "RUST_LOG", "NO_COLOR"];

/// Why an agent could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("could not start the agent process: {0}")]
    Spawn(std::io::Error),
    #[error("the agent process did not report its address within {0:?}")]
    NoAddress(Duration),
    #[error("the agent at {0} did not answer /ping within {1:?}")]
    NotHealthy(String, Duration),
}

/// A running agent process.
#[derive(Debug)]
pub struct ChildAgent {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
}

impl ChildAgent {
    /// Starts `exe agent --protocol <protocol> …` (`http`, `mcp`, `a2a` or `all`) and waits until it is healthy.
    pub async fn start(
        exe: PathBuf,
        client: &HttpClient,
        protocol: &str,
    ) -> Result<Self, ChildError> {
        let mut cmd = Command::new(exe);
        cmd.env_clear();
        for k in ENV_ALLOWLIST {
            if let Some(v) = crate::config::env::EnvSource::get(&crate::config::env::ProcessEnv, k)
            {
                cmd.env(k, v);
            }
        }
        let mut child = cmd
            .args(["agent", "--listen", "127.0.0.1:0", "--exit-with-parent"])
            .args(["--protocol", protocol])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(ChildError::Spawn)?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| ChildError::Spawn(std::io::Error::other("no stdout pipe")))?;
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix(LISTENING_PREFIX) {
                    return Some(url.trim().to_string());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or(ChildError::NoAddress(START_TIMEOUT))?;
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let ping = format!("{url}/ping");
        let mut wait = Duration::from_millis(10);
        while get_document(client, &ping).await.is_err() {
            if tokio::time::Instant::now() >= deadline {
                return Err(ChildError::NotHealthy(url, START_TIMEOUT));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_millis(200));
        }
        Ok(Self { child, url })
    }

    /// The child's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGTERM, then SIGKILL if it has not exited within `STOP_GRACE`.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
