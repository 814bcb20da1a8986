//! Cross-instance forwarding of isolated sessions: two real `gatehouse up` processes share one
//! database (a SQLite file: WAL and a busy timeout make that safe for processes on one machine) and a cluster
//! secret. A session whose agent process runs on A and whose request lands on B is served by A's process through
//! A's internal listener, the session row names A; when A is gone the session starts afresh on B. The internal
//! listener refuses requests without the exact secret and is not reachable through the public gateway.
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{json, Value};

use crate::cluster::redis_limits::{metric, metrics, user_token};
use crate::common::pg::TestDb;
use crate::common::{body_text, invoke, send, Gatehouse, Invocation};

const SESSION: &str = "x-amzn-bedrock-agentcore-runtime-session-id";

struct Pair {
    // Fields drop in order: the instances before their database.
    a: Gatehouse,
    b: Option<Gatehouse>,
    db: String,
    secret: String,
    _tmp: tempfile::TempDir,
    _pg: Option<TestDb>,
}

fn config(dir: &Path, secret_file: &Path, idp: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("gatehouse.toml");
    std::fs::write(
        &path,
        format!(
            "version = 1\n[idp]\n{idp}\n[cluster]\nshared_secret_file = \"{}\"\n[[runtime]]\nname = \"isolated\"\n\
             command = [\"gatehouse\", \"agent\"]\n\n[[runtime]]\nname = \"tools\"\nprotocol = \"mcp\"\n\
             command = [\"gatehouse\", \"agent\", \"--protocol\", \"mcp\"]\n",
            secret_file.display()
        ),
    )
    .unwrap();
    path
}

fn up(dir: &Path, config: &Path, db: &str) -> Gatehouse {
    let log = std::fs::File::create(dir.with_extension("log")).unwrap();
    Gatehouse::start_in_with(
        dir,
        "127.0.0.1:0",
        &[
            "--config",
            &config.display().to_string(),
            "--database-url",
            db,
            "--internal-listen",
            "127.0.0.1:0",
        ],
        "info",
        Stdio::from(log),
    )
}

/// A and (optionally) B on one database (a SQLite file, or `pg`); B issues and accepts tokens under A's issuer.
fn pair(with_b: bool, pg: Option<TestDb>) -> Pair {
    let tmp = tempfile::tempdir().unwrap();
    let db = match &pg {
        Some(p) => p.url.clone(),
        None => format!("sqlite:{}", tmp.path().join("shared.db").display()),
    };
    let secret = gatehouse::util::random_alnum(48);
    let secret_file = tmp.path().join("cluster-secret");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    let a = up(
        &tmp.path().join("a"),
        &config(&tmp.path().join("a-cfg"), &secret_file, ""),
        &db,
    );
    let b = with_b.then(|| {
        let idp = format!("public_url = \"{}\"", a.endpoints.idp);
        up(
            &tmp.path().join("b"),
            &config(&tmp.path().join("b-cfg"), &secret_file, &idp),
            &db,
        )
    });
    Pair {
        a,
        b,
        db,
        secret,
        _tmp: tmp,
        _pg: pg,
    }
}

fn whoami(r: &Invocation) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    r.events()
        .into_iter()
        .find(|e| e["type"] == "whoami")
        .unwrap()
}

