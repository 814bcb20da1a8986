//! The store's domain: the rows callers read and write (pools, clients, keys, users, codes, refresh tokens,
//! revocations, session owners) and the outcomes of its atomic operations. Plain data with redacting `Debug`
//! where a row holds a secret; must never know SQL or a backend.
use super::ids::{ClientId, PoolId, Sub};
pub use super::values::{
    AuthFlow, AuthFlows, CodePurpose, OAuthFlow, OAuthFlows, Scopes, UrlList, UserStatus,
};

/// A user pool.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PoolRow {
    pub id: PoolId,
    pub region: String,
    pub created_at: i64,
}

/// An app client of a pool. Public clients have no secret; `Debug` redacts the secret.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClientRow {
    pub id: ClientId,
    pub pool_id: PoolId,
    pub name: String,
    /// Cognito's `ExplicitAuthFlows`.
    #[sqlx(try_from = "String")]
    pub auth_flows: AuthFlows,
    pub created_at: i64,
    /// The client secret (confidential clients); `None` for a public client.
    pub secret: Option<String>,
    /// The scopes put in the access token's `scope` claim.
    #[sqlx(try_from = "String")]
    pub scopes: Scopes,
    /// Access-token lifetime, seconds.
    pub access_validity: i64,
    /// ID-token lifetime, seconds.
    pub id_validity: i64,
    /// Refresh-token lifetime, seconds.
    pub refresh_validity: i64,
    /// Refresh-token rotation (`GetTokensFromRefreshToken` returns a new refresh token each time).
    pub rotation: bool,
    /// `RetryGracePeriodSeconds` (0–60): how long a rotated refresh token still works.
    pub grace_seconds: i64,
    /// Space-separated browser origins allowed to call the IdP for this client (CORS).
    pub allowed_origins: String,
    /// OAuth: the redirect URIs `/oauth2/authorize` accepts (exact match; a loopback one with any port).
    #[sqlx(try_from = "String")]
    pub callback_urls: UrlList,
    /// OAuth: the `logout_uri`s `/logout` redirects to.
    #[sqlx(try_from = "String")]
    pub logout_urls: UrlList,
    /// OAuth: the flows the client may use (`code`, `client_credentials`); empty: none.
    #[sqlx(try_from = "String")]
    pub oauth_flows: OAuthFlows,
    /// OAuth: the scopes the client may be granted (OpenID scopes and resource-server scopes).
    #[sqlx(try_from = "String")]
    pub oauth_scopes: Scopes,
    /// Registered at `/oauth2/register` (RFC 7591): a third party's client, deleted once unused for long.
    pub dynamic: bool,
    /// When a token was last issued to it (recorded at most hourly); `None`: never.
    pub last_used_at: Option<i64>,
    /// When its secret was created; `None` for a public client or one older than this field.
    pub secret_created_at: Option<i64>,
    /// OAuth: a third-party client — `/oauth2/authorize` asks the user to approve what it requests.
    pub consent_required: bool,
}

impl ClientRow {
    /// A public client with Cognito's default lifetimes and no rotation.
    pub fn new_public(
        id: ClientId,
        pool_id: PoolId,
        name: String,
        auth_flows: AuthFlows,
        now: i64,
    ) -> Self {
        Self {
            id,
            pool_id,
            name,
            auth_flows,
            created_at: now,
            secret: None,
            scopes: "aws.cognito.signin.user.admin".into(),
            access_validity: 3600,
            id_validity: 3600,
            refresh_validity: 30 * 24 * 3600,
            rotation: false,
            grace_seconds: 0,
            allowed_origins: String::new(),
            callback_urls: UrlList::default(),
            logout_urls: UrlList::default(),
            oauth_flows: OAuthFlows::default(),
            oauth_scopes: Scopes::default(),
            dynamic: false,
            last_used_at: None,
            secret_created_at: None,
            consent_required: false,
        }
    }
}

impl std::fmt::Debug for ClientRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRow")
            .field("id", &self.id)
            .field("pool_id", &self.pool_id)
            .field("name", &self.name)
            .field("auth_flows", &self.auth_flows)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("rotation", &self.rotation)
            .field("oauth_flows", &self.oauth_flows)
            .field("dynamic", &self.dynamic)
            .finish_non_exhaustive()
    }
}

/// A signing key; `pkcs8` is the private key, so this type's `Debug` redacts it.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyRow {
    pub kid: String,
    pub pool_id: PoolId,
    pub pkcs8: Vec<u8>,
    pub created_at: i64,
}

