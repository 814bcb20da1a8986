//! The agent side of `up`: the session-process supervisor with its sandbox proven on this host (refuse, never
//! degrade), leftovers of an earlier run reaped, and the reference agent (every protocol on one listener) for the
//! demo runtimes `demo`, `demo_mcp` and `demo_a2a` when no runtime is configured. Owns no process handling itself (that is `agent`).
use std::path::Path;
use std::sync::Arc;

use super::{ServerError, UpOptions};
use crate::agent::child::ChildAgent;
use crate::agent::supervisor::Supervisor;
use crate::clock::Clock;
use crate::config::{Config, HttpUrl, Protocol, RuntimeConfig};

/// The supervisor, the reference agent (only without configured runtimes) and the runtimes to serve.
pub(super) struct Agents {
    pub supervisor: Arc<Supervisor>,
    pub reference: Option<ChildAgent>,
    pub runtimes: Vec<RuntimeConfig>,
}

/// Starts what serves sessions: reaps leftovers, proves the sandbox, and starts the reference agent for the demo
/// runtime (reachable from the web app at `web_url`) when the configuration names no runtime.
pub(super) async fn start(
    opts: &UpOptions,
    http: &crate::outbound::HttpClient,
    clock: Arc<dyn Clock>,
    web_url: &str,
) -> Result<Agents, ServerError> {
    let reaped = Supervisor::reap_leftovers(&opts.data_dir);
    if reaped > 0 {
        tracing::warn!(
            reaped,
            "killed agent processes left behind by an earlier run"
        );
    }
    let supervisor = Arc::new(
        Supervisor::new(
            opts.exe.clone(),
            opts.data_dir.clone(),
            http.clone(),
            clock,
            opts.config.max_agent_processes,
        )
        .with_launcher(launcher(opts)),
    );
    check_sandbox(&opts.config, &opts.data_dir, &supervisor).await?;
    if !opts.config.runtimes.is_empty() {
        return Ok(Agents {
            supervisor,
            reference: None,
            runtimes: opts.config.runtimes.clone(),
        });
    }
    let child = ChildAgent::start(opts.exe.clone(), http, "all").await?;
    tracing::info!(url = %child.url, pid = ?child.pid(), "reference agent started");
    let url = HttpUrl::parse(&child.url).map_err(ServerError::Internal)?;
    Ok(Agents {
        supervisor,
        reference: Some(child),
        runtimes: demo_runtimes(&url, web_url),
    })
}

/// The demo runtimes, all served by the one reference agent at `url`: `demo` (AgentCore's HTTP contract; first,
/// as the web app and `endpoints.json` readers expect), `demo_mcp` and `demo_a2a`. They are meant for the web app
/// that gatehouse itself serves at `web_url`.
fn demo_runtimes(url: &HttpUrl, web_url: &str) -> Vec<RuntimeConfig> {
    [
        ("demo", Protocol::Http),
        ("demo_mcp", Protocol::Mcp),
        ("demo_a2a", Protocol::A2a),
    ]
    .into_iter()
    .map(|(name, protocol)| {
        let mut rt = RuntimeConfig::simple(name, url.clone());
        rt.protocol = protocol;
        rt.agent_path = protocol.default_path().to_string();
        rt.allowed_origins = vec![web_url.to_string()];
        rt
    })
    .collect()
}

/// How session processes are launched: the `[sandbox]` settings, and what they must not see besides the data
/// directory (the configuration file and the web TLS key).
pub(super) fn launcher(opts: &UpOptions) -> crate::agent::launch::Launcher {
    let files = opts
        .config_path
        .iter()
        .chain(opts.config.web.tls_key.iter())
        .cloned()
        .collect();
    crate::agent::launch::Launcher::new(
        opts.exe.clone(),
        &opts.data_dir,
        opts.config.sandbox.clone(),
        crate::agent::launch::Hidden {
            dirs: Vec::new(),
            files,
        },
    )
}

