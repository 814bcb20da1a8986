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
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::gateway::{upstream, GatewayState, Runtime};
use crate::idp::{bootstrap, IdpState};
use crate::store::{SqliteStore, Store};
use crate::token::{Authorizer, KeyCache, Policy};

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
    pub config: Config,
    /// The gatehouse executable, for starting the reference agent.
    pub exe: PathBuf,
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
    #[error("{0}")]
    Bootstrap(#[from] bootstrap::BootstrapError),
    #[error("reference agent: {0}")]
    Agent(#[from] crate::agent::child::ChildError),
    #[error("{0}")]
    Usage(String),
    #[error("writing {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

/// `endpoints.json`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Endpoints {
    pub web: String,
    pub idp: String,
    pub gateway: String,
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

/// Opens the store named by `--database-url`, or the SQLite file in the data directory.
pub async fn open_store(
    data_dir: &Path,
    database_url: Option<&str>,
) -> Result<Arc<dyn Store>, ServerError> {
    match database_url {
        None => {
            create_data_dir(data_dir)?;
            Ok(Arc::new(SqliteStore::open_in(data_dir).await?))
        }
        Some(url) if url.starts_with("sqlite:") => Ok(Arc::new(SqliteStore::open_url(url).await?)),
        Some(url) => Err(ServerError::Usage(format!(
            "--database-url: '{}' is not supported; use a sqlite: URL or leave it out for the data directory",
            url.split(':').next().unwrap_or("")
        ))),
    }
}

fn create_data_dir(dir: &Path) -> Result<(), ServerError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| ServerError::DataDir(dir.to_path_buf(), e))
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, String), ServerError> {
    let l = TcpListener::bind(addr)
        .await
        .map_err(|e| ServerError::Bind(addr, e))?;
    let local = l.local_addr().map_err(|e| ServerError::Bind(addr, e))?;
    Ok((l, format!("http://{local}")))
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

/// RFC 3986 unreserved characters stay as they are, like Python's `quote(arn, safe='')` in the AWS SDKs.
const ARN_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An ARN encoded as one URL path segment (`:` → `%3A`, `/` → `%2F`).
pub fn encode_arn(arn: &str) -> String {
    percent_encoding::utf8_percent_encode(arn, ARN_SEGMENT).to_string()
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

    let (web_l, web_bound) = bind(opts.web_listen).await?;
    let (idp_l, idp_bound) = bind(opts.idp_listen).await?;
    let (gw_l, gw_bound) = bind(opts.gateway_listen).await?;
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
    let mut agent = None;
    let runtime_configs = if opts.config.runtimes.is_empty() {
        let child = ChildAgent::start(opts.exe.clone(), &http).await?;
        tracing::info!(url = %child.url, pid = ?child.pid(), "reference agent started");
        let cfg = crate::config::RuntimeConfig {
            name: "demo".into(),
            upstream: child.url.clone(),
            authorizer: None,
        };
        agent = Some(child);
        vec![cfg]
    } else {
        opts.config.runtimes.clone()
    };
    let builtin_cache = Arc::new(KeyCache::new(
        Arc::new(upstream::HttpKeySource::new(http.clone(), local_discovery)),
        Duration::from_secs(30),
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
        let authorizer = match &rc.authorizer {
            None => Authorizer {
                policy: Policy {
                    allowed_clients: vec![client.id.clone()],
                    ..Policy::default()
                },
                cache: builtin_cache.clone(),
            },
            Some(a) => Authorizer {
                policy: Policy {
                    allowed_clients: a.allowed_clients.clone(),
                    allowed_audience: a.allowed_audience.clone(),
                    allowed_scopes: a.allowed_scopes.clone(),
                    ..Policy::default()
                },
                cache: Arc::new(KeyCache::new(
                    Arc::new(upstream::HttpKeySource::new(
                        http.clone(),
                        a.discovery_url.clone(),
                    )),
                    Duration::from_secs(30),
                    Duration::from_secs(1),
                    Duration::from_secs(300),
                )),
            },
        };
        runtimes.push(Arc::new(Runtime {
            name: rc.name.clone(),
            arn,
            upstream: rc.upstream.clone(),
            authorizer: Arc::new(authorizer),
        }));
    }
    let endpoint_runtimes: Vec<EndpointRuntime> = runtimes
        .iter()
        .map(|r| {
            let enc = encode_arn(&r.arn);
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
        client_id: client.id.clone(),
        gateway_url: gw_url.clone(),
        runtimes: runtimes
            .iter()
            .map(|r| crate::edge::AppRuntime {
                name: r.name.clone(),
                arn: r.arn.clone(),
            })
            .collect(),
    };
    let gw_state = Arc::new(GatewayState::new(
        runtimes,
        store.clone(),
        clock.clone(),
        http,
    ));

    let (stop_tx, stop_rx) = watch::channel(false);
    let serve = |listener: TcpListener, app: axum::Router, name: &'static str| {
        let mut rx = stop_rx.clone();
        tokio::spawn(async move {
            // The peer address is handed to handlers (the IdP throttles failed sign-ins per address).
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(listener = name, error = %e, "listener failed");
            }
        })
    };
    let tasks = vec![
        serve(web_l, crate::edge::router(app_config), "web"),
        serve(idp_l, crate::idp::router(idp_state), "idp"),
        serve(gw_l, crate::gateway::router(gw_state), "gateway"),
    ];

    let endpoints = Endpoints {
        web: web_url.clone(),
        idp: idp_url.clone(),
        gateway: gw_url.clone(),
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
    if tokio::time::timeout(DRAIN_GRACE, drain).await.is_err() {
        tracing::warn!("connections still open after {DRAIN_GRACE:?}; closing them");
    }
    if let Some(agent) = agent {
        agent.stop().await;
    }
    let _ = std::fs::remove_file(&endpoints_path);
    Ok(())
}

fn print_banner(e: &Endpoints, data_dir: &Path) {
    let mut s = String::new();
    s.push_str("gatehouse is up\n");
    s.push_str(&format!("  web app          {}\n", e.web));
    s.push_str(&format!(
        "  identity provider {}  (user pool {}, app client {})\n",
        e.idp, e.user_pool_id, e.client_id
    ));
    s.push_str(&format!("  runtime gateway  {}\n", e.gateway));
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
