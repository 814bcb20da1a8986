//! The PostgreSQL backend, for several gatehouse instances sharing one database (`--database-url
//! postgres://…`): a connection pool that fails fast when the server is away (so callers answer 503 instead of
//! hanging) and reconnects by itself, the migrations under `migrations/postgres`, and the concurrency rules that
//! make it correct across instances: every transaction that changes a user's refresh tokens or writes a
//! revocation first takes a transaction-scoped advisory lock on the user, and every insert into `revocations`
//! happens under one advisory lock so that ids become visible in increasing order (the pollers read "ids after
//! N"); both are also announced with `NOTIFY` so that every instance's pollers read at once instead of at their
//! next tick. Owns its SQL; must never be reached from a request handler except through the `Store` trait, and must
//! never log the database URL (it can carry a password).
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};

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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a caller waits for a pooled connection before the store reports `Unavailable`.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections per instance.
pub const MAX_CONNECTIONS: u32 = 16;
/// The two-key advisory lock under which revocation rows are inserted (two-key locks never collide with the
/// one-key per-user locks).
const REVOCATIONS_LOCK: (i32, i32) = (0x6761_7465, 1);

/// The `LISTEN/NOTIFY` channel on which revocations and signing keys are announced.
pub const CHANGES_CHANNEL: &str = "gatehouse_changes";

/// A PostgreSQL-backed `Store`.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    changes: tokio::sync::watch::Receiver<u64>,
    _listener: Arc<AbortOnDrop>,
}

/// Stops the `LISTEN` task when the last handle of the store goes.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Listens on `CHANGES_CHANNEL` for as long as the store lives, reconnecting by itself; bumps `tx` on every
/// notification and after every (re)connection (notifications sent meanwhile are lost: pollers read again).
async fn listen(pool: PgPool, tx: tokio::sync::watch::Sender<u64>) {
    use sqlx::postgres::PgListener;
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut l) => match l.listen(CHANGES_CHANNEL).await {
                Ok(()) => {
                    tx.send_modify(|n| *n = n.wrapping_add(1));
                    loop {
                        match l.try_recv().await {
                            Ok(_) => tx.send_modify(|n| *n = n.wrapping_add(1)),
                            Err(e) => {
                                tracing::debug!(error = %e, "change notifications interrupted");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "cannot LISTEN for changes"),
            },
            Err(e) => tracing::debug!(error = %e, "cannot connect to LISTEN for changes"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `postgres://user@host:port/db` without the password, for logs and errors.
pub fn redacted(url: &str) -> String {
    match PgConnectOptions::from_str(url) {
        Ok(o) => format!(
            "postgres://{}@{}:{}/{}",
            o.get_username(),
            o.get_host(),
            o.get_port(),
            o.get_database().unwrap_or("")
        ),
        Err(_) => "postgres://<unparsable URL>".into(),
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://` or `postgresql://`) and runs pending migrations (sqlx serialises
    /// concurrent migrators with an advisory lock, so instances may start together).
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("bad PostgreSQL URL: {e}")))?
            .application_name("gatehouse");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(Duration::from_secs(300))
            .connect_with(opts)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))?;
        let (tx, changes) = tokio::sync::watch::channel(0);
        let listener = tokio::spawn(listen(pool.clone(), tx));
        Ok(Self {
            pool,
            changes,
            _listener: Arc::new(AbortOnDrop(listener)),
        })
    }
}

