//! How one session process is launched: its working directory (under `[sandbox] workdir_root`, outside the data
//! directory, 0700 and owned by the session's uid, removed when the session ends unless `keep_workdir`), its
//! minimal environment, and the `gatehouse exec-agent` command line that sandboxes it (or, for
//! `isolation = "none"`, only sets rlimits) — under a session uid when gatehouse is root, in user namespaces
//! otherwise ([`SandboxMode`]). Also the start-up probe that proves the sandbox works on this host before any
//! runtime relies on it. Must never pass gatehouse's environment to an agent, nor put a working
//! directory inside the data directory.
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use crate::config::{Egress, Isolation, LimitsConfig, SandboxConfig};

/// The port a sandboxed agent listens on inside its own network namespace (AgentCore's contract).
pub const SANDBOX_PORT: u16 = 8080;

/// Paths a sandboxed agent must not see, besides the working-directory root.
#[derive(Debug, Clone, Default)]
pub struct Hidden {
    /// Directories (the data directory, …).
    pub dirs: Vec<PathBuf>,
    /// Files (the configuration file, TLS keys, …).
    pub files: Vec<PathBuf>,
}

/// How sessions are told apart from gatehouse and from each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxMode {
    /// Gatehouse is root: each session its own uid of `[sandbox] uid_range`, in its own namespaces.
    SessionUid,
    /// Gatehouse is not root: each session in its own user namespace (gatehouse's uid outside, not root
    /// inside), with its own mount, PID, network, IPC and UTS namespaces.
    UserNamespace,
}

impl SandboxMode {
    /// The mode this process can have.
    pub fn detect() -> Self {
        if nix::unistd::geteuid().is_root() {
            Self::SessionUid
        } else {
            Self::UserNamespace
        }
    }

    /// How `doctor` and the logs name it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::SessionUid => "a uid of [sandbox] uid_range per session (gatehouse runs as root)",
            Self::UserNamespace => {
                "a user namespace per session (gatehouse is not root: sessions share its uid outside)"
            }
        }
    }
}

/// Who a session process runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confinement {
    /// `isolation = "none"`: gatehouse's own uid, rlimits only.
    None,
    /// Sandboxed under this uid (gatehouse is root).
    Uid(u32),
    /// Sandboxed in user namespaces (gatehouse is not root); the process's stdin is its dialer's socket.
    UserNamespace,
}

/// An exclusive lock on a session's working directory, held by gatehouse for the session's life (without root,
/// where the directory's owner cannot tell a live session's directory from a leftover one).
pub fn lock_workdir(dir: &Path) -> std::io::Result<nix::fcntl::Flock<std::fs::File>> {
    let file = std::fs::File::open(dir)?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| std::io::Error::from(e))
}

/// Everything the supervisor knows about launching session processes.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub exe: PathBuf,
    pub sandbox: SandboxConfig,
    pub hidden: Hidden,
    pub mode: SandboxMode,
}

/// What differs per process.
pub struct LaunchArgs<'a> {
    pub runtime: &'a str,
    pub session_id: &'a str,
    pub argv: &'a [String],
    pub limits: &'a LimitsConfig,
    pub workdir: &'a Path,
    pub confinement: Confinement,
    pub port: u16,
    /// The sandboxed session's outbound network.
    pub egress: Egress,
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

impl Launcher {
    /// A launcher; `data_dir` is always hidden from sandboxed agents.
    pub fn new(exe: PathBuf, data_dir: &Path, sandbox: SandboxConfig, mut hidden: Hidden) -> Self {
        hidden.dirs.push(data_dir.to_path_buf());
        hidden.dirs = hidden.dirs.iter().map(|p| absolute(p)).collect();
        hidden.files = hidden.files.iter().map(|p| absolute(p)).collect();
        Self {
            exe,
            sandbox,
            hidden,
            mode: SandboxMode::detect(),
        }
    }

