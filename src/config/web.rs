//! `[web]`: the web listener (app root, TLS, the HTTP→HTTPS redirect, the web app's client), raw and checked,
//! and its re-check once `up`'s flags are merged in. Must never read the files it names.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::common::err;
use super::{ConfigError, ConfigErrors};

/// `[web]`: the web listener (the app's files, TLS, the HTTP→HTTPS redirect).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    /// The externally visible URL; the redirect listener sends every request there.
    pub public_url: Option<String>,
    /// The built single-page app (a directory with `index.html`).
    pub root: Option<String>,
    /// PEM certificate chain and private key: the web listener speaks TLS.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// A plain-HTTP listener that answers every request with 308 to `public_url`.
    pub redirect_listen: Option<String>,
    /// Serve plain HTTP on a non-loopback address (TLS terminated by a proxy in front).
    pub allow_plaintext_public: Option<bool>,
    /// The app client the web app signs in with (named in `/config.json`, accepted by the built-in authorizer
    /// beside the default client). Default: the pool's default client.
    pub client_id: Option<String>,
}

/// A checked `[web]` (everything but `public_url`), merged with `up`'s flags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebConfig {
    /// The built app; `None`: the placeholder page.
    pub root: Option<PathBuf>,
    /// PEM certificate chain; set together with `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
    /// Plain-HTTP listener that redirects to `[web] public_url`.
    pub redirect_listen: Option<SocketAddr>,
    pub allow_plaintext_public: bool,
    /// `[web] client_id`: the app client of the web app; `None`: the pool's default client.
    pub client_id: Option<String>,
}

impl WebConfig {
    /// True when the web listener terminates TLS itself.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }

    /// Relative paths of a configuration file are taken from the file's directory.
    pub(super) fn relative_to(&mut self, dir: &Path) {
        for p in [&mut self.root, &mut self.tls_cert, &mut self.tls_key]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
    }

    /// Checks the web settings once `up`'s flags are merged in: TLS needs both files, a redirect listener needs
    /// TLS and an https:// `public_url`, and plain HTTP is served on a non-loopback `listen` only when
    /// `allow_plaintext_public` says so.
    pub fn check_for(
        &self,
        listen: SocketAddr,
        public_url: Option<&str>,
    ) -> Result<(), ConfigErrors> {
        let mut errors = Vec::new();
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => err(
                &mut errors,
                "web.tls_key",
                "missing; tls_cert and tls_key (--web-tls-cert/--web-tls-key) come together",
            ),
            (None, Some(_)) => err(
                &mut errors,
                "web.tls_cert",
                "missing; tls_cert and tls_key (--web-tls-cert/--web-tls-key) come together",
            ),
            _ => {}
        }
        if let Some(r) = self.redirect_listen {
            if !self.tls() {
                err(
                    &mut errors,
                    "web.redirect_listen",
                    format!(
                        "{r}: a redirect to HTTPS needs the web listener to serve TLS; set [web] tls_cert and \
                         tls_key (or --web-tls-cert/--web-tls-key)"
                    ),
                );
            }
            if !public_url.is_some_and(|u| u.starts_with("https://")) {
                err(
                    &mut errors,
                    "web.redirect_listen",
                    format!(
                        "{r}: needs [web] public_url = \"https://…\", the address redirects go to (never the \
                         request's Host header)"
                    ),
                );
            }
        }
        if !self.tls() && !self.allow_plaintext_public && !ip_is_loopback(listen.ip()) {
            err(
                &mut errors,
                "web.tls_cert",
                format!(
                    "--web-listen {listen} is not a loopback address and the web listener has no TLS: set [web] \
                     tls_cert and tls_key (or --web-tls-cert/--web-tls-key), or bind it to 127.0.0.1 behind a TLS \
                     proxy; if a proxy on a private network terminates TLS, pass --allow-plaintext-public \
                     ([web] allow_plaintext_public = true)"
                ),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

/// True for loopback addresses (IPv4-mapped included).
pub fn ip_is_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

pub(super) fn check_web(errors: &mut Vec<ConfigError>, raw: &RawWeb) -> WebConfig {
    let path = |errors: &mut Vec<ConfigError>, key: &str, v: &Option<String>| {
        v.as_ref().and_then(|p| {
            if p.trim().is_empty() {
                err(errors, key, "is empty; give a path or leave the key out");
                None
            } else {
                Some(PathBuf::from(p))
            }
        })
    };
    let root = path(errors, "web.root", &raw.root);
    let tls_cert = path(errors, "web.tls_cert", &raw.tls_cert);
    let tls_key = path(errors, "web.tls_key", &raw.tls_key);
    match (&raw.tls_cert, &raw.tls_key) {
        (Some(_), None) => err(
            errors,
            "web.tls_key",
            "missing; tls_cert and tls_key come together",
        ),
        (None, Some(_)) => err(
            errors,
            "web.tls_cert",
            "missing; tls_cert and tls_key come together",
        ),
        _ => {}
    }
    let redirect_listen = raw.redirect_listen.as_ref().and_then(|r| {
        let parsed = r.parse::<SocketAddr>().ok();
        if parsed.is_none() {
            err(
                errors,
                "web.redirect_listen",
                format!("'{r}' is not HOST:PORT with an IP address (e.g. \"0.0.0.0:80\")"),
            );
        } else if !raw
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
        {
            err(
                errors,
                "web.redirect_listen",
                "needs [web] public_url = \"https://…\": redirects go there, never to the request's Host header",
            );
        }
        parsed
    });
    if let Some(id) = &raw.client_id {
        // Cognito's ClientIdType: 1 to 128 word characters (or '+').
        let ok = !id.is_empty()
            && id.len() <= 128
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+');
        if !ok {
            err(
                errors,
                "web.client_id",
                format!(
                    "'{id}' is not a client id (1 to 128 letters, digits, '_' or '+'); take one from \
                     `gatehouse client list`"
                ),
            );
        }
    }
    WebConfig {
        root,
        tls_cert,
        tls_key,
        redirect_listen,
        allow_plaintext_public: raw.allow_plaintext_public.unwrap_or(false),
        client_id: raw.client_id.clone(),
    }
}
