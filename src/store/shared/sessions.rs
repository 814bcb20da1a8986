//! Runtimes and their sessions: a runtime's stable ARN, a session's first owner (the first binding wins), which
//! instance runs a session's process (the first claim wins), and sign-ins in progress kept for shared stores.
//! Must never rebind a session to another owner.
use crate::store::sql::{args, Conn};
use crate::store::{SessionOwner, StoreError};

/// A session of a runtime: `(runtime_arn, session_id)`.
pub(crate) type SessionKey<'a> = (&'a str, &'a str);

/// Records `candidate_arn` unless the runtime has one, then reads it. The caller runs it in one transaction.
pub(crate) async fn ensure_runtime_arn<C: Conn>(
    c: &mut C,
    name: &str,
    candidate_arn: &str,
    now: i64,
) -> Result<String, StoreError> {
    c.exec(
        "INSERT INTO runtimes (name, arn, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        args![name, candidate_arn, now],
    )
    .await?;
    let (arn,): (String,) = c
        .one("SELECT arn FROM runtimes WHERE name = $1", args![name])
        .await?;
    Ok(arn)
}

/// Binds the session unless it is bound, then reads whichever binding won. The caller runs it in one
/// transaction: the insert waits for a concurrent binder of the same session and then does nothing.
pub(crate) async fn bind<C: Conn>(
    c: &mut C,
    (runtime_arn, session_id): SessionKey<'_>,
    owner: &SessionOwner,
    now: i64,
) -> Result<SessionOwner, StoreError> {
    c.exec(
        "INSERT INTO session_bindings (runtime_arn, session_id, issuer, sub, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (runtime_arn, session_id) DO NOTHING",
        args![runtime_arn, session_id, &owner.issuer, &owner.sub, now],
    )
    .await?;
    Ok(c.one(
        "SELECT issuer, sub FROM session_bindings WHERE runtime_arn = $1 AND session_id = $2",
        args![runtime_arn, session_id],
    )
    .await?)
}

pub(crate) async fn owner<C: Conn>(
    c: &mut C,
    (runtime_arn, session_id): SessionKey<'_>,
) -> Result<Option<SessionOwner>, StoreError> {
    Ok(c.opt(
        "SELECT issuer, sub FROM session_bindings WHERE runtime_arn = $1 AND session_id = $2",
        args![runtime_arn, session_id],
    )
    .await?)
}

/// Records `instance` unless another is recorded (the conditional update takes the row's write lock), then
/// reads whichever claim won. The caller runs it in one transaction.
pub(crate) async fn claim_instance<C: Conn>(
    c: &mut C,
    key: SessionKey<'_>,
    instance: &str,
) -> Result<Option<String>, StoreError> {
    c.exec(
        "UPDATE session_bindings SET instance = $1 \
         WHERE runtime_arn = $2 AND session_id = $3 AND instance IS NULL",
        args![instance, key.0, key.1],
    )
    .await?;
    self::instance(c, key).await
}

pub(crate) async fn release_instance<C: Conn>(
    c: &mut C,
    (runtime_arn, session_id): SessionKey<'_>,
    instance: &str,
) -> Result<(), StoreError> {
    c.exec(
        "UPDATE session_bindings SET instance = NULL \
         WHERE runtime_arn = $1 AND session_id = $2 AND instance = $3",
        args![runtime_arn, session_id, instance],
    )
    .await?;
    Ok(())
}

pub(crate) async fn instance<C: Conn>(
    c: &mut C,
    (runtime_arn, session_id): SessionKey<'_>,
) -> Result<Option<String>, StoreError> {
    let v: Option<(Option<String>,)> = c
        .opt(
            "SELECT instance FROM session_bindings WHERE runtime_arn = $1 AND session_id = $2",
            args![runtime_arn, session_id],
        )
        .await?;
    Ok(v.and_then(|(i,)| i))
}

/// Stores (or replaces) a sign-in in progress, and drops expired ones.
pub(crate) async fn put_pending<C: Conn>(
    c: &mut C,
    key_hash: &str,
    payload: &str,
    expires_at: i64,
    now: i64,
) -> Result<(), StoreError> {
    c.exec(
        "DELETE FROM pending_auths WHERE expires_at <= $1",
        args![now],
    )
    .await?;
    c.exec(
        "INSERT INTO pending_auths (key_hash, payload, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key_hash) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at",
        args![key_hash, payload, expires_at],
    )
    .await?;
    Ok(())
}

/// Takes (deletes) a sign-in in progress; its payload if it has not expired.
pub(crate) async fn take_pending<C: Conn>(
    c: &mut C,
    key_hash: &str,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let row: Option<(String, i64)> = c
        .opt(
            "DELETE FROM pending_auths WHERE key_hash = $1 RETURNING payload, expires_at",
            args![key_hash],
        )
        .await?;
    Ok(row.and_then(|(payload, expires_at)| (expires_at > now).then_some(payload)))
}
