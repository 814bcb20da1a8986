//! Routing of the gateway's path tail (URL-encoded runtime ARN + operation) and session-id validation.
//! Must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = gatehouse::gateway::route::parse_path(text);
        let _ = gatehouse::gateway::session::validate_session_id(text);
    }
});
