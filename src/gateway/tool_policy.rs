//! An MCP runtime's tool policy at run time: the decision for one tool and one caller ([`ToolPolicy::decide`],
//! pure) and the policy in service ([`ToolPolicyHandle`]: a cheap `current()`, swapped when the file changes and
//! the new one checks; a bad change is logged once and the policy in service stays). The file format and its
//! checks are `config::tool_policy`'s. Must never put a token's claim values into a refusal or a log line.
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use super::mcp_tools::ToolCall;
use super::metrics::Metrics;
use crate::config::tool_policy::{self, DefaultAction, ToolPolicyErrors, ToolPolicyFile};
use crate::config::ToolPolicy;
use crate::token::VerifiedClaims;

/// How often a policy file is looked at for changes.
pub const RELOAD_POLL: Duration = Duration::from_secs(1);

/// The claim holding the caller's groups (Cognito's, an array of strings).
pub const GROUPS_CLAIM: &str = "cognito:groups";

/// Whether a caller may call a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolDecision {
    Allow,
    Deny {
        /// The rule's scopes the token lacks (empty when scopes are not what is missing).
        missing_scopes: Vec<String>,
        /// Every scope the rule requires, for an `insufficient_scope` challenge (MCP asks for all of them at
        /// once); empty when the rule requires none.
        required_scopes: Vec<String>,
        /// What is missing, for the caller: names scopes, claim names and the tool, never a claim's value.
        reason: String,
    },
}

impl ToolDecision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, ToolDecision::Allow)
    }
}

/// The tool name as a refusal shows it: at most 128 characters, control characters replaced.
fn shown(tool: &str) -> String {
    tool.chars()
        .take(tool_policy::MAX_TOOL_NAME)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Whether `claim` is the string `want` or an array holding it.
fn claim_has(claims: &VerifiedClaims, claim: &str, want: &str) -> bool {
    match claims.claim_value(claim) {
        Some(serde_json::Value::String(s)) => s == want,
        Some(serde_json::Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(want)),
        _ => false,
    }
}

impl ToolPolicy {
    /// The first rule naming `tool` decides (a denied tool, or every scope, one of the groups and every claim
    /// required); a tool no rule names gets the policy's default.
    pub fn decide(&self, tool: &str, claims: &VerifiedClaims) -> ToolDecision {
        let deny = |missing_scopes: Vec<String>, required_scopes: Vec<String>, reason: String| {
            ToolDecision::Deny {
                missing_scopes,
                required_scopes,
                reason,
            }
        };
        let Some(rule) = self.rule_for(tool) else {
            return match self.default {
                DefaultAction::Allow => ToolDecision::Allow,
                DefaultAction::Deny => deny(
                    vec![],
                    vec![],
                    format!("the tool '{}' is not allowed on this runtime", shown(tool)),
                ),
            };
        };
        if rule.deny {
            return deny(
                vec![],
                vec![],
                format!("the tool '{}' may not be called", shown(tool)),
            );
        }
        let missing: Vec<String> = rule
            .scopes
            .iter()
            .filter(|s| !claims.scopes.contains(s))
            .cloned()
            .collect();
        let mut lacks = Vec::new();
        if !missing.is_empty() {
            lacks.push(format!("the scope(s) {}", missing.join(" ")));
        }
        if !rule.groups.is_empty()
            && !rule
                .groups
                .iter()
                .any(|g| claim_has(claims, GROUPS_CLAIM, g))
        {
            lacks.push("membership in one of its groups".to_string());
        }
        for (claim, value) in &rule.claims {
            if !claim_has(claims, claim, value) {
                lacks.push(format!("the claim '{claim}' with its required value"));
            }
        }
        if lacks.is_empty() {
            return ToolDecision::Allow;
        }
        deny(
            missing,
            rule.scopes.clone(),
            format!("the tool '{}' needs {}", shown(tool), lacks.join(", ")),
        )
    }

    /// Whether `decide` allows it (for filtering `tools/list`).
    pub fn allows(&self, tool: &str, claims: &VerifiedClaims) -> bool {
        self.decide(tool, claims).is_allowed()
    }
}

/// Decides every `tools/call` of a body (in order), counting each in `metrics` under the runtime and the caller's
/// `sub`; the refused ones with their decisions (empty: forward the body). A body with one refused call is
/// refused whole.
pub fn refused_calls(
    policy: &ToolPolicy,
    runtime: &str,
    calls: Vec<ToolCall>,
    claims: &VerifiedClaims,
    metrics: &Metrics,
) -> Vec<(ToolCall, ToolDecision)> {
    let mut refused = Vec::new();
    for call in calls {
        let d = policy.decide(&call.name, claims);
        metrics.tool_call(runtime, &call.name, &claims.sub, d.is_allowed());
        if !d.is_allowed() {
            refused.push((call, d));
        }
    }
    refused
}

/// The JSON-RPC error answering a refused call (`None` when the decision allows it).
pub fn refusal(call: &ToolCall, d: &ToolDecision) -> Option<serde_json::Value> {
    match d {
        ToolDecision::Allow => None,
        ToolDecision::Deny {
            missing_scopes,
            reason,
            ..
        } => Some(super::mcp_tools::refusal(call, missing_scopes, reason)),
    }
}

/// What identifies one version of the file (modification time, size, inode), `None` if it cannot be read.
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len(), m.ino()))
}

