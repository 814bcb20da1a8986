//! The gateway's hot functions, one at a time: a token through the verified-token cache (hit) against full
//! RS256 verification (miss), the cached session-ownership check, and building the agent's headers.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use gatehouse::gateway::forward::agent_headers;
use gatehouse::gateway::session::SessionBinder;
use gatehouse::gateway::tokencache::VerifiedTokens;
use gatehouse::store::SqliteStore;
use gatehouse::token::{
    Authorizer, FetchError, Fetched, JwkSet, KeyCache, KeySource, Policy, RsaSigner,
};
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
