//! A `[[runtime]] tool_policy` file: which MCP tools a caller may call, as written (`default`, `[[tool]]` rules
//! with `name`, `scopes`, `groups`, `claims`, `deny`, `allow`) and checked into [`ToolPolicy`], every problem
//! reported at once naming the file and the key. Reads the file it is given and nothing else; holds no decision
//! (the gateway's `tool_policy` decides, reloads and counts) and must never log.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

/// A policy file larger than this is refused (it is read whole, at load and on every change).
pub const MAX_POLICY_BYTES: u64 = 1 << 20;
/// At most this many `[[tool]]` rules.
pub const MAX_RULES: usize = 10_000;
/// The longest tool name (or prefix) a rule may name, as MCP recommends.
pub const MAX_TOOL_NAME: usize = 128;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToolPolicy {
    default: Option<String>,
    #[serde(default)]
    tool: Vec<RawToolRule>,
}

/// One `[[tool]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToolRule {
    name: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    claims: BTreeMap<String, String>,
    deny: Option<bool>,
    allow: Option<bool>,
}

/// What happens to a tool no rule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultAction {
    Allow,
    Deny,
}

/// Which tools a rule names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolPattern {
    /// Exactly this name.
    Exact(String),
    /// Every name starting with this (written with a trailing `*`; `"*"` alone names every tool).
    Prefix(String),
}

impl ToolPattern {
    /// Whether the rule names `tool`.
    pub fn matches(&self, tool: &str) -> bool {
        match self {
            ToolPattern::Exact(n) => n == tool,
            ToolPattern::Prefix(p) => tool.starts_with(p.as_str()),
        }
    }

    /// The pattern as written in the file.
    pub fn as_written(&self) -> String {
        match self {
            ToolPattern::Exact(n) => n.clone(),
            ToolPattern::Prefix(p) => format!("{p}*"),
        }
    }
}

/// A checked `[[tool]]`: every scope, any one group and every claim are required; `deny` forbids the tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolRule {
    pub pattern: ToolPattern,
    /// Each one must be in the token's `scope` claim.
    pub scopes: Vec<String>,
    /// At least one must be in the token's `cognito:groups` claim (empty: no group needed).
    pub groups: Vec<String>,
    /// (claim, value): the claim must equal the value, or be an array containing it.
    pub claims: Vec<(String, String)>,
    /// Never callable, whoever asks.
    pub deny: bool,
}

/// A checked policy: the rules in file order (the first that names a tool decides) and the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolPolicy {
    pub default: DefaultAction,
    pub rules: Vec<ToolRule>,
}

impl ToolPolicy {
    /// The first rule naming `tool`, if any.
    pub fn rule_for(&self, tool: &str) -> Option<&ToolRule> {
        self.rules.iter().find(|r| r.pattern.matches(tool))
    }

    /// Parses and checks a policy's text; `file` only names it in the errors.
    pub fn parse(file: &Path, text: &str) -> Result<ToolPolicy, ToolPolicyErrors> {
        let mut errors = Errors {
            file,
            list: Vec::new(),
        };
        let de = toml::Deserializer::new(text);
        let raw: RawToolPolicy = match serde_path_to_error::deserialize(de) {
            Ok(raw) => raw,
            Err(e) => {
                let path = e.path().to_string();
                let key = if path == "." { "(file)".into() } else { path };
                errors.add(key, e.into_inner().message().to_string());
                return Err(errors.done());
            }
        };
        let default = match raw.default.as_deref() {
            Some("allow") => DefaultAction::Allow,
            Some("deny") => DefaultAction::Deny,
            Some(other) => {
                let other: String = other.chars().take(32).collect();
                errors.add(
                    "default",
                    format!("'{other}' is neither \"allow\" nor \"deny\""),
                );
                DefaultAction::Deny
            }
            None => {
                errors.add(
                    "default",
                    "missing; say what happens to tools no rule names: \"allow\" or \"deny\"",
                );
                DefaultAction::Deny
            }
        };
        if raw.tool.len() > MAX_RULES {
            errors.add("tool", format!("at most {MAX_RULES} rules"));
        }
        let mut rules: Vec<(usize, ToolRule)> = Vec::new();
        for (i, r) in raw.tool.into_iter().enumerate() {
            if let Some(rule) = check_rule(&mut errors, i, r, &rules) {
                rules.push((i, rule));
            }
        }
        if errors.list.is_empty() {
            let rules = rules.into_iter().map(|(_, r)| r).collect();
            Ok(ToolPolicy { default, rules })
        } else {
            Err(errors.done())
        }
    }
}

