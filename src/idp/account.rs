//! Self-service account operations that need no token: `SignUp`, `ConfirmSignUp`, `ResendConfirmationCode`,
//! `ForgotPassword`, `ConfirmForgotPassword`. Codes are six digits, stored hashed, single-use, expiring, and
//! delivered by `mail`. With `PreventUserExistenceErrors` (always on) an unknown user gets the same answer as a
//! known one where Cognito does so. Must never log a code or a password.
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{check_secret_hash, null_member, password_update, required_client};
use super::mail::Message;
use super::{password, CognitoError, IdpState};
use crate::store::{CodeCheck, CodeEffect, CodeRow, StoreError, UserRow};
use crate::util::{random_bytes, sha256_hex};

/// Purpose of a sign-up confirmation code.
pub const CONFIRM: &str = "confirm_sign_up";
/// Purpose of a password-reset code.
pub const RESET: &str = "forgot_password";

/// The body of the account operations (each uses some of the members).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountRequest {
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub secret_hash: Option<String>,
    pub confirmation_code: Option<String>,
    #[serde(default)]
    pub user_attributes: Vec<super::user_api::AttributeType>,
}

fn six_digits() -> String {
    loop {
        let b = random_bytes(4);
        let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        // Rejection sampling: uniform over 0..1_000_000.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

fn code_hash(pool_id: &str, username: &str, purpose: &str, code: &str) -> String {
    sha256_hex(format!("{pool_id}\n{username}\n{purpose}\n{code}").as_bytes())
}

/// `a***@e***`, as Cognito masks a destination.
pub fn mask(email: &str) -> String {
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    format!("{}***@{}***", first(local), first(domain))
}

fn delivery(email: &str) -> Value {
    json!({"Destination": mask(email), "DeliveryMedium": "EMAIL", "AttributeName": "email"})
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

/// A new code for `user` and the row that stores its hash.
fn new_code(state: &IdpState, user: &UserRow, purpose: &str) -> (String, CodeRow) {
    let now = state.clock.now_unix();
    let code = six_digits();
    let lifetime = if purpose == CONFIRM {
        state.settings.confirm_code_lifetime
    } else {
        state.settings.reset_code_lifetime
    };
    let row = CodeRow {
        pool_id: state.pool.id.clone(),
        username: user.username.clone(),
        purpose: purpose.to_string(),
        code_hash: code_hash(&state.pool.id, &user.username, purpose, &code),
        expires_at: now + lifetime,
        created_at: now,
    };
    (code, row)
}

/// Creates a code, stores its hash and delivers it.
async fn send_code(state: &IdpState, user: &UserRow, purpose: &str) -> Result<Value, CognitoError> {
    let Some(email) = &user.email else {
        return Err(CognitoError::InvalidParameter(
            "Cannot send a code: the user has no registered email.".into(),
        ));
    };
    let (code, row) = new_code(state, user, purpose);
    state.store.put_code(row.clone()).await?;
    deliver_code(state, user, email, &code, &row).await
}

/// Mails a stored code.
async fn deliver_code(
    state: &IdpState,
    user: &UserRow,
    email: &str,
    code: &str,
    row: &CodeRow,
) -> Result<Value, CognitoError> {
    let purpose = row.purpose.as_str();
    let lifetime = row.expires_at - row.created_at;
    let (subject, body) = if purpose == CONFIRM {
        (
            "Your verification code",
            format!(
                "Your confirmation code is {code}\n\nIt expires in {} minutes.\n",
                lifetime / 60
            ),
        )
    } else {
        (
            "Your password reset code",
            format!(
                "Your password reset code is {code}\n\nIt expires in {} minutes.\n",
                lifetime / 60
            ),
        )
    };
    state
        .mailer
        .send(&Message {
            to: email,
            subject,
            body: &body,
            date_unix: row.created_at,
        })
        .await
        .map_err(|e| CognitoError::Internal(format!("code delivery: {e}")))?;
    tracing::info!(username = %user.username, purpose, "code sent");
    Ok(delivery(email))
}

/// `SignUp`.
pub async fn sign_up(state: &IdpState, req: AccountRequest) -> Result<Value, CognitoError> {
    let client = required_client(state, req.client_id.as_deref()).await?;
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
            if !value.contains('@') || value.len() > 254 || value.chars().any(char::is_whitespace) {
                return Err(CognitoError::InvalidParameter(
                    "Invalid email address format.".into(),
                ));
            }
            email = Some(value);
        } else if name.starts_with("custom:") || super::user_api::STANDARD.contains(&name.as_str())
        {
            if name.chars().count() > 32 || value.chars().count() > 2048 {
                return Err(CognitoError::InvalidParameter(format!(
                    "Attribute {name} is too long."
                )));
            }
            attrs.insert(name, Value::String(value));
        } else {
            return Err(CognitoError::InvalidParameter(format!(
                "Attributes did not conform to the schema: {name}: The attribute cannot be set"
            )));
        }
    }
    if email.is_none() {
        return Err(CognitoError::InvalidParameter(
            "Attributes did not conform to the schema: email: The attribute is required".into(),
        ));
    }
    let update = password_update(state, &username, &pw, "UNCONFIRMED").await?;
    let user = UserRow {
        pool_id: state.pool.id.clone(),
        sub: crate::util::uuid_v4(),
        username: username.clone(),
        email,
        password_hash: update.password_hash,
        status: update.status,
        enabled: true,
        created_at: state.clock.now_unix(),
        srp_salt: Some(update.srp_salt),
        srp_verifier: Some(update.srp_verifier),
        attributes: Value::Object(attrs).to_string(),
        email_verified: false,
    };
    // The user and its code in one transaction: a failure leaves neither (a retried SignUp then succeeds).
    let (code, row) = new_code(state, &user, CONFIRM);
    match state
        .store
        .create_user_with_code(user.clone(), row.clone())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Err(CognitoError::UsernameExists),
        Err(e) => return Err(e.into()),
    }
    let email = user.email.clone().unwrap_or_default();
    let details = deliver_code(state, &user, &email, &code, &row).await?;
    Ok(json!({"UserConfirmed": false, "UserSub": user.sub, "CodeDeliveryDetails": details}))
}

