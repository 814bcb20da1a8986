//! The operations a signed-in user calls with an access token in the body: `GetUser`, `ChangePassword`,
//! `UpdateUserAttributes`, `DeleteUser`, `GlobalSignOut` (e-mail verification is `verify_attribute`'s). The access token is verified like any resource server
//! would (pool keys, issuer, `token_use`, expiry, the `aws.cognito.signin.user.admin` scope) and then checked
//! against the revocations. Must never log a token or a password.
use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::password_update;
use super::mint::SIGNIN_SCOPE;
use super::wire::null_member;
use super::{password, CognitoError, IdpState};
use crate::store::{ClientId, StoreError, Sub, UserRow, UserStatus};
use crate::token::{verify_with, Policy, TokenError};

/// The body of every access-token operation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessTokenRequest {
    pub access_token: Option<String>,
    pub previous_password: Option<String>,
    pub proposed_password: Option<String>,
    #[serde(default, deserialize_with = "super::wire::nullable_vec")]
    pub user_attributes: Vec<AttributeType>,
    /// `GetUserAttributeVerificationCode` / `VerifyUserAttribute`.
    pub attribute_name: Option<String>,
    /// `VerifyUserAttribute`.
    pub code: Option<String>,
}

/// Cognito's `AttributeType`.
#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeType {
    pub name: Option<String>,
    pub value: Option<String>,
}

fn revoked() -> CognitoError {
    CognitoError::NotAuthorized("Access Token has been revoked".into())
}

/// Verifies the access token and returns its user.
pub async fn authenticate(state: &IdpState, token: Option<&str>) -> Result<UserRow, CognitoError> {
    Ok(authenticate_client(state, token).await?.0)
}

/// Verifies the access token and returns its user and the app client it was issued to.
pub async fn authenticate_client(
    state: &IdpState,
    token: Option<&str>,
) -> Result<(UserRow, ClientId), CognitoError> {
    let (user, client_id, scopes) = verify_access(state, token).await?;
    if !scopes.iter().any(|s| s == SIGNIN_SCOPE) {
        return Err(CognitoError::NotAuthorized(
            "Access Token does not have required scopes".into(),
        ));
    }
    Ok((user, client_id))
}

/// Verifies an access token of the pool (keys, issuer, `token_use`, expiry, revocations) whatever its scopes;
/// returns its user, its client and its scopes.
pub async fn verify_access(
    state: &IdpState,
    token: Option<&str>,
) -> Result<(UserRow, ClientId, Vec<String>), CognitoError> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| null_member("accessToken"))?;
    let now = state.clock.now_unix();
    let keys = state.keys.current(now).await?;
    let claims =
        verify_with(&keys.snapshot, &Policy::default(), token, now).map_err(|e| match e {
            TokenError::Expired => CognitoError::NotAuthorized("Access Token has expired".into()),
            _ => CognitoError::NotAuthorized("Invalid Access Token".into()),
        })?;
    if let Some(Value::String(origin)) = claims.extra.get("origin_jti") {
        if state.store.origin_revoked(&state.pool.id, origin).await? {
            return Err(revoked());
        }
    }
    let sub = Sub::from(claims.sub.clone());
    if let Some(nb) = state
        .store
        .latest_sub_revocation(&state.pool.id, &sub)
        .await?
    {
        if claims.iat.unwrap_or(0) <= nb {
            return Err(revoked());
        }
    }
    let client_id = ClientId::from(claims.client_id.clone().unwrap_or_default());
    let scopes = claims.scopes.clone();
    match state.store.find_user_by_sub(&state.pool.id, &sub).await {
        Ok(u) if u.enabled => Ok((u, client_id, scopes)),
        Ok(_) => Err(CognitoError::NotAuthorized("User is disabled.".into())),
        Err(StoreError::NotFound) => Err(CognitoError::UserNotFound),
        Err(e) => Err(e.into()),
    }
}

/// The user's attributes as Cognito lists them, as far as `client_id` may read them.
pub fn attributes_of(state: &IdpState, client_id: &ClientId, user: &UserRow) -> Vec<Value> {
    let mut out = vec![json!({"Name": "sub", "Value": user.sub})];
    if let Some(e) = &user.email {
        if super::attributes::readable(&state.policy, client_id, "email") {
            out.push(json!({"Name": "email", "Value": e}));
            out.push(json!({"Name": "email_verified", "Value": user.email_verified.to_string()}));
        }
    }
    for (k, v) in super::attributes::readable_map(&state.policy, client_id, &user.attributes) {
        out.push(json!({"Name": k, "Value": v}));
    }
    out
}

