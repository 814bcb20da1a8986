//! `POST /oauth2/token`: the form body (each parameter at most once, bounded), client authentication — the
//! client found by `clients::resolve`, `client_secret_basic` or `client_secret_post`, never both, compared by
//! `client_auth`, failures throttled per client and address like sign-ins — the client's last use recorded on
//! success, and the grants. Implemented: `client_credentials` (confidential clients
//! with that flow; resource-server scopes only, never more than the client's; RFC 8707 `resource` → `aud`) and
//! `refresh_token` (Cognito's `GetTokensFromRefreshToken` itself, so the client's rotation rules hold);
//! `authorization_code` is `code_grant`'s.
//! Must never log a secret or a token (log `util::log_id`), nor answer a failed client authentication with
//! anything but 401.
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::clients;
use super::error::{no_store, OAuthError};
use super::params::Params;
use super::scopes;
use crate::idp::client_auth::check_client_secret;
use crate::idp::{mint, IdpState};
use crate::store::{ClientRow, OAuthFlow};

/// The client's credentials as sent: `(client_id, secret)`.
fn credentials(headers: &HeaderMap, p: &Params) -> Result<(String, Option<String>), OAuthError> {
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let bad = || OAuthError::InvalidClient("malformed Basic authorization header".into());
            let v = v.to_str().map_err(|_| bad())?;
            let (scheme, b64) = v.split_once(' ').ok_or_else(bad)?;
            if !scheme.eq_ignore_ascii_case("basic") || b64.len() > 1024 {
                return Err(bad());
            }
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| bad())?;
            let raw = String::from_utf8(raw).map_err(|_| bad())?;
            let (id, secret) = raw.split_once(':').ok_or_else(bad)?;
            // RFC 6749 §2.3.1: both are form-encoded before they are joined.
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| bad())
            };
            Some((decode(id)?, decode(secret)?))
        }
    };
    match (basic, p.get("client_secret")) {
        (Some(_), Some(_)) => Err(OAuthError::InvalidRequest(
            "use one client authentication method: the Basic header or client_secret, not both"
                .into(),
        )),
        (Some((id, secret)), None) => {
            if p.get("client_id").is_some_and(|c| c != id) {
                return Err(OAuthError::InvalidClient(
                    "client_id differs from the Basic header's".into(),
                ));
            }
            Ok((id, Some(secret)))
        }
        (None, secret) => Ok((
            p.required("client_id")?.to_string(),
            secret.map(String::from),
        )),
    }
}

/// Authenticates the client: the one it names exists, and its secret (if it has one) matches. A public client
/// authenticates by its id alone (and proves possession with PKCE). Failures are counted per client and
/// address, and refused early once too many.
pub async fn authenticate(
    state: &IdpState,
    headers: &HeaderMap,
    p: &Params,
    ip: Option<IpAddr>,
) -> Result<ClientRow, OAuthError> {
    let (client_id, secret) = credentials(headers, p)?;
    if clients::is_too_long(&client_id) {
        return Err(OAuthError::InvalidClient(
            "client authentication failed".into(),
        ));
    }
    let key = format!("client:{client_id}");
    let now = state.clock.now_unix();
    // Over the per-client or per-address limit: refused before the secret is even compared.
    state
        .throttle
        .check(&key, ip, now)
        .map_err(|_| OAuthError::TooManyRequests)?;
    let client = match clients::resolve(state, &client_id).await {
        Ok(c) => c.client,
        Err(e @ OAuthError::InvalidClient(_)) => {
            state.throttle.fail(&key, ip, now);
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    if client.secret.is_none() && secret.is_some() {
        state.throttle.fail(&key, ip, now);
        return Err(OAuthError::InvalidClient(
            "client authentication failed: this is a public client, it has no secret".into(),
        ));
    }
    if check_client_secret(&client, secret.as_deref()).is_err() {
        state.throttle.fail(&key, ip, now);
        return Err(OAuthError::InvalidClient(
            "client authentication failed".into(),
        ));
    }
    Ok(client)
}

/// A form-encoded OAuth request body, as axum extracts it.
pub type FormBody =
    Result<axum::Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>;

/// The checked parameters of a form-encoded OAuth request (token, revocation).
pub fn form_params(form: FormBody) -> Result<Params, OAuthError> {
    let axum::Form(pairs) = form.map_err(|_| {
        OAuthError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded parameters".into(),
        )
    })?;
    Params::new(pairs)
}

/// `POST /oauth2/token`.
pub async fn token(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    form: FormBody,
) -> Response {
    let ip = extensions.get::<crate::net::ClientAddr>().map(|c| c.0);
    let result = async {
        let p = form_params(form)?;
        let grant = p.required("grant_type")?.to_string();
        let client = authenticate(&state, &headers, &p, ip).await?;
        match grant.as_str() {
            "client_credentials" => client_credentials(&state, &client, &p).await,
            "refresh_token" => refresh(&state, &client, &p).await,
            "authorization_code" => super::code_grant::exchange(&state, &client, &p).await,
            other => Err(OAuthError::UnsupportedGrantType(format!(
                "grant_type {other} is not supported; use authorization_code, refresh_token or \
                 client_credentials"
            ))),
        }
        .map(|body| (body, client))
    }
    .await;
    match result {
        Ok((body, client)) => {
            touch(&state, &client).await;
            let mut resp = axum::Json(body).into_response();
            no_store(&mut resp);
            resp
        }
        Err(e) => e.into_response(),
    }
}

/// Records the client's use (what keeps a dynamically registered client from expiring); a failure is logged,
/// the tokens are issued anyway.
async fn touch(state: &IdpState, client: &ClientRow) {
    if clients::is_metadata_client_id(client.id.as_str()) {
        return;
    }
    let now = state.clock.now_unix();
    if let Err(e) = state
        .store
        .touch_client(&state.pool.id, &client.id, now)
        .await
    {
        tracing::warn!(client_id = %client.id, error = %e, "oauth: cannot record the client's last use");
    }
}

/// The `resource` of a request: an identifier of one of the pool's resource servers (RFC 8707).
pub async fn resource<'a>(state: &IdpState, p: &'a Params) -> Result<Option<&'a str>, OAuthError> {
    let Some(r) = p.get("resource") else {
        return Ok(None);
    };
    let servers = state.store.resource_servers(&state.pool.id).await?;
    if servers.iter().any(|s| s.identifier == r) {
        Ok(Some(r))
    } else {
        Err(OAuthError::InvalidTarget(format!(
            "resource {r} is not a resource server of this pool"
        )))
    }
}

