//! Cognito's documented length limits on every member of every request, checked right after decoding and before
//! any lookup, hashing or SRP work: `Username` 128, passwords 256, `ClientId` 128, `SecretHash` 128,
//! `ConfirmationCode` 2048, `Session` 2048, attribute names 32 and values 2048, at most 50 attributes; the
//! parameter maps (`AuthParameters`, `ChallengeResponses`) hold at most 16 entries with per-key caps (`SRP_A`
//! 1024 hex digits, `DEVICE_KEY` 55, …). A refusal is Cognito's `InvalidParameterException` naming the member.
//! Must never echo a value.
use std::collections::HashMap;

use super::CognitoError;

/// `Username` (and `USERNAME` in the parameter maps).
pub const USERNAME: usize = 128;
/// Passwords (`Password`, `PASSWORD`, `NEW_PASSWORD`, `PreviousPassword`, `ProposedPassword`).
pub const PASSWORD: usize = 256;
/// `ClientId`.
pub const CLIENT_ID: usize = 128;
/// `SecretHash`, `SECRET_HASH`.
pub const SECRET_HASH: usize = 128;
/// `ConfirmationCode`, `Code`.
pub const CODE: usize = 2048;
/// `Session`.
pub const SESSION: usize = 2048;
/// Tokens in the body (`AccessToken`, `RefreshToken`, `Token`) and `ClientSecret`.
pub const TOKEN: usize = 8192;
/// `AttributeType.Name`.
pub const ATTRIBUTE_NAME: usize = 32;
/// `AttributeType.Value`.
pub const ATTRIBUTE_VALUE: usize = 2048;
/// Attributes in one request.
pub const ATTRIBUTES: usize = 50;
/// Entries of `AuthParameters` / `ChallengeResponses`.
pub const PARAMETERS: usize = 16;
/// A parameter map's key.
pub const PARAMETER_KEY: usize = 64;
/// A parameter map's value without a narrower cap.
pub const PARAMETER_VALUE: usize = 2048;

/// The narrower cap of a known parameter key.
fn parameter_cap(key: &str) -> usize {
    match key {
        "USERNAME" => USERNAME,
        "PASSWORD" | "NEW_PASSWORD" => PASSWORD,
        "SECRET_HASH" => SECRET_HASH,
        // A 3072-bit value is 768 hex digits; leading zeros are allowed.
        "SRP_A" => 1024,
        "DEVICE_KEY" => 55,
        "TIMESTAMP" => 64,
        "PASSWORD_CLAIM_SIGNATURE" => 128,
        "REFRESH_TOKEN" => TOKEN,
        _ => PARAMETER_VALUE,
    }
}

/// Cognito's wording for a value that is too long.
pub fn too_long(member: &str, max: usize) -> CognitoError {
    CognitoError::InvalidParameter(format!(
        "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have \
         length less than or equal to {max}"
    ))
}

/// Refuses `value` (at `member`) if longer than `max` characters.
pub fn cap(member: &str, value: Option<&str>, max: usize) -> Result<(), CognitoError> {
    match value {
        // Bytes bound characters from above: count characters only when the bytes exceed the cap.
        Some(v) if v.len() > max && v.chars().count() > max => Err(too_long(member, max)),
        _ => Ok(()),
    }
}

/// Checks a parameter map (`authParameters`, `challengeResponses`).
pub fn cap_map(member: &str, m: &HashMap<String, String>) -> Result<(), CognitoError> {
    if m.len() > PARAMETERS {
        return Err(CognitoError::InvalidParameter(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have \
             at most {PARAMETERS} entries"
        )));
    }
    for (k, v) in m {
        if k.len() > PARAMETER_KEY {
            return Err(CognitoError::InvalidParameter(format!(
                "1 validation error detected: A key of '{member}' failed to satisfy constraint: Member must \
                 have length less than or equal to {PARAMETER_KEY}"
            )));
        }
        cap(&format!("{member}.{k}"), Some(v), parameter_cap(k))?;
    }
    Ok(())
}

