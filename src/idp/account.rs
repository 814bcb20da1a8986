//! Self-service account operations that need no token: `SignUp`, `ConfirmSignUp`, `ResendConfirmationCode`,
//! `ForgotPassword`, `ConfirmForgotPassword`. Codes and their limits are `codes`'. With
//! `PreventUserExistenceErrors` (always on) an unknown user gets the same answer as a known one where Cognito
//! does so. Must never log a code or a password.
use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::password_update;
use super::client_auth::{check_secret_hash, required_client};
use super::codes::{self, CONFIRM, RESET};
use super::wire::null_member;
use super::{password, CognitoError, IdpState};
use crate::store::{CodeEffect, CodePurpose, StoreError, Sub, UserRow, UserStatus};

/// The body of the account operations (each uses some of the members).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountRequest {
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub secret_hash: Option<String>,
    pub confirmation_code: Option<String>,
    #[serde(default, deserialize_with = "super::wire::nullable_vec")]
    pub user_attributes: Vec<super::user_api::AttributeType>,
}

fn check_username(u: &str) -> Result<(), CognitoError> {
    if u.is_empty()
        || u.chars().count() > 128
        || u.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(CognitoError::InvalidParameter(
            "1 validation error detected: Value at 'username' failed to satisfy constraint: Member must \
             satisfy regular expression pattern: [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+"
                .into(),
        ));
    }
    Ok(())
}

