//! The OAuth statements: deleting an app client (its refresh tokens revoked with it), resource servers, and
//! authorization codes — stored by hash, redeemed once (the refresh token and its grant stored in the same
//! transaction), a replay revoking the family the first redemption issued. Must never store a code, only its
//! hash; and the hosted page's SSO sessions, stored by the hash of their cookie's secret.
use super::{revocations, tokens};
use crate::store::backend::{Backend, NewRevocation};
use crate::store::ids::{ClientId, PoolId};
use crate::store::sql::{args, Conn};
use crate::store::{
    AuthCodeRow, GrantRow, RedeemOutcome, RefreshRow, ResourceServerRow, SsoSessionRow, StoreError,
};

const SERVER_COLS: &str = "pool_id, identifier, name, scopes, created_at";
const CODE_COLS: &str =
    "code_hash, pool_id, client_id, sub, redirect_uri, code_challenge, nonce, scope, \
     resource, auth_time, created_at, expires_at, used_at, family_id";
const GRANT_COLS: &str = "family_id, pool_id, client_id, scope, resource, created_at";
const SSO_COLS: &str = "id_hash, pool_id, sub, auth_time, created_at, expires_at";

/// How long a redeemed or expired code is kept after its expiry, so that a late replay still revokes.
const KEEP_AFTER_EXPIRY: i64 = 24 * 3600;

