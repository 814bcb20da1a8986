//! The one outbound fetch of the authorization server: a Client ID Metadata Document, GET over https from a host
//! that is checked before it is reached — on the allow-list, resolved once, every address public (no loopback,
//! private, link-local, CGNAT, multicast, unspecified, reserved, IPv6 unique-local or IPv4-mapped address unless
//! private hosts are allowed), and the connection made to the very address that was checked (no second lookup a
//! rebinding DNS server could answer differently). Trusts the system roots plus `SSL_CERT_FILE`. Bounded: one
//! request, no redirect followed, at most [`MAX_DOCUMENT_BYTES`], all within [`FETCH_TIMEOUT`]. Must never
//! follow a redirect, send a credential, or connect to an address it did not check.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};

use crate::config::idp_oauth::IdpOAuthConfig;

/// Largest metadata document accepted.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// Deadline for the whole fetch: resolution, connection, TLS, answer and body.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the system's CA bundle may be, first found wins.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Why a document could not be fetched, said for the client's developer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the client_id must be an https URL with a host and a path, without credentials or fragment")]
    BadUrl,
    #[error("the host {0} is not on this server's metadata_document_hosts allow-list")]
    HostNotAllowed(String),
    #[error("the host {0} does not resolve")]
    Unresolved(String),
    #[error("the host {0} resolves to a loopback, private or otherwise non-public address, which is refused")]
    PrivateAddress(String),
    #[error("the metadata document could not be fetched: {0}")]
    Failed(String),
    #[error("the metadata document answered with a redirect ({0}); redirects are not followed")]
    Redirect(u16),
    #[error("the metadata document answered HTTP {0}")]
    Status(u16),
    #[error("the metadata document is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    #[error("the metadata document did not arrive within {} seconds", FETCH_TIMEOUT.as_secs())]
    Timeout,
}

/// A fetched document and how long it may be cached, as its `Cache-Control: max-age` says (if it does).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub body: Bytes,
    pub max_age: Option<u64>,
}

/// Whether an address is one a metadata document may never be fetched from (unless private hosts are allowed).
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network", 0.0.0.0 included
        || (a == 100 && (b & 0xc0) == 64) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18.0.0/15
        || a >= 240 // reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique-local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64: an IPv4 address in disguise
        || ip.to_ipv4_mapped().is_some() // ::ffff:a.b.c.d
        || (s[..6] == [0; 6]) // IPv4-compatible ::a.b.c.d
}

/// The trusted roots: the system bundle plus `SSL_CERT_FILE` (when given). Unreadable files are logged and
/// skipped; with no root at all every https fetch fails, closed.
pub fn load_roots(ssl_cert_file: Option<&Path>) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    let mut add = |path: &Path| match CertificateDer::pem_file_iter(path) {
        Ok(certs) => {
            let certs: Vec<_> = certs.filter_map(Result::ok).collect();
            let (added, _) = roots.add_parsable_certificates(certs);
            tracing::debug!(path = %path.display(), added, "trusted roots loaded");
        }
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot read CA certificates"),
    };
    if let Some(system) = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.exists()) {
        add(system);
    }
    if let Some(extra) = ssl_cert_file {
        add(extra);
    }
    roots
}

/// The TLS client configuration over `roots` (HTTP/1.1 only).
pub fn tls_config(roots: rustls::RootCertStore) -> Option<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Some(Arc::new(config))
}

/// An https URL's parts: host (IPv6 without brackets), port, path and query.
struct Target {
    host: String,
    port: u16,
    path: String,
}

fn target(url: &str) -> Result<Target, FetchError> {
    if url.len() > super::redirect::MAX_URL_LEN || url.contains('#') {
        return Err(FetchError::BadUrl);
    }
    let uri: http::Uri = url.parse().map_err(|_| FetchError::BadUrl)?;
    let authority = uri.authority().ok_or(FetchError::BadUrl)?;
    if uri.scheme_str() != Some("https") || authority.as_str().contains('@') {
        return Err(FetchError::BadUrl);
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
    if path.is_empty() || path == "/" {
        return Err(FetchError::BadUrl);
    }
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Ok(Target {
        host: host.to_ascii_lowercase(),
        port: authority.port_u16().unwrap_or(443),
        path: path.to_string(),
    })
}

/// The address to connect to: the host's, every one of them checked.
async fn checked_address(t: &Target, config: &IdpOAuthConfig) -> Result<SocketAddr, FetchError> {
    let addrs: Vec<SocketAddr> = match t.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, t.port)],
        Err(_) => tokio::net::lookup_host((t.host.as_str(), t.port))
            .await
            .map_err(|_| FetchError::Unresolved(t.host.clone()))?
            .collect(),
    };
    let first = *addrs
        .first()
        .ok_or_else(|| FetchError::Unresolved(t.host.clone()))?;
    if !config.allow_private_metadata_hosts && addrs.iter().any(|a| is_forbidden(a.ip())) {
        return Err(FetchError::PrivateAddress(t.host.clone()));
    }
    Ok(first)
}

