//! Durable state behind one trait, `Store`, over two backends (`sqlite` is the embedded default, `postgres` is
//! for several instances sharing one database). Owns the domain types (`domain`), the statements both backends
//! share, one file per aggregate (`shared`, run through `sql::Conn`), the one `Store` implementation over a
//! `backend::Backend`, and each backend's own locking and migrations. Must never leak SQL dialects to callers or
//! import axum; every method takes time as an argument instead of reading a clock.
use async_trait::async_trait;

pub mod backend;
mod code_limits;
mod database_url;
mod domain;
pub mod files;
mod ids;
mod oauth;
mod open;
pub mod postgres;
mod records;
mod shared;
mod shared_store;
pub mod sql;
pub mod sqlite;
mod values;

pub use domain::{
    AuthFlow, AuthFlows, ClientRow, CodeAttempt, CodeCheck, CodeEffect, CodeEvent, CodeFlows,
    CodeGate, CodePolicy, CodePurpose, CodeRow, KeyRow, OAuthFlow, OAuthFlows, PasswordUpdate,
    PoolRow, RefreshRow, RevocationRow, RotateOutcome, Scopes, SessionOwner, UrlList, UserRow,
    UserStatus,
};
pub use ids::{BadId, ClientId, PoolId, Sub};
pub use oauth::{
    AuthCodeRow, ClientOAuth, GrantRow, RedeemOutcome, ResourceScope, ResourceScopes,
    ResourceServerRow, SsoSessionRow,
};
pub use values::UnknownValue;

pub use database_url::DatabaseUrl;
pub use open::{create_data_dir, open, OpenError};
pub use postgres::PostgresStore;
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
    /// The database cannot be reached (connection refused or lost, pool exhausted, server shutting down):
    /// nothing was written, and retrying later may work. Callers answer 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database failed.
    #[error("database error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            // Class 08: connection exception; 57P01-57P03: the server is shutting down or starting.
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P0")) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Other(e.to_string()),
        }
    }
}

