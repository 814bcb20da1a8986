//! `gatehouse exec-agent` (hidden): the last step before a session's agent program runs. In the child process it
//! starts a new session and process group, asks the kernel to SIGKILL it when gatehouse dies (PR_SET_PDEATHSIG,
//! kept across exec), applies the configured rlimits and — unless the runtime says `isolation = "none"` — the
//! agent sandbox (`agent::sandbox`: namespaces, hidden paths, Landlock, the session's own uid, no capabilities,
//! seccomp), arms the death signal again (a uid change clears it), checks gatehouse is still there, then
//! replaces itself with the agent program. It exists so that none of this needs `unsafe` (`pre_exec`) in
//! gatehouse itself: this process is single-threaded until the exec.
use std::ffi::CString;
use std::path::PathBuf;

use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::Signal;

use super::UsageError;

/// Arguments of `exec-agent`.
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// The pid of the gatehouse that started us; if it is already gone, do not start.
    #[arg(long)]
    pub parent: i32,
    /// RLIMIT_AS in bytes.
    #[arg(long)]
    pub memory_bytes: Option<u64>,
    /// RLIMIT_CPU in seconds.
    #[arg(long)]
    pub cpu_secs: Option<u64>,
    /// Sandbox the agent under this uid (and the gid of the same number).
    #[arg(long)]
    pub sandbox_uid: Option<u32>,
    /// The session's working directory (required with --sandbox-uid).
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// A directory the agent must not see (repeatable).
    #[arg(long)]
    pub hide_dir: Vec<PathBuf>,
    /// A file the agent must not see (repeatable).
    #[arg(long)]
    pub hide_file: Vec<PathBuf>,
    /// `egress = "all"`: prepare the namespace for the user-mode network stack gatehouse attaches to it.
    #[arg(long)]
    pub egress_all: bool,
    /// With --egress-all: an IPv4 network (a.b.c.d/len) the agent must never reach (repeatable).
    #[arg(long)]
    pub egress_deny: Vec<crate::config::sandbox::Ipv4Net>,
    /// The agent program and its arguments.
    #[arg(trailing_var_arg = true, required = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn check_parent(parent: i32) -> anyhow::Result<()> {
    nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL))?;
    if nix::unistd::getppid().as_raw() != parent {
        return Err(UsageError("the gatehouse that started this agent is gone".into()).into());
    }
    Ok(())
}

/// Becomes the agent program; returns only on failure.
pub fn execute(a: ExecArgs) -> anyhow::Result<()> {
    let _ = nix::unistd::setsid();
    check_parent(a.parent)?;
    if let Some(m) = a.memory_bytes {
        setrlimit(Resource::RLIMIT_AS, m, m)?;
    }
    if let Some(c) = a.cpu_secs {
        setrlimit(Resource::RLIMIT_CPU, c, c)?;
    }
    let argv = a
        .command
        .iter()
        .map(|s| CString::new(s.as_str()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| UsageError("the agent command contains a NUL byte".into()))?;
    let Some(program) = argv.first() else {
        return Err(UsageError("no agent command".into()).into());
    };
    if let Some(uid) = a.sandbox_uid {
        let workdir = a
            .workdir
            .ok_or_else(|| UsageError("--sandbox-uid needs --workdir".into()))?;
        let plan = crate::agent::sandbox::Plan {
            uid,
            gid: uid,
            workdir,
            hide_dirs: a.hide_dir,
            hide_files: a.hide_file,
            command_files: crate::agent::sandbox::Plan::files_of(&a.command),
            egress_deny: a.egress_all.then_some(a.egress_deny),
        };
        crate::agent::sandbox::enter(&plan)?;
        // Changing credentials cleared the death signal: arm it again, and make sure gatehouse did not die
        // in between (the signal would then never come).
        check_parent(a.parent)?;
    }
    nix::unistd::execvp(program, &argv)?;
    Ok(())
}
