//! `doctor`: audits a deployment against the controls of a production perimeter and says, for each control, pass
//! or fail and how to fix it. [`audit`] is pure: it judges [`Facts`] gathered beforehand by [`probe`] (the
//! configuration, the listen addresses, the store's signing keys, the password hasher's real parameters, DNS
//! answers for upstream hosts, the app clients' OAuth settings and, given URLs, answers of the running
//! deployment; `oauth` judges registration, metadata documents, redirect URIs and secret age). Must never change
//! the deployment it audits, print a secret, or report a control as passing that it did not check (a control
//! that does not apply says so in its detail).
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::config::Config;

mod isolation;
mod listeners;
mod oauth;
pub mod probe;
mod secrets;

use listeners::{cors, live_checks, rate_limits, tls, upstreams};
use secrets::{argon2, credentials, db_outside, identity, keys, tokens};

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The control, e.g. `tls`, `cors`, `upstream`.
    pub control: &'static str,
    /// What was checked, e.g. a listener or a runtime name.
    pub subject: String,
    pub pass: bool,
    /// What was found.
    pub detail: String,
    /// How to fix it (empty when it passes).
    pub fix: String,
}

impl Check {
    fn pass(control: &'static str, subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            control,
            subject: subject.into(),
            pass: true,
            detail: detail.into(),
            fix: String::new(),
        }
    }
    fn fail(
        control: &'static str,
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            control,
            subject: subject.into(),
            pass: false,
            detail: detail.into(),
            fix: fix.into(),
        }
    }

    /// `PASS tls gateway — detail` or `FAIL tls gateway — detail. Fix: …`.
    pub fn line(&self) -> String {
        if self.pass {
            format!(
                "PASS  {:<14} {:<18} {}",
                self.control, self.subject, self.detail
            )
        } else {
            format!(
                "FAIL  {:<14} {:<18} {}. Fix: {}",
                self.control, self.subject, self.detail, self.fix
            )
        }
    }
}

/// Where the listeners bind (as given to `up`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listeners {
    pub web: SocketAddr,
    pub idp: SocketAddr,
    pub gateway: SocketAddr,
    pub admin: SocketAddr,
}

impl Default for Listeners {
    /// `up`'s defaults.
    fn default() -> Self {
        let at = |port| SocketAddr::from(([127, 0, 0, 1], port));
        Self {
            web: at(4000),
            idp: at(4001),
            gateway: at(4002),
            admin: at(4003),
        }
    }
}

/// The argon2 parameters found in a hash made by the IdP's own hasher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argon2Params {
    pub algorithm: String,
    pub memory_kib: u32,
    pub passes: u32,
    pub lanes: u32,
}

impl Argon2Params {
    /// Reads `$argon2id$v=19$m=19456,t=2,p=1$…`.
    pub fn from_phc(phc: &str) -> Option<Self> {
        let mut parts = phc.split('$').skip(1);
        let algorithm = parts.next()?.to_string();
        let mut params = parts.find(|p| p.starts_with("m="))?.split(',');
        let mut get = |k: &str| -> Option<u32> { params.next()?.strip_prefix(k)?.parse().ok() };
        Some(Self {
            algorithm,
            memory_kib: get("m=")?,
            passes: get("t=")?,
            lanes: get("p=")?,
        })
    }
}

/// A signing key as the audit sees it (never the key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFact {
    pub kid: String,
    pub created_at: i64,
    pub modulus_bits: usize,
}

/// What the running deployment answered (only when URLs were given).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveFacts {
    /// Discovery URL → `Ok(number of keys in its JWKS)` or `Err(why not)`.
    pub jwks: Vec<(String, Result<usize, String>)>,
    /// Invocations URL → status of a POST without a token.
    pub anonymous: Vec<(String, Result<u16, String>)>,
    /// Invocations URL → `Access-Control-Allow-Origin` answered to a preflight from a foreign origin.
    pub foreign_preflight: Vec<(String, Result<Option<String>, String>)>,
}

/// Everything the audit judges.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The configuration, or why it could not be loaded.
    pub config: Result<Config, String>,
    pub listeners: Listeners,
    pub lifetimes: Lifetimes,
    /// Whether the IdP can exchange a refresh token (it can: REFRESH_TOKEN_AUTH, GetTokensFromRefreshToken).
    pub refresh_flow_served: bool,
    /// App clients: (name, rotation on, refresh-token lifetime in seconds).
    pub clients: Vec<(String, bool, i64)>,
    /// App clients' OAuth settings (empty before the first start).
    pub oauth_clients: Vec<OAuthClientFact>,
    pub argon2: Option<Argon2Params>,
    /// `None`: no database in the data directory yet (keys are generated on first start).
    pub keys: Option<Vec<KeyFact>>,
    pub now_unix: i64,
    /// Data-directory and database permission bits, when they exist.
    pub data_dir_mode: Option<u32>,
    pub db_mode: Option<u32>,
    /// Upstream URL → the addresses its host resolves to (empty if it did not resolve).
    pub upstream_addrs: Vec<(String, Vec<IpAddr>)>,
    pub live: Option<LiveFacts>,
    /// The web listener's TLS files, when `[web] tls_cert`/`tls_key` are set.
    pub web_tls: Option<WebTlsFact>,
    /// The IdP's and gateway's TLS files (`idp`, `gateway`), when set.
    pub listener_tls: Vec<(String, WebTlsFact)>,
    /// A SQLite database outside the data directory: its path, its mode and its directory's mode.
    pub db_outside: Option<(std::path::PathBuf, Option<u32>, Option<u32>)>,
}

