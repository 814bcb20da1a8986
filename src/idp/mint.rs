//! Token minting: Cognito-shaped access and ID tokens signed RS256 with the pool's newest key, with the
//! client's lifetimes and scopes, and opaque refresh tokens stored only as hashes. Never mints a token that is
//! revoked at birth (waits out a same-second revocation). Must never log a token (use `util::log_id`).
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::{CognitoError, IdpState};
use crate::store::{ClientRow, RefreshRow, Sub, UserRow};
use crate::util::{opaque_token, sha256_hex, uuid_v4};

/// The scope every token from Cognito's API sign-in carries, and that the user API requires.
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

/// A new opaque refresh token and its stored hash.
pub fn new_refresh_token() -> (String, String) {
    let t = opaque_token(48);
    let h = sha256_hex(t.as_bytes());
    (t, h)
}

/// The row of a new refresh token.
pub fn refresh_row(
    state: &IdpState,
    token_hash: String,
    user: &UserRow,
    client: &ClientRow,
    auth_time: i64,
    now: i64,
) -> RefreshRow {
    RefreshRow {
        family_id: token_hash.clone(),
        token_hash,
        pool_id: state.pool.id.clone(),
        client_id: client.id.clone(),
        sub: user.sub.clone(),
        origin_jti: uuid_v4(),
        auth_time,
        created_at: now,
        expires_at: now + client.refresh_validity,
        revoked_at: None,
        rotated_at: None,
    }
}

/// Waits until a token minted now would not be covered by the user's latest revocation (`iat <= not_before`),
/// for at most two seconds, and returns the time to use as `iat`.
async fn after_revocation(state: &IdpState, sub: &Sub) -> Result<i64, CognitoError> {
    let mut now = state.clock.now_unix();
    if let Some(nb) = state
        .store
        .latest_sub_revocation(&state.pool.id, sub)
        .await?
    {
        if nb == i64::MAX {
            return Err(CognitoError::NotAuthorized("User is disabled.".into()));
        }
        for _ in 0..40 {
            if now > nb {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            now = state.clock.now_unix();
        }
    }
    Ok(now)
}

/// What an OAuth grant changes in the tokens: the granted scopes instead of the client's, the ID token's
/// `nonce` and `at_hash`, and the access token's `aud` (an RFC 8707 resource).
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub aud: Option<&'a str>,
}

/// OpenID Connect's `at_hash` of an RS256-signed access token: base64url of the left half of its SHA-256.
pub fn at_hash(access_token: &str) -> String {
    use base64::Engine as _;
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
}

/// Mints an access and an ID token for `user` via `client`, tied to `origin_jti`.
pub async fn access_and_id(
    state: &IdpState,
    user: &UserRow,
    client: &ClientRow,
    auth_time: i64,
    origin_jti: &str,
) -> Result<AuthenticationResult, CognitoError> {
    access_and_id_granted(state, user, client, auth_time, origin_jti, None).await
}

/// `access_and_id`, shaped by an OAuth grant when there is one.
pub async fn access_and_id_granted(
    state: &IdpState,
    user: &UserRow,
    client: &ClientRow,
    auth_time: i64,
    origin_jti: &str,
    grant: Option<Grant<'_>>,
) -> Result<AuthenticationResult, CognitoError> {
    let now = after_revocation(state, &user.sub).await?;
    let event_id = uuid_v4();
    let scope = grant.map_or(client.scopes.as_str(), |g| g.scope);
    let mut access = json!({
        "sub": user.sub,
        "iss": state.issuer,
        "client_id": client.id,
        "origin_jti": origin_jti,
        "event_id": event_id,
        "token_use": "access",
        "scope": scope,
        "auth_time": auth_time,
        "exp": now + client.access_validity,
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
        "exp": now + client.id_validity,
        "iat": now,
        "jti": uuid_v4(),
    });
    if let (Some(aud), Some(obj)) = (grant.and_then(|g| g.aud), access.as_object_mut()) {
        obj.insert("aud".into(), json!(aud));
    }
    if let (Some(nonce), Some(obj)) = (grant.and_then(|g| g.nonce), id.as_object_mut()) {
        obj.insert("nonce".into(), json!(nonce));
    }
    if let Some(obj) = id.as_object_mut() {
        let policy = &state.policy;
        if let Some(email) = &user.email {
            if super::attributes::readable(policy, &client.id, "email") {
                obj.insert("email".into(), json!(email));
                obj.insert("email_verified".into(), json!(user.email_verified));
            }
        }
        // Only declared attributes the client may read become claims; none overrides a claim set above.
        for (k, v) in super::attributes::readable_map(policy, &client.id, &user.attributes) {
            obj.entry(k).or_insert(v);
        }
    }
    let keys = state.keys.current(now).await?;
    let sign = |claims: &serde_json::Value| {
        keys.signer
            .sign(claims)
            .map_err(|e| CognitoError::Internal(format!("signing failed: {e}")))
    };
    let access_token = sign(&access)?;
    if let (Some(_), Some(obj)) = (grant, id.as_object_mut()) {
        obj.insert("at_hash".into(), json!(at_hash(&access_token)));
    }
    let id_token = sign(&id)?;
    tracing::info!(
        sub = %user.sub,
        client_id = %client.id,
        access = %crate::util::log_id(&access_token),
        "issued tokens"
    );
    Ok(AuthenticationResult {
        access_token,
        expires_in: client.access_validity,
        token_type: "Bearer",
        refresh_token: None,
        id_token,
    })
}

/// A fresh sign-in: access, ID and a refresh token that starts a new family.
pub async fn tokens_for(
    state: &IdpState,
    user: &UserRow,
    client: &ClientRow,
    auth_time: i64,
) -> Result<AuthenticationResult, CognitoError> {
    let (refresh, hash) = new_refresh_token();
    let row = refresh_row(state, hash, user, client, auth_time, state.clock.now_unix());
    let mut result = access_and_id(state, user, client, auth_time, &row.origin_jti).await?;
    state.store.insert_refresh_token(row).await?;
    result.refresh_token = Some(refresh);
    Ok(result)
}

/// Mints a client-credentials access token, as Cognito does: the client is the subject, `scope` the granted
/// resource-server scopes, no ID or refresh token; with an RFC 8707 `resource`, `aud` is that resource.
pub async fn client_credentials_access(
    state: &IdpState,
    client: &ClientRow,
    scope: &str,
    resource: Option<&str>,
) -> Result<(String, i64), CognitoError> {
    let now = state.clock.now_unix();
    let mut access = json!({
        "sub": client.id,
        "iss": state.issuer,
        "client_id": client.id,
        "token_use": "access",
        "scope": scope,
        "auth_time": now,
        "exp": now + client.access_validity,
        "iat": now,
        "jti": uuid_v4(),
        "version": 2,
    });
    if let (Some(r), Some(obj)) = (resource, access.as_object_mut()) {
        obj.insert("aud".into(), json!(r));
    }
    let keys = state.keys.current(now).await?;
    let token = keys
        .signer
        .sign(&access)
        .map_err(|e| CognitoError::Internal(format!("signing failed: {e}")))?;
    tracing::info!(
        client_id = %client.id,
        access = %crate::util::log_id(&token),
        "issued client-credentials token"
    );
    Ok((token, client.access_validity))
}
