//! `egress = "all"` against a hostile agent (`tests/agents/hostile_agent.py`): a sandboxed session that may reach
//! the network reaches what the host reaches (a listener of this test on the host's own non-loopback address),
//! but never the host's loopback — gatehouse, PostgreSQL, Redis — whether asked for as 127.0.0.1 or through
//! slirp4netns's host address, and never a network of `[sandbox] egress_deny`; its resolver is slirp4netns's (read-only); its
//! user-mode network ends with the session; a default (`egress = "none"`) session reaches none of it; and `up`
//! refuses an `egress = "all"` runtime without slirp4netns. Each case runs against a gatehouse run as root and
//! one run as an unprivileged uid (slirp4netns then joins the session's user namespace).
use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::unprivileged::{give_away, in_both_modes, session_pids, Mode, UNPRIVILEGED_UID};
use crate::common::{invoke, poll_async, send, up_output, up_output_as, Gatehouse};

const SESSION: &str = "x-amzn-bedrock-agentcore-runtime-session-id";

struct Fixture {
    gw: Gatehouse,
    _tmp: tempfile::TempDir,
}

/// Whether [`UNPRIVILEGED_UID`] may open the TUN device, which slirp4netns opens as gatehouse's uid without root.
fn tun_usable_without_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(m) = std::fs::metadata("/dev/net/tun") else {
        return false;
    };
    let rw = |shift: u32| (m.mode() >> shift) & 0o6 == 0o6;
    rw(0) || (m.uid() == UNPRIVILEGED_UID && rw(6)) || (m.gid() == UNPRIVILEGED_UID && rw(3))
}

/// The configuration of the fixture, written in `dir`.
fn write_config(dir: &std::path::Path) -> std::path::PathBuf {
    let hostile = format!(
        "{}/tests/agents/hostile_agent.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let config = format!(
        r#"
version = 1
[sandbox]
workdir_root = "{root}"
egress_deny = ["169.254.0.0/16", "198.51.100.0/24"]

[[runtime]]
name = "online"
command = ["python3", "{hostile}"]
egress = "all"

[[runtime]]
name = "offline"
command = ["python3", "{hostile}"]
"#,
        root = dir.join("sessions").display(),
    );
    let path = dir.join("egress.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// Whether `mode` can have `egress = "all"` here. Without root and without a TUN device gatehouse's uid may
/// open, it cannot, and `up` must refuse the runtime naming the device (checked here, once) instead of starting
/// it without a network.
fn egress_here(mode: Mode) -> bool {
    if mode == Mode::Root || tun_usable_without_root() {
        return true;
    }
    static REFUSED: OnceLock<()> = OnceLock::new();
    REFUSED.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let path = write_config(tmp.path());
        give_away(tmp.path());
        let out = up_output_as(
            &tmp.path().join("data"),
            &["--config", path.to_str().unwrap()],
            Some(UNPRIVILEGED_UID),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(
            err.contains(
                "runtime online has egress = \"all\", which without root needs /dev/net/tun"
            ),
            "{err}"
        );
    });
    false
}

fn fixture(mode: Mode) -> &'static Fixture {
    static ROOT: OnceLock<Fixture> = OnceLock::new();
    static UNPRIVILEGED: OnceLock<Fixture> = OnceLock::new();
    let cell = match mode {
        Mode::Root => &ROOT,
        Mode::Unprivileged => &UNPRIVILEGED,
    };
    cell.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let path = write_config(tmp.path());
        let data = tmp.path().join("data");
        let args = ["--config", path.to_str().unwrap()];
        let gw = match mode {
            Mode::Root => Gatehouse::start_in(&data, &args),
            Mode::Unprivileged => {
                give_away(tmp.path());
                Gatehouse::start_as(&data, &args, UNPRIVILEGED_UID)
            }
        };
        Fixture { gw, _tmp: tmp }
    })
}

