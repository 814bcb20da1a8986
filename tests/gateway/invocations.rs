//! The AgentCore data plane against a real, controllable upstream agent (tests/common/fake_agent.rs), with a
//! configuration of several runtimes, one of them trusting a second gatehouse as an external IdP.
use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::BodyExt;
use serde_json::{json, Value};

use crate::common::{body_text, fake_agent, invoke, send, Gatehouse};

struct Fixture {
    gw: Gatehouse,
    external: Gatehouse,
    fake: String,
    vip: String,
    _tmp: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let fake = fake_agent::start();
        let external = Gatehouse::start();
        let vip = format!("vip-{}", gatehouse::util::random_lower_alnum(8));
        let tmp = tempfile::tempdir().unwrap();
        let cfg = format!(
            r#"
version = 1

[[runtime]]
name = "alpha"
allowed_origins = ["http://app.example.test"]
request_header_allowlist = ["X-Tenant"]
[[runtime.version]]
number = 1
upstream = "{fake}/v1"
[[runtime.version]]
number = 2
upstream = "{fake}/v2"
[[runtime.endpoint]]
name = "stable"
version = 1
[runtime.limits]
max_payload_bytes = 1000
response_timeout = "1s"
stream_idle_timeout = "1s"

[[runtime]]
name = "withauth"
upstream = "{fake}"
request_header_allowlist = ["Authorization"]

[[runtime]]
name = "throttled"
upstream = "{fake}"
[runtime.limits]
requests_per_minute = 1
burst = 3
max_sessions_per_user = 2

[[runtime]]
name = "gone"
upstream = "http://127.0.0.1:1"

[[runtime]]
name = "ext"
upstream = "{fake}"
[runtime.authorizer]
discovery_url = "{disc}"
allowed_clients = ["{client}"]
jwks_refresh_interval = "1s"
[[runtime.authorizer.custom_claims]]
claim = "username"
operator = "EQUALS"
value = "{vip}"
"#,
            disc = external.endpoints.discovery_url,
            client = external.endpoints.client_id,
        );
        let path = tmp.path().join("gatehouse.toml");
        std::fs::write(&path, cfg).unwrap();
        let gw = Gatehouse::start_in(
            &tmp.path().join("data"),
            &["--config", path.to_str().unwrap()],
        );
        Fixture {
            gw,
            external,
            fake,
            vip,
            _tmp: tmp,
        }
    })
}

fn url(f: &Fixture, runtime: &str, qualifier: Option<&str>) -> String {
    let rt =
        f.gw.endpoints
            .runtimes
            .iter()
            .find(|r| r.name == runtime)
            .unwrap();
    let base = rt.invocations_url.split('?').next().unwrap().to_string();
    match qualifier {
        Some(q) => format!("{base}?qualifier={q}"),
        None => base,
    }
}

async fn token(f: &Fixture) -> String {
    let user = f.gw.new_user("gw");
    f.gw.access_token(&user).await
}

#[tokio::test]
async fn default_tracks_the_latest_version_and_named_endpoints_pin_theirs() {
    let f = fixture();
    let t = token(f).await;
    let r = invoke(&url(f, "alpha", None), Some(&t), &[], &json!({})).await;
    assert_eq!(r.json()["prefix"], "v2");
    let r = invoke(&url(f, "alpha", Some("DEFAULT")), Some(&t), &[], &json!({})).await;
    assert_eq!(r.json()["prefix"], "v2");
    let r = invoke(&url(f, "alpha", Some("stable")), Some(&t), &[], &json!({})).await;
    assert_eq!(r.json()["prefix"], "v1");
    let r = invoke(&url(f, "alpha", Some("nope")), Some(&t), &[], &json!({})).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.headers["x-amzn-errortype"], "ResourceNotFoundException");
}

