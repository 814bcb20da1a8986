//! Tests for `KeyCache` and `Authorizer`: fail-closed first load,
//! single-flight fetching, rate-limited unknown-kid refresh, rotation,
//! stale-while-failing refresh, and no refresh on bad signatures.
//!
//! Must never: use the network; `Instant::now()` is only used to build the
//! times passed into the API.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::token::jws::encode_segment;
use crate::token::test_support::{
    base_claims, forge_rs256, impostor, primary, rotated, sign, MockSource, ISSUER, KID, KID2, NOW,
};

const INTERVAL: Duration = Duration::from_secs(30);
const BACKOFF: Duration = Duration::from_secs(1);
const MAX_AGE: Duration = Duration::from_secs(300);

fn cache(source: &Arc<MockSource>) -> Arc<KeyCache> {
    let source: Arc<dyn KeySource> = Arc::clone(source) as Arc<dyn KeySource>;
    Arc::new(KeyCache::new(source, INTERVAL, BACKOFF, MAX_AGE))
}

fn authorizer(cache: &Arc<KeyCache>) -> Authorizer {
    Authorizer {
        policy: Policy::default(),
        cache: Arc::clone(cache),
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn token_for(kid: &str) -> String {
    let header = json!({"alg": "RS256", "kid": kid}).to_string();
    forge_rs256(&primary().pair, &header, &base_claims().to_string())
}

fn rotated_token() -> String {
    rotated().signer.sign(&base_claims()).unwrap()
}

#[tokio::test]
async fn never_loaded_failing_source_is_keys_unavailable() {
    let source = MockSource::failing();
    let cache = cache(&source);
    let t0 = Instant::now();
    let err = cache.key_set(t0).await.unwrap_err();
    assert_eq!(err, TokenError::KeysUnavailable);
    assert_eq!(err.refusal(), crate::token::Refusal::Unavailable);
    let r = authorizer(&cache)
        .authorize(&sign(&base_claims()), NOW, t0 + secs(2))
        .await;
    assert_eq!(r.map(|_| ()), Err(TokenError::KeysUnavailable));
    assert_eq!(
        cache
            .refresh_for_unknown_kid(KID, t0 + secs(4))
            .await
            .map(|_| ()),
        Err(TokenError::KeysUnavailable)
    );
}

#[tokio::test]
async fn failed_first_load_is_retried_only_after_failure_backoff() {
    let source = MockSource::failing();
    let cache = cache(&source);
    let t0 = Instant::now();
    assert!(cache.key_set(t0).await.is_err());
    for _ in 0..10 {
        assert!(cache
            .key_set(t0 + Duration::from_millis(500))
            .await
            .is_err());
    }
    assert_eq!(source.fetches(), 1);
    source.serve(&[primary()]);
    let snap = cache
        .key_set(t0 + secs(1))
        .await
        .expect("loaded after backoff");
    assert_eq!(snap.issuer, ISSUER);
    assert_eq!(source.fetches(), 2);
    assert_eq!(cache.fetch_count(), 2);
}

#[tokio::test]
async fn loads_once_and_serves_from_cache() {
    let source = MockSource::serving(&[primary()]);
    let cache = cache(&source);
    let auth = authorizer(&cache);
    let t0 = Instant::now();
    for i in 0..50 {
        auth.authorize(&sign(&base_claims()), NOW, t0 + secs(i))
            .await
            .expect("valid");
    }
    assert_eq!(source.fetches(), 1);
}

#[tokio::test]
async fn source_with_no_usable_keys_or_issuer_counts_as_failure() {
    let source = MockSource::serving(&[]);
    let cache = cache(&source);
    let t0 = Instant::now();
    assert_eq!(
        cache.key_set(t0).await.map(|_| ()),
        Err(TokenError::KeysUnavailable)
    );
    source.set(Some(Fetched {
        issuer: String::new(),
        jwks: crate::token::test_support::jwks_json(&[primary()]),
    }));
    assert_eq!(
        cache.key_set(t0 + secs(2)).await.map(|_| ()),
        Err(TokenError::KeysUnavailable)
    );
    source.set(Some(Fetched {
        issuer: ISSUER.into(),
        jwks: b"{oops".to_vec(),
    }));
    assert_eq!(
        cache.key_set(t0 + secs(4)).await.map(|_| ()),
        Err(TokenError::KeysUnavailable)
    );
    assert_eq!(source.fetches(), 3);
}

#[tokio::test]
async fn hundred_random_unknown_kids_fetch_at_most_once_per_interval() {
    let source = MockSource::serving(&[primary()]);
    let cache = cache(&source);
    let auth = authorizer(&cache);
    let t0 = Instant::now();
    cache.key_set(t0).await.expect("initial load");
    assert_eq!(cache.fetch_count(), 1);
    // Within the interval: no fetch at all.
    for i in 0..100 {
        let r = auth
            .authorize(&token_for(&format!("rand-{i}")), NOW, t0 + secs(5))
            .await;
        assert_eq!(r.map(|_| ()), Err(TokenError::UnknownKid));
    }
    assert_eq!(cache.fetch_count(), 1);
    // After the interval: exactly one fetch for the whole flood.
    for i in 0..100 {
        let r = auth
            .authorize(&token_for(&format!("rand2-{i}")), NOW, t0 + secs(31))
            .await;
        assert_eq!(r.map(|_| ()), Err(TokenError::UnknownKid));
    }
    assert_eq!(cache.fetch_count(), 2);
    assert_eq!(source.fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_loads_are_single_flight() {
    let source = MockSource::with_delay(&[primary()], Duration::from_millis(100));
    let cache = cache(&source);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let cache = Arc::clone(&cache);
        tasks.push(tokio::spawn(async move {
            cache.key_set(t0).await.map(|s| s.keys.len())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Ok(1));
    }
    assert_eq!(source.fetches(), 1);
    assert_eq!(cache.fetch_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_unknown_kid_refreshes_are_single_flight() {
    let source = MockSource::with_delay(&[primary()], Duration::from_millis(100));
    let cache = cache(&source);
    let t0 = Instant::now();
    cache.key_set(t0).await.expect("initial load");
    source.serve(&[primary(), rotated()]);
    let later = t0 + secs(31);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let cache = Arc::clone(&cache);
        let kid = if i % 2 == 0 {
            KID2.to_owned()
        } else {
            format!("junk-{i}")
        };
        tasks.push(tokio::spawn(async move {
            cache.refresh_for_unknown_kid(&kid, later).await.map(|_| ())
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(e) => assert_eq!(e, TokenError::UnknownKid),
        }
    }
    assert_eq!(ok, 10, "every task asking for the rotated kid gets it");
    assert_eq!(source.fetches(), 2, "one initial load + one refresh");
}

#[tokio::test]
async fn rotated_key_is_picked_up_after_min_interval() {
    let source = MockSource::serving(&[primary()]);
    let cache = cache(&source);
    let auth = authorizer(&cache);
    let t0 = Instant::now();
    auth.authorize(&sign(&base_claims()), NOW, t0)
        .await
        .expect("old key works");
    source.serve(&[primary(), rotated()]);
    let early = auth.authorize(&rotated_token(), NOW, t0 + secs(10)).await;
    assert_eq!(early.map(|_| ()), Err(TokenError::UnknownKid));
    assert_eq!(source.fetches(), 1);
    let c = auth
        .authorize(&rotated_token(), NOW, t0 + secs(30))
        .await
        .expect("rotated key");
    assert_eq!(c.iss, ISSUER);
    assert_eq!(source.fetches(), 2);
    // Both keys now work without further fetches.
    auth.authorize(&sign(&base_claims()), NOW, t0 + secs(40))
        .await
        .expect("old key");
    auth.authorize(&rotated_token(), NOW, t0 + secs(40))
        .await
        .expect("new key");
    assert_eq!(source.fetches(), 2);
}

#[tokio::test]
async fn retired_key_stops_working_after_max_age_refresh() {
    let source = MockSource::serving(&[primary()]);
    let cache = cache(&source);
    let auth = authorizer(&cache);
    let t0 = Instant::now();
    auth.authorize(&sign(&base_claims()), NOW, t0)
        .await
        .expect("valid");
    source.serve(&[rotated()]);
    let r = auth
        .authorize(&sign(&base_claims()), NOW, t0 + secs(301))
        .await;
    // The refresh removed key-1; an immediate retry is rate-limited.
    assert_eq!(r.map(|_| ()), Err(TokenError::UnknownKid));
    assert_eq!(source.fetches(), 2);
}

#[tokio::test]
async fn max_age_refresh_keeps_old_keys_when_refresh_fails() {
    let source = MockSource::serving(&[primary()]);
    let cache = cache(&source);
    let auth = authorizer(&cache);
    let t0 = Instant::now();
    cache.key_set(t0).await.expect("initial load");
    source.set(None);
    let stale = t0 + secs(301);
    let snap = cache.key_set(stale).await.expect("stale keys still served");
    assert_eq!(snap.keys.kids(), vec![KID]);
    assert_eq!(source.fetches(), 2);
    auth.authorize(&sign(&base_claims()), NOW, stale)
        .await
        .expect("old key still accepted");
    // Retries happen only after the failure backoff.
    cache
        .key_set(stale + Duration::from_millis(500))
        .await
        .expect("stale");
    assert_eq!(source.fetches(), 2);
    cache.key_set(stale + secs(1)).await.expect("stale");
    assert_eq!(source.fetches(), 3);
    // Once the source recovers, the refreshed snapshot is used.
    source.serve(&[primary(), rotated()]);
    let fresh = cache.key_set(stale + secs(3)).await.expect("fresh");
    assert_eq!(fresh.keys.kids(), vec![KID, KID2]);
    assert_eq!(source.fetches(), 4);
}

#[tokio::test]
async fn bad_signatures_for_a_known_kid_refresh_at_most_once_per_interval() {
    let source = MockSource::serving(&[primary()]);
    let cache = cache(&source);
    let auth = authorizer(&cache);
    let t0 = Instant::now();
    cache.key_set(t0).await.expect("load");
    let forged = impostor().signer.sign(&base_claims()).unwrap();
    // Within the first interval: no fetch at all.
    for i in 0..20 {
        let r = auth.authorize(&forged, NOW, t0 + secs(i)).await;
        assert_eq!(r.map(|_| ()), Err(TokenError::BadSignature));
    }
    assert_eq!(source.fetches(), 1);
    // After it: one fetch for the whole flood, however many forged tokens arrive.
    for i in 0..20 {
        let r = auth.authorize(&forged, NOW, t0 + secs(60 + i)).await;
        assert_eq!(r.map(|_| ()), Err(TokenError::BadSignature));
    }
    assert_eq!(source.fetches(), 2);
}

#[tokio::test]
async fn same_kid_with_a_new_key_is_picked_up_after_one_refresh() {
    let source = MockSource::serving(&[primary()]);
    let cache = cache(&source);
    let auth = authorizer(&cache);
    let t0 = Instant::now();
    auth.authorize(&sign(&base_claims()), NOW, t0)
        .await
        .expect("old key");
    // The issuer replaces the key but keeps its kid.
    assert_eq!(impostor().signer.kid(), KID, "the test needs the same kid");
    source.serve(&[impostor()]);
    let new_token = impostor().signer.sign(&base_claims()).unwrap();
    let early = auth.authorize(&new_token, NOW, t0 + secs(10)).await;
    assert_eq!(
        early.map(|_| ()),
        Err(TokenError::BadSignature),
        "rate-limited"
    );
    let c = auth
        .authorize(&new_token, NOW, t0 + secs(31))
        .await
        .expect("the new key under the old kid");
    assert_eq!(c.iss, ISSUER);
    assert_eq!(source.fetches(), 2);
    // The replaced key no longer verifies.
    let old = auth
        .authorize(&sign(&base_claims()), NOW, t0 + secs(32))
        .await;
    assert_eq!(old.map(|_| ()), Err(TokenError::BadSignature));
}

#[tokio::test]
async fn malformed_tokens_never_trigger_a_fetch() {
    let source = MockSource::serving(&[primary()]);
    let cache = cache(&source);
    let auth = authorizer(&cache);
    let now = Instant::now();
    let junk = [
        String::new(),
        "a.b".to_owned(),
        format!("{}.{}.", encode_segment(b"{}"), encode_segment(b"{}")),
        format!(
            "{}.{}.AAAA",
            encode_segment(br#"{"alg":"none","kid":"x"}"#),
            encode_segment(b"{}")
        ),
        "x".repeat(9000),
    ];
    for t in &junk {
        assert!(auth.authorize(t, NOW, now).await.is_err());
    }
    assert_eq!(source.fetches(), 0);
}

#[tokio::test]
async fn issuer_comes_from_the_key_source() {
    let source = MockSource::serving(&[primary()]);
    source.set(Some(Fetched {
        issuer: "https://other-issuer".into(),
        jwks: crate::token::test_support::jwks_json(&[primary()]),
    }));
    let cache = cache(&source);
    let r = authorizer(&cache)
        .authorize(&sign(&base_claims()), NOW, Instant::now())
        .await;
    assert_eq!(r.map(|_| ()), Err(TokenError::WrongIssuer));
}

#[test]
fn verify_with_never_refreshes() {
    let snap = KeySnapshot {
        issuer: ISSUER.into(),
        keys: VerifyingKeys::from_jwks(&[primary().signer.public_jwk()]),
    };
    assert!(verify_with(&snap, &Policy::default(), &sign(&base_claims()), NOW).is_ok());
    assert_eq!(
        verify_with(&snap, &Policy::default(), &rotated_token(), NOW).map(|_| ()),
        Err(TokenError::UnknownKid)
    );
}

#[test]
fn cache_debug_does_not_leak_and_defaults_are_documented() {
    let source = MockSource::serving(&[primary()]);
    let c = cache(&source);
    assert!(format!("{c:?}").contains("fetch_count"));
    assert_eq!(DEFAULT_MIN_REFRESH_INTERVAL, secs(30));
    assert_eq!(DEFAULT_FAILURE_BACKOFF, secs(1));
    assert_eq!(DEFAULT_MAX_AGE, secs(300));
}
