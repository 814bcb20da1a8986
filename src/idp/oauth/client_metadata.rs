//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, as MCP uses them): a `client_id`
//! that is an https URL names a JSON document, fetched by `fetch`, whose `client_id` must be that URL, with its
//! `redirect_uris` (https, or http on loopback; no fragment, no wildcard), an optional `client_name`, `scope`,
//! `grant_types` and `response_types`, and no shared secret (`token_endpoint_auth_method` `none`; a
//! `private_key_jwt` client is refused as unsupported). Documents are cached per URL for their
//! `Cache-Control: max-age`, within [`MIN_TTL_SECS`]..[`MAX_TTL_SECS`]. Must never accept a document that names
//! another client_id, holds a secret, or asks for a grant a public client may not have.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::fetch::{self, FetchError};
use super::redirect::validate_third_party;
use crate::config::idp_oauth::IdpOAuthConfig;

/// Shortest time a fetched document is kept (even `no-store`: one fetch per URL per this long at most).
pub const MIN_TTL_SECS: u64 = 60;
/// Longest.
pub const MAX_TTL_SECS: u64 = 24 * 3600;
/// Without `Cache-Control: max-age`.
pub const DEFAULT_TTL_SECS: u64 = 300;
/// Most documents cached at once.
const MAX_CACHED: usize = 1000;

/// A checked metadata document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub client_id: String,
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    /// Space-separated; `None`: not given.
    pub scope: Option<String>,
    /// Whether `refresh_token` is among its `grant_types` (or they were not given).
    pub refresh: bool,
}

/// Why a `client_id` URL does not name a usable client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("{0}")]
    Fetch(#[from] FetchError),
    #[error("the metadata document is not a JSON object of client metadata: {0}")]
    NotJson(String),
    #[error("the metadata document's client_id ({0}) differs from the URL it was fetched from")]
    ClientIdMismatch(String),
    #[error("the metadata document is refused: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
struct RawDocument {
    client_id: Option<String>,
    client_name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: Option<String>,
    scope: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_secret: Option<serde_json::Value>,
    jwks: Option<serde_json::Value>,
    jwks_uri: Option<serde_json::Value>,
}

/// Checks a fetched document against the URL it came from.
pub fn check(url: &str, body: &[u8]) -> Result<Document, DocumentError> {
    let raw: RawDocument =
        serde_json::from_slice(body).map_err(|e| DocumentError::NotJson(e.to_string()))?;
    let invalid = |m: &str| Err(DocumentError::Invalid(m.to_string()));
    match raw.client_id.as_deref() {
        Some(id) if id == url => {}
        Some(id) => {
            let shown: String = id.chars().take(200).collect();
            return Err(DocumentError::ClientIdMismatch(shown));
        }
        None => return invalid("it has no client_id"),
    }
    match raw.token_endpoint_auth_method.as_deref() {
        None | Some("none") => {}
        Some("private_key_jwt") => {
            return invalid(
                "token_endpoint_auth_method private_key_jwt is not supported here; a metadata-document client \
                 is a public client (none) and proves possession with PKCE",
            )
        }
        Some(_) => {
            return invalid(
                "a metadata-document client cannot use a shared secret; token_endpoint_auth_method must be none",
            )
        }
    }
    if raw.client_secret.is_some() || raw.jwks.is_some() || raw.jwks_uri.is_some() {
        return invalid("a metadata document must not carry a client_secret or keys");
    }
    if raw.redirect_uris.is_empty() || raw.redirect_uris.len() > 20 {
        return invalid("redirect_uris must list 1 to 20 URLs");
    }
    for u in &raw.redirect_uris {
        validate_third_party(u).map_err(|e| DocumentError::Invalid(format!("redirect_uri {e}")))?;
    }
    let grants = raw
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".into()]);
    if let Some(g) = grants
        .iter()
        .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return Err(DocumentError::Invalid(format!(
            "grant_type {g} is not available to a public client; use authorization_code and refresh_token"
        )));
    }
    if let Some(r) = raw.response_types.iter().flatten().find(|r| *r != "code") {
        return Err(DocumentError::Invalid(format!(
            "response_type {r} is not supported; use code"
        )));
    }
    let name_ok = |n: &String| n.chars().count() <= 128 && !n.chars().any(char::is_control);
    if raw.client_name.as_ref().is_some_and(|n| !name_ok(n)) {
        return invalid("client_name must be at most 128 characters, without control characters");
    }
    Ok(Document {
        client_id: url.to_string(),
        client_name: raw.client_name.filter(|n| !n.trim().is_empty()),
        redirect_uris: raw.redirect_uris,
        scope: raw.scope.filter(|s| !s.trim().is_empty()),
        refresh: grants.iter().any(|g| g == "refresh_token"),
    })
}