async fn token(mode: Mode) -> &'static str {
    static ROOT: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    static UNPRIVILEGED: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let cell = match mode {
        Mode::Root => &ROOT,
        Mode::Unprivileged => &UNPRIVILEGED,
    };
    cell.get_or_init(|| async {
        let f = fixture(mode);
        let user = f.gw.new_user("egress");
        f.gw.access_token(&user).await
    })
    .await
}

fn url(mode: Mode, runtime: &str) -> String {
    fixture(mode).gw.runtime_url(runtime)
}

fn new_session() -> String {
    format!("egress-{}", gatehouse::util::random_alnum(36))
}

/// (reached, detail) of one request of the hostile agent in `session`.
async fn call_in(mode: Mode, runtime: &str, session: &str, body: Value) -> (bool, String) {
    let r = invoke(
        &url(mode, runtime),
        Some(token(mode).await),
        &[(SESSION, session)],
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{runtime}: {}", r.body);
    let v = r.json();
    let detail = v["detail"].as_str().unwrap_or_default().to_string();
    assert!(
        !detail.starts_with("attack failed to run"),
        "the attempt itself is broken: {detail}"
    );
    (v["escaped"].as_bool().unwrap(), detail)
}

async fn connect(mode: Mode, runtime: &str, targets: Value) -> (bool, String) {
    call_in(
        mode,
        runtime,
        &new_session(),
        json!({"attack": "connect", "targets": targets}),
    )
    .await
}

/// An IPv4 address of this host that is not loopback: what "the network" is in a test that talks to this
/// machine only.
fn host_address() -> Ipv4Addr {
    nix::ifaddrs::getifaddrs()
        .unwrap()
        .filter_map(|i| i.address?.as_sockaddr_in().map(|a| a.ip()))
        .find(|ip| !ip.is_loopback() && !ip.is_link_local())
        .expect("this host has no non-loopback IPv4 address to stand for the network")
}

/// A listener on `ip` answering each connection with a fixed HTTP response, until the test ends.
fn listener_on(ip: Ipv4Addr) -> u16 {
    let l = TcpListener::bind((IpAddr::V4(ip), 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 512];
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\nreached the network");
        }
    });
    port
}

fn gateway_port(mode: Mode) -> u16 {
    fixture(mode)
        .gw
        .endpoints
        .gateway
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

async fn an_egress_all_agent_reaches_the_network_the_host_reaches(mode: Mode) {
    if !egress_here(mode) {
        return;
    }
    let ip = host_address();
    let port = listener_on(ip);
    let (reached, detail) = connect(mode, "online", json!([[ip.to_string(), port]])).await;
    assert!(reached, "{detail}");
    assert!(detail.contains("reached the network"), "{detail}");
}

async fn a_default_agent_reaches_no_network(mode: Mode) {
    if !egress_here(mode) {
        return;
    }
    let ip = host_address();
    let port = listener_on(ip);
    let (reached, detail) = connect(mode, "offline", json!([[ip.to_string(), port]])).await;
    assert!(
        !reached,
        "a session without egress reached the network: {detail}"
    );
    assert!(!detail.contains("answered"), "{detail}");
}

async fn an_egress_all_agent_still_cannot_reach_the_host_loopback(mode: Mode) {
    if !egress_here(mode) {
        return;
    }
    let gw = gateway_port(mode);
    let loopback = listener_on(Ipv4Addr::LOCALHOST);
    let mut targets = Vec::new();
    // 127.0.0.1 is the session's own loopback; 10.0.2.2 is where slirp4netns would forward to the host's.
    for host in ["127.0.0.1", "10.0.2.2"] {
        for port in [gw, loopback, 5432, 6379] {
            targets.push(json!([host, port]));
        }
    }
    let (reached, detail) = connect(mode, "online", Value::Array(targets)).await;
    assert!(!reached, "the agent reached the host's loopback: {detail}");
    assert!(!detail.contains("answered"), "{detail}");
    assert!(
        detail.contains("10.0.2.2:5432 PermissionError"),
        "the host's side of the user-mode network is a prohibited route: {detail}"
    );
}

async fn an_egress_all_agent_cannot_reach_a_denied_network(mode: Mode) {
    if !egress_here(mode) {
        return;
    }
    // The cloud metadata address (link-local) and a network the configuration denies: refused at once by a
    // route the agent cannot remove, not left to time out.
    let (reached, detail) = connect(
        mode,
        "online",
        json!([["169.254.169.254", 80], ["198.51.100.7", 443]]),
    )
    .await;
    assert!(!reached, "{detail}");
    assert!(
        detail.contains("169.254.169.254:80 PermissionError")
            && detail.contains("198.51.100.7:443 PermissionError"),
        "{detail}"
    );
}

async fn an_egress_all_agent_resolves_names_through_slirp4netns(mode: Mode) {
    if !egress_here(mode) {
        return;
    }
    let (_, detail) = call_in(
        mode,
        "online",
        &new_session(),
        json!({"attack": "cat", "path": "/etc/resolv.conf"}),
    )
    .await;
    assert_eq!(detail.trim(), "nameserver 10.0.2.3");
    // A default session keeps the host's file (it has no network to ask anyway).
    let (_, detail) = call_in(
        mode,
        "offline",
        &new_session(),
        json!({"attack": "cat", "path": "/etc/resolv.conf"}),
    )
    .await;
    assert_eq!(detail, std::fs::read_to_string("/etc/resolv.conf").unwrap());
}

/// Pids of the slirp4netns processes attached to process `pid`.
fn slirp_for(pid: i64) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        let args: Vec<String> = cmd
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.first().is_some_and(|a| a.ends_with("slirp4netns"))
            && args.iter().any(|a| *a == pid.to_string())
        {
            assert!(
                args.iter().any(|a| a == "--disable-host-loopback"),
                "{args:?}"
            );
            out.push(p);
        }
    }
    out
}

