//! The process environment behind a trait, so configuration code is testable without mutating the real
//! environment. The only place allowed to call `std::env::var`.
use std::collections::HashMap;

/// `PORT`: the reference agent's default port (AgentCore containers listen on 8080).
pub const ENV_PORT: &str = "PORT";
/// `GATEHOUSE_DATA_DIR`: default for `--data-dir`.
pub const ENV_DATA_DIR: &str = "GATEHOUSE_DATA_DIR";

/// Reads environment variables.
pub trait EnvSource {
    /// The value of `key`, if set and valid UTF-8.
    fn get(&self, key: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    #[allow(clippy::disallowed_methods)]
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl EnvSource for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}
