//! `exec-agent` without root, in two stages. Stage one (`--userns`, gatehouse's uid, single-threaded) enters
//! the session's user namespace and, owned by it, new mount, network, IPC, UTS and PID namespaces; starts stage
//! two (`--userns-init`, the same executable), which is pid 1 of the new PID namespace; while that starts, sets
//! up the namespaces' network and mounts (`agent::sandbox::prepare_unprivileged`) and tells it so (a byte on
//! its stdin, which it waits for); then stays as the
//! session's dialer (`agent::dialer`, over the socket pair that is its stdin) until stage two exits, and exits
//! with its status (a signal `n` as `128 + n`). It ignores SIGTERM (blocked: the agent, in its process group,
//! gets it directly) and ends stage two when gatehouse goes (its parent-death signal, or its socket closing).
//! Stage two mounts /proc and sandboxes itself (`agent::sandbox::enter_unprivileged`), makes itself not dumpable (the agent, of
//! the same host uid, could read its memory otherwise), starts the agent as its child and reaps every process
//! of the namespace until the agent exits; it dies with stage one (parent-death signal, checked against its
//! stdin, a pipe stage one holds), and its exit ends every process of the namespace. Also the two pieces `exec`
//! shares with it (the parent check, the sandbox plan). Must never start the agent before every step of the
//! sandbox has succeeded.
use std::os::fd::AsFd as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use rustix::event::{poll, PollFd, PollFlags};

use super::UsageError;
use crate::agent::launch::SANDBOX_PORT;

/// How long stage one's connection to the agent may take (less than the pool's own connect timeout).
const DIAL_TIMEOUT: Duration = Duration::from_secs(2);

/// Stage two's command line: stage one's, `--userns` replaced by `--userns-init` (before the agent's own).
fn stage_two_args() -> Vec<std::ffi::OsString> {
    let mut replaced = false;
    let mut in_command = false;
    std::env::args_os()
        .skip(1)
        .map(|arg| {
            if arg == "--" {
                in_command = true;
            }
            if !in_command && !replaced && arg == "--userns" {
                replaced = true;
                return "--userns-init".into();
            }
            arg
        })
        .collect()
}

/// The byte stage one writes to stage two's stdin once the namespaces' network and mounts are in place.
const PREPARED: u8 = b'p';

/// Stage one; returns only on failure (it exits with stage two's status).
pub(super) fn outer(parent: i32, plan: &crate::agent::sandbox::Plan) -> anyhow::Result<()> {
    crate::agent::sandbox::enter_outer()?;
    // Entering a user namespace changed the credentials, which cleared the death signal.
    check_parent(parent)?;
    stop_signals().thread_block()?;
    let exe = std::env::current_exe()?;
    // Stage two inherits the mask and unblocks them again. `spawn` returns once its exec has succeeded, so the
    // mounts below (which may cover the executable's directory) cannot hide it.
    let mut init = std::process::Command::new(exe)
        .args(stage_two_args())
        .stdin(Stdio::piped())
        .spawn()?;
    let mut lifeline = init.stdin.take();
    // While stage two starts (the namespaces are shared): the network and the mounts; then it may go on.
    let prepared = crate::agent::sandbox::prepare_unprivileged(plan)
        .map_err(anyhow::Error::from)
        .and_then(|()| match lifeline.as_mut() {
            Some(pipe) => Ok(std::io::Write::write_all(pipe, &[PREPARED])?),
            None => Err(UsageError("no pipe to the second stage".into()).into()),
        });
    if let Err(e) = prepared {
        let _ = init.kill();
        let _ = init.wait();
        return Err(e);
    }
    let pidfd = rustix::process::pidfd_open(
        rustix::process::Pid::from_child(&init),
        rustix::process::PidfdFlags::empty(),
    )?;
    let stdin = std::io::stdin();
    let control = stdin.as_fd();
    loop {
        let mut fds = [
            PollFd::new(&control, PollFlags::IN),
            PollFd::new(&pidfd, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                let _ = init.kill();
                return Err(e.into());
            }
            Ok(_) => {}
        }
        if !fds[1].revents().is_empty() {
            break;
        }
        if !fds[0].revents().is_empty()
            && !crate::agent::dialer::serve_one(control, SANDBOX_PORT, DIAL_TIMEOUT)
                .unwrap_or(false)
        {
            // Gatehouse closed its end of the socket pair: it has gone, and so does the session.
            let _ = init.kill();
            let _ = init.wait();
            return Err(UsageError("the gatehouse that started this agent is gone".into()).into());
        }
    }
    let status = init.wait()?;
    drop(lifeline);
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    std::process::exit(code)
}

