//! `doctor`: audits a deployment against the controls of a production perimeter and says, for each control, pass
//! or fail and how to fix it. [`audit`] is pure: it judges [`Facts`] gathered beforehand by [`probe`] (the
//! configuration, the listen addresses, the store's signing keys, the password hasher's real parameters, DNS
//! answers for upstream hosts and, given URLs, answers of the running deployment). Must never change the
//! deployment it audits, print a secret, or report a control as passing that it did not check (a control that
//! does not apply says so in its detail).
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::config::Config;

mod isolation;
pub mod probe;

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
/// Smallest RSA modulus accepted.
pub const MIN_RSA_BITS: usize = 2048;
/// OWASP's argon2id minimum (m = 19 MiB, t = 2, p = 1).
pub const MIN_ARGON2_MEMORY_KIB: u32 = 19 * 1024;
/// Highest sustained per-user request rate considered a limit at all.
pub const MAX_SANE_REQUESTS_PER_MINUTE: u32 = 6000;

/// Headers that carry an identity (or a credential) and must never be forwarded from a client.
const IDENTITY_HEADERS: &[&str] = &[
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

fn host_is_loopback(host: &str) -> bool {
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

fn has_userinfo(url: &str) -> bool {
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
    if let Some(live) = &f.live {
        live_checks(live, &mut out);
    }
    out
}

fn tls(f: &Facts, c: &Config, out: &mut Vec<Check>) {
    let l = &f.listeners;
    let web_tls = c.web.tls();
    let idp_tls = c.listeners.idp_tls.is_some();
    let gw_tls = c.listeners.gateway_tls.is_some();
    for (name, addr, public, own_tls) in [
        ("web", l.web, &c.web_public_url, web_tls),
        ("idp", l.idp, &c.idp_public_url, idp_tls),
        ("gateway", l.gateway, &c.gateway_public_url, gw_tls),
    ] {
        let fact = if name == "web" {
            f.web_tls.as_ref()
        } else {
            f.listener_tls
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t)
        };
        let public_https = public.as_deref().is_some_and(|u| u.starts_with("https://"));
        let public_plain = public.as_deref().is_some_and(|u| {
            u.starts_with("http://") && !url_host(u).is_some_and(host_is_loopback)
        });
        if public_plain {
            out.push(Check::fail(
                "tls",
                name,
                format!(
                    "public_url {} is plain http on a non-loopback host",
                    redact(public.as_deref().unwrap_or(""))
                ),
                format!("serve it over TLS and set [{name}] public_url = \"https://…\""),
            ));
        } else if own_tls {
            match fact {
                Some(WebTlsFact { loads: Err(e), .. }) => out.push(Check::fail(
                    "tls",
                    name,
                    format!("the certificate and key do not load: {e}"),
                    format!("point [{name}] tls_cert at the PEM certificate chain and tls_key at its PEM private key"),
                )),
                Some(WebTlsFact {
                    key_mode: Some(m), ..
                }) if m & 0o077 != 0 => out.push(Check::fail(
                    "tls",
                    name,
                    format!("the private key file is open to other users (mode {:o})", m & 0o777),
                    "chmod 600 the key file (and keep it owned by the user gatehouse runs as)",
                )),
                Some(_) => out.push(Check::pass(
                    "tls",
                    name,
                    format!(
                        "listens on {addr} with TLS (rustls, TLS 1.2 and 1.3{}; reloaded when the files change); \
                         certificate and key load, key file private",
                        if name == "web" { "; HSTS sent" } else { "" }
                    ),
                )),
                None => out.push(Check::pass(
                    "tls",
                    name,
                    format!("listens on {addr} with TLS (the certificate files were not examined)"),
                )),
            }
        } else if is_loopback(addr.ip()) {
            out.push(Check::pass(
                "tls",
                name,
                format!(
                    "listens on {addr} (loopback only): TLS not applicable here{}",
                    if public_https {
                        "; public URL is https (terminated in front)"
                    } else {
                        ""
                    }
                ),
            ));
        } else {
            let fix = if name == "web" {
                "set [web] tls_cert and tls_key (or --web-tls-cert/--web-tls-key), or bind --web-listen to \
                 127.0.0.1 behind a TLS reverse proxy and set [web] public_url to its https:// URL"
                    .to_string()
            } else {
                format!(
                    "set [{name}] tls_cert and tls_key, or bind --{name}-listen to 127.0.0.1 and terminate TLS \
                     in a reverse proxy; set [{name}] public_url to its https:// URL"
                )
            };
            out.push(Check::fail(
                "tls",
                name,
                format!("listens on {addr} without TLS"),
                fix,
            ));
        }
    }
    // `up` refuses plain HTTP off loopback on the web listener unless told otherwise; the override is still a
    // finding.
    if web_tls || is_loopback(l.web.ip()) {
        out.push(Check::pass(
            "web-plaintext",
            "web",
            if web_tls {
                format!("the web listener on {} serves HTTPS only", l.web)
            } else {
                format!("plain HTTP only on loopback ({})", l.web)
            },
        ));
    } else {
        out.push(Check::fail(
            "web-plaintext",
            "web",
            format!(
                "the web listener serves plain HTTP on the non-loopback address {}{}",
                l.web,
                if c.web.allow_plaintext_public {
                    " (allowed by allow_plaintext_public)"
                } else {
                    "; `up` refuses to start like this"
                }
            ),
            "set [web] tls_cert and tls_key (or --web-tls-cert/--web-tls-key), or bind --web-listen to 127.0.0.1 \
             behind a TLS proxy; allow_plaintext_public only when that proxy is on a private network",
        ));
    }
    let exposed: Vec<&str> = [
        ("web", l.web, web_tls),
        ("idp", l.idp, idp_tls),
        ("gateway", l.gateway, gw_tls),
    ]
    .into_iter()
    .filter(|(_, a, tls)| !is_loopback(a.ip()) && !tls)
    .map(|(n, _, _)| n)
    .collect();
    let web_tls_exposed = web_tls && !is_loopback(l.web.ip());
    if !exposed.is_empty() {
        out.push(Check::fail(
            "tls-redirect",
            "listeners",
            format!(
                "{} answer plain HTTP off this host and gatehouse has no HTTP→HTTPS redirect for them",
                exposed.join(", ")
            ),
            "bind them to loopback behind a TLS proxy that redirects http:// to https://",
        ));
    } else if web_tls_exposed && c.web.redirect_listen.is_none() {
        out.push(Check::fail(
            "tls-redirect",
            "listeners",
            format!(
                "the web listener serves HTTPS on {} but nothing answers http:// with a redirect",
                l.web
            ),
            "set [web] redirect_listen = \"0.0.0.0:80\" (or --web-redirect-listen) with [web] public_url = \
             \"https://…\"",
        ));
    } else if let Some(r) = c.web.redirect_listen.filter(|_| web_tls) {
        out.push(Check::pass(
            "tls-redirect",
            "listeners",
            format!(
                "{r} redirects every request to {} (308, host from public_url)",
                c.web_public_url.as_deref().unwrap_or("public_url")
            ),
        ));
    } else {
        out.push(Check::pass(
            "tls-redirect",
            "listeners",
            "no listener is reachable off this host: an HTTP→HTTPS redirect belongs to the proxy in front",
        ));
    }
    if is_private(f.listeners.admin.ip()) {
        out.push(Check::pass(
            "admin",
            "listener",
            format!("metrics listen on {} (loopback or private)", l.admin),
        ));
    } else {
        out.push(Check::fail(
            "admin",
            "listener",
            format!("metrics listen on the public address {}", l.admin),
            "bind --admin-listen to 127.0.0.1 or a private address",
        ));
    }
}

fn cors(c: &Config, out: &mut Vec<Check>) {
    if c.runtimes.is_empty() {
        out.push(Check::pass(
            "cors",
            "demo",
            "the embedded runtime allows exactly the web listener's own origin",
        ));
    }
    for r in &c.runtimes {
        let bad: Vec<&String> = r
            .allowed_origins
            .iter()
            .filter(|o| {
                let lower = o.to_ascii_lowercase();
                lower == "null"
                    || o.contains('*')
                    || !(lower.starts_with("https://")
                        || (lower.starts_with("http://")
                            && url_host(&lower).is_some_and(host_is_loopback)))
            })
            .collect();
        let web = c.web_public_url.as_deref().map(|u| u.trim_end_matches('/'));
        let unknown: Vec<&String> = match web {
            Some(w) => r
                .allowed_origins
                .iter()
                .filter(|o| !o.eq_ignore_ascii_case(w) && !bad.contains(o))
                .collect(),
            None => Vec::new(),
        };
        if !bad.is_empty() {
            out.push(Check::fail(
                "cors",
                r.name.clone(),
                format!(
                    "allowed_origins has {} (wildcard, null or plain http off loopback)",
                    join(&bad)
                ),
                "list only the exact https:// origins of your web apps",
            ));
        } else if !unknown.is_empty() {
            out.push(Check::fail(
                "cors",
                r.name.clone(),
                format!(
                    "allowed_origins has {} besides [web] public_url",
                    join(&unknown)
                ),
                "remove origins that are not your own web app, or confirm each and set [web] public_url",
            ));
        } else {
            out.push(Check::pass(
                "cors",
                r.name.clone(),
                if r.allowed_origins.is_empty() {
                    "no browser origin allowed (non-browser clients only)".to_string()
                } else {
                    format!(
                        "only {}",
                        join(&r.allowed_origins.iter().collect::<Vec<_>>())
                    )
                },
            ));
        }
    }
}

fn join(v: &[&String]) -> String {
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

fn identity(c: &Config, out: &mut Vec<Check>) {
    if c.runtimes.is_empty() {
        out.push(Check::pass(
            "identity",
            "demo",
            "user id taken from the verified token's sub; the built-in pool and client; no client identity \
             header forwarded",
        ));
    }
    for r in &c.runtimes {
        let forwarded: Vec<&String> = r
            .request_header_allowlist
            .iter()
            .filter(|h| {
                let h = h.to_ascii_lowercase();
                IDENTITY_HEADERS.contains(&h.as_str())
                    || h.contains("user")
                    || h.contains("identity")
                    || h.contains("token")
            })
            .collect();
        let open_authorizer = r
            .authorizer
            .as_ref()
            .is_some_and(|a| a.allowed_clients.is_empty() && a.allowed_audience.is_empty());
        if !forwarded.is_empty() {
            out.push(Check::fail(
                "identity",
                r.name.clone(),
                format!(
                    "request_header_allowlist forwards {} from clients",
                    join(&forwarded)
                ),
                "remove them: the agent must take the user only from X-Amzn-Bedrock-AgentCore-Runtime-User-Id, \
                 which gatehouse derives from the token",
            ));
        } else if open_authorizer {
            out.push(Check::fail(
                "identity",
                r.name.clone(),
                "the authorizer accepts any client or audience of its issuer",
                "set allowed_clients (Cognito access tokens) or allowed_audience",
            ));
        } else {
            out.push(Check::pass(
                "identity",
                r.name.clone(),
                "user id from the verified token only; client identity headers stripped",
            ));
        }
    }
}

fn tokens(f: &Facts, out: &mut Vec<Check>) {
    let l = &f.lifetimes;
    if l.access > MAX_TOKEN_LIFETIME_SECS
        || l.id > MAX_TOKEN_LIFETIME_SECS
        || l.refresh > MAX_REFRESH_LIFETIME_SECS
        || l.access <= 0
        || l.id <= 0
    {
        out.push(Check::fail(
            "token-lifetime",
            "idp",
            format!(
                "access {} s, ID {} s, refresh {} s",
                l.access, l.id, l.refresh
            ),
            format!(
                "keep access and ID tokens ≤ {MAX_TOKEN_LIFETIME_SECS} s and refresh tokens ≤ {} days",
                MAX_REFRESH_LIFETIME_SECS / 86_400
            ),
        ));
    } else {
        out.push(Check::pass(
            "token-lifetime",
            "idp",
            format!(
                "access {} min, ID {} min, refresh {} days",
                l.access / 60,
                l.id / 60,
                l.refresh / 86_400
            ),
        ));
    }
    let unrotated_long: Vec<&str> = f
        .clients
        .iter()
        .filter(|(_, rotation, validity)| !rotation && *validity > MAX_REFRESH_LIFETIME_SECS)
        .map(|(name, _, _)| name.as_str())
        .collect();
    if f.refresh_flow_served && !unrotated_long.is_empty() {
        out.push(Check::fail(
            "refresh-rotation",
            "idp",
            format!("clients {} exchange refresh tokens living over {} days without rotation", unrotated_long.join(", "), MAX_REFRESH_LIFETIME_SECS / 86_400),
            "enable rotation (gatehouse client create --rotation) or shorten --refresh-token-validity",
        ));
    } else if f.refresh_flow_served {
        let rotating = f.clients.iter().filter(|(_, r, _)| *r).count();
        out.push(Check::pass(
            "refresh-rotation",
            "idp",
            format!(
                "refresh tokens are stored hashed, revocable, and a replayed rotated token revokes its family; rotation on for {rotating} of {} clients",
                f.clients.len()
            ),
        ));
    } else {
        out.push(Check::pass(
            "refresh-rotation",
            "idp",
            "this build exchanges no refresh token (REFRESH_TOKEN_AUTH is refused), so none can be replayed",
        ));
    }
}

fn credentials(f: &Facts, c: &Config, out: &mut Vec<Check>) {
    let mut urls: Vec<(String, String)> = Vec::new();
    for (k, v) in [
        ("[web] public_url", &c.web_public_url),
        ("[idp] public_url", &c.idp_public_url),
        ("[gateway] public_url", &c.gateway_public_url),
    ] {
        if let Some(u) = v {
            urls.push((k.to_string(), u.clone()));
        }
    }
    for r in &c.runtimes {
        for (n, u) in &r.versions {
            urls.push((
                format!("runtime {} version {n} upstream", r.name),
                u.clone(),
            ));
        }
        if let Some(a) = &r.authorizer {
            urls.push((
                format!("runtime {} discovery_url", r.name),
                a.discovery_url.clone(),
            ));
        }
    }
    let with_secret: Vec<String> = urls
        .iter()
        .filter(|(_, u)| has_userinfo(u))
        .map(|(k, _)| k.clone())
        .collect();
    if with_secret.is_empty() {
        out.push(Check::pass(
            "credentials",
            "urls",
            "no URL carries a user name or password; gatehouse ships no default user or password",
        ));
    } else {
        out.push(Check::fail(
            "credentials",
            "urls",
            format!("credentials embedded in {}", with_secret.join(", ")),
            "remove user:password@ from URLs; never put credentials in the configuration file",
        ));
    }
    let plain_discovery: Vec<String> = c
        .runtimes
        .iter()
        .filter_map(|r| r.authorizer.as_ref().map(|a| (r, a)))
        .filter(|(_, a)| {
            a.discovery_url.starts_with("http://")
                && !url_host(&a.discovery_url).is_some_and(host_is_loopback)
        })
        .map(|(r, _)| r.name.clone())
        .collect();
    if plain_discovery.is_empty() {
        out.push(Check::pass(
            "jwks-transport",
            "authorizers",
            "every discovery URL is https:// or on loopback",
        ));
    } else {
        out.push(Check::fail(
            "jwks-transport",
            "authorizers",
            format!(
                "discovery over plain http off loopback for {}",
                plain_discovery.join(", ")
            ),
            "use the IdP's https:// discovery URL so signing keys cannot be swapped in transit",
        ));
    }
    // The database is reachable by others only through a directory they may traverse: a 644 file inside a 700
    // directory is private.
    if f.data_dir_mode.is_some_and(|m| m & 0o077 != 0) {
        out.push(Check::fail(
            "credentials",
            "data-dir",
            format!(
                "the data directory ({}, database {}) is open to other users",
                mode(f.data_dir_mode),
                mode(f.db_mode)
            ),
            "chmod 700 the data directory and 600 gatehouse.db (they hold password hashes and signing keys)",
        ));
    } else {
        out.push(Check::pass(
            "credentials",
            "data-dir",
            match (f.data_dir_mode, f.db_mode) {
                (None, _) => "no data directory yet (up creates it with mode 700)".to_string(),
                (d, db) => format!(
                    "data directory {} and database {} are private",
                    mode(d),
                    mode(db)
                ),
            },
        ));
    }
}

/// A SQLite file outside the data directory does not get the directory's 0700: it and its directory must be
/// private themselves (`up` creates and keeps the file 0600; the directory is the operator's).
fn db_outside(f: &Facts, out: &mut Vec<Check>) {
    let Some((path, file, dir)) = &f.db_outside else {
        return;
    };
    let open = |m: &Option<u32>, bits: u32| m.is_some_and(|m| m & bits != 0);
    if open(file, 0o077) || open(dir, 0o022) {
        out.push(Check::fail(
            "credentials",
            "database",
            format!(
                "the database {} is outside the data directory and open to other users (file {}, directory {})",
                path.display(),
                mode(*file),
                mode(*dir)
            ),
            "chmod 600 the database file and make its directory writable by gatehouse's user only (or keep it \
             in the data directory)",
        ));
    } else {
        out.push(Check::pass(
            "credentials",
            "database",
            format!(
                "the database {} is outside the data directory; file {} and directory {} are not open to others",
                path.display(),
                mode(*file),
                mode(*dir)
            ),
        ));
    }
}

fn mode(m: Option<u32>) -> String {
    m.map_or("-".into(), |m| format!("{:o}", m & 0o777))
}

fn keys(f: &Facts, out: &mut Vec<Check>) {
    let Some(keys) = &f.keys else {
        out.push(Check::pass(
            "signing-keys",
            "idp",
            "no database yet: a fresh RSA-2048 key is generated on first start",
        ));
        return;
    };
    let Some(newest) = keys.iter().max_by_key(|k| k.created_at) else {
        out.push(Check::fail(
            "signing-keys",
            "idp",
            "the user pool has no signing key",
            "start `gatehouse up` once on this data directory to generate one",
        ));
        return;
    };
    let age = f.now_unix - newest.created_at;
    let weak: Vec<&str> = keys
        .iter()
        .filter(|k| k.modulus_bits < MIN_RSA_BITS)
        .map(|k| k.kid.as_str())
        .collect();
    if !weak.is_empty() {
        out.push(Check::fail(
            "signing-keys",
            "idp",
            format!(
                "key(s) {} are shorter than {MIN_RSA_BITS} bits",
                weak.join(", ")
            ),
            "rotate to a new RSA-2048 (or longer) key and retire the short ones",
        ));
    } else if age > MAX_KEY_AGE_SECS {
        out.push(Check::fail(
            "signing-keys",
            "idp",
            format!(
                "the newest signing key ({}) is {} days old",
                newest.kid,
                age / 86_400
            ),
            format!(
                "rotate the signing key at least every {} days",
                MAX_KEY_AGE_SECS / 86_400
            ),
        ));
    } else {
        out.push(Check::pass(
            "signing-keys",
            "idp",
            format!(
                "{} key(s), newest {} is {} days old, all ≥ {MIN_RSA_BITS} bits",
                keys.len(),
                newest.kid,
                age.max(0) / 86_400
            ),
        ));
    }
}

fn argon2(f: &Facts, out: &mut Vec<Check>) {
    match &f.argon2 {
        Some(p)
            if p.algorithm == "argon2id"
                && p.memory_kib >= MIN_ARGON2_MEMORY_KIB
                && p.passes >= 2
                && p.lanes >= 1 =>
        {
            out.push(Check::pass(
                "argon2",
                "idp",
                format!(
                    "{} m={} KiB t={} p={}",
                    p.algorithm, p.memory_kib, p.passes, p.lanes
                ),
            ));
        }
        Some(p) => out.push(Check::fail(
            "argon2",
            "idp",
            format!(
                "{} m={} KiB t={} p={}",
                p.algorithm, p.memory_kib, p.passes, p.lanes
            ),
            format!("use argon2id with m ≥ {MIN_ARGON2_MEMORY_KIB} KiB, t ≥ 2, p ≥ 1 (OWASP)"),
        )),
        None => out.push(Check::fail(
            "argon2",
            "idp",
            "the password hasher produced no readable argon2 hash",
            "check the build's password hashing",
        )),
    }
}

fn rate_limits(c: &Config, out: &mut Vec<Check>) {
    // With Redis shared by several instances, what happens while it is away decides whether limits hold at all.
    if let Some(url) = &c.rate_limits.redis_url {
        if c.rate_limits.fail_open {
            out.push(Check::fail(
                "rate-limits",
                "redis",
                format!(
                    "{}: redis_unavailable = \"open\" lifts every limit while Redis is unreachable",
                    redact(url)
                ),
                "set [gateway] redis_unavailable = \"closed\" (the default): 503 until Redis is back",
            ));
        } else {
            out.push(Check::pass(
                "rate-limits",
                "redis",
                format!("{}: shared by every instance, fail closed", redact(url)),
            ));
        }
    }
    if c.runtimes.is_empty() {
        out.push(Check::pass(
            "rate-limits",
            "demo",
            "default limits: 600 requests/min, burst 60, 100 sessions and 20 WebSockets per user",
        ));
    }
    for r in &c.runtimes {
        let l = &r.limits;
        let mut problems = Vec::new();
        if l.requests_per_minute > MAX_SANE_REQUESTS_PER_MINUTE {
            problems.push(format!("requests_per_minute {}", l.requests_per_minute));
        }
        if l.burst > l.requests_per_minute {
            problems.push(format!("burst {} above requests_per_minute", l.burst));
        }
        if l.max_sessions_per_user > 1000 {
            problems.push(format!("max_sessions_per_user {}", l.max_sessions_per_user));
        }
        if l.ws_max_sockets_per_user > 100 {
            problems.push(format!(
                "ws_max_sockets_per_user {}",
                l.ws_max_sockets_per_user
            ));
        }
        if l.max_payload_bytes > 100_000_000 {
            problems.push(format!("max_payload_bytes {}", l.max_payload_bytes));
        }
        if problems.is_empty() {
            out.push(Check::pass(
                "rate-limits",
                r.name.clone(),
                format!(
                    "{} requests/min, burst {}, {} sessions and {} WebSockets per user",
                    l.requests_per_minute,
                    l.burst,
                    l.max_sessions_per_user,
                    l.ws_max_sockets_per_user
                ),
            ));
        } else {
            out.push(Check::fail(
                "rate-limits",
                r.name.clone(),
                format!("effectively unlimited: {}", problems.join(", ")),
                format!(
                    "set [runtime.limits] requests_per_minute ≤ {MAX_SANE_REQUESTS_PER_MINUTE}, burst ≤ it, \
                     sessions ≤ 1000, WebSockets ≤ 100 per user, payload ≤ 100 MB"
                ),
            ));
        }
    }
}

fn upstreams(f: &Facts, c: &Config, out: &mut Vec<Check>) {
    if c.runtimes.is_empty() {
        out.push(Check::pass(
            "upstream",
            "demo",
            "the reference agent listens on 127.0.0.1 (reachable only through gatehouse)",
        ));
    }
    for r in &c.runtimes {
        for (n, url) in &r.versions {
            let subject = format!("{} v{n}", r.name);
            let shown = redact(url);
            let addrs = f
                .upstream_addrs
                .iter()
                .find(|(u, _)| u == url)
                .map(|(_, a)| a.as_slice())
                .unwrap_or(&[]);
            if addrs.is_empty() {
                out.push(Check::fail(
                    "upstream",
                    subject,
                    format!("{shown} does not resolve"),
                    "point upstream at the agent's loopback or private address",
                ));
            } else if let Some(public) = addrs.iter().find(|a| !is_private(**a)) {
                out.push(Check::fail(
                    "upstream",
                    subject,
                    format!("{shown} resolves to the public address {public}: the agent can be called around gatehouse"),
                    "bind the agent to 127.0.0.1 or a private network reachable only by gatehouse",
                ));
            } else {
                out.push(Check::pass(
                    "upstream",
                    subject,
                    format!("{shown} is loopback or private"),
                ));
            }
        }
    }
}

fn live_checks(live: &LiveFacts, out: &mut Vec<Check>) {
    for (url, r) in &live.jwks {
        match r {
            Ok(n) if *n > 0 => out.push(Check::pass(
                "jwks",
                short(url),
                format!("discovery and JWKS reachable, {n} key(s)"),
            )),
            Ok(_) => out.push(Check::fail(
                "jwks",
                short(url),
                "the JWKS has no usable RS256 key",
                "publish the signing key in the IdP's JWKS",
            )),
            Err(e) => out.push(Check::fail(
                "jwks",
                short(url),
                format!("unreachable: {e}"),
                "make the discovery URL and its jwks_uri reachable from gatehouse (tokens fail closed until then)",
            )),
        }
    }
    for (url, r) in &live.anonymous {
        match r {
            Ok(401) => out.push(Check::pass(
                "live-auth",
                short(url),
                "an invocation without a token is refused with 401",
            )),
            Ok(s) => out.push(Check::fail(
                "live-auth",
                short(url),
                format!("an invocation without a token answered {s}"),
                "put gatehouse in front of the runtime and check its authorizer",
            )),
            Err(e) => out.push(Check::fail(
                "live-auth",
                short(url),
                format!("unreachable: {e}"),
                "check the URL and that gatehouse is running",
            )),
        }
    }
    for (url, r) in &live.foreign_preflight {
        match r {
            Ok(None) => out.push(Check::pass(
                "live-cors",
                short(url),
                "a preflight from a foreign origin gets no Access-Control-Allow-Origin",
            )),
            Ok(Some(v)) => out.push(Check::fail(
                "live-cors",
                short(url),
                format!("a preflight from a foreign origin got Access-Control-Allow-Origin: {v}"),
                "allow only your web app's exact origin",
            )),
            Err(e) => out.push(Check::fail(
                "live-cors",
                short(url),
                format!("unreachable: {e}"),
                "check the URL and that gatehouse is running",
            )),
        }
    }
}

fn short(url: &str) -> String {
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
