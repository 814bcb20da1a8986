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
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool};

use super::backend::{Backend, NewRevocation};
use super::shared::{revocations, users};
use super::sql::{args, Conn};
use super::StoreError;
use crate::store::ids::{PoolId, Sub};

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

impl PostgresStore {
    /// Connects to `url` (`postgres://` or `postgresql://`) and runs pending migrations (sqlx serialises
    /// concurrent migrators with an advisory lock, so instances may start together).
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("bad PostgreSQL URL: {e}")))?;
        Self::open_with(opts).await
    }

    /// Connects with parsed options (as `open_url`).
    pub async fn open_with(opts: PgConnectOptions) -> Result<Self, StoreError> {
        let opts = opts.application_name("gatehouse");
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

/// Every transaction that changes a user's refresh tokens or revocations (rotation, reuse detection, sign-out,
/// password change, disable, delete) first takes a transaction-scoped advisory lock on the user, across all
/// instances, before any row lock, so these transactions cannot deadlock each other; revocation rows are
/// inserted under one more advisory lock, so that their ids become visible in order; both are announced with
/// `NOTIFY`.
#[async_trait]
impl Backend for PostgresStore {
    type Db = sqlx::Postgres;
    type Conn = PgConnection;

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.changes.clone())
    }

    fn shared(&self) -> bool {
        true
    }

    async fn lock_username(
        c: &mut PgConnection,
        pool_id: &PoolId,
        username: &str,
    ) -> Result<Sub, StoreError> {
        let sub = users::sub_of(c, pool_id, username)
            .await?
            .ok_or(StoreError::NotFound)?;
        Self::lock_sub(c, &sub).await?;
        Ok(sub)
    }

    async fn lock_sub(c: &mut PgConnection, sub: &Sub) -> Result<(), sqlx::Error> {
        let key = format!("gatehouse-user:{sub}");
        c.exec(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            args![&key],
        )
        .await?;
        Ok(())
    }

    async fn lock_token(c: &mut PgConnection, token_hash: &str) -> Result<bool, sqlx::Error> {
        let sub: Option<(Sub,)> = c
            .opt(
                "SELECT sub FROM refresh_tokens WHERE token_hash = $1",
                args![token_hash],
            )
            .await?;
        let Some((sub,)) = sub else {
            return Ok(false);
        };
        Self::lock_sub(c, &sub).await?;
        Ok(true)
    }

    /// The lock taken here is held until commit, which orders the rows' visibility by id (a poller that saw id
    /// N can never later see a smaller id appear).
    async fn add_revocations(
        c: &mut PgConnection,
        pool_id: &PoolId,
        rows: &[NewRevocation<'_>],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        c.exec(
            "SELECT pg_advisory_xact_lock($1, $2)",
            args![REVOCATIONS_LOCK.0, REVOCATIONS_LOCK.1],
        )
        .await?;
        // Delivered to every listening instance when (and only if) the transaction commits.
        notify(c, "revocations").await?;
        for row in rows {
            revocations::insert_row(c, pool_id, *row, now).await?;
        }
        Ok(())
    }

    async fn announce_key(c: &mut PgConnection) -> Result<(), sqlx::Error> {
        notify(c, "keys").await
    }
}

async fn notify(c: &mut PgConnection, what: &str) -> Result<(), sqlx::Error> {
    c.exec("SELECT pg_notify($1, $2)", args![CHANGES_CHANNEL, what])
        .await?;
    Ok(())
}