#[tokio::test]
async fn header_policy_forwards_the_allow_list_and_strips_everything_else() {
    let f = fixture();
    let t = token(f).await;
    let sub = gatehouse::token::jws::parse(&t).unwrap().payload["sub"]
        .as_str()
        .unwrap()
        .to_string();
    let r = invoke(
        &url(f, "alpha", None),
        Some(&t),
        &[
            ("x-tenant", "acme"),
            ("x-not-allowed", "nope"),
            ("X-Amzn-Bedrock-AgentCore-Runtime-Custom-Team", "blue"),
            ("x-amzn-bedrock-agentcore-runtime-user-id", "mallory"),
            (
                "X-Amzn-Bedrock-AgentCore-Runtime-Request-Id",
                "forged-request",
            ),
            ("x-amzn-oidc-data", "forged"),
            ("x-amz-security-token", "forged"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            ("cookie", "session=1"),
            ("te", "trailers"),
            ("x-forwarded-for", "6.6.6.6"),
        ],
        &json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let h = &r.json()["headers"];
    assert_eq!(h["x-tenant"], json!(["acme"]));
    assert_eq!(
        h["x-amzn-bedrock-agentcore-runtime-custom-team"],
        json!(["blue"])
    );
    assert_eq!(h["x-amzn-bedrock-agentcore-runtime-user-id"], json!([sub]));
    assert_ne!(
        h["x-amzn-bedrock-agentcore-runtime-request-id"],
        json!(["forged-request"])
    );
    assert!(h["traceparent"].is_array());
    for gone in [
        "x-not-allowed",
        "x-amzn-oidc-data",
        "x-amz-security-token",
        "cookie",
        "te",
        "x-forwarded-for",
        "authorization",
    ] {
        assert!(h.get(gone).is_none(), "{gone} reached the agent: {h}");
    }
    // Authorization passes only where the runtime allow-lists it.
    let r = invoke(&url(f, "withauth", None), Some(&t), &[], &json!({})).await;
    assert_eq!(
        r.json()["headers"]["authorization"],
        json!([format!("Bearer {t}")])
    );
}

#[tokio::test]
async fn payloads_over_the_limit_are_validation_errors_with_or_without_content_length() {
    let f = fixture();
    let t = token(f).await;
    let auth = format!("Bearer {t}");
    let target = url(f, "alpha", None);
    let path = target
        .split_once("/runtimes/")
        .map(|(_, p)| format!("/runtimes/{p}"))
        .unwrap();
    // Raw requests, so the client never races the early answer with a body write (a broken pipe is not the point).
    let head = |extra: &str| {
        format!("POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\n{extra}\r\n")
    };
    // A declared Content-Length over the limit is refused before any body is read.
    let answer = raw(
        &f.gw.endpoints.gateway,
        head("content-length: 5000\r\n").as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer
            .to_lowercase()
            .contains("x-amzn-errortype: validationexception"),
        "{answer}"
    );
    // Chunked, no Content-Length: the limit applies while streaming.
    let mut req = head("transfer-encoding: chunked\r\n").into_bytes();
    req.extend_from_slice(format!("{:x}\r\n{}\r\n", 1500, "y".repeat(1500)).as_bytes());
    let answer = raw(&f.gw.endpoints.gateway, &req).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer
            .to_lowercase()
            .contains("x-amzn-errortype: validationexception"),
        "{answer}"
    );
    // Just under the limit is fine.
    let r = send(
        "POST",
        &target,
        &[("authorization", &auth)],
        "z".repeat(900),
    )
    .await;
    assert_eq!(r.status(), 200);
}

/// Writes `request` to the listener at `base` and returns the response head and what body came with it.
async fn raw(base: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("no answer")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn agent_errors_become_424_502_and_504_in_agentcore_shape() {
    let f = fixture();
    let t = token(f).await;
    let r = invoke(
        &url(f, "alpha", None),
        Some(&t),
        &[],
        &json!({"mode": "error", "status": 500, "message": "model exploded"}),
    )
    .await;
    assert_eq!(r.status, 424);
    assert_eq!(r.headers["x-amzn-errortype"], "RuntimeClientError");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("model exploded"),
        "{}",
        r.body
    );
    let r = invoke(
        &url(f, "alpha", None),
        Some(&t),
        &[],
        &json!({"mode": "error", "status": 404, "message": "no such thing"}),
    )
    .await;
    assert_eq!(r.status, 424);
    let r = invoke(&url(f, "gone", None), Some(&t), &[], &json!({})).await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(r.headers["x-amzn-errortype"], "RuntimeClientError");
    let r = invoke(
        &url(f, "alpha", None),
        Some(&t),
        &[],
        &json!({"mode": "slow_headers", "ms": 10000}),
    )
    .await;
    assert_eq!(r.status, 504, "{}", r.body);
}

#[tokio::test]
async fn an_agent_dying_mid_stream_ends_the_clients_stream_with_an_error_event() {
    let f = fixture();
    let t = token(f).await;
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        invoke(
            &url(f, "alpha", None),
            Some(&t),
            &[],
            &json!({"mode": "die"}),
        ),
    )
    .await
    .expect("the gateway hung");
    assert_eq!(r.status, 200);
    let events = r.events();
    assert_eq!(events[0]["n"], 1);
    assert_eq!(events[1]["n"], 2);
    assert_eq!(
        events.last().unwrap()["error_type"],
        "RuntimeClientError",
        "{}",
        r.body
    );
}

