//! What the web app reads from `/config.json`: the pool, the web app's client, the gateway and its runtimes
//! (name, ARN and protocol, so the app can tell a chat runtime from an MCP or A2A one), and — when that client is registered for the web app's callback — what the hosted sign-in needs (issuer,
//! callback and logout URLs, scopes). Must never put a secret, a user or anything the browser need not know into it.
use std::sync::Arc;

use crate::config::Protocol;
use crate::edge::{AppConfig, AppOAuth, AppRuntime};
use crate::idp::bootstrap;
use crate::idp::oauth::redirect;
use crate::store::{ClientRow, PoolRow};

/// The addresses `/config.json` names.
pub(super) struct Urls<'a> {
    pub(super) web: &'a str,
    pub(super) idp: &'a str,
    pub(super) gateway: &'a str,
    pub(super) issuer: &'a str,
}

/// `/config.json` for the web app signing in with `client`.
pub(super) fn app_config(
    pool: &PoolRow,
    urls: &Urls<'_>,
    client: &ClientRow,
    runtimes: &[Arc<crate::gateway::Runtime>],
) -> AppConfig {
    AppConfig {
        region: pool.region.clone(),
        idp_url: urls.idp.to_string(),
        user_pool_id: pool.id.to_string(),
        client_id: client.id.to_string(),
        gateway_url: urls.gateway.to_string(),
        runtimes: runtimes
            .iter()
            .map(|r| app_runtime(&r.name, &r.arn, r.protocol))
            .collect(),
        oauth: oauth(urls, client),
    }
}

/// One runtime as `/config.json` names it.
fn app_runtime(name: &str, arn: &str, protocol: Protocol) -> AppRuntime {
    AppRuntime {
        name: name.to_string(),
        arn: arn.to_string(),
        protocol: protocol.as_str(),
    }
}

/// The hosted sign-in's settings, if `client` is registered for the web app's callback (else the app offers
/// only its own sign-in).
fn oauth(urls: &Urls<'_>, client: &ClientRow) -> Option<AppOAuth> {
    if !bootstrap::serves_web_app(client, urls.web) {
        return None;
    }
    let (redirect_uri, logout_uri) = bootstrap::web_app_urls(urls.web);
    Some(AppOAuth {
        issuer: urls.issuer.to_string(),
        redirect_uri,
        logout_uri: redirect::is_registered(client.logout_urls.iter(), &logout_uri)
            .then_some(logout_uri),
        scopes: bootstrap::WEB_OAUTH_SCOPES
            .iter()
            .filter(|w| client.oauth_scopes.iter().any(|s| s == **w))
            .map(|s| s.to_string())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_runtime_names_its_protocol() {
        let arn = "arn:aws:bedrock-agentcore:us-east-1:000000000000:runtime/demo_mcp-abcdefghij";
        for (protocol, name) in [
            (Protocol::Http, "http"),
            (Protocol::Mcp, "mcp"),
            (Protocol::A2a, "a2a"),
        ] {
            let v = serde_json::to_value(app_runtime("demo_mcp", arn, protocol)).unwrap();
            assert_eq!(
                v,
                serde_json::json!({ "name": "demo_mcp", "arn": arn, "protocol": name })
            );
        }
    }
}
