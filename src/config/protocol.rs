//! `[[runtime]] protocol` and `path`: which of AgentCore's three server kinds a runtime's agent is (an HTTP agent,
//! an MCP server, an A2A agent), the path the gateway appends to the agent's base URL, and the port a `command`
//! runtime's sandboxed process listens on. Pure; must never contact an agent.
use super::common::err;
use super::ConfigError;

/// What kind of server the runtime's agent is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Protocol {
    /// AgentCore's HTTP contract: `POST /invocations` (SSE or JSON), `GET /ws`.
    #[default]
    Http,
    /// An MCP server speaking Streamable HTTP (POST, GET and DELETE on one endpoint).
    Mcp,
    /// An A2A agent: JSON-RPC at `/`, its card at `/.well-known/agent-card.json`.
    A2a,
}

impl Protocol {
    /// The name used in the configuration, logs and `/config.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Mcp => "mcp",
            Protocol::A2a => "a2a",
        }
    }

    /// The path appended to the agent's base URL (AgentCore's defaults).
    pub fn default_path(self) -> &'static str {
        match self {
            Protocol::Http => "/invocations",
            Protocol::Mcp => "/mcp",
            Protocol::A2a => "/",
        }
    }

    /// The port a sandboxed session process listens on (AgentCore's container ports).
    pub fn sandbox_port(self) -> u16 {
        match self {
            Protocol::Http => 8080,
            Protocol::Mcp => 8000,
            Protocol::A2a => 9000,
        }
    }
}

/// Checks `protocol` and `path`; returns the protocol and the agent path (the protocol's default when absent).
pub(super) fn check_protocol(
    errors: &mut Vec<ConfigError>,
    k: &dyn Fn(&str) -> String,
    protocol: Option<String>,
    path: Option<String>,
) -> (Protocol, String) {
    let protocol = match protocol.as_deref() {
        None | Some("http") => Protocol::Http,
        Some("mcp") => Protocol::Mcp,
        Some("a2a") => Protocol::A2a,
        Some(other) => {
            err(
                errors,
                k("protocol"),
                format!("'{other}' is not a protocol; use \"http\" (default), \"mcp\" or \"a2a\""),
            );
            Protocol::Http
        }
    };
    let path = match path {
        None => protocol.default_path().to_string(),
        Some(p) if valid_path(&p) => p,
        Some(p) => {
            err(
                errors,
                k("path"),
                format!(
                    "'{}' is not an absolute path without query, fragment or '..' (e.g. \"/mcp\")",
                    p.chars().take(64).collect::<String>()
                ),
            );
            protocol.default_path().to_string()
        }
    };
    (protocol, path)
}

fn valid_path(p: &str) -> bool {
    p.starts_with('/')
        && p.len() <= 256
        && !p.split('/').any(|s| s == ".." || s == ".")
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(protocol: Option<&str>, path: Option<&str>) -> (Vec<ConfigError>, Protocol, String) {
        let mut errors = Vec::new();
        let (p, path) = check_protocol(
            &mut errors,
            &|f| format!("runtime[0].{f}"),
            protocol.map(str::to_string),
            path.map(str::to_string),
        );
        (errors, p, path)
    }

    #[test]
    fn each_protocol_has_agentcores_path_and_port() {
        assert_eq!(check(None, None).1, Protocol::Http);
        assert_eq!(check(None, None).2, "/invocations");
        assert_eq!(check(Some("mcp"), None).2, "/mcp");
        assert_eq!(check(Some("a2a"), None).2, "/");
        assert_eq!(Protocol::Mcp.sandbox_port(), 8000);
        assert_eq!(Protocol::A2a.sandbox_port(), 9000);
        assert_eq!(check(Some("mcp"), Some("/v2/mcp")).2, "/v2/mcp");
    }

    #[test]
    fn bad_values_name_the_key() {
        let (e, _, _) = check(Some("grpc"), None);
        assert!(e[0].key == "runtime[0].protocol", "{e:?}");
        for bad in ["mcp", "/a/../b", "/a?x=1", "/a b", "/a#f"] {
            let (e, _, path) = check(Some("mcp"), Some(bad));
            assert!(e[0].key == "runtime[0].path", "{bad}: {e:?}");
            assert_eq!(path, "/mcp");
        }
    }
}