#[tokio::test]
async fn an_agent_dying_mid_line_never_merges_its_half_event_into_the_error_event() {
    let f = fixture();
    let t = token(f).await;
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        invoke(
            &url(f, "alpha", None),
            Some(&t),
            &[],
            &json!({"mode": "die_mid_event"}),
        ),
    )
    .await
    .expect("the gateway hung");
    assert_eq!(r.status, 200);
    let events = gatehouse::gateway::sse::parse_all(r.body.as_bytes());
    let last = events.last().expect("no event");
    assert_eq!(
        last.event, "message",
        "the agent's `event:` line leaked into ours: {:?}",
        r.body
    );
    let error: serde_json::Value = serde_json::from_str(&last.data)
        .unwrap_or_else(|e| panic!("the closing event is not whole JSON ({e}): {:?}", r.body));
    assert_eq!(error["error_type"], "RuntimeClientError");
    assert_eq!(events[0].data, r#"{"n":1}"#);
}

#[tokio::test]
async fn a_silent_stream_is_closed_after_the_idle_timeout() {
    let f = fixture();
    let t = token(f).await;
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        invoke(
            &url(f, "alpha", None),
            Some(&t),
            &[],
            &json!({"mode": "silent"}),
        ),
    )
    .await
    .expect("the idle timeout did not end the stream");
    let events = r.events();
    assert_eq!(events[0]["n"], 1);
    assert_eq!(events.last().unwrap()["error_type"], "IdleTimeout");
}

