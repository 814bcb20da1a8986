//! Several instances on one PostgreSQL database, with real `gatehouse up` processes: two instances
//! behind a round-robin TCP "load balancer" whose address is the IdP's `public_url`, each also addressed
//! directly (sign in on A, refresh on B, rotation and reuse across them, session hijack across them, sign-out
//! and key rotation reaching the other instance); and one instance whose database connection goes through a
//! proxy that is cut for a few seconds in the middle of a load loop (the stand-in for a PostgreSQL restart).
use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::pg::TestDb;
use crate::common::tcp_proxy::TcpProxy;
use crate::common::*;

/// A free loopback address (bound and released; `up` binds it right after).
fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn jwt_part(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

async fn password_auth(idp: &str, client: &str, user: &str) -> (u16, Value) {
    cognito(
        idp,
        "InitiateAuth",
        &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                "AuthParameters": {"USERNAME": user, "PASSWORD": password()}}),
    )
    .await
}

async fn sign_in(idp: &str, client: &str, user: &str) -> Value {
    let (st, b) = password_auth(idp, client, user).await;
    assert_eq!(st, 200, "sign-in at {idp}: {b}");
    b["AuthenticationResult"].clone()
}

fn now() -> i64 {
    gatehouse::clock::Clock::now_unix(&gatehouse::clock::SystemClock)
}

/// Two instances on one database, the IdP's public URL being the load balancer in front of both.
struct Pair {
    // Fields drop in order: the instances before their database.
    a: Gatehouse,
    b: Gatehouse,
    lb: TcpProxy,
    /// The instances' own IdP addresses (`endpoints.idp` is the public URL).
    idp_a: String,
    idp_b: String,
    _tmp: tempfile::TempDir,
    _db: TestDb,
}

