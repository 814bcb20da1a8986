//! The parts of a session process that are data: what to run for a runtime (`ProcessSpec`), one running process
//! and its bookkeeping (`SessionProcess`: activity, stop flag, stderr tail, pid file, working directory and its
//! lock, the uid and network namespace it holds), the `Lease` that keeps it busy, a row of `sessions list` (`SessionInfo`), and
//! the reader that keeps the tail of its stderr. Starting, stopping and reaping are the supervisor's. Must never
//! keep more than `STDERR_TAIL` bytes of a process's output, or release a uid before its process is gone.
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::AsyncReadExt as _;
use tokio::process::Child;

use super::netns::Registration;
use super::uids::UidLease;
use crate::clock::Clock;
use crate::config::{Egress, Isolation, LimitsConfig};

/// Bytes of a process's stderr kept for the log when it fails.
pub(super) const STDERR_TAIL: usize = 4096;

/// What to run for a runtime.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub runtime: String,
    pub arn: String,
    /// argv; `"gatehouse"` as argv[0] means this executable.
    pub argv: Vec<String>,
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    pub limits: LimitsConfig,
    pub isolation: Isolation,
    /// Outbound network of a sandboxed process.
    pub egress: Egress,
    /// Keep the working directory after the session ends (debugging).
    pub keep_workdir: bool,
    /// The port a sandboxed process listens on (AgentCore's: 8080 HTTP, 8000 MCP, 9000 A2A); an unconfined one
    /// gets a free port instead.
    pub port: u16,
}

/// One running session process.
#[derive(Debug)]
pub struct SessionProcess {
    pub runtime: String,
    pub arn: String,
    pub session_id: String,
    pub user: String,
    pub pid: u32,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    pub started_unix: i64,
    pub(super) started: Instant,
    pub(super) last_active: Mutex<Instant>,
    pub(super) last_active_unix: AtomicI64,
    pub(super) active: AtomicU32,
    pub(super) stopping: AtomicBool,
    pub(super) child: tokio::sync::Mutex<Child>,
    pub(super) stderr_tail: Arc<Mutex<VecDeque<u8>>>,
    pub(super) pidfile: PathBuf,
    pub(super) workdir: PathBuf,
    pub(super) keep_workdir: bool,
    /// The session's own network namespace, registered for dialing (sandboxed processes only).
    pub(super) _netns: Option<Registration>,
    /// The session's uid, held until the process is gone (sandboxed processes only).
    pub(super) _uid: Option<UidLease>,
    /// The user-mode network of an `egress = "all"` session, stopped with it.
    pub(super) usernet: Mutex<Option<super::usernet::UserNet>>,
    /// The working directory's lock (sandboxed without root), so a later gatehouse knows it was live.
    pub(super) _workdir_lock: Option<nix::fcntl::Flock<std::fs::File>>,
}

/// Keeps a session process counted as busy while a request or stream uses it.
pub struct Lease {
    pub(super) process: Arc<SessionProcess>,
    pub(super) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("pid", &self.process.pid)
            .finish()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.process.active.fetch_sub(1, Ordering::SeqCst);
        self.process.touch(self.clock.now_unix());
    }
}

impl SessionProcess {
    pub(super) fn touch(&self, now_unix: i64) {
        if let Ok(mut t) = self.last_active.lock() {
            *t = Instant::now();
        }
        self.last_active_unix.store(now_unix, Ordering::Relaxed);
    }

    pub(super) fn idle_for(&self) -> Duration {
        self.last_active
            .lock()
            .map(|t| t.elapsed())
            .unwrap_or_default()
    }

    pub(super) fn remove_workdir(&self) {
        if !self.keep_workdir {
            if let Err(e) = std::fs::remove_dir_all(&self.workdir) {
                tracing::warn!(dir = %self.workdir.display(), error = %e, "could not remove a session's working directory");
            }
        }
    }

    pub(super) fn stderr_tail(&self) -> String {
        self.stderr_tail
            .lock()
            .map(|t| String::from_utf8_lossy(&t.iter().copied().collect::<Vec<u8>>()).into_owned())
            .unwrap_or_default()
    }
}

/// A row of `gatehouse sessions list`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SessionInfo {
    pub runtime: String,
    pub session_id: String,
    pub user: String,
    pub pid: u32,
    pub started: i64,
    pub last_active: i64,
    pub state: String,
}

/// Reads the child's stderr in the background, keeping its last `STDERR_TAIL` bytes for the log.
pub(super) fn capture_stderr(child: &mut Child) -> Arc<Mutex<VecDeque<u8>>> {
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
    if let Some(mut stderr) = child.stderr.take() {
        let tail = tail.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if let Ok(mut t) = tail.lock() {
                    for b in &buf[..n] {
                        if t.len() == STDERR_TAIL {
                            t.pop_front();
                        }
                        t.push_back(*b);
                    }
                }
            }
        });
    }
    tail
}