#[tokio::test]
async fn a_client_that_does_not_read_slows_the_agent_instead_of_filling_memory() {
    let f = fixture();
    let t = token(f).await;
    let auth = format!("Bearer {t}");
    let id = gatehouse::util::random_alnum(12);
    let total: u64 = 512 * 1024 * 1024;
    let resp = send(
        "POST",
        &url(f, "withauth", None),
        &[("authorization", &auth)],
        json!({"mode": "flood", "id": id, "total": total}).to_string(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let count_url = format!("{}/flood/{id}", f.fake);
    let read = || async {
        body_text(send("GET", &count_url, &[], "").await)
            .await
            .parse::<u64>()
            .unwrap()
    };
    // Wait until the agent is blocked: the count stops moving.
    let mut last = u64::MAX;
    let mut stable = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while stable < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never stopped being read"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = read().await;
        stable = if now == last { stable + 1 } else { 0 };
        last = now;
    }
    assert!(
        last < 128 * 1024 * 1024,
        "the gateway took {last} bytes from the agent for a client that read nothing"
    );
    // Reading a little makes it move again: it is back-pressure, not a stall.
    let mut body = resp.into_body();
    let mut got = 0usize;
    while got < 32 * 1024 * 1024 {
        got += body
            .frame()
            .await
            .unwrap()
            .unwrap()
            .into_data()
            .map(|d| d.len())
            .unwrap_or(0);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while read().await <= last {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent was not read again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_only_the_runtimes_origins() {
    let f = fixture();
    let t = token(f).await;
    let u = url(f, "alpha", None);
    let ok = "http://app.example.test";
    let pre = send(
        "OPTIONS",
        &u,
        &[
            ("origin", ok),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization,content-type",
            ),
        ],
        "",
    )
    .await;
    assert_eq!(pre.status(), 204);
    let h = pre.headers();
    assert_eq!(h["access-control-allow-origin"], ok);
    let allow = h["access-control-allow-headers"].to_str().unwrap();
    for needed in [
        "authorization",
        "content-type",
        "x-amzn-bedrock-agentcore-runtime-session-id",
        "x-amzn-trace-id",
        "x-tenant",
    ] {
        assert!(allow.contains(needed), "{needed} missing from {allow}");
    }
    assert!(h.get_all("vary").iter().any(|v| v
        .to_str()
        .unwrap()
        .to_lowercase()
        .contains("origin")));
    assert!(h.get("access-control-allow-credentials").is_none());
    for evil in [
        "null",
        "http://evil.example.test",
        "http://app.example.test.evil",
        "http://evilapp.example.test",
        "https://app.example.test",
        "http://app.example.test:8080",
    ] {
        let pre = send(
            "OPTIONS",
            &u,
            &[("origin", evil), ("access-control-request-method", "POST")],
            "",
        )
        .await;
        assert_eq!(pre.status(), 403, "{evil}");
        assert!(
            pre.headers().get("access-control-allow-origin").is_none(),
            "{evil}"
        );
        let r = invoke(&u, Some(&t), &[("origin", evil)], &json!({})).await;
        assert_eq!(
            r.status, 403,
            "{evil}: the actual request must be refused too"
        );
        assert!(r.headers.get("access-control-allow-origin").is_none());
    }
    let r = invoke(&u, Some(&t), &[("origin", ok)], &json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["access-control-allow-origin"], ok);
    assert!(r.headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("x-amzn-bedrock-agentcore-runtime-session-id"));
    // Errors carry CORS headers too, and the preflight never stood in for authentication.
    let r = invoke(&u, None, &[("origin", ok)], &json!({})).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.headers["access-control-allow-origin"], ok);
    // A runtime without allowed origins refuses every browser origin.
    let r = invoke(
        &url(f, "withauth", None),
        Some(&t),
        &[("origin", ok)],
        &json!({}),
    )
    .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn a_401_points_at_protected_resource_metadata_that_names_the_issuer() {
    let f = fixture();
    let r = invoke(&url(f, "alpha", None), None, &[], &json!({})).await;
    let challenge = r.headers["www-authenticate"].to_str().unwrap();
    let meta = challenge
        .split("resource_metadata=\"")
        .nth(1)
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    assert!(
        meta.contains("/invocations/.well-known/oauth-protected-resource?qualifier=DEFAULT"),
        "{meta}"
    );
    let doc: Value =
        serde_json::from_str(&body_text(send("GET", &meta, &[], "").await).await).unwrap();
    assert_eq!(doc["authorization_servers"], json!([f.gw.endpoints.issuer]));
    assert!(doc["resource"].as_str().unwrap().ends_with("/invocations"));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    let r = invoke(&url(f, "ext", None), Some("a.b.c"), &[], &json!({})).await;
    let challenge = r.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(challenge.contains("resource_metadata=\""), "{challenge}");
}

#[tokio::test]
async fn rate_limits_and_session_caps_answer_429_with_retry_after() {
    let f = fixture();
    let t = token(f).await;
    let u = url(f, "throttled", None);
    let s1 = format!("throttle-one-{}", gatehouse::util::random_alnum(24));
    let s2 = format!("throttle-two-{}", gatehouse::util::random_alnum(24));
    let s3 = format!("throttle-three-{}", gatehouse::util::random_alnum(24));
    let h = "x-amzn-bedrock-agentcore-runtime-session-id";
    assert_eq!(
        invoke(&u, Some(&t), &[(h, &s1)], &json!({})).await.status,
        200
    );
    assert_eq!(
        invoke(&u, Some(&t), &[(h, &s2)], &json!({})).await.status,
        200
    );
    let r = invoke(&u, Some(&t), &[(h, &s3)], &json!({})).await;
    assert_eq!(r.status, 429, "a third concurrent session: {}", r.body);
    assert_eq!(r.headers["x-amzn-errortype"], "ThrottlingException");
    assert!(r.headers.contains_key("retry-after"));
    let r = invoke(&u, Some(&t), &[(h, &s1)], &json!({})).await;
    assert_eq!(r.status, 429, "burst of 3 used up: {}", r.body);
    assert!(
        r.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // Another user has their own bucket.
    let other = token(f).await;
    assert_eq!(invoke(&u, Some(&other), &[], &json!({})).await.status, 200);
}

#[tokio::test]
async fn stop_runtime_session_ends_the_owners_streams_and_refuses_others() {
    let f = fixture();
    let t = token(f).await;
    let thief = token(f).await;
    let session = format!("stoppable-{}", gatehouse::util::random_alnum(30));
    let auth = format!("Bearer {t}");
    let h = "x-amzn-bedrock-agentcore-runtime-session-id";
    let resp = send(
        "POST",
        &url(f, "withauth", None),
        &[("authorization", &auth), (h, &session)],
        json!({"mode": "long"}).to_string(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert!(first.is_data());
    let stop_url = url(f, "withauth", None).replace("/invocations", "/stopruntimesession");
    let tauth = format!("Bearer {thief}");
    let r = send(
        "POST",
        &stop_url,
        &[("authorization", &tauth), (h, &session)],
        "{}",
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = send("POST", &stop_url, &[("authorization", &auth)], "{}").await;
    assert_eq!(r.status(), 400, "no session header");
    let unknown = format!("never-used-{}", gatehouse::util::random_alnum(30));
    let r = send(
        "POST",
        &stop_url,
        &[("authorization", &auth), (h, &unknown)],
        "{}",
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = send(
        "POST",
        &stop_url,
        &[("authorization", &auth), (h, &session)],
        "{}",
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[h], session.as_str());
    let rest = tokio::time::timeout(Duration::from_secs(10), body.collect())
        .await
        .expect("the stream did not end")
        .unwrap();
    let text = String::from_utf8(rest.to_bytes().to_vec()).unwrap();
    assert!(text.contains("SessionStopped"), "{text}");
}

#[tokio::test]
async fn an_external_issuer_with_custom_claims_is_enforced() {
    let f = fixture();
    let u = url(f, "ext", None);
    let (ok, out) = f
        .external
        .create_user_with(&f.vip, crate::common::password(), None);
    assert!(ok, "{out}");
    let vip = f.external.access_token(&f.vip).await;
    let r = invoke(&u, Some(&vip), &[], &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let other = f.external.new_user("plain");
    let plain = f.external.access_token(&other).await;
    let r = invoke(&u, Some(&plain), &[], &json!({})).await;
    assert_eq!(r.status, 403, "custom claim not matched: {}", r.body);
    assert_eq!(r.headers["x-amzn-errortype"], "AccessDeniedException");
    // A token of the gateway's own pool is not a token of the external issuer.
    let own = token(f).await;
    assert_eq!(invoke(&u, Some(&own), &[], &json!({})).await.status, 401);
    // And the external issuer's tokens do not open the built-in runtimes.
    assert_eq!(
        invoke(&url(f, "alpha", None), Some(&vip), &[], &json!({}))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn metrics_count_requests_and_failures() {
    let f = fixture();
    let t = token(f).await;
    assert_eq!(
        invoke(&url(f, "withauth", None), Some(&t), &[], &json!({}))
            .await
            .status,
        200
    );
    assert_eq!(
        invoke(&url(f, "withauth", None), None, &[], &json!({}))
            .await
            .status,
        401
    );
    let text =
        body_text(send("GET", &format!("{}/metrics", f.gw.endpoints.admin), &[], "").await).await;
    assert!(
        text.contains("gatehouse_requests_total{runtime=\"withauth\",status=\"200\"}"),
        "{text}"
    );
    assert!(
        text.contains("gatehouse_auth_failures_total{reason=\"missing_token\"}"),
        "{text}"
    );
    assert!(text.contains("gatehouse_upstream_latency_seconds_count"));
    assert!(text.contains("gatehouse_jwks_fetches_total{runtime=\"withauth\"}"));
    assert!(!text.contains(&t));
}

#[test]
fn config_validate_reports_every_error_and_accepts_good_files() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "version = 1\n[[runtime]]\nname = \"a\"\nupstream = \"http://x\"\nallowed_origins = [\"*\"]\nrequest_header_allowlist = [\"Cookie\"]\n[runtime.limits]\nburst = 0\n[runtime.authorizer]\ndiscovery_url = \"http://idp/.well-known/openid-configuration\"\nallowed_clients = [\"c\"]\n[[runtime.authorizer.custom_claims]]\nclaim = \"groups\"\noperator = \"LIKE\"\nvalue = \"x\"\n").unwrap();
    let out = std::process::Command::new(crate::common::BIN)
        .args(["config", "validate", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "runtime[0].allowed_origins[0]",
        "runtime[0].request_header_allowlist[0]",
        "runtime[0].limits.burst",
        "runtime[0].authorizer.custom_claims[0].operator",
    ] {
        assert!(err.contains(key), "{key} not reported: {err}");
    }
    let good = tmp.path().join("good.toml");
    std::fs::write(
        &good,
        "version = 1\n[[runtime]]\nname = \"a\"\nupstream = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(crate::common::BIN)
        .args(["config", "validate", "-c"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn an_external_issuers_key_rotation_is_picked_up_without_restart() {
    let f = fixture();
    let u = url(f, "ext", None);
    // The VIP user may already exist (another test creates it too).
    let _ = f
        .external
        .create_user_with(&f.vip, crate::common::password(), None);
    let before = f.external.access_token(&f.vip).await;
    let old_kid = gatehouse::token::jws::parse(&before).unwrap().header.kid;
    assert_eq!(invoke(&u, Some(&before), &[], &json!({})).await.status, 200);
    let out = std::process::Command::new(crate::common::BIN)
        .args(["keys", "rotate", "--data-dir"])
        .arg(&f.external.dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let after = loop {
        let t = f.external.access_token(&f.vip).await;
        if gatehouse::token::jws::parse(&t).unwrap().header.kid != old_kid {
            break t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the external IdP never signed with the new key"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The gateway has never seen the new kid; it refetches the JWKS (at most once per jwks_refresh_interval).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = invoke(&u, Some(&after), &[], &json!({})).await;
        if r.status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rotated key was never accepted: {} {}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        invoke(&u, Some(&before), &[], &json!({})).await.status,
        200,
        "the old key stays valid during the overlap"
    );
}
