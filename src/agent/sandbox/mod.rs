//! The agent sandbox, applied by `gatehouse exec-agent` to itself (single-threaded, as root) just before it
//! becomes the session's agent program: new mount, network, IPC and UTS namespaces; gatehouse's data directory,
//! the sessions root, the configuration file and the host's shared places (/tmp, /run, /dev/shm, /var/tmp) hidden
//! with only the session's own working directory bound back; a minimal /dev of its own (a fresh devpts); a fresh /proc that shows only the session's own
//! processes; loopback as the only network (or, for `egress = "all"`, the interface a user-mode network stack
//! adds once the agent runs, with `prohibit` routes for the host's side of it and `[sandbox] egress_deny`, and a
//! resolv.conf naming that stack's DNS forwarder); Landlock (read and execute everywhere, write only in the working
//! directory and private /tmp); then the session's own uid/gid with no groups and no capabilities (bounding set
//! included), no_new_privs and a seccomp deny-list. Without root (`userns`) the same steps run in user
//! namespaces instead: the first stage enters them ([`enter_outer`]) and, while the second starts, sets up their
//! network and mounts ([`prepare_unprivileged`]); the second — pid 1 of the session's own PID namespace —
//! mounts /proc and applies the rest to itself ([`enter_unprivileged`]), the uid switch replaced by an inner
//! user namespace where the agent is [`AGENT_UID`]. Must never start the agent with any step skipped: each failure is
//! an error naming the step, and the agent does not run.
use std::path::PathBuf;

use crate::config::sandbox::Ipv4Net;

mod dev;
mod identity;
mod mounts;
mod netlink;
mod seccomp;
mod userns;

pub use dev::NAMES as DEV_NAMES;
pub use userns::{enter_outer, AGENT_UID};

/// Everything `exec-agent` needs to sandbox one session process.
#[derive(Debug, Clone)]
pub struct Plan {
    pub uid: u32,
    pub gid: u32,
    /// The session's working directory (its only writable place besides private /tmp).
    pub workdir: PathBuf,
    /// Directories to hide behind an empty tmpfs (the working directory is bound back if beneath one).
    pub hide_dirs: Vec<PathBuf>,
    /// Files to hide behind /dev/null.
    pub hide_files: Vec<PathBuf>,
    /// Files the agent's command line names (its program and absolute-path arguments): bound back read-only
    /// when they lie in a host shared place (/tmp, /var/tmp, /run, /dev/shm) that the sandbox covers, so an
    /// agent installed there still starts. Never bound back from a hidden directory or a hidden file.
    pub command_files: Vec<PathBuf>,
    /// `Some(networks never to reach)` for an `egress = "all"` session; `None`: loopback only.
    pub egress_deny: Option<Vec<Ipv4Net>>,
}

/// The address of the host in slirp4netns's network (which it forwards to the host's loopback unless told not
/// to): always prohibited for `egress = "all"` sessions, besides `--disable-host-loopback`.
pub const SLIRP_HOST: Ipv4Net = Ipv4Net {
    addr: std::net::Ipv4Addr::new(10, 0, 2, 2),
    prefix: 32,
};
/// slirp4netns's DNS forwarder, which an `egress = "all"` session's resolv.conf names.
pub const SLIRP_DNS: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 0, 2, 3);

impl Plan {
    /// The files of `command` to keep visible: absolute paths of existing regular files.
    pub fn files_of(command: &[String]) -> Vec<PathBuf> {
        command
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.is_absolute() && p.is_file())
            .collect()
    }
}

/// A step of the sandbox that failed.
#[derive(Debug, thiserror::Error)]
#[error("agent sandbox: {step}: {reason}")]
pub struct SandboxError {
    pub step: &'static str,
    pub reason: String,
}

pub(crate) fn fail(step: &'static str) -> impl Fn(nix::Error) -> SandboxError {
    move |e| SandboxError {
        step,
        reason: e.desc().to_string(),
    }
}

/// Applies every step but the last (exec); on return the process is ready to become the agent.
pub fn enter(plan: &Plan) -> Result<(), SandboxError> {
    use nix::sched::{unshare, CloneFlags};
    unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWNET
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWUTS,
    )
    .map_err(fail(
        "unshare mount, network, IPC and UTS namespaces (needs root)",
    ))?;
    network(plan)?;
    mounts::apply(plan)?;
    mounts::proc()?;
    enter_workdir(plan)?;
    identity::landlock(plan)?;
    identity::become_session_user(plan)?;
    seccomp::apply()?;
    Ok(())
}

/// Without root, in the first stage (uid 0 of the namespaces [`enter_outer`] made, which the second stage
/// shares): the network and the mounts but /proc, done while the second stage is still starting.
pub fn prepare_unprivileged(plan: &Plan) -> Result<(), SandboxError> {
    network(plan)?;
    mounts::apply(plan)
}

/// The second stage without root, once the first has prepared the namespaces: /proc of the session's PID
/// namespace (which only a process inside it can mount), the working directory, then the inner user
/// namespace, Landlock, no capabilities and seccomp.
pub fn enter_unprivileged(plan: &Plan) -> Result<(), SandboxError> {
    mounts::proc()?;
    enter_workdir(plan)?;
    // Before Landlock, which would refuse the writes to /proc/self/uid_map.
    userns::enter_inner()?;
    identity::landlock(plan)?;
    identity::drop_capabilities()?;
    seccomp::apply()?;
    Ok(())
}

/// Loopback (and an `egress = "all"` session's prohibit routes).
fn network(plan: &Plan) -> Result<(), SandboxError> {
    netlink::loopback_up()?;
    if let Some(deny) = &plan.egress_deny {
        let mut nets = vec![SLIRP_HOST];
        nets.extend(deny.iter().copied());
        netlink::prohibit_routes(&nets)?;
    }
    Ok(())
}

/// The working directory, as the mounts show it.
fn enter_workdir(plan: &Plan) -> Result<(), SandboxError> {
    std::env::set_current_dir(&plan.workdir).map_err(|e| SandboxError {
        step: "enter the working directory",
        reason: e.to_string(),
    })
}
