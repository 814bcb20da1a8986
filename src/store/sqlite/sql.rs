//! The SQLite backend: the row mappers and the transaction helpers that more than one `Store` method uses.
//! Owns only SQL shared between methods; must never commit or begin a transaction itself.
use super::*;

/// The database file is created 0600 (or tightened to it) before SQLite opens it.
pub(super) fn private_file(path: &Path) -> Result<(), StoreError> {
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

pub(super) fn pool_row(r: &sqlx::sqlite::SqliteRow) -> Result<PoolRow, sqlx::Error> {
    Ok(PoolRow {
        id: r.try_get("id")?,
        region: r.try_get("region")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(super) fn client_row(r: &sqlx::sqlite::SqliteRow) -> Result<ClientRow, sqlx::Error> {
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
        rotation: r.try_get::<i64, _>("rotation")? != 0,
        grace_seconds: r.try_get("grace_seconds")?,
        allowed_origins: r.try_get("allowed_origins")?,
    })
}

pub(super) fn user_row(r: &sqlx::sqlite::SqliteRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        pool_id: r.try_get("pool_id")?,
        sub: r.try_get("sub")?,
        username: r.try_get("username")?,
        email: r.try_get("email")?,
        password_hash: r.try_get("password_hash")?,
        status: r.try_get("status")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        created_at: r.try_get("created_at")?,
        srp_salt: r.try_get("srp_salt")?,
        srp_verifier: r.try_get("srp_verifier")?,
        attributes: r.try_get("attributes")?,
        email_verified: r.try_get::<i64, _>("email_verified")? != 0,
        pending_email: r.try_get("pending_email")?,
    })
}

pub(super) fn refresh_row(r: &sqlx::sqlite::SqliteRow) -> Result<RefreshRow, sqlx::Error> {
    let token_hash: String = r.try_get("token_hash")?;
    let family: Option<String> = r.try_get("family_id")?;
    Ok(RefreshRow {
        family_id: family.unwrap_or_else(|| token_hash.clone()),
        token_hash,
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

pub(super) type Tx<'a> = sqlx::Transaction<'a, sqlx::Sqlite>;

pub(super) async fn insert_refresh(tx: &mut Tx<'_>, row: &RefreshRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, pool_id, client_id, sub, origin_jti, auth_time, \
         created_at, expires_at, revoked_at, family_id, rotated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

pub(super) async fn add_revocation(
    tx: &mut Tx<'_>,
    pool_id: &str,
    origin_jti: Option<&str>,
    sub: Option<&str>,
    not_before: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO revocations (pool_id, origin_jti, sub, not_before, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(pool_id)
    .bind(origin_jti)
    .bind(sub)
    .bind(not_before)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Revokes every live refresh token of `sub` and writes the `sub` revocation row.
pub(super) async fn revoke_user(
    tx: &mut Tx<'_>,
    pool_id: &str,
    sub: &str,
    not_before: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = ? WHERE pool_id = ? AND sub = ? AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(pool_id)
    .bind(sub)
    .execute(&mut **tx)
    .await?;
    add_revocation(tx, pool_id, None, Some(sub), not_before, now).await
}

/// Revokes a whole family and writes a revocation row for each of its `origin_jti`s.
pub(super) async fn revoke_family(
    tx: &mut Tx<'_>,
    pool_id: &str,
    family_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(family_id)
    .execute(&mut **tx)
    .await?;
    let jtis: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT origin_jti FROM refresh_tokens WHERE family_id = ? ORDER BY origin_jti",
    )
    .bind(family_id)
    .fetch_all(&mut **tx)
    .await?;
    for j in jtis {
        add_revocation(tx, pool_id, Some(&j), None, now, now).await?;
    }
    Ok(())
}

/// The user's `sub`, `NotFound` if there is no such user.
pub(super) async fn sub_of(
    tx: &mut Tx<'_>,
    pool_id: &str,
    username: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT sub FROM users WHERE pool_id = ? AND username = ?")
        .bind(pool_id)
        .bind(username)
        .fetch_one(&mut **tx)
        .await
}

pub(super) async fn write_password(
    tx: &mut Tx<'_>,
    pool_id: &str,
    username: &str,
    u: &PasswordUpdate,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE users SET password_hash = ?, srp_salt = ?, srp_verifier = ?, status = ? \
         WHERE pool_id = ? AND username = ?",
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
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    sqlx::query(
        "INSERT INTO users (pool_id, sub, username, email, password_hash, status, enabled, created_at, \
             srp_salt, srp_verifier, attributes, email_verified, pending_email) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&user.pool_id)
    .bind(&user.sub)
    .bind(&user.username)
    .bind(&user.email)
    .bind(&user.password_hash)
    .bind(&user.status)
    .bind(i64::from(user.enabled))
    .bind(user.created_at)
    .bind(&user.srp_salt)
    .bind(&user.srp_verifier)
    .bind(&user.attributes)
    .bind(i64::from(user.email_verified))
    .bind(&user.pending_email)
    .execute(ex)
    .await?;
    Ok(())
}
