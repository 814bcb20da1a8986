//! The agent sandbox against a hostile agent: `tests/agents/hostile_agent.py`, run as a `command` runtime's
//! session process, tries each escape (one named test each) and reports whether it got what it was after. The
//! same agent under `isolation = "none"` shows the attempts are real (they succeed there, as every one did
//! before the sandbox). A stock Python agent still works per session, and `up` refuses a sandbox it cannot have.
//! Each escape runs twice: against a gatehouse run as root (a uid per session) and against one run as an
//! unprivileged uid (user namespaces), `as_root` and `without_root` in the test's name.
use std::os::unix::fs::{MetadataExt as _, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::unprivileged::{
    alive, give_away, in_both_modes, session_pids, Mode, UNPRIVILEGED_UID,
};
use crate::common::{invoke, send, up_output_as, Gatehouse, BIN};

const SESSION: &str = "x-amzn-bedrock-agentcore-runtime-session-id";

/// The agent's uid inside its user namespace.
const AGENT_UID: u64 = gatehouse::agent::sandbox::AGENT_UID as u64;

struct Fixture {
    gw: Gatehouse,
    tmp: tempfile::TempDir,
    /// A copy of the stock agent under /tmp, which the sandbox covers with a private tmpfs.
    _agent_in_tmp: tempfile::TempDir,
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
        let user = f.gw.new_user("sandbox");
        f.gw.access_token(&user).await
    })
    .await
}

fn agent_script(name: &str) -> String {
    format!("{}/tests/agents/{name}", env!("CARGO_MANIFEST_DIR"))
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
        let agent_in_tmp = tempfile::Builder::new()
            .prefix("gatehouse-agent-")
            .tempdir_in("/tmp")
            .unwrap();
        let stock_in_tmp = agent_in_tmp.path().join("stock_agent.py");
        std::fs::copy(agent_script("stock_agent.py"), &stock_in_tmp).unwrap();
        let config = format!(
            r#"
version = 1
[sandbox]
workdir_root = "{root}"

[[runtime]]
name = "hostile"
command = ["python3", "{hostile}"]

[[runtime]]
name = "bare"
command = ["python3", "{hostile}"]
isolation = "none"

[[runtime]]
name = "stock"
command = ["python3", "{stock}"]
idle_timeout = "2s"

[[runtime]]
name = "kept"
command = ["python3", "{stock}"]
keep_workdir = true

[[runtime]]
name = "from_tmp"
command = ["python3", "{stock_in_tmp}"]
"#,
            root = tmp.path().join("sessions").display(),
            hostile = agent_script("hostile_agent.py"),
            stock = agent_script("stock_agent.py"),
            stock_in_tmp = stock_in_tmp.display(),
        );
        let path = tmp.path().join("sandbox.toml");
        std::fs::write(&path, config).unwrap();
        let data = tmp.path().join("data");
        let args = ["--config", path.to_str().unwrap()];
        let gw = match mode {
            Mode::Root => Gatehouse::start_in(&data, &args),
            Mode::Unprivileged => {
                give_away(tmp.path());
                give_away(agent_in_tmp.path());
                Gatehouse::start_as(&data, &args, UNPRIVILEGED_UID)
            }
        };
        Fixture {
            gw,
            tmp,
            _agent_in_tmp: agent_in_tmp,
        }
    })
}

fn url(g: &Gatehouse, runtime: &str) -> String {
    g.runtime_url(runtime)
}

pub(super) fn new_session() -> String {
    format!("sbx-{}", gatehouse::util::random_alnum(36))
}

fn gatehouse_pid(f: &Fixture) -> u32 {
    f.gw.child.id()
}

