//! The sandbox's private /dev and what a hostile agent can reach through Unix sockets, in both sandbox modes:
//! a terminal of the host under /dev/pts, anything in /dev beyond the minimal set, a Unix socket listening in the
//! host's /tmp or /run (chmod 0777, owned by gatehouse's uid without root), an abstract socket of the host's
//! network namespace. The same attempts from an `isolation = "none"` session show each one is real. Test code
//! only.
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::sandbox::{attack_in, refused};
use crate::common::unprivileged::{in_both_modes, Mode, UNPRIVILEGED_UID};

/// A terminal of the host, its slave readable by anyone (as a careless terminal of gatehouse's uid might be):
/// held open by a helper process until dropped.
struct HostPty {
    helper: std::process::Child,
    path: String,
}

impl HostPty {
    fn open() -> Self {
        let mut helper = std::process::Command::new("python3")
            .args([
                "-c",
                "import os, sys\nm, s = os.openpty()\nos.fchmod(s, 0o666)\nprint(os.ttyname(s), flush=True)\nsys.stdin.read()",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(helper.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let path = line.trim().to_string();
        assert!(path.starts_with("/dev/pts/"), "{path}");
        Self { helper, path }
    }
}

impl Drop for HostPty {
    fn drop(&mut self) {
        let _ = self.helper.kill();
        let _ = self.helper.wait();
    }
}

/// A Unix socket listening at `dir`/sock (the directory and socket 0777; without root, gatehouse's uid owns
/// them), removed when dropped.
struct HostSocket {
    _listener: UnixListener,
    dir: tempfile::TempDir,
}

impl HostSocket {
    fn listen_in(parent: &str, mode: Mode) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("gatehouse-sock-")
            .tempdir_in(parent)
            .unwrap();
        let path = dir.path().join("sock");
        let listener = UnixListener::bind(&path).unwrap();
        for p in [dir.path(), path.as_path()] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
            if mode == Mode::Unprivileged {
                std::os::unix::fs::chown(p, Some(UNPRIVILEGED_UID), Some(UNPRIVILEGED_UID))
                    .unwrap();
            }
        }
        Self {
            _listener: listener,
            dir,
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("sock")
    }
}

/// An abstract Unix socket listening in the host's network namespace; its name with a leading "@".
fn abstract_listener() -> (UnixListener, String) {
    use std::os::linux::net::SocketAddrExt as _;
    let name = format!("gatehouse-test-{}", gatehouse::util::random_alnum(12));
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    (UnixListener::bind_addr(&addr).unwrap(), format!("@{name}"))
}

fn list_dev_body() -> Value {
    json!({"attack": "list_dev", "allowed": gatehouse::agent::sandbox::DEV_NAMES})
}

async fn a_session_agent_cannot_open_a_host_terminal(mode: Mode) {
    let pty = HostPty::open();
    let detail = refused(mode, json!({"attack": "open_pty", "path": pty.path})).await;
    assert!(detail.contains("No such file"), "{detail}");
}

async fn a_session_agent_sees_only_the_minimal_dev(mode: Mode) {
    let _pty = HostPty::open();
    let detail = refused(mode, list_dev_body()).await;
    let v: Value = serde_json::from_str(&detail).unwrap();
    let mut want: Vec<&str> = gatehouse::agent::sandbox::DEV_NAMES.to_vec();
    want.sort_unstable();
    assert_eq!(v["dev"], json!(want), "{detail}");
    assert_eq!(v["pts"], json!(["ptmx"]), "{detail}");
    // And it works: a sink, randomness, a terminal of its own in its own devpts.
    assert_eq!(v["works"], json!(["null", "urandom", "pty"]), "{detail}");
}

async fn a_session_agent_cannot_connect_to_a_unix_socket_in_the_hosts_tmp_or_run(mode: Mode) {
    let in_tmp = HostSocket::listen_in("/tmp", mode);
    let in_run = HostSocket::listen_in("/run", mode);
    let targets = [in_tmp.path(), in_run.path()];
    let detail = refused(mode, json!({"attack": "connect_unix", "targets": targets})).await;
    assert_eq!(detail.matches("No such file").count(), 2, "{detail}");
}

async fn a_session_agent_cannot_connect_to_a_hosts_abstract_socket(mode: Mode) {
    let (_listener, name) = abstract_listener();
    let detail = refused(mode, json!({"attack": "connect_unix", "targets": [name]})).await;
    assert!(detail.contains("Connection refused"), "{detail}");
}

in_both_modes!(
    a_session_agent_cannot_open_a_host_terminal,
    a_session_agent_sees_only_the_minimal_dev,
    a_session_agent_cannot_connect_to_a_unix_socket_in_the_hosts_tmp_or_run,
    a_session_agent_cannot_connect_to_a_hosts_abstract_socket
);

#[tokio::test]
async fn without_the_sandbox_the_terminal_dev_and_socket_attempts_succeed() {
    let mode = Mode::Root;
    let pty = HostPty::open();
    let sock = HostSocket::listen_in("/tmp", mode);
    let (_abs, name) = abstract_listener();
    for body in [
        json!({"attack": "open_pty", "path": pty.path}),
        list_dev_body(),
        json!({"attack": "connect_unix", "targets": [sock.path()]}),
        json!({"attack": "connect_unix", "targets": [name]}),
    ] {
        let (escaped, detail) = attack_in(mode, "bare", body.clone()).await;
        assert!(escaped, "{body}: {detail}");
    }
    assert!(Path::new(&pty.path).exists());
}