async fn the_user_mode_network_ends_with_its_session(mode: Mode) {
    if !egress_here(mode) {
        return;
    }
    let session = new_session();
    call_in(mode, "online", &session, json!({"attack": "whoami"})).await;
    let attached = || -> Vec<u32> {
        session_pids(&session)
            .into_iter()
            .flat_map(slirp_for)
            .collect()
    };
    assert_eq!(attached().len(), 1, "one slirp4netns for the session");
    let slirp = attached()[0];
    let stop = url(mode, "online").replace("/invocations", "/stopruntimesession");
    let auth = format!("Bearer {}", token(mode).await);
    let r = send(
        "POST",
        &stop,
        &[("authorization", &auth), (SESSION, &session)],
        "{}",
    )
    .await;
    assert_eq!(r.status(), 200);
    poll_async(Duration::from_secs(15), "slirp4netns to end", || async {
        (!crate::common::unprivileged::alive(i64::from(slirp))).then_some(())
    })
    .await;
}

in_both_modes!(
    an_egress_all_agent_reaches_the_network_the_host_reaches,
    a_default_agent_reaches_no_network,
    an_egress_all_agent_still_cannot_reach_the_host_loopback,
    an_egress_all_agent_cannot_reach_a_denied_network,
    an_egress_all_agent_resolves_names_through_slirp4netns,
    the_user_mode_network_ends_with_its_session,
);

#[test]
fn up_refuses_egress_all_without_slirp4netns() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("no-slirp.toml");
    std::fs::write(
        &path,
        format!(
            "version = 1\n[sandbox]\nworkdir_root = \"{}\"\nslirp4netns = \"/nonexistent/slirp4netns\"\n\
             [[runtime]]\nname = \"agent\"\ncommand = [\"gatehouse\", \"agent\"]\negress = \"all\"\n",
            tmp.path().join("sessions").display()
        ),
    )
    .unwrap();
    let out = up_output(
        &tmp.path().join("data"),
        &["--config", path.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("runtime agent has egress = \"all\"")
            && err.contains("/nonexistent/slirp4netns is not there"),
        "{err}"
    );
}
