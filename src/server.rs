//! `gatehouse up`: opens the store, bootstraps the embedded default, binds the web, IdP and gateway listeners
//! (port 0 allowed), starts the reference agent, writes `endpoints.json` once everything accepts connections,
//! and on shutdown drains the listeners and stops every child process. Holds no business logic.
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::agent::child::ChildAgent;
use crate::agent::supervisor::Supervisor;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, RuntimeConfig};
use crate::gateway::{GatewayState, Runtime};
use crate::idp::{bootstrap, IdpState};
use crate::outbound as upstream;
use crate::store::{PostgresStore, SqliteStore, Store};
use crate::token::{Authorizer, KeyCache, Policy};

mod admin;
mod builtin_keys;
mod listen;

/// The file `up` writes once every listener is ready.
pub const ENDPOINTS_FILE: &str = "endpoints.json";
/// The account id in the ARNs of the embedded installation.
pub const ACCOUNT_ID: &str = "000000000000";
/// How long shutdown waits for open connections to finish.
pub const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// What `up` was asked to do.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub web_listen: SocketAddr,
    pub idp_listen: SocketAddr,
    pub gateway_listen: SocketAddr,
    /// Metrics and health (`/metrics`, `/healthz`); keep it off public interfaces.
    pub admin_listen: SocketAddr,
    /// Capacity of the gateway's verified-token cache (0: off).
    pub token_cache_entries: usize,
    pub config: Config,
    /// Overrides `[gateway] redis_url` (from `--redis-url` / `GATEHOUSE_REDIS_URL`).
    pub redis_url: Option<String>,
    /// Overrides `[cluster] internal_listen` (from `--internal-listen`).
    pub internal_listen: Option<SocketAddr>,
    /// Overrides `[cluster] internal_url` (from `--internal-url` / `GATEHOUSE_INTERNAL_URL`).
    pub internal_url: Option<String>,
    /// The gatehouse executable, for starting the reference agent.
    pub exe: PathBuf,
    /// The configuration file (hidden from sandboxed agents).
    pub config_path: Option<PathBuf>,
}

/// Why `up` failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("database {0}: {1}")]
    Database(String, crate::store::StoreError),
    #[error("{0}")]
    Bootstrap(#[from] bootstrap::BootstrapError),
    #[error("reference agent: {0}")]
    Agent(#[from] crate::agent::child::ChildError),
    #[error("{0}")]
    Usage(String),
    #[error("writing {0}: {1}")]
    Write(PathBuf, std::io::Error),
    #[error("{0}")]
    Config(#[from] crate::config::ConfigErrors),
}

/// `endpoints.json`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Endpoints {
    pub web: String,
    pub idp: String,
    pub gateway: String,
    /// The admin listener (`/metrics`, `/healthz`).
    #[serde(default)]
    pub admin: String,
    /// The internal (instance-to-instance) listener's advertised URL, with `[cluster]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal: Option<String>,
    /// The plain-HTTP listener that redirects to the web app's https:// URL, when one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_redirect: Option<String>,
    pub region: String,
    pub user_pool_id: String,
    pub client_id: String,
    pub issuer: String,
    pub discovery_url: String,
    pub jwks_uri: String,
    pub runtimes: Vec<EndpointRuntime>,
}

/// One runtime in `endpoints.json`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct EndpointRuntime {
    pub name: String,
    pub arn: String,
    pub invocations_url: String,
    pub ws_url: String,
}

