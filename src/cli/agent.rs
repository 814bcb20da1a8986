//! `gatehouse agent`: the reference agent as a process, serving AgentCore's HTTP contract, MCP, A2A or all three on
//! one listener. Owns only the command line and the choice of routes; the agents themselves are in `agent`.
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::UsageError;
use crate::agent::child::LISTENING_PREFIX;
use crate::agent::reference::{ping_router, router, AgentState};
use crate::agent::{reference_a2a, reference_mcp};
use crate::clock::{Clock, SystemClock};
use crate::config::env::{EnvSource, ProcessEnv, ENV_PORT};
use crate::config::Protocol;

/// Which protocol the reference agent serves. Every choice also answers `GET /ping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Served {
    /// AgentCore's HTTP contract: POST /invocations (SSE or JSON), GET /ws. Default port 8080.
    Http,
    /// An MCP server (Streamable HTTP, stateless) at /mcp with tools whoami, echo, progress and admin_reset.
    /// Default port 8000.
    Mcp,
    /// An A2A 0.3 agent: JSON-RPC at POST /, its card at /.well-known/agent-card.json. Default port 9000.
    A2a,
    /// All three on one listener (their routes do not collide). Default port 8080.
    All,
}

/// Arguments of `agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// HOST:PORT to listen on; default 127.0.0.1:$PORT, or without $PORT AgentCore's port for the protocol
    /// (8080 for http and all, 8000 for mcp, 9000 for a2a).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// The protocol to serve.
    #[arg(long, value_enum, default_value_t = Served::Http)]
    pub protocol: Served,
    /// Exit when the parent process dies (used by `gatehouse up`, so no agent outlives it).
    #[arg(long, hide = true)]
    pub exit_with_parent: bool,
}

fn default_listen(env: &dyn EnvSource, served: Served) -> Result<SocketAddr, UsageError> {
    let port = match env.get(ENV_PORT) {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| UsageError(format!("PORT: '{p}' is not a port number")))?,
        None => match served {
            Served::Http | Served::All => Protocol::Http.sandbox_port(),
            Served::Mcp => Protocol::Mcp.sandbox_port(),
            Served::A2a => Protocol::A2a.sandbox_port(),
        },
    };
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// The routes of `served`; `base_url` is where the agent listens (the A2A card names it); `stop` turning true ends
/// the MCP server's open streams.
pub fn routes(
    served: Served,
    base_url: &str,
    started_at: i64,
    stop: watch::Receiver<bool>,
) -> Router {
    let state = Arc::new(AgentState::new(started_at));
    let a2a = || reference_a2a::router(Arc::new(reference_a2a::A2aState::new(base_url)));
    match served {
        Served::Http => router(state),
        Served::Mcp => ping_router(state).merge(reference_mcp::router(stop)),
        Served::A2a => ping_router(state).merge(a2a()),
        Served::All => router(state)
            .merge(reference_mcp::router(stop))
            .merge(a2a()),
    }
}

/// Runs the reference agent until SIGINT or SIGTERM.
pub fn execute(args: AgentArgs) -> anyhow::Result<()> {
    let addr = match args.listen {
        Some(a) => a,
        None => default_listen(&ProcessEnv, args.protocol)?,
    };
    let rt = super::runtime()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let base_url = format!("http://{local}");
        println!("{LISTENING_PREFIX}{base_url}");
        let (stopping, stop_rx) = watch::channel(false);
        let app = routes(args.protocol, &base_url, SystemClock.now_unix(), stop_rx);
        let exit_with_parent = args.exit_with_parent;
        let stop = async move {
            super::stop_signal(exit_with_parent).await;
            // Endless streams end too, so the graceful shutdown does not wait for them.
            let _ = stopping.send(true);
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn port_comes_from_the_environment() {
        let mut env = HashMap::new();
        assert_eq!(default_listen(&env, Served::Http).unwrap().port(), 8080);
        assert_eq!(default_listen(&env, Served::All).unwrap().port(), 8080);
        assert_eq!(default_listen(&env, Served::Mcp).unwrap().port(), 8000);
        assert_eq!(default_listen(&env, Served::A2a).unwrap().port(), 9000);
        env.insert("PORT".to_string(), "9001".to_string());
        assert_eq!(default_listen(&env, Served::Mcp).unwrap().port(), 9001);
        env.insert("PORT".to_string(), "x".to_string());
        assert!(default_listen(&env, Served::Http).is_err());
    }
}
