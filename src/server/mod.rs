//! `gatehouse up`, the wiring: opens the store, bootstraps the embedded default, binds the web, IdP and gateway
//! listeners (port 0 allowed), starts the agents, writes `endpoints.json` once everything accepts connections, and
//! on shutdown stops the background tasks, drains the listeners and stops every child process. Each job has its
//! file: `bind` (listeners and certificates), `listen` (serving), `admin` (the admin listener), `endpoints`
//! (`endpoints.json` and the banner), `background` (owned background tasks), `cluster` (what instances share),
//! `agents` (supervisor and reference agent), `app_config` (`/config.json`). Holds no business logic.
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::gateway::build::BuiltinIssuer;
use crate::gateway::GatewayState;
use crate::idp::{bootstrap, IdpState};
use crate::store::{ClientId, PoolId, Store};
use crate::token::KeyCache;

mod admin;
mod agents;
mod app_config;
mod background;
mod bind;
mod builtin_keys;
mod cluster;
mod endpoints;
mod listen;

/// The file `up` writes once every listener is ready.
pub const ENDPOINTS_FILE: &str = "endpoints.json";
/// How long shutdown waits, once the listeners have drained, for WebSocket relays to send their close frames.
const RELAY_CLOSE_GRACE: Duration = Duration::from_secs(2);
/// How long shutdown waits for open connections to finish.
pub const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// What `up` was asked to do.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub data_dir: PathBuf,
    /// The store: `--database-url`, parsed by the CLI, or the data directory's SQLite file.
    pub database: crate::store::DatabaseUrl,
    pub web_listen: SocketAddr,
    pub idp_listen: SocketAddr,
    pub gateway_listen: SocketAddr,
    /// Metrics and health (`/metrics`, `/healthz`); keep it off public interfaces.
    pub admin_listen: SocketAddr,
    /// Capacity of the gateway's verified-token cache (0: off).
    pub token_cache_entries: usize,
    /// The configuration with the command line laid over it (`config::resolve`).
    pub config: Config,
    /// The gatehouse executable, for starting the reference agent.
    pub exe: PathBuf,
    /// The configuration file (hidden from sandboxed agents).
    pub config_path: Option<PathBuf>,
}

