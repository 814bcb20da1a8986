//! Session isolation: one agent process per session of a `command` runtime, AgentCore's microVM lifecycle with
//! processes. Starts the process on a session's first request through `gatehouse exec-agent` (`launch`): its
//! own uid from `[sandbox] uid_range` (or, when gatehouse is not root, its own user namespace), its own network
//! namespace (port 8080 on its own loopback, reached through `netns`, or through the session's `dialer`), its own working directory outside the data directory, a minimal environment without gatehouse's
//! secrets, rlimits and a parent-death signal. Waits for `/ping`, routes every later request of the session to
//! it, stops it after the idle timeout (deferred while `/ping` says `HealthyBusy`), at its maximum lifetime or
//! on request, reaps crashes, and removes the working directory when the session ends. Must never let a process
//! outlive gatehouse, serve another session, or share a uid with another live session.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::launch::{Confinement, LaunchArgs, Launcher};
use super::netns::Registration;
use super::uids::UidPool;
use crate::clock::Clock;
use crate::config::Egress;
use crate::outbound::HttpClient;

use super::session_process::capture_stderr;
pub use super::session_process::{Lease, ProcessSpec, SessionInfo, SessionProcess};

/// Why a session process could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// The per-runtime or total process limit is reached.
    #[error("too many agent processes")]
    TooManyProcesses,
    /// The process did not start or did not answer `/ping` in time.
    #[error("the agent process could not be started: {0}")]
    StartFailed(String),
}

type Key = (String, String);
type Slot = Arc<tokio::sync::Mutex<Option<Arc<SessionProcess>>>>;

/// All session processes of this gatehouse.
pub struct Supervisor {
    data_dir: PathBuf,
    launcher: Launcher,
    uids: UidPool,
    /// Connections for `/ping` (they must reach agents inside their namespaces, like the gateway's).
    pool: Arc<crate::agent::pool::Pool>,
    clock: Arc<dyn Clock>,
    max_total: u32,
    slots: Mutex<HashMap<Key, Slot>>,
    per_runtime: Mutex<HashMap<String, u32>>,
    total: AtomicU32,
    crashes: AtomicU64,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn pid_of(p: u32) -> Pid {
    Pid::from_raw(i32::try_from(p).unwrap_or(i32::MAX))
}

impl Supervisor {
    /// A supervisor that starts `exe exec-agent …` for each session (pid files under `data_dir`), sandboxed
    /// with the default `[sandbox]` settings; see [`Supervisor::with_launcher`].
    pub fn new(
        exe: PathBuf,
        data_dir: PathBuf,
        _client: HttpClient,
        clock: Arc<dyn Clock>,
        max_total: u32,
    ) -> Self {
        let launcher = Launcher::new(
            exe,
            &data_dir,
            crate::config::SandboxConfig::default(),
            super::launch::Hidden::default(),
        );
        Self {
            uids: UidPool::new(launcher.sandbox.uid_range.0, launcher.sandbox.uid_range.1),
            launcher,
            data_dir,
            pool: Arc::new(crate::agent::pool::Pool::default()),
            clock,
            max_total,
            slots: Mutex::new(HashMap::new()),
            per_runtime: Mutex::new(HashMap::new()),
            total: AtomicU32::new(0),
            crashes: AtomicU64::new(0),
        }
    }

    /// Uses `launcher` (its `[sandbox]` settings and hidden paths) for every later session process.
    #[must_use]
    pub fn with_launcher(mut self, launcher: Launcher) -> Self {
        self.uids = UidPool::new(launcher.sandbox.uid_range.0, launcher.sandbox.uid_range.1);
        self.launcher = launcher;
        self
    }

    /// Proves the sandbox works on this host (see [`Launcher::probe`]).
    pub async fn probe_sandbox(&self) -> Result<(), String> {
        self.launcher.probe(&self.uids).await
    }

    /// Removes the working directories of `runtimes` that an earlier, killed gatehouse left behind.
    pub fn remove_stale_workdirs(&self, runtimes: &[&str]) -> usize {
        self.launcher.remove_stale_workdirs(&self.uids, runtimes)
    }

