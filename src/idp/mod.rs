//! The identity provider: a Cognito-compatible user pool. Owns pools and app clients, password hashing, token
//! minting, signing keys, refresh tokens and the Cognito JSON API (`POST /` with `X-Amz-Target`), plus the JWKS
//! and OpenID discovery documents. Must never hand a token or a password to the log.
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::clock::Clock;
use crate::store::{ClientRow, PoolRow, Store};
use crate::token::{JwkSet, RsaSigner};

pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod discovery;
pub mod error;
pub mod mint;
pub mod password;

pub use error::CognitoError;

/// Token lifetimes, Cognito's defaults.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Access token, seconds (default 3600).
    pub access: i64,
    /// ID token, seconds (default 3600).
    pub id: i64,
    /// Refresh token, seconds (default 30 days).
    pub refresh: i64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access: 3600,
            id: 3600,
            refresh: 30 * 24 * 3600,
        }
    }
}

/// Everything the IdP's handlers share.
pub struct IdpState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub pool: PoolRow,
    /// The default public client.
    pub default_client: ClientRow,
    /// `iss` of every token: the IdP's public URL + `/` + pool id.
    pub issuer: String,
    pub signer: Arc<RsaSigner>,
    pub jwks: JwkSet,
    pub lifetimes: Lifetimes,
    /// A valid argon2 hash of a random password, verified against for unknown users so timing does not tell
    /// whether a username exists.
    pub dummy_hash: String,
}

/// The IdP's routes.
pub fn router(state: Arc<IdpState>) -> Router {
    Router::new()
        .route("/", post(api::dispatch))
        .route("/{pool_id}/.well-known/jwks.json", get(discovery::jwks))
        .route(
            "/{pool_id}/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .layer(axum::extract::DefaultBodyLimit::max(api::MAX_BODY_BYTES))
        .with_state(state)
}
