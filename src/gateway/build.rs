//! Building the gateway's runtimes from their checked configuration: each runtime's ARN (recorded in the store
//! the first time, so it never changes), and its authorizer — the built-in pool's clients and key cache, or an
//! external provider's discovery URL with a key cache of its own. Never verifies a token itself.
use std::sync::Arc;
use std::time::Duration;

use super::Runtime;
use crate::clock::Clock;
use crate::config::RuntimeConfig;
use crate::store::{ClientId, PoolId, Store, StoreError};
use crate::token::{Authorizer, KeyCache, Policy};

/// The built-in user pool as the gateway sees it.
pub struct BuiltinIssuer {
    /// The pool's region and id (for new ARNs).
    pub region: String,
    pub pool_id: PoolId,
    /// `{idp}/{pool}`: the `iss` of its tokens.
    pub issuer: String,
    /// Its public discovery URL: a runtime whose authorizer names it is the built-in pool too.
    pub discovery_url: String,
    /// The app clients whose tokens runtimes without an authorizer accept.
    pub clients: Vec<ClientId>,
    /// Its keys (from the in-process key ring or over HTTP), shared by every runtime that trusts it.
    pub keys: Arc<KeyCache>,
}

/// The runtimes of `configs`, in order.
pub async fn runtimes(
    configs: &[RuntimeConfig],
    store: &dyn Store,
    clock: &dyn Clock,
    http: &crate::outbound::HttpClient,
    builtin: &BuiltinIssuer,
    gateway_url: &str,
) -> Result<Vec<Arc<Runtime>>, StoreError> {
    let mut out = Vec::with_capacity(configs.len());
    for rc in configs {
        let arn = store
            .ensure_runtime_arn(
                &rc.name,
                &super::arn::candidate(&builtin.region, &rc.name),
                clock.now_unix(),
            )
            .await?;
        let resource = format!(
            "{gateway_url}/runtimes/{}/invocations",
            super::arn::encode(&arn)
        );
        let (authorizer, authorization_server, is_builtin) =
            authorizer(rc, http, builtin, resource);
        out.push(Arc::new(Runtime::from_config(
            rc,
            arn,
            Arc::new(authorizer),
            authorization_server,
            is_builtin,
        )));
    }
    Ok(out)
}

/// A runtime's authorizer, the authorization server it names, and whether that is the built-in pool.
fn authorizer(
    rc: &RuntimeConfig,
    http: &crate::outbound::HttpClient,
    builtin: &BuiltinIssuer,
    resource: String,
) -> (Authorizer, String, bool) {
    let Some(a) = &rc.authorizer else {
        // The pool's own app clients, and any client of the pool holding a token issued for this runtime.
        let policy = Policy {
            allowed_clients: builtin.clients.iter().map(ToString::to_string).collect(),
            resource_audience: vec![resource],
            ..Policy::default()
        };
        return (
            Authorizer {
                policy,
                cache: builtin.keys.clone(),
            },
            builtin.issuer.clone(),
            true,
        );
    };
    let policy = Policy {
        allowed_clients: a.allowed_clients.clone(),
        allowed_audience: a.allowed_audience.clone(),
        allowed_scopes: a.allowed_scopes.clone(),
        custom_claims: a.custom_claims.clone(),
        ..Policy::default()
    };
    let source = crate::outbound::HttpKeySource::new(http.clone(), a.discovery_url.to_string());
    let cache = Arc::new(KeyCache::new(
        Arc::new(source),
        a.jwks_refresh_interval,
        Duration::from_secs(1),
        Duration::from_secs(300),
    ));
    let server = a
        .discovery_url
        .split("/.well-known/")
        .next()
        .unwrap_or(&a.discovery_url)
        .to_string();
    (
        Authorizer { policy, cache },
        server,
        a.discovery_url.as_str() == builtin.discovery_url,
    )
}