/// Why `up` failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Open(#[from] crate::store::OpenError),
    #[error("{0}")]
    Bootstrap(#[from] bootstrap::BootstrapError),
    #[error("reference agent: {0}")]
    Agent(#[from] crate::agent::child::ChildError),
    /// A setting to fix (exit code 64).
    #[error("{0}")]
    Usage(String),
    /// Something failed inside gatehouse or its environment, not in what it was asked (exit code 1).
    #[error("{0}")]
    Internal(String),
    #[error("writing {0}: {1}")]
    Write(PathBuf, std::io::Error),
    #[error("{0}")]
    Config(#[from] crate::config::ConfigErrors),
}

impl ServerError {
    /// True when the fix is in the command line or the configuration (exit code 64).
    pub fn is_usage(&self) -> bool {
        match self {
            Self::Usage(_) | Self::Config(_) => true,
            Self::Open(e) => e.is_usage(),
            _ => false,
        }
    }
}

pub use admin::{ADMIN_TOKEN_FILE, READY_TIMEOUT};
pub use background::REVOCATION_POLL;
pub use endpoints::{write_atomically, EndpointRuntime, Endpoints};
pub use listen::{
    serve_http, serve_http_tls, serve_listener, App, ListenerOpts, HEADER_READ_TIMEOUT,
    MAX_HEAD_BYTES,
};

/// Runs until `shutdown` resolves, then stops the background tasks, drains the listeners and stops children.
pub async fn run(opts: UpOptions, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
    let endpoints_path = opts.data_dir.join(ENDPOINTS_FILE);
    crate::store::create_data_dir(&opts.data_dir)?;
    let _ = std::fs::remove_file(&endpoints_path);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = crate::store::open(&opts.database).await?;
    let (pool, client) = bootstrap::default_pool(store.as_ref(), clock.as_ref()).await?;
    // Generates the first key if there is none; the IdP re-reads its keys from the store itself.
    bootstrap::signing_keys(store.as_ref(), clock.as_ref(), &pool).await?;
    let web_client_id = web_client_id(&opts, store.as_ref(), &pool.id, &client.id).await?;
    let bound = bind::Bound::all(&opts).await?;
    let client = bootstrap::register_web_app(store.as_ref(), client, &bound.web_url).await?;
    let web_client = web_client(store.as_ref(), &pool.id, &client, &web_client_id).await?;
    let issuer = format!("{}/{}", bound.idp_url, pool.id);
    let discovery_url = format!("{issuer}/.well-known/openid-configuration");
    let idp_state = idp_state(
        &opts,
        &store,
        &clock,
        &pool,
        &client,
        &issuer,
        &bound.web_url,
    )
    .await?;

    let http = crate::outbound::client();
    let agents = agents::start(&opts, &http, clock.clone(), &bound.web_url).await?;
    let builtin = BuiltinIssuer {
        region: pool.region.clone(),
        pool_id: pool.id.clone(),
        issuer: issuer.clone(),
        discovery_url: discovery_url.clone(),
        clients: builtin_clients(&client.id, &web_client_id),
        keys: builtin_keys(&bound, &idp_state, &clock, &http, &pool.id),
    };
    let runtimes = crate::gateway::build::runtimes(
        &agents.runtimes,
        store.as_ref(),
        clock.as_ref(),
        &http,
        &builtin,
        &bound.gw_url,
    )
    .await?;
    let endpoint_runtimes = endpoints::runtimes(&runtimes, &bound.gw_url);
    let urls = app_config::Urls {
        web: &bound.web_url,
        idp: &bound.idp_url,
        gateway: &bound.gw_url,
        issuer: &issuer,
    };
    let app_config = app_config::app_config(&pool, &urls, &web_client, &runtimes);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (gw_state, internal_l) = gateway_state(
        &opts,
        runtimes,
        &store,
        &clock,
        http,
        &bound.gw_url,
        &stop_rx,
        agents.supervisor.clone(),
    )
    .await?;
    let background =
        start_background(&gw_state, &store, &idp_state, &clock, &pool.id, &stop_rx).await?;
    let gw_metrics = gw_state.metrics.clone();
    let served = serve(
        bound, &opts, app_config, gw_state, &store, &idp_state, internal_l, &stop_rx,
    )
    .await?;
    let endpoints = Endpoints {
        web: served.web_url.clone(),
        idp: served.idp_url.clone(),
        gateway: served.gw_url.clone(),
        admin: served.admin_url.clone(),
        internal: served.internal_url.clone(),
        web_redirect: served.web_redirect.clone(),
        region: pool.region.clone(),
        user_pool_id: pool.id.to_string(),
        client_id: client.id.to_string(),
        issuer: issuer.clone(),
        discovery_url,
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        runtimes: endpoint_runtimes,
    };
    endpoints::publish(&endpoints, &opts.data_dir)?;

    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    stop(served.tasks, background, &gw_metrics, &agents.supervisor).await;
    if let Some(agent) = agents.reference {
        agent.stop().await;
    }
    let _ = std::fs::remove_file(&endpoints_path);
    let _ = std::fs::remove_file(opts.data_dir.join(ADMIN_TOKEN_FILE));
    Ok(())
}

/// The clients the built-in issuer's runtimes accept: the default client and, when `[web] client_id` names
/// another, the web app's.
fn builtin_clients(default: &ClientId, web: &ClientId) -> Vec<ClientId> {
    let mut clients = vec![default.clone()];
    if web != default {
        clients.push(web.clone());
    }
    clients
}

/// The gateway's state: its runtimes, caches, shared limits and, with `[cluster]`, the internal listener.
#[allow(clippy::too_many_arguments)]
async fn gateway_state(
    opts: &UpOptions,
    runtimes: Vec<Arc<crate::gateway::Runtime>>,
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    http: crate::outbound::HttpClient,
    gw_url: &str,
    stop: &watch::Receiver<bool>,
    supervisor: Arc<crate::agent::supervisor::Supervisor>,
) -> Result<(Arc<GatewayState>, Option<tokio::net::TcpListener>), ServerError> {
    let mut gateway = GatewayState::new(
        runtimes,
        store.clone(),
        clock.clone(),
        http,
        gw_url.to_string(),
        stop.clone(),
        supervisor,
    );
    gateway.verified =
        crate::gateway::tokencache::VerifiedTokens::with_capacity(opts.token_cache_entries);
    gateway.shared_rate = cluster::shared_rate_limiter(opts).await?;
    let internal_l = match cluster::cluster_listener(opts).await? {
        Some((listener, c)) => {
            tracing::info!(internal_url = %c.self_url, "cluster: isolated sessions are forwarded between instances");
            gateway.cluster = Some(c);
            Some(listener)
        }
        None => None,
    };
    Ok((Arc::new(gateway), internal_l))
}

/// `[web] client_id`: the app client the web app signs in with; it must exist in the pool (default: the pool's).
async fn web_client_id(
    opts: &UpOptions,
    store: &dyn Store,
    pool_id: &PoolId,
    default: &ClientId,
) -> Result<ClientId, ServerError> {
    let Some(id) = &opts.config.web.client_id else {
        return Ok(default.clone());
    };
    if !store.clients(pool_id).await?.iter().any(|c| &c.id == id) {
        return Err(ServerError::Usage(format!(
            "[web] client_id: no app client '{id}' in the user pool; create one with `gatehouse client create` \
             or take an id from `gatehouse client list`"
        )));
    }
    Ok(ClientId::from(id.as_str()))
}

/// The web app's client as stored: the default one (just registered for the hosted sign-in) or `[web] client_id`.
async fn web_client(
    store: &dyn Store,
    pool_id: &PoolId,
    default: &crate::store::ClientRow,
    id: &ClientId,
) -> Result<crate::store::ClientRow, ServerError> {
    if id == &default.id {
        return Ok(default.clone());
    }
    store
        .clients(pool_id)
        .await?
        .into_iter()
        .find(|c| &c.id == id)
        .ok_or_else(|| {
            ServerError::Usage(format!(
                "[web] client_id: no app client '{id}' in the user pool"
            ))
        })
}

/// The IdP's state, with the dummy hash that makes unknown users cost what known ones do.
async fn idp_state(
    opts: &UpOptions,
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    pool: &crate::store::PoolRow,
    client: &crate::store::ClientRow,
    issuer: &str,
    web_url: &str,
) -> Result<Arc<IdpState>, ServerError> {
    let dummy_hash = tokio::task::spawn_blocking(|| {
        crate::idp::password::hash_blocking(&crate::util::opaque_token(32))
    })
    .await
    .map_err(|e| ServerError::Internal(format!("hashing task: {e}")))?
    .map_err(|e| ServerError::Internal(format!("hashing: {e}")))?;
    Ok(Arc::new(IdpState::new(
        store.clone(),
        clock.clone(),
        pool.clone(),
        client.clone(),
        issuer.to_string(),
        dummy_hash,
        &opts.config.idp,
        &opts.data_dir,
        web_url.to_string(),
    )))
}

/// The built-in pool's key cache. An unknown kid from it is a key just rotated in (on any instance sharing the
/// database): look again after a second rather than after the 30 s an external provider gets. The gateway reaches
/// the IdP over its bound address, exactly as it reaches any external IdP; with TLS on the IdP listener the keys
/// come from the in-process key ring instead (the same public keys the JWKS publishes).
fn builtin_keys(
    bound: &bind::Bound,
    idp: &Arc<IdpState>,
    clock: &Arc<dyn Clock>,
    http: &crate::outbound::HttpClient,
    pool_id: &PoolId,
) -> Arc<KeyCache> {
    let source: Arc<dyn crate::token::KeySource> = if bound.idp_certs.is_some() {
        Arc::new(builtin_keys::RingKeySource {
            idp: idp.clone(),
            clock: clock.clone(),
        })
    } else {
        let local = format!(
            "{}/{pool_id}/.well-known/openid-configuration",
            bound.idp_bound
        );
        Arc::new(crate::outbound::HttpKeySource::new(http.clone(), local))
    };
    Arc::new(KeyCache::new(
        source,
        Duration::from_secs(1),
        Duration::from_secs(1),
        Duration::from_secs(300),
    ))
}

/// The revocation set filled before the first request, the signing keys loaded, then the background tasks.
async fn start_background(
    gw: &Arc<GatewayState>,
    store: &Arc<dyn Store>,
    idp: &Arc<IdpState>,
    clock: &Arc<dyn Clock>,
    pool_id: &PoolId,
    stop: &watch::Receiver<bool>,
) -> Result<background::Background, ServerError> {
    background::poll_revocations(store.as_ref(), &gw.revocations, pool_id).await;
    idp.keys
        .reload(clock.now_unix())
        .await
        .map_err(|e| ServerError::Internal(format!("signing keys: {e}")))?;
    let specs = gw
        .runtimes
        .iter()
        .filter_map(|r| r.process.clone().map(|p| (r.arn.clone(), p)))
        .collect();
    let mut b = background::Background::new(stop.clone());
    b.poll_revocations(store.clone(), gw.revocations.clone(), pool_id.clone());
    b.reload_keys(idp.clone(), clock.clone());
    b.sweep(gw.supervisor.clone(), specs);
    b.reload_tool_policies(&gw.runtimes);
    Ok(b)
}

/// What is being served, and where.
struct Served {
    tasks: JoinSet<()>,
    web_url: String,
    idp_url: String,
    gw_url: String,
    admin_url: String,
    internal_url: Option<String>,
    web_redirect: Option<String>,
}

/// Serves every bound listener (and the admin one, bound here) until the stop signal.
#[allow(clippy::too_many_arguments)]
async fn serve(
    bound: bind::Bound,
    opts: &UpOptions,
    app_config: crate::edge::AppConfig,
    gw: Arc<GatewayState>,
    store: &Arc<dyn Store>,
    idp: &Arc<IdpState>,
    internal: Option<tokio::net::TcpListener>,
    stop: &watch::Receiver<bool>,
) -> Result<Served, ServerError> {
    let (admin_l, admin_url) = bind::bind(opts.admin_listen).await?;
    let admin_token: Arc<str> = admin::write_admin_token(&opts.data_dir)?.into();
    let lc = &opts.config.listeners;
    let proxies = Arc::new(lc.trusted_proxies.clone());
    let opts_for = |tls: Option<tokio_rustls::TlsAcceptor>| ListenerOpts {
        tls,
        proxies: proxies.clone(),
        proxy_protocol: lc.proxy_protocol,
    };
    let mut tasks = JoinSet::new();
    let web_tls = bound.web_tls.is_some();
    let listeners = [
        (
            bound.web_l,
            crate::edge::router(app_config, bound.site, web_tls).into(),
            bound.web_tls,
            "web",
        ),
        (
            bound.idp_l,
            crate::idp::router(idp.clone()).into(),
            bind::acceptor_of(bound.idp_certs.as_ref())?,
            "idp",
        ),
        (
            bound.gw_l,
            App::Gateway(gw.clone()),
            bind::acceptor_of(bound.gw_certs.as_ref())?,
            "gateway",
        ),
    ];
    for (l, app, tls, name) in listeners {
        tasks.spawn(serve_listener(l, app, opts_for(tls), stop.clone(), name));
    }
    for certs in [bound.web_certs, bound.idp_certs, bound.gw_certs]
        .into_iter()
        .flatten()
    {
        tasks.spawn(certs.watch(stop.clone()));
    }
    let internal_url = gw.cluster.as_ref().map(|c| c.self_url.clone());
    if let Some(l) = internal {
        let app = App::from(crate::gateway::cluster::router(gw.clone()));
        tasks.spawn(serve_http(l, app, stop.clone(), "internal"));
    }
    let admin = App::from(admin::admin_router(
        gw,
        store.clone(),
        idp.clone(),
        admin_token,
    ));
    tasks.spawn(serve_http(admin_l, admin, stop.clone(), "admin"));
    let mut web_redirect = None;
    if let Some((l, url)) = bound.redirect {
        let app = App::from(crate::edge::redirect_router(&bound.web_url));
        tasks.spawn(serve_http(l, app, stop.clone(), "web-redirect"));
        web_redirect = Some(url);
    }
    Ok(Served {
        tasks,
        web_url: bound.web_url,
        idp_url: bound.idp_url,
        gw_url: bound.gw_url,
        admin_url,
        internal_url,
        web_redirect,
    })
}

/// After the stop signal: the listeners drain (each waits up to `DRAIN_GRACE` for its connections), the WebSocket
/// relays (tasks of their own once upgraded) send their close frames, the background tasks end, then every session
/// process is stopped.
async fn stop(
    mut listeners: JoinSet<()>,
    background: background::Background,
    gw_metrics: &crate::gateway::metrics::Metrics,
    supervisor: &crate::agent::supervisor::Supervisor,
) {
    let drained = tokio::time::timeout(DRAIN_GRACE + Duration::from_secs(1), async {
        while listeners.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("listeners did not stop in time");
        listeners.abort_all();
    }
    let relays_done = tokio::time::timeout(RELAY_CLOSE_GRACE, async {
        while gw_metrics.active_streams() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    if relays_done.is_err() {
        tracing::warn!(
            open = gw_metrics.active_streams(),
            "streams still open after {RELAY_CLOSE_GRACE:?}; closing them"
        );
    }
    background.drain(Duration::from_secs(2)).await;
    supervisor.stop_all().await;
}

#[cfg(test)]
mod tests {
    use super::ServerError;

    #[test]
    fn internal_failures_are_not_usage_errors() {
        assert!(!ServerError::Internal("hashing task: panicked".into()).is_usage());
        let io = std::io::Error::other("denied");
        assert!(!ServerError::Write("/x/endpoints.json".into(), io).is_usage());
        assert!(ServerError::Usage("[web] client_id: …".into()).is_usage());
        let scheme = crate::store::OpenError::UnsupportedScheme("mysql".into());
        assert!(ServerError::Open(scheme).is_usage());
    }
}