    /// Creates a fresh working directory for a session of `runtime`, owned by `uid` (gatehouse's own if none).
    pub fn make_workdir(
        &self,
        runtime: &str,
        session_id: &str,
        uid: Option<u32>,
    ) -> std::io::Result<PathBuf> {
        let root = &self.sandbox.workdir_root;
        let parent = root.join(runtime);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&parent)?;
        // Traversable but not listable: a session cannot even learn its neighbours' directory names.
        for dir in [root.as_path(), parent.as_path()] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))?;
        }
        let name = format!(
            "{}-{}",
            &crate::util::sha256_hex(session_id.as_bytes())[..16],
            crate::util::random_alnum(8).to_ascii_lowercase()
        );
        let dir = parent.join(name);
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        if let Some(uid) = uid {
            std::os::unix::fs::chown(&dir, Some(uid), Some(uid))?;
        }
        Ok(dir)
    }

    /// What a new session process of a runtime with `isolation` runs as, and the uid it holds (root only).
    pub fn confine(
        &self,
        isolation: Isolation,
        uids: &super::uids::UidPool,
    ) -> Result<(Confinement, Option<super::uids::UidLease>), String> {
        match (isolation, self.mode) {
            (Isolation::None, _) => Ok((Confinement::None, None)),
            (Isolation::Sandbox, SandboxMode::UserNamespace) => {
                Ok((Confinement::UserNamespace, None))
            }
            (Isolation::Sandbox, SandboxMode::SessionUid) => {
                let lease = uids
                    .acquire()
                    .map_err(|e| format!("uid lock: {e}"))?
                    .ok_or("every uid of [sandbox] uid_range is in use")?;
                Ok((Confinement::Uid(lease.uid), Some(lease)))
            }
        }
    }

    /// A session's working directory ([`Self::make_workdir`]) and, in user namespaces, its lock.
    pub fn session_workdir(
        &self,
        runtime: &str,
        session_id: &str,
        confinement: Confinement,
    ) -> std::io::Result<(PathBuf, Option<nix::fcntl::Flock<std::fs::File>>)> {
        let uid = match confinement {
            Confinement::Uid(uid) => Some(uid),
            _ => None,
        };
        let dir = self.make_workdir(runtime, session_id, uid)?;
        if confinement != Confinement::UserNamespace {
            return Ok((dir, None));
        }
        match lock_workdir(&dir) {
            Ok(lock) => Ok((dir, Some(lock))),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// Removes working directories of `runtimes` that a killed gatehouse left behind: as root those owned by a
    /// uid of the range that no live session holds (a live session takes its uid before it makes its
    /// directory); without root those owned by gatehouse's uid that no live gatehouse holds locked
    /// ([`lock_workdir`]).
    pub fn remove_stale_workdirs(&self, uids: &super::uids::UidPool, runtimes: &[&str]) -> usize {
        use std::os::unix::fs::MetadataExt as _;
        let own = nix::unistd::geteuid().as_raw();
        let stale = |path: &Path, uid: u32| match self.mode {
            SandboxMode::SessionUid => uids.is_free(uid),
            SandboxMode::UserNamespace => uid == own && lock_workdir(path).is_ok(),
        };
        let mut removed = 0;
        for runtime in runtimes {
            let Ok(entries) = std::fs::read_dir(self.sandbox.workdir_root.join(runtime)) else {
                continue;
            };
            for e in entries.flatten() {
                let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                    continue;
                };
                if meta.is_dir()
                    && stale(&e.path(), meta.uid())
                    && std::fs::remove_dir_all(e.path()).is_ok()
                {
                    removed += 1;
                }
            }
        }
        removed
    }

    /// The command that starts one session process, and for a session in a user namespace the dialer that
    /// reaches its agent (the command's stdin is the dialer's other end).
    pub fn command(
        &self,
        a: &LaunchArgs<'_>,
    ) -> std::io::Result<(Command, Option<super::dialer::Dialer>)> {
        let mut argv = a.argv.to_vec();
        if argv.first().map(String::as_str) == Some("gatehouse") {
            argv[0] = self.exe.to_string_lossy().into_owned();
        }
        let mut cmd = Command::new(&self.exe);
        cmd.arg("exec-agent")
            .arg("--parent")
            .arg(std::process::id().to_string());
        if let Some(mb) = a.limits.memory_limit_mb {
            cmd.arg("--memory-bytes")
                .arg((mb * 1024 * 1024).to_string());
        }
        if let Some(secs) = a.limits.cpu_time_limit_secs {
            cmd.arg("--cpu-secs").arg(secs.to_string());
        }
        let sandboxed = match a.confinement {
            Confinement::None => false,
            Confinement::Uid(uid) => {
                cmd.arg("--sandbox-uid").arg(uid.to_string());
                true
            }
            Confinement::UserNamespace => {
                cmd.arg("--userns");
                true
            }
        };
        if sandboxed {
            self.sandbox_args(&mut cmd, a.workdir);
            if a.egress == Egress::All {
                cmd.arg("--egress-all");
                for net in &self.sandbox.egress_deny {
                    cmd.arg("--egress-deny").arg(net.to_string());
                }
            }
        }
        cmd.arg("--").args(&argv);
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", a.workdir)
            .env("TMPDIR", a.workdir)
            .env("LANG", "C.UTF-8")
            .env("PORT", a.port.to_string())
            .env(crate::config::env::ENV_SESSION_ID, a.session_id)
            .env(crate::config::env::ENV_RUNTIME, a.runtime)
            .current_dir(a.workdir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let dialer = match a.confinement {
            Confinement::UserNamespace => {
                let (dialer, theirs) = super::dialer::Dialer::pair()?;
                cmd.stdin(Stdio::from(theirs));
                Some(dialer)
            }
            _ => None,
        };
        Ok((cmd, dialer))
    }

    fn sandbox_args(&self, cmd: &mut Command, workdir: &Path) {
        cmd.arg("--workdir")
            .arg(workdir)
            .arg("--hide-dir")
            .arg(&self.sandbox.workdir_root);
        for d in &self.hidden.dirs {
            cmd.arg("--hide-dir").arg(d);
        }
        for f in &self.hidden.files {
            cmd.arg("--hide-file").arg(f);
        }
    }

    /// Runs a throw-away sandboxed process (`gatehouse --version` under a session uid, or in user namespaces)
    /// to prove every step of the sandbox works here; the error names what is missing.
    pub async fn probe(&self, uids: &super::uids::UidPool) -> Result<(), String> {
        let lease = match self.mode {
            SandboxMode::SessionUid => Some(
                uids.acquire()
                    .map_err(|e| format!("uid locks in {}: {e}", super::uids::LOCK_DIR))?
                    .ok_or("every uid of [sandbox] uid_range is in use")?,
            ),
            SandboxMode::UserNamespace => None,
        };
        let confinement = match &lease {
            Some(l) => Confinement::Uid(l.uid),
            None => Confinement::UserNamespace,
        };
        let workdir = self
            .make_workdir("probe", "probe", lease.as_ref().map(|l| l.uid))
            .map_err(|e| {
                format!(
                    "working directory under {}: {e}",
                    self.sandbox.workdir_root.display()
                )
            })?;
        let argv = ["gatehouse".to_string(), "--version".to_string()];
        let limits = LimitsConfig::default();
        let built = self.command(&LaunchArgs {
            runtime: "probe",
            session_id: "probe",
            argv: &argv,
            limits: &limits,
            workdir: &workdir,
            confinement,
            port: SANDBOX_PORT,
            egress: Egress::None,
        });
        // The dialer is held until the process ends (its closing would end a user-namespace session).
        let out = match built {
            Ok((mut cmd, _dialer)) => cmd.output().await,
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_dir_all(&workdir);
        let out = out.map_err(|e| format!("spawn {}: {e}", self.exe.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            Err(format!("{} ({})", err.trim(), out.status))
        }
    }
}
