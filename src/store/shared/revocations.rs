//! Revocations: ending every session of a user or of a refresh-token family (the tokens marked revoked and the
//! rows the gateway polls written in one transaction), and reading the rows back. Must never delete a row:
//! pollers rely on ids only ever being added, in order.
use crate::store::backend::{Backend, NewRevocation};
use crate::store::ids::{PoolId, Sub};
use crate::store::records::REVOCATION_COLS;
use crate::store::sql::{args, Conn};
use crate::store::{RevocationRow, StoreError};

/// Inserts one revocation row (the backend decides under which lock).
pub(crate) async fn insert_row<C: Conn>(
    c: &mut C,
    pool_id: &PoolId,
    (origin_jti, sub, not_before): NewRevocation<'_>,
    now: i64,
) -> Result<(), sqlx::Error> {
    c.exec(
        "INSERT INTO revocations (pool_id, origin_jti, sub, not_before, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
        args![pool_id, origin_jti, sub, not_before, now],
    )
    .await?;
    Ok(())
}

/// Revokes every live refresh token of `sub` and writes the `sub` revocation row. The caller holds the user's
/// lock.
pub(crate) async fn revoke_user<B: Backend>(
    c: &mut B::Conn,
    pool_id: &PoolId,
    sub: &Sub,
    not_before: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    c.exec(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE pool_id = $2 AND sub = $3 AND revoked_at IS NULL",
        args![now, pool_id, sub],
    )
    .await?;
    B::add_revocations(c, pool_id, &[(None, Some(sub), not_before)], now).await
}

/// Revokes a whole family and writes a revocation row for each of its `origin_jti`s. The caller holds the lock
/// of the family's user.
pub(crate) async fn revoke_family<B: Backend>(
    c: &mut B::Conn,
    pool_id: &PoolId,
    family_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    c.exec(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
        args![now, family_id],
    )
    .await?;
    let jtis: Vec<(String,)> = c
        .all(
            "SELECT DISTINCT origin_jti FROM refresh_tokens WHERE family_id = $1 ORDER BY origin_jti",
            args![family_id],
        )
        .await?;
    let rows: Vec<NewRevocation<'_>> = jtis
        .iter()
        .map(|(j,)| (Some(j.as_str()), None, now))
        .collect();
    B::add_revocations(c, pool_id, &rows, now).await
}

/// Rows with `id > after_id`, ordered by id, at most `limit`.
pub(crate) async fn after<C: Conn>(
    c: &mut C,
    after_id: i64,
    limit: i64,
) -> Result<Vec<RevocationRow>, StoreError> {
    Ok(c.all(
        &format!("SELECT {REVOCATION_COLS} FROM revocations WHERE id > $1 ORDER BY id LIMIT $2"),
        args![after_id, limit],
    )
    .await?)
}

/// `not_before` of the latest row for `sub`.
pub(crate) async fn latest_for_sub<C: Conn>(
    c: &mut C,
    pool_id: &PoolId,
    sub: &Sub,
) -> Result<Option<i64>, StoreError> {
    let row: Option<(i64,)> = c
        .opt(
            "SELECT not_before FROM revocations WHERE pool_id = $1 AND sub = $2 ORDER BY id DESC LIMIT 1",
            args![pool_id, sub],
        )
        .await?;
    Ok(row.map(|(n,)| n))
}

pub(crate) async fn origin_revoked<C: Conn>(
    c: &mut C,
    pool_id: &PoolId,
    origin_jti: &str,
) -> Result<bool, StoreError> {
    let (n,): (i64,) = c
        .one(
            "SELECT COUNT(*) FROM revocations WHERE origin_jti = $1 AND pool_id = $2",
            args![origin_jti, pool_id],
        )
        .await?;
    Ok(n > 0)
}
