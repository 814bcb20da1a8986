//! Rate limits shared through Redis: two real `gatehouse up` processes sharing one database and
//! one Redis consume one user's budget together; Redis cut off → fail closed (503) or fail open (admitted), both
//! visible in /metrics and logged once per transition; recovery when Redis comes back. Needs Redis at
//! 127.0.0.1:6379 (`GATEHOUSE_SKIP_REDIS=1` skips these tests when it is absent). Each test uses its own key
//! prefix, so the tests are parallel-safe.
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::common::{body_text, fake_agent, invoke, password, send, Gatehouse};

pub const REDIS: &str = "127.0.0.1:6379";

/// Whether Redis runs; panics with a clear message if not, unless `GATEHOUSE_SKIP_REDIS=1`.
pub fn redis_available() -> bool {
    if std::net::TcpStream::connect_timeout(&REDIS.parse().unwrap(), Duration::from_secs(2)).is_ok()
    {
        return true;
    }
    assert!(
        gatehouse::config::env::EnvSource::get(
            &gatehouse::config::env::ProcessEnv,
            "GATEHOUSE_SKIP_REDIS"
        )
        .is_some_and(|v| v == "1"),
        "Redis is not reachable at {REDIS}: start it (e.g. `redis-server --daemonize yes`) or set \
         GATEHOUSE_SKIP_REDIS=1 to skip the shared-rate-limit tests"
    );
    eprintln!("GATEHOUSE_SKIP_REDIS=1 and no Redis at {REDIS}: skipped");
    false
}

/// A unique key prefix for one test.
fn prefix() -> String {
    format!("ghtest-{}:", gatehouse::util::random_lower_alnum(12))
}

