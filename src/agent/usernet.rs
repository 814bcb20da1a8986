//! The outbound network of an `egress = "all"` session: slirp4netns, a user-mode TCP/IP stack, attached to the
//! session's own network namespace once the agent runs in it. It adds `tap0` (10.0.2.100, default route via
//! 10.0.2.2, DNS forwarder 10.0.2.3) and makes the agent's outbound connections from gatehouse's side, as
//! ordinary sockets; nothing outside can connect in. Started with `--disable-host-loopback` (10.0.2.2 never
//! reaches the host's 127.0.0.1, where gatehouse, its store and the other agents listen), in its own sandbox and
//! seccomp filter, with an empty environment; it ends when the session's process ends (its stdin, the exit
//! descriptor, closes) and is killed when dropped. Must never start without `--disable-host-loopback`, nor let
//! an agent's first request through before the network is configured.
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The TUN device slirp4netns opens (as gatehouse's uid when gatehouse is not root).
pub const TUN_DEVICE: &str = "/dev/net/tun";

/// Whether this process may open [`TUN_DEVICE`] for reading and writing (opened and closed at once).
pub fn tun_usable() -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(TUN_DEVICE)
        .map(drop)
}

/// How long slirp4netns may take to configure the namespace.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A running slirp4netns for one session; stopped when dropped.
#[derive(Debug)]
pub struct UserNet {
    _child: Child,
    /// Its exit descriptor: closing it (dropping this) ends slirp4netns even if the kill is missed.
    _exit: ChildStdin,
}

/// The command line: `program` attached to process `pid`'s network namespace.
pub fn command(program: &Path, pid: u32) -> Command {
    let mut cmd = Command::new(program);
    cmd.args([
        "--configure",
        "--mtu=65520",
        "--disable-host-loopback",
        "--enable-sandbox",
        "--enable-seccomp",
        "--exit-fd=0",
        "--ready-fd=1",
    ])
    .arg(pid.to_string())
    .arg("tap0")
    .env_clear()
    .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    cmd
}

impl UserNet {
    /// Starts slirp4netns for process `pid` and waits until it reports the namespace configured.
    pub async fn attach(program: &Path, pid: u32) -> Result<Self, String> {
        let mut child = command(program, pid)
            .spawn()
            .map_err(|e| format!("slirp4netns ({}): {e}", program.display()))?;
        let (Some(exit), Some(mut stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("slirp4netns: no pipes".into());
        };
        // Both pipes are read to their end for as long as it runs: a closed pipe would kill it with SIGPIPE.
        let tail = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(drain(stderr, Some(tail.clone())));
        let answer = tokio::time::timeout(READY_TIMEOUT, ready(&mut stdout)).await;
        if matches!(answer, Ok(true)) {
            tokio::spawn(drain(stdout, None));
            return Ok(Self {
                _child: child,
                _exit: exit,
            });
        }
        let _ = child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(1), child.wait()).await;
        let why = match answer {
            Err(_) => format!("not ready within {READY_TIMEOUT:?}"),
            Ok(_) => "ended before the network was configured".into(),
        };
        let text = tail.lock().map(|t| t.clone()).unwrap_or_default();
        Err(format!(
            "slirp4netns {why}: {}",
            String::from_utf8_lossy(&text).trim()
        ))
    }
}

/// Reads slirp4netns's standard output until its ready mark: `1` (written without a newline) at the start of a
/// line — warnings it prints there start with a letter. False at the end of the stream.
async fn ready(out: &mut ChildStdout) -> bool {
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match out.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        if is_ready(&seen) {
            return true;
        }
        if seen.len() > 64 * 1024 {
            return false;
        }
    }
}

fn is_ready(seen: &[u8]) -> bool {
    seen.split(|b| *b == b'\n')
        .any(|line| line.first() == Some(&b'1'))
}

/// Reads `pipe` to its end, keeping its last 4 KiB in `tail` when given.
async fn drain(mut pipe: impl AsyncRead + Unpin, tail: Option<Arc<Mutex<Vec<u8>>>>) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        if let Some(Ok(mut t)) = tail.as_ref().map(|t| t.lock()) {
            t.extend_from_slice(&buf[..n]);
            let excess = t.len().saturating_sub(4096);
            t.drain(..excess);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_ready_mark_is_found_after_warnings_and_not_inside_them() {
        assert!(super::is_ready(b"1"));
        assert!(super::is_ready(
            b"WARNING: Support for seccomp is experimental\n1"
        ));
        assert!(super::is_ready(b"WARNING: a\n1WARNING: b\n"));
        assert!(!super::is_ready(b"WARNING: seccomp 1.2\n"));
        assert!(!super::is_ready(b""));
    }

    #[test]
    fn the_host_loopback_is_always_disabled() {
        let cmd = super::command(std::path::Path::new("/usr/bin/slirp4netns"), 42);
        let args: Vec<_> = cmd
            .as_std()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(
            args.iter().any(|a| a == "--disable-host-loopback"),
            "{args:?}"
        );
        assert!(args.iter().any(|a| a == "--enable-sandbox"), "{args:?}");
        assert_eq!(&args[args.len() - 2..], ["42", "tap0"]);
        assert_eq!(cmd.as_std().get_envs().count(), 1, "only PATH");
    }
}
