//! Test-only helpers shared by the token module's tests: RSA keys generated
//! once per test binary (keygen is slow), token forging, a counting
//! in-memory [`KeySource`], and fixed clock values.
//!
//! Must never: be compiled outside `cfg(test)`, or read the clock except to
//! produce `Instant`s that tests pass in explicitly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use serde_json::{json, Value};

use crate::token::cache::{FetchError, Fetched, KeySnapshot, KeySource};
use crate::token::jwk::{JwkSet, VerifyingKeys};
use crate::token::jws::encode_segment;
use crate::token::sign::RsaSigner;

/// Issuer used by every test token.
pub(crate) const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST";
/// The fixed "now" (Unix seconds) every test passes in.
pub(crate) const NOW: i64 = 1_700_000_000;
/// Kid of the primary test key.
pub(crate) const KID: &str = "key-1";
/// Kid of the rotated-in test key.
pub(crate) const KID2: &str = "key-2";

/// A test key: its PKCS#8 DER, the signer, and the raw key pair for forging.
pub(crate) struct TestKey {
    pub(crate) signer: RsaSigner,
    pub(crate) pair: KeyPair,
}

fn make_key(kid: &str) -> TestKey {
    let der = RsaSigner::generate_pkcs8().expect("keygen");
    TestKey {
        signer: RsaSigner::from_pkcs8(kid.to_owned(), &der).expect("load"),
        pair: KeyPair::from_pkcs8(&der).expect("load pair"),
    }
}

/// The primary key (kid `key-1`).
pub(crate) fn primary() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(|| make_key(KID))
}

/// A different RSA key that also claims kid `key-1` (an attacker's key).
pub(crate) fn impostor() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(|| make_key(KID))
}

/// A second legitimate key (kid `key-2`), used for rotation.
pub(crate) fn rotated() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(|| make_key(KID2))
}

/// A valid Cognito-style access-token claim set around [`NOW`].
pub(crate) fn base_claims() -> Value {
    json!({
        "sub": "11111111-2222-3333-4444-555555555555",
        "iss": ISSUER,
        "token_use": "access",
        "client_id": "client-a",
        "scope": "read write",
        "username": "alice",
        "auth_time": NOW,
        "iat": NOW,
        "exp": NOW + 3600,
        "jti": "jti-1",
        "cognito:groups": ["admins", "devs"],
    })
}

/// `base_claims()` with `name` set to `value` (or removed if `None`).
pub(crate) fn claims_with(name: &str, value: Option<Value>) -> Value {
    let mut c = base_claims();
    let map = c.as_object_mut().expect("object");
    match value {
        Some(v) => {
            map.insert(name.to_owned(), v);
        }
        None => {
            map.remove(name);
        }
    }
    c
}

/// Signs `claims` with the primary key through the production signer.
pub(crate) fn sign(claims: &Value) -> String {
    primary().signer.sign(claims).expect("sign")
}

/// Builds `b64(header).b64(payload)` from raw JSON text (no validation).
pub(crate) fn signing_input(header_json: &str, payload_json: &str) -> String {
    format!(
        "{}.{}",
        encode_segment(header_json.as_bytes()),
        encode_segment(payload_json.as_bytes())
    )
}

/// RS256-signs arbitrary header/payload JSON text with `key`.
pub(crate) fn forge_rs256(key: &KeyPair, header_json: &str, payload_json: &str) -> String {
    let input = signing_input(header_json, payload_json);
    let mut sig = vec![0u8; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .expect("rsa sign");
    format!("{input}.{}", encode_segment(&sig))
}

/// Attaches raw signature bytes to header/payload JSON text.
pub(crate) fn with_signature(header_json: &str, payload_json: &str, sig: &[u8]) -> String {
    format!(
        "{}.{}",
        signing_input(header_json, payload_json),
        encode_segment(sig)
    )
}

/// The JWKS JSON publishing the given keys.
pub(crate) fn jwks_json(keys: &[&TestKey]) -> Vec<u8> {
    let set = JwkSet {
        keys: keys.iter().map(|k| k.signer.public_jwk()).collect(),
    };
    serde_json::to_vec(&set).expect("jwks json")
}

/// A snapshot trusting the primary key for [`ISSUER`].
pub(crate) fn snapshot() -> KeySnapshot {
    KeySnapshot {
        issuer: ISSUER.to_owned(),
        keys: VerifyingKeys::from_jwks_json(&jwks_json(&[primary()])).expect("jwks"),
    }
}

/// An in-memory key source whose answer can be changed, which counts its
/// fetches and can be made slow.
pub(crate) struct MockSource {
    answer: Mutex<Option<Fetched>>,
    delay: Duration,
    fetches: AtomicU64,
}

impl MockSource {
    /// A source serving `keys` for [`ISSUER`].
    pub(crate) fn serving(keys: &[&TestKey]) -> Arc<MockSource> {
        Self::with_delay(keys, Duration::ZERO)
    }

    /// Like [`MockSource::serving`] but every fetch sleeps `delay` first.
    pub(crate) fn with_delay(keys: &[&TestKey], delay: Duration) -> Arc<MockSource> {
        Arc::new(MockSource {
            answer: Mutex::new(Some(Fetched {
                issuer: ISSUER.to_owned(),
                jwks: jwks_json(keys),
            })),
            delay,
            fetches: AtomicU64::new(0),
        })
    }

    /// A source whose every fetch fails.
    pub(crate) fn failing() -> Arc<MockSource> {
        let s = Self::serving(&[]);
        s.set(None);
        s
    }

    /// Replaces the answer (`None` = fail).
    pub(crate) fn set(&self, answer: Option<Fetched>) {
        *self.answer.lock().expect("mock lock") = answer;
    }

    /// Serves `keys` for [`ISSUER`] from now on.
    pub(crate) fn serve(&self, keys: &[&TestKey]) {
        self.set(Some(Fetched {
            issuer: ISSUER.to_owned(),
            jwks: jwks_json(keys),
        }));
    }

    /// How many times `fetch` was called.
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl KeySource for MockSource {
    async fn fetch(&self) -> Result<Fetched, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let answer = self.answer.lock().expect("mock lock").clone();
        answer.ok_or_else(|| FetchError("mock source down".to_owned()))
    }
}
