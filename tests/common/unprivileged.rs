//! Running the sandbox's tests against a gatehouse without root: which [`Mode`] a fixture's gatehouse runs in,
//! the unprivileged uid it runs as, handing a test's directories to that uid, a session's processes as the
//! host sees them (without root an agent's own pid is its namespace's), and `in_both_modes!`, which runs one
//! test function in both modes.
use std::path::Path;

/// Which sandbox the gatehouse under test has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `up` as root: a uid of `[sandbox] uid_range` per session.
    Root,
    /// `up` as [`UNPRIVILEGED_UID`]: user namespaces.
    Unprivileged,
}

/// The uid (and gid) an unprivileged gatehouse runs as: no account, nothing of its own on the host.
pub const UNPRIVILEGED_UID: u32 = 2_099_000_000;

/// Gives `path` (and everything beneath) to [`UNPRIVILEGED_UID`].
pub fn give_away(path: &Path) {
    std::os::unix::fs::chown(path, Some(UNPRIVILEGED_UID), Some(UNPRIVILEGED_UID)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for e in std::fs::read_dir(path).unwrap() {
            give_away(&e.unwrap().path());
        }
    }
}

/// Whether `pid` is a live process (not a zombie).
pub fn alive(pid: i64) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// The host pids of a session's live processes: those whose environment names the session.
pub fn session_pids(session: &str) -> Vec<i64> {
    let marker = format!("{}={session}", gatehouse::config::env::ENV_SESSION_ID);
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i64>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .unwrap_or_default()
                .split(|b| *b == 0)
                .any(|kv| kv == marker.as_bytes())
        })
        .filter(|pid| alive(*pid))
        .collect()
}

/// Runs each `async fn name(mode: Mode)` of the calling module as two tests, `name::as_root` and
/// `name::without_root` (the module must have `Mode` in scope).
macro_rules! in_both_modes {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn as_root() {
                super::$name(super::Mode::Root).await
            }
            #[tokio::test]
            async fn without_root() {
                super::$name(super::Mode::Unprivileged).await
            }
        }
    )*};
}
pub(crate) use in_both_modes;
