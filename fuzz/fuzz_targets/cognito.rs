//! The Cognito JSON request decoder's inputs: the `X-Amz-Target` header (`parse_target`) and an
//! `InitiateAuth` body decoded the way `idp::api` decodes it (serde_json into `InitiateAuthRequest`).
//! Must never panic.
#![no_main]
use gatehouse::idp::api::parse_target;
use gatehouse::idp::auth::InitiateAuthRequest;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-target", v);
        let _ = parse_target(&headers);
    }
    let _ = serde_json::from_slice::<InitiateAuthRequest>(data);
});
