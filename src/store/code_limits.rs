//! The per-user limits of the code flows, for both backends: how many codes were sent to a user and how many
//! wrong codes were tried within a window (across re-issues), and the lockout that follows. One upsert per
//! event, so concurrent requests count exactly. The SQL is written once with `$n` placeholders (SQLite reads
//! them as `?n`). Must never store a code.
use sqlx::{PgPool, SqlitePool};

use super::{CodeGate, CodePolicy, StoreError};

/// `$1` pool, `$2` username, `$3` now, `$4` window, `$5` max issued. Returns `issued, locked_until`.
const ISSUE: &str = "INSERT INTO code_limits (pool_id, username, window_start, issued, failures, locked_until) \
     VALUES ($1, $2, $3, 1, 0, 0) ON CONFLICT (pool_id, username) DO UPDATE SET \
     window_start = CASE WHEN code_limits.window_start <= $3 - $4 THEN $3 ELSE code_limits.window_start END, \
     failures = CASE WHEN code_limits.window_start <= $3 - $4 THEN 0 ELSE code_limits.failures END, \
     issued = CASE WHEN code_limits.window_start <= $3 - $4 THEN 1 \
                   WHEN code_limits.issued > $5 THEN code_limits.issued \
                   ELSE code_limits.issued + 1 END \
     RETURNING issued, locked_until";

/// `$1` pool, `$2` username, `$3` now, `$4` window, `$5` max failures, `$6` lockout. Returns `locked_until`.
const FAILURE: &str = "INSERT INTO code_limits (pool_id, username, window_start, issued, failures, locked_until) \
     VALUES ($1, $2, $3, 0, CASE WHEN 1 >= $5 THEN 0 ELSE 1 END, CASE WHEN 1 >= $5 THEN $3 + $6 ELSE 0 END) \
     ON CONFLICT (pool_id, username) DO UPDATE SET \
     window_start = CASE WHEN code_limits.window_start <= $3 - $4 THEN $3 ELSE code_limits.window_start END, \
     issued = CASE WHEN code_limits.window_start <= $3 - $4 THEN 0 ELSE code_limits.issued END, \
     failures = CASE WHEN (CASE WHEN code_limits.window_start <= $3 - $4 THEN 0 ELSE code_limits.failures END) \
                   + 1 >= $5 THEN 0 \
                   ELSE (CASE WHEN code_limits.window_start <= $3 - $4 THEN 0 ELSE code_limits.failures END) + 1 END, \
     locked_until = CASE WHEN (CASE WHEN code_limits.window_start <= $3 - $4 THEN 0 ELSE code_limits.failures END) \
                   + 1 >= $5 THEN $3 + $6 ELSE code_limits.locked_until END \
     RETURNING locked_until";

const LOCKED_UNTIL: &str =
    "SELECT locked_until FROM code_limits WHERE pool_id = $1 AND username = $2";
const DELETE_CODES: &str = "DELETE FROM codes WHERE pool_id = $1 AND username = $2";

fn sqlite(sql: &str) -> String {
    sql.replace('$', "?")
}

fn gate(issued: i64, locked_until: i64, policy: CodePolicy, now: i64) -> CodeGate {
    if locked_until > now {
        CodeGate::Locked
    } else if issued > policy.max_issued {
        CodeGate::Limited
    } else {
        CodeGate::Open
    }
}

pub(super) async fn issue_sqlite(
    pool: &SqlitePool,
    (pool_id, username): (&str, &str),
    policy: CodePolicy,
    now: i64,
) -> Result<CodeGate, StoreError> {
    let (issued, locked): (i64, i64) = sqlx::query_as(&sqlite(ISSUE))
        .bind(pool_id)
        .bind(username)
        .bind(now)
        .bind(policy.window_secs)
        .bind(policy.max_issued)
        .fetch_one(pool)
        .await?;
    Ok(gate(issued, locked, policy, now))
}

