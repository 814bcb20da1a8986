//! The Cognito JSON 1.1 front door: `POST /` with `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>` and a
//! JSON body (`application/x-amz-json-1.1`; plain `application/json` and no content type are accepted too).
//! Decodes the request and hands it to the operation; never looks at credentials itself.
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::field_caps::Capped;

use super::{account, auth, refresh, user_api, verify_attribute, CognitoError, IdpState};

/// Largest request body the IdP reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The `X-Amz-Target` prefix of every user-pool operation.
pub const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";

/// Routes one Cognito API call by its `X-Amz-Target`.
pub async fn dispatch(
    State(state): State<Arc<IdpState>>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = crate::util::uuid_v4();
    // The client address the listener resolved (the peer, or a trusted proxy's X-Forwarded-For / PROXY
    // header), for throttling.
    let ip = extensions.get::<crate::net::ClientAddr>().map(|c| c.0);
    let result = match parse_target(&headers) {
        Ok(op) => route(&state, op, &body, ip).await,
        Err(e) => Err(e),
    };
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

async fn route(
    state: &IdpState,
    op: &str,
    body: &[u8],
    ip: Option<std::net::IpAddr>,
) -> Result<Response, CognitoError> {
    let s = state;
    match op {
        "InitiateAuth" => Ok(json_ok(&auth::initiate_auth(s, decode(body)?, ip).await?)),
        "RespondToAuthChallenge" => Ok(json_ok(
            &auth::respond_to_auth_challenge(s, decode(body)?, ip).await?,
        )),
        "GetTokensFromRefreshToken" => Ok(json_ok(&refresh::get_tokens(s, decode(body)?).await?)),
        "RevokeToken" => Ok(json_ok(&refresh::revoke_token(s, decode(body)?).await?)),
        "SignUp" => Ok(json_ok(&account::sign_up(s, decode(body)?, ip).await?)),
        "ConfirmSignUp" => Ok(json_ok(&account::confirm_sign_up(s, decode(body)?).await?)),
        "ResendConfirmationCode" => Ok(json_ok(
            &account::resend_confirmation_code(s, decode(body)?, ip).await?,
        )),
        "ForgotPassword" => Ok(json_ok(
            &account::forgot_password(s, decode(body)?, ip).await?,
        )),
        "ConfirmForgotPassword" => Ok(json_ok(
            &account::confirm_forgot_password(s, decode(body)?, ip).await?,
        )),
        "GetUser" => Ok(json_ok(&user_api::get_user(s, decode(body)?).await?)),
        "ChangePassword" => Ok(json_ok(
            &user_api::change_password(s, decode(body)?, ip).await?,
        )),
        "UpdateUserAttributes" => Ok(json_ok(
            &user_api::update_user_attributes(s, decode(body)?).await?,
        )),
        "GetUserAttributeVerificationCode" => Ok(json_ok(
            &verify_attribute::get_code(s, decode(body)?).await?,
        )),
        "VerifyUserAttribute" => Ok(json_ok(&verify_attribute::verify(s, decode(body)?).await?)),
        "DeleteUser" => Ok(json_ok(&user_api::delete_user(s, decode(body)?).await?)),
        "GlobalSignOut" => Ok(json_ok(&user_api::global_sign_out(s, decode(body)?).await?)),
        op => Err(CognitoError::UnknownOperation(format!(
            "Operation {op} is not supported by this user pool."
        ))),
    }
}

/// The operation name from `X-Amz-Target`, pure.
pub fn parse_target(headers: &HeaderMap) -> Result<&str, CognitoError> {
    let missing =
        || CognitoError::UnknownOperation("Missing or unknown X-Amz-Target header.".into());
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(missing)?;
    let op = target.strip_prefix(TARGET_PREFIX).ok_or_else(missing)?;
    if op.is_empty() || !op.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(missing());
    }
    Ok(op)
}

/// Decodes a body (null members are absent, errors never quote values) and checks every member against
/// Cognito's limits before the operation does any work.
fn decode<T: DeserializeOwned + Capped>(body: &[u8]) -> Result<T, CognitoError> {
    let req: T = super::wire::decode(body)?;
    req.check_caps()?;
    Ok(req)
}

fn json_ok<T: serde::Serialize>(value: &T) -> Response {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_target(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-amz-target", HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn target_is_parsed_strictly() {
        assert_eq!(
            parse_target(&with_target(
                "AWSCognitoIdentityProviderService.InitiateAuth"
            ))
            .unwrap(),
            "InitiateAuth"
        );
        for bad in [
            "InitiateAuth",
            "AWSCognitoIdentityProviderService.",
            "Other.InitiateAuth",
            "AWSCognitoIdentityProviderService.A/B",
        ] {
            assert!(
                matches!(
                    parse_target(&with_target(bad)),
                    Err(CognitoError::UnknownOperation(_))
                ),
                "{bad}"
            );
        }
        assert!(parse_target(&HeaderMap::new()).is_err());
    }
}
