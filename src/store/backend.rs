//! What a database backend provides — its pool, how it serialises the writers of one user and of one refresh
//! token, how it writes revocation rows, whether it announces changes. The one `Store` implementation every
//! backend shares, given these, is `store::shared_store`. Must never hold SQL itself.
use async_trait::async_trait;

use super::sql::Conn;
use super::StoreError;
use crate::store::ids::{PoolId, Sub};

/// A revocation row to write: `(origin_jti, sub, not_before)`.
pub type NewRevocation<'a> = (Option<&'a str>, Option<&'a Sub>, i64);

/// A database backend. Its `Store` implementation is the blanket one in `store::shared_store`.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The sqlx database.
    type Db: sqlx::Database<Connection = Self::Conn>;
    /// Its connection type.
    type Conn: Conn + sqlx::Connection<Database = Self::Db>;

    /// The connection pool.
    fn pool(&self) -> &sqlx::Pool<Self::Db>;

    /// As `Store::changes`.
    fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// As `Store::shared`.
    fn shared(&self) -> bool {
        false
    }

    /// Serialises the transactions that change the user's password, flag, codes, refresh tokens or
    /// revocations, before the transaction reads anything; returns the user's `sub`, `NotFound` if there is no
    /// such user.
    async fn lock_username(
        c: &mut Self::Conn,
        pool_id: &PoolId,
        username: &str,
    ) -> Result<Sub, StoreError>;

    /// The same for a user known by `sub` (it may no longer exist).
    async fn lock_sub(c: &mut Self::Conn, sub: &Sub) -> Result<(), sqlx::Error>;

    /// The same for the user of a refresh token; `false` if there is no such token.
    async fn lock_token(c: &mut Self::Conn, token_hash: &str) -> Result<bool, sqlx::Error>;

    /// Inserts revocation rows, as the transaction's last statements.
    async fn add_revocations(
        c: &mut Self::Conn,
        pool_id: &PoolId,
        rows: &[NewRevocation<'_>],
        now: i64,
    ) -> Result<(), sqlx::Error>;

    /// Announces a new signing key to the other instances when the transaction commits.
    async fn announce_key(_c: &mut Self::Conn) -> Result<(), sqlx::Error> {
        Ok(())
    }
}
