//! Session isolation: `command = ["gatehouse", "agent"]` runtimes get one process per session, with AgentCore's
//! lifecycle (idle timeout, maximum lifetime, HealthyBusy, StopRuntimeSession) and no orphans. The HealthyBusy,
//! maximum-lifetime and HTTP-and-WebSocket cases run in both sandbox modes (`…::as_root`, `…::without_root`:
//! without root an agent's own pid is its PID namespace's, so its host pids are found by its session).
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

use crate::common::unprivileged::{give_away, in_both_modes, session_pids, Mode, UNPRIVILEGED_UID};
use crate::common::{body_text, invoke, send, Gatehouse, BIN};

const SESSION: &str = "x-amzn-bedrock-agentcore-runtime-session-id";

struct Fixture {
    gw: Gatehouse,
    _tmp: tempfile::TempDir,
}

const CONFIG: &str = r#"
version = 1
[[runtime]]
name = "iso"
command = ["gatehouse", "agent"]
idle_timeout = "2s"

[[runtime]]
name = "iso_life"
command = ["gatehouse", "agent"]
idle_timeout = "3s"
max_lifetime = "3s"

[[runtime]]
name = "iso_fail"
command = ["/bin/false"]

[[runtime]]
name = "iso_limited"
command = ["gatehouse", "agent"]
[runtime.limits]
cpu_time_limit_secs = 3600
memory_limit_mb = 4096

[[runtime]]
name = "iso_cap"
command = ["gatehouse", "agent"]
[runtime.limits]
max_processes = 1
"#;

fn start(config: &str) -> (Gatehouse, tempfile::TempDir) {
    start_in_mode(config, Mode::Root)
}

fn start_in_mode(config: &str, mode: Mode) -> (Gatehouse, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("iso.toml");
    // Session working directories in the test's own temp dir (the default root is system-wide).
    let config = format!(
        "{config}\n[sandbox]\nworkdir_root = \"{}\"\n",
        tmp.path().join("sessions").display()
    );
    std::fs::write(&path, config).unwrap();
    let (data, args) = (
        tmp.path().join("data"),
        ["--config", path.to_str().unwrap()],
    );
    let gw = match mode {
        Mode::Root => Gatehouse::start_in(&data, &args),
        Mode::Unprivileged => {
            give_away(tmp.path());
            Gatehouse::start_as(&data, &args, UNPRIVILEGED_UID)
        }
    };
    (gw, tmp)
}

fn fixture() -> &'static Fixture {
    fixture_in(Mode::Root)
}

fn fixture_in(mode: Mode) -> &'static Fixture {
    static ROOT: OnceLock<Fixture> = OnceLock::new();
    static UNPRIVILEGED: OnceLock<Fixture> = OnceLock::new();
    let cell = match mode {
        Mode::Root => &ROOT,
        Mode::Unprivileged => &UNPRIVILEGED,
    };
    cell.get_or_init(|| {
        let (gw, tmp) = start_in_mode(CONFIG, mode);
        Fixture { gw, _tmp: tmp }
    })
}

/// The host pids of a session whose agent answered `reply`: its own pid as root; without root (where that pid
/// is its namespace's) every live process of the session (the dialer, the namespace's init, the agent).
fn host_pids(mode: Mode, session: &str, reply: &Value) -> Vec<i64> {
    match mode {
        Mode::Root => vec![reply["pid"].as_i64().unwrap()],
        Mode::Unprivileged => {
            let pids = session_pids(session);
            assert!(!pids.is_empty(), "no process of session {session}");
            pids
        }
    }
}

/// The host pid of the session's agent program (`gatehouse agent`, not an `exec-agent` stage).
fn agent_host_pid(mode: Mode, session: &str, reply: &Value) -> i64 {
    host_pids(mode, session, reply)
        .into_iter()
        .find(|p| {
            let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            cmdline.split(|b| *b == 0).nth(1) == Some(b"agent".as_slice())
        })
        .expect("the session's agent process")
}

async fn wait_all_dead(pids: &[i64], within: Duration) {
    for pid in pids {
        wait_dead(*pid, within).await;
    }
}

fn url(g: &Gatehouse, runtime: &str) -> String {
    g.runtime_url(runtime)
}

