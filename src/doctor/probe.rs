//! Gathers the [`Facts`] that `doctor` judges: loads the configuration, reads signing-key metadata from the
//! store (never key material beyond the modulus length), hashes a random password with the IdP's own hasher to
//! read its real argon2 parameters, resolves upstream hosts and, given a running deployment's endpoints, asks it
//! a few harmless questions (JWKS, an invocation without a token, a foreign-origin preflight). Must never write
//! to the deployment (other than the store's own migrations on open) or print what it reads.
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;

use super::Lifetimes;
use super::{Argon2Params, Facts, KeyFact, Listeners, LiveFacts, OAuthClientFact};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::outbound::{self as upstream, HttpKeySource};
use crate::server::Endpoints;
use crate::store::{SqliteStore, Store};
use crate::token::{KeySource, VerifyingKeys};

/// What to audit.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// The configuration `up` would run with (`config::resolve`: the file, or the embedded default, with the
    /// command line over it), or why it does not load.
    pub config: Result<Config, String>,
    pub listeners: Listeners,
    pub data_dir: PathBuf,
    /// `--database-url`: the store to read keys and clients from instead of the data directory's SQLite file.
    pub database_url: Option<crate::store::DatabaseUrl>,
    /// A running deployment's `endpoints.json`: enables the live checks.
    pub endpoints: Option<PathBuf>,
    /// Also fetch the JWKS of every authorizer in the configuration.
    pub live: bool,
}

/// Why facts could not be gathered at all.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot read {0}: {1}")]
    Endpoints(PathBuf, String),
}

/// Gathers every fact for [`super::audit`].
pub async fn gather(opts: &ProbeOptions) -> Result<Facts, ProbeError> {
    let config = opts.config.clone();
    let argon2 = tokio::task::spawn_blocking(|| {
        crate::idp::password::hash_blocking(&crate::util::opaque_token(16)).ok()
    })
    .await
    .ok()
    .flatten()
    .and_then(|phc| Argon2Params::from_phc(&phc));
    let db = opts.data_dir.join(crate::store::sqlite::DB_FILE);
    let store = existing_store(opts, opts.database_url.as_ref(), &db).await;
    let (keys, clients, oauth_clients) = if let Some(store) = &store {
        let (k, c, o) = signing_keys(store.as_ref()).await;
        (Some(k), c, o)
    } else {
        // Before the first start: the default client gatehouse will create.
        (
            None,
            vec![("gatehouse-web".to_string(), false, 30 * 24 * 3600)],
            Vec::new(),
        )
    };
    let upstream_addrs = match &config {
        Ok(c) => {
            let mut v = Vec::new();
            for r in &c.runtimes {
                for url in r.versions.values() {
                    v.push((url.to_string(), resolve(url).await));
                }
            }
            v
        }
        Err(_) => Vec::new(),
    };
    let live = if opts.endpoints.is_some() || opts.live {
        Some(live_facts(opts, &config).await?)
    } else {
        None
    };
    let mut facts = Facts {
        config,
        listeners: opts.listeners.clone(),
        lifetimes: Lifetimes::default(),
        refresh_flow_served: true,
        clients,
        oauth_clients,
        argon2,
        keys,
        now_unix: SystemClock.now_unix(),
        data_dir_mode: mode_of(&opts.data_dir),
        db_mode: mode_of(&db),
        upstream_addrs,
        live,
        web_tls: None,
        listener_tls: Vec::new(),
        db_outside: db_outside(&opts.data_dir, opts.database_url.as_ref()),
    };
    web_tls(&mut facts);
    Ok(facts)
}

/// The store, opened only if it exists (doctor must not create or tighten the data directory it checks).
async fn existing_store(
    opts: &ProbeOptions,
    url: Option<&crate::store::DatabaseUrl>,
    db: &std::path::Path,
) -> Option<std::sync::Arc<dyn Store>> {
    match url {
        Some(url) => crate::store::open(url).await.ok(),
        None if db.exists() => SqliteStore::open_in(&opts.data_dir)
            .await
            .ok()
            .map(|s| std::sync::Arc::new(s) as std::sync::Arc<dyn Store>),
        None => None,
    }
}

/// What the running deployment answers: the issuers' JWKS, anonymous calls and foreign preflights per runtime.
async fn live_facts(
    opts: &ProbeOptions,
    config: &Result<Config, String>,
) -> Result<LiveFacts, ProbeError> {
    let mut facts = LiveFacts::default();
    let http = upstream::client();
    if let Some(path) = &opts.endpoints {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProbeError::Endpoints(path.clone(), e.to_string()))?;
        let e: Endpoints = serde_json::from_str(&text)
            .map_err(|err| ProbeError::Endpoints(path.clone(), err.to_string()))?;
        facts
            .jwks
            .push((e.discovery_url.clone(), jwks(&http, &e.discovery_url).await));
        for r in &e.runtimes {
            facts.anonymous.push((
                r.invocations_url.clone(),
                anonymous(&http, &r.invocations_url).await,
            ));
            facts.foreign_preflight.push((
                r.invocations_url.clone(),
                preflight(&http, &r.invocations_url).await,
            ));
        }
    }
    if let Ok(c) = &config {
        for a in c.runtimes.iter().filter_map(|r| r.authorizer.as_ref()) {
            if facts.jwks.iter().all(|(u, _)| *u != *a.discovery_url) {
                facts.jwks.push((
                    a.discovery_url.to_string(),
                    jwks(&http, &a.discovery_url).await,
                ));
            }
        }
    }
    Ok(facts)
}