/// One problem with a policy file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {key}: {reason}", file.display())]
pub struct ToolPolicyError {
    /// The policy file.
    pub file: PathBuf,
    /// The key in it, e.g. `tool[2].scopes[0]`, or `(file)` for the file as a whole.
    pub key: String,
    pub reason: String,
}

/// Every problem found in one policy file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ToolPolicyErrors(pub Vec<ToolPolicyError>);

impl std::fmt::Display for ToolPolicyErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("; "))
    }
}

struct Errors<'a> {
    file: &'a Path,
    list: Vec<ToolPolicyError>,
}

impl Errors<'_> {
    fn add(&mut self, key: impl Into<String>, reason: impl Into<String>) {
        self.list.push(ToolPolicyError {
            file: self.file.to_path_buf(),
            key: key.into(),
            reason: reason.into(),
        });
    }

    fn done(self) -> ToolPolicyErrors {
        ToolPolicyErrors(self.list)
    }
}

/// A policy file as loaded: where it is, the SHA-256 (hex) of the bytes read, and the policy they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolPolicyFile {
    pub path: PathBuf,
    pub digest: String,
    pub policy: Arc<ToolPolicy>,
}

/// Reads a policy file (at most [`MAX_POLICY_BYTES`]): its bytes, or the one error saying why not.
pub fn read(path: &Path) -> Result<Vec<u8>, ToolPolicyError> {
    let refuse = |reason: String| ToolPolicyError {
        file: path.to_path_buf(),
        key: "(file)".into(),
        reason,
    };
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| refuse(format!("cannot read: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_POLICY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(refuse(format!(
            "is larger than {MAX_POLICY_BYTES} bytes, the most a tool policy may be"
        )));
    }
    Ok(bytes)
}

/// Checks bytes read from `path`.
pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<ToolPolicyFile, ToolPolicyErrors> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        ToolPolicyErrors(vec![ToolPolicyError {
            file: path.to_path_buf(),
            key: "(file)".into(),
            reason: "is not UTF-8 text".into(),
        }])
    })?;
    let policy = ToolPolicy::parse(path, text)?;
    Ok(ToolPolicyFile {
        path: path.to_path_buf(),
        digest: crate::util::sha256_hex(bytes),
        policy: Arc::new(policy),
    })
}

/// Reads and checks a policy file.
pub fn load(path: &Path) -> Result<ToolPolicyFile, ToolPolicyErrors> {
    let bytes = read(path).map_err(|e| ToolPolicyErrors(vec![e]))?;
    from_bytes(path, &bytes)
}