fn code_result(c: CodeCheck) -> Result<Value, CognitoError> {
    match c {
        CodeCheck::Ok => Ok(json!({})),
        CodeCheck::Mismatch => Err(CognitoError::CodeMismatch),
        CodeCheck::Expired => Err(CognitoError::ExpiredCode),
        CodeCheck::TooManyAttempts => Err(CognitoError::LimitExceeded),
    }
}

fn required_code(req: &AccountRequest) -> Result<String, CognitoError> {
    req.confirmation_code
        .clone()
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or_else(|| null_member("confirmationCode"))
}

/// `ConfirmSignUp`.
pub async fn confirm_sign_up(state: &IdpState, req: AccountRequest) -> Result<Value, CognitoError> {
    let username = checked_username(state, &req).await?;
    let code = required_code(&req)?;
    let Some(user) = lookup(state, &username).await? else {
        return Err(CognitoError::CodeMismatch);
    };
    if user.status != "UNCONFIRMED" {
        return Err(CognitoError::NotAuthorized(format!(
            "User cannot be confirmed. Current status is {}",
            user.status
        )));
    }
    let hash = code_hash(&state.pool.id, &username, CONFIRM, &code);
    let r = state
        .store
        .use_code(
            &state.pool.id,
            &username,
            CONFIRM,
            &hash,
            state.settings.max_code_attempts,
            CodeEffect::Confirm,
            state.clock.now_unix(),
        )
        .await?;
    code_result(r)
}

/// A delivery answer for a user that does not exist, shaped like a real one.
fn fake_delivery(username: &str) -> Value {
    let c = username.chars().next().unwrap_or('u');
    delivery(&format!("{c}@e"))
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
) -> Result<Value, CognitoError> {
    let username = checked_username(state, &req).await?;
    let Some(user) = lookup(state, &username).await? else {
        return Ok(json!({"CodeDeliveryDetails": fake_delivery(&username)}));
    };
    if user.status != "UNCONFIRMED" {
        return Err(CognitoError::InvalidParameter(
            "User is already confirmed.".into(),
        ));
    }
    let details = send_code(state, &user, CONFIRM).await?;
    Ok(json!({"CodeDeliveryDetails": details}))
}

/// `ForgotPassword`.
pub async fn forgot_password(state: &IdpState, req: AccountRequest) -> Result<Value, CognitoError> {
    let username = checked_username(state, &req).await?;
    let Some(user) = lookup(state, &username).await? else {
        return Ok(json!({"CodeDeliveryDetails": fake_delivery(&username)}));
    };
    if !user.enabled {
        return Err(CognitoError::NotAuthorized("User is disabled.".into()));
    }
    let details = send_code(state, &user, RESET).await?;
    Ok(json!({"CodeDeliveryDetails": details}))
}

/// `ConfirmForgotPassword`: a correct code sets the password and revokes every session, in one transaction.
pub async fn confirm_forgot_password(
    state: &IdpState,
    req: AccountRequest,
) -> Result<Value, CognitoError> {
    let username = checked_username(state, &req).await?;
    let code = required_code(&req)?;
    let pw = req
        .password
        .clone()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| null_member("password"))?;
    password::check_policy(&pw).map_err(CognitoError::InvalidPassword)?;
    let Some(_user) = lookup(state, &username).await? else {
        return Err(CognitoError::CodeMismatch);
    };
    let update = password_update(state, &username, &pw, "CONFIRMED").await?;
    let hash = code_hash(&state.pool.id, &username, RESET, &code);
    let r = state
        .store
        .use_code(
            &state.pool.id,
            &username,
            RESET,
            &hash,
            state.settings.max_code_attempts,
            CodeEffect::ResetPassword(update),
            state.clock.now_unix(),
        )
        .await?;
    code_result(r)
}
