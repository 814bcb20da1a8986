//! `[[runtime]]` with its versions and endpoints, raw and checked (limits and the authorizer live in their own
//! files). Must never start an agent or contact an upstream.
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::authorizer::{check_authorizer, AuthorizerConfig, RawAuthorizer};
use super::common::{check_origin, check_url, duration_or, err};
use super::protocol::{check_protocol, Protocol};
use super::runtime_limits::{check_limits, LimitsConfig, RawLimits};
use super::sandbox::{self, Egress, Isolation};
use super::tool_policy::ToolPolicyFile;
use super::url::HttpUrl;
use super::ConfigError;

/// `[[runtime]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuntime {
    pub name: Option<String>,
    /// The upstream of version 1 when no `[[runtime.version]]` is given.
    pub upstream: Option<String>,
    /// One agent process per session instead of an upstream: argv, given its port in `$PORT`.
    pub command: Option<Vec<String>>,
    pub authorizer: Option<RawAuthorizer>,
    #[serde(default)]
    pub version: Vec<RawVersion>,
    #[serde(default)]
    pub endpoint: Vec<RawEndpoint>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub request_header_allowlist: Vec<String>,
    pub idle_timeout: Option<String>,
    pub max_lifetime: Option<String>,
    /// `"sandbox"` (default) or `"none"`.
    pub isolation: Option<String>,
    /// `"none"` (default); `"all"` is refused until implemented.
    pub egress: Option<String>,
    /// Keep a session's working directory after it ends (debugging).
    pub keep_workdir: Option<bool>,
    #[serde(default)]
    pub limits: RawLimits,
    /// `"http"` (default), `"mcp"` or `"a2a"`.
    pub protocol: Option<String>,
    /// The path appended to the agent's base URL (default: the protocol's).
    pub path: Option<String>,
    /// A tool policy file (`protocol = "mcp"` only; relative to the configuration file's directory).
    pub tool_policy: Option<String>,
}

/// `[[runtime.version]]`: an immutable version of the runtime.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVersion {
    pub number: Option<i64>,
    pub upstream: Option<String>,
}

/// `[[runtime.endpoint]]`: a named endpoint pinned to a version (`DEFAULT` always tracks the latest).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    pub name: Option<String>,
    pub version: Option<i64>,
}

/// A checked `[[runtime]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    pub name: String,
    /// Version number → upstream base URL; empty only for a `command` runtime. `DEFAULT` routes to the highest.
    pub versions: BTreeMap<u32, HttpUrl>,
    /// One process per session: the argv to start (`"gatehouse"` as argv[0] means this executable).
    pub command: Option<Vec<String>>,
    /// Named endpoints other than `DEFAULT`, each pinned to a version.
    pub endpoints: BTreeMap<String, u32>,
    /// `None`: the built-in pool and its default client.
    pub authorizer: Option<AuthorizerConfig>,
    /// Browser origins allowed to call the runtime (CORS); empty: none (non-browser clients only).
    pub allowed_origins: Vec<String>,
    /// Extra request headers forwarded to the agent (lower-case).
    pub request_header_allowlist: Vec<String>,
    /// Session idle timeout (default 15 min).
    pub idle_timeout: Duration,
    /// Session maximum lifetime (default 8 h).
    pub max_lifetime: Duration,
    /// How session processes of a `command` runtime are isolated.
    pub isolation: Isolation,
    /// Outbound network of sandboxed session processes.
    pub egress: Egress,
    /// Keep working directories after their session ends.
    pub keep_workdir: bool,
    pub limits: LimitsConfig,
    /// What kind of server the agent is.
    pub protocol: Protocol,
    /// The path appended to the agent's base URL (`/invocations`, `/mcp`, `/` unless overridden).
    pub agent_path: String,
    /// `tool_policy`: which MCP tools a caller may call, loaded and checked (the gateway reloads it on change).
    pub tool_policy: Option<ToolPolicyFile>,
}