/// `GetUser`.
pub async fn get_user(state: &IdpState, req: AccessTokenRequest) -> Result<Value, CognitoError> {
    let (user, client_id) = authenticate_client(state, req.access_token.as_deref()).await?;
    Ok(json!({
        "Username": user.username,
        "UserAttributes": attributes_of(state, &client_id, &user),
        "MFAOptions": [],
        "UserMFASettingList": [],
    }))
}

/// `ChangePassword`: the previous password is checked (and counted by throttling); every session of the user
/// is revoked.
pub async fn change_password(
    state: &IdpState,
    req: AccessTokenRequest,
    ip: Option<IpAddr>,
) -> Result<Value, CognitoError> {
    let user = authenticate(state, req.access_token.as_deref()).await?;
    let proposed = req
        .proposed_password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| null_member("proposedPassword"))?;
    let previous = req.previous_password.unwrap_or_default();
    password::check_policy(&proposed).map_err(CognitoError::InvalidPassword)?;
    let now = state.clock.now_unix();
    let key = format!("{}\n{}", state.pool.id, user.username);
    state.throttle.check(&key, ip, now)?;
    if previous.len() > 256 || !password::verify(previous, user.password_hash.clone()).await? {
        state.throttle.fail(&key, ip, now);
        return Err(CognitoError::bad_credentials());
    }
    let update = password_update(state, &user.username, &proposed, UserStatus::Confirmed).await?;
    state
        .store
        .set_password(&state.pool.id, &user.username, update, true, now)
        .await?;
    Ok(json!({}))
}

const IMMUTABLE: &[&str] = &[
    "sub",
    "username",
    "cognito:username",
    "email_verified",
    "phone_number_verified",
];
pub use crate::config::idp_policy::STANDARD_ATTRIBUTES as STANDARD;

/// `UpdateUserAttributes`. Attributes follow the schema and the client's write list. A new e-mail address
/// replacing a verified one stays pending, and the verified one active, until `VerifyUserAttribute` (Cognito's
/// "keep original attribute value active"); a code goes to the new address.
pub async fn update_user_attributes(
    state: &IdpState,
    req: AccessTokenRequest,
) -> Result<Value, CognitoError> {
    let (user, client_id) = authenticate_client(state, req.access_token.as_deref()).await?;
    let mut attrs = match serde_json::from_str::<Value>(&user.attributes) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let mut new_email = None;
    for a in &req.user_attributes {
        let name = a.name.clone().unwrap_or_default();
        let value = a.value.clone().unwrap_or_default();
        if name.is_empty() {
            return Err(null_member("userAttributes.member.name"));
        }
        if IMMUTABLE.contains(&name.as_str()) {
            return Err(CognitoError::NotAuthorized(format!(
                "Cannot modify an immutable or non-writable attribute: {name}"
            )));
        }
        super::attributes::check_write(&state.policy, &client_id, &name, &value, false)?;
        if name == "email" {
            super::attributes::check_email(&value)?;
            if user.email.as_deref() != Some(value.as_str()) {
                new_email = Some(value);
            }
        } else {
            attrs.insert(name, Value::String(value));
        }
    }
    let attributes = super::attributes::check_size(&attrs)?;
    let (email, verified) = match &new_email {
        // Nothing verified to keep: the new address replaces the old one, unverified.
        Some(e) if !user.email_verified => (Some(e.clone()), false),
        _ => (user.email.clone(), user.email_verified),
    };
    state
        .store
        .update_user_profile(&state.pool.id, &user.username, email, verified, attributes)
        .await?;
    let Some(target) = new_email else {
        return Ok(json!({"CodeDeliveryDetailsList": []}));
    };
    let pending = user.email_verified.then(|| target.clone());
    state
        .store
        .set_pending_email(&state.pool.id, &user.username, pending)
        .await?;
    let details =
        super::codes::issue(state, &user.username, &target, super::codes::VERIFY_EMAIL).await?;
    Ok(json!({"CodeDeliveryDetailsList": [details]}))
}

/// `DeleteUser`.
pub async fn delete_user(state: &IdpState, req: AccessTokenRequest) -> Result<Value, CognitoError> {
    let user = authenticate(state, req.access_token.as_deref()).await?;
    state
        .store
        .delete_user(&state.pool.id, &user.username, state.clock.now_unix())
        .await?;
    Ok(json!({}))
}

/// `GlobalSignOut`.
pub async fn global_sign_out(
    state: &IdpState,
    req: AccessTokenRequest,
) -> Result<Value, CognitoError> {
    let user = authenticate(state, req.access_token.as_deref()).await?;
    state
        .store
        .global_sign_out(&state.pool.id, &user.sub, state.clock.now_unix())
        .await?;
    Ok(json!({}))
}
