//! The per-user token bucket shared by every gatehouse instance through Redis. One Lua script refills and takes
//! a token atomically on the Redis server's clock (instances need no synchronised clocks), sent as EVALSHA with
//! an EVAL fallback, one round trip per request; keys expire once their bucket would be full again. When Redis
//! does not answer within the configured timeout, the policy decides: closed (503) or open (admitted without a
//! limit); the transition is logged once (not per request) and counted in the metrics. Must never wait longer
//! than the timeout, put a user id in a Redis key in clear, or log the Redis URL (it may carry a password).
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::GatewayError;
use crate::config::RateLimitBackend;

/// Refill, take, remember, expire. Returns `{allowed (0|1), retry_after_ms}`.
const BUCKET_LUA: &str = r"
local rate = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = cap
  ts = now
end
tokens = math.min(cap, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(cap * 1000 / rate) + 1000)
return {allowed, retry}
";

/// Why a check could not be answered by Redis.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Redis did not answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Redis answered with an error or the connection failed.
    #[error("{0}")]
    Redis(#[from] redis::RedisError),
}

/// Token buckets in Redis, shared by every instance that uses the same URL and key prefix.
pub struct RedisRateLimiter {
    conn: ConnectionManager,
    script: redis::Script,
    prefix: String,
    timeout: Duration,
    fail_open: bool,
    /// Whether the last check reached Redis (starts `false` until the first answer).
    up: AtomicBool,
    errors: AtomicU64,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("fail_open", &self.fail_open)
            .finish_non_exhaustive()
    }
}

/// `redis://[user:password@]host:port/db` without the credentials, for logs.
pub fn redacted(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(u) => format!(
            "{}://{}:{}",
            u.scheme_str().unwrap_or("redis"),
            u.host().unwrap_or("?"),
            u.port_u16().unwrap_or(6379)
        ),
        Err(_) => "redis://?".into(),
    }
}