/// The signals stage one blocks (they are the agent's).
fn stop_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(s);
    }
    set
}

/// Arms the death signal and checks stage one is still there (its end of our stdin is open).
fn check_stage_one() -> anyhow::Result<()> {
    nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL))?;
    let stdin = std::io::stdin();
    let fd = stdin.as_fd();
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    poll(&mut fds, Some(&zero))?;
    if !fds[0].revents().is_empty() {
        return Err(UsageError("the session's first stage is gone".into()).into());
    }
    Ok(())
}

/// Arms the death signal and blocks until stage one has set up the namespaces' network and mounts (its byte on
/// stdin); its end closing first means it failed or is gone.
fn wait_until_prepared() -> anyhow::Result<()> {
    nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL))?;
    let mut byte = [0u8; 1];
    loop {
        match rustix::io::read(std::io::stdin().as_fd(), &mut byte) {
            Ok(1) if byte[0] == PREPARED => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            _ => {
                return Err(
                    UsageError("the session's first stage did not prepare it".into()).into(),
                )
            }
        }
    }
}

/// Stage two (pid 1 of the session's PID namespace): sandboxes itself by `plan`, then runs `command`; returns
/// only on failure.
pub(super) fn init(plan: &crate::agent::sandbox::Plan, command: &[String]) -> anyhow::Result<()> {
    // Pid 1 of its namespace ignores them without a handler anyway; the agent inherits this mask.
    stop_signals().thread_unblock()?;
    wait_until_prepared()?;
    crate::agent::sandbox::enter_unprivileged(plan)?;
    // Its child, the agent, has the same host uid: without this it could read this process's memory.
    nix::sys::prctl::set_dumpable(false)?;
    check_stage_one()?;
    let (program, args) = command
        .split_first()
        .ok_or_else(|| UsageError("no agent command".into()))?;
    let agent = std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .spawn()?;
    let agent_pid = nix::unistd::Pid::from_raw(i32::try_from(agent.id())?);
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == agent_pid => std::process::exit(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == agent_pid => {
                std::process::exit(128 + sig as i32)
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Arms the parent-death signal (SIGKILL) and checks the gatehouse that started this process is still its parent
/// (the signal would never come otherwise).
pub(super) fn check_parent(parent: i32) -> anyhow::Result<()> {
    nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL))?;
    if nix::unistd::getppid().as_raw() != parent {
        return Err(UsageError("the gatehouse that started this agent is gone".into()).into());
    }
    Ok(())
}

/// The sandbox plan of `exec-agent`'s arguments.
pub(super) fn plan(
    uid: u32,
    workdir: PathBuf,
    hide_dirs: Vec<PathBuf>,
    hide_files: Vec<PathBuf>,
    command: &[String],
    egress_deny: Option<Vec<crate::config::sandbox::Ipv4Net>>,
) -> crate::agent::sandbox::Plan {
    crate::agent::sandbox::Plan {
        uid,
        gid: uid,
        workdir,
        hide_dirs,
        hide_files,
        command_files: crate::agent::sandbox::Plan::files_of(command),
        egress_deny,
    }
}
