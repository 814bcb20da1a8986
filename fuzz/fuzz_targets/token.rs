//! Token parsing and verification: `jws::parse` on any string, then `verify_with` against a fixed key set, and
//! `VerifiedClaims::from_payload` on any JSON object. Must never panic, whatever the bytes.
#![no_main]
use std::sync::OnceLock;

use gatehouse::token::{
    jws, verify_with, KeySnapshot, Policy, RsaSigner, VerifiedClaims, VerifyingKeys,
};
use libfuzzer_sys::fuzz_target;

fn snapshot() -> &'static KeySnapshot {
    static S: OnceLock<KeySnapshot> = OnceLock::new();
    S.get_or_init(|| {
        let der = RsaSigner::generate_pkcs8().expect("key generation");
        let signer = RsaSigner::from_pkcs8("fuzz".into(), &der).expect("pkcs8");
        KeySnapshot {
            issuer: "https://issuer.example".into(),
            keys: VerifyingKeys::from_jwks(&[signer.public_jwk()]),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = jws::parse(text);
        let _ = verify_with(snapshot(), &Policy::default(), text, 1_700_000_000);
    }
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(data) {
        let _ = VerifiedClaims::from_payload(map);
    }
});