fn start_pair(db: TestDb) -> Pair {
    let tmp = tempfile::tempdir().unwrap();
    let lb = TcpProxy::start(vec![]);
    let cfg = tmp.path().join("gatehouse.toml");
    std::fs::write(
        &cfg,
        format!(
            "version = 1\n[idp]\npublic_url = \"http://{}\"\n[web]\npublic_url = \"https://app.example.com\"\n",
            lb.addr
        ),
    )
    .unwrap();
    let (ia, ib) = (free_addr(), free_addr());
    let extra = [
        "--config",
        cfg.to_str().unwrap(),
        "--database-url",
        db.url.as_str(),
    ];
    let start = |name: &str, idp: SocketAddr| {
        Gatehouse::start_in_with(
            &tmp.path().join(name),
            &idp.to_string(),
            &extra,
            "warn",
            Stdio::inherit(),
        )
    };
    let a = start("a", ia);
    let b = start("b", ib);
    lb.set_targets(vec![ia, ib]);
    Pair {
        a,
        b,
        lb,
        idp_a: format!("http://{ia}"),
        idp_b: format!("http://{ib}"),
        _tmp: tmp,
        _db: db,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_users_tokens_sessions_revocations_and_keys() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let p = start_pair(db);
    let (a, b) = (&p.a, &p.b);
    let pool = a.endpoints.user_pool_id.clone();
    assert_eq!(
        pool, b.endpoints.user_pool_id,
        "one pool in the shared database"
    );
    assert_eq!(a.endpoints.client_id, b.endpoints.client_id);
    assert_eq!(a.endpoints.runtimes[0].arn, b.endpoints.runtimes[0].arn);
    let issuer = format!("http://{}/{pool}", p.lb.addr);
    assert_eq!(a.endpoints.issuer, issuer);
    assert_eq!(b.endpoints.issuer, issuer);

    // public_url holds on both instances: discovery asked of each directly names the load balancer.
    for idp in [&p.idp_a, &p.idp_b] {
        let resp = send(
            "GET",
            &format!("{idp}/{pool}/.well-known/openid-configuration"),
            &[],
            "",
        )
        .await;
        let doc: Value = serde_json::from_str(&body_text(resp).await).unwrap();
        assert_eq!(doc["issuer"], issuer.as_str(), "{idp}");
        assert_eq!(doc["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    }

    // A user created with the CLI against the database; sign in on A, refresh on B.
    let alice = a.new_user("alice");
    let client = a.endpoints.client_id.clone();
    let auth = sign_in(&p.idp_a, &client, &alice).await;
    assert_eq!(
        jwt_part(&s(&auth, "AccessToken"), 1)["iss"],
        issuer.as_str()
    );
    let (st, body) = cognito(
        &p.idp_b,
        "InitiateAuth",
        &json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": client,
                "AuthParameters": {"REFRESH_TOKEN": s(&auth, "RefreshToken")}}),
    )
    .await;
    assert_eq!(st, 200, "refresh on B of a token issued by A: {body}");
    let refreshed = s(&body["AuthenticationResult"], "AccessToken");
    assert_eq!(jwt_part(&refreshed, 1)["iss"], issuer.as_str());

    // USER_SRP_AUTH: the challenge from A, the answer to B (a load balancer need not be sticky).
    let c = crate::idp::srp::Client::new();
    let (st, body) = cognito(
        &p.idp_a,
        "InitiateAuth",
        &json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": client,
                "AuthParameters": {"USERNAME": alice, "SRP_A": format!("{:x}", c.big_a)}}),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let params = &body["ChallengeParameters"];
    let ts = crate::idp::srp::timestamp(now());
    let sig = c.signature(&pool, params, password(), &ts);
    let answer = json!({"ChallengeName": "PASSWORD_VERIFIER", "ClientId": client,
        "ChallengeResponses": {"USERNAME": params["USER_ID_FOR_SRP"], "TIMESTAMP": ts,
            "PASSWORD_CLAIM_SECRET_BLOCK": params["SECRET_BLOCK"], "PASSWORD_CLAIM_SIGNATURE": sig}});
    let (st, body) = cognito(&p.idp_b, "RespondToAuthChallenge", &answer).await;
    assert_eq!(st, 200, "SRP answered on B: {body}");
    assert!(body["AuthenticationResult"]["AccessToken"].is_string());
    let replay = cognito(&p.idp_a, "RespondToAuthChallenge", &answer).await;
    assert_refused(&replay, "NotAuthorizedException");

    // Rotation on B, replay of the old token on A: reuse, and the whole family is revoked.
    let (rot_client, _) = a.create_client(&["--rotation", "--grace-period", "0"]);
    let first = sign_in(&p.idp_a, &rot_client, &alice).await;
    let old_rt = s(&first, "RefreshToken");
    let (st, body) = cognito(
        &p.idp_b,
        "GetTokensFromRefreshToken",
        &json!({"ClientId": rot_client, "RefreshToken": old_rt}),
    )
    .await;
    assert_eq!(st, 200, "rotation on B: {body}");
    let new_rt = s(&body["AuthenticationResult"], "RefreshToken");
    assert!(!new_rt.is_empty() && new_rt != old_rt);
    let rotated_at = now();
    // The IdP's shortest effective grace period is one second: wait until it has passed.
    poll(Duration::from_secs(5), "the grace period to pass", || {
        (now() > rotated_at + gatehouse::idp::refresh::MIN_GRACE).then_some(())
    });
    let replay = cognito(
        &p.idp_a,
        "GetTokensFromRefreshToken",
        &json!({"ClientId": rot_client, "RefreshToken": old_rt}),
    )
    .await;
    assert_refused(&replay, "RefreshTokenReuseException");
    let (st, body) = cognito(
        &p.idp_b,
        "GetTokensFromRefreshToken",
        &json!({"ClientId": rot_client, "RefreshToken": new_rt}),
    )
    .await;
    assert_eq!(
        (st, s(&body, "__type").as_str()),
        (400, "NotAuthorizedException"),
        "the successor issued by B is revoked with its family: {body}"
    );

    // A session bound on A cannot be taken over on B; its owner uses it on both.
    let alice_token = s(&sign_in(&p.idp_a, &client, &alice).await, "AccessToken");
    let session = format!("mi-{}", gatehouse::util::random_lower_alnum(40));
    let sid = [(
        "x-amzn-bedrock-agentcore-runtime-session-id",
        session.as_str(),
    )];
    let r = invoke(
        &a.invocations_url(),
        Some(&alice_token),
        &sid,
        &json!({"prompt": "hi"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mallory = b.new_user("mallory");
    let mallory_token = s(&sign_in(&p.idp_b, &client, &mallory).await, "AccessToken");
    let r = invoke(
        &b.invocations_url(),
        Some(&mallory_token),
        &sid,
        &json!({"prompt": "mine"}),
    )
    .await;
    assert_eq!(
        r.status, 403,
        "hijack on B of a session bound on A: {}",
        r.body
    );
    assert_eq!(r.headers["x-amzn-errortype"], "AccessDeniedException");
    let r = invoke(
        &b.invocations_url(),
        Some(&alice_token),
        &sid,
        &json!({"prompt": "again"}),
    )
    .await;
    assert_eq!(r.status, 200, "the owner on B: {}", r.body);

    // GlobalSignOut on B is refused on A within a second.
    let (st, body) = cognito(
        &p.idp_b,
        "GlobalSignOut",
        &json!({"AccessToken": alice_token}),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let signed_out = Instant::now();
    loop {
        let r = invoke(
            &a.invocations_url(),
            Some(&alice_token),
            &sid,
            &json!({"prompt": "x"}),
        )
        .await;
        if r.status == 401 {
            break;
        }
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            signed_out.elapsed() < Duration::from_secs(1),
            "A still accepts a token signed out on B after {:?}",
            signed_out.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "GlobalSignOut on B refused on A after {:?}",
        signed_out.elapsed()
    );

    // Keys rotated through A's database: new tokens of either instance are verified by the other.
    let old_kid = s(&jwt_part(&alice_token, 0), "kid");
    let (ok, out) = a.cli(&["keys", "rotate"], "");
    assert!(ok, "{out}");
    let new_kid = out
        .lines()
        .find_map(|l| l.strip_prefix("new signing key "))
        .unwrap()
        .trim()
        .to_string();
    assert_ne!(new_kid, old_kid);
    let rotated = Instant::now();
    for (signer, verifier, name) in [(&p.idp_a, b, "A→B"), (&p.idp_b, a, "B→A")] {
        let token = poll_async(
            Duration::from_secs(3),
            "tokens signed with the new key",
            || {
                let (signer, client, alice, new_kid) = (
                    signer.clone(),
                    client.clone(),
                    alice.clone(),
                    new_kid.clone(),
                );
                async move {
                    let t = s(&sign_in(&signer, &client, &alice).await, "AccessToken");
                    (s(&jwt_part(&t, 0), "kid") == new_kid).then_some(t)
                }
            },
        )
        .await;
        eprintln!("{name}: new key signing after {:?}", rotated.elapsed());
        let url = verifier.invocations_url();
        poll_async(
            Duration::from_secs(5),
            "the other instance to accept the new key",
            || {
                let (url, token) = (url.clone(), token.clone());
                async move {
                    let r = invoke(&url, Some(&token), &[], &json!({"prompt": "new key"})).await;
                    (r.status == 200).then_some(())
                }
            },
        )
        .await;
        eprintln!("{name}: verified after {:?}", rotated.elapsed());
    }
    // `doctor` reads the keys from the same database.
    let (_, out) = a.cli(&["doctor", "--json"], "");
    let checks: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let keys = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["control"] == "signing-keys")
        .unwrap();
    assert_eq!(keys["pass"], true, "{keys}");
    assert!(s(keys, "detail").contains(&new_kid), "{keys}");
    // The instances are still healthy and ready.
    for g in [a, b] {
        let resp = send("GET", &format!("{}/readyz", g.endpoints.admin), &[], "").await;
        assert_eq!(resp.status(), 200);
    }
}

/// What the load loop got acknowledged.
#[derive(Default)]
struct Acked {
    users: Vec<String>,
    refresh_tokens: Vec<String>,
    statuses: Vec<(u16, String)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_mid_load_loses_nothing_and_service_resumes_unaided() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let proxy = TcpProxy::start(vec!["127.0.0.1:5432".parse().unwrap()]);
    let via_proxy = db.url_via(proxy.addr);
    let tmp = tempfile::tempdir().unwrap();
    let g = Gatehouse::start_in_with(
        &tmp.path().join("data"),
        "127.0.0.1:0",
        &["--database-url", via_proxy.as_str()],
        "warn",
        Stdio::inherit(),
    );
    let idp = g.endpoints.idp.clone();
    let client = g.endpoints.client_id.clone();
    let alice = g.new_user("alice");
    let token = s(&sign_in(&idp, &client, &alice).await, "AccessToken");
    let session = format!("outage-{}", gatehouse::util::random_lower_alnum(40));
    let sid = [(
        "x-amzn-bedrock-agentcore-runtime-session-id",
        session.as_str(),
    )];
    let r = invoke(
        &g.invocations_url(),
        Some(&token),
        &sid,
        &json!({"prompt": "bind"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ready = format!("{}/readyz", g.endpoints.admin);
    assert_eq!(send("GET", &ready, &[], "").await.status(), 200);

    // The load: sign-ups (a user and its code) and sign-ins (a refresh token), recording what was acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut load = Vec::new();
    for t in 0..3 {
        let (stop, acked, idp, client, alice) = (
            stop.clone(),
            acked.clone(),
            idp.clone(),
            client.clone(),
            alice.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let name = format!("load-{t}-{i}");
                let (st, body) = cognito(
                    &idp,
                    "SignUp",
                    &json!({"ClientId": client, "Username": name, "Password": password(),
                            "UserAttributes": [{"Name": "email", "Value": format!("{name}@example.com")}]}),
                )
                .await;
                {
                    let mut a = acked.lock().unwrap();
                    a.statuses.push((st, s(&body, "__type")));
                    if st == 200 {
                        a.users.push(name);
                    }
                }
                let (st, body) = password_auth(&idp, &client, &alice).await;
                {
                    let mut a = acked.lock().unwrap();
                    a.statuses.push((st, s(&body, "__type")));
                    if st == 200 {
                        a.refresh_tokens
                            .push(s(&body["AuthenticationResult"], "RefreshToken"));
                    }
                }
                if st == 503 {
                    // As a client honouring Retry-After would, only sooner.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }
    let acked_count = || {
        let a = acked.lock().unwrap();
        a.users.len() + a.refresh_tokens.len()
    };
    poll_async(Duration::from_secs(20), "load before the outage", || {
        let n = acked_count();
        async move { (n >= 4).then_some(()) }
    })
    .await;

    // "Restart": every connection to PostgreSQL drops and new ones are refused for a while.
    proxy.cut();
    let cut_at = Instant::now();
    // Requests that need no store write keep working from caches: a valid token on a bound session.
    let r = invoke(
        &g.invocations_url(),
        Some(&token),
        &sid,
        &json!({"prompt": "cached"}),
    )
    .await;
    assert_eq!(
        r.status, 200,
        "a bound session during the outage: {}",
        r.body
    );
    // Those that need the store fail with a clear 503.
    let (st, body) = password_auth(&idp, &client, &alice).await;
    assert_eq!(st, 503, "sign-in during the outage: {body}");
    assert_eq!(body["__type"], "InternalErrorException");
    assert!(
        s(&body, "message").contains("temporarily unavailable"),
        "{body}"
    );
    let (st, body) = cognito(
        &idp,
        "SignUp",
        &json!({"ClientId": client, "Username": "during-outage", "Password": password(),
                "UserAttributes": [{"Name": "email", "Value": "during@example.com"}]}),
    )
    .await;
    assert_eq!(st, 503, "sign-up during the outage: {body}");
    let other = [(
        "x-amzn-bedrock-agentcore-runtime-session-id",
        &*format!("outage-new-{}", gatehouse::util::random_lower_alnum(40)),
    )];
    let r = invoke(
        &g.invocations_url(),
        Some(&token),
        &other,
        &json!({"prompt": "new"}),
    )
    .await;
    assert_eq!(r.status, 503, "a new session needs a binding: {}", r.body);
    assert_eq!(r.headers["x-amzn-errortype"], "ServiceUnavailableException");
    let resp = send("GET", &ready, &[], "").await;
    assert_eq!(resp.status(), 503, "readyz while the database is away");
    let during = body_text(resp).await;
    assert!(during.contains("unreachable"), "{during}");
    // Keep it down for at least three seconds.
    if let Some(rest) = Duration::from_secs(3).checked_sub(cut_at.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let before_restore = acked_count();
    proxy.restore();
    let restored = Instant::now();

    // Service resumes by itself: no restart, no operator.
    poll_async(Duration::from_secs(20), "sign-in to work again", || {
        let (idp, client, alice) = (idp.clone(), client.clone(), alice.clone());
        async move { (password_auth(&idp, &client, &alice).await.0 == 200).then_some(()) }
    })
    .await;
    eprintln!(
        "service resumed {:?} after the database came back",
        restored.elapsed()
    );
    poll_async(Duration::from_secs(20), "load after the outage", || {
        let n = acked_count();
        async move { (n >= before_restore + 4).then_some(()) }
    })
    .await;
    assert_eq!(send("GET", &ready, &[], "").await.status(), 200);
    stop.store(true, Ordering::SeqCst);
    for t in load {
        t.await.unwrap();
    }

    // Nothing acknowledged was lost; every refusal was a 503; nothing is half-written.
    let a = std::mem::take(&mut *acked.lock().unwrap());
    let unexpected: Vec<_> = a
        .statuses
        .iter()
        .filter(|(st, _)| *st != 200 && *st != 503)
        .collect();
    assert!(
        unexpected.is_empty(),
        "answers other than 200/503: {unexpected:?}"
    );
    let store = gatehouse::store::PostgresStore::open_url(&db.url)
        .await
        .unwrap();
    use gatehouse::store::Store as _;
    let pool = &g.endpoints.user_pool_id.as_str().into();
    for u in &a.users {
        store
            .find_user(pool, u)
            .await
            .unwrap_or_else(|e| panic!("acknowledged sign-up {u} lost: {e}"));
    }
    for rt in &a.refresh_tokens {
        let row = store
            .find_refresh_token(&gatehouse::util::sha256_hex(rt.as_bytes()))
            .await
            .unwrap_or_else(|e| panic!("an acknowledged refresh token was lost: {e}"));
        assert!(row.revoked_at.is_none());
    }
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    let half: Vec<String> = sqlx::query_scalar(
        "SELECT u.username FROM users u LEFT JOIN codes c ON c.pool_id = u.pool_id AND c.username = u.username \
         WHERE u.username LIKE 'load-%' AND c.username IS NULL",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(
        half.is_empty(),
        "users without their confirmation code: {half:?}"
    );
    let outage_503s = a.statuses.iter().filter(|(st, _)| *st == 503).count();
    let distinct: HashSet<_> = a.users.iter().collect();
    assert_eq!(distinct.len(), a.users.len());
    eprintln!(
        "load: {} sign-ups and {} sign-ins acknowledged, {} answered 503 during the outage",
        a.users.len(),
        a.refresh_tokens.len(),
        outage_503s
    );
}

fn user_list(
    dir: &std::path::Path,
    url_flag: Option<&str>,
    url_env: Option<&str>,
) -> (Option<i32>, String) {
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["user", "list", "--data-dir"])
        .arg(dir)
        .env_remove("GATEHOUSE_DATABASE_URL");
    if let Some(u) = url_flag {
        cmd.args(["--database-url", u]);
    }
    if let Some(u) = url_env {
        cmd.env("GATEHOUSE_DATABASE_URL", u);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn database_urls_are_checked_and_their_passwords_never_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out) = user_list(tmp.path(), Some("mysql://root:hunter22@localhost/db"), None);
    assert_eq!(code, Some(64), "{out}");
    assert!(out.contains("'mysql://' is not supported"), "{out}");
    assert!(!out.contains("hunter22"), "the password leaked: {out}");
    let (code, out) = user_list(
        tmp.path(),
        Some("postgres://postgres:pw-never-shown@127.0.0.1:1/nodb"),
        None,
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("postgres://postgres@127.0.0.1:1/nodb"),
        "{out}"
    );
    assert!(
        !out.contains("pw-never-shown"),
        "the password leaked: {out}"
    );
    // The environment variable works like the flag.
    let Some(db) = TestDb::create().await else {
        return;
    };
    let (code, out) = user_list(tmp.path(), None, Some(&db.url));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        !tmp.path().join("gatehouse.db").exists(),
        "no SQLite file when a PostgreSQL URL is given"
    );
}
