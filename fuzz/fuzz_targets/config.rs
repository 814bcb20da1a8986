//! Configuration parsing and validation (`Config::from_toml`) and durations. Must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = gatehouse::config::Config::from_toml(text);
        let _ = gatehouse::config::parse_duration(text);
    }
});
