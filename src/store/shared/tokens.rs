//! Refresh tokens: storing and finding them by hash, rotation with its grace period and reuse detection, and
//! `RevokeToken`'s revocation of a family. Must never store a token, only its hash.
use super::revocations;
use crate::store::backend::Backend;
use crate::store::ids::ClientId;
use crate::store::records::{
    RefreshRecord, RefreshWithUserRecord, REFRESH_COLS, REFRESH_WITH_USER_COLS,
};
use crate::store::sql::{args, Conn};
use crate::store::{RefreshRow, RotateOutcome, StoreError, UserRow};

pub(crate) async fn insert<C: Conn>(c: &mut C, row: &RefreshRow) -> Result<(), sqlx::Error> {
    c.exec(
        "INSERT INTO refresh_tokens (token_hash, pool_id, client_id, sub, origin_jti, auth_time, \
         created_at, expires_at, revoked_at, family_id, rotated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        args![
            &row.token_hash,
            &row.pool_id,
            &row.client_id,
            &row.sub,
            &row.origin_jti,
            row.auth_time,
            row.created_at,
            row.expires_at,
            row.revoked_at,
            &row.family_id,
            row.rotated_at
        ],
    )
    .await?;
    Ok(())
}

/// The token with this hash and its user, in one statement; `None` when either is missing.
pub(crate) async fn find_with_user<C: Conn>(
    c: &mut C,
    token_hash: &str,
) -> Result<Option<(RefreshRow, UserRow)>, sqlx::Error> {
    let row: Option<RefreshWithUserRecord> = c
        .opt(
            &format!(
                "SELECT {REFRESH_WITH_USER_COLS} FROM refresh_tokens r \
                 JOIN users u ON u.pool_id = r.pool_id AND u.sub = r.sub WHERE r.token_hash = $1"
            ),
            args![token_hash],
        )
        .await?;
    Ok(row.map(Into::into))
}

/// The token with this hash (and, if given, of this client).
pub(crate) async fn find<C: Conn>(
    c: &mut C,
    token_hash: &str,
    client_id: Option<&ClientId>,
) -> Result<Option<RefreshRow>, sqlx::Error> {
    let row: Option<RefreshRecord> = match client_id {
        None => {
            c.opt(
                &format!("SELECT {REFRESH_COLS} FROM refresh_tokens WHERE token_hash = $1"),
                args![token_hash],
            )
            .await?
        }
        Some(client_id) => {
            c.opt(
                &format!(
                    "SELECT {REFRESH_COLS} FROM refresh_tokens WHERE token_hash = $1 AND client_id = $2"
                ),
                args![token_hash, client_id],
            )
            .await?
        }
    };
    Ok(row.map(RefreshRow::from))
}

/// `Store::rotate_refresh_token`, under the lock of the token's user: the conditional update lets exactly one
/// exchange be the first; a repeat within the grace period also gets a successor; a repeat after it revokes the
/// family.
pub(crate) async fn rotate<B: Backend>(
    b: &B,
    old_hash: &str,
    successor: RefreshRow,
    grace: i64,
    now: i64,
) -> Result<RotateOutcome, StoreError> {
    let mut tx = b.pool().begin().await?;
    if !B::lock_token(&mut tx, old_hash).await? {
        return Ok(RotateOutcome::Invalid);
    }
    let first = tx
        .exec(
            "UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL \
             AND revoked_at IS NULL AND expires_at > $1",
            args![now, old_hash],
        )
        .await?;
    let Some(old) = find(&mut *tx, old_hash, None).await? else {
        return Ok(RotateOutcome::Invalid);
    };
    if first == 1
        || (old.revoked_at.is_none()
            && old.expires_at > now
            && old.rotated_at.is_some_and(|t| now <= t + grace))
    {
        let successor = RefreshRow {
            family_id: old.family_id.clone(),
            ..successor
        };
        insert(&mut *tx, &successor).await?;
        tx.commit().await?;
        return Ok(RotateOutcome::Rotated(old));
    }
    if old.revoked_at.is_some() || old.expires_at <= now {
        return Ok(RotateOutcome::Invalid);
    }
    // Rotated, and presented again after the grace period: someone holds a copy. Revoke the family.
    revocations::revoke_family::<B>(&mut tx, &old.pool_id, &old.family_id, now).await?;
    tx.commit().await?;
    Ok(RotateOutcome::Reuse)
}

/// `Store::revoke_refresh_family`: the family of `token_hash`, if the token belongs to `client_id`.
pub(crate) async fn revoke_family_of<B: Backend>(
    b: &B,
    token_hash: &str,
    client_id: &ClientId,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = b.pool().begin().await?;
    B::lock_token(&mut tx, token_hash).await?;
    let row = find(&mut *tx, token_hash, Some(client_id))
        .await?
        .ok_or(StoreError::NotFound)?;
    revocations::revoke_family::<B>(&mut tx, &row.pool_id, &row.family_id, now).await?;
    tx.commit().await?;
    Ok(())
}
