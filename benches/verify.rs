//! RS256 verification of a valid token with pre-parsed, cached keys (`token::verify_with`), the gateway's
//! per-request cost; signing is measured beside it for scale. Throughput is printed as elements/s = ops/s.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use gatehouse::token::{verify_with, KeySnapshot, Policy, RsaSigner, VerifyingKeys};
use serde_json::json;

fn bench(c: &mut Criterion) {
    let der = RsaSigner::generate_pkcs8().unwrap();
    let signer = RsaSigner::from_pkcs8(RsaSigner::kid_for_pkcs8(&der), &der).unwrap();
    let now = 1_800_000_000;
    let issuer = "http://127.0.0.1:4001/us-east-1_AbCdEf123";
    let claims = json!({
        "sub": "5f1c7d2e-1111-4222-8333-944455556666", "iss": issuer, "client_id": "abcdefghijklmnopqrstuvwxyz",
        "origin_jti": "o", "event_id": "e", "token_use": "access", "scope": "aws.cognito.signin.user.admin",
        "auth_time": now, "exp": now + 3600, "iat": now, "jti": "j", "username": "alice",
    });
    let token = signer.sign(&claims).unwrap();
    let snapshot = KeySnapshot {
        issuer: issuer.to_string(),
        keys: VerifyingKeys::from_jwks(&[signer.public_jwk()]),
    };
    let policy = Policy {
        allowed_clients: vec!["abcdefghijklmnopqrstuvwxyz".into()],
        ..Policy::default()
    };
    assert!(verify_with(&snapshot, &policy, &token, now + 1).is_ok());

    let mut g = c.benchmark_group("rs256");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_valid_token_cached_keys", |b| {
        b.iter(|| verify_with(black_box(&snapshot), &policy, black_box(&token), now + 1).unwrap())
    });
    g.bench_function("sign_access_token", |b| {
        b.iter(|| signer.sign(black_box(&claims)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
