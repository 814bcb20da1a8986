//! The sandbox's namespaces when gatehouse is not root: user namespaces do what root's per-session uid does.
//! The outer namespace (entered by `exec-agent`'s first stage, as gatehouse's uid) maps its uid 0 to gatehouse's
//! uid and gid and owns new mount, network, IPC, UTS and PID namespaces; the inner one (entered by the second
//! stage, after the mounts, before Landlock) maps [`AGENT_UID`] to that uid 0, so the agent is not root even
//! inside. `setgroups` is denied in both. Must never map more than one id, nor any id but the caller's own.
use nix::sched::{unshare, CloneFlags};

use super::{fail, SandboxError};

/// The agent's uid and gid inside its own user namespace.
pub const AGENT_UID: u32 = 1000;

fn write_map(file: &str, text: &str, step: &'static str) -> Result<(), SandboxError> {
    std::fs::write(format!("/proc/self/{file}"), text).map_err(|e| SandboxError {
        step,
        reason: e.to_string(),
    })
}

/// A new user namespace where `inside` is the caller's current uid and gid (its only ids).
fn enter_user_namespace(inside: u32, step: &'static str) -> Result<(), SandboxError> {
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    unshare(CloneFlags::CLONE_NEWUSER).map_err(fail(step))?;
    write_map("setgroups", "deny", step)?;
    write_map("uid_map", &format!("{inside} {uid} 1\n"), step)?;
    write_map("gid_map", &format!("{inside} {gid} 1\n"), step)
}

/// Stage one: the outer user namespace and, owned by it, the session's mount, network, IPC, UTS and PID
/// namespaces (the PID namespace is entered by the next child, the second stage, which is its pid 1).
pub fn enter_outer() -> Result<(), SandboxError> {
    enter_user_namespace(
        0,
        "unshare a user namespace (needs unprivileged user namespaces: kernel.unprivileged_userns_clone=1, \
         user.max_user_namespaces > 0, no AppArmor restriction)",
    )?;
    unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWNET
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWPID,
    )
    .map_err(fail(
        "unshare mount, network, IPC, UTS and PID namespaces in the user namespace",
    ))
}

/// Stage two, after the mounts: the inner user namespace, where the process is [`AGENT_UID`].
pub(super) fn enter_inner() -> Result<(), SandboxError> {
    enter_user_namespace(AGENT_UID, "unshare the agent's own user namespace")
}
