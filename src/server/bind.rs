//! Binding `up`'s listeners (port 0 allowed) and loading their certificate files, before anything is served: a
//! listener that cannot bind or a certificate that cannot load stops `up` with the address or file named.
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::ServerError;

pub(super) async fn bind(addr: SocketAddr) -> Result<(TcpListener, String), ServerError> {
    let l = TcpListener::bind(addr)
        .await
        .map_err(|e| ServerError::Bind(addr, e))?;
    let local = l.local_addr().map_err(|e| ServerError::Bind(addr, e))?;
    Ok((l, format!("http://{local}")))
}

/// A listener's certificate files, loaded (and then watched for changes), when it has them.
pub(super) fn load_certs(
    section: &'static str,
    files: Option<&crate::config::listeners::TlsFiles>,
) -> Result<Option<Arc<crate::edge::tls::CertFiles>>, ServerError> {
    files
        .map(|f| crate::edge::tls::CertFiles::load(section, &f.cert, &f.key))
        .transpose()
        .map_err(|e| ServerError::Usage(e.to_string()))
}

pub(super) fn acceptor_of(
    certs: Option<&Arc<crate::edge::tls::CertFiles>>,
) -> Result<Option<tokio_rustls::TlsAcceptor>, ServerError> {
    certs
        .map(|c| c.acceptor())
        .transpose()
        .map_err(|e| ServerError::Usage(e.to_string()))
}

/// The web, redirect, IdP and gateway listeners, bound, with their certificates and the URLs they answer at.
pub(super) struct Bound {
    pub web_l: TcpListener,
    pub redirect: Option<(TcpListener, String)>,
    pub idp_l: TcpListener,
    pub gw_l: TcpListener,
    /// The web app, loaded once into memory, when `[web] root` names one.
    pub site: Option<Arc<crate::edge::Site>>,
    pub web_certs: Option<Arc<crate::edge::tls::CertFiles>>,
    pub idp_certs: Option<Arc<crate::edge::tls::CertFiles>>,
    pub gw_certs: Option<Arc<crate::edge::tls::CertFiles>>,
    pub web_tls: Option<tokio_rustls::TlsAcceptor>,
    /// The IdP's bound address (the gateway fetches the built-in pool's keys there).
    pub idp_bound: String,
    /// Public URLs: the configured ones, or the bound addresses.
    pub web_url: String,
    pub idp_url: String,
    pub gw_url: String,
}

impl Bound {
    /// Checks the web listener's settings (TLS files, the redirect's target, no plain HTTP off loopback unless
    /// allowed), loads the web root and every certificate, then binds.
    pub(super) async fn all(opts: &super::UpOptions) -> Result<Self, ServerError> {
        let web = &opts.config.web;
        web.check_for(opts.web_listen, opts.config.web_public_url.as_deref())?;
        let site = load_site(web.root.clone()).await?;
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
        let web_tls = acceptor_of(web_certs.as_ref())?;
        let scheme = |bound: String, tls: bool| {
            if tls {
                bound.replacen("http://", "https://", 1)
            } else {
                bound
            }
        };
        let (web_l, web_bound) = bind(opts.web_listen).await?;
        let web_bound = scheme(web_bound, web_tls.is_some());
        let redirect = match web.redirect_listen {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let (idp_l, idp_bound) = bind(opts.idp_listen).await?;
        let idp_bound = scheme(idp_bound, idp_certs.is_some());
        let (gw_l, gw_bound) = bind(opts.gateway_listen).await?;
        let gw_bound = scheme(gw_bound, gw_certs.is_some());
        let public = |configured: &Option<crate::config::HttpUrl>, bound: String| {
            configured
                .as_ref()
                .map_or(bound, |u| u.trim_end_matches('/').to_string())
        };
        Ok(Self {
            web_l,
            redirect,
            idp_l,
            gw_l,
            site,
            web_certs,
            idp_certs,
            gw_certs,
            web_tls,
            web_url: public(&opts.config.web_public_url, web_bound),
            idp_url: public(&opts.config.idp_public_url, idp_bound.clone()),
            gw_url: public(&opts.config.gateway_public_url, gw_bound),
            idp_bound,
        })
    }
}

/// The built app under `root`, loaded once into memory.
async fn load_site(
    root: Option<std::path::PathBuf>,
) -> Result<Option<Arc<crate::edge::Site>>, ServerError> {
    let Some(root) = root else {
        return Ok(None);
    };
    let site = tokio::task::spawn_blocking(move || crate::edge::Site::load(&root))
        .await
        .map_err(|e| ServerError::Internal(format!("loading the web root: {e}")))?
        .map_err(|e| ServerError::Usage(format!("--web-root / [web] root: {e}")))?;
    let (files, bytes) = site.stats();
    if site.index().is_none() {
        tracing::warn!("the web root has no index.html: app routes will answer 404");
    }
    tracing::info!(files, bytes, "web root loaded");
    Ok(Some(Arc::new(site)))
}