    /// GET `url`, bounded in size and time, through the agent pool.
    async fn get(&self, url: &str) -> Result<bytes::Bytes, String> {
        use http_body_util::BodyExt as _;
        let req = http::Request::get(url)
            .body(axum::body::Body::empty())
            .map_err(|e| e.to_string())?;
        let fut = async {
            let resp = self.pool.send(req).await.map_err(|e| e.to_string())?;
            if !resp.status().is_success() {
                return Err(format!("HTTP {}", resp.status()));
            }
            http_body_util::Limited::new(resp.into_body(), crate::outbound::MAX_DOCUMENT_BYTES)
                .collect()
                .await
                .map(|c| c.to_bytes())
                .map_err(|e| e.to_string())
        };
        tokio::time::timeout(crate::outbound::FETCH_TIMEOUT, fut)
            .await
            .map_err(|_| "timed out".to_string())?
    }

    fn pid_dir(data_dir: &Path) -> PathBuf {
        data_dir.join("agents")
    }

    /// Kills session processes a previous gatehouse left behind (normally none: they die with their parent).
    pub fn reap_leftovers(data_dir: &Path) -> usize {
        let dir = Self::pid_dir(data_dir);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return 0;
        };
        let mut reaped = 0;
        for e in entries.flatten() {
            let path = e.path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let mut parts = text.splitn(2, '\n');
            let pid = parts.next().and_then(|p| p.trim().parse::<u32>().ok());
            let session = parts.next().unwrap_or("").trim().to_string();
            if let Some(pid) = pid {
                let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                let marker = format!("{}={session}", crate::config::env::ENV_SESSION_ID);
                let ours = environ.split(|b| *b == 0).any(|kv| kv == marker.as_bytes());
                if ours && !session.is_empty() {
                    let _ = kill(Pid::from_raw(-(pid as i32)), Signal::SIGKILL);
                    let _ = kill(pid_of(pid), Signal::SIGKILL);
                    tracing::warn!(
                        pid,
                        "reaped an agent process left behind by an earlier gatehouse"
                    );
                    reaped += 1;
                }
            }
            let _ = std::fs::remove_file(&path);
        }
        reaped
    }

    /// Processes that crashed so far.
    pub fn crashes(&self) -> u64 {
        self.crashes.load(Ordering::Relaxed)
    }

    /// Live processes.
    pub fn count(&self) -> u32 {
        self.total.load(Ordering::Relaxed)
    }

    fn slot(&self, key: &Key) -> Slot {
        let Ok(mut slots) = self.slots.lock() else {
            return Arc::new(tokio::sync::Mutex::new(None));
        };
        slots.entry(key.clone()).or_default().clone()
    }

    /// Whether a live process serves the session here now (it is not started if not).
    pub async fn running(&self, arn: &str, session_id: &str) -> bool {
        let slot = match self.slots.lock() {
            Ok(slots) => slots
                .get(&(arn.to_string(), session_id.to_string()))
                .cloned(),
            Err(_) => None,
        };
        let Some(slot) = slot else {
            return false;
        };
        let guard = slot.lock().await;
        match guard.as_ref() {
            Some(p) if !p.stopping.load(Ordering::SeqCst) => {
                p.child.lock().await.try_wait().ok().flatten().is_none()
            }
            _ => false,
        }
    }

    /// The session's process, started if it has none; the lease keeps it busy until dropped.
    pub async fn acquire(
        &self,
        spec: &ProcessSpec,
        session_id: &str,
        user: &str,
    ) -> Result<(Arc<SessionProcess>, Lease), SupervisorError> {
        let key = (spec.arn.clone(), session_id.to_string());
        let slot = self.slot(&key);
        let mut guard = slot.lock().await;
        if let Some(p) = guard.as_ref() {
            let alive = p.child.lock().await.try_wait().ok().flatten().is_none()
                && !super::proc_state::exiting(p.pid);
            if alive && !p.stopping.load(Ordering::SeqCst) {
                return Ok((p.clone(), self.lease(p)));
            }
        }
        if let Some(old) = guard.take() {
            // Dead without being asked to stop: a crash (logged with its stderr, counted in metrics).
            let crashed = !old.stopping.load(Ordering::SeqCst);
            self.forget(&old, crashed).await;
        }
        let p = Arc::new(self.start(spec, session_id, user).await?);
        *guard = Some(p.clone());
        Ok((p.clone(), self.lease(&p)))
    }

