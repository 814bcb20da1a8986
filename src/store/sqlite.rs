//! The embedded SQLite backend: one file in the data directory, WAL, foreign keys, a busy timeout so that
//! `gatehouse user create` can write while `up` runs, and the migrations under `migrations/sqlite`.
//! Owns its SQL; must never be reached from a request handler except through the `Store` trait.
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::{ClientRow, KeyRow, PoolRow, RefreshRow, SessionOwner, Store, StoreError, UserRow};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "gatehouse.db";

/// A SQLite-backed `Store`.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Other(e.to_string()),
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/gatehouse.db` and runs pending migrations.
    pub async fn open_in(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_file(&data_dir.join(DB_FILE)).await
    }

    /// Opens (creating if needed) the database file at `path` and runs pending migrations.
    pub async fn open_file(path: &Path) -> Result<Self, StoreError> {
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

fn pool_row(r: &sqlx::sqlite::SqliteRow) -> Result<PoolRow, sqlx::Error> {
    Ok(PoolRow {
        id: r.try_get("id")?,
        region: r.try_get("region")?,
        created_at: r.try_get("created_at")?,
    })
}

fn client_row(r: &sqlx::sqlite::SqliteRow) -> Result<ClientRow, sqlx::Error> {
    Ok(ClientRow {
        id: r.try_get("id")?,
        pool_id: r.try_get("pool_id")?,
        name: r.try_get("name")?,
        auth_flows: r.try_get("auth_flows")?,
        created_at: r.try_get("created_at")?,
    })
}

fn user_row(r: &sqlx::sqlite::SqliteRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        pool_id: r.try_get("pool_id")?,
        sub: r.try_get("sub")?,
        username: r.try_get("username")?,
        email: r.try_get("email")?,
        password_hash: r.try_get("password_hash")?,
        status: r.try_get("status")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        created_at: r.try_get("created_at")?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn ensure_default_pool(
        &self,
        pool: PoolRow,
        client: ClientRow,
    ) -> Result<(PoolRow, ClientRow), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO user_pools (id, region, slot, created_at) VALUES (?, ?, 1, ?) \
             ON CONFLICT(slot) DO NOTHING",
        )
        .bind(&pool.id)
        .bind(&pool.region)
        .bind(pool.created_at)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT id, region, created_at FROM user_pools WHERE slot = 1")
            .fetch_one(&mut *tx)
            .await?;
        let pool = pool_row(&row)?;
        sqlx::query(
            "INSERT INTO app_clients (id, pool_id, name, slot, auth_flows, created_at) \
             VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT(pool_id, slot) DO NOTHING",
        )
        .bind(&client.id)
        .bind(&pool.id)
        .bind(&client.name)
        .bind(&client.auth_flows)
        .bind(client.created_at)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "SELECT id, pool_id, name, auth_flows, created_at FROM app_clients \
             WHERE pool_id = ? AND slot = 1",
        )
        .bind(&pool.id)
        .fetch_one(&mut *tx)
        .await?;
        let client = client_row(&row)?;
        tx.commit().await?;
        Ok((pool, client))
    }

    async fn clients(&self, pool_id: &str) -> Result<Vec<ClientRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, pool_id, name, auth_flows, created_at FROM app_clients WHERE pool_id = ? \
             ORDER BY created_at, id",
        )
        .bind(pool_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(client_row).collect::<Result<_, _>>()?)
    }

    async fn signing_keys(&self, pool_id: &str) -> Result<Vec<KeyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, pool_id, pkcs8, created_at FROM signing_keys \
             WHERE pool_id = ? AND retired_at IS NULL ORDER BY created_at, kid",
        )
        .bind(pool_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KeyRow {
                    kid: r.try_get("kid")?,
                    pool_id: r.try_get("pool_id")?,
                    pkcs8: r.try_get("pkcs8")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    #[tracing::instrument(skip_all, fields(kid = %key.kid))]
    async fn insert_signing_key(&self, key: KeyRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, pool_id, pkcs8, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&key.kid)
        .bind(&key.pool_id)
        .bind(&key.pkcs8)
        .bind(key.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(username = %user.username))]
    async fn create_user(&self, user: UserRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (pool_id, sub, username, email, password_hash, status, enabled, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&user.pool_id)
        .bind(&user.sub)
        .bind(&user.username)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(&user.status)
        .bind(i64::from(user.enabled))
        .bind(user.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_user(&self, pool_id: &str, username: &str) -> Result<UserRow, StoreError> {
        let row = sqlx::query(
            "SELECT pool_id, sub, username, email, password_hash, status, enabled, created_at \
             FROM users WHERE pool_id = ? AND username = ?",
        )
        .bind(pool_id)
        .bind(username)
        .fetch_one(&self.pool)
        .await?;
        Ok(user_row(&row)?)
    }

    async fn insert_refresh_token(&self, row: RefreshRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, pool_id, client_id, sub, origin_jti, auth_time, \
             created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&row.token_hash)
        .bind(&row.pool_id)
        .bind(&row.client_id)
        .bind(&row.sub)
        .bind(&row.origin_jti)
        .bind(row.auth_time)
        .bind(row.created_at)
        .bind(row.expires_at)
        .bind(row.revoked_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn ensure_runtime_arn(
        &self,
        name: &str,
        candidate_arn: &str,
        now: i64,
    ) -> Result<String, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO runtimes (name, arn, created_at) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate_arn)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let arn: String = sqlx::query_scalar("SELECT arn FROM runtimes WHERE name = ?")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(arn)
    }

    #[tracing::instrument(skip_all)]
    async fn bind_session(
        &self,
        runtime_arn: &str,
        session_id: &str,
        owner: &SessionOwner,
        now: i64,
    ) -> Result<SessionOwner, StoreError> {
        // One statement: the insert either creates the binding or leaves the existing one, and RETURNING is
        // not used so that the read below sees whichever binding won.
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO session_bindings (runtime_arn, session_id, issuer, sub, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT(runtime_arn, session_id) DO NOTHING",
        )
        .bind(runtime_arn)
        .bind(session_id)
        .bind(&owner.issuer)
        .bind(&owner.sub)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "SELECT issuer, sub FROM session_bindings WHERE runtime_arn = ? AND session_id = ?",
        )
        .bind(runtime_arn)
        .bind(session_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(SessionOwner {
            issuer: row.try_get("issuer")?,
            sub: row.try_get("sub")?,
        })
    }

    async fn session_owner(
        &self,
        runtime_arn: &str,
        session_id: &str,
    ) -> Result<Option<SessionOwner>, StoreError> {
        let row = sqlx::query(
            "SELECT issuer, sub FROM session_bindings WHERE runtime_arn = ? AND session_id = ?",
        )
        .bind(runtime_arn)
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SessionOwner {
                issuer: r.try_get("issuer")?,
                sub: r.try_get("sub")?,
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| StoreError::from(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open_in(dir.path()).await.unwrap();
        (dir, s)
    }

    fn pool(id: &str) -> PoolRow {
        PoolRow {
            id: id.into(),
            region: "us-east-1".into(),
            created_at: 1,
        }
    }
    fn client(id: &str) -> ClientRow {
        ClientRow {
            id: id.into(),
            pool_id: String::new(),
            name: "web".into(),
            auth_flows: "ALLOW_USER_PASSWORD_AUTH".into(),
            created_at: 1,
        }
    }

    #[tokio::test]
    async fn default_pool_is_created_once_and_kept() {
        let (dir, s) = store().await;
        let (p1, c1) = s
            .ensure_default_pool(pool("us-east-1_AAAAAAAAA"), client("c1"))
            .await
            .unwrap();
        let (p2, c2) = s
            .ensure_default_pool(pool("us-east-1_BBBBBBBBB"), client("c2"))
            .await
            .unwrap();
        assert_eq!(p1, p2);
        assert_eq!(c1, c2);
        assert_eq!(p1.id, "us-east-1_AAAAAAAAA");
        drop(s);
        let s = SqliteStore::open_in(dir.path()).await.unwrap();
        let (p3, _) = s
            .ensure_default_pool(pool("us-east-1_CCCCCCCCC"), client("c3"))
            .await
            .unwrap();
        assert_eq!(p3.id, p1.id, "a reopened database keeps its pool");
    }

    #[tokio::test]
    async fn duplicate_username_is_a_conflict() {
        let (_d, s) = store().await;
        let (p, _) = s
            .ensure_default_pool(pool("us-east-1_AAAAAAAAA"), client("c1"))
            .await
            .unwrap();
        let u = UserRow {
            pool_id: p.id.clone(),
            sub: "s1".into(),
            username: "alice".into(),
            email: None,
            password_hash: "h".into(),
            status: "CONFIRMED".into(),
            enabled: true,
            created_at: 1,
        };
        s.create_user(u.clone()).await.unwrap();
        let again = s
            .create_user(UserRow {
                sub: "s2".into(),
                ..u
            })
            .await;
        assert!(matches!(again, Err(StoreError::Conflict)));
        assert!(matches!(
            s.find_user(&p.id, "bob").await,
            Err(StoreError::NotFound)
        ));
    }

    #[tokio::test]
    async fn first_session_binding_wins() {
        let (_d, s) = store().await;
        let a = SessionOwner {
            issuer: "i".into(),
            sub: "alice".into(),
        };
        let b = SessionOwner {
            issuer: "i".into(),
            sub: "bob".into(),
        };
        assert_eq!(s.bind_session("arn", "sess", &a, 1).await.unwrap(), a);
        assert_eq!(s.bind_session("arn", "sess", &b, 2).await.unwrap(), a);
        assert_eq!(
            s.bind_session("arn2", "sess", &b, 2).await.unwrap(),
            b,
            "bindings are per runtime"
        );
    }

    #[tokio::test]
    async fn runtime_arn_is_stable() {
        let (_d, s) = store().await;
        let a = s.ensure_runtime_arn("demo", "arn:1", 1).await.unwrap();
        let b = s.ensure_runtime_arn("demo", "arn:2", 2).await.unwrap();
        assert_eq!(a, "arn:1");
        assert_eq!(b, "arn:1");
    }
}