/// Opens the store named by `--database-url` — `postgres://…` (or `postgresql://…`) for PostgreSQL, `sqlite:…`
/// or a plain file path for SQLite — or, without one, the SQLite file in the data directory. Never logs the URL
/// (it may carry a password); PostgreSQL is logged as user, host, port and database only.
pub async fn open_store(
    data_dir: &Path,
    database_url: Option<&str>,
) -> Result<Arc<dyn Store>, ServerError> {
    match database_url.map(str::trim).filter(|u| !u.is_empty()) {
        None => {
            create_data_dir(data_dir)?;
            Ok(Arc::new(SqliteStore::open_in(data_dir).await?))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let shown = crate::store::postgres::redacted(url);
            let store = PostgresStore::open_url(url)
                .await
                .map_err(|e| ServerError::Database(shown.clone(), e))?;
            tracing::info!(database = %shown, "store: PostgreSQL");
            Ok(Arc::new(store))
        }
        Some(url) if url.starts_with("sqlite:") => Ok(Arc::new(SqliteStore::open_url(url).await?)),
        Some(url) if url.contains("://") => Err(ServerError::Usage(format!(
            "--database-url: '{}://' is not supported; use postgres://USER@HOST:PORT/DB, sqlite:PATH or a file path",
            url.split("://").next().unwrap_or("")
        ))),
        Some(path) => Ok(Arc::new(SqliteStore::open_file(Path::new(path)).await?)),
    }
}

/// Creates the data directory with mode 0700, or tightens an existing one that group or others may enter
/// (it holds password hashes, signing keys and the admin token); refuses one it cannot tighten.
fn create_data_dir(dir: &Path) -> Result<(), ServerError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| ServerError::DataDir(dir.to_path_buf(), e))?;
    match crate::store::files::private_dir(dir) {
        Ok(None) => Ok(()),
        Ok(Some(was)) => {
            tracing::warn!(path = %dir.display(), was = format!("{was:o}"), "the data directory was open to other users; now mode 700");
            Ok(())
        }
        Err(e) => Err(ServerError::DataDir(
            dir.to_path_buf(),
            std::io::Error::new(
                e.kind(),
                format!(
                    "is open to other users and cannot be made private ({e}); chmod 700 it, or give --data-dir a \
                     directory gatehouse owns (e.g. a subdirectory, which it creates with mode 700)"
                ),
            ),
        )),
    }
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, String), ServerError> {
    let l = TcpListener::bind(addr)
        .await
        .map_err(|e| ServerError::Bind(addr, e))?;
    let local = l.local_addr().map_err(|e| ServerError::Bind(addr, e))?;
    Ok((l, format!("http://{local}")))
}

/// A listener's certificate files, loaded (and then watched for changes), when it has them.
fn load_certs(
    section: &'static str,
    files: Option<&crate::config::listeners::TlsFiles>,
) -> Result<Option<Arc<crate::edge::tls::CertFiles>>, ServerError> {
    files
        .map(|f| crate::edge::tls::CertFiles::load(section, &f.cert, &f.key))
        .transpose()
        .map_err(|e| ServerError::Usage(e.to_string()))
}

fn acceptor_of(
    certs: Option<&Arc<crate::edge::tls::CertFiles>>,
) -> Result<Option<tokio_rustls::TlsAcceptor>, ServerError> {
    certs
        .map(|c| c.acceptor())
        .transpose()
        .map_err(|e| ServerError::Usage(e.to_string()))
}

/// `arn:aws:bedrock-agentcore:{region}:000000000000:runtime/{name}-{10 alnum}`.
pub fn candidate_arn(region: &str, name: &str) -> String {
    format!(
        "arn:aws:bedrock-agentcore:{region}:{ACCOUNT_ID}:runtime/{name}-{}",
        crate::util::random_alnum(10)
    )
}

/// Writes `contents` to `path` atomically (temp file in the same directory + rename).
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), ServerError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, contents)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| ServerError::Write(path.to_path_buf(), e))
}

pub use admin::{ADMIN_TOKEN_FILE, READY_TIMEOUT};
pub use listen::{
    serve_http, serve_http_tls, serve_listener, App, ListenerOpts, HEADER_READ_TIMEOUT,
    MAX_HEAD_BYTES,
};

/// How often the gateway reads new revocations from the store.
pub const REVOCATION_POLL: Duration = Duration::from_millis(250);