impl RuntimeConfig {
    /// A runtime with one version served by `upstream` and every other setting at its default.
    pub fn simple(name: &str, upstream: HttpUrl) -> Self {
        Self {
            name: name.to_string(),
            versions: BTreeMap::from([(1, upstream)]),
            command: None,
            endpoints: BTreeMap::new(),
            authorizer: None,
            allowed_origins: Vec::new(),
            request_header_allowlist: Vec::new(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            isolation: Isolation::default(),
            egress: Egress::default(),
            keep_workdir: false,
            limits: LimitsConfig::default(),
            protocol: Protocol::Http,
            agent_path: Protocol::Http.default_path().to_string(),
            tool_policy: None,
        }
    }
}

/// AgentCore's default session idle timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// AgentCore's default session maximum lifetime.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// Headers that may never be put on a runtime's allow-list (AgentCore's restricted list, abridged to what
/// matters here): hop-by-hop, representation, cookies, forwarding and every `x-amz*` header except the
/// custom-header prefix.
pub fn restricted_header(name: &str) -> bool {
    const RESTRICTED: &[&str] = &[
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "cookie",
        "set-cookie",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
        "via",
        "origin",
        "www-authenticate",
        "sec-websocket-key",
        "sec-websocket-accept",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
    ];
    let n = name.to_ascii_lowercase();
    RESTRICTED.contains(&n.as_str())
        || n.starts_with("x-gatehouse-")
        || ((n.starts_with("x-amz-") || n.starts_with("x-amzn-"))
            && !n.starts_with("x-amzn-bedrock-agentcore-runtime-custom-"))
}

/// Checks one `[[runtime]]`; `names` collects the names seen so far (a name may appear once); `dir` is the
/// configuration file's directory, against which a relative `tool_policy` is read.
pub(super) fn check_runtime(
    errors: &mut Vec<ConfigError>,
    i: usize,
    r: RawRuntime,
    names: &mut HashSet<String>,
    dir: Option<&Path>,
) -> Option<RuntimeConfig> {
    let k = |f: &str| format!("runtime[{i}].{f}");
    let name = r.name.unwrap_or_default();
    if !valid_runtime_name(&name) {
        err(errors, k("name"), "must match [a-zA-Z][a-zA-Z0-9_]{0,47}");
    } else if !names.insert(name.clone()) {
        err(errors, k("name"), format!("'{name}' is defined twice"));
    }
    let (isolation, egress) =
        sandbox::check_runtime_keys(errors, &k, r.isolation, r.egress, r.command.is_some());
    if r.keep_workdir.is_some() && r.command.is_none() {
        err(
            errors,
            k("keep_workdir"),
            "applies only to a `command` runtime",
        );
    }
    let keep_workdir = r.keep_workdir.unwrap_or(false);
    let has_upstream = r.upstream.is_some() || !r.version.is_empty();
    let command = check_command(errors, &k, r.command, has_upstream);
    let versions = check_versions(errors, &k, r.upstream, r.version, command.is_some());
    let endpoints = check_endpoints(errors, &k, r.endpoint, &versions);
    // A version whose URL is bad is already an error; it still names a version for the endpoints' check.
    let versions = versions
        .into_iter()
        .filter_map(|(n, u)| Some((n, u?)))
        .collect();
    for (j, o) in r.allowed_origins.iter().enumerate() {
        check_origin(errors, &k(&format!("allowed_origins[{j}]")), o);
    }
    let allow = check_header_allowlist(errors, &k, &r.request_header_allowlist);
    let idle_timeout = duration_or(
        errors,
        k("idle_timeout"),
        r.idle_timeout,
        DEFAULT_IDLE_TIMEOUT,
    );
    let max_lifetime = duration_or(
        errors,
        k("max_lifetime"),
        r.max_lifetime,
        DEFAULT_MAX_LIFETIME,
    );
    if idle_timeout > max_lifetime {
        err(
            errors,
            k("idle_timeout"),
            "must not be longer than max_lifetime",
        );
    }
    let limits = check_limits(errors, &k, r.limits);
    let (protocol, agent_path) = check_protocol(errors, &k, r.protocol, r.path);
    let authorizer = r.authorizer.and_then(|a| check_authorizer(errors, &k, a));
    let tool_policy = r
        .tool_policy
        .and_then(|p| load_tool_policy(errors, &k, &p, protocol, dir));
    Some(RuntimeConfig {
        name,
        versions,
        command,
        endpoints,
        authorizer,
        allowed_origins: r.allowed_origins,
        request_header_allowlist: allow,
        idle_timeout,
        max_lifetime,
        isolation,
        egress,
        keep_workdir,
        limits,
        protocol,
        agent_path,
        tool_policy,
    })
}

/// `tool_policy`: only on an MCP runtime; the file read (relative to `dir`) and checked, each of its problems
/// an error of this key naming the file and the key in it.
fn load_tool_policy(
    errors: &mut Vec<ConfigError>,
    k: &dyn Fn(&str) -> String,
    path: &str,
    protocol: Protocol,
    dir: Option<&Path>,
) -> Option<ToolPolicyFile> {
    if protocol != Protocol::Mcp {
        err(
            errors,
            k("tool_policy"),
            format!(
                "applies only to a protocol = \"mcp\" runtime (this one is \"{}\")",
                protocol.as_str()
            ),
        );
        return None;
    }
    if path.is_empty() {
        err(errors, k("tool_policy"), "must name a file");
        return None;
    }
    let path = match dir {
        Some(d) if Path::new(path).is_relative() => d.join(path),
        _ => PathBuf::from(path),
    };
    match super::tool_policy::load(&path) {
        Ok(f) => Some(f),
        Err(e) => {
            for e in e.0 {
                err(errors, k("tool_policy"), e.to_string());
            }
            None
        }
    }
}

/// `command`: a non-empty argv, never beside `upstream` or `[[runtime.version]]`.
fn check_command(
    errors: &mut Vec<ConfigError>,
    k: &dyn Fn(&str) -> String,
    command: Option<Vec<String>>,
    has_upstream: bool,
) -> Option<Vec<String>> {
    match command {
        Some(argv) if argv.is_empty() || argv[0].is_empty() => {
            err(
                errors,
                k("command"),
                "must name a program, e.g. [\"gatehouse\", \"agent\"]",
            );
            None
        }
        Some(_) if has_upstream => {
            err(errors, k("command"), "give either `command` (one process per session) or `upstream`/[[runtime.version]], not both");
            None
        }
        other => other,
    }
}

/// `upstream` or `[[runtime.version]]` (neither only for a `command` runtime): version number → upstream
/// (`None`: not a URL, an error already).
fn check_versions(
    errors: &mut Vec<ConfigError>,
    k: &dyn Fn(&str) -> String,
    upstream: Option<String>,
    version: Vec<RawVersion>,
    has_command: bool,
) -> BTreeMap<u32, Option<HttpUrl>> {
    let mut versions = BTreeMap::new();
    match (upstream, version.is_empty()) {
        (None, true) if has_command => {}
        (Some(u), true) => {
            versions.insert(1, check_url(errors, &k("upstream"), &u));
        }
        (None, true) => err(errors, k("upstream"), "missing; give the agent's base URL, e.g. \"http://127.0.0.1:8080\" (or [[runtime.version]] entries)"),
        (Some(_), false) => err(errors, k("upstream"), "give either `upstream` or [[runtime.version]] entries, not both"),
        (None, false) => {
            for (j, v) in version.into_iter().enumerate() {
                let vk = |f: &str| k(&format!("version[{j}].{f}"));
                let number = match v.number {
                    Some(n) if (1..=99_999).contains(&n) => n as u32,
                    _ => {
                        err(errors, vk("number"), "must be a version number from 1 to 99999");
                        continue;
                    }
                };
                let upstream = v.upstream.unwrap_or_default();
                let upstream = check_url(errors, &vk("upstream"), &upstream);
                if versions.insert(number, upstream).is_some() {
                    err(errors, vk("number"), format!("version {number} is defined twice"));
                }
            }
        }
    }
    versions
}

/// `[[runtime.endpoint]]`: named endpoints, each pinned to an existing version.
fn check_endpoints(
    errors: &mut Vec<ConfigError>,
    k: &dyn Fn(&str) -> String,
    endpoint: Vec<RawEndpoint>,
    versions: &BTreeMap<u32, Option<HttpUrl>>,
) -> BTreeMap<String, u32> {
    let mut endpoints = BTreeMap::new();
    for (j, e) in endpoint.into_iter().enumerate() {
        let ek = |f: &str| k(&format!("endpoint[{j}].{f}"));
        let ename = e.name.unwrap_or_default();
        let valid = !ename.is_empty()
            && ename.len() <= 48
            && ename.as_bytes()[0].is_ascii_alphabetic()
            && ename
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid || ename == "DEFAULT" {
            err(errors, ek("name"), "must match [a-zA-Z][a-zA-Z0-9_]{0,47} and not be DEFAULT (DEFAULT always tracks the latest version)");
            continue;
        }
        match e.version {
            Some(v) if versions.contains_key(&(v as u32)) && v > 0 => {
                if endpoints.insert(ename.clone(), v as u32).is_some() {
                    err(
                        errors,
                        ek("name"),
                        format!("endpoint '{ename}' is defined twice"),
                    );
                }
            }
            other => err(
                errors,
                ek("version"),
                format!("{other:?} names no version of this runtime"),
            ),
        }
    }
    endpoints
}

/// `request_header_allowlist`: valid, unrestricted header names (lower-cased), at most 20.
fn check_header_allowlist(
    errors: &mut Vec<ConfigError>,
    k: &dyn Fn(&str) -> String,
    request_header_allowlist: &[String],
) -> Vec<String> {
    let mut allow = Vec::new();
    for (j, h) in request_header_allowlist.iter().enumerate() {
        let key = k(&format!("request_header_allowlist[{j}]"));
        let valid = !h.is_empty()
            && h.len() <= 256
            && h.as_bytes()[0].is_ascii_alphabetic()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            err(
                errors,
                key,
                format!("'{h}' is not a header name ([A-Za-z][A-Za-z0-9_-]*)"),
            );
        } else if restricted_header(h) {
            err(
                errors,
                key,
                format!("'{h}' may not be forwarded to an agent"),
            );
        } else {
            allow.push(h.to_ascii_lowercase());
        }
    }
    if allow.len() > 20 {
        err(errors, k("request_header_allowlist"), "at most 20 headers");
    }
    allow
}