async fn recorded_instance(db: &str, arn: &str, session: &str) -> Option<String> {
    let tmp = tempfile::tempdir().unwrap();
    let url = gatehouse::store::DatabaseUrl::resolve(tmp.path(), Some(db)).unwrap();
    let store = gatehouse::store::open(&url).await.unwrap();
    store.session_instance(arn, session).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_on_another_instance_is_forwarded_there_and_restarts_here_when_it_is_gone() {
    forwarded_then_taken_over(pair(true, None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_and_takeover_work_on_postgresql_too() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    forwarded_then_taken_over(pair(true, Some(db))).await;
}

async fn forwarded_then_taken_over(mut p: Pair) {
    let b = p.b.take().unwrap();
    let a_internal =
        p.a.endpoints
            .internal
            .clone()
            .expect("A advertises its internal URL");
    let b_internal = b.endpoints.internal.clone().unwrap();
    assert_ne!(a_internal, b_internal);
    let arn = p.a.endpoints.runtimes[0].arn.clone();
    assert_eq!(arn, b.endpoints.runtimes[0].arn);
    let token = user_token(&p.a, &p.db).await;

    // The session starts on A: A runs its process and the session row names A.
    let first = invoke(&p.a.invocations_url(), Some(&token), &[], &json!({})).await;
    let w1 = whoami(&first);
    let session = first.session_id();
    assert_eq!(w1["turn"], 1);
    assert_eq!(
        recorded_instance(&p.db, &arn, &session).await.as_deref(),
        Some(a_internal.as_str())
    );

    // Its next request lands on B, which forwards it to A: the same process answers (turn 2, same pid).
    let second = invoke(
        &b.invocations_url(),
        Some(&token),
        &[(SESSION, &session)],
        &json!({"prompt": "via B"}),
    )
    .await;
    let w2 = whoami(&second);
    assert_eq!(w2["turn"], 2, "{w2}");
    assert_eq!(w2["pid"], w1["pid"]);
    assert_eq!(w2["session_id"], session.as_str());
    assert_eq!(w2["user_id"], w1["user_id"]);
    assert!(
        w2["headers"].get("x-gatehouse-cluster-secret").is_none(),
        "the agent never sees the cluster secret: {w2}"
    );
    assert_eq!(second.session_id(), session);
    let (ma, mb) = (metrics(&p.a).await, metrics(&b).await);
    assert_eq!(metric(&ma, "gatehouse_agent_processes"), Some(1), "{ma}");
    assert_eq!(metric(&mb, "gatehouse_agent_processes"), Some(0), "{mb}");

    // A goes away: the session starts afresh on B (a new process, turn 1) and the row names B.
    let mut a = p.a;
    assert!(a.stop().success());
    let third = invoke(
        &b.invocations_url(),
        Some(&token),
        &[(SESSION, &session)],
        &json!({}),
    )
    .await;
    let w3 = whoami(&third);
    assert_eq!(w3["turn"], 1, "{w3}");
    assert_ne!(w3["pid"], w1["pid"]);
    assert_eq!(
        recorded_instance(&p.db, &arn, &session).await.as_deref(),
        Some(b_internal.as_str())
    );
    let fourth = invoke(
        &b.invocations_url(),
        Some(&token),
        &[(SESSION, &session)],
        &json!({}),
    )
    .await;
    assert_eq!(whoami(&fourth)["turn"], 2, "B keeps the session now");
}

/// One MCP request to `url` (an instance's `tools` runtime) with `method` and, for POST, a `tools/call` of `tool`.
async fn mcp(
    url: &str,
    token: &str,
    method: &str,
    session: Option<&str>,
    body: &Value,
) -> Invocation {
    let auth = format!("Bearer {token}");
    let mut h = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json"),
    ];
    if let Some(s) = session {
        h.push(("mcp-session-id", s));
    }
    let payload = if method == "POST" {
        body.to_string()
    } else {
        String::new()
    };
    let resp = send(method, url, &h, payload).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    Invocation {
        status,
        headers,
        body: body_text(resp).await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_session_on_another_instance_is_served_by_its_process_there_for_post_and_delete() {
    let p = pair(true, None);
    let b = p.b.as_ref().unwrap();
    let token = user_token(&p.a, &p.db).await;
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",
        "capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let call = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}});
    let first = mcp(&p.a.runtime_url("tools"), &token, "POST", None, &init).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let session = first.headers["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let on_a = mcp(
        &p.a.runtime_url("tools"),
        &token,
        "POST",
        Some(&session),
        &call,
    )
    .await;
    let via_b = mcp(
        &b.runtime_url("tools"),
        &token,
        "POST",
        Some(&session),
        &call,
    )
    .await;
    assert_eq!(via_b.status, 200, "{}", via_b.body);
    let pid = |r: &Invocation| r.json()["result"]["structuredContent"]["pid"].clone();
    assert_eq!(
        pid(&via_b),
        pid(&on_a),
        "B forwarded to the session's process on A"
    );
    assert_eq!(
        via_b.session_id(),
        session,
        "the MCP session is the runtime session"
    );
    // A DELETE through B reaches A's process as a DELETE (a POST without a body would be a parse error).
    let ended = mcp(
        &b.runtime_url("tools"),
        &token,
        "DELETE",
        Some(&session),
        &Value::Null,
    )
    .await;
    assert_eq!(ended.status, 200, "{}", ended.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_session_on_another_instance_stops_its_process_there() {
    let mut p = pair(true, None);
    let b = p.b.take().unwrap();
    let token = user_token(&p.a, &p.db).await;
    let first = invoke(&p.a.invocations_url(), Some(&token), &[], &json!({})).await;
    whoami(&first);
    let session = first.session_id();
    let stop_url =
        p.a.invocations_url()
            .replace(&p.a.endpoints.gateway, &b.endpoints.gateway)
            .replace("/invocations", "/stopruntimesession");
    let r = send(
        "POST",
        &stop_url,
        &[
            ("authorization", &format!("Bearer {token}")),
            (SESSION, &session),
        ],
        "",
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(r).await);
    let arn = p.a.endpoints.runtimes[0].arn.clone();
    assert_eq!(
        recorded_instance(&p.db, &arn, &session).await,
        None,
        "a stopped session names no instance any more"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while metric(&metrics(&p.a).await, "gatehouse_agent_processes") != Some(0) {
        assert!(
            std::time::Instant::now() < deadline,
            "A's session process did not stop"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_internal_listener_refuses_requests_without_the_shared_secret() {
    let p = pair(false, None);
    let internal = p.a.endpoints.internal.clone().unwrap();
    let arn = p.a.endpoints.runtimes[0].arn.clone();
    let session = format!("{}-forged-session", gatehouse::util::uuid_v4());
    let forged = |secret: Option<String>| {
        let (arn, session, internal) = (arn.clone(), session.clone(), internal.clone());
        async move {
            let mut h: Vec<(&str, String)> = vec![
                ("x-gatehouse-runtime-arn", arn),
                (SESSION, session),
                (
                    "x-amzn-bedrock-agentcore-runtime-user-id",
                    "victim-sub".into(),
                ),
                ("content-type", "application/json".into()),
            ];
            if let Some(s) = secret {
                h.push(("x-gatehouse-cluster-secret", s));
            }
            let headers: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            send(
                "POST",
                &format!("{internal}/internal/v1/invocations"),
                &headers,
                "{}",
            )
            .await
        }
    };
    for (what, secret) in [
        ("no secret", None),
        ("a wrong secret", Some("x".repeat(48))),
        ("a truncated secret", Some(p.secret[..40].to_string())),
        ("the secret with a suffix", Some(format!("{}x", p.secret))),
    ] {
        let r = forged(secret).await;
        assert_eq!(r.status(), 403, "{what}");
        assert_eq!(
            r.headers()["x-amzn-errortype"],
            "AccessDeniedException",
            "{what}"
        );
    }
    for (method, path) in [
        ("GET", "/internal/v1/ws"),
        ("POST", "/internal/v1/stop"),
        ("GET", "/internal/v1/ping"),
    ] {
        let r = send(method, &format!("{internal}{path}"), &[], "").await;
        assert_eq!(r.status(), 403, "{path} without the secret");
    }
    let r = send(
        "GET",
        &format!("{internal}/internal/v1/ping"),
        &[("x-gatehouse-cluster-secret", &p.secret)],
        "",
    )
    .await;
    assert_eq!(r.status(), 200, "with the secret the listener answers");

    // The public gateway serves none of the internal routes, with or without the secret.
    for path in [
        "/internal/v1/invocations",
        "/internal/v1/ping",
        "/internal/v1/stop",
    ] {
        let r = send(
            "POST",
            &format!("{}{path}", p.a.endpoints.gateway),
            &[("x-gatehouse-cluster-secret", &p.secret)],
            "{}",
        )
        .await;
        assert_eq!(r.status(), 404, "{path} on the public gateway");
    }
    // A client's secret header is never passed on by the public gateway (it is not on any allow-list).
    let token = user_token(&p.a, &p.db).await;
    let r = invoke(
        &p.a.invocations_url(),
        Some(&token),
        &[("x-gatehouse-cluster-secret", &p.secret)],
        &json!({}),
    )
    .await;
    assert!(whoami(&r)["headers"]
        .get("x-gatehouse-cluster-secret")
        .is_none());
    // With the secret, the internal listener serves the identity it is given: that is why it needs the secret.
    let r = forged(Some(p.secret.clone())).await;
    let text = body_text(r).await;
    assert!(text.contains("victim-sub"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_on_another_instance_is_relayed_to_the_sessions_process() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    use tokio_tungstenite::tungstenite::Message;

    let mut p = pair(true, None);
    let b = p.b.take().unwrap();
    let token = user_token(&p.a, &p.db).await;
    let first = invoke(&p.a.invocations_url(), Some(&token), &[], &json!({})).await;
    let pid = whoami(&first)["pid"].clone();
    let session = first.session_id();

    let mut req = b.endpoints.runtimes[0]
        .ws_url
        .as_str()
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req.headers_mut().insert(SESSION, session.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    for turn in [2, 3] {
        ws.send(Message::Text(json!({"prompt": "hi"}).to_string().into()))
            .await
            .unwrap();
        let reply = loop {
            match ws.next().await.unwrap().unwrap() {
                Message::Text(t) => break serde_json::from_str::<Value>(t.as_str()).unwrap(),
                _ => continue,
            }
        };
        assert_eq!(reply["turn"], turn, "{reply}");
        assert_eq!(reply["pid"], pid, "A's process answers through B");
        assert_eq!(reply["session_id"], session.as_str());
        assert!(reply["headers"].get("x-gatehouse-cluster-secret").is_none());
    }
    ws.close(None).await.unwrap();
    assert_eq!(
        metric(&metrics(&b).await, "gatehouse_agent_processes"),
        Some(0),
        "B started no process of its own"
    );
}

#[test]
fn cluster_misconfigurations_stop_up_with_a_message_that_says_what_to_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(crate::common::BIN)
            .args(["up", "--data-dir"])
            .arg(tmp.path().join("data"))
            .args(crate::common::LOOPBACK_LISTENERS)
            .args(extra)
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, out) = run(&["--internal-listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(64), "{out}");
    assert!(out.contains("shared_secret_file"), "{out}");

    let short = "tooshort-but-secret";
    let secret_file = tmp.path().join("secret");
    std::fs::write(&secret_file, short).unwrap();
    let cfg = config(&tmp.path().join("cfg"), &secret_file, "");
    let (code, out) = run(&[
        "--config",
        cfg.to_str().unwrap(),
        "--internal-listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, Some(64), "{out}");
    assert!(out.contains("at least 32 bytes"), "{out}");
    assert!(!out.contains(short), "the secret is never printed: {out}");

    let good = tmp.path().join("good-secret");
    std::fs::write(&good, "k".repeat(40)).unwrap();
    let cfg = config(&tmp.path().join("cfg2"), &good, "");
    let (code, out) = run(&[
        "--config",
        cfg.to_str().unwrap(),
        "--internal-listen",
        "0.0.0.0:0",
    ]);
    assert_eq!(code, Some(64), "{out}");
    assert!(out.contains("internal_url"), "{out}");
}
