//! A cheap seccomp deny-list for session processes: the system calls an agent never needs and a breakout
//! usually does (tracing, mounting, namespaces, kernel keyrings, BPF, perf, module loading, kexec, userfaultfd,
//! cross-process memory access) fail with EPERM; `clone` with namespace flags too; `clone3`, whose flags seccomp
//! cannot see, fails with ENOSYS so the C library falls back to `clone`. Must be the last step before exec.
use std::collections::BTreeMap;

use seccompiler::{
    apply_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule,
};

use super::SandboxError;

const DENIED: &[i64] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_userfaultfd,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_mount_setattr,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_acct,
    libc::SYS_quotactl,
];

/// Namespace flags `clone` may not carry.
const NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP) as u64;

fn sc(e: impl std::fmt::Display) -> SandboxError {
    SandboxError {
        step: "seccomp filter",
        reason: e.to_string(),
    }
}

fn program(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    action: SeccompAction,
) -> Result<BpfProgram, SandboxError> {
    let arch = std::env::consts::ARCH.try_into().map_err(sc)?;
    SeccompFilter::new(rules, SeccompAction::Allow, action, arch)
        .map_err(sc)?
        .try_into()
        .map_err(sc)
}

pub(super) fn apply() -> Result<(), SandboxError> {
    let mut deny: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|s| (*s, Vec::new())).collect();
    // Each namespace flag its own rule (a rule's conditions are all-of; the rules of a syscall any-of).
    let mut clone_rules = Vec::new();
    for bit in 0..64 {
        let flag = 1u64 << bit;
        if NAMESPACE_FLAGS & flag != 0 {
            let cond = SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(flag),
                flag,
            )
            .map_err(sc)?;
            clone_rules.push(SeccompRule::new(vec![cond]).map_err(sc)?);
        }
    }
    deny.insert(libc::SYS_clone, clone_rules);
    let eperm = program(deny, SeccompAction::Errno(libc::EPERM as u32))?;
    let enosys = program(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Errno(libc::ENOSYS as u32),
    )?;
    apply_filter(&eperm).map_err(sc)?;
    apply_filter(&enosys).map_err(sc)
}
