//! `[listeners]` (who may speak for the client: `trusted_proxies`, `proxy_protocol`) and the TLS files of the
//! IdP and gateway listeners (`[idp] tls_cert`/`tls_key`, `[gateway] tls_cert`/`tls_key`), checked into
//! [`ListenersConfig`]. Holds no listener code.
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{err, ConfigError};
use crate::net::{Cidr, TrustedProxies};

/// `[listeners]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListeners {
    /// CIDR blocks (or single addresses) of the proxies in front of gatehouse.
    pub trusted_proxies: Option<Vec<String>>,
    /// Connections from a trusted proxy start with a PROXY protocol (v1 or v2) header.
    pub proxy_protocol: Option<bool>,
}

/// A certificate chain and its key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The checked `[listeners]` plus the IdP's and gateway's TLS files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenersConfig {
    /// Peers whose `X-Forwarded-For` (and PROXY headers, with `proxy_protocol`) name the client. Empty: the
    /// TCP peer is the client.
    pub trusted_proxies: TrustedProxies,
    /// Require a PROXY protocol header on every connection from a trusted proxy to the web, IdP and gateway
    /// listeners.
    pub proxy_protocol: bool,
    /// `[idp] tls_cert`/`tls_key`: the IdP listener speaks HTTPS.
    pub idp_tls: Option<TlsFiles>,
    /// `[gateway] tls_cert`/`tls_key`: the gateway listener speaks HTTPS (and WSS).
    pub gateway_tls: Option<TlsFiles>,
}

impl ListenersConfig {
    /// Relative TLS paths of a configuration file are taken from the file's directory.
    pub fn relative_to(&mut self, dir: &Path) {
        for t in [&mut self.idp_tls, &mut self.gateway_tls]
            .into_iter()
            .flatten()
        {
            for p in [&mut t.cert, &mut t.key] {
                if p.is_relative() {
                    *p = dir.join(&*p);
                }
            }
        }
    }
}

/// One listener's `tls_cert` and `tls_key`, which come together.
pub fn check_tls(
    errors: &mut Vec<ConfigError>,
    section: &str,
    cert: &Option<String>,
    key: &Option<String>,
) -> Option<TlsFiles> {
    match (cert, key) {
        (Some(c), Some(k)) => Some(TlsFiles {
            cert: c.into(),
            key: k.into(),
        }),
        (None, None) => None,
        (Some(_), None) => {
            err(
                errors,
                format!("{section}.tls_key"),
                "missing; tls_cert and tls_key come together",
            );
            None
        }
        (None, Some(_)) => {
            err(
                errors,
                format!("{section}.tls_cert"),
                "missing; tls_cert and tls_key come together",
            );
            None
        }
    }
}

/// Checks `[listeners]`; the TLS files are filled in by the caller.
pub fn check_listeners(errors: &mut Vec<ConfigError>, raw: &RawListeners) -> ListenersConfig {
    let mut nets = Vec::new();
    for (i, s) in raw.trusted_proxies.iter().flatten().enumerate() {
        match s.parse::<Cidr>() {
            Ok(c) => nets.push(c),
            Err(e) => err(
                errors,
                format!("listeners.trusted_proxies[{i}]"),
                e.to_string(),
            ),
        }
    }
    let proxy_protocol = raw.proxy_protocol.unwrap_or(false);
    if proxy_protocol && nets.is_empty() {
        err(
            errors,
            "listeners.proxy_protocol",
            "needs listeners.trusted_proxies: only the proxies listed there may send a PROXY header",
        );
    }
    ListenersConfig {
        trusted_proxies: TrustedProxies(nets),
        proxy_protocol,
        idp_tls: None,
        gateway_tls: None,
    }
}
