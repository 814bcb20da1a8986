//! The statements of clients nobody pre-registered: a client's last use (written at most hourly, so the token
//! endpoint does not write on every request), the sweep of dynamically registered clients unused for long
//! (deleted as `delete_client` deletes, their tokens revoked), and the initial access tokens of token-gated
//! registration. Must never store an initial access token, only its hash, nor delete a client that was not
//! dynamically registered.
use super::oauth;
use crate::store::backend::Backend;
use crate::store::ids::{ClientId, PoolId};
use crate::store::sql::{args, Conn};
use crate::store::StoreError;

/// A client's `last_used_at` is rewritten only when it is older than this, seconds.
pub(crate) const TOUCH_RESOLUTION: i64 = 3600;

pub(crate) async fn touch<C: Conn>(
    c: &mut C,
    pool_id: &PoolId,
    client_id: &ClientId,
    now: i64,
) -> Result<(), StoreError> {
    c.exec(
        "UPDATE app_clients SET last_used_at = $1 WHERE pool_id = $2 AND id = $3 \
         AND (last_used_at IS NULL OR last_used_at < $4)",
        args![now, pool_id, client_id, now - TOUCH_RESOLUTION],
    )
    .await?;
    Ok(())
}

/// Deletes the pool's dynamically registered clients last used (or, never used, created) before `cutoff`, in
/// the caller's transaction; their ids.
pub(crate) async fn sweep<B: Backend>(
    c: &mut B::Conn,
    pool_id: &PoolId,
    cutoff: i64,
    now: i64,
) -> Result<Vec<ClientId>, StoreError> {
    let ids: Vec<(ClientId,)> = c
        .all(
            "SELECT id FROM app_clients WHERE pool_id = $1 AND dynamic = $2 \
             AND COALESCE(last_used_at, created_at) < $3 ORDER BY id",
            args![pool_id, true, cutoff],
        )
        .await?;
    let mut gone = Vec::with_capacity(ids.len());
    for (id,) in ids {
        oauth::delete_client::<B>(c, pool_id, &id, now).await?;
        gone.push(id);
    }
    Ok(gone)
}

pub(crate) async fn add_token<C: Conn>(
    c: &mut C,
    pool_id: &PoolId,
    token_hash: &str,
    now: i64,
) -> Result<(), StoreError> {
    c.exec(
        "INSERT INTO registration_tokens (token_hash, pool_id, created_at) VALUES ($1, $2, $3)",
        args![token_hash, pool_id, now],
    )
    .await?;
    Ok(())
}

pub(crate) async fn token_exists<C: Conn>(
    c: &mut C,
    pool_id: &PoolId,
    token_hash: &str,
) -> Result<bool, StoreError> {
    let row: Option<(String,)> = c
        .opt(
            "SELECT token_hash FROM registration_tokens WHERE pool_id = $1 AND token_hash = $2",
            args![pool_id, token_hash],
        )
        .await?;
    Ok(row.is_some())
}
