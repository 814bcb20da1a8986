//! The runtime gateway: AgentCore's data plane. Owns the runtime registry, routing, credential extraction,
//! token checks (through `token::Authorizer`, fed by each runtime's discovery URL like any external IdP),
//! session binding, header policy and streaming to the agent. Must never trust an identity header a client sent.
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{HttpUrl, LimitsConfig, RuntimeConfig};
use crate::store::Store;
use crate::token::Authorizer;

pub mod a2a;
pub mod arn;
pub mod build;
pub mod cluster;
pub mod cors;
pub mod credential;
pub mod dispatch;
pub mod error;
pub mod forward;
pub mod limits;
pub mod mcp;
pub mod mcp_policy;
pub mod mcp_tools;
pub mod metrics;
pub mod pipeline;
pub mod redis_limits;
pub mod revocation;
pub mod route;
pub mod session;
pub mod sse;
pub mod stream;
pub mod tokencache;
pub mod tool_policy;
pub mod ws;

pub use error::GatewayError;

/// One agent runtime behind the gateway.
pub struct Runtime {
    /// The runtime's name (`demo`).
    pub name: String,
    /// `arn:aws:bedrock-agentcore:{region}:{account}:runtime/{name}-{10 alnum}`.
    pub arn: String,
    /// Version → base URL of the agent (`http://127.0.0.1:8080`); `/invocations` is appended.
    pub versions: BTreeMap<u32, HttpUrl>,
    /// Named endpoints other than `DEFAULT`, each pinned to a version.
    pub endpoints: BTreeMap<String, u32>,
    /// Who may call it.
    pub authorizer: Arc<Authorizer>,
    /// The issuer advertised in protected-resource metadata (the discovery URL without its well-known suffix).
    pub authorization_server: String,
    /// Whether tokens come from gatehouse's own pool, whose revocations the gateway enforces.
    pub builtin_issuer: bool,
    /// Extra request headers (lower-case) forwarded to the agent.
    pub header_allowlist: Vec<String>,
    /// Browser origins allowed to call (exact `scheme://host[:port]`).
    pub allowed_origins: Vec<String>,
    /// Sessions unused this long stop counting against the user's session cap.
    pub idle_timeout: std::time::Duration,
    /// One agent process per session instead of a fixed upstream.
    pub process: Option<crate::agent::supervisor::ProcessSpec>,
    pub limits: LimitsConfig,
    /// What kind of server the agent is.
    pub protocol: crate::config::Protocol,
    /// The path appended to the agent's base URL.
    pub agent_path: String,
    /// Which MCP tools a caller may call (`protocol = "mcp"` runtimes with a `tool_policy` file).
    pub tool_policy: Option<Arc<tool_policy::ToolPolicyHandle>>,
}

impl Runtime {
    /// The runtime id: the part of the ARN after `runtime/`.
    pub fn runtime_id(&self) -> &str {
        self.arn
            .rsplit_once("runtime/")
            .map_or(self.arn.as_str(), |(_, id)| id)
    }

    /// The agent base URL for a qualifier: `DEFAULT` (or none) is the latest version; a named endpoint its
    /// pinned version; a bare version number that version.
    pub fn upstream_for(&self, qualifier: Option<&str>) -> Result<&str, GatewayError> {
        let version = match qualifier {
            None | Some(route::DEFAULT_QUALIFIER) => self.versions.keys().next_back().copied(),
            Some(q) => self.endpoints.get(q).copied().or_else(|| {
                q.parse::<u32>()
                    .ok()
                    .filter(|v| self.versions.contains_key(v))
            }),
        };
        version
            .and_then(|v| self.versions.get(&v))
            .map(HttpUrl::as_str)
            .ok_or_else(|| {
                GatewayError::EndpointNotFound(
                    qualifier.unwrap_or_default().chars().take(64).collect(),
                )
            })
    }

    /// Checks the qualifier and, for a runtime with a fixed upstream, resolves it. `Ok(None)`: the session's
    /// own process serves it (`command` runtimes have only the `DEFAULT` endpoint).
    pub fn static_upstream(&self, qualifier: Option<&str>) -> Result<Option<String>, GatewayError> {
        if self.process.is_some() {
            return match qualifier {
                None | Some(route::DEFAULT_QUALIFIER) => Ok(None),
                Some(q) => Err(GatewayError::EndpointNotFound(q.chars().take(64).collect())),
            };
        }
        self.upstream_for(qualifier).map(|u| Some(u.to_string()))
    }

