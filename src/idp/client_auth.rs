//! The app client checks every sign-in and token operation shares, in one place: the client a `ClientId` names
//! (re-read from the store), the auth flows it allows, `SECRET_HASH` and the plain `ClientSecret`, both compared in
//! constant time. Must never log a secret or put one into an error.
use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;

use super::wire::null_member;
use super::{CognitoError, IdpState};
use crate::store::{AuthFlow, ClientRow};

/// Finds the app client (re-read from the store, so `client create` while `up` runs works).
pub async fn find_client(state: &IdpState, client_id: &str) -> Result<ClientRow, CognitoError> {
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

/// The client named by a required `ClientId`.
pub async fn required_client(
    state: &IdpState,
    client_id: Option<&str>,
) -> Result<ClientRow, CognitoError> {
    let id = client_id
        .filter(|c| !c.is_empty())
        .ok_or_else(|| null_member("clientId"))?;
    find_client(state, id).await
}

pub(super) fn client_allows(client: &ClientRow, flow: AuthFlow) -> bool {
    client.auth_flows.allows(flow)
}

/// The `SECRET_HASH` of `username` for a confidential client (what the hosted pages send on the user's behalf,
/// holding the secret themselves); `None` for a public client.
pub fn secret_hash(client: &ClientRow, username: &str) -> Option<String> {
    let secret = client.secret.as_ref()?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{username}{}", client.id).as_bytes());
    Some(base64::engine::general_purpose::STANDARD.encode(tag.as_ref()))
}

/// `SECRET_HASH = base64(HMAC-SHA256(key = secret, msg = username + client_id))`, required iff the client has a
/// secret; compared in constant time.
pub fn check_secret_hash(
    client: &ClientRow,
    username: &str,
    provided: Option<&str>,
) -> Result<(), CognitoError> {
    let Some(secret) = &client.secret else {
        return Ok(());
    };
    let Some(provided) = provided.filter(|p| !p.is_empty()) else {
        return Err(CognitoError::NotAuthorized(format!(
            "Client {} is configured for secret but secret was not received",
            client.id
        )));
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let expected = hmac::sign(&key, format!("{username}{}", client.id).as_bytes());
    let ok = base64::engine::general_purpose::STANDARD
        .decode(provided)
        .is_ok_and(|p| constant_time::verify_slices_are_equal(expected.as_ref(), &p).is_ok());
    if ok {
        Ok(())
    } else {
        Err(CognitoError::NotAuthorized(format!(
            "Unable to verify secret hash for client {}",
            client.id
        )))
    }
}

/// The plain `ClientSecret` of `GetTokensFromRefreshToken` / `RevokeToken`.
pub fn check_client_secret(client: &ClientRow, provided: Option<&str>) -> Result<(), CognitoError> {
    let Some(secret) = &client.secret else {
        return Ok(());
    };
    match provided {
        Some(p)
            if constant_time::verify_slices_are_equal(p.as_bytes(), secret.as_bytes()).is_ok() =>
        {
            Ok(())
        }
        Some(_) => Err(CognitoError::NotAuthorized(format!(
            "Unable to verify secret for client {}",
            client.id
        ))),
        None => Err(CognitoError::NotAuthorized(format!(
            "Client {} is configured for secret but secret was not received",
            client.id
        ))),
    }
}
