//! The session's view of the file system, in its own mount namespace: propagation made private (nothing leaks
//! back to the host), the hidden directories covered by an empty root-owned tmpfs, the hidden files by
//! /dev/null, the working directory bound back at its own path, a private /tmp, a minimal private /dev
//! (`super::dev`, with its own /dev/shm), and a fresh /proc
//! mounted `hidepid=invisible` so only the session's own processes (its own uid) appear; for an `egress =
//! "all"` session, a read-only resolv.conf naming slirp4netns's DNS forwarder over the host's. Must never mount
//! anything in the host's namespace, nor create or write a file outside a tmpfs of its own.
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};

use super::{fail, Plan, SandboxError};

/// Shared places every sandbox hides (sockets of other services, other users' temporary files).
const HOST_SHARED: &[&str] = &["/run", "/var/tmp", "/tmp", "/dev/shm"];
/// Of those, the ones the session gets as its own, writable, size-bounded tmpfs.
const PRIVATE: &[(&str, &str)] = &[("/tmp", "size=64m"), (DEV_SHM, "size=16m")];
/// The host's /dev, which the session's own minimal one replaces (`super::dev`).
const DEV: &str = "/dev";
const DEV_SHM: &str = "/dev/shm";

fn io(step: &'static str) -> impl Fn(std::io::Error) -> SandboxError {
    move |e| SandboxError {
        step,
        reason: e.to_string(),
    }
}

/// The directories to cover, outermost first, without those beneath another (covered with it).
fn covers(plan: &Plan) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = plan
        .hide_dirs
        .iter()
        .cloned()
        .chain(HOST_SHARED.iter().map(PathBuf::from))
        // The private /dev replaces all of the host's /dev (its /dev/shm included).
        .filter(|p| p.is_dir() && !p.starts_with(DEV))
        .collect();
    all.sort_by_key(|p| p.components().count());
    let mut out: Vec<PathBuf> = Vec::new();
    for p in all {
        if !out.iter().any(|o| p.starts_with(o)) {
            out.push(p);
        }
    }
    out
}

fn tmpfs(target: &Path, options: &str) -> Result<(), SandboxError> {
    mount(
        Some("tmpfs"),
        target,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(options),
    )
    .map_err(fail("cover a hidden directory with tmpfs"))
}

pub(super) fn apply(plan: &Plan) -> Result<(), SandboxError> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(fail("make mount propagation private"))?;
    // Held open so the working directory can be bound back once its parents are covered.
    let workdir = std::fs::File::open(&plan.workdir).map_err(io("open the working directory"))?;
    let source = format!("/proc/self/fd/{}", workdir.as_raw_fd());
    let covered = covers(plan);
    // Opened before they are covered, to be bound back read-only (the agent's program under /tmp, say).
    let command_files = command_files_to_keep(plan, &covered)?;
    // Where the resolver reads its configuration (a symbolic link followed now, before /run is covered).
    let resolv = plan.egress_deny.as_ref().map(|_| resolv_conf_target());
    for dir in &covered {
        let private = PRIVATE.iter().find(|(p, _)| dir == Path::new(p));
        let options = match private {
            Some((_, size)) => format!("mode=1777,{size}"),
            None => "mode=0755,size=64k".to_string(),
        };
        tmpfs(dir, &options)?;
    }
    if let Some(cover) = covered.iter().find(|d| plan.workdir.starts_with(d)) {
        std::fs::create_dir_all(&plan.workdir)
            .map_err(io("recreate the working directory path"))?;
        seal_recreated_path(cover, &plan.workdir)?;
        mount(
            Some(source.as_str()),
            &plan.workdir,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(fail("bind the working directory back"))?;
    }
    drop(workdir);
    let shm = PRIVATE
        .iter()
        .find(|(p, _)| *p == DEV_SHM)
        .map_or("size=16m", |(_, s)| s);
    super::dev::apply(shm)?;
    for (path, file) in &command_files {
        bind_read_only(path, file, true)?;
    }
    drop(command_files);
    if let Some(target) = resolv {
        bind_resolv_conf(&target, &covered)?;
    }
    for file in &plan.hide_files {
        if file.is_file() {
            mount(
                Some("/dev/null"),
                file,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(fail("hide a file behind /dev/null"))?;
        }
    }
    Ok(())
}

/// A fresh /proc of the caller's PID namespace, showing only its own uid's processes.
pub(super) fn proc() -> Result<(), SandboxError> {
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("hidepid=invisible"),
    )
    .map_err(fail("mount a private /proc with hidepid=invisible"))
}

