//! Refresh tokens: `REFRESH_TOKEN_AUTH` (new access + ID token, no new refresh token), `GetTokensFromRefreshToken`
//! with rotation for clients that enable it (the old token valid only for the grace period, reuse after it
//! revokes the family — atomically in the store), and `RevokeToken`. A refresh that races a revocation never
//! returns a live token. Must never log a refresh token (log `util::log_id`).
use serde::Deserialize;

use super::client_auth::{check_client_secret, check_secret_hash, required_client};
use super::mint::{
    access_and_id_granted, new_refresh_token, refresh_row, AuthenticationResult, Grant,
};
use super::wire::null_member;
use super::{CognitoError, IdpState};
use crate::store::{ClientRow, GrantRow, RefreshRow, RotateOutcome, StoreError, UserRow};
use crate::util::sha256_hex;

/// The shortest effective grace period, seconds (see `get_tokens`).
pub const MIN_GRACE: i64 = 1;

fn invalid() -> CognitoError {
    CognitoError::NotAuthorized("Invalid Refresh Token".into())
}

fn revoked() -> CognitoError {
    CognitoError::NotAuthorized("Refresh Token has been revoked".into())
}

/// Loads and checks a presented refresh token and its user: one store round trip (the token joined with its
/// user); only a token that is missing or whose user is gone costs a second, to say which.
async fn usable(
    state: &IdpState,
    client: &ClientRow,
    token: &str,
) -> Result<(RefreshRow, UserRow), CognitoError> {
    if token.len() > 512 {
        return Err(invalid());
    }
    let hash = sha256_hex(token.as_bytes());
    let Some((row, user)) = state.store.find_refresh_token_with_user(&hash).await? else {
        return Err(missing(state, client, &hash).await);
    };
    check_row(state, client, &row)?;
    if !user.enabled {
        return Err(CognitoError::NotAuthorized("User is disabled.".into()));
    }
    Ok((row, user))
}

/// The refusal for a token the joined lookup did not find: unknown, or (its user deleted) revoked.
async fn missing(state: &IdpState, client: &ClientRow, hash: &str) -> CognitoError {
    match state.store.find_refresh_token(hash).await {
        Ok(row) => check_row(state, client, &row).err().unwrap_or_else(revoked),
        Err(StoreError::NotFound) => invalid(),
        Err(e) => e.into(),
    }
}

/// The token is this client's, of this pool, not revoked and not expired.
fn check_row(state: &IdpState, client: &ClientRow, row: &RefreshRow) -> Result<(), CognitoError> {
    if row.client_id != client.id || row.pool_id != state.pool.id {
        return Err(invalid());
    }
    if row.revoked_at.is_some() {
        return Err(revoked());
    }
    if row.expires_at <= state.clock.now_unix() {
        return Err(CognitoError::NotAuthorized(
            "Refresh Token has expired".into(),
        ));
    }
    Ok(())
}

/// The OAuth grant behind a refresh family (scope and resource of an authorization-code sign-in), if any.
async fn grant_of(state: &IdpState, row: &RefreshRow) -> Result<Option<GrantRow>, CognitoError> {
    Ok(state.store.oauth_grant(&row.family_id).await?)
}

fn as_grant(g: &GrantRow) -> Grant<'_> {
    Grant {
        scope: &g.scope,
        nonce: None,
        aud: g.resource.as_deref(),
    }
}

/// Re-reads the row after minting: a revocation that committed meanwhile wins, and the minted tokens are dropped.
async fn still_live(state: &IdpState, token_hash: &str) -> Result<(), CognitoError> {
    match state.store.find_refresh_token(token_hash).await {
        Ok(r) if r.revoked_at.is_none() => Ok(()),
        Ok(_) | Err(StoreError::NotFound) => Err(revoked()),
        Err(e) => Err(e.into()),
    }
}

async fn without_rotation(
    state: &IdpState,
    client: &ClientRow,
    row: &RefreshRow,
    user: &UserRow,
) -> Result<AuthenticationResult, CognitoError> {
    if row.rotated_at.is_some() {
        return Err(invalid());
    }
    let grant = grant_of(state, row).await?;
    let result = access_and_id_granted(
        state,
        user,
        client,
        row.auth_time,
        &row.origin_jti,
        grant.as_ref().map(as_grant),
    )
    .await?;
    still_live(state, &row.token_hash).await?;
    Ok(result)
}

