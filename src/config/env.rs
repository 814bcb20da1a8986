//! The process environment behind a trait, so configuration code is testable without mutating the real
//! environment, and the name of every environment variable gatehouse reads or sets. The only place allowed to
//! call `std::env::var`.
use std::collections::HashMap;

/// `PORT`: the reference agent's default port (AgentCore containers listen on 8080).
pub const ENV_PORT: &str = "PORT";
/// `GATEHOUSE_DATA_DIR`: default for `--data-dir`.
pub const ENV_DATA_DIR: &str = "GATEHOUSE_DATA_DIR";
/// `GATEHOUSE_DATABASE_URL`: default for `--database-url` (may carry a password: never logged).
pub const ENV_DATABASE_URL: &str = "GATEHOUSE_DATABASE_URL";
/// `GATEHOUSE_REDIS_URL`: default for `up --redis-url` (overrides `[gateway] redis_url`).
pub const ENV_REDIS_URL: &str = "GATEHOUSE_REDIS_URL";
/// `GATEHOUSE_INTERNAL_URL`: default for `up --internal-url` (overrides `[cluster] internal_url`).
pub const ENV_INTERNAL_URL: &str = "GATEHOUSE_INTERNAL_URL";
/// `GATEHOUSE_SESSION_ID`: set for a session process, its runtime session id.
pub const ENV_SESSION_ID: &str = "GATEHOUSE_SESSION_ID";
/// `GATEHOUSE_RUNTIME`: set for a session process, its runtime's name.
pub const ENV_RUNTIME: &str = "GATEHOUSE_RUNTIME";

/// `SSL_CERT_FILE`: a PEM bundle trusted for outbound https (metadata documents) besides the system roots.
pub const ENV_SSL_CERT_FILE: &str = "SSL_CERT_FILE";

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
