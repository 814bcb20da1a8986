//! Outbound HTTP: one pooled hyper client for the agents and for fetching discovery documents and JWKS
//! (`HttpKeySource`, the gateway's implementation of `token::KeySource`). Plain `http://` only for now.
//! Must never send a client's credentials anywhere but where the header policy allows.
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::token::{FetchError, Fetched, KeySource};

/// The pooled client type shared by the gateway.
pub type HttpClient = Client<HttpConnector, Body>;

/// A client with keep-alive pooling.
pub fn client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .build(connector)
}

/// Largest discovery document or JWKS accepted.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Deadline for fetching one document.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// GETs `url` and returns its body, bounded in size and time.
pub async fn get_document(client: &HttpClient, url: &str) -> Result<Bytes, FetchError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| FetchError(format!("not a URL: {url}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(FetchError(format!(
            "{url}: only http:// discovery URLs are supported by this version"
        )));
    }
    let req = http::Request::get(uri)
        .header("accept", "application/json")
        .body(Body::empty())
        .map_err(|e| FetchError(e.to_string()))?;
    let fut = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| FetchError(format!("{url}: {e}")))?;
        if !resp.status().is_success() {
            return Err(FetchError(format!("{url}: HTTP {}", resp.status())));
        }
        let limited = http_body_util::Limited::new(resp.into_body(), MAX_DOCUMENT_BYTES);
        limited
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|e| FetchError(format!("{url}: {e}")))
    };
    tokio::time::timeout(FETCH_TIMEOUT, fut)
        .await
        .map_err(|_| FetchError(format!("{url}: timed out")))?
}

/// Fetches keys the way any relying party does: the discovery document names the issuer and `jwks_uri`.
pub struct HttpKeySource {
    client: HttpClient,
    discovery_url: String,
}

impl HttpKeySource {
    /// A source for the OIDC provider at `discovery_url`.
    pub fn new(client: HttpClient, discovery_url: String) -> Self {
        Self {
            client,
            discovery_url,
        }
    }
}

#[derive(serde::Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

#[async_trait::async_trait]
impl KeySource for HttpKeySource {
    async fn fetch(&self) -> Result<Fetched, FetchError> {
        let doc = get_document(&self.client, &self.discovery_url).await?;
        let d: Discovery = serde_json::from_slice(&doc).map_err(|e| {
            FetchError(format!(
                "{}: bad discovery document: {e}",
                self.discovery_url
            ))
        })?;
        let jwks = get_document(&self.client, &d.jwks_uri).await?;
        tracing::info!(issuer = %d.issuer, "fetched signing keys");
        Ok(Fetched {
            issuer: d.issuer,
            jwks: jwks.to_vec(),
        })
    }
}
