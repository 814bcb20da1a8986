//! `POST /oauth2/register`: RFC 7591 dynamic client registration into the IdP's pool, as
//! `[idp.oauth] dynamic_client_registration` allows — `off` (403), `open`, or `token` (an initial access token
//! from `gatehouse client registration-token create`, sent as a Bearer token, compared by hash). The JSON body
//! (at most [`MAX_REGISTRATION_BYTES`]) is checked — `redirect_uris` (https, or http on loopback; no fragment,
//! no wildcard), `grant_types`, `response_types`, `token_endpoint_auth_method` (`none`: public;
//! `client_secret_basic` / `client_secret_post`: confidential, the secret returned once), `scope`,
//! `client_name` — and the client stored marked as dynamically registered (swept once unused, see `clients`).
//! Registrations are limited per address. Must never log a secret or an initial access token, nor store a
//! redirect URI `redirect` would refuse.
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use serde::Deserialize;
use serde_json::json;

use super::error::{no_store, OAuthError};
use super::{redirect, scopes};
use crate::config::idp_oauth::Registration;
use crate::config::Secret;
use crate::idp::IdpState;
use crate::store::{ClientId, ClientRow};

/// Largest registration body accepted.
pub const MAX_REGISTRATION_BYTES: usize = 16 * 1024;
/// Registrations admitted per client address per hour.
pub const REGISTRATIONS_PER_IP_PER_HOUR: u32 = 20;
/// Most redirect URIs one client may register.
const MAX_REDIRECT_URIS: usize = 20;

/// Every refusal of the registration endpoint (RFC 7591 §3.2.2 body).
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("dynamic client registration is off on this server")]
    Off,
    #[error("an initial access token is required (Authorization: Bearer …)")]
    MissingToken,
    #[error("the initial access token is not valid")]
    BadToken,
    #[error("{0}")]
    InvalidRedirectUri(String),
    #[error("{0}")]
    InvalidClientMetadata(String),
    #[error("the registration body is larger than {MAX_REGISTRATION_BYTES} bytes")]
    TooLarge,
    #[error("too many registrations from this address, please try again later")]
    TooMany,
    #[error("{0}")]
    OAuth(#[from] OAuthError),
}

impl IntoResponse for RegisterError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            RegisterError::Off => (StatusCode::FORBIDDEN, "access_denied"),
            RegisterError::MissingToken | RegisterError::BadToken => {
                (StatusCode::UNAUTHORIZED, "invalid_token")
            }
            RegisterError::InvalidRedirectUri(_) => {
                (StatusCode::BAD_REQUEST, "invalid_redirect_uri")
            }
            RegisterError::InvalidClientMetadata(_) => {
                (StatusCode::BAD_REQUEST, "invalid_client_metadata")
            }
            RegisterError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_client_metadata"),
            RegisterError::TooMany => (StatusCode::TOO_MANY_REQUESTS, "slow_down"),
            RegisterError::OAuth(_) => {
                let RegisterError::OAuth(e) = self else {
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                };
                return e.into_response();
            }
        };
        let body = json!({"error": code, "error_description": self.to_string()});
        let mut resp = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        no_store(&mut resp);
        resp
    }
}

/// The client metadata gatehouse reads (RFC 7591 §2); any other member is ignored, as §2 says.
#[derive(Debug, Deserialize)]
struct RawMetadata {
    redirect_uris: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    scope: Option<String>,
}

/// The checked registration.
struct Checked {
    redirect_uris: Vec<String>,
    auth_method: &'static str,
    grant_types: Vec<&'static str>,
    name: String,
    scope: String,
}

