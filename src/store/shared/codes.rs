//! One-time codes: storing one (replacing the user's earlier code of that purpose), consuming a matching one, the
//! effect a correct code has on the user, and a wrong attempt's bookkeeping. Must never store a code, only its
//! hash.
use super::revocations;
use crate::store::backend::Backend;
use crate::store::ids::PoolId;
use crate::store::sql::{args, Conn};
use crate::store::{CodeCheck, CodeEffect, CodePurpose, CodeRow, StoreError, UserStatus};

/// The user a code belongs to and its purpose: `(pool_id, username, purpose)`.
pub(crate) type CodeKey<'a> = (&'a PoolId, &'a str, CodePurpose);

/// Adds a code; a `Conflict` if the user already has one of that purpose.
pub(crate) async fn insert<C: Conn>(c: &mut C, code: &CodeRow) -> Result<(), sqlx::Error> {
    write(c, code, "").await
}

/// Stores a code, replacing the user's earlier code of the same purpose (and its attempts).
pub(crate) async fn put<C: Conn>(c: &mut C, code: &CodeRow) -> Result<(), sqlx::Error> {
    let replace = " ON CONFLICT (pool_id, username, purpose) DO UPDATE SET \
         code_hash = excluded.code_hash, expires_at = excluded.expires_at, attempts = 0, \
         created_at = excluded.created_at";
    write(c, code, replace).await
}

/// Inserts a code with no attempts yet, `on_conflict` saying what a code already there becomes.
async fn write<C: Conn>(c: &mut C, code: &CodeRow, on_conflict: &str) -> Result<(), sqlx::Error> {
    c.exec(
        &format!(
            "INSERT INTO codes (pool_id, username, purpose, code_hash, expires_at, attempts, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6){on_conflict}"
        ),
        args![
            &code.pool_id,
            &code.username,
            code.purpose,
            &code.code_hash,
            code.expires_at,
            code.created_at
        ],
    )
    .await?;
    Ok(())
}

/// Deletes the code if `code_hash` matches, it has not expired and attempts remain: whether it did. Of two
/// concurrent uses, the second waits for the first and then finds nothing to delete.
pub(crate) async fn consume<C: Conn>(
    c: &mut C,
    (pool_id, username, purpose): CodeKey<'_>,
    code_hash: &str,
    max_attempts: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n = c
        .exec(
            "DELETE FROM codes WHERE pool_id = $1 AND username = $2 AND purpose = $3 AND code_hash = $4 \
             AND expires_at > $5 AND attempts < $6",
            args![pool_id, username, purpose, code_hash, now, max_attempts],
        )
        .await?;
    Ok(n == 1)
}

/// Applies a consumed code's effect to the user. Returns whether every session of the user must now be revoked
/// (a password reset), which the caller does in the same transaction.
pub(crate) async fn apply<C: Conn>(
    c: &mut C,
    (pool_id, username): (&PoolId, &str),
    effect: &CodeEffect,
) -> Result<bool, sqlx::Error> {
    let who = args![pool_id, username];
    match effect {
        CodeEffect::Confirm => {
            c.exec(
                "UPDATE users SET status = $3, email_verified = TRUE \
                 WHERE pool_id = $1 AND username = $2",
                args![pool_id, username, UserStatus::Confirmed],
            )
            .await?;
            Ok(false)
        }
        CodeEffect::ResetPassword(u) => {
            super::users::write_password(c, (pool_id, username), u).await?;
            c.exec(
                "UPDATE users SET email_verified = TRUE WHERE pool_id = $1 AND username = $2",
                who,
            )
            .await?;
            Ok(true)
        }
        CodeEffect::VerifyEmail => {
            c.exec(
                "UPDATE users SET email = COALESCE(pending_email, email), email_verified = TRUE, \
                 pending_email = NULL WHERE pool_id = $1 AND username = $2",
                who,
            )
            .await?;
            Ok(false)
        }
    }
}

/// Counts a wrong attempt atomically (an expired or missing code is not counted); at `max_attempts` the code
/// is gone.
pub(crate) async fn wrong_attempt<C: Conn>(
    c: &mut C,
    key: CodeKey<'_>,
    max_attempts: i64,
    now: i64,
) -> Result<CodeCheck, sqlx::Error> {
    let (pool_id, username, purpose) = key;
    let attempts: Option<(i64,)> = c
        .opt(
            "UPDATE codes SET attempts = attempts + 1 \
             WHERE pool_id = $1 AND username = $2 AND purpose = $3 AND expires_at > $4 RETURNING attempts",
            args![pool_id, username, purpose, now],
        )
        .await?;
    Ok(match attempts {
        None => CodeCheck::Expired,
        Some((n,)) if n >= max_attempts => {
            c.exec(
                "DELETE FROM codes WHERE pool_id = $1 AND username = $2 AND purpose = $3",
                args![pool_id, username, purpose],
            )
            .await?;
            CodeCheck::TooManyAttempts
        }
        Some(_) => CodeCheck::Mismatch,
    })
}

/// `Store::use_code`: under the user's lock, a matching code is consumed and its effect applied (a password
/// reset also revokes every session of the user); a wrong one counts an attempt. One transaction.
pub(crate) async fn use_code<B: Backend>(
    b: &B,
    key: CodeKey<'_>,
    code_hash: &str,
    max_attempts: i64,
    effect: &CodeEffect,
    now: i64,
) -> Result<CodeCheck, StoreError> {
    let (pool_id, username, _) = key;
    let mut tx = b.pool().begin().await?;
    let sub = match B::lock_username(&mut tx, pool_id, username).await {
        Ok(s) => s,
        Err(StoreError::NotFound) => return Ok(CodeCheck::Expired),
        Err(e) => return Err(e),
    };
    if consume(&mut *tx, key, code_hash, max_attempts, now).await? {
        if apply(&mut *tx, (pool_id, username), effect).await? {
            revocations::revoke_user::<B>(&mut tx, pool_id, &sub, now, now).await?;
        }
        tx.commit().await?;
        return Ok(CodeCheck::Ok);
    }
    let outcome = wrong_attempt(&mut *tx, key, max_attempts, now).await?;
    tx.commit().await?;
    Ok(outcome)
}