/// Refuses to start when a sandboxed `command` runtime cannot have its sandbox here: refuse, never degrade.
pub(super) async fn check_sandbox(
    config: &Config,
    data_dir: &Path,
    supervisor: &Supervisor,
) -> Result<(), ServerError> {
    let sandboxed: Vec<&str> = config
        .runtimes
        .iter()
        .filter(|r| r.command.is_some() && r.isolation == crate::config::Isolation::Sandbox)
        .map(|r| r.name.as_str())
        .collect();
    if sandboxed.is_empty() {
        return Ok(());
    }
    {
        let root = std::fs::canonicalize(&config.sandbox.workdir_root)
            .unwrap_or_else(|_| config.sandbox.workdir_root.clone());
        let data = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        if root.starts_with(&data) {
            return Err(ServerError::Usage(format!(
                "[sandbox] workdir_root {} is inside the data directory {}: agents would live beside the store; \
                 choose a directory outside it",
                root.display(),
                data.display()
            )));
        }
    }
    check_egress(config)?;
    let swept: Vec<&str> = config
        .runtimes
        .iter()
        .filter(|r| r.command.is_some() && !r.keep_workdir)
        .map(|r| r.name.as_str())
        .collect();
    let stale = supervisor.remove_stale_workdirs(&swept);
    if stale > 0 {
        tracing::warn!(
            stale,
            "removed session working directories an earlier run left behind"
        );
    }
    supervisor.probe_sandbox().await.map_err(|why| {
        ServerError::Usage(format!(
            "runtime {} needs the agent sandbox, which this host cannot provide: {why}. Run gatehouse as root on \
             Linux 6.2 or later with Landlock enabled (without root: with unprivileged user namespaces), or set isolation = \"none\" on the runtime (unsafe: \
             doctor fails it)",
            sandboxed.join(", ")
        ))
    })
}

/// Refuses `egress = "all"` runtimes when slirp4netns, which gives them their network, is not there.
fn check_egress(config: &Config) -> Result<(), ServerError> {
    let online: Vec<&str> = config
        .runtimes
        .iter()
        .filter(|r| {
            r.command.is_some()
                && r.isolation == crate::config::Isolation::Sandbox
                && r.egress == crate::config::Egress::All
        })
        .map(|r| r.name.as_str())
        .collect();
    let program = &config.sandbox.slirp4netns;
    if online.is_empty() {
        return Ok(());
    }
    if !program.is_file() {
        return Err(ServerError::Usage(format!(
            "runtime {} has egress = \"all\", which needs slirp4netns, and {} is not there: install Debian's \
             slirp4netns package, set [sandbox] slirp4netns to where it is, or remove egress = \"all\"",
            online.join(", "),
            program.display()
        )));
    }
    if crate::agent::launch::SandboxMode::detect()
        == crate::agent::launch::SandboxMode::UserNamespace
    {
        // Without root, slirp4netns opens the TUN device as gatehouse's uid.
        if let Err(e) = crate::agent::usernet::tun_usable() {
            return Err(ServerError::Usage(format!(
                "runtime {} has egress = \"all\", which without root needs {} readable and writable by \
                 gatehouse's uid for slirp4netns, and it is not ({e}): make it mode 0666 (Debian's default), run \
                 gatehouse as root, or remove egress = \"all\"",
                online.join(", "),
                crate::agent::usernet::TUN_DEVICE,
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_runtimes_share_one_agent_with_demo_first() {
        let url = HttpUrl::parse("http://127.0.0.1:4000").unwrap();
        let rts = demo_runtimes(&url, "http://localhost:3000");
        let got: Vec<(&str, Protocol, &str)> = rts
            .iter()
            .map(|r| (r.name.as_str(), r.protocol, r.agent_path.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("demo", Protocol::Http, "/invocations"),
                ("demo_mcp", Protocol::Mcp, "/mcp"),
                ("demo_a2a", Protocol::A2a, "/"),
            ]
        );
        for r in &rts {
            assert_eq!(r.versions.get(&1), Some(&url), "{}", r.name);
            assert_eq!(r.allowed_origins, ["http://localhost:3000"]);
            assert!(r.command.is_none());
        }
    }
}