pub(super) async fn issue_postgres(
    pool: &PgPool,
    (pool_id, username): (&str, &str),
    policy: CodePolicy,
    now: i64,
) -> Result<CodeGate, StoreError> {
    let (issued, locked): (i64, i64) = sqlx::query_as(ISSUE)
        .bind(pool_id)
        .bind(username)
        .bind(now)
        .bind(policy.window_secs)
        .bind(policy.max_issued)
        .fetch_one(pool)
        .await?;
    Ok(gate(issued, locked, policy, now))
}

pub(super) async fn failure_sqlite(
    pool: &SqlitePool,
    (pool_id, username): (&str, &str),
    policy: CodePolicy,
    now: i64,
) -> Result<CodeGate, StoreError> {
    let locked: i64 = sqlx::query_scalar(&sqlite(FAILURE))
        .bind(pool_id)
        .bind(username)
        .bind(now)
        .bind(policy.window_secs)
        .bind(policy.max_failures)
        .bind(policy.lockout_secs)
        .fetch_one(pool)
        .await?;
    let g = gate(0, locked, policy, now);
    if g == CodeGate::Locked {
        sqlx::query(&sqlite(DELETE_CODES))
            .bind(pool_id)
            .bind(username)
            .execute(pool)
            .await?;
    }
    Ok(g)
}

pub(super) async fn failure_postgres(
    pool: &PgPool,
    (pool_id, username): (&str, &str),
    policy: CodePolicy,
    now: i64,
) -> Result<CodeGate, StoreError> {
    let locked: i64 = sqlx::query_scalar(FAILURE)
        .bind(pool_id)
        .bind(username)
        .bind(now)
        .bind(policy.window_secs)
        .bind(policy.max_failures)
        .bind(policy.lockout_secs)
        .fetch_one(pool)
        .await?;
    let g = gate(0, locked, policy, now);
    if g == CodeGate::Locked {
        sqlx::query(DELETE_CODES)
            .bind(pool_id)
            .bind(username)
            .execute(pool)
            .await?;
    }
    Ok(g)
}

fn open_unless_locked(locked: Option<i64>, now: i64) -> CodeGate {
    match locked {
        Some(t) if t > now => CodeGate::Locked,
        _ => CodeGate::Open,
    }
}

pub(super) async fn gate_sqlite(
    pool: &SqlitePool,
    (pool_id, username): (&str, &str),
    now: i64,
) -> Result<CodeGate, StoreError> {
    let locked: Option<i64> = sqlx::query_scalar(&sqlite(LOCKED_UNTIL))
        .bind(pool_id)
        .bind(username)
        .fetch_optional(pool)
        .await?;
    Ok(open_unless_locked(locked, now))
}

pub(super) async fn gate_postgres(
    pool: &PgPool,
    (pool_id, username): (&str, &str),
    now: i64,
) -> Result<CodeGate, StoreError> {
    let locked: Option<i64> = sqlx::query_scalar(LOCKED_UNTIL)
        .bind(pool_id)
        .bind(username)
        .fetch_optional(pool)
        .await?;
    Ok(open_unless_locked(locked, now))
}

/// `$1` pending e-mail, `$2` pool, `$3` username.
pub(super) const SET_PENDING_EMAIL: &str =
    "UPDATE users SET pending_email = $1 WHERE pool_id = $2 AND username = $3";

pub(super) async fn pending_email_sqlite(
    pool: &SqlitePool,
    (pool_id, username): (&str, &str),
    email: Option<String>,
) -> Result<(), StoreError> {
    let n = sqlx::query(&sqlite(SET_PENDING_EMAIL))
        .bind(email)
        .bind(pool_id)
        .bind(username)
        .execute(pool)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) async fn pending_email_postgres(
    pool: &PgPool,
    (pool_id, username): (&str, &str),
    email: Option<String>,
) -> Result<(), StoreError> {
    let n = sqlx::query(SET_PENDING_EMAIL)
        .bind(email)
        .bind(pool_id)
        .bind(username)
        .execute(pool)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
