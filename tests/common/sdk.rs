//! Real MCP and A2A SDKs for the tests (`tests/mcp-js/`, installed by scripts/test with `npm ci`): servers built
//! with the SDKs, spawned on 127.0.0.1 port 0 and killed when their guard drops (`spawn_mcp_server`,
//! `spawn_a2a_server`), and the SDK clients run through `node_driver` (`mcp_client`, `mcp_oauth_client`,
//! `a2a_client`), each reading one JSON object on stdin and printing one JSON report (see each script's header for
//! its fields; refusals are data, `error` only when the driver broke). Owns no production code; must never pass a
//! token or a password on a command line.
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use super::node_driver;

/// The directory of the drivers and the package a test needs installed there.
const DIR: &str = "mcp-js";
const PACKAGE: &str = "@modelcontextprotocol/sdk";
/// How long a server may take to print its `listening` line.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The MCP server's endpoint path (`MCP_PATH` unset), AgentCore's.
pub const MCP_PATH: &str = "/mcp";

/// `tests/mcp-js`, after checking the SDKs are installed there.
pub fn dir() -> PathBuf {
    node_driver::driver_dir(DIR, PACKAGE)
}

/// The path of one of the drivers (`mcp_server.mjs`, `a2a_server.mjs`, …), e.g. for a `command` runtime.
pub fn script(name: &str) -> PathBuf {
    dir().join(name)
}

/// How the MCP server keeps sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McpMode {
    /// No session id; a new server and transport per request (what AgentCore requires).
    Stateless,
    /// A server-issued `Mcp-Session-Id`, the GET stream (which gets one logging notification once open) and
    /// DELETE ending the session.
    Stateful,
}

impl McpMode {
    fn env(self) -> &'static str {
        match self {
            McpMode::Stateless => "stateless",
            McpMode::Stateful => "stateful",
        }
    }
}

/// A server child process, killed (and reaped) when dropped.
pub struct ChildGuard(Child);

impl ChildGuard {
    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `node <script>` with `env` on 127.0.0.1 port 0 and waits (at most [`START_TIMEOUT`]) for its
/// `{"listening": URL}` line; returns the base URL (`http://127.0.0.1:PORT`, no trailing slash).
pub fn spawn_node_server(script_name: &str, env: &[(&str, &str)]) -> (String, ChildGuard) {
    let d = dir();
    let mut child = Command::new("node")
        .arg(d.join(script_name))
        .current_dir(&d)
        .env("PORT", "0")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node is needed for this test");
    let stdout = child.stdout.take().unwrap();
    let guard = ChildGuard(child);
    let (tx, rx) = mpsc::channel();
    // Reads the first line, then keeps the pipe drained so the server never blocks on it.
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        for _ in lines {}
    });
    let line = match rx.recv_timeout(START_TIMEOUT) {
        Ok(Some(Ok(line))) => line,
        other => panic!("{script_name} did not start: {other:?}"),
    };
    let v: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("{script_name} printed {line:?}: {e}"));
    let url = v["listening"].as_str().unwrap().to_string();
    (url, guard)
}

/// The SDK's MCP server (`mcp_server.mjs`) in `mode`, answering JSON instead of SSE when `json`; its base URL
/// (the endpoint is `{url}{MCP_PATH}`) and its guard.
pub fn spawn_mcp_server(mode: McpMode, json: bool) -> (String, ChildGuard) {
    let json = if json { "1" } else { "0" };
    spawn_node_server(
        "mcp_server.mjs",
        &[("MCP_MODE", mode.env()), ("MCP_JSON", json)],
    )
}

/// The SDK's A2A agent (`a2a_server.mjs`): its base URL (JSON-RPC at `{url}/`, the card at
/// `{url}/.well-known/agent-card.json`) and its guard.
pub fn spawn_a2a_server() -> (String, ChildGuard) {
    spawn_node_server("a2a_server.mjs", &[])
}

/// Runs the MCP SDK client (`mcp_client.mjs`) with `input` (`url`, `token`, `headers`, `session_id`, `steps`,
/// `expect_get_stream`, `terminate`); its report.
pub async fn mcp_client(input: &Value) -> Value {
    node_driver::run(&dir(), "mcp_client.mjs", &[], &input.to_string()).await
}

/// Runs the MCP SDK's OAuth flow (`mcp_oauth_client.mjs`) with `input` (`url`, `username`, `password`, `scope`);
/// its report.
pub async fn mcp_oauth_client(input: &Value) -> Value {
    node_driver::run(&dir(), "mcp_oauth_client.mjs", &[], &input.to_string()).await
}

/// Runs the A2A SDK client (`a2a_client.mjs`) with `input` (`card_url`, `url`, `token`, `headers`, `legacy`,
/// `steps`); its report.
pub async fn a2a_client(input: &Value) -> Value {
    node_driver::run(&dir(), "a2a_client.mjs", &[], &input.to_string()).await
}

/// The JSON a tool answered in an `mcp_client` report's call `i` (panics, with the report, if it did not).
pub fn call_json(report: &Value, i: usize) -> &Value {
    let call = &report["calls"][i];
    assert_eq!(call["is_error"], false, "call {i}: {report}");
    &call["json"]
}
