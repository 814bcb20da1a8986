//! The session's own minimal `/dev`, in its mount namespace, with or without root: a small tmpfs over the host's
//! `/dev` holding only `null`, `zero`, `full`, `random`, `urandom` and `tty` (each the host's device, bound from
//! a descriptor opened before the tmpfs hides it — no `mknod`, which a user namespace may not do), a fresh
//! `devpts` instance (`newinstance`: none of the host's terminals exist in it) with `ptmx` pointing into it, a
//! private `shm` tmpfs and the `fd`, `stdin`, `stdout`, `stderr` links into `/proc/self`. Must never bind any
//! other host device, nor mount anything outside the session's mount namespace.
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use nix::mount::{mount, MsFlags};

use super::{fail, SandboxError};

/// The host devices the session gets (harmless sinks and sources, and its own controlling terminal).
pub(super) const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];
/// The symbolic links of a minimal `/dev`.
const LINKS: &[(&str, &str)] = &[
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];
/// Every name in the session's `/dev`.
pub const NAMES: &[&str] = &[
    "full", "null", "random", "tty", "urandom", "zero", "ptmx", "fd", "stdin", "stdout", "stderr",
    "pts", "shm",
];

fn io(step: &'static str) -> impl Fn(std::io::Error) -> SandboxError {
    move |e| SandboxError {
        step,
        reason: e.to_string(),
    }
}

/// Replaces `/dev` with the minimal one; `shm_size` bounds the private `/dev/shm` (tmpfs `size=`).
pub(super) fn apply(shm_size: &str) -> Result<(), SandboxError> {
    let dev = Path::new("/dev");
    // O_PATH: the device is not opened (a terminal-less process could not open tty), only named, to be bound.
    let held = DEVICES
        .iter()
        .map(|name| {
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH)
                .open(dev.join(name))
                .map(|f| (*name, f))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(io("hold the host's device files"))?;
    mount(
        Some("tmpfs"),
        dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=0755,size=64k"),
    )
    .map_err(fail("mount a private /dev"))?;
    for (name, file) in &held {
        let target = dev.join(name);
        std::fs::File::create(&target).map_err(io("make a mount point in the private /dev"))?;
        let source = format!("/proc/self/fd/{}", file.as_raw_fd());
        mount(
            Some(source.as_str()),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(fail("bind a device into the private /dev"))?;
    }
    drop(held);
    let pts = dev.join("pts");
    let shm = dev.join("shm");
    for dir in [&pts, &shm] {
        std::fs::create_dir(dir).map_err(io("make a directory in the private /dev"))?;
    }
    mount(
        Some("devpts"),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .map_err(fail("mount a fresh devpts instance"))?;
    mount(
        Some("tmpfs"),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(format!("mode=1777,{shm_size}").as_str()),
    )
    .map_err(fail("mount a private /dev/shm"))?;
    for (name, to) in LINKS {
        std::os::unix::fs::symlink(to, dev.join(name))
            .map_err(io("link a name in the private /dev"))?;
    }
    // Nothing more is added: read-only from here (the agent writes only to its devices, shm and pts).
    mount(
        None::<&str>,
        dev,
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=0755,size=64k"),
    )
    .map_err(fail("make the private /dev read-only"))
}
