//! The gateway's hot functions, one at a time: a token through the verified-token cache (hit) against full
//! RS256 verification (miss), the cached session-ownership check, building the agent's headers, and the SSE relay
//! per event (an agent on a real loopback socket streams events through the agent pool and `GuardedBody`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use gatehouse::agent::pool::Pool;
use gatehouse::gateway::forward::agent_headers;
use gatehouse::gateway::metrics::Metrics;
use gatehouse::gateway::session::SessionBinder;
use gatehouse::gateway::stream::{GuardedBody, StreamRegistry};
use gatehouse::gateway::tokencache::VerifiedTokens;
use gatehouse::store::SqliteStore;
use gatehouse::token::{
    Authorizer, FetchError, Fetched, JwkSet, KeyCache, KeySource, Policy, RsaSigner,
};
use http_body::Frame;
use http_body_util::{BodyExt as _, StreamBody};
use serde_json::json;

struct FixedKeys(Vec<u8>, String);

#[async_trait::async_trait]
impl KeySource for FixedKeys {
    async fn fetch(&self) -> Result<Fetched, FetchError> {
        Ok(Fetched {
            issuer: self.1.clone(),
            jwks: self.0.clone(),
        })
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let der = RsaSigner::generate_pkcs8().unwrap();
    let signer = RsaSigner::from_pkcs8(RsaSigner::kid_for_pkcs8(&der), &der).unwrap();
    let issuer = "http://127.0.0.1:4001/us-east-1_AbCdEf123".to_string();
    let now = 1_800_000_000;
    let claims = |jti: u64| {
        json!({
            "sub": "5f1c7d2e-1111-4222-8333-944455556666", "iss": issuer, "client_id": "abcdefghijklmnopqrstuvwxyz",
            "origin_jti": "o", "event_id": "e", "token_use": "access", "scope": "aws.cognito.signin.user.admin",
            "auth_time": now, "exp": now + 3600, "iat": now, "jti": jti.to_string(), "username": "alice",
        })
    };
    let token = signer.sign(&claims(0)).unwrap();
    let jwks = serde_json::to_vec(&JwkSet {
        keys: vec![signer.public_jwk()],
    })
    .unwrap();
    let cache = Arc::new(KeyCache::new(
        Arc::new(FixedKeys(jwks, issuer.clone())),
        Duration::from_secs(30),
        Duration::from_secs(1),
        Duration::from_secs(3600),
    ));
    let authorizer = Authorizer {
        policy: Policy {
            allowed_clients: vec!["abcdefghijklmnopqrstuvwxyz".into()],
            ..Policy::default()
        },
        cache,
    };
    let verified = VerifiedTokens::default();
    let t0 = Instant::now();
    rt.block_on(verified.authorize(&authorizer, &token, now + 1, t0))
        .unwrap();

    let mut g = c.benchmark_group("gateway");
    g.throughput(Throughput::Elements(1));
    g.bench_function("token_verified_cache_hit", |b| {
        b.iter(|| {
            rt.block_on(verified.authorize(&authorizer, black_box(&token), now + 1, t0))
                .unwrap()
        })
    });
    // A new token every iteration: the cache never hits (signing happens outside the measurement).
    let fresh: Vec<String> = (1..=200)
        .map(|i| signer.sign(&claims(i)).unwrap())
        .collect();
    let mut i = 0;
    g.bench_function("token_full_verification_miss", |b| {
        b.iter(|| {
            i = (i + 1) % fresh.len();
            rt.block_on(authorizer.authorize(black_box(&fresh[i]), now + 1, t0))
                .unwrap()
        })
    });

    let dir = tempfile::tempdir().unwrap();
    let store = rt.block_on(SqliteStore::open_in(dir.path())).unwrap();
    let binder = SessionBinder::new(Arc::new(store));
    let session = "bench-session-0123456789abcdefghijklmnop";
    rt.block_on(binder.bind("arn", session, &issuer, "alice", now))
        .unwrap();
    g.bench_function("session_binding_cached", |b| {
        b.iter(|| {
            rt.block_on(binder.bind("arn", black_box(session), &issuer, "alice", now))
                .unwrap()
        })
    });

    let mut client = HeaderMap::new();
    for (k, v) in [
        ("authorization", "Bearer x.y.z"),
        ("content-type", "application/json"),
        ("accept", "text/event-stream"),
        ("user-agent", "bench"),
        ("x-amzn-bedrock-agentcore-runtime-session-id", session),
        ("x-amzn-bedrock-agentcore-runtime-custom-tenant", "acme"),
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        ("cookie", "a=b"),
    ] {
        client.insert(k, HeaderValue::from_static(v));
    }
    g.bench_function("agent_headers", |b| {
        b.iter(|| agent_headers(black_box(&client), session, "alice", "req-1", &[]))
    });
    g.finish();

    // SSE relay: each iteration asks a real agent (hyper, 127.0.0.1:0) for an answer of EVENTS events and reads it
    // to the end through the agent pool (keep-alive, so after the first iteration no connect) and `GuardedBody`
    // (stop signal, idle timer, SSE framing): the gateway's per-event work plus the agent's and hyper's.
    const EVENTS: u64 = 1000;
    let agent = rt.block_on(sse_agent(EVENTS));
    let pool = Arc::new(Pool::default());
    let streams = StreamRegistry::default();
    let metrics = Arc::new(Metrics::default());
    let mut g = c.benchmark_group("sse");
    g.throughput(Throughput::Elements(EVENTS));
    g.bench_function("relay_per_event", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = http::Request::post(format!("http://{agent}/invocations"))
                    .body(axum::body::Body::empty())
                    .unwrap();
                let (_, body) = pool.send(req).await.unwrap().into_parts();
                let mut relayed = GuardedBody::new(
                    body,
                    true,
                    Duration::from_secs(60),
                    streams.register("arn", session),
                    metrics.clone(),
                    "req-1".into(),
                    None,
                );
                let mut bytes = 0;
                while let Some(frame) = relayed.frame().await {
                    bytes += frame.unwrap().into_data().map_or(0, |d| d.len());
                }
                assert!(bytes > 0);
                bytes
            })
        })
    });
    g.finish();
}

/// An agent answering every request with `events` SSE events, each its own chunk; returns its address.
async fn sse_agent(events: u64) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            socket.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| async move {
                    let frames = (0..events).map(|i| {
                        Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(format!(
                            "data: {{\"delta\":\"token {i} \"}}\n\n"
                        ))))
                    });
                    let body = StreamBody::new(futures_util::stream::iter(frames));
                    http::Response::builder()
                        .header("content-type", "text/event-stream")
                        .body(body)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), svc)
                    .await;
            });
        }
    });
    addr
}

criterion_group!(benches, bench);
criterion_main!(benches);