    fn lease(&self, p: &Arc<SessionProcess>) -> Lease {
        p.active.fetch_add(1, Ordering::SeqCst);
        p.touch(self.clock.now_unix());
        Lease {
            process: p.clone(),
            clock: self.clock.clone(),
        }
    }

    fn reserve(&self, runtime: &str, max_runtime: u32) -> Result<(), SupervisorError> {
        let mut per = self
            .per_runtime
            .lock()
            .map_err(|_| SupervisorError::TooManyProcesses)?;
        let n = per.entry(runtime.to_string()).or_insert(0);
        if *n >= max_runtime || self.total.load(Ordering::SeqCst) >= self.max_total {
            return Err(SupervisorError::TooManyProcesses);
        }
        *n += 1;
        self.total.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn release(&self, runtime: &str) {
        if let Ok(mut per) = self.per_runtime.lock() {
            if let Some(n) = per.get_mut(runtime) {
                *n = n.saturating_sub(1);
            }
        }
        let _ = self
            .total
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(t.saturating_sub(1))
            });
    }

    async fn start(
        &self,
        spec: &ProcessSpec,
        session_id: &str,
        user: &str,
    ) -> Result<SessionProcess, SupervisorError> {
        self.reserve(&spec.runtime, spec.limits.max_processes)?;
        match self.spawn(spec, session_id, user).await {
            Ok(p) => Ok(p),
            Err(e) => {
                self.release(&spec.runtime);
                Err(e)
            }
        }
    }

    async fn spawn(
        &self,
        spec: &ProcessSpec,
        session_id: &str,
        user: &str,
    ) -> Result<SessionProcess, SupervisorError> {
        let fail = |m: String| SupervisorError::StartFailed(m);
        let (confinement, uid) = self
            .launcher
            .confine(spec.isolation, &self.uids)
            .map_err(fail)?;
        let port = match confinement {
            Confinement::None => free_port().map_err(|e| fail(format!("no free port: {e}")))?,
            _ => spec.port,
        };
        let (workdir, workdir_lock) = self
            .launcher
            .session_workdir(&spec.runtime, session_id, confinement)
            .map_err(|e| fail(format!("working directory: {e}")))?;
        let built = self.launcher.command(&LaunchArgs {
            runtime: &spec.runtime,
            session_id,
            argv: &spec.argv,
            limits: &spec.limits,
            workdir: &workdir,
            confinement,
            port,
            egress: spec.egress,
        });
        let (mut cmd, dialer) = match built {
            Ok(b) => b,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&workdir);
                return Err(fail(format!("dialer socket: {e}")));
            }
        };
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&workdir);
                return Err(fail(format!("spawn: {e}")));
            }
        };
        let pid = child.id().ok_or_else(|| fail("no pid".into()))?;
        let (netns, url) = match confinement {
            Confinement::None => (None, format!("http://127.0.0.1:{port}")),
            _ => {
                let reg = Registration::reserve();
                if let Some(dialer) = dialer {
                    reg.attach_dialer(dialer);
                }
                let url = format!("http://{}:{port}", reg.host());
                (Some(reg), url)
            }
        };
        let tail = capture_stderr(&mut child);
        let pid_dir = Self::pid_dir(&self.data_dir);
        let _ = std::fs::create_dir_all(&pid_dir);
        let pidfile = pid_dir.join(pid.to_string());
        let _ = std::fs::write(&pidfile, format!("{pid}\n{session_id}\n"));
        let now_unix = self.clock.now_unix();
        let p = SessionProcess {
            runtime: spec.runtime.clone(),
            arn: spec.arn.clone(),
            session_id: session_id.to_string(),
            user: user.to_string(),
            pid,
            url,
            started_unix: now_unix,
            started: Instant::now(),
            last_active: Mutex::new(Instant::now()),
            last_active_unix: AtomicI64::new(now_unix),
            active: AtomicU32::new(0),
            stopping: AtomicBool::new(false),
            child: tokio::sync::Mutex::new(child),
            stderr_tail: tail,
            pidfile,
            workdir,
            keep_workdir: spec.keep_workdir,
            _netns: netns,
            _uid: uid,
            usernet: Mutex::new(None),
            _workdir_lock: workdir_lock,
        };
        self.wait_until_up(spec, &p).await?;
        tracing::info!(runtime = %spec.runtime, pid, url = %p.url, "agent process started");
        Ok(p)
    }

    /// Waits until the new process answers `/ping` (inside its namespace once exec-agent has unshared it); a
    /// process that exits or stays silent past `start_timeout` is killed and its files removed.
    async fn wait_until_up(
        &self,
        spec: &ProcessSpec,
        p: &SessionProcess,
    ) -> Result<(), SupervisorError> {
        let started = Instant::now();
        let deadline = started + spec.limits.start_timeout;
        let ping = format!("{}/ping", p.url);
        let mut wait = Duration::from_millis(1);
        loop {
            let attached = match &p._netns {
                // The agent's namespace is there once exec-agent has unshared it (the pid cannot be recycled
                // meanwhile: the child is not reaped).
                Some(reg) => reg.attach(p.pid).unwrap_or(false),
                None => true,
            };
            // The network is configured before the agent's first request can be let through.
            let network = if attached && spec.egress == Egress::All {
                self.attach_usernet(p).await
            } else {
                Ok(())
            };
            if network.is_ok() && attached && self.get(&ping).await.is_ok() {
                break;
            }
            let exited = p.child.lock().await.try_wait().ok().flatten();
            if exited.is_some() || network.is_err() || Instant::now() >= deadline {
                let why = match (exited, network) {
                    (Some(status), _) => format!("exited with {status}"),
                    (None, Err(e)) => format!("egress = \"all\": {e}"),
                    (None, Ok(())) => {
                        format!("no answer on /ping within {:?}", spec.limits.start_timeout)
                    }
                };
                tracing::error!(runtime = %spec.runtime, pid = p.pid, %why, stderr = %p.stderr_tail(), "agent process failed to start");
                self.kill_process(p, Duration::ZERO).await;
                let _ = std::fs::remove_file(&p.pidfile);
                p.remove_workdir();
                return Err(SupervisorError::StartFailed(why));
            }
            tokio::time::sleep(wait).await;
            // Every millisecond for the first 200 ms (a local agent is usually up within tens of milliseconds, and
            // a growing step would add up to half the start time again), then coarser.
            if started.elapsed() >= Duration::from_millis(200) {
                wait = (wait * 3 / 2).min(Duration::from_millis(100));
            }
        }
        Ok(())
    }

    /// Attaches the session's user-mode network (once; later calls find it there).
    async fn attach_usernet(&self, p: &SessionProcess) -> Result<(), String> {
        if p.usernet.lock().map(|n| n.is_some()).unwrap_or(false) {
            return Ok(());
        }
        // Without root too: slirp4netns joins the user namespace that owns the session's network namespace.
        let net =
            super::usernet::UserNet::attach(&self.launcher.sandbox.slirp4netns, p.pid).await?;
        if let Ok(mut slot) = p.usernet.lock() {
            *slot = Some(net);
        }
        Ok(())
    }

    /// SIGTERM to the process group, SIGKILL after `grace`.
    async fn kill_process(&self, p: &SessionProcess, grace: Duration) {
        p.stopping.store(true, Ordering::SeqCst);
        let group = Pid::from_raw(-(p.pid as i32));
        let _ = kill(group, Signal::SIGTERM);
        let _ = kill(pid_of(p.pid), Signal::SIGTERM);
        let mut child = p.child.lock().await;
        if grace.is_zero() || tokio::time::timeout(grace, child.wait()).await.is_err() {
            let _ = kill(group, Signal::SIGKILL);
            let _ = child.kill().await;
        }
    }

    async fn forget(&self, p: &SessionProcess, crashed: bool) {
        if crashed {
            self.crashes.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(runtime = %p.runtime, pid = p.pid, stderr = %p.stderr_tail(), "agent process crashed");
        }
        let _ = std::fs::remove_file(&p.pidfile);
        p.remove_workdir();
        self.release(&p.runtime);
    }

    /// Stops one session's process (StopRuntimeSession); true if there was one.
    pub async fn stop(&self, arn: &str, session_id: &str, grace: Duration) -> bool {
        let key = (arn.to_string(), session_id.to_string());
        let slot = self.slots.lock().ok().and_then(|mut s| s.remove(&key));
        let Some(slot) = slot else { return false };
        let p = slot.lock().await.take();
        match p {
            Some(p) => {
                self.kill_process(&p, grace).await;
                self.forget(&p, false).await;
                tracing::info!(runtime = %p.runtime, pid = p.pid, "agent process stopped");
                true
            }
            None => false,
        }
    }

    /// Every live session process.
    pub fn list(&self) -> Vec<SessionInfo> {
        let slots: Vec<Slot> = self
            .slots
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        let mut out = Vec::new();
        for slot in slots {
            let Ok(guard) = slot.try_lock() else { continue };
            if let Some(p) = guard.as_ref() {
                let state = if p.stopping.load(Ordering::SeqCst) {
                    "stopping"
                } else if p.active.load(Ordering::SeqCst) > 0 {
                    "active"
                } else {
                    "idle"
                };
                out.push(SessionInfo {
                    runtime: p.runtime.clone(),
                    session_id: p.session_id.clone(),
                    user: p.user.clone(),
                    pid: p.pid,
                    started: p.started_unix,
                    last_active: p.last_active_unix.load(Ordering::Relaxed),
                    state: state.into(),
                });
            }
        }
        out.sort_by(|a, b| (a.started, &a.session_id).cmp(&(b.started, &b.session_id)));
        out
    }

    /// One pass of lifecycle checks: reap crashed processes, stop idle ones (unless `/ping` says HealthyBusy)
    /// and those past their maximum lifetime.
    pub async fn sweep(&self, specs: &HashMap<String, ProcessSpec>) {
        let entries: Vec<(Key, Slot)> = self
            .slots
            .lock()
            .map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        for (key, slot) in entries {
            let Ok(mut guard) = slot.try_lock() else {
                continue;
            };
            let Some(p) = guard.clone() else {
                continue;
            };
            let Some(spec) = specs.get(&p.arn) else {
                continue;
            };
            let exited = p.child.lock().await.try_wait().ok().flatten();
            let reason = if exited.is_some() {
                Some("crashed")
            } else if p.started.elapsed() >= spec.max_lifetime {
                Some("max lifetime")
            } else if p.active.load(Ordering::SeqCst) == 0 && p.idle_for() >= spec.idle_timeout {
                if self.busy(&p).await {
                    p.touch(self.clock.now_unix());
                    None
                } else {
                    Some("idle timeout")
                }
            } else {
                None
            };
            let Some(reason) = reason else { continue };
            guard.take();
            drop(guard);
            if let Ok(mut slots) = self.slots.lock() {
                slots.remove(&key);
            }
            if reason != "crashed" {
                self.kill_process(&p, spec.limits.stop_grace).await;
            }
            self.forget(&p, reason == "crashed").await;
            tracing::info!(runtime = %p.runtime, pid = p.pid, reason, "agent process ended");
        }
    }

    async fn busy(&self, p: &SessionProcess) -> bool {
        let Ok(doc) = self.get(&format!("{}/ping", p.url)).await else {
            return false;
        };
        serde_json::from_slice::<serde_json::Value>(&doc)
            .ok()
            .and_then(|v| {
                v.get("status")
                    .and_then(|s| s.as_str())
                    .map(|s| s == "HealthyBusy")
            })
            .unwrap_or(false)
    }

    /// Stops every process (shutdown).
    pub async fn stop_all(&self) {
        let keys: Vec<Key> = self
            .slots
            .lock()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        let stops = keys
            .iter()
            .map(|(arn, sid)| self.stop(arn, sid, Duration::from_secs(5)));
        futures_util::future::join_all(stops).await;
    }
}