/// Applies the revocations recorded since the last poll.
async fn poll_revocations(
    store: &dyn Store,
    set: &crate::gateway::revocation::RevocationSet,
    pool_id: &str,
) {
    loop {
        match store.revocations_after(set.last_id(), 1000).await {
            Ok(rows) => {
                let n = rows.len();
                let rows: Vec<crate::gateway::revocation::Revocation> = rows
                    .into_iter()
                    .map(|r| crate::gateway::revocation::Revocation {
                        id: r.id,
                        origin_jti: r.origin_jti,
                        sub: if r.pool_id == pool_id { r.sub } else { None },
                        not_before: r.not_before,
                    })
                    .collect();
                set.apply(&rows);
                if n < 1000 {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read revocations; keeping the last known set");
                return;
            }
        }
    }
}

/// The internal listener and this instance's cluster identity, with `[cluster]` or `--internal-listen`.
async fn cluster_listener(
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
    let (listener, bound) = bind(addr).await?;
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
async fn shared_rate_limiter(
    opts: &UpOptions,
) -> Result<Option<crate::gateway::redis_limits::RedisRateLimiter>, ServerError> {
    use crate::gateway::redis_limits::{redacted, RedisRateLimiter};
    let cfg = &opts.config.rate_limits;
    let Some(url) = opts.redis_url.as_ref().or(cfg.redis_url.as_ref()) else {
        return Ok(None);
    };
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

/// Runs until `shutdown` resolves, then drains and stops children.
pub async fn run(opts: UpOptions, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
    let endpoints_path = opts.data_dir.join(ENDPOINTS_FILE);
    create_data_dir(&opts.data_dir)?;
    let _ = std::fs::remove_file(&endpoints_path);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = open_store(&opts.data_dir, opts.database_url.as_deref()).await?;
    let (pool, client) = bootstrap::default_pool(store.as_ref(), clock.as_ref()).await?;
    // Generates the first key if there is none; the IdP re-reads its keys from the store itself.
    bootstrap::signing_keys(store.as_ref(), clock.as_ref(), &pool).await?;
    // `[web] client_id`: the app client the web app signs in with; it must exist in the pool.
    let web_client_id = match &opts.config.web.client_id {
        None => client.id.clone(),
        Some(id) => {
            let known = store.clients(&pool.id).await?.iter().any(|c| &c.id == id);
            if !known {
                return Err(ServerError::Usage(format!(
                    "[web] client_id: no app client '{id}' in the user pool; create one with `gatehouse client create` \
                     or take an id from `gatehouse client list`"
                )));
            }
            id.clone()
        }
    };

    // The web listener's settings are checked before anything binds: TLS files, the redirect's target, and no
    // plain HTTP off loopback unless allowed.
    let web = opts.config.web.clone();
    web.check_for(opts.web_listen, opts.config.web_public_url.as_deref())?;
    let site = match web.root.clone() {
        None => None,
        Some(root) => {
            let site = tokio::task::spawn_blocking(move || crate::edge::Site::load(&root))
                .await
                .map_err(|e| ServerError::Usage(format!("loading the web root: {e}")))?
                .map_err(|e| ServerError::Usage(format!("--web-root / [web] root: {e}")))?;
            let (files, bytes) = site.stats();
            if site.index().is_none() {
                tracing::warn!("the web root has no index.html: app routes will answer 404");
            }
            tracing::info!(files, bytes, "web root loaded");
            Some(Arc::new(site))
        }
    };
    let lc = &opts.config.listeners;
    let web_files = match (&web.tls_cert, &web.tls_key) {
        (Some(cert), Some(key)) => Some(crate::config::listeners::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    let web_certs = load_certs("web", web_files.as_ref())?;
    let idp_certs = load_certs("idp", lc.idp_tls.as_ref())?;
    let gw_certs = load_certs("gateway", lc.gateway_tls.as_ref())?;
    let tls = acceptor_of(web_certs.as_ref())?;

    let (web_l, mut web_bound) = bind(opts.web_listen).await?;
    if tls.is_some() {
        web_bound = web_bound.replacen("http://", "https://", 1);
    }
    let redirect = match web.redirect_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let (idp_l, mut idp_bound) = bind(opts.idp_listen).await?;
    let (gw_l, mut gw_bound) = bind(opts.gateway_listen).await?;
    if idp_certs.is_some() {
        idp_bound = idp_bound.replacen("http://", "https://", 1);
    }
    if gw_certs.is_some() {
        gw_bound = gw_bound.replacen("http://", "https://", 1);
    }
    let public = |configured: &Option<String>, bound: String| {
        configured
            .as_ref()
            .map_or(bound, |u| u.trim_end_matches('/').to_string())
    };
    let web_url = public(&opts.config.web_public_url, web_bound);
    let idp_url = public(&opts.config.idp_public_url, idp_bound.clone());
    let gw_url = public(&opts.config.gateway_public_url, gw_bound);

    let issuer = format!("{idp_url}/{}", pool.id);
    let discovery_url = format!("{issuer}/.well-known/openid-configuration");
    // The gateway reaches the built-in IdP over its bound address, exactly as it reaches any external IdP.
    let local_discovery = format!("{idp_bound}/{}/.well-known/openid-configuration", pool.id);
    let dummy_hash = tokio::task::spawn_blocking(|| {
        crate::idp::password::hash_blocking(&crate::util::opaque_token(32))
    })
    .await
    .map_err(|e| ServerError::Usage(format!("hashing task: {e}")))?
    .map_err(|e| ServerError::Usage(e.to_string()))?;
    let idp_state = Arc::new(IdpState::new(
        store.clone(),
        clock.clone(),
        pool.clone(),
        client.clone(),
        issuer.clone(),
        dummy_hash,
        &opts.config.idp,
        &opts.data_dir,
        web_url.clone(),
    ));

    let http = upstream::client();
    let reaped = Supervisor::reap_leftovers(&opts.data_dir);
    if reaped > 0 {
        tracing::warn!(
            reaped,
            "killed agent processes left behind by an earlier run"
        );
    }
    let supervisor = Arc::new(
        Supervisor::new(
            opts.exe.clone(),
            opts.data_dir.clone(),
            http.clone(),
            clock.clone(),
            opts.config.max_agent_processes,
        )
        .with_launcher(launcher(&opts)),
    );
    check_sandbox(&opts.config, &opts.data_dir, &supervisor).await?;
    let mut agent = None;
    let runtime_configs = if opts.config.runtimes.is_empty() {
        let child = ChildAgent::start(opts.exe.clone(), &http).await?;
        tracing::info!(url = %child.url, pid = ?child.pid(), "reference agent started");
        let mut demo = RuntimeConfig::simple("demo", &child.url);
        // The demo runtime is meant for the web app that gatehouse itself serves.
        demo.allowed_origins = vec![web_url.clone()];
        agent = Some(child);
        vec![demo]
    } else {
        opts.config.runtimes.clone()
    };
    // An unknown kid from the built-in pool is a key just rotated in (on any instance sharing the database): look
    // again after a second rather than after the 30 s an external provider gets. The fetch goes to an IdP that
    // serves its keys from memory.
    // With TLS on the IdP listener the keys come from the in-process key ring (the HTTP key client speaks
    // plain HTTP only).
    let builtin_source: Arc<dyn crate::token::KeySource> = if idp_certs.is_some() {
        Arc::new(builtin_keys::RingKeySource {
            idp: idp_state.clone(),
            clock: clock.clone(),
        })
    } else {
        Arc::new(upstream::HttpKeySource::new(http.clone(), local_discovery))
    };
    let builtin_cache = Arc::new(KeyCache::new(
        builtin_source,
        Duration::from_secs(1),
        Duration::from_secs(1),
        Duration::from_secs(300),
    ));
    let mut runtimes = Vec::new();
    for rc in &runtime_configs {
        let arn = store
            .ensure_runtime_arn(
                &rc.name,
                &candidate_arn(&pool.region, &rc.name),
                clock.now_unix(),
            )
            .await?;
        let (authorizer, authorization_server, builtin) = match &rc.authorizer {
            None => (
                Authorizer {
                    policy: Policy {
                        // The default client, and the web app's client when `[web] client_id` names another.
                        allowed_clients: if web_client_id == client.id {
                            vec![client.id.clone()]
                        } else {
                            vec![client.id.clone(), web_client_id.clone()]
                        },
                        ..Policy::default()
                    },
                    cache: builtin_cache.clone(),
                },
                issuer.clone(),
                true,
            ),
            Some(a) => (
                Authorizer {
                    policy: Policy {
                        allowed_clients: a.allowed_clients.clone(),
                        allowed_audience: a.allowed_audience.clone(),
                        allowed_scopes: a.allowed_scopes.clone(),
                        custom_claims: a.custom_claims.clone(),
                        ..Policy::default()
                    },
                    cache: Arc::new(KeyCache::new(
                        Arc::new(upstream::HttpKeySource::new(
                            http.clone(),
                            a.discovery_url.clone(),
                        )),
                        a.jwks_refresh_interval,
                        Duration::from_secs(1),
                        Duration::from_secs(300),
                    )),
                },
                a.discovery_url
                    .split("/.well-known/")
                    .next()
                    .unwrap_or(&a.discovery_url)
                    .to_string(),
                a.discovery_url == discovery_url,
            ),
        };
        runtimes.push(Arc::new(Runtime::from_config(
            rc,
            arn,
            Arc::new(authorizer),
            authorization_server,
            builtin,
        )));
    }
    let endpoint_runtimes: Vec<EndpointRuntime> = runtimes
        .iter()
        .map(|r| {
            let enc = crate::gateway::arn::encode(&r.arn);
            EndpointRuntime {
                name: r.name.clone(),
                arn: r.arn.clone(),
                invocations_url: format!("{gw_url}/runtimes/{enc}/invocations?qualifier=DEFAULT"),
                ws_url: format!(
                    "{}/runtimes/{enc}/ws?qualifier=DEFAULT",
                    gw_url.replacen("http", "ws", 1)
                ),
            }
        })
        .collect();
    let app_config = crate::edge::AppConfig {
        region: pool.region.clone(),
        idp_url: idp_url.clone(),
        user_pool_id: pool.id.clone(),
        client_id: web_client_id.clone(),
        gateway_url: gw_url.clone(),
        runtimes: runtimes
            .iter()
            .map(|r| crate::edge::AppRuntime {
                name: r.name.clone(),
                arn: r.arn.clone(),
            })
            .collect(),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut gateway = GatewayState::new(
        runtimes,
        store.clone(),
        clock.clone(),
        http,
        gw_url.clone(),
        stop_rx.clone(),
        supervisor.clone(),
    );
    gateway.verified =
        crate::gateway::tokencache::VerifiedTokens::with_capacity(opts.token_cache_entries);
    gateway.shared_rate = shared_rate_limiter(&opts).await?;
    let internal_l = match cluster_listener(&opts).await? {
        Some((listener, cluster)) => {
            tracing::info!(internal_url = %cluster.self_url, "cluster: isolated sessions are forwarded between instances");
            gateway.cluster = Some(cluster);
            Some(listener)
        }
        None => None,
    };
    let gw_state = Arc::new(gateway);
    let specs: std::collections::HashMap<String, crate::agent::supervisor::ProcessSpec> = gw_state
        .runtimes
        .iter()
        .filter_map(|r| r.process.clone().map(|p| (r.arn.clone(), p)))
        .collect();
    poll_revocations(store.as_ref(), &gw_state.revocations, &pool.id).await;
    // Revocations of gatehouse's own pool reach the gateway within REVOCATION_POLL, with no store read per request.
    let revocation_poller = {
        let store = store.clone();
        let set = gw_state.revocations.clone();
        let pool_id = pool.id.clone();
        let mut stop = stop_rx.clone();
        // PostgreSQL also pushes a signal (LISTEN/NOTIFY) when any instance commits a revocation: read at once.
        let mut changes = store.changes();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REVOCATION_POLL);
            loop {
                tokio::select! {
                    _ = tick.tick() => poll_revocations(store.as_ref(), &set, &pool_id).await,
                    () = crate::store::changed(&mut changes) => poll_revocations(store.as_ref(), &set, &pool_id).await,
                    _ = stop.changed() => break,
                }
            }
        })
    };
    // Every instance re-reads the signing keys in the background, so a rotation made anywhere signs here within
    // keys::RELOAD and requests never wait on the store for keys.
    idp_state
        .keys
        .reload(clock.now_unix())
        .await
        .map_err(|e| ServerError::Usage(format!("signing keys: {e}")))?;
    let key_reloader = {
        let idp = idp_state.clone();
        let clock = clock.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move { idp.keys.reload_forever(clock, stop).await })
    };
    let sweeper = {
        let supervisor = supervisor.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tokio::select! {
                    _ = tick.tick() => supervisor.sweep(&specs).await,
                    _ = stop.changed() => break,
                }
            }
        })
    };
    let (admin_l, admin_url) = bind(opts.admin_listen).await?;
    let admin_token: Arc<str> = admin::write_admin_token(&opts.data_dir)?.into();

    let serve = |listener: TcpListener, app: App, name: &'static str| {
        tokio::spawn(serve_http(listener, app, stop_rx.clone(), name))
    };
    let internal_url = gw_state.cluster.as_ref().map(|c| c.self_url.clone());
    let proxies = Arc::new(lc.trusted_proxies.clone());
    let opts_for = |tls: Option<tokio_rustls::TlsAcceptor>| ListenerOpts {
        tls,
        proxies: proxies.clone(),
        proxy_protocol: lc.proxy_protocol,
    };
    let web_tls = tls.is_some();
    let mut tasks = vec![
        tokio::spawn(serve_listener(
            web_l,
            crate::edge::router(app_config, site, web_tls),
            opts_for(tls),
            stop_rx.clone(),
            "web",
        )),
        tokio::spawn(serve_listener(
            idp_l,
            crate::idp::router(idp_state.clone()),
            opts_for(acceptor_of(idp_certs.as_ref())?),
            stop_rx.clone(),
            "idp",
        )),
        tokio::spawn(serve_listener(
            gw_l,
            App::Gateway(gw_state.clone()),
            opts_for(acceptor_of(gw_certs.as_ref())?),
            stop_rx.clone(),
            "gateway",
        )),
    ];
    for certs in [web_certs, idp_certs, gw_certs].into_iter().flatten() {
        tasks.push(tokio::spawn(certs.watch(stop_rx.clone())));
    }
    if let Some(l) = internal_l {
        tasks.push(serve(
            l,
            crate::gateway::cluster::router(gw_state.clone()).into(),
            "internal",
        ));
    }
    tasks.push(serve(
        admin_l,
        admin::admin_router(gw_state, store.clone(), idp_state.clone(), admin_token).into(),
        "admin",
    ));
    let mut web_redirect = None;
    if let Some((l, url)) = redirect {
        tasks.push(serve(
            l,
            crate::edge::redirect_router(&web_url).into(),
            "web-redirect",
        ));
        web_redirect = Some(url);
    }

    let endpoints = Endpoints {
        web: web_url.clone(),
        idp: idp_url.clone(),
        gateway: gw_url.clone(),
        admin: admin_url.clone(),
        internal: internal_url,
        web_redirect,
        region: pool.region.clone(),
        user_pool_id: pool.id.clone(),
        client_id: client.id.clone(),
        issuer: issuer.clone(),
        discovery_url: discovery_url.clone(),
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        runtimes: endpoint_runtimes,
    };
    let json =
        serde_json::to_vec_pretty(&endpoints).map_err(|e| ServerError::Usage(e.to_string()))?;
    write_atomically(&endpoints_path, &json)?;
    tracing::info!(path = %endpoints_path.display(), "ready");
    print_banner(&endpoints, &opts.data_dir);

    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let drain = futures_util::future::join_all(tasks);
    if tokio::time::timeout(DRAIN_GRACE + Duration::from_secs(1), drain)
        .await
        .is_err()
    {
        tracing::warn!("listeners did not stop in time");
    }
    sweeper.abort();
    revocation_poller.abort();
    key_reloader.abort();
    supervisor.stop_all().await;
    if let Some(agent) = agent {
        agent.stop().await;
    }
    let _ = std::fs::remove_file(&endpoints_path);
    let _ = std::fs::remove_file(opts.data_dir.join(ADMIN_TOKEN_FILE));
    Ok(())
}