/// What was last looked at: the file's stamp and what its bytes were (a digest, or why they did not read).
#[derive(Debug, Default)]
struct Seen {
    /// `None` until looked at once (the first look reads the file, since it may have changed after the load).
    stamp: Option<Stamp>,
    content: String,
}

/// A runtime's tool policy in service and the file it comes from.
#[derive(Debug)]
pub struct ToolPolicyHandle {
    runtime: String,
    path: PathBuf,
    current: RwLock<Arc<ToolPolicy>>,
    seen: Mutex<Seen>,
    reloads: AtomicU64,
    refusals: AtomicU64,
}

impl ToolPolicyHandle {
    /// The policy loaded with the configuration, in service until the file changes.
    pub fn new(runtime: &str, file: &ToolPolicyFile) -> Arc<Self> {
        Arc::new(Self {
            runtime: runtime.to_string(),
            path: file.path.clone(),
            current: RwLock::new(file.policy.clone()),
            seen: Mutex::new(Seen {
                stamp: None,
                content: file.digest.clone(),
            }),
            reloads: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
        })
    }

    /// The policy in service now.
    pub fn current(&self) -> Arc<ToolPolicy> {
        match self.current.read() {
            Ok(p) => Arc::clone(&p),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The file the policy comes from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The runtime the policy belongs to.
    pub fn runtime(&self) -> &str {
        &self.runtime
    }

    /// How many changed files were put in service, and how many were refused, since start.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.reloads.load(Ordering::Relaxed),
            self.refusals.load(Ordering::Relaxed),
        )
    }

    /// Reads the file again if it changed since last looked at. `Ok(true)`: a new policy is in service;
    /// `Err`: it changed but does not check (or cannot be read); the policy in service stays, and the same
    /// content is not reported again.
    pub fn reload_if_changed(&self) -> Result<bool, ToolPolicyErrors> {
        let now = stamp(&self.path);
        let Ok(mut seen) = self.seen.lock() else {
            return Ok(false);
        };
        if seen.stamp == Some(now) {
            return Ok(false);
        }
        seen.stamp = Some(now);
        let loaded = match tool_policy::read(&self.path) {
            Ok(bytes) => {
                let digest = crate::util::sha256_hex(&bytes);
                if digest == seen.content {
                    return Ok(false);
                }
                seen.content = digest;
                tool_policy::from_bytes(&self.path, &bytes)
            }
            Err(e) => {
                let content = format!("unreadable: {}", e.reason);
                if content == seen.content {
                    return Ok(false);
                }
                seen.content = content;
                Err(ToolPolicyErrors(vec![e]))
            }
        };
        drop(seen);
        match loaded {
            Ok(f) => {
                if let Ok(mut cur) = self.current.write() {
                    *cur = f.policy;
                }
                self.reloads.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
            Err(e) => {
                self.refusals.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Looks at the file every `every` until `stop` turns true, logging each reload and each refused change.
    pub async fn watch(
        self: Arc<Self>,
        every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.reload_if_changed()).await {
                Ok(Ok(true)) => tracing::info!(
                    runtime = %self.runtime,
                    file = %self.path.display(),
                    "tool policy reloaded"
                ),
                Ok(Ok(false)) | Err(_) => {}
                Ok(Err(e)) => tracing::error!(
                    runtime = %self.runtime,
                    error = %e,
                    "the changed tool policy is refused; still enforcing the previous one"
                ),
            }
        }
    }
}

#[cfg(test)]
#[path = "tool_policy_tests.rs"]
mod tests;
