//! What several instances share, as `up` sets it up: the internal listener and this instance's cluster identity
//! (`[cluster]`, with `--internal-listen` and `--internal-url` already laid over it by `config::resolve`) and the Redis-backed rate limiter. Checks the settings and
//! names the key to fix; owns no forwarding (that is `gateway::cluster`).
use tokio::net::TcpListener;

use super::{ServerError, UpOptions};

/// The internal listener and this instance's cluster identity, with `[cluster]`.
pub(super) async fn cluster_listener(
    opts: &UpOptions,
) -> Result<Option<(TcpListener, crate::gateway::cluster::Cluster)>, ServerError> {
    let Some(cfg) = opts.config.cluster.as_ref() else {
        return Ok(None);
    };
    let Some(addr) = cfg.internal_listen else {
        return Err(ServerError::Usage(
            "[cluster] needs internal_listen (or --internal-listen HOST:PORT)".into(),
        ));
    };
    let secret = std::fs::read(&cfg.shared_secret_file).map_err(|e| {
        ServerError::Usage(format!(
            "[cluster] shared_secret_file {}: {e}",
            cfg.shared_secret_file.display()
        ))
    })?;
    let (listener, bound) = super::bind::bind(addr).await?;
    let self_url = match &cfg.internal_url {
        Some(u) => u.to_string(),
        None if addr.ip().is_unspecified() => {
            return Err(ServerError::Usage(format!(
                "[cluster] internal_listen {addr} binds every interface: set internal_url to the address other \
                 instances reach this one at"
            )))
        }
        None => bound,
    };
    let cluster = crate::gateway::cluster::Cluster::new(self_url, &secret).map_err(|e| {
        ServerError::Usage(format!(
            "[cluster] shared_secret_file {}: {e}",
            cfg.shared_secret_file.display()
        ))
    })?;
    Ok(Some((listener, cluster)))
}

/// The Redis-backed rate limiter, if a Redis URL is configured (in the file or on the command line).
pub(super) async fn shared_rate_limiter(
    opts: &UpOptions,
) -> Result<Option<crate::gateway::redis_limits::RedisRateLimiter>, ServerError> {
    use crate::gateway::redis_limits::{redacted, RedisRateLimiter};
    let cfg = &opts.config.rate_limits;
    let Some(url) = cfg.redis_url.as_ref() else {
        return Ok(None);
    };
    let url = url.expose();
    let limiter = RedisRateLimiter::new(url, cfg).map_err(ServerError::Usage)?;
    let policy = if cfg.fail_open { "open" } else { "closed" };
    if limiter.probe().await {
        tracing::info!(redis = %redacted(url), policy, "rate limits are shared through Redis");
    } else {
        tracing::error!(
            redis = %redacted(url),
            policy,
            "rate limits are shared through Redis, but Redis does not answer yet; the policy applies until it does"
        );
    }
    Ok(Some(limiter))
}
