//! Token minting: Cognito-shaped access and ID tokens signed RS256 with the pool's key, and opaque refresh
//! tokens stored only as hashes. Must never log a token (use `util::log_id`).
use serde::Serialize;
use serde_json::json;

use super::{CognitoError, IdpState};
use crate::store::{ClientRow, RefreshRow, UserRow};
use crate::util::{opaque_token, sha256_hex, uuid_v4};

/// The only scope a token from Cognito's API sign-in carries.
pub const SIGNIN_SCOPE: &str = "aws.cognito.signin.user.admin";

/// Cognito's `AuthenticationResultType`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthenticationResult {
    pub access_token: String,
    pub expires_in: i64,
    pub token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub id_token: String,
}

/// Mints an access token, an ID token and (for a fresh sign-in) a refresh token for `user` via `client`.
pub async fn tokens_for(
    state: &IdpState,
    user: &UserRow,
    client: &ClientRow,
    auth_time: i64,
) -> Result<AuthenticationResult, CognitoError> {
    let now = state.clock.now_unix();
    let origin_jti = uuid_v4();
    let event_id = uuid_v4();
    let access = json!({
        "sub": user.sub,
        "iss": state.issuer,
        "client_id": client.id,
        "origin_jti": origin_jti,
        "event_id": event_id,
        "token_use": "access",
        "scope": SIGNIN_SCOPE,
        "auth_time": auth_time,
        "exp": now + state.lifetimes.access,
        "iat": now,
        "jti": uuid_v4(),
        "username": user.username,
    });
    let mut id = json!({
        "sub": user.sub,
        "aud": client.id,
        "iss": state.issuer,
        "cognito:username": user.username,
        "origin_jti": origin_jti,
        "event_id": event_id,
        "token_use": "id",
        "auth_time": auth_time,
        "exp": now + state.lifetimes.id,
        "iat": now,
        "jti": uuid_v4(),
    });
    if let (Some(email), Some(obj)) = (&user.email, id.as_object_mut()) {
        obj.insert("email".into(), json!(email));
        obj.insert("email_verified".into(), json!(false));
    }
    let sign = |claims: &serde_json::Value| {
        state
            .signer
            .sign(claims)
            .map_err(|e| CognitoError::Internal(format!("signing failed: {e}")))
    };
    let access_token = sign(&access)?;
    let id_token = sign(&id)?;

    let refresh = opaque_token(48);
    state
        .store
        .insert_refresh_token(RefreshRow {
            token_hash: sha256_hex(refresh.as_bytes()),
            pool_id: state.pool.id.clone(),
            client_id: client.id.clone(),
            sub: user.sub.clone(),
            origin_jti,
            auth_time,
            created_at: now,
            expires_at: now + state.lifetimes.refresh,
            revoked_at: None,
        })
        .await?;
    tracing::info!(
        sub = %user.sub,
        client_id = %client.id,
        access = %crate::util::log_id(&access_token),
        "issued tokens"
    );
    Ok(AuthenticationResult {
        access_token,
        expires_in: state.lifetimes.access,
        token_type: "Bearer",
        refresh_token: Some(refresh),
        id_token,
    })
}