/// Deletes a client; every live refresh token it issued is revoked (with revocation rows for their
/// `origin_jti`s) and its codes deleted, in the caller's transaction. `NotFound` if there is no such client.
pub(crate) async fn delete_client<B: Backend>(
    c: &mut B::Conn,
    pool_id: &PoolId,
    client_id: &ClientId,
    now: i64,
) -> Result<(), StoreError> {
    let n = c
        .exec(
            "DELETE FROM app_clients WHERE pool_id = $1 AND id = $2",
            args![pool_id, client_id],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    c.exec(
        "DELETE FROM oauth_codes WHERE pool_id = $1 AND client_id = $2",
        args![pool_id, client_id],
    )
    .await?;
    let jtis: Vec<(String,)> = c
        .all(
            "SELECT DISTINCT origin_jti FROM refresh_tokens WHERE pool_id = $1 AND client_id = $2 \
             AND revoked_at IS NULL ORDER BY origin_jti",
            args![pool_id, client_id],
        )
        .await?;
    c.exec(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE pool_id = $2 AND client_id = $3 \
         AND revoked_at IS NULL",
        args![now, pool_id, client_id],
    )
    .await?;
    let rows: Vec<NewRevocation<'_>> = jtis
        .iter()
        .map(|(j,)| (Some(j.as_str()), None, now))
        .collect();
    if !rows.is_empty() {
        B::add_revocations(c, pool_id, &rows, now).await?;
    }
    Ok(())
}

pub(crate) async fn insert_server<C: Conn>(
    c: &mut C,
    row: &ResourceServerRow,
) -> Result<(), StoreError> {
    let scopes = row.scopes.to_json();
    c.exec(
        &format!("INSERT INTO resource_servers ({SERVER_COLS}) VALUES ($1, $2, $3, $4, $5)"),
        args![
            &row.pool_id,
            &row.identifier,
            &row.name,
            &scopes,
            row.created_at
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn servers<C: Conn>(
    c: &mut C,
    pool_id: &PoolId,
) -> Result<Vec<ResourceServerRow>, StoreError> {
    Ok(c.all(
        &format!(
            "SELECT {SERVER_COLS} FROM resource_servers WHERE pool_id = $1 ORDER BY identifier"
        ),
        args![pool_id],
    )
    .await?)
}

pub(crate) async fn delete_server<C: Conn>(
    c: &mut C,
    pool_id: &PoolId,
    identifier: &str,
) -> Result<(), StoreError> {
    let n = c
        .exec(
            "DELETE FROM resource_servers WHERE pool_id = $1 AND identifier = $2",
            args![pool_id, identifier],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Stores a new code and drops codes long past their expiry.
pub(crate) async fn put_code<C: Conn>(
    c: &mut C,
    row: &AuthCodeRow,
    now: i64,
) -> Result<(), StoreError> {
    c.exec(
        "DELETE FROM oauth_codes WHERE expires_at < $1",
        args![now - KEEP_AFTER_EXPIRY],
    )
    .await?;
    c.exec(
        &format!(
            "INSERT INTO oauth_codes ({CODE_COLS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ),
        args![
            &row.code_hash,
            &row.pool_id,
            &row.client_id,
            &row.sub,
            &row.redirect_uri,
            &row.code_challenge,
            &row.nonce,
            &row.scope,
            &row.resource,
            row.auth_time,
            row.created_at,
            row.expires_at,
            row.used_at,
            &row.family_id
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn find_code<C: Conn>(
    c: &mut C,
    code_hash: &str,
) -> Result<Option<AuthCodeRow>, sqlx::Error> {
    c.opt(
        &format!("SELECT {CODE_COLS} FROM oauth_codes WHERE code_hash = $1"),
        args![code_hash],
    )
    .await
}

/// `Store::redeem_auth_code`. Its first statement is the conditional update (SQLite takes the write lock
/// there; on PostgreSQL the row lock makes a concurrent redemption wait), which lets exactly one redemption be
/// the first; then the code's user is locked for the revocation a replay writes.
pub(crate) async fn redeem<B: Backend>(
    b: &B,
    code_hash: &str,
    refresh: Option<RefreshRow>,
    now: i64,
) -> Result<RedeemOutcome, StoreError> {
    let mut tx = b.pool().begin().await?;
    let family = refresh.as_ref().map(|r| r.family_id.clone());
    let first = tx
        .exec(
            "UPDATE oauth_codes SET used_at = $1, family_id = $2 WHERE code_hash = $3 \
             AND used_at IS NULL AND expires_at > $1",
            args![now, &family, code_hash],
        )
        .await?;
    let Some(code) = find_code(&mut *tx, code_hash).await? else {
        return Ok(RedeemOutcome::Invalid);
    };
    B::lock_sub(&mut tx, &code.sub).await?;
    if first == 1 {
        if let Some(r) = &refresh {
            tokens::insert(&mut *tx, r).await?;
            tx.exec(
                &format!("INSERT INTO oauth_grants ({GRANT_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"),
                args![
                    &r.family_id,
                    &code.pool_id,
                    &code.client_id,
                    &code.scope,
                    &code.resource,
                    now
                ],
            )
            .await?;
        }
        tx.commit().await?;
        return Ok(RedeemOutcome::Redeemed(Box::new(code)));
    }
    if code.used_at.is_none() {
        // Expired before anyone redeemed it.
        return Ok(RedeemOutcome::Invalid);
    }
    if let Some(family) = &code.family_id {
        revocations::revoke_family::<B>(&mut tx, &code.pool_id, family, now).await?;
        tx.commit().await?;
    }
    Ok(RedeemOutcome::Replayed)
}

pub(crate) async fn grant<C: Conn>(
    c: &mut C,
    family_id: &str,
) -> Result<Option<GrantRow>, StoreError> {
    Ok(c.opt(
        &format!("SELECT {GRANT_COLS} FROM oauth_grants WHERE family_id = $1"),
        args![family_id],
    )
    .await?)
}

/// Stores a new SSO session and drops expired ones.
pub(crate) async fn put_sso<C: Conn>(
    c: &mut C,
    row: &SsoSessionRow,
    now: i64,
) -> Result<(), StoreError> {
    c.exec(
        "DELETE FROM sso_sessions WHERE expires_at <= $1",
        args![now],
    )
    .await?;
    c.exec(
        &format!("INSERT INTO sso_sessions ({SSO_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"),
        args![
            &row.id_hash,
            &row.pool_id,
            &row.sub,
            row.auth_time,
            row.created_at,
            row.expires_at
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn find_sso<C: Conn>(
    c: &mut C,
    id_hash: &str,
    now: i64,
) -> Result<Option<SsoSessionRow>, sqlx::Error> {
    c.opt(
        &format!("SELECT {SSO_COLS} FROM sso_sessions WHERE id_hash = $1 AND expires_at > $2"),
        args![id_hash, now],
    )
    .await
}

pub(crate) async fn delete_sso<C: Conn>(c: &mut C, id_hash: &str) -> Result<(), StoreError> {
    c.exec(
        "DELETE FROM sso_sessions WHERE id_hash = $1",
        args![id_hash],
    )
    .await?;
    Ok(())
}
