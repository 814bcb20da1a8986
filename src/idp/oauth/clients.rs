//! Which client a `client_id` names, for every OAuth endpoint (the token endpoint here, `/oauth2/authorize`
//! too): one of the pool's app clients from the store — a dynamically registered one refused, and swept, once
//! unused for [`UNUSED_CLIENT_DAYS`] — or, with `client_id_metadata_documents = "on"`, an `https://` URL
//! resolved through its Client ID Metadata Document into a public client. Must never hand out a client the
//! store does not hold or a document did not describe, nor fetch anything for a client_id that is not an https
//! URL.
use super::client_metadata::Document;
use super::error::OAuthError;
use super::scopes;
use crate::idp::IdpState;
use crate::store::{ClientId, ClientRow, ResourceServerRow};

/// A dynamically registered client nobody obtained a token for in this many days is deleted.
pub const UNUSED_CLIENT_DAYS: i64 = 30;

/// Where a resolved client comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSource {
    /// Created by the operator (`gatehouse client create`, the configuration).
    Registered,
    /// Registered by a third party at `POST /oauth2/register`.
    DynamicallyRegistered,
    /// Described by the metadata document its `client_id` URL names.
    MetadataDocument,
}

/// A client an OAuth endpoint may serve.
#[derive(Debug, Clone)]
pub struct ResolvedClient {
    /// The client's settings: the stored row, or one built from its metadata document (public, `code`).
    pub client: ClientRow,
    pub source: ClientSource,
}

impl ResolvedClient {
    /// Whether the operator did not create it (the consent screen should say so).
    pub fn third_party(&self) -> bool {
        self.source != ClientSource::Registered
    }

    /// Whether `/oauth2/authorize` asks the user to approve it: a third party's client, or one the operator
    /// created with `--consent`.
    pub fn needs_consent(&self) -> bool {
        self.client.consent_required || self.third_party()
    }
}

/// Whether `client_id` has the form of a metadata-document client id.
pub fn is_metadata_client_id(client_id: &str) -> bool {
    client_id.starts_with("https://")
}

/// Whether `client_id` is longer than any client id can be: 128 characters, or a URL's limit for a metadata
/// document's.
pub fn is_too_long(client_id: &str) -> bool {
    let max = if is_metadata_client_id(client_id) {
        super::redirect::MAX_URL_LEN
    } else {
        128
    };
    client_id.len() > max
}

/// The client `client_id` names in the IdP's pool. `InvalidClient` when there is none (or no longer one).
pub async fn resolve(state: &IdpState, client_id: &str) -> Result<ResolvedClient, OAuthError> {
    let unknown = || OAuthError::InvalidClient("client authentication failed".into());
    let stored = state
        .store
        .clients(&state.pool.id)
        .await?
        .into_iter()
        .find(|c| c.id == client_id);
    if let Some(client) = stored {
        if !client.dynamic {
            return Ok(ResolvedClient {
                client,
                source: ClientSource::Registered,
            });
        }
        let now = state.clock.now_unix();
        let cutoff = now - UNUSED_CLIENT_DAYS * 86_400;
        if client.last_used_at.unwrap_or(client.created_at) < cutoff {
            let gone = state
                .store
                .sweep_unused_clients(&state.pool.id, cutoff, now)
                .await?;
            tracing::info!(
                swept = gone.len(),
                "oauth: dynamically registered clients unused for {UNUSED_CLIENT_DAYS} days deleted"
            );
            return Err(unknown());
        }
        return Ok(ResolvedClient {
            client,
            source: ClientSource::DynamicallyRegistered,
        });
    }
    if !state.clients.config().client_id_metadata_documents || !is_metadata_client_id(client_id) {
        return Err(unknown());
    }
    let doc = state.clients.get(client_id).await.map_err(|e| {
        tracing::info!(client_id, error = %e, "oauth: metadata-document client refused");
        OAuthError::InvalidClient(e.to_string())
    })?;
    let servers = state.store.resource_servers(&state.pool.id).await?;
    Ok(ResolvedClient {
        client: document_client(state, &doc, &servers),
        source: ClientSource::MetadataDocument,
    })
}

/// A public `code` client from a document: its redirect URIs, its scopes that the pool knows (or, when it names
/// none, the OpenID scopes and every resource server's), Cognito's default lifetimes.
fn document_client(state: &IdpState, doc: &Document, servers: &[ResourceServerRow]) -> ClientRow {
    let oauth_scopes: Vec<String> = match &doc.scope {
        Some(s) => s
            .split(' ')
            .filter(|s| scopes::is_known(s, servers))
            .map(String::from)
            .collect(),
        // Never the Cognito self-service scope unless the document names it.
        None => scopes::STANDARD_SCOPES
            .iter()
            .filter(|s| **s != "aws.cognito.signin.user.admin")
            .map(|s| s.to_string())
            .chain(servers.iter().flat_map(|s| s.full_scopes()))
            .collect(),
    };
    let host = doc
        .client_id
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.host().map(String::from))
        .unwrap_or_default();
    let auth_flows = if doc.refresh {
        "ALLOW_REFRESH_TOKEN_AUTH"
    } else {
        ""
    };
    ClientRow {
        callback_urls: doc.redirect_uris.join(" ").into(),
        oauth_flows: "code".into(),
        oauth_scopes: oauth_scopes.join(" ").as_str().into(),
        dynamic: true,
        ..ClientRow::new_public(
            ClientId::from(doc.client_id.as_str()),
            state.pool.id.clone(),
            doc.client_name.clone().unwrap_or(host),
            auth_flows.into(),
            state.clock.now_unix(),
        )
    }
}