/// Fetches the document at `url` (the client_id itself) under every rule above.
pub async fn fetch(
    url: &str,
    config: &IdpOAuthConfig,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Fetched, FetchError> {
    let t = target(url)?;
    if !config.host_allowed(&t.host) {
        return Err(FetchError::HostNotAllowed(t.host));
    }
    let tls = tls
        .cloned()
        .ok_or_else(|| FetchError::Failed("no TLS configuration".into()))?;
    tokio::time::timeout(FETCH_TIMEOUT, async {
        let addr = checked_address(&t, config).await?;
        get(&t, addr, tls).await
    })
    .await
    .map_err(|_| FetchError::Timeout)?
}

async fn get(
    t: &Target,
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Fetched, FetchError> {
    let failed = |e: &dyn std::fmt::Display| FetchError::Failed(e.to_string());
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| failed(&e))?;
    let name = ServerName::try_from(t.host.clone()).map_err(|_| FetchError::BadUrl)?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| failed(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| failed(&e))?;
    let conn = tokio::spawn(conn);
    let host = if t.port == 443 {
        t.host.clone()
    } else if t.host.contains(':') {
        format!("[{}]:{}", t.host, t.port)
    } else {
        format!("{}:{}", t.host, t.port)
    };
    let req = http::Request::get(t.path.as_str())
        .header(http::header::HOST, host)
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::USER_AGENT, "gatehouse")
        .body(Empty::<Bytes>::new())
        .map_err(|e| failed(&e))?;
    let result = async {
        let resp = sender.send_request(req).await.map_err(|e| failed(&e))?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(FetchError::Redirect(status.as_u16()));
        }
        if status != http::StatusCode::OK {
            return Err(FetchError::Status(status.as_u16()));
        }
        let max_age = max_age(resp.headers());
        let declared = resp
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > MAX_DOCUMENT_BYTES) {
            return Err(FetchError::TooLarge);
        }
        let body = Limited::new(resp.into_body(), MAX_DOCUMENT_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    FetchError::TooLarge
                } else {
                    FetchError::Failed(e.to_string())
                }
            })?
            .to_bytes();
        Ok(Fetched { body, max_age })
    }
    .await;
    conn.abort();
    result
}

/// `Cache-Control: max-age=N` (`no-store` / `no-cache` read as 0).
fn max_age(headers: &http::HeaderMap) -> Option<u64> {
    let v = headers.get(http::header::CACHE_CONTROL)?.to_str().ok()?;
    let mut age = None;
    for d in v.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if d == "no-store" || d == "no-cache" {
            return Some(0);
        }
        if let Some(n) = d.strip_prefix("max-age=") {
            age = n.trim_matches('"').parse().ok();
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses_are_forbidden() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:8.8.8.8",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(is_forbidden(a.parse().unwrap()), "{a}");
        }
        for a in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "100.128.0.1"] {
            assert!(!is_forbidden(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn only_https_urls_with_a_path_are_targets() {
        assert!(target("https://app.example.com/client.json").is_ok());
        assert_eq!(target("https://[::1]:8443/c").unwrap().host, "::1");
        for bad in [
            "http://app.example.com/client.json",
            "https://app.example.com",
            "https://app.example.com/",
            "https://user:pw@app.example.com/c",
            "https://app.example.com/c#frag",
            "app.example.com/c",
        ] {
            assert!(target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_control_max_age_is_read() {
        let mut h = http::HeaderMap::new();
        assert_eq!(max_age(&h), None);
        h.insert("cache-control", "public, max-age=600".parse().unwrap());
        assert_eq!(max_age(&h), Some(600));
        h.insert("cache-control", "no-store".parse().unwrap());
        assert_eq!(max_age(&h), Some(0));
    }
}
