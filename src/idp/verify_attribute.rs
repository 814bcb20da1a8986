//! E-mail verification for a signed-in user: `GetUserAttributeVerificationCode` (a code to the pending address
//! if there is one, else to the current unverified one) and `VerifyUserAttribute` (a correct code makes the
//! pending address the active one, verified). Codes and their limits are `codes`'. Must never log a code.
use serde_json::{json, Value};

use super::codes::{self, VERIFY_EMAIL};
use super::user_api::{authenticate, AccessTokenRequest};
use super::wire::null_member;
use super::{CognitoError, IdpState};
use crate::store::CodeEffect;

fn email_only(name: Option<&str>) -> Result<(), CognitoError> {
    match name {
        None | Some("") => Err(null_member("attributeName")),
        Some("email") => Ok(()),
        Some(other) => Err(CognitoError::InvalidParameter(format!(
            "Verification of {other} is not supported; only email can be verified."
        ))),
    }
}

/// `GetUserAttributeVerificationCode`.
pub async fn get_code(state: &IdpState, req: AccessTokenRequest) -> Result<Value, CognitoError> {
    let user = authenticate(state, req.access_token.as_deref()).await?;
    email_only(req.attribute_name.as_deref())?;
    let target = match (&user.pending_email, &user.email) {
        (Some(p), _) => p.clone(),
        (None, Some(e)) if !user.email_verified => e.clone(),
        (None, Some(_)) => {
            return Err(CognitoError::InvalidParameter(
                "The email attribute is already verified.".into(),
            ))
        }
        (None, None) => {
            return Err(CognitoError::InvalidParameter(
                "The user has no email attribute to verify.".into(),
            ))
        }
    };
    let details = codes::issue(state, &user.username, &target, VERIFY_EMAIL).await?;
    Ok(json!({"CodeDeliveryDetails": details}))
}

/// `VerifyUserAttribute`.
pub async fn verify(state: &IdpState, req: AccessTokenRequest) -> Result<Value, CognitoError> {
    let user = authenticate(state, req.access_token.as_deref()).await?;
    email_only(req.attribute_name.as_deref())?;
    let code = req
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| null_member("code"))?;
    codes::check(
        state,
        &user.username,
        VERIFY_EMAIL,
        code,
        CodeEffect::VerifyEmail,
    )
    .await
}
