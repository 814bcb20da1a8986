//! Users: adding, finding and listing them, their single-statement changes (profile, pending e-mail), and the
//! changes that end their sessions (password, enabled flag, deletion), each one transaction under the user's
//! lock with its revocations. Must never write a revocation row except through `revocations`.
use super::revocations;
use crate::store::backend::Backend;
use crate::store::ids::{PoolId, Sub};
use crate::store::records::USER_COLS;
use crate::store::sql::{args, Conn};
use crate::store::{PasswordUpdate, StoreError, UserRow};

pub(crate) async fn insert<C: Conn>(c: &mut C, user: &UserRow) -> Result<(), sqlx::Error> {
    c.exec(
        "INSERT INTO users (pool_id, sub, username, email, password_hash, status, enabled, created_at, \
         srp_salt, srp_verifier, attributes, email_verified, pending_email) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        args![
            &user.pool_id,
            &user.sub,
            &user.username,
            &user.email,
            &user.password_hash,
            user.status,
            user.enabled,
            user.created_at,
            &user.srp_salt,
            &user.srp_verifier,
            &user.attributes,
            user.email_verified,
            &user.pending_email
        ],
    )
    .await?;
    Ok(())
}

/// The user whose `column` (`username` or `sub`) is `value`.
pub(crate) async fn find_by<C: Conn>(
    c: &mut C,
    column: ByColumn,
    pool_id: &PoolId,
    value: &str,
) -> Result<UserRow, StoreError> {
    let column = match column {
        ByColumn::Username => "username",
        ByColumn::Sub => "sub",
    };
    Ok(c.one(
        &format!("SELECT {USER_COLS} FROM users WHERE pool_id = $1 AND {column} = $2"),
        args![pool_id, value],
    )
    .await?)
}

/// How `find_by` looks a user up.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ByColumn {
    Username,
    Sub,
}

pub(crate) async fn list<C: Conn>(c: &mut C, pool_id: &PoolId) -> Result<Vec<UserRow>, StoreError> {
    Ok(c.all(
        &format!("SELECT {USER_COLS} FROM users WHERE pool_id = $1 ORDER BY username"),
        args![pool_id],
    )
    .await?)
}

/// The user's `sub`, `None` if there is no such user.
pub(crate) async fn sub_of<C: Conn>(
    c: &mut C,
    pool_id: &PoolId,
    username: &str,
) -> Result<Option<Sub>, sqlx::Error> {
    let sub: Option<(Sub,)> = c
        .opt(
            "SELECT sub FROM users WHERE pool_id = $1 AND username = $2",
            args![pool_id, username],
        )
        .await?;
    Ok(sub.map(|(s,)| s))
}

/// `NotFound` unless a statement changed a row.
pub(crate) fn found(rows: u64) -> Result<(), StoreError> {
    if rows == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) async fn update_profile<C: Conn>(
    c: &mut C,
    (pool_id, username): (&PoolId, &str),
    email: Option<&str>,
    email_verified: bool,
    attributes: &str,
) -> Result<(), StoreError> {
    let n = c
        .exec(
            "UPDATE users SET email = $1, email_verified = $2, attributes = $3 \
             WHERE pool_id = $4 AND username = $5",
            args![email, email_verified, attributes, pool_id, username],
        )
        .await?;
    found(n)
}

pub(crate) async fn set_pending_email<C: Conn>(
    c: &mut C,
    (pool_id, username): (&PoolId, &str),
    email: Option<&str>,
) -> Result<(), StoreError> {
    let n = c
        .exec(
            "UPDATE users SET pending_email = $1 WHERE pool_id = $2 AND username = $3",
            args![email, pool_id, username],
        )
        .await?;
    found(n)
}

/// Writes a new password; the number of users changed (0 or 1).
pub(crate) async fn write_password<C: Conn>(
    c: &mut C,
    (pool_id, username): (&PoolId, &str),
    u: &PasswordUpdate,
) -> Result<u64, sqlx::Error> {
    c.exec(
        "UPDATE users SET password_hash = $1, srp_salt = $2, srp_verifier = $3, status = $4 \
         WHERE pool_id = $5 AND username = $6",
        args![
            &u.password_hash,
            &u.srp_salt,
            &u.srp_verifier,
            u.status,
            pool_id,
            username
        ],
    )
    .await
}

/// Sets the enabled flag; the number of users changed (0 or 1).
pub(crate) async fn write_enabled<C: Conn>(
    c: &mut C,
    (pool_id, username): (&PoolId, &str),
    enabled: bool,
) -> Result<u64, sqlx::Error> {
    c.exec(
        "UPDATE users SET enabled = $1 WHERE pool_id = $2 AND username = $3",
        args![enabled, pool_id, username],
    )
    .await
}

/// Deletes the user's codes, then the user; the number of users deleted (0 or 1).
pub(crate) async fn delete<C: Conn>(
    c: &mut C,
    (pool_id, username): (&PoolId, &str),
) -> Result<u64, sqlx::Error> {
    c.exec(
        "DELETE FROM codes WHERE pool_id = $1 AND username = $2",
        args![pool_id, username],
    )
    .await?;
    c.exec(
        "DELETE FROM users WHERE pool_id = $1 AND username = $2",
        args![pool_id, username],
    )
    .await
}

/// `Store::set_password`: the new password and, with `revoke`, every session of the user revoked, in one
/// transaction under the user's lock.
pub(crate) async fn set_password<B: Backend>(
    b: &B,
    who: (&PoolId, &str),
    update: &PasswordUpdate,
    revoke: bool,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = b.pool().begin().await?;
    let sub = B::lock_username(&mut tx, who.0, who.1).await?;
    found(write_password(&mut *tx, who, update).await?)?;
    if revoke {
        revocations::revoke_user::<B>(&mut tx, who.0, &sub, now, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `Store::set_user_enabled`: disabling revokes every session for good, enabling lets new ones start now.
pub(crate) async fn set_enabled<B: Backend>(
    b: &B,
    who: (&PoolId, &str),
    enabled: bool,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = b.pool().begin().await?;
    let sub = B::lock_username(&mut tx, who.0, who.1).await?;
    found(write_enabled(&mut *tx, who, enabled).await?)?;
    if enabled {
        B::add_revocations(&mut tx, who.0, &[(None, Some(&sub), now)], now).await?;
    } else {
        revocations::revoke_user::<B>(&mut tx, who.0, &sub, i64::MAX, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `Store::delete_user`: the user, its codes and its sessions, for good.
pub(crate) async fn delete_user<B: Backend>(
    b: &B,
    who: (&PoolId, &str),
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = b.pool().begin().await?;
    let sub = B::lock_username(&mut tx, who.0, who.1).await?;
    found(delete(&mut *tx, who).await?)?;
    revocations::revoke_user::<B>(&mut tx, who.0, &sub, i64::MAX, now).await?;
    tx.commit().await?;
    Ok(())
}
