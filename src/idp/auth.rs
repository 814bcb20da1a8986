//! Sign-in: `InitiateAuth`. `USER_PASSWORD_AUTH` checks the password (argon2id, off the async threads) and
//! mints tokens. Unknown users and wrong passwords get the same error after the same work. Must never log a
//! password or a token.
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::mint::{tokens_for, AuthenticationResult};
use super::{password, CognitoError, IdpState};
use crate::store::{ClientRow, StoreError};

/// `InitiateAuthRequest` (fields gatehouse does not use, like `ClientMetadata`, are accepted and ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InitiateAuthRequest {
    pub auth_flow: Option<String>,
    pub client_id: Option<String>,
    #[serde(default)]
    pub auth_parameters: HashMap<String, String>,
}

/// `InitiateAuthResponse` with an `AuthenticationResult`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InitiateAuthResponse {
    pub challenge_parameters: HashMap<String, String>,
    pub authentication_result: AuthenticationResult,
}

const FLOWS: &[&str] = &[
    "USER_SRP_AUTH",
    "REFRESH_TOKEN_AUTH",
    "REFRESH_TOKEN",
    "CUSTOM_AUTH",
    "ADMIN_NO_SRP_AUTH",
    "USER_PASSWORD_AUTH",
    "ADMIN_USER_PASSWORD_AUTH",
    "USER_AUTH",
];

fn null_member(name: &str) -> CognitoError {
    CognitoError::InvalidParameter(format!(
        "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
    ))
}

/// Finds the app client, as Cognito words it when it does not exist.
pub async fn find_client(state: &IdpState, client_id: &str) -> Result<ClientRow, CognitoError> {
    if client_id == state.default_client.id {
        return Ok(state.default_client.clone());
    }
    state
        .store
        .clients(&state.pool.id)
        .await?
        .into_iter()
        .find(|c| c.id == client_id)
        .ok_or_else(|| {
            CognitoError::ResourceNotFound(format!("User pool client {client_id} does not exist."))
        })
}

fn client_allows(client: &ClientRow, flag: &str) -> bool {
    client.auth_flows.split_whitespace().any(|f| f == flag)
}

/// `InitiateAuth`.
pub async fn initiate_auth(
    state: &IdpState,
    req: InitiateAuthRequest,
) -> Result<InitiateAuthResponse, CognitoError> {
    let flow = req.auth_flow.ok_or_else(|| null_member("authFlow"))?;
    let client_id = req.client_id.ok_or_else(|| null_member("clientId"))?;
    if !FLOWS.contains(&flow.as_str()) {
        return Err(CognitoError::InvalidParameter(format!(
            "1 validation error detected: Value '{flow}' at 'authFlow' failed to satisfy constraint: \
             Member must satisfy enum value set: [{}]",
            FLOWS.join(", ")
        )));
    }
    let client = find_client(state, &client_id).await?;
    match flow.as_str() {
        "USER_PASSWORD_AUTH" => {
            if !client_allows(&client, "ALLOW_USER_PASSWORD_AUTH") {
                return Err(CognitoError::InvalidParameter(
                    "USER_PASSWORD_AUTH flow not enabled for this client".into(),
                ));
            }
            let result = user_password_auth(state, &client, &req.auth_parameters).await?;
            Ok(InitiateAuthResponse {
                challenge_parameters: HashMap::new(),
                authentication_result: result,
            })
        }
        "ADMIN_NO_SRP_AUTH" | "ADMIN_USER_PASSWORD_AUTH" => Err(CognitoError::InvalidParameter(
            "Initiate Auth method not supported.".into(),
        )),
        other => Err(CognitoError::InvalidParameter(format!(
            "{other} is not supported by this gatehouse version; use USER_PASSWORD_AUTH."
        ))),
    }
}

async fn user_password_auth(
    state: &IdpState,
    client: &ClientRow,
    params: &HashMap<String, String>,
) -> Result<AuthenticationResult, CognitoError> {
    let username = params
        .get("USERNAME")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            CognitoError::InvalidParameter("Missing required parameter USERNAME".into())
        })?;
    let pw = params
        .get("PASSWORD")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            CognitoError::InvalidParameter("Missing required parameter PASSWORD".into())
        })?;
    if username.len() > 128 || pw.len() > 256 {
        return Err(CognitoError::bad_credentials());
    }
    let user = match state.store.find_user(&state.pool.id, username).await {
        Ok(u) => Some(u),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    // Same argon2 work whether or not the user exists.
    let phc = user
        .as_ref()
        .map_or_else(|| state.dummy_hash.clone(), |u| u.password_hash.clone());
    let ok = password::verify(pw.clone(), phc).await;
    let user = match user {
        Some(u) if ok => u,
        _ => return Err(CognitoError::bad_credentials()),
    };
    if !user.enabled {
        return Err(CognitoError::NotAuthorized("User is disabled.".into()));
    }
    if user.status == "UNCONFIRMED" {
        return Err(CognitoError::UserNotConfirmed);
    }
    let now = state.clock.now_unix();
    tokens_for(state, &user, client, now).await
}