/// An app client as the OAuth controls see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClientFact {
    pub id: String,
    pub name: String,
    pub callback_urls: Vec<String>,
    pub logout_urls: Vec<String>,
    /// Whether it has a secret.
    pub confidential: bool,
    pub created_at: i64,
    /// When its secret was created, if recorded.
    pub secret_created_at: Option<i64>,
    /// Registered at `/oauth2/register`.
    pub dynamic: bool,
}

/// What was found about the web listener's certificate and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebTlsFact {
    /// Whether the pair loads as `up` loads it (`Err`: why not).
    pub loads: Result<(), String>,
    /// Permission bits of the key file.
    pub key_mode: Option<u32>,
}

/// Token lifetimes the audit judges (the longest any app client issues).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Access token, seconds.
    pub access: i64,
    /// ID token, seconds.
    pub id: i64,
    /// Refresh token, seconds.
    pub refresh: i64,
}

impl Default for Lifetimes {
    /// Cognito's defaults, which gatehouse's default client uses: 1 h, 1 h, 30 days.
    fn default() -> Self {
        Self {
            access: 3600,
            id: 3600,
            refresh: 30 * 24 * 3600,
        }
    }
}

/// Longest an access or ID token should live.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 3600;
/// Longest a refresh token should live.
pub const MAX_REFRESH_LIFETIME_SECS: i64 = 30 * 24 * 3600;
/// Oldest a signing key should be before it is rotated.
pub const MAX_KEY_AGE_SECS: i64 = 90 * 24 * 3600;
/// Oldest a client secret should be before it is replaced (there is no rotation in place: a new client).
pub const MAX_SECRET_AGE_SECS: i64 = 90 * 24 * 3600;
/// Smallest RSA modulus accepted.
pub const MIN_RSA_BITS: usize = 2048;
/// OWASP's argon2id minimum (m = 19 MiB, t = 2, p = 1).
pub const MIN_ARGON2_MEMORY_KIB: u32 = 19 * 1024;
/// Highest sustained per-user request rate considered a limit at all.
pub const MAX_SANE_REQUESTS_PER_MINUTE: u32 = 6000;

/// Headers that carry an identity (or a credential) and must never be forwarded from a client.
pub(super) const IDENTITY_HEADERS: &[&str] = &[
    "authorization",
    "x-user-id",
    "x-user",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-preferred-username",
    "x-forwarded-groups",
    "x-forwarded-access-token",
    "x-auth-request-user",
    "x-auth-request-email",
    "x-auth-request-access-token",
    "x-remote-user",
    "remote-user",
    "x-email",
    "x-groups",
    "x-jwt",
    "x-id-token",
    "x-access-token",
];

/// True for loopback addresses.
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// True for loopback or private-network addresses (RFC 1918, RFC 4193 unique-local, link-local).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            let seg = v6.segments()[0];
            v6.is_loopback()
                || (seg & 0xfe00) == 0xfc00
                || (seg & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// The host of an `http(s)://host[:port]/…` URL (brackets removed from IPv6).
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next();
    }
    Some(host_port.split(':').next().unwrap_or(host_port))
}

pub(super) fn host_is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(is_loopback)
}

/// `url` with any `user:password@` replaced by `***@`, for printing.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

pub(super) fn has_userinfo(url: &str) -> bool {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?', '#']).next())
        .is_some_and(|a| a.contains('@'))
}

/// Judges the facts: one [`Check`] per control and subject.
pub fn audit(f: &Facts) -> Vec<Check> {
    let mut out = Vec::new();
    let config = match &f.config {
        Ok(c) => {
            out.push(Check::pass("config", "file", "the configuration is valid"));
            c.clone()
        }
        Err(e) => {
            out.push(Check::fail(
                "config",
                "file",
                format!("the configuration is refused: {e}"),
                "correct every key named (see `gatehouse config validate`)",
            ));
            Config::default()
        }
    };
    tls(f, &config, &mut out);
    cors(&config, &mut out);
    identity(&config, &mut out);
    tokens(f, &mut out);
    credentials(f, &config, &mut out);
    db_outside(f, &mut out);
    keys(f, &mut out);
    argon2(f, &mut out);
    rate_limits(&config, &mut out);
    upstreams(f, &config, &mut out);
    isolation::isolation(&config, &mut out);
    oauth::registration(&config, &mut out);
    oauth::clients(f, &mut out);
    if let Some(live) = &f.live {
        live_checks(live, &mut out);
    }
    out
}

/// The pass of `control` for the embedded `demo` runtime, when the configuration has no `[[runtime]]`: what `up`
/// runs then is built in, and `detail` says why it passes.
pub(super) fn embedded_demo(c: &Config, control: &'static str, detail: &str, out: &mut Vec<Check>) {
    if c.runtimes.is_empty() {
        out.push(Check::pass(control, "demo", detail));
    }
}

pub(super) fn join(v: &[&String]) -> String {
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

pub(super) fn short(url: &str) -> String {
    let url = redact(url);
    let s: String = url.chars().take(60).collect();
    if s.len() < url.len() {
        format!("{s}…")
    } else {
        s
    }
}

#[cfg(test)]
#[path = "doctor_tests.rs"]
mod tests;