fn print_banner(e: &Endpoints, data_dir: &Path) {
    let mut s = String::new();
    s.push_str("gatehouse is up\n");
    s.push_str(&format!("  web app          {}\n", e.web));
    if let Some(r) = &e.web_redirect {
        s.push_str(&format!("  web redirect     {r} → {}\n", e.web));
    }
    s.push_str(&format!(
        "  identity provider {}  (user pool {}, app client {})\n",
        e.idp, e.user_pool_id, e.client_id
    ));
    s.push_str(&format!("  runtime gateway  {}\n", e.gateway));
    s.push_str(&format!("  admin (metrics)  {}/metrics\n", e.admin));
    for r in &e.runtimes {
        s.push_str(&format!("  runtime {:<8} {}\n", r.name, r.arn));
    }
    s.push_str(&format!(
        "  endpoints        {}\nCreate a user:  printf '%s' \"$PASSWORD\" | gatehouse user create --username alice --password-stdin --data-dir {}\n",
        data_dir.join(ENDPOINTS_FILE).display(),
        data_dir.display()
    ));
    print!("{s}");
}

/// How session processes are launched: the `[sandbox]` settings, and what they must not see besides the data
/// directory (the configuration file and the web TLS key).
fn launcher(opts: &UpOptions) -> crate::agent::launch::Launcher {
    let files = opts
        .config_path
        .iter()
        .chain(opts.config.web.tls_key.iter())
        .cloned()
        .collect();
    crate::agent::launch::Launcher::new(
        opts.exe.clone(),
        &opts.data_dir,
        opts.config.sandbox.clone(),
        crate::agent::launch::Hidden {
            dirs: Vec::new(),
            files,
        },
    )
}

