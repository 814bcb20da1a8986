//! The authorization request of `/oauth2/authorize`, checked in the one order that decides where a refusal may
//! go — the client and its `redirect_uri` first (an unknown client or an unregistered URI is an HTML page,
//! never a redirect), then everything else (refused by a redirect to that URI with `error`,
//! `error_description`, `state` and the RFC 9207 `iss`): `response_type=code` only; PKCE S256 required of
//! public clients, `plain` refused; scopes never beyond the client's; an RFC 8707 `resource` of the pool;
//! `prompt=login|none`. Also the redirects themselves and the code: single use, five minutes, bound to
//! everything the token endpoint checks. Must never redirect to a URI the client did not register, nor log a
//! code, a challenge or a nonce.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

use super::error::OAuthError;
use super::{page, redirect, scopes};
use crate::idp::IdpState;
use crate::store::{AuthCodeRow, ClientRow, OAuthFlow, Sub};

/// How long a code may wait for its exchange, seconds (Cognito: 5 minutes).
pub const CODE_LIFETIME: i64 = 300;
/// The most parameters an authorization request may carry.
const MAX_PARAMS: usize = 30;
/// Query component characters left as they are (RFC 3986 unreserved).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A checked authorization request, as it waits for the sign-in form (serialised into the pending row).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    /// Exactly as presented (one of the client's callback URLs, a loopback one with any port).
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The granted scopes, space-separated.
    pub scope: String,
    pub code_challenge: Option<String>,
    pub resource: Option<String>,
    /// `prompt=login`: the password is asked even with an SSO session.
    pub prompt_login: bool,
    /// `prompt=none`: never show a page.
    pub prompt_none: bool,
    pub login_hint: Option<String>,
}

/// Why an authorization request is refused, and so where the refusal goes.
#[derive(Debug)]
pub enum Refusal {
    /// No trusted redirect URI (unknown client, unregistered or malformed `redirect_uri`): an HTML page.
    Page(StatusCode, String),
    /// Redirected to the request's valid `redirect_uri`.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

impl Refusal {
    fn to(req: &Partial, error: &'static str, description: impl Into<String>) -> Self {
        Refusal::Redirect {
            redirect_uri: req.redirect_uri.clone(),
            state: req.state.clone(),
            error,
            description: description.into(),
        }
    }
}

/// The part of a request known good enough to redirect a refusal to.
struct Partial {
    redirect_uri: String,
    state: Option<String>,
}

/// `redirect_uri` with `params` appended to its query (it has none of its own fragments: registration refuses
/// them).
pub fn with_params(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut url = redirect_uri.to_string();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        url.push(sep);
        url.push_str(k);
        url.push('=');
        url.extend(utf8_percent_encode(v, QUERY));
        sep = '&';
    }
    url
}

/// A redirect to a checked URI (`status`: 302 for a GET, 303 after a form post).
pub fn redirect_to(status: StatusCode, url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(location) => {
            let mut resp = status.into_response();
            let h = resp.headers_mut();
            h.insert(header::LOCATION, location);
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
            resp
        }
        Err(_) => page::error(
            StatusCode::BAD_REQUEST,
            "The redirect URI is not a valid URL.",
        ),
    }
}

/// An error redirect (RFC 6749 §4.1.2.1 with RFC 9207's `iss`).
pub fn error_redirect(
    state: &IdpState,
    status: StatusCode,
    redirect_uri: &str,
    req_state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(s) = req_state {
        params.push(("state", s));
    }
    params.push(("iss", state.issuer.as_str()));
    redirect_to(status, &with_params(redirect_uri, &params))
}

/// A refusal as its response.
pub fn refuse(state: &IdpState, r: Refusal) -> Response {
    match r {
        Refusal::Page(status, message) => page::error(status, &message),
        Refusal::Redirect {
            redirect_uri,
            state: s,
            error,
            description,
        } => error_redirect(
            state,
            StatusCode::FOUND,
            &redirect_uri,
            s.as_deref(),
            error,
            &description,
        ),
    }
}