async fn client_credentials(
    state: &IdpState,
    client: &ClientRow,
    p: &Params,
) -> Result<serde_json::Value, OAuthError> {
    if client.secret.is_none() {
        return Err(OAuthError::UnauthorizedClient(
            "client_credentials needs a confidential client (one with a secret)".into(),
        ));
    }
    if !client.oauth_flows.allows(OAuthFlow::ClientCredentials) {
        return Err(OAuthError::UnauthorizedClient(
            "the client is not allowed the client_credentials flow".into(),
        ));
    }
    let servers = state.store.resource_servers(&state.pool.id).await?;
    let allowed: Vec<&str> = client.oauth_scopes.iter().collect();
    let granted = scopes::granted(p.get("scope"), &allowed, |s| {
        scopes::is_resource_scope(s, &servers)
    })
    .map_err(|s| OAuthError::InvalidScope(format!("the client may not be granted scope {s}")))?;
    if let Some(s) = granted
        .iter()
        .find(|s| !scopes::is_resource_scope(s, &servers))
    {
        return Err(OAuthError::InvalidScope(format!(
            "client_credentials grants resource-server scopes only, not {s}"
        )));
    }
    if granted.is_empty() {
        return Err(OAuthError::InvalidScope(
            "no resource-server scope to grant; register one with --oauth-scopes".into(),
        ));
    }
    let resource = resource(state, p).await?;
    let scope = granted.join(" ");
    let (access, expires_in) =
        mint::client_credentials_access(state, client, &scope, resource).await?;
    Ok(serde_json::json!({
        "access_token": access,
        "expires_in": expires_in,
        "token_type": "Bearer",
    }))
}

/// The `refresh_token` grant: `refresh::get_tokens` (rotation, grace period, reuse detection) for the
/// authenticated client. A `scope` may only repeat scopes the client holds; the tokens keep the original grant.
async fn refresh(
    state: &IdpState,
    client: &ClientRow,
    p: &Params,
) -> Result<serde_json::Value, OAuthError> {
    let token = p.required("refresh_token")?.to_string();
    if let Some(s) = p.get("scope").and_then(|r| {
        r.split(' ')
            .find(|s| !s.is_empty() && !client.scopes.iter().any(|c| c == *s))
    }) {
        return Err(OAuthError::InvalidScope(format!(
            "scope {s} was not granted to this refresh token"
        )));
    }
    // Authenticated above (a metadata-document client is in no store: the resolved client is passed on).
    let result = crate::idp::refresh::get_tokens_for(state, client, &token)
        .await
        .map_err(|e| match e {
            crate::idp::CognitoError::RefreshTokenReuse => OAuthError::InvalidGrant(e.to_string()),
            other => other.into(),
        })?
        .authentication_result;
    let mut body = serde_json::json!({
        "access_token": result.access_token,
        "id_token": result.id_token,
        "expires_in": result.expires_in,
        "token_type": result.token_type,
    });
    if let (Some(r), Some(obj)) = (result.refresh_token, body.as_object_mut()) {
        obj.insert("refresh_token".into(), serde_json::json!(r));
    }
    Ok(body)
}
