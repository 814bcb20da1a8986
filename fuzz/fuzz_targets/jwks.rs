//! The JWKS document a gateway fetches from an OIDC provider (hostile or broken). Must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gatehouse::token::VerifyingKeys::from_jwks_json(data);
});