pub(super) async fn call(mode: Mode, runtime: &str, session: &str, body: Value) -> Value {
    let f = fixture(mode);
    let r = invoke(
        &url(&f.gw, runtime),
        Some(token(mode).await),
        &[(SESSION, session)],
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{runtime}: {}", r.body);
    r.json()
}

/// Runs one attack in a fresh sandboxed session; (escaped, detail).
pub(super) async fn attack_in(mode: Mode, runtime: &str, body: Value) -> (bool, String) {
    let v = call(mode, runtime, &new_session(), body).await;
    let detail = v["detail"].as_str().unwrap_or_default().to_string();
    assert!(
        !detail.starts_with("attack failed to run"),
        "the attack itself is broken: {detail}"
    );
    (v["escaped"].as_bool().unwrap(), detail)
}

pub(super) async fn refused(mode: Mode, body: Value) -> String {
    let (escaped, detail) = attack_in(mode, "hostile", body).await;
    assert!(!escaped, "the sandboxed agent escaped ({mode:?}): {detail}");
    detail
}

/// A directory agents can see (not under /tmp, /var/tmp, /run or /dev/shm, which the sandbox covers, and not
/// under the build's directory, which may be a checkout under /tmp), every parent world-traversable.
fn open_dir(mode: u32) -> PathBuf {
    let d = PathBuf::from("/var/lib/gatehouse-test-dirs")
        .join(format!("sandbox-{}", gatehouse::util::random_alnum(10)));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
    d
}

fn store_file(f: &Fixture) -> PathBuf {
    let db = f.gw.dir.join("gatehouse.db");
    assert!(db.is_file(), "the store file is where the test looks");
    db
}

async fn a_session_agent_cannot_read_the_store_file(mode: Mode) {
    let f = fixture(mode);
    let db = store_file(f);
    let detail = refused(mode, json!({"attack": "read_file", "path": db})).await;
    assert!(detail.contains("No such file"), "{detail}");
}

async fn a_session_agent_cannot_read_the_signing_key_through_gatehouses_files(mode: Mode) {
    let f = fixture(mode);
    let pid = gatehouse_pid(f);
    // Through gatehouse's open descriptors (the store holds the PKCS#8 signing keys) and its root.
    refused(mode, json!({"attack": "read_fds", "pid": pid})).await;
    let via_root = format!("/proc/{pid}/root{}", store_file(f).display());
    refused(mode, json!({"attack": "read_file", "path": via_root})).await;
    let cfg = f.tmp.path().join("sandbox.toml");
    refused(mode, json!({"attack": "read_file", "path": cfg})).await;
}

async fn a_session_agent_cannot_read_another_sessions_files(mode: Mode) {
    let planted = call(
        mode,
        "hostile",
        &new_session(),
        json!({"attack": "plant", "text": "the other session's secret"}),
    )
    .await;
    let path = planted["detail"].as_str().unwrap().to_string();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "the other session's secret"
    );
    refused(mode, json!({"attack": "read_file", "path": path})).await;
    let dir = Path::new(&path).parent().unwrap();
    refused(
        mode,
        json!({"attack": "read_file", "path": dir.join("../..")}),
    )
    .await;
}

async fn a_session_agent_cannot_read_gatehouses_environment(mode: Mode) {
    let pid = gatehouse_pid(fixture(mode));
    refused(
        mode,
        json!({"attack": "read_file", "path": format!("/proc/{pid}/environ")}),
    )
    .await;
    // Not even gatehouse's /proc entry is visible.
    let detail = refused(mode, json!({"attack": "list_proc", "pid": pid})).await;
    assert!(detail.contains("visible pids"), "{detail}");
}

async fn a_session_agent_cannot_read_gatehouses_memory(mode: Mode) {
    let pid = gatehouse_pid(fixture(mode));
    refused(mode, json!({"attack": "read_mem", "pid": pid})).await;
    if mode == Mode::Unprivileged {
        // Nor that of its namespace's pid 1 (the sandbox's second stage, its parent, of the same host uid).
        let detail = refused(mode, json!({"attack": "read_mem", "pid": 1})).await;
        assert!(
            detail.contains("No such file") || detail.contains("Permission denied"),
            "{detail}"
        );
    }
}

async fn a_session_agent_cannot_reach_another_sessions_agent(mode: Mode) {
    let other = call(mode, "hostile", &new_session(), json!({"attack": "whoami"})).await;
    let who: Value = serde_json::from_str(other["detail"].as_str().unwrap()).unwrap();
    let port = who["port"].as_u64().unwrap();
    // The other agent's own address, as it sees it: from here that is this session's own loopback.
    refused(
        mode,
        json!({"attack": "connect", "targets": [["127.0.0.1", port]]}),
    )
    .await;
}