/// Resolves when a store's change signal (`Store::changes`) moves; never, if there is none or it is gone.
pub async fn changed(changes: &mut Option<tokio::sync::watch::Receiver<u64>>) {
    match changes {
        Some(rx) => {
            if rx.changed().await.is_err() {
                *changes = None;
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

/// Durable state of a gatehouse installation.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether the database answers (one trivial query); for readiness probes.
    async fn ping(&self) -> Result<(), StoreError>;

    /// A counter that moves whenever any instance on this database committed a revocation or a signing key
    /// (and after the push channel reconnects, when notifications may have been missed), so that pollers can
    /// read at once instead of at their next tick. `None` when the backend pushes nothing (SQLite): pollers then
    /// rely on their interval alone — they must never rely on this alone either.
    fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// Whether several instances may share this store (PostgreSQL): state that one instance would otherwise keep
    /// in memory between two requests (a sign-in's challenge) must then live in the store.
    fn shared(&self) -> bool {
        false
    }

    // === sign-ins in progress (shared stores only) ===
    /// Stores (or replaces) the state of a sign-in in progress under the SHA-256 of its handle, and drops
    /// expired ones. `payload` may hold an SRP ephemeral secret: short-lived, single use.
    async fn put_pending(
        &self,
        key_hash: &str,
        payload: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Takes (deletes, atomically: at most one caller gets it) a sign-in in progress if it has not expired.
    async fn take_pending(&self, key_hash: &str, now: i64) -> Result<Option<String>, StoreError>;

    // === pools and clients ===
    /// Returns the default pool and its default client, creating `pool` and `client` first if there is none.
    /// Idempotent and safe against concurrent callers: whoever inserts first wins, everyone gets the same rows.
    async fn ensure_default_pool(
        &self,
        pool: PoolRow,
        client: ClientRow,
    ) -> Result<(PoolRow, ClientRow), StoreError>;
    /// Every app client of a pool.
    async fn clients(&self, pool_id: &PoolId) -> Result<Vec<ClientRow>, StoreError>;
    /// Adds an app client.
    async fn create_client(&self, client: ClientRow) -> Result<(), StoreError>;
    /// Replaces an app client's OAuth settings (callback and logout URLs, flows, scopes); `NotFound` if there
    /// is none.
    async fn set_client_oauth(
        &self,
        pool_id: &PoolId,
        client_id: &ClientId,
        settings: &ClientOAuth,
    ) -> Result<(), StoreError>;

    // === signing keys ===
    /// The pool's keys that are not retired, oldest first.
    async fn signing_keys(&self, pool_id: &PoolId) -> Result<Vec<KeyRow>, StoreError>;
    /// Adds a key.
    async fn insert_signing_key(&self, key: KeyRow) -> Result<(), StoreError>;

    // === users ===
    /// Adds a user; `Conflict` if the username is taken in that pool.
    async fn create_user(&self, user: UserRow) -> Result<(), StoreError>;
    /// `SignUp`: adds a user and its confirmation code in one transaction, so a failure leaves neither;
    /// `Conflict` if the username is taken.
    async fn create_user_with_code(&self, user: UserRow, code: CodeRow) -> Result<(), StoreError>;
    /// Looks a user up by username.
    async fn find_user(&self, pool_id: &PoolId, username: &str) -> Result<UserRow, StoreError>;
    /// Looks a user up by `sub`.
    async fn find_user_by_sub(&self, pool_id: &PoolId, sub: &Sub) -> Result<UserRow, StoreError>;
    /// Every user of a pool, by username.
    async fn list_users(&self, pool_id: &PoolId) -> Result<Vec<UserRow>, StoreError>;
    /// Sets a user's password (hash, SRP salt and verifier, status). With `revoke`, in the same transaction:
    /// every refresh token of the user is revoked and a revocation row `sub, not_before = now` is written.
    async fn set_password(
        &self,
        pool_id: &PoolId,
        username: &str,
        update: PasswordUpdate,
        revoke: bool,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Disables or enables a user. Disabling revokes every refresh token and writes `not_before = i64::MAX`;
    /// enabling writes `not_before = now`. One transaction.
    async fn set_user_enabled(
        &self,
        pool_id: &PoolId,
        username: &str,
        enabled: bool,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Deletes a user, its codes and refresh tokens, and writes `not_before = i64::MAX`. One transaction.
    async fn delete_user(
        &self,
        pool_id: &PoolId,
        username: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Replaces a user's e-mail, its verified flag and the other attributes (a JSON object).
    async fn update_user_profile(
        &self,
        pool_id: &PoolId,
        username: &str,
        email: Option<String>,
        email_verified: bool,
        attributes: String,
    ) -> Result<(), StoreError>;
    /// `GlobalSignOut`: revokes every refresh token of `sub` and writes `not_before = now`. One transaction.
    async fn global_sign_out(
        &self,
        pool_id: &PoolId,
        sub: &Sub,
        now: i64,
    ) -> Result<(), StoreError>;

    // === one-time codes ===
    /// Stores a code, replacing any earlier code of the same purpose for that user.
    async fn put_code(&self, row: CodeRow) -> Result<(), StoreError>;
    /// Checks a code atomically: a match is consumed and `effect` applied in the same transaction; a mismatch
    /// counts an attempt, and after `max_attempts` the code is deleted.
    async fn use_code(
        &self,
        attempt: CodeAttempt<'_>,
        effect: CodeEffect,
        now: i64,
    ) -> Result<CodeCheck, StoreError>;

    /// Counts one event of the user's code flows in the policy's window and says whether they may go on.
    /// `Issued` (a code sent): `Limited` beyond `max_issued`, `Locked` during a lockout. `Failed` (a wrong code,
    /// across re-issues): at `max_failures` the flows lock for `lockout_secs` and the user's codes are deleted;
    /// `Locked` if they are now locked.
    async fn count_code(
        &self,
        flows: CodeFlows<'_>,
        event: CodeEvent,
        now: i64,
    ) -> Result<CodeGate, StoreError>;
    /// `Locked` while the user's code flows are locked, else `Open`. Counts nothing.
    async fn code_gate(
        &self,
        pool_id: &PoolId,
        username: &str,
        now: i64,
    ) -> Result<CodeGate, StoreError>;
    /// Sets (or clears) the user's pending e-mail address.
    async fn set_pending_email(
        &self,
        pool_id: &PoolId,
        username: &str,
        pending_email: Option<String>,
    ) -> Result<(), StoreError>;

    // === refresh tokens ===
    /// Stores a new refresh token.
    async fn insert_refresh_token(&self, row: RefreshRow) -> Result<(), StoreError>;
    /// A refresh token by the SHA-256 of its value.
    async fn find_refresh_token(&self, token_hash: &str) -> Result<RefreshRow, StoreError>;
    /// A refresh token and its user in one round trip (the refresh hot path); `None` when there is no such token
    /// or its user is gone — [`Store::find_refresh_token`] tells which.
    async fn find_refresh_token_with_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshRow, UserRow)>, StoreError>;
    /// Rotation, atomically: the first exchange of `old_hash` marks it rotated and stores `successor` (same
    /// family); a repeat within `grace` seconds of that also stores `successor` (concurrent refreshes never log
    /// the user out); a repeat after it revokes the whole family (with revocation rows for every `origin_jti`
    /// of the family) and returns `Reuse`.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        successor: RefreshRow,
        grace: i64,
        now: i64,
    ) -> Result<RotateOutcome, StoreError>;
    /// `RevokeToken`: revokes the family of `token_hash` if it belongs to `client_id`, writing a revocation
    /// row for every `origin_jti` minted from the family. `NotFound` if there is no such token for that client.
    async fn revoke_refresh_family(
        &self,
        token_hash: &str,
        client_id: &ClientId,
        now: i64,
    ) -> Result<(), StoreError>;

    // === revocations ===
    /// Revocation rows with `id > after_id`, ordered by id, at most `limit`.
    async fn revocations_after(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<RevocationRow>, StoreError>;
    /// `not_before` of the latest revocation row for `sub`, if any.
    async fn latest_sub_revocation(
        &self,
        pool_id: &PoolId,
        sub: &Sub,
    ) -> Result<Option<i64>, StoreError>;
    /// Whether a revocation row names `origin_jti`.
    async fn origin_revoked(&self, pool_id: &PoolId, origin_jti: &str) -> Result<bool, StoreError>;

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

    // === which instance runs a session's agent process (several instances on one database) ===
    /// Records `instance` as the one running the session's process unless another is recorded; returns the
    /// instance recorded now (the first claim wins, atomically), `None` if the session is not bound.
    async fn claim_session_instance(
        &self,
        runtime_arn: &str,
        session_id: &str,
        instance: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Clears the record if it is still `instance` (its process stopped).
    async fn release_session_instance(
        &self,
        runtime_arn: &str,
        session_id: &str,
        instance: &str,
    ) -> Result<(), StoreError>;
    /// The instance recorded as running the session's process, if any.
    async fn session_instance(
        &self,
        runtime_arn: &str,
        session_id: &str,
    ) -> Result<Option<String>, StoreError>;

    // === OAuth: clients, resource servers, authorization codes ===
    /// Deletes an app client; every live refresh token it issued is revoked (revocation rows for their
    /// `origin_jti`s) and its authorization codes deleted, in one transaction. `NotFound` if there is none.
    async fn delete_client(
        &self,
        pool_id: &PoolId,
        client_id: &ClientId,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Adds a resource server; `Conflict` if its identifier is taken in that pool.
    async fn create_resource_server(&self, row: ResourceServerRow) -> Result<(), StoreError>;
    /// Every resource server of a pool, by identifier.
    async fn resource_servers(
        &self,
        pool_id: &PoolId,
    ) -> Result<Vec<ResourceServerRow>, StoreError>;
    /// Deletes a resource server; `NotFound` if there is none.
    async fn delete_resource_server(
        &self,
        pool_id: &PoolId,
        identifier: &str,
    ) -> Result<(), StoreError>;
    /// Stores a new authorization code (and drops codes a day past their expiry).
    async fn put_auth_code(&self, row: AuthCodeRow, now: i64) -> Result<(), StoreError>;
    /// An authorization code by the SHA-256 of its value, used or not, expired or not.
    async fn find_auth_code(&self, code_hash: &str) -> Result<Option<AuthCodeRow>, StoreError>;
    /// Redeems a code, atomically: the first redemption of an unexpired code marks it used and stores
    /// `refresh` (if any) with the code's grant (scope, resource) for its family; a later one revokes the
    /// family the first issued and returns `Replayed`; an unknown or expired code is `Invalid`.
    async fn redeem_auth_code(
        &self,
        code_hash: &str,
        refresh: Option<RefreshRow>,
        now: i64,
    ) -> Result<RedeemOutcome, StoreError>;
    /// The grant of a refresh-token family issued by an authorization code, if it was.
    async fn oauth_grant(&self, family_id: &str) -> Result<Option<GrantRow>, StoreError>;

    // === OAuth: clients nobody pre-registered ===
    /// Records that a token was issued to the client now (written only when the last record is over an hour
    /// old). Nothing happens if there is no such client.
    async fn touch_client(
        &self,
        pool_id: &PoolId,
        client_id: &ClientId,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Deletes the pool's dynamically registered clients last used (never used: created) before `cutoff`, as
    /// `delete_client` deletes them (their refresh tokens revoked), in one transaction; their ids. Clients
    /// registered any other way are never touched.
    async fn sweep_unused_clients(
        &self,
        pool_id: &PoolId,
        cutoff: i64,
        now: i64,
    ) -> Result<Vec<ClientId>, StoreError>;
    /// Stores an initial access token for dynamic registration, by the SHA-256 of its value.
    async fn add_registration_token(
        &self,
        pool_id: &PoolId,
        token_hash: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Whether an initial access token with this hash was created for the pool.
    async fn registration_token_exists(
        &self,
        pool_id: &PoolId,
        token_hash: &str,
    ) -> Result<bool, StoreError>;
    // === single sign-on sessions of the hosted page ===
    /// Stores a new SSO session (and drops expired ones).
    async fn put_sso_session(&self, row: SsoSessionRow, now: i64) -> Result<(), StoreError>;
    /// The unexpired SSO session stored under `id_hash`, if any.
    async fn find_sso_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<SsoSessionRow>, StoreError>;
    /// Ends an SSO session (nothing happens if there is none).
    async fn delete_sso_session(&self, id_hash: &str) -> Result<(), StoreError>;
}