/// A configuration with one runtime (the fake agent) and the given `[gateway]` and `[idp]` extras.
fn write_config(dir: &Path, gateway: &str, idp: &str, burst: u32) -> String {
    let agent = fake_agent::start();
    let path = dir.join("gatehouse.toml");
    std::fs::write(
        &path,
        format!(
            "version = 1\n[idp]\n{idp}\n[gateway]\n{gateway}\n[[runtime]]\nname = \"shared\"\n\
             upstream = \"{agent}\"\n[runtime.limits]\nrequests_per_minute = 1\nburst = {burst}\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

pub async fn metrics(g: &Gatehouse) -> String {
    body_text(send("GET", &format!("{}/metrics", g.endpoints.admin), &[], "").await).await
}

pub fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Polls an async condition every 20 ms until it holds, or panics after `timeout`.
async fn eventually<F, Fut>(timeout: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A TCP proxy to Redis that the test can cut (every connection dropped, new ones refused) and restore.
struct CutProxy {
    addr: String,
    up: Arc<AtomicBool>,
    cuts: tokio::sync::watch::Sender<u64>,
}

impl CutProxy {
    async fn start(target: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = tokio::sync::watch::channel(0u64);
        let (up2, cuts2) = (up.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut = cuts2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { addr, up, cuts }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Starts `up` with `config` on the database `db` (a `sqlite:` URL), logging to `log`.
pub fn start(dir: &Path, config: &str, db: &str, log: &Path) -> Gatehouse {
    let file = std::fs::File::create(log).unwrap();
    Gatehouse::start_in_with(
        dir,
        "127.0.0.1:0",
        &["--config", config, "--database-url", db],
        "info",
        Stdio::from(file),
    )
}

/// A user in the database `db` (the harness passes `g`'s `--database-url` to the CLI), and a token for them
/// from `g`'s IdP.
pub async fn user_token(g: &Gatehouse, db: &str) -> String {
    assert_eq!(g.database_url.as_deref(), Some(db));
    let name = format!("rl-{}", gatehouse::util::random_lower_alnum(8));
    let (ok, out) = g.cli(
        &["user", "create", "--username", &name, "--password-stdin"],
        password(),
    );
    assert!(ok, "user create: {out}");
    g.access_token(&name).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_users_budget_through_redis() {
    if !redis_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", tmp.path().join("shared.db").display());
    let prefix = prefix();
    let gateway = format!(
        "redis_url = \"redis://{REDIS}/0\"\nredis_key_prefix = \"{prefix}\"\nredis_timeout = \"500ms\""
    );
    let cfg_a = write_config(tmp.path(), &gateway, "", 4);
    let a = start(
        &tmp.path().join("a"),
        &cfg_a,
        &db,
        &tmp.path().join("a.log"),
    );
    // B issues and checks tokens under A's issuer: both IdPs sign with the keys of the shared database.
    let dir_b = tmp.path().join("b-cfg");
    std::fs::create_dir_all(&dir_b).unwrap();
    let cfg_b = write_config(
        &dir_b,
        &gateway,
        &format!("public_url = \"{}\"", a.endpoints.idp),
        4,
    );
    let b = start(
        &tmp.path().join("b"),
        &cfg_b,
        &db,
        &tmp.path().join("b.log"),
    );
    assert_eq!(
        a.endpoints.runtimes[0].arn, b.endpoints.runtimes[0].arn,
        "one database, one runtime ARN"
    );
    let token = user_token(&a, &db).await;
    let other = user_token(&a, &db).await;
    let (url_a, url_b) = (a.invocations_url(), b.invocations_url());
    // The burst of 4 is consumed across both instances ...
    for (i, url) in [&url_a, &url_b, &url_a, &url_b].into_iter().enumerate() {
        let r = invoke(url, Some(&token), &[], &json!({})).await;
        assert_eq!(r.status, 200, "request {i}: {}", r.body);
    }
    // ... so the next request is refused on either, with Retry-After (1 token a minute refills).
    for url in [&url_a, &url_b] {
        let r = invoke(url, Some(&token), &[], &json!({})).await;
        assert_eq!(r.status, 429, "{}", r.body);
        assert_eq!(r.headers["x-amzn-errortype"], "ThrottlingException");
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "retry-after {retry}");
    }
    // Another user has a budget of their own.
    let r = invoke(&url_b, Some(&other), &[], &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The buckets live in Redis under the prefix, expire, and name no user in clear.
    let client = redis::Client::open(format!("redis://{REDIS}/0")).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 2, "one bucket per user: {keys:?}");
    for k in &keys {
        assert!(k.starts_with(&format!("{prefix}rl:")), "{k}");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(k)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0 && ttl <= 5 * 60_000, "ttl {ttl} of {k}");
    }
    for g in [&a, &b] {
        let m = metrics(g).await;
        assert_eq!(metric(&m, "gatehouse_ratelimit_backend_up"), Some(1), "{m}");
        assert_eq!(
            metric(&m, "gatehouse_ratelimit_backend_errors_total"),
            Some(0)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_closed_with_503_and_recovers() {
    if !redis_available() {
        return;
    }
    let proxy = CutProxy::start(REDIS).await;
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", tmp.path().join("db.sqlite").display());
    let cfg = write_config(
        tmp.path(),
        &format!(
            "redis_url = \"redis://{}/0\"\nredis_key_prefix = \"{}\"\nredis_timeout = \"300ms\"",
            proxy.addr,
            prefix()
        ),
        "",
        1000,
    );
    let log = tmp.path().join("up.log");
    let g = start(&tmp.path().join("data"), &cfg, &db, &log);
    let token = user_token(&g, &db).await;
    let url = g.invocations_url();
    assert_eq!(
        invoke(&url, Some(&token), &[], &json!({})).await.status,
        200
    );

    proxy.cut();
    let started = Instant::now();
    let r = loop {
        let r = invoke(&url, Some(&token), &[], &json!({})).await;
        if r.status == 503 {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no 503 while Redis is cut off: {} {}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(r.headers["x-amzn-errortype"], "ServiceUnavailableException");
    assert!(
        r.body.contains("rate-limit store is unreachable"),
        "{}",
        r.body
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the timeout bounds the wait"
    );
    for _ in 0..5 {
        assert_eq!(
            invoke(&url, Some(&token), &[], &json!({})).await.status,
            503
        );
    }
    let m = metrics(&g).await;
    assert_eq!(metric(&m, "gatehouse_ratelimit_backend_up"), Some(0), "{m}");
    assert!(metric(&m, "gatehouse_ratelimit_backend_errors_total").unwrap() >= 6);
    assert_eq!(metric(&m, "gatehouse_ratelimit_fail_open"), Some(0));
    assert!(m.contains("gatehouse_requests_total{runtime=\"shared\",status=\"503\"}"));

    proxy.restore();
    eventually(
        Duration::from_secs(15),
        "requests admitted again once Redis is back",
        || {
            let (url, token) = (url.clone(), token.clone());
            async move { invoke(&url, Some(&token), &[], &json!({})).await.status == 200 }
        },
    )
    .await;
    assert_eq!(
        metric(&metrics(&g).await, "gatehouse_ratelimit_backend_up"),
        Some(1)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("Redis is unreachable").count(),
        1,
        "one log line per outage, not one per request:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_open_when_configured() {
    if !redis_available() {
        return;
    }
    // A port with nothing behind it: the connection is refused at once.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", tmp.path().join("db.sqlite").display());
    let cfg = write_config(
        tmp.path(),
        &format!(
            "redis_url = \"redis://:not-a-real-password@{closed}/0\"\nredis_unavailable = \"open\"\nredis_timeout = \"200ms\""
        ),
        "",
        1,
    );
    let log = tmp.path().join("up.log");
    let g = start(&tmp.path().join("data"), &cfg, &db, &log);
    let token = user_token(&g, &db).await;
    let url = g.invocations_url();
    // Burst 1, yet every request passes: no limit can be checked and the policy is open.
    for _ in 0..4 {
        let r = invoke(&url, Some(&token), &[], &json!({})).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let m = metrics(&g).await;
    assert_eq!(metric(&m, "gatehouse_ratelimit_backend_up"), Some(0), "{m}");
    assert!(metric(&m, "gatehouse_ratelimit_backend_errors_total").unwrap() >= 4);
    assert_eq!(metric(&m, "gatehouse_ratelimit_fail_open"), Some(1));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("Redis is unreachable").count(),
        1,
        "logged once, not per request:\n{text}"
    );
    assert!(
        text.contains("policy=\"open") || text.contains("policy=open"),
        "{text}"
    );
    assert!(
        !text.contains("not-a-real-password"),
        "the Redis password is never logged"
    );
}