/// Refuses to start when a sandboxed `command` runtime cannot have its sandbox here: refuse, never degrade.
async fn check_sandbox(
    config: &Config,
    data_dir: &Path,
    supervisor: &Supervisor,
) -> Result<(), ServerError> {
    let sandboxed: Vec<&str> = config
        .runtimes
        .iter()
        .filter(|r| r.command.is_some() && r.isolation == crate::config::Isolation::Sandbox)
        .map(|r| r.name.as_str())
        .collect();
    if sandboxed.is_empty() {
        return Ok(());
    }
    {
        let root = std::fs::canonicalize(&config.sandbox.workdir_root)
            .unwrap_or_else(|_| config.sandbox.workdir_root.clone());
        let data = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        if root.starts_with(&data) {
            return Err(ServerError::Usage(format!(
                "[sandbox] workdir_root {} is inside the data directory {}: agents would live beside the store; \
                 choose a directory outside it",
                root.display(),
                data.display()
            )));
        }
    }
    let swept: Vec<&str> = config
        .runtimes
        .iter()
        .filter(|r| r.command.is_some() && !r.keep_workdir)
        .map(|r| r.name.as_str())
        .collect();
    let stale = supervisor.remove_stale_workdirs(&swept);
    if stale > 0 {
        tracing::warn!(
            stale,
            "removed session working directories an earlier run left behind"
        );
    }
    supervisor.probe_sandbox().await.map_err(|why| {
        ServerError::Usage(format!(
            "runtime {} needs the agent sandbox, which this host cannot provide: {why}. Run gatehouse as root on \
             Linux 6.2 or later with Landlock enabled, or set isolation = \"none\" on the runtime (unsafe: \
             doctor fails it)",
            sandboxed.join(", ")
        ))
    })
}
