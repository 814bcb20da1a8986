//! The authorization server's metadata (RFC 8414; `discovery` serves it at
//! `/.well-known/oauth-authorization-server/{poolId}`, the path-inserted form for an issuer with a path, and at
//! `/{poolId}/.well-known/oauth-authorization-server`), the members the OpenID discovery document shares. Lists only what is served; must never
//! advertise an endpoint, grant or method gatehouse does not implement.
use serde_json::{json, Map, Value};

use super::scopes::STANDARD_SCOPES;
use crate::idp::IdpState;

/// The IdP's public base URL: the issuer without its `/{poolId}`.
pub fn base_url(state: &IdpState) -> &str {
    state
        .issuer
        .strip_suffix(&format!("/{}", state.pool.id))
        .unwrap_or(&state.issuer)
}

/// The OAuth members both documents carry.
pub fn oauth_members(state: &IdpState) -> Map<String, Value> {
    let base = base_url(state);
    let doc = json!({
        "issuer": state.issuer,
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login"],
        "token_endpoint": format!("{base}/oauth2/token"),
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "jwks_uri": format!("{}/.well-known/jwks.json", state.issuer),
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": STANDARD_SCOPES,
    });
    match doc {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