/// Checks a `UserAttributes` list.
pub fn cap_attributes(
    member: &str,
    attrs: &[super::user_api::AttributeType],
) -> Result<(), CognitoError> {
    if attrs.len() > ATTRIBUTES {
        return Err(CognitoError::InvalidParameter(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have \
             length less than or equal to {ATTRIBUTES}"
        )));
    }
    for (i, a) in attrs.iter().enumerate() {
        cap(
            &format!("{member}.{}.member.name", i + 1),
            a.name.as_deref(),
            ATTRIBUTE_NAME,
        )?;
        cap(
            &format!("{member}.{}.member.value", i + 1),
            a.value.as_deref(),
            ATTRIBUTE_VALUE,
        )?;
    }
    Ok(())
}

/// A request whose members are checked against Cognito's limits.
pub trait Capped {
    fn check_caps(&self) -> Result<(), CognitoError>;
}

impl Capped for super::auth::InitiateAuthRequest {
    fn check_caps(&self) -> Result<(), CognitoError> {
        cap("clientId", self.client_id.as_deref(), CLIENT_ID)?;
        cap("authFlow", self.auth_flow.as_deref(), 64)?;
        cap_map("authParameters", &self.auth_parameters)
    }
}

impl Capped for super::auth::RespondRequest {
    fn check_caps(&self) -> Result<(), CognitoError> {
        cap("clientId", self.client_id.as_deref(), CLIENT_ID)?;
        cap("challengeName", self.challenge_name.as_deref(), 64)?;
        cap("session", self.session.as_deref(), SESSION)?;
        cap_map("challengeResponses", &self.challenge_responses)
    }
}

impl Capped for super::account::AccountRequest {
    fn check_caps(&self) -> Result<(), CognitoError> {
        cap("clientId", self.client_id.as_deref(), CLIENT_ID)?;
        cap("username", self.username.as_deref(), USERNAME)?;
        cap("password", self.password.as_deref(), PASSWORD)?;
        cap("secretHash", self.secret_hash.as_deref(), SECRET_HASH)?;
        cap("confirmationCode", self.confirmation_code.as_deref(), CODE)?;
        cap_attributes("userAttributes", &self.user_attributes)
    }
}

impl Capped for super::user_api::AccessTokenRequest {
    fn check_caps(&self) -> Result<(), CognitoError> {
        cap("accessToken", self.access_token.as_deref(), TOKEN)?;
        cap(
            "previousPassword",
            self.previous_password.as_deref(),
            PASSWORD,
        )?;
        cap(
            "proposedPassword",
            self.proposed_password.as_deref(),
            PASSWORD,
        )?;
        cap(
            "attributeName",
            self.attribute_name.as_deref(),
            ATTRIBUTE_NAME,
        )?;
        cap("code", self.code.as_deref(), CODE)?;
        cap_attributes("userAttributes", &self.user_attributes)
    }
}

impl Capped for super::refresh::GetTokensRequest {
    fn check_caps(&self) -> Result<(), CognitoError> {
        cap("refreshToken", self.refresh_token.as_deref(), TOKEN)?;
        cap("clientId", self.client_id.as_deref(), CLIENT_ID)?;
        cap("clientSecret", self.client_secret.as_deref(), TOKEN)
    }
}

impl Capped for super::refresh::RevokeRequest {
    fn check_caps(&self) -> Result<(), CognitoError> {
        cap("token", self.token.as_deref(), TOKEN)?;
        cap("clientId", self.client_id.as_deref(), CLIENT_ID)?;
        cap("clientSecret", self.client_secret.as_deref(), TOKEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_capped_and_named() {
        let long = "a".repeat(129);
        let e = cap("username", Some(&long), USERNAME).unwrap_err();
        assert_eq!(e.type_name(), "InvalidParameterException");
        assert!(e.to_string().contains("'username'"), "{e}");
        assert!(e.to_string().contains("128"), "{e}");
        assert!(cap("username", Some(&"a".repeat(128)), USERNAME).is_ok());
        // 128 multi-byte characters are 128 characters.
        assert!(cap("username", Some(&"é".repeat(128)), USERNAME).is_ok());
        let m = HashMap::from([("USERNAME".to_string(), long.clone())]);
        let e = cap_map("authParameters", &m).unwrap_err().to_string();
        assert!(e.contains("'authParameters.USERNAME'"), "{e}");
        assert!(!e.contains(&long));
        let m = HashMap::from([("SRP_A".to_string(), "f".repeat(1025))]);
        assert!(cap_map("authParameters", &m).is_err());
        let many: HashMap<String, String> =
            (0..17).map(|i| (format!("K{i}"), "v".into())).collect();
        assert!(cap_map("authParameters", &many).is_err());
    }
}