fn new_session() -> String {
    format!("iso-{}", gatehouse::util::random_alnum(36))
}

async fn call(g: &Gatehouse, runtime: &str, token: &str, session: &str, body: Value) -> Value {
    let mut b = body;
    b["stream"] = json!(false);
    let r = invoke(&url(g, runtime), Some(token), &[(SESSION, session)], &b).await;
    assert_eq!(r.status, 200, "{runtime}: {}", r.body);
    r.json()
}

fn alive(pid: i64) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

async fn wait_dead(pid: i64, within: Duration) {
    let deadline = Instant::now() + within;
    while alive(pid) {
        assert!(Instant::now() < deadline, "process {pid} still alive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn each_session_gets_its_own_process_and_keeps_it_across_http_and_websocket(mode: Mode) {
    let f = fixture_in(mode);
    let user = f.gw.new_user("iso");
    let token = f.gw.access_token(&user).await;
    let (s1, s2) = (new_session(), new_session());
    let a1 = call(&f.gw, "iso", &token, &s1, json!({})).await;
    let b1 = call(&f.gw, "iso", &token, &s2, json!({})).await;
    let (pids_a, pids_b) = (host_pids(mode, &s1, &a1), host_pids(mode, &s2, &b1));
    assert!(
        pids_a.iter().all(|p| !pids_b.contains(p)),
        "two sessions share a process"
    );
    assert_eq!(
        (a1["turn"].as_u64(), b1["turn"].as_u64()),
        (Some(1), Some(1))
    );
    let a2 = call(&f.gw, "iso", &token, &s1, json!({})).await;
    assert_eq!(a2["pid"], a1["pid"]);
    assert_eq!(a2["turn"], 2);
    // The same session over WebSocket reaches the same process and its counter.
    let ws_url =
        f.gw.endpoints
            .runtimes
            .iter()
            .find(|r| r.name == "iso")
            .unwrap()
            .ws_url
            .clone();
    let mut req = format!("{ws_url}&{SESSION}={s1}")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::Text(
        json!({"prompt": "over ws"}).to_string().into(),
    ))
    .await
    .unwrap();
    let Some(Ok(Message::Text(t))) = ws.next().await else {
        panic!("no ws reply")
    };
    let v: Value = serde_json::from_str(t.as_str()).unwrap();
    assert_eq!(v["pid"], a1["pid"]);
    assert_eq!(v["turn"], 3);
    // The process got a minimal environment: its session, its port, nothing of gatehouse's.
    assert_eq!(
        host_pids(mode, &s1, &a1),
        pids_a,
        "the session's process changed"
    );
    let agent = agent_host_pid(mode, &s1, &a1);
    let environ = std::fs::read(format!("/proc/{agent}/environ")).unwrap();
    let env: Vec<String> = environ
        .split(|b| *b == 0)
        .map(|kv| String::from_utf8_lossy(kv).into_owned())
        .collect();
    assert!(
        env.contains(&format!("GATEHOUSE_SESSION_ID={s1}")),
        "{env:?}"
    );
    assert!(env.iter().any(|kv| kv.starts_with("PORT=")));
    assert!(env.contains(&"GATEHOUSE_RUNTIME=iso".to_string()));
    assert!(
        !env.iter().any(|kv| kv.starts_with("RUST_LOG=")
            || kv.starts_with("GATEHOUSE_DATA_DIR=")
            || kv.starts_with("CARGO")),
        "{env:?}"
    );
}

#[tokio::test]
async fn an_idle_session_is_stopped_and_the_next_call_starts_afresh() {
    let f = fixture();
    let user = f.gw.new_user("idle");
    let token = f.gw.access_token(&user).await;
    let s = new_session();
    let first = call(&f.gw, "iso", &token, &s, json!({})).await;
    let pid = first["pid"].as_i64().unwrap();
    wait_dead(pid, Duration::from_secs(20)).await;
    let again = call(&f.gw, "iso", &token, &s, json!({})).await;
    assert_ne!(again["pid"], first["pid"]);
    assert_eq!(again["turn"], 1);
}

async fn healthy_busy_defers_the_idle_stop(mode: Mode) {
    let f = fixture_in(mode);
    let user = f.gw.new_user("busy");
    let token = f.gw.access_token(&user).await;
    let s = new_session();
    let started = Instant::now();
    let first = call(&f.gw, "iso", &token, &s, json!({"busy_ms": 6000})).await;
    let pids = host_pids(mode, &s, &first);
    // Idle timeout is 2 s; the agent says HealthyBusy for 6 s.
    tokio::time::sleep_until((started + Duration::from_secs(4)).into()).await;
    assert!(pids.iter().all(|p| alive(*p)), "stopped while HealthyBusy");
    wait_all_dead(&pids, Duration::from_secs(20)).await;
    assert!(
        started.elapsed() >= Duration::from_secs(6),
        "stopped before the busy period ended"
    );
}

async fn max_lifetime_stops_even_a_busy_session(mode: Mode) {
    let f = fixture_in(mode);
    let user = f.gw.new_user("life");
    let token = f.gw.access_token(&user).await;
    let s = new_session();
    let first = call(&f.gw, "iso_life", &token, &s, json!({"busy_ms": 60000})).await;
    let pids = host_pids(mode, &s, &first);
    wait_all_dead(&pids, Duration::from_secs(20)).await;
    let again = call(&f.gw, "iso_life", &token, &s, json!({})).await;
    assert!(
        host_pids(mode, &s, &again)
            .iter()
            .all(|p| !pids.contains(p)),
        "the same process again"
    );
    assert_eq!(again["turn"], 1);
}

in_both_modes!(
    each_session_gets_its_own_process_and_keeps_it_across_http_and_websocket,
    healthy_busy_defers_the_idle_stop,
    max_lifetime_stops_even_a_busy_session
);

#[tokio::test]
async fn stop_runtime_session_stops_the_process() {
    let f = fixture();
    let user = f.gw.new_user("stop");
    let token = f.gw.access_token(&user).await;
    let s = new_session();
    let first = call(&f.gw, "iso", &token, &s, json!({})).await;
    let pid = first["pid"].as_i64().unwrap();
    let stop_url = url(&f.gw, "iso").replace("/invocations", "/stopruntimesession");
    let auth = format!("Bearer {token}");
    let r = send(
        "POST",
        &stop_url,
        &[("authorization", &auth), (SESSION, &s)],
        "{}",
    )
    .await;
    assert_eq!(r.status(), 200);
    wait_dead(pid, Duration::from_secs(15)).await;
    let again = call(&f.gw, "iso", &token, &s, json!({})).await;
    assert_eq!(again["turn"], 1);
}

#[tokio::test]
async fn killing_the_agent_mid_stream_ends_the_stream_cleanly_and_the_next_call_gets_a_new_process()
{
    let f = fixture();
    let user = f.gw.new_user("crash");
    let token = f.gw.access_token(&user).await;
    let s = new_session();
    let first = call(&f.gw, "iso", &token, &s, json!({})).await;
    let pid = first["pid"].as_i64().unwrap();
    let auth = format!("Bearer {token}");
    let resp = send(
        "POST",
        &url(&f.gw, "iso"),
        &[("authorization", &auth), (SESSION, &s)],
        json!({"prompt": "a b c", "delay_ms": 20000}).to_string(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let first_frame = body.frame().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(first_frame.data_ref().unwrap()).contains("whoami"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let rest = tokio::time::timeout(
        Duration::from_secs(10),
        http_body_util::BodyExt::collect(body),
    )
    .await
    .expect("the stream hung")
    .unwrap();
    let text = String::from_utf8(rest.to_bytes().to_vec()).unwrap();
    assert!(text.contains("RuntimeClientError"), "{text}");
    let again = call(&f.gw, "iso", &token, &s, json!({})).await;
    assert_ne!(again["pid"], first["pid"]);
    assert_eq!(again["turn"], 1);
    let metrics =
        body_text(send("GET", &format!("{}/metrics", f.gw.endpoints.admin), &[], "").await).await;
    let crashes: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("gatehouse_agent_process_crashes_total "))
        .expect("crash counter missing")
        .trim()
        .parse()
        .unwrap();
    assert!(crashes >= 1, "the crash was not counted: {metrics}");
}

#[tokio::test]
async fn start_failures_are_503_and_process_limits_429() {
    let f = fixture();
    let user = f.gw.new_user("fail");
    let token = f.gw.access_token(&user).await;
    let r = invoke(&url(&f.gw, "iso_fail"), Some(&token), &[], &json!({})).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        !r.body.contains("/bin/false"),
        "internal detail leaked: {}",
        r.body
    );
    let ok = invoke(
        &url(&f.gw, "iso_cap"),
        Some(&token),
        &[(SESSION, &new_session())],
        &json!({}),
    )
    .await;
    assert_eq!(ok.status, 200);
    let capped = invoke(
        &url(&f.gw, "iso_cap"),
        Some(&token),
        &[(SESSION, &new_session())],
        &json!({}),
    )
    .await;
    assert_eq!(capped.status, 429, "{}", capped.body);
}

#[tokio::test]
async fn sessions_list_and_stop_from_the_cli() {
    let f = fixture();
    let user = f.gw.new_user("cli");
    let token = f.gw.access_token(&user).await;
    let s = new_session();
    let first = call(&f.gw, "iso", &token, &s, json!({})).await;
    let out = std::process::Command::new(BIN)
        .args(["sessions", "list", "--json", "--data-dir"])
        .arg(&f.gw.dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let row = rows
        .iter()
        .find(|r| r["session_id"] == s.as_str())
        .expect("session not listed");
    assert_eq!(row["pid"], first["pid"]);
    assert_eq!(row["runtime"], "iso");
    let out = std::process::Command::new(BIN)
        .args(["sessions", "stop", "--session", &s, "--data-dir"])
        .arg(&f.gw.dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_dead(first["pid"].as_i64().unwrap(), Duration::from_secs(15)).await;
}

#[tokio::test]
async fn no_agent_outlives_a_killed_gatehouse() {
    let (mut gw, _tmp) =
        start("version = 1\n[[runtime]]\nname = \"iso\"\ncommand = [\"gatehouse\", \"agent\"]\n");
    let user = gw.new_user("orphan");
    let token = gw.access_token(&user).await;
    let v = call(&gw, "iso", &token, &new_session(), json!({})).await;
    let pid = v["pid"].as_i64().unwrap();
    assert!(alive(pid));
    gw.child.kill().unwrap();
    let _ = gw.child.wait();
    wait_dead(pid, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn rlimits_are_applied_to_session_processes() {
    let f = fixture();
    let user = f.gw.new_user("limits");
    let token = f.gw.access_token(&user).await;
    let v = call(&f.gw, "iso_limited", &token, &new_session(), json!({})).await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", v["pid"])).unwrap();
    let line = |name: &str| {
        limits
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(line("Max cpu time").contains("3600 3600"), "{limits}");
    assert!(
        line("Max address space").contains(&(4096u64 * 1024 * 1024).to_string()),
        "{limits}"
    );
}

#[test]
fn a_restart_reaps_processes_an_earlier_run_left_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let session = new_session();
    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .env("GATEHOUSE_SESSION_ID", &session)
        .spawn()
        .unwrap();
    let dir = tmp.path().join("agents");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(child.id().to_string()),
        format!("{}\n{session}\n", child.id()),
    )
    .unwrap();
    // A pid file whose process is not ours (wrong session marker) must not be killed.
    let mut bystander = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    std::fs::write(
        dir.join(bystander.id().to_string()),
        format!("{}\n{session}\n", bystander.id()),
    )
    .unwrap();
    // A process just spawned shows its new environment only once the kernel has finished `execve` (until then
    // /proc/<pid>/environ reads empty); an earlier run's leftovers are long past that point.
    let marker = format!("GATEHOUSE_SESSION_ID={session}");
    crate::common::poll(Duration::from_secs(10), "the child's environment", || {
        let env = std::fs::read(format!("/proc/{}/environ", child.id())).ok()?;
        env.split(|b| *b == 0)
            .any(|kv| kv == marker.as_bytes())
            .then_some(())
    });
    assert_eq!(
        gatehouse::agent::supervisor::Supervisor::reap_leftovers(tmp.path()),
        1
    );
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "a process that is not a session agent was killed"
    );
    let _ = bystander.kill();
    let _ = bystander.wait();
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "pid files are cleaned up"
    );
}