fn check(
    raw: RawMetadata,
    servers: &[crate::store::ResourceServerRow],
) -> Result<Checked, RegisterError> {
    let redirect_uris = raw.redirect_uris.unwrap_or_default();
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(RegisterError::InvalidRedirectUri(format!(
            "at most {MAX_REDIRECT_URIS} redirect_uris"
        )));
    }
    for u in &redirect_uris {
        redirect::validate_third_party(u).map_err(RegisterError::InvalidRedirectUri)?;
    }
    let auth_method = auth_method(raw.token_endpoint_auth_method.as_deref())?;
    let grant_types = grant_types(raw.grant_types, raw.response_types, &redirect_uris)?;
    let cc = grant_types.contains(&"client_credentials");
    if cc && auth_method == "none" {
        return Err(meta(
            "client_credentials needs a confidential client (client_secret_basic or client_secret_post)",
        ));
    }
    let scope = scope(raw.scope.as_deref(), cc, servers)?;
    let name = raw
        .client_name
        .unwrap_or_else(|| "dynamically registered client".into());
    if name.chars().count() > 128 || name.chars().any(char::is_control) || name.trim().is_empty() {
        return Err(meta(
            "client_name must be 1 to 128 characters, without control characters",
        ));
    }
    Ok(Checked {
        redirect_uris,
        auth_method,
        grant_types,
        name,
        scope,
    })
}

fn meta(m: impl Into<String>) -> RegisterError {
    RegisterError::InvalidClientMetadata(m.into())
}

/// `token_endpoint_auth_method`, `client_secret_basic` when absent.
fn auth_method(raw: Option<&str>) -> Result<&'static str, RegisterError> {
    match raw {
        None | Some("client_secret_basic") => Ok("client_secret_basic"),
        Some("client_secret_post") => Ok("client_secret_post"),
        Some("none") => Ok("none"),
        Some(other) => Err(meta(format!(
            "token_endpoint_auth_method {other} is not supported; use none, client_secret_basic or \
             client_secret_post"
        ))),
    }
}

/// `grant_types` (`authorization_code` when absent) checked against `response_types` and the redirect URIs.
fn grant_types(
    raw: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    redirect_uris: &[String],
) -> Result<Vec<&'static str>, RegisterError> {
    let mut grant_types: Vec<&'static str> = Vec::new();
    for g in raw.unwrap_or_else(|| vec!["authorization_code".into()]) {
        let known = match g.as_str() {
            "authorization_code" => "authorization_code",
            "refresh_token" => "refresh_token",
            "client_credentials" => "client_credentials",
            other => {
                return Err(meta(format!(
                    "grant_type {other} is not supported; use authorization_code, refresh_token or \
                     client_credentials"
                )))
            }
        };
        if !grant_types.contains(&known) {
            grant_types.push(known);
        }
    }
    let code = grant_types.contains(&"authorization_code");
    let response_types = response_types.unwrap_or_else(|| {
        if code {
            vec!["code".into()]
        } else {
            Vec::new()
        }
    });
    if let Some(r) = response_types.iter().find(|r| *r != "code") {
        return Err(meta(format!(
            "response_type {r} is not supported; use code"
        )));
    }
    if code != response_types.iter().any(|r| r == "code") {
        return Err(meta(
            "grant_type authorization_code and response_type code go together",
        ));
    }
    if code && redirect_uris.is_empty() {
        return Err(RegisterError::InvalidRedirectUri(
            "authorization_code needs at least one redirect_uri".into(),
        ));
    }
    if grant_types.contains(&"refresh_token") && !code {
        return Err(meta("refresh_token needs authorization_code"));
    }
    if grant_types.is_empty() {
        return Err(meta("grant_types must not be empty"));
    }
    Ok(grant_types)
}

/// `scope`, every name known here; a client-credentials client needs a resource-server scope.
fn scope(
    raw: Option<&str>,
    cc: bool,
    servers: &[crate::store::ResourceServerRow],
) -> Result<String, RegisterError> {
    let scope =
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => {
                if let Some(bad) = s
                    .split(' ')
                    .find(|w| !w.is_empty() && !scopes::is_known(w, servers))
                {
                    return Err(meta(format!("scope {bad} is not known on this server")));
                }
                s.split(' ')
                    .filter(|w| !w.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            None if cc => return Err(meta(
                "client_credentials needs a scope naming a resource-server scope (IDENTIFIER/NAME)",
            )),
            None => "openid email profile".into(),
        };
    if cc
        && !scope
            .split(' ')
            .any(|s| scopes::is_resource_scope(s, servers))
    {
        return Err(meta(
            "client_credentials needs a resource-server scope (IDENTIFIER/NAME) in scope",
        ));
    }
    Ok(scope)
}

/// Refuses the request unless this mode lets it register.
async fn admit(state: &IdpState, headers: &HeaderMap) -> Result<(), RegisterError> {
    match state.clients.config().dynamic_client_registration {
        Registration::Off => Err(RegisterError::Off),
        Registration::Open => Ok(()),
        Registration::Token => {
            let token = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim())
                .filter(|t| !t.is_empty() && t.len() <= 512)
                .ok_or(RegisterError::MissingToken)?;
            let hash = crate::util::sha256_hex(token.as_bytes());
            if state
                .store
                .registration_token_exists(&state.pool.id, &hash)
                .await
                .map_err(OAuthError::from)?
            {
                Ok(())
            } else {
                tracing::info!(token = %crate::util::log_id(token), "oauth: registration with an unknown initial access token");
                Err(RegisterError::BadToken)
            }
        }
    }
}

