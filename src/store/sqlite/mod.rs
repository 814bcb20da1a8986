//! The embedded SQLite backend: one file in the data directory, WAL, foreign keys, a busy timeout so that
//! `gatehouse user create` can write while `up` runs, and the migrations under `migrations/sqlite`.
//! Owns its SQL; must never be reached from a request handler except through the `Store` trait.
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::{
    ClientRow, CodeCheck, CodeEffect, CodeGate, CodePolicy, CodeRow, KeyRow, PasswordUpdate,
    PoolRow, RefreshRow, RevocationRow, RotateOutcome, SessionOwner, Store, StoreError, UserRow,
};

const CLIENT_COLS: &str =
    "id, pool_id, name, auth_flows, created_at, secret, scopes, access_validity, \
     id_validity, refresh_validity, rotation, grace_seconds, allowed_origins";
const USER_COLS: &str =
    "pool_id, sub, username, email, password_hash, status, enabled, created_at, \
     srp_salt, srp_verifier, attributes, email_verified, pending_email";
const REFRESH_COLS: &str =
    "token_hash, pool_id, client_id, sub, origin_jti, auth_time, created_at, \
     expires_at, revoked_at, family_id, rotated_at";

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

mod sql;
use sql::*;

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

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
            "INSERT INTO app_clients (id, pool_id, name, slot, auth_flows, created_at, allowed_origins) \
             VALUES (?, ?, ?, 1, ?, ?, ?) ON CONFLICT(pool_id, slot) DO NOTHING",
        )
        .bind(&client.id)
        .bind(&pool.id)
        .bind(&client.name)
        .bind(&client.auth_flows)
        .bind(client.created_at)
        .bind(&client.allowed_origins)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLS} FROM app_clients WHERE pool_id = ? AND slot = 1"
        ))
        .bind(&pool.id)
        .fetch_one(&mut *tx)
        .await?;
        let client = client_row(&row)?;
        tx.commit().await?;
        Ok((pool, client))
    }

    async fn clients(&self, pool_id: &str) -> Result<Vec<ClientRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLS} FROM app_clients WHERE pool_id = ? ORDER BY created_at, id"
        ))
        .bind(pool_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(client_row).collect::<Result<_, _>>()?)
    }

    #[tracing::instrument(skip_all, fields(client_id = %c.id))]
    async fn create_client(&self, c: ClientRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO app_clients (id, pool_id, name, auth_flows, created_at, secret, scopes, \
             access_validity, id_validity, refresh_validity, rotation, grace_seconds, allowed_origins) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.id)
        .bind(&c.pool_id)
        .bind(&c.name)
        .bind(&c.auth_flows)
        .bind(c.created_at)
        .bind(&c.secret)
        .bind(&c.scopes)
        .bind(c.access_validity)
        .bind(c.id_validity)
        .bind(c.refresh_validity)
        .bind(i64::from(c.rotation))
        .bind(c.grace_seconds)
        .bind(&c.allowed_origins)
        .execute(&self.pool)
        .await?;
        Ok(())
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
        insert_user(&self.pool, &user).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(username = %user.username))]
    async fn create_user_with_code(&self, user: UserRow, code: CodeRow) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_user(&mut *tx, &user).await?;
        sqlx::query(
            "INSERT INTO codes (pool_id, username, purpose, code_hash, expires_at, attempts, created_at) \
             VALUES (?, ?, ?, ?, ?, 0, ?)",
        )
        .bind(&code.pool_id)
        .bind(&code.username)
        .bind(&code.purpose)
        .bind(&code.code_hash)
        .bind(code.expires_at)
        .bind(code.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_user(&self, pool_id: &str, username: &str) -> Result<UserRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE pool_id = ? AND username = ?"
        ))
        .bind(pool_id)
        .bind(username)
        .fetch_one(&self.pool)
        .await?;
        Ok(user_row(&row)?)
    }

    async fn find_user_by_sub(&self, pool_id: &str, sub: &str) -> Result<UserRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE pool_id = ? AND sub = ?"
        ))
        .bind(pool_id)
        .bind(sub)
        .fetch_one(&self.pool)
        .await?;
        Ok(user_row(&row)?)
    }

    async fn list_users(&self, pool_id: &str) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE pool_id = ? ORDER BY username"
        ))
        .bind(pool_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(user_row).collect::<Result<_, _>>()?)
    }

    #[tracing::instrument(skip_all, fields(%username))]
    async fn set_password(
        &self,
        pool_id: &str,
        username: &str,
        update: PasswordUpdate,
        revoke: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if write_password(&mut tx, pool_id, username, &update).await? == 0 {
            return Err(StoreError::NotFound);
        }
        if revoke {
            let sub = sub_of(&mut tx, pool_id, username).await?;
            revoke_user(&mut tx, pool_id, &sub, now, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(%username, enabled))]
    async fn set_user_enabled(
        &self,
        pool_id: &str,
        username: &str,
        enabled: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("UPDATE users SET enabled = ? WHERE pool_id = ? AND username = ?")
            .bind(i64::from(enabled))
            .bind(pool_id)
            .bind(username)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let sub = sub_of(&mut tx, pool_id, username).await?;
        if enabled {
            add_revocation(&mut tx, pool_id, None, Some(&sub), now, now).await?;
        } else {
            revoke_user(&mut tx, pool_id, &sub, i64::MAX, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(%username))]
    async fn delete_user(&self, pool_id: &str, username: &str, now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // A write first, so that the transaction holds the write lock before it reads (WAL: a deferred
        // transaction that reads and then writes can fail when another writer committed in between).
        let n = sqlx::query("UPDATE users SET enabled = 0 WHERE pool_id = ? AND username = ?")
            .bind(pool_id)
            .bind(username)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let sub = sub_of(&mut tx, pool_id, username).await?;
        revoke_user(&mut tx, pool_id, &sub, i64::MAX, now).await?;
        sqlx::query("DELETE FROM codes WHERE pool_id = ? AND username = ?")
            .bind(pool_id)
            .bind(username)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM users WHERE pool_id = ? AND username = ?")
            .bind(pool_id)
            .bind(username)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_user_profile(
        &self,
        pool_id: &str,
        username: &str,
        email: Option<String>,
        email_verified: bool,
        attributes: String,
    ) -> Result<(), StoreError> {
        let n = sqlx::query(
            "UPDATE users SET email = ?, email_verified = ?, attributes = ? WHERE pool_id = ? AND username = ?",
        )
        .bind(email)
        .bind(i64::from(email_verified))
        .bind(attributes)
        .bind(pool_id)
        .bind(username)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn global_sign_out(&self, pool_id: &str, sub: &str, now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        revoke_user(&mut tx, pool_id, sub, now, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_code(&self, row: CodeRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO codes (pool_id, username, purpose, code_hash, expires_at, attempts, created_at) \
             VALUES (?, ?, ?, ?, ?, 0, ?) ON CONFLICT(pool_id, username, purpose) DO UPDATE SET \
             code_hash = excluded.code_hash, expires_at = excluded.expires_at, attempts = 0, \
             created_at = excluded.created_at",
        )
        .bind(&row.pool_id)
        .bind(&row.username)
        .bind(&row.purpose)
        .bind(&row.code_hash)
        .bind(row.expires_at)
        .bind(row.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn count_code_issue(
        &self,
        pool_id: &str,
        username: &str,
        policy: CodePolicy,
        now: i64,
    ) -> Result<CodeGate, StoreError> {
        super::code_limits::issue_sqlite(&self.pool, (pool_id, username), policy, now).await
    }

    async fn count_code_failure(
        &self,
        pool_id: &str,
        username: &str,
        policy: CodePolicy,
        now: i64,
    ) -> Result<CodeGate, StoreError> {
        super::code_limits::failure_sqlite(&self.pool, (pool_id, username), policy, now).await
    }

    async fn code_gate(
        &self,
        pool_id: &str,
        username: &str,
        now: i64,
    ) -> Result<CodeGate, StoreError> {
        super::code_limits::gate_sqlite(&self.pool, (pool_id, username), now).await
    }

    async fn set_pending_email(
        &self,
        pool_id: &str,
        username: &str,
        pending_email: Option<String>,
    ) -> Result<(), StoreError> {
        super::code_limits::pending_email_sqlite(&self.pool, (pool_id, username), pending_email)
            .await
    }

    #[tracing::instrument(skip_all, fields(%username, %purpose))]
    async fn use_code(
        &self,
        pool_id: &str,
        username: &str,
        purpose: &str,
        code_hash: &str,
        max_attempts: i64,
        effect: CodeEffect,
        now: i64,
    ) -> Result<CodeCheck, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Write first so that this transaction holds the write lock before it reads.
        let consumed = sqlx::query(
            "DELETE FROM codes WHERE pool_id = ? AND username = ? AND purpose = ? AND code_hash = ? \
             AND expires_at > ? AND attempts < ?",
        )
        .bind(pool_id)
        .bind(username)
        .bind(purpose)
        .bind(code_hash)
        .bind(now)
        .bind(max_attempts)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if consumed == 1 {
            match &effect {
                CodeEffect::Confirm => {
                    sqlx::query(
                        "UPDATE users SET status = 'CONFIRMED', email_verified = 1 \
                         WHERE pool_id = ? AND username = ?",
                    )
                    .bind(pool_id)
                    .bind(username)
                    .execute(&mut *tx)
                    .await?;
                }
                CodeEffect::ResetPassword(u) => {
                    write_password(&mut tx, pool_id, username, u).await?;
                    sqlx::query(
                        "UPDATE users SET email_verified = 1 WHERE pool_id = ? AND username = ?",
                    )
                    .bind(pool_id)
                    .bind(username)
                    .execute(&mut *tx)
                    .await?;
                    let sub = sub_of(&mut tx, pool_id, username).await?;
                    revoke_user(&mut tx, pool_id, &sub, now, now).await?;
                }
                CodeEffect::VerifyEmail => {
                    sqlx::query(
                        "UPDATE users SET email = COALESCE(pending_email, email), email_verified = 1, \
                         pending_email = NULL WHERE pool_id = ? AND username = ?",
                    )
                    .bind(pool_id)
                    .bind(username)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            return Ok(CodeCheck::Ok);
        }
        let row = sqlx::query(
            "SELECT expires_at, attempts FROM codes WHERE pool_id = ? AND username = ? AND purpose = ?",
        )
        .bind(pool_id)
        .bind(username)
        .bind(purpose)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(CodeCheck::Expired);
        };
        let expires_at: i64 = row.try_get("expires_at")?;
        let attempts: i64 = row.try_get("attempts")?;
        let outcome = if expires_at <= now {
            CodeCheck::Expired
        } else if attempts + 1 >= max_attempts {
            sqlx::query("DELETE FROM codes WHERE pool_id = ? AND username = ? AND purpose = ?")
                .bind(pool_id)
                .bind(username)
                .bind(purpose)
                .execute(&mut *tx)
                .await?;
            CodeCheck::TooManyAttempts
        } else {
            sqlx::query(
                "UPDATE codes SET attempts = attempts + 1 WHERE pool_id = ? AND username = ? AND purpose = ?",
            )
            .bind(pool_id)
            .bind(username)
            .bind(purpose)
            .execute(&mut *tx)
            .await?;
            CodeCheck::Mismatch
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn insert_refresh_token(&self, row: RefreshRow) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_refresh(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_refresh_token(&self, token_hash: &str) -> Result<RefreshRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {REFRESH_COLS} FROM refresh_tokens WHERE token_hash = ?"
        ))
        .bind(token_hash)
        .fetch_one(&self.pool)
        .await?;
        Ok(refresh_row(&row)?)
    }

    #[tracing::instrument(skip_all)]
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        successor: RefreshRow,
        grace: i64,
        now: i64,
    ) -> Result<RotateOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The conditional update comes first: it takes the write lock, so concurrent rotations of one token
        // are serialised and exactly one of them sees `rotated_at IS NULL`.
        let first = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL \
             AND revoked_at IS NULL AND expires_at > ?",
        )
        .bind(now)
        .bind(old_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let row = sqlx::query(&format!(
            "SELECT {REFRESH_COLS} FROM refresh_tokens WHERE token_hash = ?"
        ))
        .bind(old_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(RotateOutcome::Invalid);
        };
        let old = refresh_row(&row)?;
        if first == 1
            || (old.revoked_at.is_none()
                && old.expires_at > now
                && old.rotated_at.is_some_and(|t| now <= t + grace))
        {
            let successor = RefreshRow {
                family_id: old.family_id.clone(),
                ..successor
            };
            insert_refresh(&mut tx, &successor).await?;
            tx.commit().await?;
            return Ok(RotateOutcome::Rotated(old));
        }
        if old.revoked_at.is_some() || old.expires_at <= now {
            return Ok(RotateOutcome::Invalid);
        }
        // Rotated, and presented again after the grace period: someone holds a copy. Revoke the family.
        revoke_family(&mut tx, &old.pool_id, &old.family_id, now).await?;
        tx.commit().await?;
        Ok(RotateOutcome::Reuse)
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_refresh_family(
        &self,
        token_hash: &str,
        client_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Take the write lock first (a no-op update) so that a concurrent rotation is ordered before or after.
        sqlx::query("UPDATE refresh_tokens SET revoked_at = revoked_at WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(&format!(
            "SELECT {REFRESH_COLS} FROM refresh_tokens WHERE token_hash = ? AND client_id = ?"
        ))
        .bind(token_hash)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound);
        };
        let row = refresh_row(&row)?;
        revoke_family(&mut tx, &row.pool_id, &row.family_id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revocations_after(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<RevocationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, pool_id, origin_jti, sub, not_before, created_at FROM revocations \
             WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RevocationRow {
                    id: r.try_get("id")?,
                    pool_id: r.try_get("pool_id")?,
                    origin_jti: r.try_get("origin_jti")?,
                    sub: r.try_get("sub")?,
                    not_before: r.try_get("not_before")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    async fn latest_sub_revocation(
        &self,
        pool_id: &str,
        sub: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT not_before FROM revocations WHERE pool_id = ? AND sub = ? ORDER BY id DESC LIMIT 1",
        )
        .bind(pool_id)
        .bind(sub)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn origin_revoked(&self, pool_id: &str, origin_jti: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM revocations WHERE origin_jti = ? AND pool_id = ?",
        )
        .bind(origin_jti)
        .bind(pool_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
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

    async fn claim_session_instance(
        &self,
        runtime_arn: &str,
        session_id: &str,
        instance: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Conditional update first (it takes the row's write lock), then read whichever claim won.
        sqlx::query(
            "UPDATE session_bindings SET instance = ? WHERE runtime_arn = ? AND session_id = ? AND instance IS NULL",
        )
        .bind(instance)
        .bind(runtime_arn)
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
        let now: Option<Option<String>> = sqlx::query_scalar(
            "SELECT instance FROM session_bindings WHERE runtime_arn = ? AND session_id = ?",
        )
        .bind(runtime_arn)
        .bind(session_id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(now.flatten())
    }

    async fn release_session_instance(
        &self,
        runtime_arn: &str,
        session_id: &str,
        instance: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE session_bindings SET instance = NULL WHERE runtime_arn = ? AND session_id = ? AND instance = ?",
        )
        .bind(runtime_arn)
        .bind(session_id)
        .bind(instance)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session_instance(
        &self,
        runtime_arn: &str,
        session_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let v: Option<Option<String>> = sqlx::query_scalar(
            "SELECT instance FROM session_bindings WHERE runtime_arn = ? AND session_id = ?",
        )
        .bind(runtime_arn)
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(v.flatten())
    }

    async fn put_pending(
        &self,
        key_hash: &str,
        payload: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM pending_auths WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO pending_auths (key_hash, payload, expires_at) VALUES (?, ?, ?) ON CONFLICT (key_hash) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at",
        )
        .bind(key_hash)
        .bind(payload)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take_pending(&self, key_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM pending_auths WHERE key_hash = ? RETURNING payload, expires_at",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let expires_at: i64 = row.try_get("expires_at")?;
        Ok((expires_at > now)
            .then(|| row.try_get("payload"))
            .transpose()?)
    }
}

#[cfg(test)]
mod tests;