/// The TTL a document is cached for.
pub fn ttl(max_age: Option<u64>) -> Duration {
    Duration::from_secs(
        max_age
            .unwrap_or(DEFAULT_TTL_SECS)
            .clamp(MIN_TTL_SECS, MAX_TTL_SECS),
    )
}

/// Fetches and caches documents.
pub struct Documents {
    config: IdpOAuthConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    cache: Mutex<HashMap<String, (Instant, Arc<Document>)>>,
}

impl Documents {
    /// A resolver under `config`, trusting the system roots plus `ssl_cert_file`. Reads no file unless metadata
    /// documents are on.
    pub fn new(config: IdpOAuthConfig, ssl_cert_file: Option<&std::path::Path>) -> Self {
        let tls = config
            .client_id_metadata_documents
            .then(|| fetch::tls_config(fetch::load_roots(ssl_cert_file)))
            .flatten();
        Self {
            config,
            tls,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration it resolves under.
    pub fn config(&self) -> &IdpOAuthConfig {
        &self.config
    }

    /// The document `url` names: from the cache, or fetched and checked.
    pub async fn get(&self, url: &str) -> Result<Arc<Document>, DocumentError> {
        let now = Instant::now();
        if let Ok(cache) = self.cache.lock() {
            if let Some((until, doc)) = cache.get(url) {
                if *until > now {
                    return Ok(doc.clone());
                }
            }
        }
        let fetched = fetch::fetch(url, &self.config, self.tls.as_ref()).await?;
        let doc = Arc::new(check(url, &fetched.body)?);
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, (until, _)| *until > now);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(url.to_string(), (now + ttl(fetched.max_age), doc.clone()));
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://app.example.com/client.json";

    #[test]
    fn a_document_must_name_its_own_url_and_hold_no_secret() {
        let ok =
            format!(r#"{{"client_id":"{URL}","redirect_uris":["https://app.example.com/cb"]}}"#);
        let doc = check(URL, ok.as_bytes()).unwrap();
        assert_eq!(doc.redirect_uris, ["https://app.example.com/cb"]);
        let other =
            r#"{"client_id":"https://evil.example/c","redirect_uris":["https://a.example/cb"]}"#;
        assert!(matches!(
            check(URL, other.as_bytes()),
            Err(DocumentError::ClientIdMismatch(_))
        ));
        for bad in [
            r#""token_endpoint_auth_method":"private_key_jwt""#,
            r#""token_endpoint_auth_method":"client_secret_basic""#,
            r#""client_secret":"x""#,
            r#""grant_types":["client_credentials"]"#,
            r#""response_types":["token"]"#,
        ] {
            let body = format!(
                r#"{{"client_id":"{URL}","redirect_uris":["https://app.example.com/cb"],{bad}}}"#
            );
            assert!(check(URL, body.as_bytes()).is_err(), "{bad}");
        }
        for uri in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#x",
            "https://*.example.com/cb",
        ] {
            let body = format!(r#"{{"client_id":"{URL}","redirect_uris":["{uri}"]}}"#);
            assert!(check(URL, body.as_bytes()).is_err(), "{uri}");
        }
    }

    #[test]
    fn the_ttl_is_max_age_within_bounds() {
        assert_eq!(ttl(None), Duration::from_secs(DEFAULT_TTL_SECS));
        assert_eq!(ttl(Some(0)), Duration::from_secs(MIN_TTL_SECS));
        assert_eq!(ttl(Some(900)), Duration::from_secs(900));
        assert_eq!(ttl(Some(u64::MAX)), Duration::from_secs(MAX_TTL_SECS));
    }
}