async fn lookup(state: &IdpState, username: &str) -> Result<Option<UserRow>, CognitoError> {
    match state.store.find_user(&state.pool.id, username).await {
        Ok(u) => Ok(Some(u)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `SignUp`: refused when `[idp] allow_sign_up = false` (Cognito's `AllowAdminCreateUserOnly`); attributes
/// follow the schema and the client's write list.
pub async fn sign_up(
    state: &IdpState,
    req: AccountRequest,
    ip: Option<IpAddr>,
) -> Result<Value, CognitoError> {
    let client = required_client(state, req.client_id.as_deref()).await?;
    if !state.policy.allow_sign_up {
        return Err(CognitoError::NotAuthorized(
            "SignUp is not permitted for this user pool".into(),
        ));
    }
    let username = req.username.ok_or_else(|| null_member("username"))?;
    check_username(&username)?;
    check_secret_hash(&client, &username, req.secret_hash.as_deref())?;
    let pw = req
        .password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| null_member("password"))?;
    password::check_policy(&pw).map_err(CognitoError::InvalidPassword)?;
    let mut email = None;
    let mut attrs = serde_json::Map::new();
    for a in &req.user_attributes {
        let name = a.name.clone().unwrap_or_default();
        let value = a.value.clone().unwrap_or_default();
        if name == "email" {
            super::attributes::check_email(&value)?;
            email = Some(value);
        } else {
            super::attributes::check_write(&state.policy, &client.id, &name, &value, true)?;
            attrs.insert(name, Value::String(value));
        }
    }
    let attributes = super::attributes::check_size(&attrs)?;
    let Some(email) = email else {
        return Err(CognitoError::InvalidParameter(
            "Attributes did not conform to the schema: email: The attribute is required".into(),
        ));
    };
    codes::admit_address(state, ip)?;
    state.cpu.admit(ip, state.clock.now_unix())?;
    let update = password_update(state, &username, &pw, UserStatus::Unconfirmed).await?;
    let user = UserRow {
        pool_id: state.pool.id.clone(),
        sub: Sub::generate(),
        username: username.clone(),
        email: Some(email.clone()),
        password_hash: update.password_hash,
        status: update.status,
        enabled: true,
        created_at: state.clock.now_unix(),
        srp_salt: Some(update.srp_salt),
        srp_verifier: Some(update.srp_verifier),
        attributes,
        email_verified: false,
        pending_email: None,
    };
    // The user and its code in one transaction: a failure leaves neither (a retried SignUp then succeeds).
    let (code, row) = codes::new_code(state, &user.username, CONFIRM);
    match state
        .store
        .create_user_with_code(user.clone(), row.clone())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Err(CognitoError::UsernameExists),
        Err(e) => return Err(e.into()),
    }
    let details = codes::deliver(state, &user.username, &email, &code, &row).await?;
    Ok(json!({"UserConfirmed": false, "UserSub": user.sub, "CodeDeliveryDetails": details}))
}

fn required_code(req: &AccountRequest) -> Result<String, CognitoError> {
    req.confirmation_code
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| null_member("confirmationCode"))
}

/// `ConfirmSignUp`.
pub async fn confirm_sign_up(state: &IdpState, req: AccountRequest) -> Result<Value, CognitoError> {
    let username = checked_username(state, &req).await?;
    let code = required_code(&req)?;
    let Some(user) = lookup(state, &username).await? else {
        return Err(CognitoError::CodeMismatch);
    };
    if user.status != UserStatus::Unconfirmed {
        return Err(CognitoError::NotAuthorized(format!(
            "User cannot be confirmed. Current status is {}",
            user.status
        )));
    }
    codes::check(state, &username, CONFIRM, &code, CodeEffect::Confirm).await
}

/// The username of a request about an existing account, after checking its app client and `SecretHash`.
async fn checked_username(state: &IdpState, req: &AccountRequest) -> Result<String, CognitoError> {
    let client = required_client(state, req.client_id.as_deref()).await?;
    let username = req
        .username
        .clone()
        .ok_or_else(|| null_member("username"))?;
    check_secret_hash(&client, &username, req.secret_hash.as_deref())?;
    Ok(username)
}

/// `ResendConfirmationCode`.
pub async fn resend_confirmation_code(
    state: &IdpState,
    req: AccountRequest,
    ip: Option<IpAddr>,
) -> Result<Value, CognitoError> {
    send_code(state, &req, ip, CONFIRM, |user| {
        if user.status != UserStatus::Unconfirmed {
            return Err(CognitoError::InvalidParameter(
                "User is already confirmed.".into(),
            ));
        }
        Ok(user.email.clone())
    })
    .await
}

/// `ForgotPassword`. The answer is the same for an unknown user, a disabled one and one without a verified
/// e-mail (Cognito with `PreventUserExistenceErrors`): a delivery shaped like a real one, and nothing is sent.
/// A code goes only to a verified address, never to a pending one.
pub async fn forgot_password(
    state: &IdpState,
    req: AccountRequest,
    ip: Option<IpAddr>,
) -> Result<Value, CognitoError> {
    let verified = |u: &UserRow| Ok(u.email.clone().filter(|_| u.enabled && u.email_verified));
    send_code(state, &req, ip, RESET, verified).await
}

/// A code flow that sends a code to an existing account: the request's client and `SecretHash` checked, the
/// client address admitted, then the code for `purpose` sent to the address `to` picks from the user — or, with
/// no such user or no address picked, a delivery shaped like a real one and nothing sent.
async fn send_code(
    state: &IdpState,
    req: &AccountRequest,
    ip: Option<IpAddr>,
    purpose: CodePurpose,
    to: impl FnOnce(&UserRow) -> Result<Option<String>, CognitoError>,
) -> Result<Value, CognitoError> {
    let username = checked_username(state, req).await?;
    codes::admit_address(state, ip)?;
    let user = lookup(state, &username).await?;
    let email = match &user {
        Some(u) => to(u)?,
        None => None,
    };
    let to = user
        .as_ref()
        .zip(email.as_deref())
        .map(|(u, e)| (u.username.as_str(), e));
    delivery(state, &username, to, purpose).await
}

/// `CodeDeliveryDetails` of a code for `purpose` sent to `to` (the user's name and address), or, when there is no
/// such address, a delivery shaped like a real one for `username` and nothing sent.
async fn delivery(
    state: &IdpState,
    username: &str,
    to: Option<(&str, &str)>,
    purpose: CodePurpose,
) -> Result<Value, CognitoError> {
    let Some((name, email)) = to else {
        return Ok(json!({"CodeDeliveryDetails": codes::fake_delivery(state, username)}));
    };
    let details = codes::issue(state, name, email, purpose).await?;
    Ok(json!({"CodeDeliveryDetails": details}))
}

/// `ConfirmForgotPassword`: a correct code sets the password and revokes every session, in one transaction.
/// The same argon2 work and the same answer whether or not the user exists.
pub async fn confirm_forgot_password(
    state: &IdpState,
    req: AccountRequest,
    ip: Option<IpAddr>,
) -> Result<Value, CognitoError> {
    let username = checked_username(state, &req).await?;
    let code = required_code(&req)?;
    let pw = req
        .password
        .clone()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| null_member("password"))?;
    password::check_policy(&pw).map_err(CognitoError::InvalidPassword)?;
    state.cpu.admit(ip, state.clock.now_unix())?;
    // Hash first, for every username: an unknown user then has no code (`ExpiredCodeException`), exactly like
    // a known user who never asked for one.
    let update = password_update(state, &username, &pw, UserStatus::Confirmed).await?;
    codes::check(
        state,
        &username,
        RESET,
        &code,
        CodeEffect::ResetPassword(update),
    )
    .await
}