/// One parameter: `Err` if repeated (RFC 6749 §3.1), an empty value counted as absent.
fn one<'a>(pairs: &'a [(String, String)], key: &str) -> Result<Option<&'a str>, String> {
    let mut it = pairs.iter().filter(|(k, _)| k == key);
    match (it.next(), it.next()) {
        (Some(_), Some(_)) => Err(format!("{key} is given more than once")),
        (Some((_, v)), None) if !v.is_empty() => Ok(Some(v.as_str())),
        _ => Ok(None),
    }
}

/// Whether `c` is an S256 challenge: 43 base64url characters.
fn is_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The client and `redirect_uri`: a refusal here is a page.
async fn client_and_redirect(
    state: &IdpState,
    pairs: &[(String, String)],
) -> Result<(ClientRow, Partial), Refusal> {
    let bad = |m: String| Refusal::Page(StatusCode::BAD_REQUEST, m);
    let client_id = one(pairs, "client_id")
        .map_err(bad)?
        .ok_or_else(|| bad("client_id is required.".into()))?;
    if super::clients::is_too_long(client_id) {
        return Err(bad("There is no such client.".into()));
    }
    // A stored client, a dynamically registered one or a metadata document's; a third party's asks for consent.
    let client = match super::clients::resolve(state, client_id).await {
        Ok(r) => {
            let third_party = r.third_party();
            let mut client = r.client;
            client.consent_required |= third_party;
            client
        }
        Err(OAuthError::InvalidClient(why)) if super::clients::is_metadata_client_id(client_id) => {
            return Err(bad(format!(
                "The client's metadata document was refused: {why}."
            )))
        }
        Err(OAuthError::InvalidClient(_)) => return Err(bad("There is no such client.".into())),
        Err(e) => {
            tracing::warn!(error = %e, "authorize: cannot read the client");
            return Err(Refusal::Page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is unavailable, please try again later.".into(),
            ));
        }
    };
    let redirect_uri = one(pairs, "redirect_uri")
        .map_err(bad)?
        .ok_or_else(|| bad("redirect_uri is required.".into()))?;
    if !redirect::is_registered(client.callback_urls.iter(), redirect_uri) {
        return Err(bad(
            "redirect_uri is not one of the client's registered callback URLs.".into(),
        ));
    }
    // `state` itself repeated: the refusal can still go to the URI, without a state.
    let req_state = one(pairs, "state").ok().flatten().map(String::from);
    Ok((
        client,
        Partial {
            redirect_uri: redirect_uri.to_string(),
            state: req_state,
        },
    ))
}

/// Checks an authorization request (`pairs`: its query).
pub async fn parse_request(
    state: &IdpState,
    pairs: &[(String, String)],
) -> Result<AuthRequest, Refusal> {
    if pairs.len() > MAX_PARAMS {
        return Err(Refusal::Page(
            StatusCode::BAD_REQUEST,
            format!("At most {MAX_PARAMS} parameters."),
        ));
    }
    let (client, partial) = client_and_redirect(state, pairs).await?;
    let p = |k: &str| one(pairs, k).map_err(|m| Refusal::to(&partial, "invalid_request", m));
    for k in [
        "state",
        "nonce",
        "scope",
        "prompt",
        "login_hint",
        "resource",
    ] {
        let _ = p(k)?;
    }
    if !client.oauth_flows.allows(OAuthFlow::Code) {
        return Err(Refusal::to(
            &partial,
            "unauthorized_client",
            "the client is not allowed the authorization code flow",
        ));
    }
    response_type(&partial, p("response_type")?)?;
    let too_long = |k: &str, v: Option<&str>, max: usize| {
        if v.is_some_and(|v| v.len() > max) {
            Err(Refusal::to(
                &partial,
                "invalid_request",
                format!("{k} is too long"),
            ))
        } else {
            Ok(())
        }
    };
    too_long("state", partial.state.as_deref(), 2048)?;
    let nonce = p("nonce")?;
    too_long("nonce", nonce, 512)?;
    let login_hint = p("login_hint")?;
    too_long("login_hint", login_hint, 128)?;
    let code_challenge = pkce(
        &client,
        &partial,
        p("code_challenge")?,
        p("code_challenge_method")?,
    )?;
    let scope = granted_scope(state, &client, &partial, p("scope")?).await?;
    let resource = resource(state, &partial, p("resource")?).await?;
    let (prompt_login, prompt_none) = prompt(&partial, p("prompt")?)?;
    Ok(AuthRequest {
        client_id: client.id.to_string(),
        redirect_uri: partial.redirect_uri,
        state: partial.state,
        nonce: nonce.map(String::from),
        scope,
        code_challenge,
        resource,
        prompt_login,
        prompt_none,
        login_hint: login_hint.map(String::from),
    })
}

