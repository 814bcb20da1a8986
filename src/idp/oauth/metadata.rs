//! The authorization server's metadata (RFC 8414; `discovery` serves it at
//! `/.well-known/oauth-authorization-server/{poolId}`, the path-inserted form for an issuer with a path, and at
//! `/{poolId}/.well-known/oauth-authorization-server`), the members the OpenID discovery document shares. Lists
//! only what is served; must never advertise an endpoint (`registration_endpoint` only while registration is
//! on), grant or method gatehouse does not implement.
use serde_json::{json, Map, Value};

use super::scopes::STANDARD_SCOPES;
use crate::config::idp_oauth::Registration;
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
    let mut m = match doc {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let oauth = state.clients.config();
    if oauth.dynamic_client_registration != Registration::Off {
        m.insert(
            "registration_endpoint".into(),
            json!(format!("{base}/oauth2/register")),
        );
    }
    if oauth.client_id_metadata_documents {
        m.insert("client_id_metadata_document_supported".into(), json!(true));
    }
    m
}