/// Makes the directories recreated in `cover` down to `workdir` read-only (a read-only bind of the first one
/// onto itself): inside a private, writable tmpfs such as /tmp they would otherwise be the agent's to write in
/// — without root it owns them — and look like the sessions root.
fn seal_recreated_path(cover: &Path, workdir: &Path) -> Result<(), SandboxError> {
    let Some(first) = workdir
        .strip_prefix(cover)
        .ok()
        .and_then(|rest| rest.components().next())
    else {
        return Ok(());
    };
    let top = cover.join(first);
    if top == workdir {
        return Ok(());
    }
    mount(
        Some(&top),
        &top,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(fail("bind the working directory's recreated path"))?;
    mount(
        None::<&str>,
        &top,
        None::<&str>,
        MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .map_err(fail(
        "make the working directory's recreated path read-only",
    ))
}

/// The command's files that lie in a covered host shared place (never in a hidden directory, never a hidden
/// file), each opened now, before its place is covered.
fn command_files_to_keep(
    plan: &Plan,
    covered: &[PathBuf],
) -> Result<Vec<(PathBuf, std::fs::File)>, SandboxError> {
    let mut keep = Vec::new();
    for path in &plan.command_files {
        let shared = HOST_SHARED.iter().any(|d| path.starts_with(d));
        let hidden = plan.hide_dirs.iter().any(|d| path.starts_with(d))
            || plan.hide_files.iter().any(|f| f == path);
        let replaced = covered.iter().any(|d| path.starts_with(d)) || path.starts_with(DEV);
        if shared && !hidden && replaced {
            let file =
                std::fs::File::open(path).map_err(io("open a file of the agent's command"))?;
            keep.push((path.clone(), file));
        }
    }
    Ok(keep)
}

/// `/etc/resolv.conf`, or where its symbolic link points.
fn resolv_conf_target() -> PathBuf {
    let link = Path::new("/etc/resolv.conf");
    match std::fs::read_link(link) {
        Ok(to) => std::fs::canonicalize(link).unwrap_or_else(|_| Path::new("/etc").join(to)),
        Err(_) => link.to_path_buf(),
    }
}

/// A resolv.conf naming slirp4netns's DNS forwarder, bound read-only at `target`: over the host's file when
/// there is one, at a new mount point only inside a covering tmpfs; written in the private /tmp and unlinked
/// from there once bound.
fn bind_resolv_conf(target: &Path, covered: &[PathBuf]) -> Result<(), SandboxError> {
    let in_tmpfs = covered.iter().any(|d| target.starts_with(d));
    if !target.is_file() && !in_tmpfs {
        return Ok(()); // no resolver configuration on this host to replace
    }
    let staged = Path::new("/tmp/.gatehouse-resolv.conf");
    let step = "write the session's resolv.conf";
    // A fresh tmpfs: nothing is there to overwrite.
    std::fs::write(staged, format!("nameserver {}\n", super::SLIRP_DNS)).map_err(io(step))?;
    std::fs::set_permissions(staged, std::os::unix::fs::PermissionsExt::from_mode(0o444))
        .map_err(io(step))?;
    let file = std::fs::File::open(staged).map_err(io(step))?;
    // Bound while it still has a name (an unlinked file cannot be a bind source), then unlinked.
    bind_read_only(target, &file, !target.is_file())?;
    std::fs::remove_file(staged).map_err(io(step))
}

/// Binds `file` (open) at `path`, read-only; `create` makes the mount point first (only ever inside a covering
/// tmpfs).
fn bind_read_only(path: &Path, file: &std::fs::File, create: bool) -> Result<(), SandboxError> {
    if create {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io("recreate the path of a bound file"))?;
        }
        std::fs::File::create(path).map_err(io("make a mount point for a bound file"))?;
    }
    let source = format!("/proc/self/fd/{}", file.as_raw_fd());
    mount(
        Some(source.as_str()),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(fail("bind a file back"))?;
    mount(
        None::<&str>,
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID,
        None::<&str>,
    )
    .map_err(fail("make a bound file read-only"))
}

/// Writable places of a sandboxed session besides its working directory.
pub(super) fn private_dirs() -> impl Iterator<Item = &'static str> {
    PRIVATE.iter().map(|(p, _)| *p)
}