/// AgentCore's runtime-name pattern `[a-zA-Z][a-zA-Z0-9_]{0,47}`.
pub fn valid_runtime_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 48
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn upstreams_and_discovery_urls_are_checked_urls_named_by_key() {
        let c = Config::from_toml(
            r#"
            version = 1
            [[runtime]]
            name = "a"
            version = [
                { number = 1, upstream = "http://127.0.0.1:9001" },
                { number = 2, upstream = "https://agent.internal/v2/" },
            ]
            authorizer = { discovery_url = "https://idp.example.com/.well-known/openid-configuration", allowed_clients = ["abc"] }
            "#,
        )
        .unwrap();
        let r = &c.runtimes[0];
        assert_eq!(r.versions[&1].as_str(), "http://127.0.0.1:9001");
        assert_eq!(r.versions[&2].as_str(), "https://agent.internal/v2/");
        assert_eq!(
            r.authorizer.as_ref().unwrap().discovery_url.as_str(),
            "https://idp.example.com/.well-known/openid-configuration"
        );

        let e = Config::from_toml(
            "version = 1\n[[runtime]]\nname = \"a\"\nversion = [{ number = 1, upstream = \"http://exa mple.com\" }]\n\
             endpoint = [{ name = \"stable\", version = 1 }]\n\
             authorizer = { discovery_url = \"idp.example.com/.well-known/openid-configuration\", \
             allowed_clients = [\"abc\"] }\n",
        )
        .unwrap_err();
        let got: Vec<(&str, &str)> =
            e.0.iter()
                .map(|e| (e.key.as_str(), e.reason.as_str()))
                .collect();
        assert_eq!(
            got,
            [
                (
                    "runtime[0].version[0].upstream",
                    "'http://exa mple.com' is not an http:// or https:// URL"
                ),
                (
                    "runtime[0].authorizer.discovery_url",
                    "'idp.example.com/.well-known/openid-configuration' is not an http:// or https:// URL"
                ),
            ],
            "a bad URL is one error, naming its key; the endpoint pinned to its version is not a second one"
        );
    }
}