mod sql;
use sql::*;

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.changes.clone())
    }

    fn shared(&self) -> bool {
        true
    }

    #[tracing::instrument(skip_all)]
    async fn ensure_default_pool(
        &self,
        pool: PoolRow,
        client: ClientRow,
    ) -> Result<(PoolRow, ClientRow), StoreError> {
        let mut tx = self.pool.begin().await?;
        // ON CONFLICT DO NOTHING waits for a concurrent inserter and then yields to it; the reads below (each
        // with a fresh snapshot under READ COMMITTED) see whichever row won.
        sqlx::query(
            "INSERT INTO user_pools (id, region, slot, created_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (slot) DO NOTHING",
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
             VALUES ($1, $2, $3, 1, $4, $5, $6) ON CONFLICT (pool_id, slot) DO NOTHING",
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
            "SELECT {CLIENT_COLS} FROM app_clients WHERE pool_id = $1 AND slot = 1"
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
            "SELECT {CLIENT_COLS} FROM app_clients WHERE pool_id = $1 ORDER BY created_at, id"
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
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
        .bind(c.rotation)
        .bind(c.grace_seconds)
        .bind(&c.allowed_origins)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn signing_keys(&self, pool_id: &str) -> Result<Vec<KeyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, pool_id, pkcs8, created_at FROM signing_keys \
             WHERE pool_id = $1 AND retired_at IS NULL ORDER BY created_at, kid",
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, pool_id, pkcs8, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key.kid)
        .bind(&key.pool_id)
        .bind(&key.pkcs8)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await?;
        notify(&mut tx, "keys").await?;
        tx.commit().await?;
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
             VALUES ($1, $2, $3, $4, $5, 0, $6)",
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
            "SELECT {USER_COLS} FROM users WHERE pool_id = $1 AND username = $2"
        ))
        .bind(pool_id)
        .bind(username)
        .fetch_one(&self.pool)
        .await?;
        Ok(user_row(&row)?)
    }

    async fn find_user_by_sub(&self, pool_id: &str, sub: &str) -> Result<UserRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE pool_id = $1 AND sub = $2"
        ))
        .bind(pool_id)
        .bind(sub)
        .fetch_one(&self.pool)
        .await?;
        Ok(user_row(&row)?)
    }

    async fn list_users(&self, pool_id: &str) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE pool_id = $1 ORDER BY username"
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
        let sub = lock_username(&mut tx, pool_id, username).await?;
        if write_password(&mut tx, pool_id, username, &update).await? == 0 {
            return Err(StoreError::NotFound);
        }
        if revoke {
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
        let sub = lock_username(&mut tx, pool_id, username).await?;
        let n = sqlx::query("UPDATE users SET enabled = $1 WHERE pool_id = $2 AND username = $3")
            .bind(enabled)
            .bind(pool_id)
            .bind(username)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        if enabled {
            add_revocations(&mut tx, pool_id, &[(None, Some(&sub), now)], now).await?;
        } else {
            revoke_user(&mut tx, pool_id, &sub, i64::MAX, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(%username))]
    async fn delete_user(&self, pool_id: &str, username: &str, now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let sub = lock_username(&mut tx, pool_id, username).await?;
        sqlx::query("DELETE FROM codes WHERE pool_id = $1 AND username = $2")
            .bind(pool_id)
            .bind(username)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM users WHERE pool_id = $1 AND username = $2")
            .bind(pool_id)
            .bind(username)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        revoke_user(&mut tx, pool_id, &sub, i64::MAX, now).await?;
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
            "UPDATE users SET email = $1, email_verified = $2, attributes = $3 \
             WHERE pool_id = $4 AND username = $5",
        )
        .bind(email)
        .bind(email_verified)
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
        lock_user(&mut tx, sub).await?;
        revoke_user(&mut tx, pool_id, sub, now, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_code(&self, row: CodeRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO codes (pool_id, username, purpose, code_hash, expires_at, attempts, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6) ON CONFLICT (pool_id, username, purpose) DO UPDATE SET \
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
        super::code_limits::issue_postgres(&self.pool, (pool_id, username), policy, now).await
    }

    async fn count_code_failure(
        &self,
        pool_id: &str,
        username: &str,
        policy: CodePolicy,
        now: i64,
    ) -> Result<CodeGate, StoreError> {
        super::code_limits::failure_postgres(&self.pool, (pool_id, username), policy, now).await
    }

    async fn code_gate(
        &self,
        pool_id: &str,
        username: &str,
        now: i64,
    ) -> Result<CodeGate, StoreError> {
        super::code_limits::gate_postgres(&self.pool, (pool_id, username), now).await
    }

    async fn set_pending_email(
        &self,
        pool_id: &str,
        username: &str,
        pending_email: Option<String>,
    ) -> Result<(), StoreError> {
        super::code_limits::pending_email_postgres(&self.pool, (pool_id, username), pending_email)
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
        // The user lock first (a reset revokes sessions), so this never waits on a row another user-locked
        // transaction holds.
        let sub = match lock_username(&mut tx, pool_id, username).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Ok(CodeCheck::Expired),
            Err(e) => return Err(e),
        };
        // A conditional delete: of two concurrent uses of one code, the second waits for the first and then
        // finds nothing to delete.
        let consumed = sqlx::query(
            "DELETE FROM codes WHERE pool_id = $1 AND username = $2 AND purpose = $3 AND code_hash = $4 \
             AND expires_at > $5 AND attempts < $6",
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
                        "UPDATE users SET status = 'CONFIRMED', email_verified = TRUE \
                         WHERE pool_id = $1 AND username = $2",
                    )
                    .bind(pool_id)
                    .bind(username)
                    .execute(&mut *tx)
                    .await?;
                }
                CodeEffect::ResetPassword(u) => {
                    write_password(&mut tx, pool_id, username, u).await?;
                    sqlx::query(
                        "UPDATE users SET email_verified = TRUE WHERE pool_id = $1 AND username = $2",
                    )
                    .bind(pool_id)
                    .bind(username)
                    .execute(&mut *tx)
                    .await?;
                    revoke_user(&mut tx, pool_id, &sub, now, now).await?;
                }
                CodeEffect::VerifyEmail => {
                    sqlx::query(
                        "UPDATE users SET email = COALESCE(pending_email, email), email_verified = TRUE, \
                         pending_email = NULL WHERE pool_id = $1 AND username = $2",
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
        // Count the attempt atomically; an expired or missing code is not counted.
        let attempts: Option<i64> = sqlx::query_scalar(
            "UPDATE codes SET attempts = attempts + 1 \
             WHERE pool_id = $1 AND username = $2 AND purpose = $3 AND expires_at > $4 RETURNING attempts",
        )
        .bind(pool_id)
        .bind(username)
        .bind(purpose)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match attempts {
            None => CodeCheck::Expired,
            Some(n) if n >= max_attempts => {
                sqlx::query(
                    "DELETE FROM codes WHERE pool_id = $1 AND username = $2 AND purpose = $3",
                )
                .bind(pool_id)
                .bind(username)
                .bind(purpose)
                .execute(&mut *tx)
                .await?;
                CodeCheck::TooManyAttempts
            }
            Some(_) => CodeCheck::Mismatch,
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
            "SELECT {REFRESH_COLS} FROM refresh_tokens WHERE token_hash = $1"
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
        let sub: Option<String> =
            sqlx::query_scalar("SELECT sub FROM refresh_tokens WHERE token_hash = $1")
                .bind(old_hash)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(sub) = sub else {
            return Ok(RotateOutcome::Invalid);
        };
        // Every rotation, reuse detection and revocation of this user's tokens runs one at a time, on every
        // instance; the conditional update below then lets exactly one exchange be the first.
        lock_user(&mut tx, &sub).await?;
        let first = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL \
             AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(old_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let row = sqlx::query(&format!(
            "SELECT {REFRESH_COLS} FROM refresh_tokens WHERE token_hash = $1"
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
        let row = sqlx::query(&format!(
            "SELECT {REFRESH_COLS} FROM refresh_tokens WHERE token_hash = $1 AND client_id = $2"
        ))
        .bind(token_hash)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound);
        };
        let row = refresh_row(&row)?;
        lock_user(&mut tx, &row.sub).await?;
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
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(revocation_row).collect::<Result<_, _>>()?)
    }

    async fn latest_sub_revocation(
        &self,
        pool_id: &str,
        sub: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT not_before FROM revocations WHERE pool_id = $1 AND sub = $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(pool_id)
        .bind(sub)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn origin_revoked(&self, pool_id: &str, origin_jti: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM revocations WHERE origin_jti = $1 AND pool_id = $2)",
        )
        .bind(origin_jti)
        .bind(pool_id)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn ensure_runtime_arn(
        &self,
        name: &str,
        candidate_arn: &str,
        now: i64,
    ) -> Result<String, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO runtimes (name, arn, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate_arn)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let arn: String = sqlx::query_scalar("SELECT arn FROM runtimes WHERE name = $1")
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
        // The insert waits for a concurrent binder of the same session (primary key) and then does nothing; the
        // read, with a fresh snapshot, sees whichever binding committed first — on every instance.
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO session_bindings (runtime_arn, session_id, issuer, sub, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (runtime_arn, session_id) DO NOTHING",
        )
        .bind(runtime_arn)
        .bind(session_id)
        .bind(&owner.issuer)
        .bind(&owner.sub)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "SELECT issuer, sub FROM session_bindings WHERE runtime_arn = $1 AND session_id = $2",
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
            "SELECT issuer, sub FROM session_bindings WHERE runtime_arn = $1 AND session_id = $2",
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
            "UPDATE session_bindings SET instance = $1 WHERE runtime_arn = $2 AND session_id = $3 AND instance IS NULL",
        )
        .bind(instance)
        .bind(runtime_arn)
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
        let now: Option<Option<String>> = sqlx::query_scalar(
            "SELECT instance FROM session_bindings WHERE runtime_arn = $1 AND session_id = $2",
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
            "UPDATE session_bindings SET instance = NULL WHERE runtime_arn = $1 AND session_id = $2 AND instance = $3",
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
            "SELECT instance FROM session_bindings WHERE runtime_arn = $1 AND session_id = $2",
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
        sqlx::query("DELETE FROM pending_auths WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO pending_auths (key_hash, payload, expires_at) VALUES ($1, $2, $3) ON CONFLICT (key_hash) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at",
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
            "DELETE FROM pending_auths WHERE key_hash = $1 RETURNING payload, expires_at",
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