/// Checks one `[[tool]]` against the rules before it (`earlier`, each with its index in the file).
fn check_rule(
    errors: &mut Errors<'_>,
    i: usize,
    r: RawToolRule,
    earlier: &[(usize, ToolRule)],
) -> Option<ToolRule> {
    let k = |f: &str| format!("tool[{i}].{f}");
    let before = errors.list.len();
    let pattern = check_name(errors, &k("name"), r.name, earlier);
    for (j, s) in r.scopes.iter().enumerate() {
        // RFC 6749 §3.3 scope-token: NQCHAR, so it can go into a `WWW-Authenticate` scope="…" as is.
        let nqchar = |b: u8| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b);
        if s.is_empty() || s.len() > 256 || !s.bytes().all(nqchar) {
            errors.add(
                k(&format!("scopes[{j}]")),
                "must be a scope: 1 to 256 printable ASCII characters without space, '\"' or '\\'",
            );
        }
    }
    for (j, g) in r.groups.iter().enumerate() {
        if g.is_empty() || g.len() > 256 || g.chars().any(char::is_control) {
            errors.add(
                k(&format!("groups[{j}]")),
                "must be a group name: 1 to 256 characters, no control characters",
            );
        }
    }
    for claim in r.claims.keys() {
        if claim.is_empty() || claim.len() > 256 || claim.chars().any(char::is_control) {
            errors.add(
                k("claims"),
                "a claim name must be 1 to 256 characters, no control characters",
            );
        }
    }
    let deny = r.deny.unwrap_or(false);
    let requires = !r.scopes.is_empty() || !r.groups.is_empty() || !r.claims.is_empty();
    match (deny, r.allow, requires) {
        (_, Some(false), _) => errors.add(
            k("allow"),
            "may only be true (a rule without requirements); leave it out otherwise",
        ),
        (true, Some(true), _) => errors.add(k("allow"), "contradicts deny = true"),
        (true, None, true) => errors.add(
            k("deny"),
            "a denied tool is never callable: its scopes, groups and claims would never be read; remove them",
        ),
        (false, Some(true), true) => errors.add(
            k("allow"),
            "allow = true lets every caller through; remove it, or remove the scopes, groups and claims",
        ),
        (false, None, false) => errors.add(
            k("name"),
            "the rule requires nothing, so every caller may call the tool: say so with `allow = true`, \
             or give scopes, groups or claims, or deny = true",
        ),
        _ => {}
    }
    if errors.list.len() > before {
        return None;
    }
    Some(ToolRule {
        pattern: pattern?,
        scopes: r.scopes,
        groups: r.groups,
        claims: r.claims.into_iter().collect(),
        deny,
    })
}

/// `name`: an exact tool name or a prefix ending in `*`, not named before and not hidden by an earlier prefix.
fn check_name(
    errors: &mut Errors<'_>,
    key: &str,
    name: Option<String>,
    earlier: &[(usize, ToolRule)],
) -> Option<ToolPattern> {
    let Some(name) = name else {
        errors.add(key, "missing; name a tool, or a prefix ending in \"*\"");
        return None;
    };
    let pattern = match name.strip_suffix('*') {
        Some(prefix) => ToolPattern::Prefix(prefix.to_string()),
        None => ToolPattern::Exact(name.clone()),
    };
    let body = match &pattern {
        ToolPattern::Exact(n) | ToolPattern::Prefix(n) => n,
    };
    let shown: String = name.chars().take(MAX_TOOL_NAME + 1).collect();
    if body.len() > MAX_TOOL_NAME
        || body.contains('*')
        || body.chars().any(|c| c.is_control() || c.is_whitespace())
        || matches!(pattern, ToolPattern::Exact(ref n) if n.is_empty())
    {
        errors.add(
            key,
            format!(
                "'{shown}' is not a tool name (1 to {MAX_TOOL_NAME} characters, no space) or a prefix ending in one \"*\""
            ),
        );
        return None;
    }
    for (j, r) in earlier {
        if r.pattern == pattern {
            errors.add(key, format!("'{shown}' is already named by tool[{j}]"));
            return None;
        }
        if let ToolPattern::Prefix(p) = &r.pattern {
            if body.starts_with(p.as_str()) {
                errors.add(
                    key,
                    format!(
                        "'{shown}' is never reached: tool[{j}] ('{}') comes first and decides for it; move this rule above it",
                        r.pattern.as_written()
                    ),
                );
                return None;
            }
        }
    }
    Some(pattern)
}

#[cfg(test)]
#[path = "tool_policy_tests.rs"]
mod tests;
