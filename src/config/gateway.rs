//! `[gateway]`: the gateway listener's TLS files and the shared rate-limit backend, raw and checked. Must
//! never echo a Redis URL (it may carry a password).
use std::time::Duration;

use serde::Deserialize;

use super::common::{duration_or, err};
use super::{ConfigError, Secret};

/// `[idp]`, `[gateway]`, `[web]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListener {
    /// The externally visible URL (behind a load balancer).
    pub public_url: Option<String>,
}

/// `[gateway]`: the listener's public URL and the shared rate-limit backend.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGateway {
    /// The externally visible URL (behind a load balancer).
    pub public_url: Option<String>,
    /// PEM certificate chain and private key: the gateway listener speaks HTTPS and WSS.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// `redis://host:port/db`: per-user rate limits shared by every instance (omitted: in memory).
    pub redis_url: Option<Secret>,
    /// `closed` (default: 503 while Redis is unreachable) or `open` (admit without a limit).
    pub redis_unavailable: Option<String>,
    /// How long one rate-limit check may wait for Redis before the policy applies (default 100ms).
    pub redis_timeout: Option<String>,
    /// Prefix of every Redis key gatehouse writes (default `gatehouse:`).
    pub redis_key_prefix: Option<String>,
}

/// Default of `[gateway] redis_timeout`.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(100);
/// Default of `[gateway] redis_key_prefix`.
pub const DEFAULT_REDIS_KEY_PREFIX: &str = "gatehouse:";

/// The checked rate-limit settings of `[gateway]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitBackend {
    /// Redis shared by every instance (the URL may carry a password); `None`: buckets in this process's memory.
    pub redis_url: Option<Secret>,
    /// Admit requests without a limit while Redis is unreachable (default: refuse them with 503).
    pub fail_open: bool,
    /// The longest one check waits for Redis.
    pub timeout: Duration,
    /// Prefix of every key.
    pub key_prefix: String,
}

impl Default for RateLimitBackend {
    fn default() -> Self {
        Self {
            redis_url: None,
            fail_open: false,
            timeout: DEFAULT_REDIS_TIMEOUT,
            key_prefix: DEFAULT_REDIS_KEY_PREFIX.to_string(),
        }
    }
}

/// Checks a Redis URL: `redis://` only (this build has no TLS to Redis).
pub fn check_redis_url(url: &str) -> Result<(), String> {
    if url.starts_with("rediss://") {
        return Err(
            "rediss:// (TLS) is not supported by this build; use redis:// on a private network \
                    or a local TLS tunnel"
                .into(),
        );
    }
    let ok = url.starts_with("redis://")
        && url
            .parse::<http::Uri>()
            .is_ok_and(|u| u.host().is_some_and(|h| !h.is_empty()));
    if ok {
        Ok(())
    } else {
        Err("not a redis://HOST[:PORT][/DB] URL".into())
    }
}

pub(super) fn check_rate_limits(
    errors: &mut Vec<ConfigError>,
    raw: &RawGateway,
) -> RateLimitBackend {
    let d = RateLimitBackend::default();
    if let Some(u) = &raw.redis_url {
        if let Err(reason) = check_redis_url(u.expose()) {
            // The URL may carry a password: never echo it.
            err(errors, "gateway.redis_url", reason);
        }
    }
    let fail_open = match raw.redis_unavailable.as_deref() {
        None | Some("closed") => false,
        Some("open") => true,
        Some(other) => {
            err(
                errors,
                "gateway.redis_unavailable",
                format!("'{other}' is not a policy; use \"closed\" (refuse with 503) or \"open\" (admit)"),
            );
            false
        }
    };
    let timeout = duration_or(
        errors,
        "gateway.redis_timeout".into(),
        raw.redis_timeout.clone(),
        d.timeout,
    );
    if timeout.is_zero() || timeout > Duration::from_secs(10) {
        err(errors, "gateway.redis_timeout", "must be 1ms to 10s");
    }
    let key_prefix = raw.redis_key_prefix.clone().unwrap_or(d.key_prefix);
    if key_prefix.len() > 64 || key_prefix.bytes().any(|b| !b.is_ascii_graphic()) {
        err(
            errors,
            "gateway.redis_key_prefix",
            "must be at most 64 printable ASCII characters without spaces",
        );
    }
    RateLimitBackend {
        redis_url: raw.redis_url.clone(),
        fail_open,
        timeout,
        key_prefix,
    }
}
