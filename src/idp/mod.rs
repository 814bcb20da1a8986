//! The identity provider: a Cognito-compatible user pool. Owns pools and app clients, password hashing, SRP,
//! token minting, signing keys and rotation, refresh-token families, revocation, sign-up and reset codes (outbox
//! / SMTP), throttling and CORS, and the Cognito JSON API (`POST /` with `X-Amz-Target`), plus the JWKS and
//! OpenID discovery documents. Must never hand a token, a code or a password to the log.
use std::path::Path;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::clock::Clock;
use crate::config::IdpConfig;
use crate::store::{ClientRow, PoolRow, Store};

pub mod account;
pub mod address_limit;
pub mod api;
pub mod attributes;
pub mod auth;
pub mod bootstrap;
pub mod client_auth;
pub mod codes;
pub mod cors;
pub mod discovery;
pub mod error;
pub mod field_caps;
pub mod keys;
pub mod mail;
pub mod mint;
pub mod oauth;
pub mod password;
pub mod pending;
pub mod refresh;
pub mod srp;
pub mod throttle;
pub mod user_api;
pub mod verify_attribute;
pub mod wire;

pub use error::CognitoError;

/// Tunables of the IdP (from `[idp]`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Lifetime of sign-up confirmation codes, seconds (Cognito: 24 h).
    pub confirm_code_lifetime: i64,
    /// Lifetime of password-reset codes, seconds (Cognito: 1 h).
    pub reset_code_lifetime: i64,
    /// Wrong codes allowed before a code is void.
    pub max_code_attempts: i64,
    /// How long an SRP challenge or a `NEW_PASSWORD_REQUIRED` session stays usable, seconds (Cognito: 3 min).
    pub auth_session_lifetime: i64,
    /// How far `TIMESTAMP` of `PASSWORD_VERIFIER` may be from now, seconds.
    pub srp_timestamp_skew: i64,
    /// Per-user limits of the code flows.
    pub code_policy: crate::store::CodePolicy,
    /// How long the hosted page's single sign-on session lasts, seconds.
    pub sso_session_lifetime: i64,
}

