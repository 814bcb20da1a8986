//! The embedded SQLite backend: one file in the data directory, WAL, foreign keys, a busy timeout so that
//! `gatehouse user create` can write while `up` runs, and the migrations under `migrations/sqlite`.
//! Owns its SQL; must never be reached from a request handler except through the `Store` trait.
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};

use super::backend::{Backend, NewRevocation};
use super::shared::{revocations, users};
use super::sql::{args, Conn};
use super::StoreError;
use crate::store::ids::{PoolId, Sub};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "gatehouse.db";

/// A SQLite-backed `Store`.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/gatehouse.db` and runs pending migrations.
    pub async fn open_in(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_file(&data_dir.join(DB_FILE)).await
    }

    /// Opens (creating if needed) the database file at `path` and runs pending migrations.
    pub async fn open_file(path: &Path) -> Result<Self, StoreError> {
        private_file(path)?;
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(opts, 8).await
    }

    /// Opens a database from a `sqlite:` URL (`sqlite::memory:` gets a single connection).
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        if let Some(path) = super::files::sqlite_url_path(url) {
            private_file(&path)?;
        }
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let max = if url.contains(":memory:") { 1 } else { 8 };
        Self::connect(opts, max).await
    }

    async fn connect(opts: SqliteConnectOptions, max: u32) -> Result<Self, StoreError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(opts)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))?;
        Ok(Self { pool })
    }
}

/// The database file is created 0600 (or tightened to it) before SQLite opens it.
fn private_file(path: &Path) -> Result<(), StoreError> {
    match crate::store::files::private_db_file(path) {
        Ok(true) => {
            tracing::warn!(path = %path.display(), "the database file was open to other users; now mode 600");
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(e) => Err(StoreError::Other(format!(
            "database file {}: {e}",
            path.display()
        ))),
    }
}

/// SQLite has one writer at a time: a transaction that will write takes the write lock with its first
/// statement, a write, before it reads anything (in WAL mode a transaction that reads and then writes fails
/// when another writer committed in between). Revocation rows are plain inserts: ids are assigned, and
/// become visible, in commit order.
#[async_trait]
impl Backend for SqliteStore {
    type Db = sqlx::Sqlite;
    type Conn = SqliteConnection;

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn lock_username(
        c: &mut SqliteConnection,
        pool_id: &PoolId,
        username: &str,
    ) -> Result<Sub, StoreError> {
        let n = c
            .exec(
                "UPDATE users SET enabled = enabled WHERE pool_id = $1 AND username = $2",
                args![pool_id, username],
            )
            .await?;
        users::found(n)?;
        users::sub_of(c, pool_id, username)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn lock_sub(_c: &mut SqliteConnection, _sub: &Sub) -> Result<(), sqlx::Error> {
        // The first statement after this one is a write.
        Ok(())
    }

    async fn lock_token(c: &mut SqliteConnection, token_hash: &str) -> Result<bool, sqlx::Error> {
        let n = c
            .exec(
                "UPDATE refresh_tokens SET revoked_at = revoked_at WHERE token_hash = $1",
                args![token_hash],
            )
            .await?;
        Ok(n == 1)
    }

    async fn add_revocations(
        c: &mut SqliteConnection,
        pool_id: &PoolId,
        rows: &[NewRevocation<'_>],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        for row in rows {
            revocations::insert_row(c, pool_id, *row, now).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
