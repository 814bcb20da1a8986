//! `gatehouse exec-agent` (hidden): the last step before a session's agent program runs. In the child process it
//! starts a new session and process group, asks the kernel to SIGKILL it when gatehouse dies (PR_SET_PDEATHSIG,
//! kept across exec), applies the configured rlimits, then replaces itself with the agent program. It exists so
//! that none of this needs `unsafe` (`pre_exec`) in gatehouse itself.
use std::ffi::CString;

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
    /// The agent program and its arguments.
    #[arg(trailing_var_arg = true, required = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Becomes the agent program; returns only on failure.
pub fn execute(a: ExecArgs) -> anyhow::Result<()> {
    let _ = nix::unistd::setsid();
    nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL))?;
    if nix::unistd::getppid().as_raw() != a.parent {
        return Err(UsageError("the gatehouse that started this agent is gone".into()).into());
    }
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
    nix::unistd::execvp(program, &argv)?;
    Ok(())
}
