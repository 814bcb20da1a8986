//! The store's OAuth rows: a client's OAuth settings, resource servers and their scopes, authorization codes (stored by hash, single use,
//! bound to client, redirect URI, PKCE challenge, nonce, scope and resource), the grant behind a refresh-token
//! family, the outcome of redeeming a code, and the hosted page's single sign-on sessions. Plain data; must never know SQL or a backend.
use serde::{Deserialize, Serialize};

use super::ids::{ClientId, PoolId, Sub};
use super::values::{OAuthFlows, Scopes, UrlList};

/// A client's OAuth settings, replaced together (`Store::set_client_oauth`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientOAuth {
    pub callback_urls: UrlList,
    pub logout_urls: UrlList,
    pub oauth_flows: OAuthFlows,
    pub oauth_scopes: Scopes,
}

/// One scope a resource server defines (Cognito's `ResourceServerScopeType`); granted as `identifier/name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceScope {
    pub name: String,
    pub description: String,
}

/// A resource server's scopes, stored as a JSON array.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceScopes(pub Vec<ResourceScope>);

impl TryFrom<String> for ResourceScopes {
    type Error = serde_json::Error;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        serde_json::from_str(&text).map(Self)
    }
}

impl ResourceScopes {
    /// The stored text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".into())
    }
}

/// A resource server of a pool (Cognito's `ResourceServerType`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ResourceServerRow {
    pub pool_id: PoolId,
    /// Its identifier: the prefix of its scopes and, as an RFC 8707 `resource`, the access token's `aud`.
    pub identifier: String,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub scopes: ResourceScopes,
    pub created_at: i64,
}

impl ResourceServerRow {
    /// Every scope it defines, as granted: `identifier/name`.
    pub fn full_scopes(&self) -> impl Iterator<Item = String> + '_ {
        self.scopes
            .0
            .iter()
            .map(|s| format!("{}/{}", self.identifier, s.name))
    }
}

/// An authorization code, stored by the SHA-256 of its value. `Debug` shows no hash, challenge or nonce.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuthCodeRow {
    pub code_hash: String,
    pub pool_id: PoolId,
    pub client_id: ClientId,
    pub sub: Sub,
    /// The `redirect_uri` of the authorization request; the token request must repeat it exactly.
    pub redirect_uri: String,
    /// The PKCE S256 challenge (`None`: the request had none, which only a confidential client may do).
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// The RFC 8707 resource the access token is for.
    pub resource: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    /// When it was redeemed.
    pub used_at: Option<i64>,
    /// The refresh-token family its redemption issued.
    pub family_id: Option<String>,
}

impl std::fmt::Debug for AuthCodeRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCodeRow")
            .field("client_id", &self.client_id)
            .field("sub", &self.sub)
            .field("redirect_uri", &self.redirect_uri)
            .field("scope", &self.scope)
            .field("resource", &self.resource)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .finish_non_exhaustive()
    }
}

/// What an authorization-code grant granted, kept for its refresh-token family: the scope and resource of the
/// tokens a refresh mints.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GrantRow {
    pub family_id: String,
    pub pool_id: PoolId,
    pub client_id: ClientId,
    pub scope: String,
    pub resource: Option<String>,
    pub created_at: i64,
}

/// The outcome of `redeem_auth_code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedeemOutcome {
    /// First redemption: the code is used up and the refresh token (if any) stored with its grant.
    Redeemed(Box<AuthCodeRow>),
    /// Unknown or expired.
    Invalid,
    /// Redeemed before: the refresh-token family that redemption issued is now revoked.
    Replayed,
}

/// A single sign-on session of the hosted sign-in page, stored by the SHA-256 of the secret its cookie holds.
/// `Debug` shows no hash.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SsoSessionRow {
    pub id_hash: String,
    pub pool_id: PoolId,
    pub sub: Sub,
    /// When the user typed the password (the `auth_time` of every code the session issues).
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

impl std::fmt::Debug for SsoSessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoSessionRow")
            .field("sub", &self.sub)
            .field("auth_time", &self.auth_time)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}
