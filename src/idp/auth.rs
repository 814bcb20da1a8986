//! Sign-in: `InitiateAuth` (`USER_PASSWORD_AUTH`, `USER_SRP_AUTH`, `REFRESH_TOKEN_AUTH`) and
//! `RespondToAuthChallenge` (`PASSWORD_VERIFIER`, `NEW_PASSWORD_REQUIRED`), `SECRET_HASH` for confidential
//! clients, and throttling of failures. Unknown users and wrong passwords get the same error after the same
//! work. Must never log a password or a token.
use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::client_auth::{check_secret_hash, client_allows, find_client, required_client};
use super::mint::{tokens_for, AuthenticationResult};
use super::pending::Pending;
use super::wire::null_member;
use super::{password, refresh, srp, CognitoError, IdpState};
use crate::store::{AuthFlow, ClientRow, PasswordUpdate, StoreError, UserRow, UserStatus};

/// `InitiateAuthRequest` (fields gatehouse does not use, like `ClientMetadata`, are accepted and ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InitiateAuthRequest {
    pub auth_flow: Option<String>,
    pub client_id: Option<String>,
    #[serde(default, deserialize_with = "super::wire::nullable_map")]
    pub auth_parameters: HashMap<String, String>,
}

/// `RespondToAuthChallengeRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RespondRequest {
    pub challenge_name: Option<String>,
    pub client_id: Option<String>,
    pub session: Option<String>,
    #[serde(default, deserialize_with = "super::wire::nullable_map")]
    pub challenge_responses: HashMap<String, String>,
}

/// `InitiateAuthResponse` / `RespondToAuthChallengeResponse`: a challenge or an `AuthenticationResult`.
#[derive(Debug, Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AuthResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    pub challenge_parameters: HashMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_result: Option<AuthenticationResult>,
}

impl AuthResponse {
    fn tokens(r: AuthenticationResult) -> Self {
        Self {
            authentication_result: Some(r),
            ..Self::default()
        }
    }
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

fn param<'a>(p: &'a HashMap<String, String>, name: &str) -> Result<&'a String, CognitoError> {
    p.get(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| CognitoError::InvalidParameter(format!("Missing required parameter {name}")))
}

