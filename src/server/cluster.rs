//! What several instances share, as `up` sets it up: the internal listener and this instance's cluster identity
//! (`[cluster]`, `--internal-listen`, `--internal-url`) and the Redis-backed rate limiter. Checks the settings and
//! names the key to fix; owns no forwarding (that is `gateway::cluster`).
use tokio::net::TcpListener;

use super::{ServerError, UpOptions};

/// The internal listener and this instance's cluster identity, with `[cluster]` or `--internal-listen`.
pub(super) async fn cluster_listener(
    opts: &UpOptions,
) -> Result<Option<(TcpListener, crate::gateway::cluster::Cluster)>, ServerError> {
    let cfg = opts.config.cluster.as_ref();
    let addr = opts.internal_listen.or(cfg.and_then(|c| c.internal_listen));
    let (cfg, addr) = match (cfg, addr) {
        (None, None) => return Ok(None),
        (None, Some(_)) => {
            return Err(ServerError::Usage(
                "--internal-listen needs [cluster] shared_secret_file in the configuration".into(),
            ))
        }
        (Some(_), None) => {
            return Err(ServerError::Usage(
                "[cluster] needs internal_listen (or --internal-listen HOST:PORT)".into(),
            ))
        }
        (Some(c), Some(a)) => (c, a),
    };
    let secret = std::fs::read(&cfg.shared_secret_file).map_err(|e| {
        ServerError::Usage(format!(
            "[cluster] shared_secret_file {}: {e}",
            cfg.shared_secret_file.display()
        ))
    })?;
    if let Some(u) = &opts.internal_url {
        let ok = (u.starts_with("http://") || u.starts_with("https://"))
            && u.parse::<http::Uri>().is_ok();
        if !ok {
            return Err(ServerError::Usage(format!(
                "--internal-url: '{u}' is not an http:// URL"
            )));
        }
    }
    let (listener, bound) = super::bind::bind(addr).await?;
    let self_url = match opts.internal_url.as_ref().or(cfg.internal_url.as_ref()) {
        Some(u) => u.trim_end_matches('/').to_string(),
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

/// The Redis-backed rate limiter, if a Redis URL is configured (the command line wins over the file).
pub(super) async fn shared_rate_limiter(
    opts: &UpOptions,
) -> Result<Option<crate::gateway::redis_limits::RedisRateLimiter>, ServerError> {
    use crate::gateway::redis_limits::{redacted, RedisRateLimiter};
    let cfg = &opts.config.rate_limits;
    let Some(url) = opts.redis_url.as_ref().or(cfg.redis_url.as_ref()) else {
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
