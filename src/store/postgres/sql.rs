//! The PostgreSQL backend: the row mappers and the transaction helpers that more than one `Store` method uses.
//! Owns only SQL shared between methods; must never commit or begin a transaction itself.
use super::*;

pub(super) fn pool_row(r: &PgRow) -> Result<PoolRow, sqlx::Error> {
    Ok(PoolRow {
        id: r.try_get("id")?,
        region: r.try_get("region")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(super) fn client_row(r: &PgRow) -> Result<ClientRow, sqlx::Error> {
    Ok(ClientRow {
        id: r.try_get("id")?,
        pool_id: r.try_get("pool_id")?,
        name: r.try_get("name")?,
        auth_flows: r.try_get("auth_flows")?,
        created_at: r.try_get("created_at")?,
        secret: r.try_get("secret")?,
        scopes: r.try_get("scopes")?,
        access_validity: r.try_get("access_validity")?,
        id_validity: r.try_get("id_validity")?,
        refresh_validity: r.try_get("refresh_validity")?,
        rotation: r.try_get("rotation")?,
        grace_seconds: r.try_get("grace_seconds")?,
        allowed_origins: r.try_get("allowed_origins")?,
    })
}

pub(super) fn user_row(r: &PgRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        pool_id: r.try_get("pool_id")?,
        sub: r.try_get("sub")?,
        username: r.try_get("username")?,
        email: r.try_get("email")?,
        password_hash: r.try_get("password_hash")?,
        status: r.try_get("status")?,
        enabled: r.try_get("enabled")?,
        created_at: r.try_get("created_at")?,
        srp_salt: r.try_get("srp_salt")?,
        srp_verifier: r.try_get("srp_verifier")?,
        attributes: r.try_get("attributes")?,
        email_verified: r.try_get("email_verified")?,
        pending_email: r.try_get("pending_email")?,
    })
}

pub(super) fn refresh_row(r: &PgRow) -> Result<RefreshRow, sqlx::Error> {
    Ok(RefreshRow {
        token_hash: r.try_get("token_hash")?,
        family_id: r.try_get("family_id")?,
        pool_id: r.try_get("pool_id")?,
        client_id: r.try_get("client_id")?,
        sub: r.try_get("sub")?,
        origin_jti: r.try_get("origin_jti")?,
        auth_time: r.try_get("auth_time")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
        rotated_at: r.try_get("rotated_at")?,
    })
}

pub(super) fn revocation_row(r: &PgRow) -> Result<RevocationRow, sqlx::Error> {
    Ok(RevocationRow {
        id: r.try_get("id")?,
        pool_id: r.try_get("pool_id")?,
        origin_jti: r.try_get("origin_jti")?,
        sub: r.try_get("sub")?,
        not_before: r.try_get("not_before")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(super) type Tx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

/// Serialises every transaction that changes `sub`'s refresh tokens or revocations (rotation, reuse detection,
/// sign-out, password change, disable, delete), across all instances, until the transaction ends. Always taken
/// before any row lock, so these transactions cannot deadlock each other.
pub(super) async fn lock_user(tx: &mut Tx<'_>, sub: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("gatehouse-user:{sub}"))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn insert_refresh(tx: &mut Tx<'_>, row: &RefreshRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, pool_id, client_id, sub, origin_jti, auth_time, \
         created_at, expires_at, revoked_at, family_id, rotated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
    .bind(&row.family_id)
    .bind(row.rotated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts revocation rows. Must be the transaction's last statements: the lock taken here is held until commit,
/// which orders the rows' visibility by id (a poller that saw id N can never later see a smaller id appear).
pub(super) async fn add_revocations(
    tx: &mut Tx<'_>,
    pool_id: &str,
    rows: &[(Option<&str>, Option<&str>, i64)],
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(REVOCATIONS_LOCK.0)
        .bind(REVOCATIONS_LOCK.1)
        .execute(&mut **tx)
        .await?;
    // Delivered to every listening instance when (and only if) the transaction commits.
    notify(tx, "revocations").await?;
    for (origin_jti, sub, not_before) in rows {
        sqlx::query(
            "INSERT INTO revocations (pool_id, origin_jti, sub, not_before, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(pool_id)
        .bind(origin_jti)
        .bind(sub)
        .bind(not_before)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub(super) async fn notify(tx: &mut Tx<'_>, what: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANGES_CHANNEL)
        .bind(what)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Revokes every live refresh token of `sub` and writes the `sub` revocation row. The caller holds the user lock.
pub(super) async fn revoke_user(
    tx: &mut Tx<'_>,
    pool_id: &str,
    sub: &str,
    not_before: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE pool_id = $2 AND sub = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(pool_id)
    .bind(sub)
    .execute(&mut **tx)
    .await?;
    add_revocations(tx, pool_id, &[(None, Some(sub), not_before)], now).await
}

/// Revokes a whole family and writes a revocation row for each of its `origin_jti`s. The caller holds the lock
/// of the family's user.
pub(super) async fn revoke_family(
    tx: &mut Tx<'_>,
    pool_id: &str,
    family_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(family_id)
    .execute(&mut **tx)
    .await?;
    let jtis: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT origin_jti FROM refresh_tokens WHERE family_id = $1 ORDER BY origin_jti",
    )
    .bind(family_id)
    .fetch_all(&mut **tx)
    .await?;
    let rows: Vec<(Option<&str>, Option<&str>, i64)> =
        jtis.iter().map(|j| (Some(j.as_str()), None, now)).collect();
    add_revocations(tx, pool_id, &rows, now).await
}

/// The user's `sub`, `None` if there is no such user.
pub(super) async fn sub_of(
    tx: &mut Tx<'_>,
    pool_id: &str,
    username: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT sub FROM users WHERE pool_id = $1 AND username = $2")
        .bind(pool_id)
        .bind(username)
        .fetch_optional(&mut **tx)
        .await
}

/// Looks the user up and takes its lock; `NotFound` if there is no such user.
pub(super) async fn lock_username(
    tx: &mut Tx<'_>,
    pool_id: &str,
    username: &str,
) -> Result<String, StoreError> {
    let sub = sub_of(tx, pool_id, username)
        .await?
        .ok_or(StoreError::NotFound)?;
    lock_user(tx, &sub).await?;
    Ok(sub)
}

pub(super) async fn write_password(
    tx: &mut Tx<'_>,
    pool_id: &str,
    username: &str,
    u: &PasswordUpdate,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE users SET password_hash = $1, srp_salt = $2, srp_verifier = $3, status = $4 \
         WHERE pool_id = $5 AND username = $6",
    )
    .bind(&u.password_hash)
    .bind(&u.srp_salt)
    .bind(&u.srp_verifier)
    .bind(&u.status)
    .bind(pool_id)
    .bind(username)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

pub(super) async fn insert_user<'c, E>(ex: E, user: &UserRow) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    sqlx::query(
        "INSERT INTO users (pool_id, sub, username, email, password_hash, status, enabled, created_at, \
             srp_salt, srp_verifier, attributes, email_verified, pending_email) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&user.pool_id)
    .bind(&user.sub)
    .bind(&user.username)
    .bind(&user.email)
    .bind(&user.password_hash)
    .bind(&user.status)
    .bind(user.enabled)
    .bind(user.created_at)
    .bind(&user.srp_salt)
    .bind(&user.srp_verifier)
    .bind(&user.attributes)
    .bind(user.email_verified)
    .bind(&user.pending_email)
    .execute(ex)
    .await?;
    Ok(())
}