/// The SQLite file `--database-url` names, when it lies outside the data directory, with its mode and its
/// directory's mode.
fn db_outside(
    data_dir: &Path,
    url: Option<&crate::store::DatabaseUrl>,
) -> Option<(std::path::PathBuf, Option<u32>, Option<u32>)> {
    let path = url?.named_sqlite_file()?;
    let abs = |p: &Path| {
        std::fs::canonicalize(p).unwrap_or_else(|_| {
            std::env::current_dir()
                .map(|d| d.join(p))
                .unwrap_or(p.to_path_buf())
        })
    };
    let file = abs(&path);
    if file.starts_with(abs(data_dir)) {
        return None;
    }
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    Some((file.clone(), mode_of(&file), mode_of(&dir)))
}

/// Fills [`Facts::web_tls`] (and [`Facts::listener_tls`] from `[idp]`/`[gateway]`) from the configuration's
/// `tls_cert` and `tls_key` (the command line's already laid over the file): whether each pair loads as `up` would load it, and the key file's permission bits. Reads no more than `up` reads and
/// prints nothing of the key.
pub fn web_tls(facts: &mut Facts) {
    let Ok(c) = &facts.config else {
        return;
    };
    let fact = |section: &'static str, cert: &Path, key: &Path| super::WebTlsFact {
        loads: crate::edge::tls::CertFiles::load(section, cert, key)
            .and_then(|c| c.acceptor())
            .map(|_| ())
            .map_err(|e| e.to_string()),
        key_mode: mode_of(key),
    };
    let mut listener_tls = Vec::new();
    for (name, files) in [
        ("idp", &c.listeners.idp_tls),
        ("gateway", &c.listeners.gateway_tls),
    ] {
        if let Some(t) = files {
            listener_tls.push((name.to_string(), fact(name, &t.cert, &t.key)));
        }
    }
    let web = match (&c.web.tls_cert, &c.web.tls_key) {
        (Some(cert), Some(key)) => Some(fact("web", cert, key)),
        _ => None,
    };
    facts.listener_tls = listener_tls;
    if web.is_some() {
        facts.web_tls = web;
    }
}

fn mode_of(p: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).ok().map(|m| m.permissions().mode())
}

/// The signing keys, the clients' lifetimes and the clients' OAuth settings.
async fn signing_keys(store: &dyn Store) -> (Vec<KeyFact>, ClientLifetimes, Vec<OAuthClientFact>) {
    let Ok((pool, _)) = crate::idp::bootstrap::default_pool(store, &SystemClock).await else {
        return (Vec::new(), Vec::new(), Vec::new());
    };
    let rows = store.clients(&pool.id).await.unwrap_or_default();
    let oauth = rows
        .iter()
        .map(|c| OAuthClientFact {
            id: c.id.to_string(),
            name: c.name.clone(),
            callback_urls: c.callback_urls.iter().map(String::from).collect(),
            logout_urls: c.logout_urls.iter().map(String::from).collect(),
            confidential: c.secret.is_some(),
            created_at: c.created_at,
            secret_created_at: c.secret_created_at,
            dynamic: c.dynamic,
        })
        .collect();
    let clients = rows
        .into_iter()
        .map(|c| (c.name, c.rotation, c.refresh_validity))
        .collect();
    let rows = store.signing_keys(&pool.id).await.unwrap_or_default();
    let keys = rows
        .into_iter()
        .map(|k| KeyFact {
            modulus_bits: aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&k.pkcs8)
                .map_or(0, |kp| kp.public_modulus_len() * 8),
            kid: k.kid,
            created_at: k.created_at,
        })
        .collect();
    (keys, clients, oauth)
}

/// (name, rotation on, refresh-token lifetime).
type ClientLifetimes = Vec<(String, bool, i64)>;

async fn resolve(url: &str) -> Vec<IpAddr> {
    let Some(host) = super::url_host(url) else {
        return Vec::new();
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return vec![ip];
    }
    let lookup = tokio::net::lookup_host((host, 80));
    match tokio::time::timeout(Duration::from_secs(5), lookup).await {
        Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
        _ => Vec::new(),
    }
}

async fn jwks(http: &upstream::HttpClient, discovery_url: &str) -> Result<usize, String> {
    let fetched = HttpKeySource::new(http.clone(), discovery_url.to_string())
        .fetch()
        .await
        .map_err(|e| e.to_string())?;
    VerifyingKeys::from_jwks_json(&fetched.jwks)
        .map(|k| k.len())
        .map_err(|e| e.to_string())
}

async fn send(
    http: &upstream::HttpClient,
    req: http::Request<Body>,
) -> Result<http::Response<hyper::body::Incoming>, String> {
    tokio::time::timeout(Duration::from_secs(5), http.request(req))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())
}

async fn anonymous(http: &upstream::HttpClient, url: &str) -> Result<u16, String> {
    let req = http::Request::post(url)
        .header("content-type", "application/json")
        .header(
            "x-amzn-bedrock-agentcore-runtime-user-id",
            "gatehouse-doctor",
        )
        .body(Body::from("{}"))
        .map_err(|e| e.to_string())?;
    Ok(send(http, req).await?.status().as_u16())
}

async fn preflight(http: &upstream::HttpClient, url: &str) -> Result<Option<String>, String> {
    let req = http::Request::options(url)
        .header("origin", "https://gatehouse-doctor.invalid")
        .header("access-control-request-method", "POST")
        .body(Body::empty())
        .map_err(|e| e.to_string())?;
    let resp = send(http, req).await?;
    Ok(resp
        .headers()
        .get("access-control-allow-origin")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()))
}