async fn read_body(body: Body, headers: &HeaderMap) -> Result<RawMetadata, RegisterError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_REGISTRATION_BYTES) {
        return Err(RegisterError::TooLarge);
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json {
        return Err(RegisterError::InvalidClientMetadata(
            "the body must be application/json client metadata".into(),
        ));
    }
    let bytes = http_body_util::Limited::new(body, MAX_REGISTRATION_BYTES)
        .collect()
        .await
        .map_err(|_| RegisterError::TooLarge)?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| {
        RegisterError::InvalidClientMetadata(format!("the body is not client metadata: {e}"))
    })
}

/// `POST /oauth2/register`.
pub async fn register(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: Body,
) -> Response {
    match registration(&state, &headers, &extensions, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn registration(
    state: &IdpState,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    body: Body,
) -> Result<Response, RegisterError> {
    admit(state, headers).await?;
    let now = state.clock.now_unix();
    let ip = extensions.get::<crate::net::ClientAddr>().map(|c| c.0);
    state
        .registrations
        .admit(ip, now)
        .map_err(|_| RegisterError::TooMany)?;
    let raw = read_body(body, headers).await?;
    let servers = state
        .store
        .resource_servers(&state.pool.id)
        .await
        .map_err(OAuthError::from)?;
    let c = check(raw, &servers)?;
    // Registration is when stale registrations are looked for: the table cannot grow without bound.
    let cutoff = now - super::clients::UNUSED_CLIENT_DAYS * 86_400;
    state
        .store
        .sweep_unused_clients(&state.pool.id, cutoff, now)
        .await
        .map_err(OAuthError::from)?;
    let confidential = c.auth_method != "none";
    let secret = confidential.then(|| Secret::new(crate::util::random_alnum(52)));
    let mut flows = Vec::new();
    if c.grant_types.contains(&"authorization_code") {
        flows.push("code");
    }
    if c.grant_types.contains(&"client_credentials") {
        flows.push("client_credentials");
    }
    let auth_flows = if c.grant_types.contains(&"refresh_token") {
        "ALLOW_REFRESH_TOKEN_AUTH"
    } else {
        ""
    };
    let row = ClientRow {
        secret: secret.as_ref().map(|s| s.expose().to_string()),
        secret_created_at: secret.as_ref().map(|_| now),
        callback_urls: c.redirect_uris.join(" ").into(),
        oauth_flows: flows.join(" ").as_str().into(),
        oauth_scopes: c.scope.as_str().into(),
        dynamic: true,
        ..ClientRow::new_public(
            ClientId::generate(),
            state.pool.id.clone(),
            c.name.clone(),
            auth_flows.into(),
            now,
        )
    };
    let id = row.id.clone();
    state
        .store
        .create_client(row)
        .await
        .map_err(OAuthError::from)?;
    tracing::info!(client_id = %id, confidential, "oauth: client registered dynamically");
    let mut body = json!({
        "client_id": id,
        "client_id_issued_at": now,
        "client_name": c.name,
        "redirect_uris": c.redirect_uris,
        "grant_types": c.grant_types,
        "response_types": if c.grant_types.contains(&"authorization_code") { vec!["code"] } else { Vec::new() },
        "token_endpoint_auth_method": c.auth_method,
        "scope": c.scope,
    });
    if let (Some(s), Some(obj)) = (&secret, body.as_object_mut()) {
        obj.insert("client_secret".into(), json!(s.expose()));
        obj.insert("client_secret_expires_at".into(), json!(0));
    }
    let mut resp = (StatusCode::CREATED, axum::Json(body)).into_response();
    no_store(&mut resp);
    Ok(resp)
}