    /// The agent base URL for this request, starting the session's process if the runtime has one.
    pub async fn resolve_upstream(
        &self,
        state: &GatewayState,
        fixed: Option<String>,
        session_id: &str,
        user: &str,
    ) -> Result<(String, Option<crate::agent::supervisor::Lease>), GatewayError> {
        match (fixed, &self.process) {
            (Some(u), _) => Ok((u, None)),
            (None, Some(spec)) => {
                // Boxed: starting a process is the rare path, and its future inline would enlarge (and be
                // copied with) every request's.
                let (p, lease) = Box::pin(state.supervisor.acquire(spec, session_id, user)).await?;
                Ok((p.url.clone(), Some(lease)))
            }
            (None, None) => Err(GatewayError::Internal("runtime without an upstream".into())),
        }
    }

    /// A runtime from its checked configuration.
    pub fn from_config(
        rc: &RuntimeConfig,
        arn: String,
        authorizer: Arc<Authorizer>,
        authorization_server: String,
        builtin_issuer: bool,
    ) -> Self {
        Self {
            name: rc.name.clone(),
            arn: arn.clone(),
            versions: rc.versions.clone(),
            endpoints: rc.endpoints.clone(),
            authorizer,
            authorization_server,
            builtin_issuer,
            header_allowlist: rc.request_header_allowlist.clone(),
            allowed_origins: rc.allowed_origins.clone(),
            idle_timeout: rc.idle_timeout,
            process: rc
                .command
                .as_ref()
                .map(|argv| crate::agent::supervisor::ProcessSpec {
                    runtime: rc.name.clone(),
                    arn: arn.clone(),
                    argv: argv.clone(),
                    idle_timeout: rc.idle_timeout,
                    max_lifetime: rc.max_lifetime,
                    limits: rc.limits.clone(),
                    isolation: rc.isolation,
                    egress: rc.egress,
                    keep_workdir: rc.keep_workdir,
                    port: rc.protocol.sandbox_port(),
                }),
            limits: rc.limits.clone(),
            protocol: rc.protocol,
            agent_path: rc.agent_path.clone(),
            tool_policy: rc
                .tool_policy
                .as_ref()
                .map(|f| tool_policy::ToolPolicyHandle::new(&rc.name, f)),
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("name", &self.name)
            .field("arn", &self.arn)
            .field("versions", &self.versions)
            .finish_non_exhaustive()
    }
}

/// Everything the gateway's handlers share.
pub struct GatewayState {
    pub runtimes: Vec<Arc<Runtime>>,
    pub sessions: Arc<session::SessionBinder>,
    /// Discovery documents and JWKS (rare requests).
    pub client: crate::outbound::HttpClient,
    /// Keep-alive connections to the agents, driven on the requests' own tasks.
    pub pool: Arc<crate::agent::pool::Pool>,
    pub clock: Arc<dyn Clock>,
    /// The gateway's externally visible base URL.
    pub public_url: String,
    pub metrics: Arc<metrics::Metrics>,
    pub rate: limits::RateLimiter,
    /// Forwarding of isolated sessions between instances; `None`: this instance stands alone.
    pub cluster: Option<cluster::Cluster>,
    /// Rate limits shared by every instance through Redis; `None`: `rate`, in this process.
    pub shared_rate: Option<redis_limits::RedisRateLimiter>,
    pub session_counter: limits::SessionCounter,
    pub streams: stream::StreamRegistry,
    pub revocations: Arc<revocation::RevocationSet>,
    pub sockets: Arc<limits::SocketSlots>,
    /// Becomes `true` when gatehouse shuts down (WebSockets then close with 1001).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Session processes of `command` runtimes.
    pub supervisor: Arc<crate::agent::supervisor::Supervisor>,
    /// Tokens already verified, so a re-used token skips the RSA check.
    pub verified: tokencache::VerifiedTokens,
    /// MCP servers' own session ids behind `command` runtimes' sessions.
    pub mcp_ids: pipeline::mcp_ids::ServerIds,
}

impl GatewayState {
    /// A gateway over `runtimes`.
    pub fn new(
        runtimes: Vec<Arc<Runtime>>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        client: crate::outbound::HttpClient,
        public_url: String,
        shutdown: tokio::sync::watch::Receiver<bool>,
        supervisor: Arc<crate::agent::supervisor::Supervisor>,
    ) -> Self {
        Self {
            runtimes,
            sessions: Arc::new(session::SessionBinder::new(store)),
            client,
            pool: Arc::default(),
            clock,
            public_url,
            metrics: Arc::new(metrics::Metrics::default()),
            rate: limits::RateLimiter::default(),
            shared_rate: None,
            cluster: None,
            session_counter: limits::SessionCounter::default(),
            streams: stream::StreamRegistry::default(),
            revocations: Arc::new(revocation::RevocationSet::default()),
            sockets: Arc::new(limits::SocketSlots::default()),
            shutdown,
            supervisor,
            verified: tokencache::VerifiedTokens::default(),
            mcp_ids: pipeline::mcp_ids::ServerIds::default(),
        }
    }

