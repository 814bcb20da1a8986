//! `gatehouse agent`: the reference agent as a process.
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;

use super::UsageError;
use crate::agent::child::LISTENING_PREFIX;
use crate::agent::reference::{router, AgentState};
use crate::clock::{Clock, SystemClock};
use crate::config::env::{EnvSource, ProcessEnv, ENV_PORT};

/// Arguments of `agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// HOST:PORT to listen on; default 127.0.0.1:$PORT, or 127.0.0.1:8080 without $PORT.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Exit when the parent process dies (used by `gatehouse up`, so no agent outlives it).
    #[arg(long, hide = true)]
    pub exit_with_parent: bool,
}

fn default_listen(env: &dyn EnvSource) -> Result<SocketAddr, UsageError> {
    let port = match env.get(ENV_PORT) {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| UsageError(format!("PORT: '{p}' is not a port number")))?,
        None => 8080,
    };
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Runs the reference agent until SIGINT or SIGTERM.
pub fn execute(args: AgentArgs) -> anyhow::Result<()> {
    let addr = match args.listen {
        Some(a) => a,
        None => default_listen(&ProcessEnv)?,
    };
    let rt = super::runtime()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        println!("{LISTENING_PREFIX}http://{local}");
        let state = Arc::new(AgentState::new(SystemClock.now_unix()));
        let stop = super::stop_signal(args.exit_with_parent);
        axum::serve(listener, router(state))
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
        assert_eq!(default_listen(&env).unwrap().port(), 8080);
        env.insert("PORT".to_string(), "9001".to_string());
        assert_eq!(default_listen(&env).unwrap().port(), 9001);
        env.insert("PORT".to_string(), "x".to_string());
        assert!(default_listen(&env).is_err());
    }
}
