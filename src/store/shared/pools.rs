//! Pools and app clients: the default pool and client, created once however many instances race, and the
//! clients of a pool, a client's OAuth settings replaced. Must never delete a pool (a client's deletion is in `oauth`).
use crate::store::ids::{ClientId, PoolId};
use crate::store::records::{CLIENT_COLS, POOL_COLS};
use crate::store::sql::{args, Conn};
use crate::store::{ClientOAuth, ClientRow, PoolRow, StoreError};

/// Inserts the default pool and client unless there are some, then reads whichever won. The caller runs it in
/// one transaction (an insert that loses waits for the winner and then does nothing).
pub(crate) async fn ensure_default<C: Conn>(
    c: &mut C,
    pool: &PoolRow,
    client: &ClientRow,
) -> Result<(PoolRow, ClientRow), StoreError> {
    c.exec(
        "INSERT INTO user_pools (id, region, slot, created_at) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (slot) DO NOTHING",
        args![&pool.id, &pool.region, pool.created_at],
    )
    .await?;
    let pool: PoolRow = c
        .one(
            &format!("SELECT {POOL_COLS} FROM user_pools WHERE slot = 1"),
            args![],
        )
        .await?;
    c.exec(
        "INSERT INTO app_clients (id, pool_id, name, slot, auth_flows, created_at, allowed_origins) \
         VALUES ($1, $2, $3, 1, $4, $5, $6) ON CONFLICT (pool_id, slot) DO NOTHING",
        args![
            &client.id,
            &pool.id,
            &client.name,
            &client.auth_flows,
            client.created_at,
            &client.allowed_origins
        ],
    )
    .await?;
    let client = c
        .one(
            &format!("SELECT {CLIENT_COLS} FROM app_clients WHERE pool_id = $1 AND slot = 1"),
            args![&pool.id],
        )
        .await?;
    Ok((pool, client))
}

pub(crate) async fn clients<C: Conn>(
    c: &mut C,
    pool_id: &PoolId,
) -> Result<Vec<ClientRow>, StoreError> {
    Ok(c.all(
        &format!(
            "SELECT {CLIENT_COLS} FROM app_clients WHERE pool_id = $1 ORDER BY created_at, id"
        ),
        args![pool_id],
    )
    .await?)
}

pub(crate) async fn create_client<C: Conn>(c: &mut C, cl: &ClientRow) -> Result<(), StoreError> {
    c.exec(
        "INSERT INTO app_clients (id, pool_id, name, auth_flows, created_at, secret, scopes, \
         access_validity, id_validity, refresh_validity, rotation, grace_seconds, allowed_origins, \
         callback_urls, logout_urls, oauth_flows, oauth_scopes, dynamic, last_used_at, \
         secret_created_at, consent_required) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21)",
        args![
            &cl.id,
            &cl.pool_id,
            &cl.name,
            &cl.auth_flows,
            cl.created_at,
            &cl.secret,
            &cl.scopes,
            cl.access_validity,
            cl.id_validity,
            cl.refresh_validity,
            cl.rotation,
            cl.grace_seconds,
            &cl.allowed_origins,
            &cl.callback_urls,
            &cl.logout_urls,
            &cl.oauth_flows,
            &cl.oauth_scopes,
            cl.dynamic,
            cl.last_used_at,
            cl.secret_created_at,
            cl.consent_required
        ],
    )
    .await?;
    Ok(())
}

/// Replaces a client's OAuth settings (callback and logout URLs, flows, scopes); `NotFound` if there is none.
pub(crate) async fn set_client_oauth<C: Conn>(
    c: &mut C,
    pool_id: &PoolId,
    client_id: &ClientId,
    s: &ClientOAuth,
) -> Result<(), StoreError> {
    let n = c
        .exec(
            "UPDATE app_clients SET callback_urls = $3, logout_urls = $4, oauth_flows = $5, \
             oauth_scopes = $6 WHERE pool_id = $1 AND id = $2",
            args![
                pool_id,
                client_id,
                &s.callback_urls,
                &s.logout_urls,
                &s.oauth_flows,
                &s.oauth_scopes
            ],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