    /// The Prometheus text of the gateway's metrics.
    pub fn render_metrics(&self) -> String {
        let fetches: Vec<(String, u64)> = self
            .runtimes
            .iter()
            .map(|r| (r.name.clone(), r.authorizer.cache.fetch_count()))
            .collect();
        let mut text = self.metrics.render(&fetches);
        text.push_str(&format!(
            "# HELP gatehouse_agent_processes Session agent processes running now.\n# TYPE gatehouse_agent_processes gauge\ngatehouse_agent_processes {}\n# HELP gatehouse_agent_process_crashes_total Session agent processes that exited on their own.\n# TYPE gatehouse_agent_process_crashes_total counter\ngatehouse_agent_process_crashes_total {}\n",
            self.supervisor.count(),
            self.supervisor.crashes()
        ));
        if let Some(shared) = &self.shared_rate {
            text.push_str(&shared.render_metrics());
        }
        text
    }
}

/// The gateway's HTTP service: every request goes to [`dispatch::handle`], which routes everything under
/// `/runtimes/` and answers anything else as an unknown operation. A plain function instead of a router: this
/// runs on every proxied request.
pub async fn serve(
    state: Arc<GatewayState>,
    req: http::Request<hyper::body::Incoming>,
) -> axum::response::Response {
    dispatch::handle(state, req.map(axum::body::Body::new)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{FetchError, Fetched, KeyCache, KeySource, Policy};

    fn url(text: &str) -> HttpUrl {
        HttpUrl::parse(text).unwrap()
    }

    struct NoKeys;
    #[async_trait::async_trait]
    impl KeySource for NoKeys {
        async fn fetch(&self) -> Result<Fetched, FetchError> {
            Err(FetchError("none".into()))
        }
    }

    fn runtime() -> Runtime {
        let mut rc = RuntimeConfig::simple("demo", url("http://v1"));
        rc.versions.insert(2, url("http://v2"));
        rc.endpoints.insert("stable".into(), 1);
        let cache = Arc::new(KeyCache::new(
            Arc::new(NoKeys),
            std::time::Duration::from_secs(30),
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(300),
        ));
        let authorizer = Arc::new(Authorizer {
            policy: Policy::default(),
            cache,
        });
        Runtime::from_config(
            &rc,
            "arn:aws:bedrock-agentcore:us-east-1:000000000000:runtime/demo-abcdefghij".into(),
            authorizer,
            "http://idp".into(),
            true,
        )
    }

    #[test]
    fn paths_route_by_encoded_arn_raw_arn_id_or_name() {
        let runtimes = vec![Arc::new(runtime())];
        let arn = "arn:aws:bedrock-agentcore:us-east-1:000000000000:runtime/demo-abcdefghij";
        let encoded = crate::gateway::arn::encode(arn);
        for (path, op) in [
            (
                format!("/runtimes/{encoded}/invocations"),
                route::Operation::Invocations,
            ),
            (format!("/runtimes/{arn}/ws"), route::Operation::WebSocket),
            (
                "/runtimes/demo-abcdefghij/stopruntimesession".to_string(),
                route::Operation::StopSession,
            ),
            (
                "/runtimes/demo/invocations/.well-known/oauth-protected-resource".to_string(),
                route::Operation::ResourceMetadata,
            ),
        ] {
            let (r, got) = route::resolve(&runtimes, &path).unwrap();
            assert_eq!(r.name, "demo", "{path}");
            assert_eq!(got, op, "{path}");
        }
        for path in [
            "/",
            "/invocations",
            "/runtimes/",
            "/runtimes/demo/other",
            "/runtimesdemo/invocations",
        ] {
            assert!(
                matches!(
                    route::resolve(&runtimes, path),
                    Err(GatewayError::UnknownOperation)
                ),
                "{path}"
            );
        }
        assert!(matches!(
            route::resolve(&runtimes, "/runtimes/%FF%FE/invocations"),
            Err(GatewayError::Validation(_))
        ));
        match route::resolve(&runtimes, "/runtimes/nobody/invocations") {
            Err(GatewayError::RuntimeNotFound(name)) => assert_eq!(name, "nobody"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn default_tracks_the_latest_version_and_endpoints_pin_one() {
        let r = runtime();
        assert_eq!(r.upstream_for(None).unwrap(), "http://v2");
        assert_eq!(r.upstream_for(Some("DEFAULT")).unwrap(), "http://v2");
        assert_eq!(r.upstream_for(Some("stable")).unwrap(), "http://v1");
        assert_eq!(r.upstream_for(Some("1")).unwrap(), "http://v1");
        assert!(matches!(
            r.upstream_for(Some("prod")),
            Err(GatewayError::EndpointNotFound(_))
        ));
        assert!(matches!(
            r.upstream_for(Some("3")),
            Err(GatewayError::EndpointNotFound(_))
        ));
        assert_eq!(r.runtime_id(), "demo-abcdefghij");
    }
}
