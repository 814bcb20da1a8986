//! Who the agent is and what it may touch: the Landlock ruleset (read and execute everywhere, write only in the
//! working directory, private /tmp and /dev/shm, and the harmless device files), then the session's own uid and
//! gid with no supplementary groups, every capability set emptied (bounding and ambient included) and the
//! parent-death signal armed again (a credential change clears it). Must never return with any capability left
//! or with gatehouse's uid.
use landlock::{
    path_beneath_rules, Access as _, AccessFs, CompatLevel, Compatible as _, Ruleset,
    RulesetAttr as _, RulesetCreatedAttr as _, RulesetStatus, ABI,
};
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};

use super::{fail, Plan, SandboxError};

/// Device files any program may write (sinks and terminals of its own).
/// (`/dev/pts` is the session's own devpts instance: only terminals it opened itself.)
const WRITABLE_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/tty",
    "/dev/pts",
];

fn ll(e: impl std::fmt::Display) -> SandboxError {
    SandboxError {
        step: "Landlock (needs Linux 6.2 or later with Landlock enabled)",
        reason: e.to_string(),
    }
}

pub(super) fn landlock(plan: &Plan) -> Result<(), SandboxError> {
    let abi = ABI::V3;
    let mut writable = vec![plan.workdir.to_string_lossy().into_owned()];
    writable.extend(super::mounts::private_dirs().map(str::to_string));
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(abi))
        .map_err(ll)?
        .create()
        .map_err(ll)?
        .add_rules(path_beneath_rules(["/"], AccessFs::from_read(abi)))
        .map_err(ll)?
        .add_rules(path_beneath_rules(writable, AccessFs::from_all(abi)))
        .map_err(ll)?
        .add_rules(path_beneath_rules(
            WRITABLE_DEVICES,
            AccessFs::from_read(abi) | AccessFs::WriteFile,
        ))
        .map_err(ll)?
        .restrict_self()
        .map_err(ll)?;
    if status.ruleset != RulesetStatus::FullyEnforced || !status.no_new_privs {
        return Err(ll("the ruleset is not fully enforced"));
    }
    Ok(())
}

pub(super) fn become_session_user(plan: &Plan) -> Result<(), SandboxError> {
    let caps = |e: caps::errors::CapsError| SandboxError {
        step: "drop capabilities",
        reason: e.to_string(),
    };
    // Needs CAP_SETPCAP: before the uid changes.
    caps::clear(None, caps::CapSet::Bounding).map_err(caps)?;
    caps::clear(None, caps::CapSet::Inheritable).map_err(caps)?;
    caps::clear(None, caps::CapSet::Ambient).map_err(caps)?;
    setgroups(&[]).map_err(fail("drop supplementary groups"))?;
    let (uid, gid) = (Uid::from_raw(plan.uid), Gid::from_raw(plan.gid));
    setresgid(gid, gid, gid).map_err(fail("switch to the session gid"))?;
    setresuid(uid, uid, uid).map_err(fail("switch to the session uid"))?;
    // The uid is this session's alone now: anything still running under it was left by an earlier holder.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(-1),
        nix::sys::signal::Signal::SIGKILL,
    );
    no_capabilities_left()?;
    if nix::unistd::getuid().is_root() || nix::unistd::geteuid().is_root() {
        return Err(SandboxError {
            step: "switch to the session uid",
            reason: "still root".into(),
        });
    }
    Ok(())
}

fn caps_error(e: caps::errors::CapsError) -> SandboxError {
    SandboxError {
        step: "drop capabilities",
        reason: e.to_string(),
    }
}

/// In the agent's own user namespace (not root there): every capability set emptied, the bounding set first.
pub(super) fn drop_capabilities() -> Result<(), SandboxError> {
    for set in [
        caps::CapSet::Bounding,
        caps::CapSet::Inheritable,
        caps::CapSet::Ambient,
        caps::CapSet::Effective,
        caps::CapSet::Permitted,
    ] {
        caps::clear(None, set).map_err(caps_error)?;
    }
    no_capabilities_left()?;
    if nix::unistd::getuid().is_root() || nix::unistd::geteuid().is_root() {
        return Err(SandboxError {
            step: "leave uid 0 of the user namespace",
            reason: "still root".into(),
        });
    }
    Ok(())
}

fn no_capabilities_left() -> Result<(), SandboxError> {
    let caps = caps_error;
    for set in [
        caps::CapSet::Effective,
        caps::CapSet::Permitted,
        caps::CapSet::Inheritable,
        caps::CapSet::Ambient,
        caps::CapSet::Bounding,
    ] {
        if !caps::read(None, set).map_err(caps)?.is_empty() {
            return Err(SandboxError {
                step: "drop capabilities",
                reason: format!("{set:?} set not empty after the uid switch"),
            });
        }
    }
    Ok(())
}