/// A configured span in the whole seconds the IdP counts in (the configuration bounds it to days).
fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Settings {
    /// From the checked configuration.
    pub fn from_config(c: &IdpConfig) -> Self {
        Self {
            confirm_code_lifetime: c.code_lifetime.map_or(24 * 3600, secs),
            reset_code_lifetime: c.code_lifetime.map_or(3600, secs),
            max_code_attempts: 5,
            auth_session_lifetime: 180,
            srp_timestamp_skew: 300,
            code_policy: crate::store::CodePolicy {
                window_secs: 3600,
                max_issued: i64::from(c.policy.max_codes_per_user_per_hour),
                max_failures: i64::from(c.policy.max_code_failures_per_hour),
                lockout_secs: secs(c.policy.code_lockout),
            },
            sso_session_lifetime: secs(c.sso_session),
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
    /// The signing keys, reloaded from the store.
    pub keys: keys::KeyRing,
    /// A valid argon2 hash of a random password, verified against for unknown users so timing does not tell
    /// whether a username exists.
    pub dummy_hash: String,
    /// Key for deriving fake SRP salts and verifiers of unknown users.
    pub fake_secret: Vec<u8>,
    pub settings: Settings,
    pub pending: pending::PendingAuths,
    pub throttle: throttle::Throttle,
    /// SRP and argon2 steps per client address.
    pub cpu: address_limit::AddressLimit,
    /// Codes sent per client address.
    pub code_issue: address_limit::AddressLimit,
    /// Sign-up switch, custom attributes, per-client attribute lists.
    pub policy: crate::config::idp_policy::IdpPolicy,
    pub mailer: mail::Mailer,
    pub cors: cors::Origins,
    /// `[idp.oauth]` and the Client ID Metadata Documents fetched under it.
    pub clients: oauth::client_metadata::Documents,
    /// Dynamic registrations per client address.
    pub registrations: address_limit::AddressLimit,
}

impl IdpState {
    /// Wires the IdP: `web_origin` is always an allowed CORS origin; codes go to `<data_dir>/outbox/` unless
    /// SMTP is configured.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        pool: PoolRow,
        default_client: ClientRow,
        issuer: String,
        dummy_hash: String,
        config: &IdpConfig,
        data_dir: &Path,
        web_origin: String,
    ) -> Self {
        // Behind a load balancer the answer to a challenge may reach another instance.
        let pending_auths = if store.shared() {
            pending::PendingAuths::in_store(store.clone())
        } else {
            pending::PendingAuths::default()
        };
        Self {
            keys: keys::KeyRing::new(store.clone(), pool.id.clone(), issuer.clone()),
            cors: cors::Origins::new(store.clone(), pool.id.clone(), web_origin),
            store,
            clock,
            pool,
            default_client,
            issuer,
            dummy_hash,
            fake_secret: crate::util::random_bytes(32),
            settings: Settings::from_config(config),
            pending: pending_auths,
            throttle: throttle::Throttle::new(throttle::Limits {
                max_per_user: config.max_failed_signins_per_user,
                max_per_ip: config.max_failed_signins_per_ip,
                window_secs: secs(config.failed_signin_window),
            }),
            cpu: address_limit::AddressLimit::cpu_heavy(
                config.policy.max_cpu_heavy_per_ip_per_minute,
            ),
            code_issue: address_limit::AddressLimit::new(
                config.policy.max_codes_per_ip_per_hour,
                3600,
                || CognitoError::LimitExceeded,
            ),
            policy: config.policy.clone(),
            mailer: mail::Mailer::new(data_dir.join("outbox"), config.smtp.clone()),
            clients: oauth::client_metadata::Documents::new(
                config.oauth.clone(),
                crate::config::env::EnvSource::get(
                    &crate::config::env::ProcessEnv,
                    crate::config::env::ENV_SSL_CERT_FILE,
                )
                .map(std::path::PathBuf::from)
                .as_deref(),
            ),
            registrations: address_limit::AddressLimit::new(
                oauth::register::REGISTRATIONS_PER_IP_PER_HOUR,
                3600,
                || CognitoError::LimitExceeded,
            ),
        }
    }
}

/// The IdP's routes. CORS is the outermost layer so that every answer, errors included, carries its headers.
pub fn router(state: Arc<IdpState>) -> Router {
    Router::new()
        .route("/", post(api::dispatch))
        .route("/oauth2/authorize", get(oauth::authorize::authorize))
        .route("/login", post(oauth::signin::login))
        .route("/oauth2/consent", post(oauth::signin::consent))
        .route("/changePassword", post(oauth::new_password::change))
        .route(
            "/signup",
            get(oauth::account_pages::signup_page).post(oauth::account_pages::signup),
        )
        .route(
            "/confirm",
            get(oauth::account_pages::confirm_page).post(oauth::account_pages::confirm),
        )
        .route(
            "/forgotPassword",
            get(oauth::account_pages::forgot_page).post(oauth::account_pages::forgot),
        )
        .route("/confirmForgotPassword", post(oauth::account_pages::reset))
        .route("/oauth2/hosted.css", get(oauth::page::stylesheet))
        .route("/oauth2/token", post(oauth::token::token))
        .route("/oauth2/revoke", post(oauth::revoke::revoke))
        .route("/oauth2/register", post(oauth::register::register))
        .route("/logout", get(oauth::logout::logout))
        .route(
            "/oauth2/userInfo",
            get(oauth::userinfo::userinfo).post(oauth::userinfo::userinfo),
        )
        .route(
            "/.well-known/oauth-authorization-server/{pool_id}",
            get(discovery::authorization_server),
        )
        .route(
            "/{pool_id}/.well-known/oauth-authorization-server",
            get(discovery::authorization_server),
        )
        .route("/{pool_id}/.well-known/jwks.json", get(discovery::jwks))
        .route(
            "/{pool_id}/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .layer(axum::extract::DefaultBodyLimit::max(api::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cors::layer,
        ))
        .with_state(state)
}