/// `response_type`: `code` only.
fn response_type(partial: &Partial, v: Option<&str>) -> Result<(), Refusal> {
    match v {
        Some("code") => Ok(()),
        None => Err(Refusal::to(
            partial,
            "invalid_request",
            "response_type is required",
        )),
        Some(_) => Err(Refusal::to(
            partial,
            "unsupported_response_type",
            "only response_type=code is supported",
        )),
    }
}

/// RFC 8707 `resource`: one of the pool's resource servers.
async fn resource(
    state: &IdpState,
    partial: &Partial,
    v: Option<&str>,
) -> Result<Option<String>, Refusal> {
    let Some(r) = v else {
        return Ok(None);
    };
    let servers = state
        .store
        .resource_servers(&state.pool.id)
        .await
        .map_err(|_| Refusal::to(partial, "temporarily_unavailable", "try again later"))?;
    if !servers.iter().any(|s| s.identifier == r) {
        return Err(Refusal::to(
            partial,
            "invalid_target",
            format!("resource {r} is not a resource server of this pool"),
        ));
    }
    Ok(Some(r.to_string()))
}

/// `prompt`: (`login`, `none`).
fn prompt(partial: &Partial, v: Option<&str>) -> Result<(bool, bool), Refusal> {
    match v {
        None => Ok((false, false)),
        Some("login") => Ok((true, false)),
        Some("none") => Ok((false, true)),
        Some(_) => Err(Refusal::to(
            partial,
            "invalid_request",
            "prompt must be login or none",
        )),
    }
}

