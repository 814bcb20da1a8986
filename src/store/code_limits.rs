//! The per-user limits of the code flows, for both backends: how many codes were sent to a user and how many
//! wrong codes were tried within a window (across re-issues), and the lockout that follows. One upsert per
//! event, so concurrent requests count exactly. Must never store a code.
use super::sql::{args, Conn};
use super::{CodeGate, CodePolicy, StoreError};
use crate::store::ids::PoolId;

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

fn verdict(issued: i64, locked_until: i64, policy: CodePolicy, now: i64) -> CodeGate {
    if locked_until > now {
        CodeGate::Locked
    } else if issued > policy.max_issued {
        CodeGate::Limited
    } else {
        CodeGate::Open
    }
}

pub(crate) async fn issue<C: Conn>(
    c: &mut C,
    (pool_id, username): (&PoolId, &str),
    policy: CodePolicy,
    now: i64,
) -> Result<CodeGate, StoreError> {
    let (issued, locked): (i64, i64) = c
        .one(
            ISSUE,
            args![
                pool_id,
                username,
                now,
                policy.window_secs,
                policy.max_issued
            ],
        )
        .await?;
    Ok(verdict(issued, locked, policy, now))
}

pub(crate) async fn failure<C: Conn>(
    c: &mut C,
    (pool_id, username): (&PoolId, &str),
    policy: CodePolicy,
    now: i64,
) -> Result<CodeGate, StoreError> {
    let (locked,): (i64,) = c
        .one(
            FAILURE,
            args![
                pool_id,
                username,
                now,
                policy.window_secs,
                policy.max_failures,
                policy.lockout_secs
            ],
        )
        .await?;
    let g = verdict(0, locked, policy, now);
    if g == CodeGate::Locked {
        c.exec(DELETE_CODES, args![pool_id, username]).await?;
    }
    Ok(g)
}

pub(crate) async fn gate<C: Conn>(
    c: &mut C,
    (pool_id, username): (&PoolId, &str),
    now: i64,
) -> Result<CodeGate, StoreError> {
    let locked: Option<(i64,)> = c.opt(LOCKED_UNTIL, args![pool_id, username]).await?;
    Ok(match locked {
        Some((t,)) if t > now => CodeGate::Locked,
        _ => CodeGate::Open,
    })
}
