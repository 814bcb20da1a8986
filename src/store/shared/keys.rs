//! Signing keys: the pool's live keys, oldest first, and adding one. Must never return a retired key.
use crate::store::ids::PoolId;
use crate::store::records::KEY_COLS;
use crate::store::sql::{args, Conn};
use crate::store::{KeyRow, StoreError};

pub(crate) async fn live<C: Conn>(c: &mut C, pool_id: &PoolId) -> Result<Vec<KeyRow>, StoreError> {
    Ok(c.all(
        &format!(
            "SELECT {KEY_COLS} FROM signing_keys \
             WHERE pool_id = $1 AND retired_at IS NULL ORDER BY created_at, kid"
        ),
        args![pool_id],
    )
    .await?)
}

pub(crate) async fn insert<C: Conn>(c: &mut C, key: &KeyRow) -> Result<(), sqlx::Error> {
    c.exec(
        "INSERT INTO signing_keys (kid, pool_id, pkcs8, created_at) VALUES ($1, $2, $3, $4)",
        args![&key.kid, &key.pool_id, &key.pkcs8, key.created_at],
    )
    .await?;
    Ok(())
}