impl RedisRateLimiter {
    /// A limiter for `cfg.redis_url`. Connects lazily (and reconnects by itself): gatehouse starts even while
    /// Redis is down, and the unavailable-policy applies until it answers.
    pub fn new(url: &str, cfg: &RateLimitBackend) -> Result<Self, String> {
        crate::config::check_redis_url(url).map_err(|e| format!("redis URL: {e}"))?;
        let client = redis::Client::open(url)
            .map_err(|e| format!("redis URL {}: {:?}", redacted(url), e.kind()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(cfg.timeout.max(Duration::from_millis(500))))
            .set_response_timeout(Some(cfg.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("redis {}: {e}", redacted(url)))?;
        Ok(Self {
            conn,
            script: redis::Script::new(BUCKET_LUA),
            prefix: cfg.key_prefix.clone(),
            timeout: cfg.timeout,
            fail_open: cfg.fail_open,
            up: AtomicBool::new(false),
            errors: AtomicU64::new(0),
        })
    }

    /// The Redis key of one user's bucket on one runtime: a hash, so no user id is stored in clear.
    pub fn key(&self, runtime_arn: &str, user_key: &str) -> String {
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            format!("{runtime_arn}\n{user_key}").as_bytes(),
        );
        let hex: String = digest.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{}rl:{hex}", self.prefix)
    }

    /// One round trip: `Ok(None)` admitted, `Ok(Some(retry))` the bucket is empty.
    pub async fn take(
        &self,
        key: &str,
        per_minute: u32,
        burst: u32,
    ) -> Result<Option<Duration>, BackendError> {
        let rate = f64::from(per_minute.max(1)) / 60.0;
        let mut conn = self.conn.clone();
        let mut call = self.script.key(key);
        call.arg(rate).arg(burst.max(1));
        let answer: (i64, i64) = tokio::time::timeout(self.timeout, call.invoke_async(&mut conn))
            .await
            .map_err(|_| BackendError::Timeout(self.timeout))??;
        Ok(match answer {
            (1, _) => None,
            (_, ms) => Some(Duration::from_millis(u64::try_from(ms).unwrap_or(1000))),
        })
    }

    /// Checks one request against the shared bucket, applying the unavailable-policy when Redis cannot answer.
    pub async fn check(
        &self,
        runtime_arn: &str,
        user_key: &str,
        per_minute: u32,
        burst: u32,
    ) -> Result<(), GatewayError> {
        match self
            .take(&self.key(runtime_arn, user_key), per_minute, burst)
            .await
        {
            Ok(answer) => {
                if !self.up.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        "shared rate limits: Redis answers; limits are enforced across instances"
                    );
                }
                match answer {
                    None => Ok(()),
                    Some(retry) => Err(GatewayError::Throttled(
                        retry.as_secs_f64().ceil().max(1.0) as u64,
                    )),
                }
            }
            Err(e) => {
                let first = self.errors.fetch_add(1, Ordering::Relaxed) == 0;
                if self.up.swap(false, Ordering::Relaxed) || first {
                    let policy = if self.fail_open {
                        "open: requests are admitted without a rate limit"
                    } else {
                        "closed: requests are refused with 503"
                    };
                    tracing::error!(error = %e, policy, "shared rate limits: Redis is unreachable");
                }
                if self.fail_open {
                    Ok(())
                } else {
                    Err(GatewayError::RateLimitUnavailable)
                }
            }
        }
    }

    /// Asks Redis once (PING), recording whether it answers; used at start-up to log the state early.
    pub async fn probe(&self) -> bool {
        let mut conn = self.conn.clone();
        let ping = redis::cmd("PING");
        let ok = matches!(
            tokio::time::timeout(
                self.timeout.max(Duration::from_millis(500)),
                ping.query_async::<String>(&mut conn)
            )
            .await,
            Ok(Ok(_))
        );
        self.up.store(ok, Ordering::Relaxed);
        ok
    }

    /// The Prometheus text of the backend's state.
    pub fn render_metrics(&self) -> String {
        format!(
            "# HELP gatehouse_ratelimit_backend_up Whether the last shared rate-limit check reached Redis (1) or not (0).\n\
             # TYPE gatehouse_ratelimit_backend_up gauge\n\
             gatehouse_ratelimit_backend_up {}\n\
             # HELP gatehouse_ratelimit_backend_errors_total Shared rate-limit checks that Redis did not answer in time.\n\
             # TYPE gatehouse_ratelimit_backend_errors_total counter\n\
             gatehouse_ratelimit_backend_errors_total {}\n\
             # HELP gatehouse_ratelimit_fail_open Whether requests are admitted (1) or refused (0) while Redis is unreachable.\n\
             # TYPE gatehouse_ratelimit_fail_open gauge\n\
             gatehouse_ratelimit_fail_open {}\n",
            u8::from(self.up.load(Ordering::Relaxed)),
            self.errors.load(Ordering::Relaxed),
            u8::from(self.fail_open),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_drops_credentials() {
        assert_eq!(
            redacted("redis://user:s3cret@cache.internal:6380/2"),
            "redis://cache.internal:6380"
        );
        assert_eq!(redacted("redis://127.0.0.1/0"), "redis://127.0.0.1:6379");
    }

    #[tokio::test]
    async fn keys_hash_the_user() {
        let cfg = RateLimitBackend::default();
        let l = RedisRateLimiter::new("redis://127.0.0.1:1/0", &cfg).unwrap();
        let k = l.key("arn:rt", "https://iss\nalice");
        assert!(k.starts_with("gatehouse:rl:"), "{k}");
        assert!(!k.contains("alice"));
        assert_ne!(k, l.key("arn:rt", "https://iss\nbob"));
        assert_ne!(k, l.key("arn:other", "https://iss\nalice"));
    }

    #[tokio::test]
    async fn an_unreachable_redis_follows_the_policy() {
        for fail_open in [false, true] {
            let cfg = RateLimitBackend {
                fail_open,
                timeout: Duration::from_millis(50),
                ..RateLimitBackend::default()
            };
            // Port 1 on loopback: connection refused at once.
            let l = RedisRateLimiter::new("redis://127.0.0.1:1/0", &cfg).unwrap();
            let r = l.check("arn", "u", 60, 1).await;
            if fail_open {
                assert!(r.is_ok());
            } else {
                assert!(matches!(r, Err(GatewayError::RateLimitUnavailable)));
            }
            let text = l.render_metrics();
            assert!(text.contains("gatehouse_ratelimit_backend_up 0"), "{text}");
            assert!(
                text.contains("gatehouse_ratelimit_backend_errors_total 1"),
                "{text}"
            );
        }
    }
}