/// PKCE (RFC 7636): S256 only, and required of public clients.
fn pkce(
    client: &ClientRow,
    partial: &Partial,
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<Option<String>, Refusal> {
    match (challenge, method) {
        (None, Some(_)) => Err(Refusal::to(
            partial,
            "invalid_request",
            "code_challenge_method without code_challenge",
        )),
        (None, None) if client.secret.is_none() => Err(Refusal::to(
            partial,
            "invalid_request",
            "code_challenge is required (PKCE with S256) for a public client",
        )),
        (None, None) => Ok(None),
        (Some(_), m) if m != Some("S256") => Err(Refusal::to(
            partial,
            "invalid_request",
            "code_challenge_method must be S256 (plain is not allowed)",
        )),
        (Some(c), _) if !is_s256_challenge(c) => Err(Refusal::to(
            partial,
            "invalid_request",
            "code_challenge must be 43 base64url characters (an S256 challenge)",
        )),
        (Some(c), _) => Ok(Some(c.to_string())),
    }
}

/// The scopes to grant: never one the client was not registered with (refused, not narrowed).
async fn granted_scope(
    state: &IdpState,
    client: &ClientRow,
    partial: &Partial,
    requested: Option<&str>,
) -> Result<String, Refusal> {
    let allowed: Vec<&str> = client.oauth_scopes.iter().collect();
    let granted = scopes::granted(requested, &allowed, |_| true).map_err(|s| {
        Refusal::to(
            partial,
            "invalid_scope",
            format!("the client may not be granted scope {s}"),
        )
    })?;
    let servers = state
        .store
        .resource_servers(&state.pool.id)
        .await
        .map_err(|_| Refusal::to(partial, "temporarily_unavailable", "try again later"))?;
    if let Some(s) = scopes::first_unknown(granted.iter().map(String::as_str), &servers) {
        return Err(Refusal::to(
            partial,
            "invalid_scope",
            format!("scope {s} is not defined"),
        ));
    }
    if granted.is_empty() {
        return Err(Refusal::to(partial, "invalid_scope", "no scope to grant"));
    }
    Ok(granted.join(" "))
}

/// Issues a code for `sub` and answers with the redirect that carries it (`code`, `state`, `iss`).
pub async fn issue_code(
    state: &IdpState,
    req: &AuthRequest,
    sub: &Sub,
    auth_time: i64,
    status: StatusCode,
) -> Result<Response, OAuthError> {
    let code = crate::util::opaque_token(32);
    let now = state.clock.now_unix();
    let row = AuthCodeRow {
        code_hash: crate::util::sha256_hex(code.as_bytes()),
        pool_id: state.pool.id.clone(),
        client_id: req.client_id.as_str().into(),
        sub: sub.clone(),
        redirect_uri: req.redirect_uri.clone(),
        code_challenge: req.code_challenge.clone(),
        nonce: req.nonce.clone(),
        scope: req.scope.clone(),
        resource: req.resource.clone(),
        auth_time,
        created_at: now,
        expires_at: now + CODE_LIFETIME,
        used_at: None,
        family_id: None,
    };
    state.store.put_auth_code(row, now).await?;
    tracing::info!(client_id = %req.client_id, sub = %sub, code = %crate::util::log_id(&code), "issued an authorization code");
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = &req.state {
        params.push(("state", s));
    }
    params.push(("iss", state.issuer.as_str()));
    Ok(redirect_to(
        status,
        &with_params(&req.redirect_uri, &params),
    ))
}

/// A failure after the request was checked: redirected as `server_error` / `temporarily_unavailable`.
pub fn server_error(state: &IdpState, req: &AuthRequest, e: OAuthError) -> Response {
    let code = match &e {
        OAuthError::Unavailable(_) => "temporarily_unavailable",
        _ => "server_error",
    };
    tracing::warn!(error = %e, "authorize: failed");
    error_redirect(
        state,
        StatusCode::FOUND,
        &req.redirect_uri,
        req.state.as_deref(),
        code,
        "try again later",
    )
}

/// The `form-action` sources of a page whose form ends in a redirect to `redirect_uri`: browsers apply
/// `form-action` to the redirects that follow a form post, so the client's own origin is allowed too.
pub fn form_action_sources(redirect_uri: &str) -> String {
    let Some((scheme, rest)) = redirect_uri.split_once("://") else {
        return "'self'".into();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let safe = |s: &str| {
        s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'+')
        })
    };
    if !safe(scheme) || !safe(authority) {
        return "'self'".into();
    }
    if scheme == "http" || scheme == "https" {
        format!("'self' {scheme}://{authority}")
    } else {
        format!("'self' {scheme}:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_appended_percent_encoded() {
        assert_eq!(
            with_params("https://a.example/cb", &[("code", "x y"), ("state", "s&t")]),
            "https://a.example/cb?code=x%20y&state=s%26t"
        );
        assert_eq!(
            with_params("https://a.example/cb?k=1", &[("code", "c")]),
            "https://a.example/cb?k=1&code=c"
        );
    }

    #[test]
    fn form_action_allows_the_clients_origin_only() {
        assert_eq!(
            form_action_sources("https://app.example.com/cb?x=1"),
            "'self' https://app.example.com"
        );
        assert_eq!(
            form_action_sources("http://127.0.0.1:5000/cb"),
            "'self' http://127.0.0.1:5000"
        );
        assert_eq!(
            form_action_sources("com.example.app://cb"),
            "'self' com.example.app:"
        );
        assert_eq!(form_action_sources("https://a;b/cb"), "'self'");
    }

    #[test]
    fn an_s256_challenge_is_43_base64url_characters() {
        assert!(is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!is_s256_challenge("short"));
        assert!(!is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"
        ));
    }
}
