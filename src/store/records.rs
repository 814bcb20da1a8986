//! The rows as both databases return them: the column lists the queries select into the domain types (which
//! derive `sqlx::FromRow`), and the records whose stored form differs from the domain's, with their one
//! conversion (a refresh token without a family, from before rotation, is its own family). Must never write.
use sqlx::FromRow;

use super::domain::{RefreshRow, UserRow, UserStatus};
use super::ids::{ClientId, PoolId, Sub};

pub(crate) const POOL_COLS: &str = "id, region, created_at";
pub(crate) const CLIENT_COLS: &str =
    "id, pool_id, name, auth_flows, created_at, secret, scopes, access_validity, \
     id_validity, refresh_validity, rotation, grace_seconds, allowed_origins, \
     callback_urls, logout_urls, oauth_flows, oauth_scopes, dynamic, last_used_at, secret_created_at, consent_required";
pub(crate) const KEY_COLS: &str = "kid, pool_id, pkcs8, created_at";
pub(crate) const USER_COLS: &str =
    "pool_id, sub, username, email, password_hash, status, enabled, created_at, \
     srp_salt, srp_verifier, attributes, email_verified, pending_email";
pub(crate) const REFRESH_COLS: &str =
    "token_hash, pool_id, client_id, sub, origin_jti, auth_time, created_at, \
     expires_at, revoked_at, family_id, rotated_at";
/// A refresh token and its user in one row: the token's columns as [`REFRESH_COLS`] names them, then the user's
/// that the token does not already carry (its pool and `sub` are the token's; its creation time is renamed).
pub(crate) const REFRESH_WITH_USER_COLS: &str =
    "r.token_hash, r.pool_id, r.client_id, r.sub, r.origin_jti, r.auth_time, r.created_at, \
     r.expires_at, r.revoked_at, r.family_id, r.rotated_at, u.username, u.email, u.password_hash, u.status, \
     u.enabled, u.created_at AS user_created_at, u.srp_salt, u.srp_verifier, u.attributes, u.email_verified, \
     u.pending_email";
pub(crate) const REVOCATION_COLS: &str = "id, pool_id, origin_jti, sub, not_before, created_at";

#[derive(FromRow)]
pub(crate) struct RefreshRecord {
    token_hash: String,
    pool_id: PoolId,
    client_id: ClientId,
    sub: Sub,
    origin_jti: String,
    auth_time: i64,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    /// `NULL` only in SQLite rows written before rotation existed.
    family_id: Option<String>,
    rotated_at: Option<i64>,
}

impl From<RefreshRecord> for RefreshRow {
    fn from(r: RefreshRecord) -> Self {
        RefreshRow {
            family_id: r.family_id.unwrap_or_else(|| r.token_hash.clone()),
            token_hash: r.token_hash,
            pool_id: r.pool_id,
            client_id: r.client_id,
            sub: r.sub,
            origin_jti: r.origin_jti,
            auth_time: r.auth_time,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            rotated_at: r.rotated_at,
        }
    }
}

/// [`REFRESH_WITH_USER_COLS`] read back.
#[derive(FromRow)]
pub(crate) struct RefreshWithUserRecord {
    #[sqlx(flatten)]
    refresh: RefreshRecord,
    username: String,
    email: Option<String>,
    password_hash: String,
    #[sqlx(try_from = "String")]
    status: UserStatus,
    enabled: bool,
    user_created_at: i64,
    srp_salt: Option<String>,
    srp_verifier: Option<String>,
    attributes: String,
    email_verified: bool,
    pending_email: Option<String>,
}

impl From<RefreshWithUserRecord> for (RefreshRow, UserRow) {
    fn from(r: RefreshWithUserRecord) -> Self {
        let refresh = RefreshRow::from(r.refresh);
        let user = UserRow {
            pool_id: refresh.pool_id.clone(),
            sub: refresh.sub.clone(),
            username: r.username,
            email: r.email,
            password_hash: r.password_hash,
            status: r.status,
            enabled: r.enabled,
            created_at: r.user_created_at,
            srp_salt: r.srp_salt,
            srp_verifier: r.srp_verifier,
            attributes: r.attributes,
            email_verified: r.email_verified,
            pending_email: r.pending_email,
        };
        (refresh, user)
    }
}