/// The user `username` names in the pool (`None`: no such user, or a name longer than any).
pub async fn lookup(state: &IdpState, username: &str) -> Result<Option<UserRow>, CognitoError> {
    if username.len() > 128 {
        return Ok(None);
    }
    match state.store.find_user(&state.pool.id, username).await {
        Ok(u) => Ok(Some(u)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn throttle_key(state: &IdpState, username: &str) -> String {
    format!("{}\n{username}", state.pool.id)
}

/// `InitiateAuth`.
pub async fn initiate_auth(
    state: &IdpState,
    req: InitiateAuthRequest,
    ip: Option<IpAddr>,
) -> Result<AuthResponse, CognitoError> {
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
    let params = &req.auth_parameters;
    match flow.as_str() {
        "USER_PASSWORD_AUTH" => {
            if !client_allows(&client, AuthFlow::UserPasswordAuth) {
                return Err(CognitoError::InvalidParameter(
                    "USER_PASSWORD_AUTH flow not enabled for this client".into(),
                ));
            }
            user_password_auth(state, &client, params, ip).await
        }
        "USER_SRP_AUTH" => {
            if !client_allows(&client, AuthFlow::UserSrpAuth) {
                return Err(CognitoError::InvalidParameter(
                    "USER_SRP_AUTH flow not enabled for this client".into(),
                ));
            }
            srp_start(state, &client, params, ip).await
        }
        "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => {
            if !client_allows(&client, AuthFlow::RefreshTokenAuth) {
                return Err(CognitoError::InvalidParameter(
                    "REFRESH_TOKEN_AUTH flow not enabled for this client".into(),
                ));
            }
            let token = param(params, "REFRESH_TOKEN")?;
            let result = refresh::refresh_token_auth(
                state,
                &client,
                token,
                params.get("SECRET_HASH").map(String::as_str),
            )
            .await?;
            Ok(AuthResponse::tokens(result))
        }
        "ADMIN_NO_SRP_AUTH" | "ADMIN_USER_PASSWORD_AUTH" => Err(CognitoError::InvalidParameter(
            "Initiate Auth method not supported.".into(),
        )),
        other => Err(CognitoError::InvalidParameter(format!(
            "{other} is not supported by this gatehouse version; use USER_SRP_AUTH or USER_PASSWORD_AUTH."
        ))),
    }
}

/// `USERNAME` and the flow's other required parameter, then the client's `SECRET_HASH` for that user.
fn username_and<'a>(
    client: &ClientRow,
    params: &'a HashMap<String, String>,
    other: &str,
) -> Result<(&'a String, &'a String), CognitoError> {
    let username = param(params, "USERNAME")?;
    let value = param(params, other)?;
    check_secret_hash(
        client,
        username,
        params.get("SECRET_HASH").map(String::as_str),
    )?;
    Ok((username, value))
}

async fn user_password_auth(
    state: &IdpState,
    client: &ClientRow,
    params: &HashMap<String, String>,
    ip: Option<IpAddr>,
) -> Result<AuthResponse, CognitoError> {
    let (username, pw) = username_and(client, params, "PASSWORD")?;
    let user = check_password(state, username, pw, ip).await?;
    signed_in(state, client, user).await
}

/// The password check of `USER_PASSWORD_AUTH`, shared with the hosted sign-in page: the same throttle
/// counters, the same argon2 work and the same error (`bad_credentials`) for an unknown user and a wrong
/// password. The user returned may still be disabled or unconfirmed; the caller decides what that means.
pub async fn check_password(
    state: &IdpState,
    username: &str,
    pw: &str,
    ip: Option<IpAddr>,
) -> Result<UserRow, CognitoError> {
    let now = state.clock.now_unix();
    let key = throttle_key(state, username);
    state.throttle.check(&key, ip, now)?;
    if pw.len() > 256 {
        state.throttle.fail(&key, ip, now);
        return Err(CognitoError::bad_credentials());
    }
    state.cpu.admit(ip, now)?;
    let user = lookup(state, username).await?;
    // Same argon2 work whether or not the user exists.
    let phc = user
        .as_ref()
        .map_or_else(|| state.dummy_hash.clone(), |u| u.password_hash.clone());
    let ok = password::verify(pw.to_string(), phc).await?;
    let user = match user {
        Some(u) if ok => u,
        _ => {
            state.throttle.fail(&key, ip, now);
            return Err(CognitoError::bad_credentials());
        }
    };
    state.throttle.succeed(&key);
    Ok(backfill_verifier(state, user, pw).await)
}

/// Users created before SRP existed have no verifier; the first password sign-in derives it, so that SRP works
/// for them from then on. A failure here is logged and does not fail the sign-in.
async fn backfill_verifier(state: &IdpState, mut user: UserRow, pw: &str) -> UserRow {
    if user.srp_verifier.is_some() {
        return user;
    }
    let (salt, verifier) =
        srp::make_verifier(srp::pool_name(state.pool.id.as_str()), &user.username, pw);
    let update = PasswordUpdate {
        password_hash: user.password_hash.clone(),
        srp_salt: salt.clone(),
        srp_verifier: verifier.clone(),
        status: user.status,
    };
    match state
        .store
        .set_password(
            &state.pool.id,
            &user.username,
            update,
            false,
            state.clock.now_unix(),
        )
        .await
    {
        Ok(()) => {
            user.srp_salt = Some(salt);
            user.srp_verifier = Some(verifier);
        }
        Err(e) => {
            tracing::warn!(username = %user.username, error = %e, "cannot store the SRP verifier")
        }
    }
    user
}

/// After a correct password (either flow): refuse disabled or unconfirmed users, challenge a temporary
/// password, else mint.
async fn signed_in(
    state: &IdpState,
    client: &ClientRow,
    user: UserRow,
) -> Result<AuthResponse, CognitoError> {
    if !user.enabled {
        return Err(CognitoError::NotAuthorized("User is disabled.".into()));
    }
    match user.status {
        UserStatus::Unconfirmed => return Err(CognitoError::UserNotConfirmed),
        UserStatus::ResetRequired => return Err(CognitoError::PasswordResetRequired),
        UserStatus::ForceChangePassword => {
            let now = state.clock.now_unix();
            let session = crate::util::opaque_token(96);
            state
                .pending
                .put(
                    session.clone(),
                    Pending::NewPassword {
                        client_id: client.id.clone(),
                        username: user.username.clone(),
                    },
                    now + state.settings.auth_session_lifetime,
                    now,
                )
                .await?;
            let mut attrs = serde_json::Map::new();
            if let Some(e) = &user.email {
                attrs.insert("email".into(), serde_json::json!(e));
            }
            let params = HashMap::from([
                ("USER_ID_FOR_SRP".to_string(), user.username.clone()),
                ("requiredAttributes".to_string(), "[]".to_string()),
                (
                    "userAttributes".to_string(),
                    serde_json::Value::Object(attrs).to_string(),
                ),
            ]);
            return Ok(AuthResponse {
                challenge_name: Some("NEW_PASSWORD_REQUIRED".into()),
                session: Some(session),
                challenge_parameters: params,
                authentication_result: None,
            });
        }
        UserStatus::Confirmed => {}
    }
    let now = state.clock.now_unix();
    Ok(AuthResponse::tokens(
        tokens_for(state, &user, client, now).await?,
    ))
}

async fn srp_start(
    state: &IdpState,
    client: &ClientRow,
    params: &HashMap<String, String>,
    ip: Option<IpAddr>,
) -> Result<AuthResponse, CognitoError> {
    let (username, a_hex) = username_and(client, params, "SRP_A")?;
    let now = state.clock.now_unix();
    state
        .throttle
        .check(&throttle_key(state, username), ip, now)?;
    let a = srp::check_a(a_hex)
        .map_err(|_| CognitoError::InvalidParameter("SRP_A is not a valid value.".into()))?;
    state.cpu.admit(ip, now)?;
    let user = lookup(state, username).await?;
    let (fake_salt, fake_verifier) = srp::fake_verifier(&state.fake_secret, username);
    let real = user
        .as_ref()
        .and_then(|u| Some((u.srp_salt.clone()?, u.srp_verifier.clone()?)));
    let (salt, verifier) = match &real {
        Some((s, v)) => (s.clone(), v.clone()),
        None => (fake_salt, fake_verifier.clone()),
    };
    let eph = srp::server_ephemeral(&verifier)
        .map_err(|e| CognitoError::Internal(format!("srp: {e}")))?;
    let big_b = eph.big_b_hex.clone();
    let secret_block =
        base64::engine::general_purpose::STANDARD.encode(crate::util::random_bytes(96));
    let user_id = user
        .as_ref()
        .map_or_else(|| username.clone(), |u| u.username.clone());
    state
        .pending
        .put(
            secret_block.clone(),
            Pending::Srp {
                client_id: client.id.clone(),
                username: user_id.clone(),
                verifier: real.map(|(_, v)| v),
                fake_verifier,
                a,
                eph,
            },
            now + state.settings.auth_session_lifetime,
            now,
        )
        .await?;
    Ok(AuthResponse {
        challenge_name: Some("PASSWORD_VERIFIER".into()),
        session: None,
        challenge_parameters: HashMap::from([
            ("SALT".to_string(), salt),
            ("SRP_B".to_string(), big_b),
            ("SECRET_BLOCK".to_string(), secret_block),
            ("USER_ID_FOR_SRP".to_string(), user_id.clone()),
            ("USERNAME".to_string(), user_id),
        ]),
        authentication_result: None,
    })
}

fn expired_session() -> CognitoError {
    CognitoError::NotAuthorized("Invalid session for the user, session is expired.".into())
}

/// `RespondToAuthChallenge`.
pub async fn respond_to_auth_challenge(
    state: &IdpState,
    req: RespondRequest,
    ip: Option<IpAddr>,
) -> Result<AuthResponse, CognitoError> {
    let name = req
        .challenge_name
        .ok_or_else(|| null_member("challengeName"))?;
    let client = required_client(state, req.client_id.as_deref()).await?;
    let r = &req.challenge_responses;
    let now = state.clock.now_unix();
    match name.as_str() {
        "PASSWORD_VERIFIER" => password_verifier(state, &client, r, ip, now).await,
        "NEW_PASSWORD_REQUIRED" => {
            new_password_required(state, &client, req.session.as_deref(), r, ip, now).await
        }
        other => Err(CognitoError::InvalidParameter(format!(
            "The challenge {other} is not supported."
        ))),
    }
}

/// `PASSWORD_VERIFIER`: the SRP proof of a pending `USER_SRP_AUTH`, checked with the same work for every answer.
async fn password_verifier(
    state: &IdpState,
    client: &ClientRow,
    r: &HashMap<String, String>,
    ip: Option<IpAddr>,
    now: i64,
) -> Result<AuthResponse, CognitoError> {
    let username = param(r, "USERNAME")?;
    let block = param(r, "PASSWORD_CLAIM_SECRET_BLOCK")?;
    let ts = param(r, "TIMESTAMP")?;
    let sig = param(r, "PASSWORD_CLAIM_SIGNATURE")?;
    check_secret_hash(client, username, r.get("SECRET_HASH").map(String::as_str))?;
    let key = throttle_key(state, username);
    state.throttle.check(&key, ip, now)?;
    state.cpu.admit(ip, now)?;
    let Some(Pending::Srp {
        client_id,
        username: user_id,
        verifier,
        fake_verifier,
        a,
        eph,
    }) = state.pending.take(block, now).await?
    else {
        state.throttle.fail(&key, ip, now);
        return Err(CognitoError::bad_credentials());
    };
    let fresh = srp::parse_timestamp(ts)
        .is_some_and(|t| (t - now).abs() <= state.settings.srp_timestamp_skew);
    let used = verifier.clone().unwrap_or(fake_verifier);
    let block_bytes = base64::engine::general_purpose::STANDARD
        .decode(block)
        .unwrap_or_default();
    let sig_ok = srp::server_key(&a, &eph, &used).is_ok_and(|k| {
        srp::signature_matches(
            &k,
            srp::pool_name(state.pool.id.as_str()),
            &user_id,
            &block_bytes,
            ts,
            sig,
        )
    });
    let matches_user = client_id == client.id && (username == &user_id);
    if !(sig_ok && fresh && matches_user && verifier.is_some()) {
        state.throttle.fail(&key, ip, now);
        return Err(CognitoError::bad_credentials());
    }
    let Some(user) = lookup(state, &user_id).await? else {
        return Err(CognitoError::bad_credentials());
    };
    state.throttle.succeed(&key);
    signed_in(state, client, user).await
}

/// `NEW_PASSWORD_REQUIRED`: the new password of a user created by an administrator; the session stays usable
/// when the password fails the policy.
async fn new_password_required(
    state: &IdpState,
    client: &ClientRow,
    session: Option<&str>,
    r: &HashMap<String, String>,
    ip: Option<IpAddr>,
    now: i64,
) -> Result<AuthResponse, CognitoError> {
    let session = session.ok_or_else(|| null_member("session"))?;
    let username = param(r, "USERNAME")?;
    let new_pw = param(r, "NEW_PASSWORD")?;
    check_secret_hash(client, username, r.get("SECRET_HASH").map(String::as_str))?;
    let Some(Pending::NewPassword {
        client_id,
        username: expected,
    }) = state.pending.take(session, now).await?
    else {
        return Err(expired_session());
    };
    if client_id != client.id || &expected != username {
        return Err(expired_session());
    }
    match set_new_password(state, username, new_pw, ip, now).await {
        Ok(user) => signed_in(state, client, user).await,
        Err(CognitoError::InvalidPassword(msg)) => {
            // The session stays usable for a second try, as Cognito's does.
            state
                .pending
                .put(
                    session.to_string(),
                    Pending::NewPassword {
                        client_id,
                        username: expected,
                    },
                    now + state.settings.auth_session_lifetime,
                    now,
                )
                .await?;
            Err(CognitoError::InvalidPassword(msg))
        }
        Err(e) => Err(e),
    }
}

/// The password change of `NEW_PASSWORD_REQUIRED`, shared with the hosted change-password form: the pool's
/// policy (`InvalidPassword` with what it wants, nothing changed), the per-address admission of the argon2 work,
/// the new hash and SRP verifier stored with status `CONFIRMED` and no revocation; the user as now stored.
pub async fn set_new_password(
    state: &IdpState,
    username: &str,
    new_pw: &str,
    ip: Option<IpAddr>,
    now: i64,
) -> Result<UserRow, CognitoError> {
    password::check_policy(new_pw).map_err(CognitoError::InvalidPassword)?;
    state.cpu.admit(ip, now)?;
    let update = password_update(state, username, new_pw, UserStatus::Confirmed).await?;
    state
        .store
        .set_password(&state.pool.id, username, update, false, now)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => expired_session(),
            other => other.into(),
        })?;
    lookup(state, username).await?.ok_or_else(expired_session)
}

/// Hashes a new password and derives its SRP verifier (the pool's name and the username are part of it).
pub async fn password_update(
    state: &IdpState,
    username: &str,
    new_password: &str,
    status: UserStatus,
) -> Result<PasswordUpdate, CognitoError> {
    let hash = password::hash(new_password.to_string()).await?;
    let (salt, verifier) = srp::make_verifier(
        srp::pool_name(state.pool.id.as_str()),
        username,
        new_password,
    );
    Ok(PasswordUpdate {
        password_hash: hash,
        srp_salt: salt,
        srp_verifier: verifier,
        status,
    })
}