impl std::fmt::Debug for KeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRow")
            .field("kid", &self.kid)
            .field("pool_id", &self.pool_id)
            .field("pkcs8", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A user of a pool. `password_hash` is an argon2id PHC string.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    pub pool_id: PoolId,
    pub sub: Sub,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    #[sqlx(try_from = "String")]
    pub status: UserStatus,
    pub enabled: bool,
    pub created_at: i64,
    /// SRP-6a salt (hex), derived with the password; `None` for users created before SRP existed.
    pub srp_salt: Option<String>,
    /// SRP-6a verifier `g^x mod N` (hex). Secret.
    pub srp_verifier: Option<String>,
    /// Other attributes: a JSON object of strings (`name`, `custom:*`, …).
    pub attributes: String,
    pub email_verified: bool,
    /// A new e-mail address set by the user, awaiting `VerifyUserAttribute`; `email` stays active until then.
    pub pending_email: Option<String>,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("pool_id", &self.pool_id)
            .field("sub", &self.sub)
            .field("username", &self.username)
            .field("status", &self.status)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// A refresh token, stored by the SHA-256 of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRow {
    pub token_hash: String,
    pub pool_id: PoolId,
    pub client_id: ClientId,
    pub sub: Sub,
    pub origin_jti: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// Shared by every token rotated from one sign-in.
    pub family_id: String,
    /// When this token was exchanged for a successor (rotation).
    pub rotated_at: Option<i64>,
}

/// A new password and what derives from it. `Debug` redacts.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordUpdate {
    pub password_hash: String,
    pub srp_salt: String,
    pub srp_verifier: String,
    /// The user's status afterwards (`CONFIRMED` or `FORCE_CHANGE_PASSWORD`).
    pub status: UserStatus,
}

impl std::fmt::Debug for PasswordUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordUpdate")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A one-time code (sign-up confirmation, password reset), stored by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    pub pool_id: PoolId,
    pub username: String,
    pub purpose: CodePurpose,
    pub code_hash: String,
    pub expires_at: i64,
    pub created_at: i64,
}

/// What a correct code does, in the same transaction that consumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeEffect {
    /// Sign-up confirmation: status `CONFIRMED`, e-mail verified.
    Confirm,
    /// Password reset: the new password; every session of the user is revoked.
    ResetPassword(PasswordUpdate),
    /// E-mail verification: the pending address (if any) becomes the active one, verified.
    VerifyEmail,
}

/// Per-user limits of the code flows (`ForgotPassword`, `ResendConfirmationCode`, their confirmations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePolicy {
    /// The counting window, seconds.
    pub window_secs: i64,
    /// Codes sent to one user within the window.
    pub max_issued: i64,
    /// Wrong codes within the window, across re-issues, before the code flows lock.
    pub max_failures: i64,
    /// How long the code flows stay locked, seconds.
    pub lockout_secs: i64,
}

/// A code presented for a user (`use_code`): whose, for what, its hash, and how many wrong tries end it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeAttempt<'a> {
    pub pool_id: &'a PoolId,
    pub username: &'a str,
    pub purpose: CodePurpose,
    pub code_hash: &'a str,
    pub max_attempts: i64,
}

/// A user's code flows and the limits they are counted against (`count_code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeFlows<'a> {
    pub pool_id: &'a PoolId,
    pub username: &'a str,
    pub policy: CodePolicy,
}

/// What `count_code` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeEvent {
    /// A code was sent to the user.
    Issued,
    /// A wrong code was tried (across re-issues).
    Failed,
}

/// Whether a user's code flows may proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeGate {
    Open,
    /// Too many codes were sent within the window.
    Limited,
    /// Too many wrong codes: every code flow is refused until the lockout ends.
    Locked,
}

/// The outcome of `use_code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The code matched, was consumed, and its effect applied.
    Ok,
    /// Wrong code (one attempt used).
    Mismatch,
    /// The code has expired (or was never sent, or was used).
    Expired,
    /// Too many wrong attempts: the code is gone.
    TooManyAttempts,
}

/// The outcome of `rotate_refresh_token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The successor was stored; here is the token that was presented.
    Rotated(RefreshRow),
    /// Unknown, expired or revoked.
    Invalid,
    /// Presented again after its grace period: the whole family is now revoked.
    Reuse,
}

/// A revocation the gateway applies at its perimeter. A token is revoked if a row has its `origin_jti`; or, for
/// the latest row (highest id) with its `sub`, if the token's `iat <= not_before`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RevocationRow {
    /// Strictly increasing.
    pub id: i64,
    pub pool_id: PoolId,
    pub origin_jti: Option<String>,
    pub sub: Option<Sub>,
    pub not_before: i64,
    pub created_at: i64,
}

/// Who owns a session of a runtime: the issuer and subject of the token that first used it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, sqlx::FromRow)]
pub struct SessionOwner {
    pub issuer: String,
    pub sub: String,
}
