//! Durable state behind one trait, `Store`, with one implementation per backend (`sqlite` is the embedded
//! default). Owns the row types and the backend's SQL and migrations. Must never leak SQL dialects to callers
//! or import axum; every method takes time as an argument instead of reading a clock.
use async_trait::async_trait;

pub mod sqlite;

pub use sqlite::SqliteStore;

/// What can go wrong in a store. Callers match on `NotFound` and `Conflict`; `Other` is an internal failure
/// whose text is logged, never shown to a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated (e.g. the username is taken).
    #[error("already exists")]
    Conflict,
    /// The database failed.
    #[error("database error: {0}")]
    Other(String),
}

/// A user pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRow {
    pub id: String,
    pub region: String,
    pub created_at: i64,
}

/// An app client of a pool. Public clients have no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRow {
    pub id: String,
    pub pool_id: String,
    pub name: String,
    /// Space-separated `ALLOW_*` flags, as Cognito's `ExplicitAuthFlows`.
    pub auth_flows: String,
    pub created_at: i64,
}

/// A signing key; `pkcs8` is the private key, so this type's `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub kid: String,
    pub pool_id: String,
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
#[derive(Clone, PartialEq, Eq)]
pub struct UserRow {
    pub pool_id: String,
    pub sub: String,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub status: String,
    pub enabled: bool,
    pub created_at: i64,
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
    pub pool_id: String,
    pub client_id: String,
    pub sub: String,
    pub origin_jti: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// Who owns a session of a runtime: the issuer and subject of the token that first used it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionOwner {
    pub issuer: String,
    pub sub: String,
}

/// Durable state of a gatehouse installation.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // === pools and clients ===
    /// Returns the default pool and its default client, creating `pool` and `client` first if there is none.
    /// Idempotent and safe against concurrent callers: whoever inserts first wins, everyone gets the same rows.
    async fn ensure_default_pool(
        &self,
        pool: PoolRow,
        client: ClientRow,
    ) -> Result<(PoolRow, ClientRow), StoreError>;
    /// Every app client of a pool.
    async fn clients(&self, pool_id: &str) -> Result<Vec<ClientRow>, StoreError>;

    // === signing keys ===
    /// The pool's keys that are not retired, oldest first.
    async fn signing_keys(&self, pool_id: &str) -> Result<Vec<KeyRow>, StoreError>;
    /// Adds a key.
    async fn insert_signing_key(&self, key: KeyRow) -> Result<(), StoreError>;

    // === users ===
    /// Adds a user; `Conflict` if the username is taken in that pool.
    async fn create_user(&self, user: UserRow) -> Result<(), StoreError>;
    /// Looks a user up by username.
    async fn find_user(&self, pool_id: &str, username: &str) -> Result<UserRow, StoreError>;

    // === refresh tokens ===
    /// Stores a new refresh token.
    async fn insert_refresh_token(&self, row: RefreshRow) -> Result<(), StoreError>;

    // === runtimes and sessions ===
    /// The ARN of runtime `name`, recording `candidate_arn` first if the runtime has none yet.
    async fn ensure_runtime_arn(
        &self,
        name: &str,
        candidate_arn: &str,
        now: i64,
    ) -> Result<String, StoreError>;
    /// Binds a session to `owner` unless it is bound already; returns the owner the session has now.
    /// The first binding wins, atomically.
    async fn bind_session(
        &self,
        runtime_arn: &str,
        session_id: &str,
        owner: &SessionOwner,
        now: i64,
    ) -> Result<SessionOwner, StoreError>;
    /// Who owns a session, if it was ever bound.
    async fn session_owner(
        &self,
        runtime_arn: &str,
        session_id: &str,
    ) -> Result<Option<SessionOwner>, StoreError>;
}