async fn a_session_agent_cannot_reach_the_reference_agent_or_gatehouse(mode: Mode) {
    let f = fixture(mode);
    let mut reference = std::process::Command::new(BIN)
        .args(["agent", "--listen", "127.0.0.1:0", "--exit-with-parent"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(reference.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line.trim().rsplit("http://").next().unwrap().to_string();
    let (_, port) = addr.rsplit_once(':').unwrap();
    let gw_port =
        f.gw.endpoints
            .gateway
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/');
    let body = json!({"attack": "connect", "targets": [
        ["127.0.0.1", port.parse::<u16>().unwrap()],
        ["127.0.0.1", gw_port.parse::<u16>().unwrap()],
        ["127.0.0.1", 5432],
        ["127.0.0.1", 6379],
    ]});
    let detail = refused(mode, body).await;
    let _ = reference.kill();
    let _ = reference.wait();
    assert!(!detail.contains("answered"), "{detail}");
}

async fn a_session_agent_cannot_ptrace_gatehouse(mode: Mode) {
    let pid = gatehouse_pid(fixture(mode));
    refused(mode, json!({"attack": "ptrace", "pid": pid})).await;
}

async fn a_session_agent_cannot_write_outside_its_directory(mode: Mode) {
    let f = fixture(mode);
    let open = open_dir(0o777);
    let targets = [
        open.join("pwned"),
        f.gw.dir.join("pwned"),
        f.tmp.path().join("sessions/pwned"),
        PathBuf::from("/etc/gatehouse-pwned"),
        PathBuf::from("/var/tmp/gatehouse-pwned"),
    ];
    refused(mode, json!({"attack": "write", "paths": targets})).await;
    for t in &targets {
        assert!(!t.exists(), "{} was written", t.display());
    }
    let _ = std::fs::remove_dir_all(&open);
}

async fn a_session_agent_cannot_regain_root_through_a_setuid_binary(mode: Mode) {
    let dir = open_dir(0o755);
    let id = dir.join("id-setuid");
    std::fs::copy("/usr/bin/id", &id).unwrap();
    std::os::unix::fs::chown(&id, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&id, PermissionsExt::from_mode(0o4755)).unwrap();
    assert_eq!(std::fs::metadata(&id).unwrap().mode() & 0o4000, 0o4000);
    let detail = refused(mode, json!({"attack": "setuid_binary", "path": id})).await;
    // Root: the session's own uid; without root: the agent's uid inside its user namespace.
    let euid = match mode {
        Mode::Root => "euid '21".to_string(),
        Mode::Unprivileged => format!("euid '{AGENT_UID}'"),
    };
    assert!(detail.contains(&euid), "{detail}");
    let _ = std::fs::remove_dir_all(&dir);
}

async fn a_session_agent_has_no_capabilities_and_cannot_gain_any(mode: Mode) {
    refused(mode, json!({"attack": "capabilities"})).await;
}

#[tokio::test]
async fn without_the_sandbox_the_same_attacks_succeed() {
    // `isolation = "none"` (which doctor fails) is how every session ran before: the attacks are real. (Not
    // ptrace: stopping the shared gatehouse would stall every other test.)
    let mode = Mode::Root;
    let f = fixture(mode);
    let pid = gatehouse_pid(f);
    let db = store_file(f);
    for body in [
        json!({"attack": "read_file", "path": db}),
        json!({"attack": "read_file", "path": format!("/proc/{pid}/environ")}),
        json!({"attack": "read_mem", "pid": pid}),
    ] {
        let (escaped, detail) = attack_in(mode, "bare", body.clone()).await;
        assert!(escaped, "{body}: {detail}");
    }
}

async fn a_stock_python_agent_works_per_session_with_its_own_uid_and_directory(mode: Mode) {
    let f = fixture(mode);
    let (s1, s2) = (new_session(), new_session());
    let a = call(mode, "stock", &s1, json!({"prompt": "hi"})).await;
    let b = call(mode, "stock", &s2, json!({"prompt": "there"})).await;
    let (pids1, pids2) = (session_pids(&s1), session_pids(&s2));
    assert!(!pids1.is_empty() && pids1.iter().all(|p| !pids2.contains(p)));
    match mode {
        Mode::Root => assert_ne!(a["uid"], b["uid"], "two live sessions share a uid"),
        // Told apart by their namespaces: the same uid inside each, never root.
        Mode::Unprivileged => assert_eq!(
            (a["uid"].as_u64(), b["uid"].as_u64()),
            (Some(AGENT_UID), Some(AGENT_UID))
        ),
    }
    assert_eq!(a["echo"], "hi");
    assert_eq!(a["session"], s1.as_str());
    assert!(a["user"].as_str().is_some_and(|u| !u.is_empty()));
    let again = call(mode, "stock", &s1, json!({"prompt": "again"})).await;
    assert_eq!(
        (again["pid"].clone(), again["turn"].as_u64()),
        (a["pid"].clone(), Some(2))
    );
    assert_eq!(session_pids(&s1), pids1, "the session's process changed");
    // Its directory: outside the data directory, 0700, owned by the session's uid (without root: gatehouse's,
    // which is the agent's uid inside its namespace).
    let cwd = PathBuf::from(a["cwd"].as_str().unwrap());
    assert!(
        cwd.starts_with(f.tmp.path().join("sessions")),
        "{}",
        cwd.display()
    );
    assert!(!cwd.starts_with(&f.gw.dir));
    let meta = std::fs::metadata(&cwd).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o700);
    match mode {
        Mode::Root => {
            assert_eq!(u64::from(meta.uid()), a["uid"].as_u64().unwrap());
            assert!(meta.uid() >= 2_100_000_000);
        }
        Mode::Unprivileged => assert_eq!(meta.uid(), UNPRIVILEGED_UID),
    }
    assert!(cwd.join("notes.txt").is_file());
    // After the idle timeout every process of the session is gone and its directory removed — sooner than the
    // 10 s stop grace, so the agent ended on SIGTERM, not on the SIGKILL after it.
    let deadline = Instant::now() + Duration::from_secs(9);
    while !session_pids(&s1).is_empty() || cwd.exists() {
        assert!(
            Instant::now() < deadline,
            "the idle session was not cleaned up: pids {:?} dir {}",
            session_pids(&s1),
            cwd.exists()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A session's agent that dies (SIGKILL from outside) is a crash: the next call gets a new process, counted.
async fn a_crashed_agent_is_replaced_by_a_new_process(mode: Mode) {
    let f = fixture(mode);
    let s = new_session();
    assert_eq!(
        call(mode, "stock", &s, json!({"prompt": "a"})).await["turn"],
        1
    );
    assert_eq!(
        call(mode, "stock", &s, json!({"prompt": "b"})).await["turn"],
        2
    );
    let before = session_pids(&s);
    let agent = before
        .iter()
        .copied()
        .find(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("stock_agent.py"))
        })
        .expect("the session's agent process");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(agent as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while before.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "the session's processes outlived its agent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let again = call(mode, "stock", &s, json!({"prompt": "c"})).await;
    assert_eq!(again["turn"], 1, "{again}");
    let metrics = crate::common::body_text(
        send("GET", &format!("{}/metrics", f.gw.endpoints.admin), &[], "").await,
    )
    .await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("gatehouse_agent_process_crashes_total ") && !l.ends_with(" 0")),
        "the crash was not counted"
    );
}

in_both_modes!(a_crashed_agent_is_replaced_by_a_new_process);

/// Killing gatehouse (SIGKILL, no clean-up of its own) ends every process of its sessions, and its next start
/// removes the working directories they left (no live gatehouse holds them locked).
#[tokio::test]
async fn no_session_process_outlives_a_killed_unprivileged_gatehouse_and_the_next_start_sweeps_up()
{
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("kill.toml");
    let config = format!(
        "version = 1\n[sandbox]\nworkdir_root = \"{}\"\n[[runtime]]\nname = \"stock\"\ncommand = [\"python3\", \"{}\"]\n",
        tmp.path().join("sessions").display(),
        agent_script("stock_agent.py"),
    );
    std::fs::write(&path, config).unwrap();
    give_away(tmp.path());
    let mut gw = Gatehouse::start_as(
        &tmp.path().join("data"),
        &["--config", path.to_str().unwrap()],
        UNPRIVILEGED_UID,
    );
    let user = gw.new_user("orphan");
    let token = gw.access_token(&user).await;
    let sessions = [new_session(), new_session()];
    let mut dirs = Vec::new();
    for s in &sessions {
        let r = invoke(
            &url(&gw, "stock"),
            Some(&token),
            &[(SESSION, s.as_str())],
            &json!({"prompt": "x"}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        dirs.push(PathBuf::from(r.json()["cwd"].as_str().unwrap()));
    }
    let pids: Vec<i64> = sessions.iter().flat_map(|s| session_pids(s)).collect();
    // Per session: the dialer, the namespace's init and the agent.
    assert!(pids.len() >= 6, "{pids:?}");
    gw.child.kill().unwrap();
    let _ = gw.child.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "session processes outlived gatehouse: {pids:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dirs.iter().all(|d| d.is_dir()), "nothing left to sweep");
    // The killed run's endpoints.json would pass for the new run's.
    std::fs::remove_file(tmp.path().join("data/endpoints.json")).unwrap();
    let mut again = Gatehouse::start_as(
        &tmp.path().join("data"),
        &["--config", path.to_str().unwrap()],
        UNPRIVILEGED_UID,
    );
    let left: Vec<_> = dirs.iter().filter(|d| d.exists()).collect();
    again.stop();
    assert!(left.is_empty(), "not swept: {left:?}");
}

async fn up_refuses_a_sandboxed_runtime_it_cannot_provide(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bad.toml");
    std::fs::write(
        &path,
        "version = 1\n[sandbox]\nworkdir_root = \"/proc/gatehouse-cannot-write-here\"\n\
         [[runtime]]\nname = \"agent\"\ncommand = [\"gatehouse\", \"agent\"]\n",
    )
    .unwrap();
    let uid = match mode {
        Mode::Root => None,
        Mode::Unprivileged => {
            give_away(tmp.path());
            Some(UNPRIVILEGED_UID)
        }
    };
    let out = up_output_as(
        &tmp.path().join("data"),
        &["--config", path.to_str().unwrap()],
        uid,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("runtime agent needs the agent sandbox") && err.contains("working directory"),
        "{err}"
    );
}

in_both_modes!(up_refuses_a_sandboxed_runtime_it_cannot_provide);

fn environ(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap()
        .split(|b| *b == 0)
        .map(|kv| String::from_utf8_lossy(kv).into_owned())
        .collect()
}

#[tokio::test]
async fn the_reference_agent_gets_none_of_gatehouses_environment() {
    let g = Gatehouse::start();
    let user = g.new_user("refenv");
    let token = g.access_token(&user).await;
    let demo = url(&g, "demo");
    let r = invoke(&demo, Some(&token), &[], &json!({"stream": false})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let agent_pid = r.json()["pid"].as_u64().unwrap() as u32;
    assert_ne!(agent_pid, g.child.id());
    let ours = environ(g.child.id());
    let leaked: Vec<&String> = ours.iter().filter(|kv| kv.starts_with("CARGO")).collect();
    assert!(
        !leaked.is_empty(),
        "gatehouse itself has no CARGO_* variable to leak"
    );
    let theirs = environ(agent_pid);
    for kv in &theirs {
        let key = kv.split('=').next().unwrap_or_default();
        assert!(
            key.is_empty() || gatehouse::agent::child::ENV_ALLOWLIST.contains(&key),
            "the reference agent got {key} from gatehouse's environment"
        );
    }
}

#[tokio::test]
async fn keep_workdir_keeps_a_sessions_directory_after_it_ends() {
    let mode = Mode::Root;
    let f = fixture(mode);
    let s = new_session();
    let v = call(mode, "kept", &s, json!({"prompt": "keep me"})).await;
    let cwd = PathBuf::from(v["cwd"].as_str().unwrap());
    let pid = v["pid"].as_i64().unwrap();
    let stop = url(&f.gw, "kept").replace("/invocations", "/stopruntimesession");
    let auth = format!("Bearer {}", token(mode).await);
    let r = send(
        "POST",
        &stop,
        &[("authorization", &auth), (SESSION, &s)],
        "{}",
    )
    .await;
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(15);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "the stopped session's process lives on"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        cwd.join("notes.txt").is_file(),
        "the kept directory is gone"
    );
    std::fs::remove_dir_all(&cwd).unwrap();
}

in_both_modes!(
    a_session_agent_cannot_read_the_store_file,
    a_session_agent_cannot_read_the_signing_key_through_gatehouses_files,
    a_session_agent_cannot_read_another_sessions_files,
    a_session_agent_cannot_read_gatehouses_environment,
    a_session_agent_cannot_read_gatehouses_memory,
    a_session_agent_cannot_reach_another_sessions_agent,
    a_session_agent_cannot_reach_the_reference_agent_or_gatehouse,
    a_session_agent_cannot_ptrace_gatehouse,
    a_session_agent_cannot_write_outside_its_directory,
    a_session_agent_cannot_regain_root_through_a_setuid_binary,
    a_session_agent_has_no_capabilities_and_cannot_gain_any,
    a_stock_python_agent_works_per_session_with_its_own_uid_and_directory
);

/// /tmp is private in the sandbox; an agent whose program lies there (or gatehouse itself, built under /tmp) still
/// starts: the files its command line names are bound back read-only, and the run is sandboxed (its own uid).
async fn an_agent_installed_under_tmp_still_starts_sandboxed(mode: Mode) {
    let s = new_session();
    let a = call(mode, "from_tmp", &s, json!({"prompt": "from tmp"})).await;
    assert_eq!(a["echo"], "from tmp");
    assert_eq!(a["session"], s.as_str());
    let sandboxed = match mode {
        Mode::Root => a["uid"].as_u64().is_some_and(|u| u >= 2_100_000_000),
        Mode::Unprivileged => a["uid"].as_u64() == Some(AGENT_UID),
    };
    assert!(sandboxed, "not sandboxed: {a}");
}

in_both_modes!(an_agent_installed_under_tmp_still_starts_sandboxed);