/// `InitiateAuth` `REFRESH_TOKEN_AUTH` / `REFRESH_TOKEN`.
pub async fn refresh_token_auth(
    state: &IdpState,
    client: &ClientRow,
    token: &str,
    secret_hash: Option<&str>,
) -> Result<AuthenticationResult, CognitoError> {
    if client.rotation {
        return Err(CognitoError::NotAuthorized(
            "Refresh token rotation is enabled for this client; use GetTokensFromRefreshToken."
                .into(),
        ));
    }
    let (row, user) = usable(state, client, token).await?;
    // For refresh, SECRET_HASH is computed over the pool's internal username.
    check_secret_hash(client, &user.username, secret_hash)?;
    without_rotation(state, client, &row, &user).await
}

/// `GetTokensFromRefreshTokenRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetTokensRequest {
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// `{"AuthenticationResult": …}`.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetTokensResponse {
    pub authentication_result: AuthenticationResult,
}

/// `GetTokensFromRefreshToken`.
pub async fn get_tokens(
    state: &IdpState,
    req: GetTokensRequest,
) -> Result<GetTokensResponse, CognitoError> {
    let client = required_client(state, req.client_id.as_deref()).await?;
    let token = req
        .refresh_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| null_member("refreshToken"))?;
    check_client_secret(&client, req.client_secret.as_deref())?;
    get_tokens_for(state, &client, &token).await
}

/// `GetTokensFromRefreshToken` for a client already authenticated (the OAuth token endpoint's).
pub async fn get_tokens_for(
    state: &IdpState,
    client: &ClientRow,
    token: &str,
) -> Result<GetTokensResponse, CognitoError> {
    let client = client.clone();
    let (row, user) = match usable(state, &client, token).await {
        // A revoked token may be a rotated one presented after its family died: still say "revoked".
        Err(e) => return Err(e),
        Ok(v) => v,
    };
    if !client.rotation {
        let result = without_rotation(state, &client, &row, &user).await?;
        return Ok(GetTokensResponse {
            authentication_result: result,
        });
    }
    let now = state.clock.now_unix();
    let (new_token, new_hash) = new_refresh_token();
    let successor = refresh_row(state, new_hash.clone(), &user, &client, row.auth_time, now);
    let origin = successor.origin_jti.clone();
    // Times have one-second resolution: even with a grace period of 0, a refresh in the rotation's second or the
    // next is a concurrent duplicate, not a stolen copy — so concurrent refreshes never revoke the family.
    let grace = client.grace_seconds.max(MIN_GRACE);
    match state
        .store
        .rotate_refresh_token(&row.token_hash, successor, grace, now)
        .await?
    {
        RotateOutcome::Rotated(_) => {}
        RotateOutcome::Invalid => return Err(revoked()),
        RotateOutcome::Reuse => {
            tracing::warn!(
                sub = %user.sub,
                client_id = %client.id,
                token = %crate::util::log_id(token),
                "rotated refresh token reused after its grace period; family revoked"
            );
            return Err(CognitoError::RefreshTokenReuse);
        }
    }
    let grant = grant_of(state, &row).await?;
    let mut result = access_and_id_granted(
        state,
        &user,
        &client,
        row.auth_time,
        &origin,
        grant.as_ref().map(as_grant),
    )
    .await?;
    still_live(state, &new_hash).await?;
    result.refresh_token = Some(new_token);
    Ok(GetTokensResponse {
        authentication_result: result,
    })
}

/// `RevokeTokenRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RevokeRequest {
    pub token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// `RevokeToken`: revokes the refresh token's whole family and every access/ID token minted from it.
pub async fn revoke_token(
    state: &IdpState,
    req: RevokeRequest,
) -> Result<serde_json::Value, CognitoError> {
    let client = required_client(state, req.client_id.as_deref()).await?;
    let token = req
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| null_member("token"))?;
    check_client_secret(&client, req.client_secret.as_deref())?;
    if token.matches('.').count() == 2 || token.len() > 512 {
        return Err(CognitoError::UnsupportedTokenType);
    }
    let hash = sha256_hex(token.as_bytes());
    match state
        .store
        .revoke_refresh_family(&hash, &client.id, state.clock.now_unix())
        .await
    {
        Ok(()) => Ok(serde_json::json!({})),
        Err(StoreError::NotFound) => match state.store.find_refresh_token(&hash).await {
            // Another client's token: not this caller's to revoke.
            Ok(_) => Err(CognitoError::Unauthorized),
            // An unknown token is already as revoked as it can be (RFC 7009 section 2.2).
            Err(StoreError::NotFound) => Ok(serde_json::json!({})),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}
