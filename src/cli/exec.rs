//! `gatehouse exec-agent` (hidden): the last step before a session's agent program runs. In the child process it
//! starts a new session and process group, asks the kernel to SIGKILL it when gatehouse dies (PR_SET_PDEATHSIG,
//! kept across exec), applies the configured rlimits and — unless the runtime says `isolation = "none"` — the
//! agent sandbox (`agent::sandbox`: namespaces, hidden paths, Landlock, the session's own uid, no capabilities,
//! seccomp), arms the death signal again (a uid change clears it), checks gatehouse is still there, then
//! replaces itself with the agent program. Without root (`--userns`) it runs in two stages (`exec_userns`):
//! the first enters user namespaces and stays as the session's dialer, the second sandboxes itself as pid 1 of
//! the session's PID namespace and starts the agent. It exists so that none of this needs `unsafe`
//! (`pre_exec`) in gatehouse itself: this process is single-threaded until the exec.
use std::ffi::CString;
use std::path::PathBuf;

use nix::sys::resource::{setrlimit, Resource};

use super::exec_userns::{check_parent, plan};
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
    /// Sandbox with user namespaces (gatehouse is not root): stage one, the session's dialer (its stdin is
    /// gatehouse's end of the dialer's socket pair).
    #[arg(long, conflicts_with = "sandbox_uid")]
    pub userns: bool,
    /// Stage two of --userns (started by stage one; its stdin is stage one's lifeline).
    #[arg(long, hide = true, conflicts_with_all = ["sandbox_uid", "userns"])]
    pub userns_init: bool,
    /// The agent program and its arguments.
    #[arg(trailing_var_arg = true, required = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Becomes the agent program; returns only on failure.
pub fn execute(a: ExecArgs) -> anyhow::Result<()> {
    if a.userns_init {
        // Stage two: stage one (its parent) set the session, the rlimits and gatehouse's death signal.
        let workdir = a
            .workdir
            .ok_or_else(|| UsageError("--userns needs --workdir".into()))?;
        let egress_deny = a.egress_all.then_some(a.egress_deny);
        let plan = plan(
            crate::agent::sandbox::AGENT_UID,
            workdir,
            a.hide_dir,
            a.hide_file,
            &a.command,
            egress_deny,
        );
        return super::exec_userns::init(&plan, &a.command);
    }
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
    if a.userns {
        let workdir = a
            .workdir
            .ok_or_else(|| UsageError("--userns needs --workdir".into()))?;
        let plan = plan(
            crate::agent::sandbox::AGENT_UID,
            workdir,
            a.hide_dir,
            a.hide_file,
            &a.command,
            a.egress_all.then_some(a.egress_deny),
        );
        return super::exec_userns::outer(a.parent, &plan);
    }
    if let Some(uid) = a.sandbox_uid {
        let workdir = a
            .workdir
            .ok_or_else(|| UsageError("--sandbox-uid needs --workdir".into()))?;
        let plan = plan(
            uid,
            workdir,
            a.hide_dir,
            a.hide_file,
            &a.command,
            a.egress_all.then_some(a.egress_deny),
        );
        crate::agent::sandbox::enter(&plan)?;
        // Changing credentials cleared the death signal: arm it again, and make sure gatehouse did not die
        // in between (the signal would then never come).
        check_parent(a.parent)?;
    }
    nix::unistd::execvp(program, &argv)?;
    Ok(())
}
