//! The runtime gateway: AgentCore's data plane. Owns the runtime registry, routing, credential extraction,
//! token checks (through `token::Authorizer`, fed by each runtime's discovery URL like any external IdP),
//! session binding, header policy and streaming to the agent. Must never trust an identity header a client sent.
use std::sync::Arc;

use axum::routing::any;
use axum::Router;

use crate::clock::Clock;
use crate::store::Store;
use crate::token::Authorizer;

pub mod credential;
pub mod error;
pub mod forward;
pub mod route;
pub mod session;
pub mod upstream;

pub use error::GatewayError;

/// One agent runtime behind the gateway.
pub struct Runtime {
    /// The runtime's name (`demo`).
    pub name: String,
    /// `arn:aws:bedrock-agentcore:{region}:{account}:runtime/{name}-{10 alnum}`.
    pub arn: String,
    /// Base URL of the agent (`http://127.0.0.1:8080`); `/invocations` is appended.
    pub upstream: String,
    /// Who may call it.
    pub authorizer: Arc<Authorizer>,
}

impl Runtime {
    /// The runtime id: the part of the ARN after `runtime/`.
    pub fn runtime_id(&self) -> &str {
        self.arn
            .rsplit_once("runtime/")
            .map_or(self.arn.as_str(), |(_, id)| id)
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("name", &self.name)
            .field("arn", &self.arn)
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

/// Everything the gateway's handlers share.
pub struct GatewayState {
    pub runtimes: Vec<Arc<Runtime>>,
    pub sessions: session::SessionBinder,
    pub client: upstream::HttpClient,
    pub clock: Arc<dyn Clock>,
}

impl GatewayState {
    /// A gateway over `runtimes`.
    pub fn new(
        runtimes: Vec<Arc<Runtime>>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        client: upstream::HttpClient,
    ) -> Self {
        Self {
            runtimes,
            sessions: session::SessionBinder::new(store),
            client,
            clock,
        }
    }
}

/// The gateway's routes.
pub fn router(state: Arc<GatewayState>) -> Router {
    Router::new()
        .route("/runtimes/{*rest}", any(forward::handle))
        .fallback(|| async { GatewayError::UnknownOperation })
        .with_state(state)
}
