//! The agent sandbox's settings: `[sandbox]` (the uid range session processes run under, where their working
//! directories live) and the per-runtime `isolation`, `egress` and `keep_workdir` keys. Checked at load, errors
//! naming the key. Must never accept a setting that weakens the sandbox silently: `isolation = "none"` is
//! explicit (and `doctor` fails it), `egress = "all"` is refused until it is implemented.
use std::path::PathBuf;

use serde::Deserialize;

use super::{err, ConfigError};

/// Default of `[sandbox] uid_range`: far above ordinary users, system users and the usual subordinate-id ranges.
pub const DEFAULT_UID_RANGE: (u32, u32) = (2_100_000_000, 2_100_065_535);
/// Default of `[sandbox] workdir_root`.
pub const DEFAULT_WORKDIR_ROOT: &str = "/var/lib/gatehouse-sessions";

/// `[sandbox]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSandbox {
    /// `[first, last]` uid (and gid) handed out, one per live session.
    pub uid_range: Option<Vec<i64>>,
    /// Absolute directory under which each session gets its own working directory.
    pub workdir_root: Option<String>,
}

/// A checked `[sandbox]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Inclusive range of uids/gids for session processes.
    pub uid_range: (u32, u32),
    /// Session working directories live here (never inside the data directory).
    pub workdir_root: PathBuf,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            uid_range: DEFAULT_UID_RANGE,
            workdir_root: PathBuf::from(DEFAULT_WORKDIR_ROOT),
        }
    }
}

/// How a `command` runtime's session processes are isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// Own uid, namespaces, Landlock, seccomp (the default).
    #[default]
    Sandbox,
    /// A plain child process as gatehouse's own user: for debugging only, and `doctor` fails it.
    None,
}

/// Outbound network of a sandboxed session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Egress {
    /// Loopback only, inside the session's own network namespace.
    #[default]
    None,
}

pub(super) fn check_sandbox(errors: &mut Vec<ConfigError>, raw: RawSandbox) -> SandboxConfig {
    let mut c = SandboxConfig::default();
    if let Some(r) = raw.uid_range {
        let ok = |v: i64| (1000..=i64::from(u32::MAX - 1)).contains(&v);
        match r.as_slice() {
            [a, b] if ok(*a) && ok(*b) && a <= b => {
                c.uid_range = (*a as u32, *b as u32);
            }
            _ => err(
                errors,
                "sandbox.uid_range",
                "must be [first, last] with 1000 <= first <= last < 4294967295, e.g. [2100000000, 2100065535]",
            ),
        }
    }
    if let Some(root) = raw.workdir_root {
        let p = PathBuf::from(&root);
        if !p.is_absolute()
            || p.components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            err(
                errors,
                "sandbox.workdir_root",
                "must be an absolute path without `..`, e.g. \"/var/lib/gatehouse-sessions\"",
            );
        } else {
            c.workdir_root = p;
        }
    }
    c
}

/// The per-runtime keys, checked.
pub(super) fn check_runtime_keys(
    errors: &mut Vec<ConfigError>,
    key: &dyn Fn(&str) -> String,
    isolation: Option<String>,
    egress: Option<String>,
    has_command: bool,
) -> (Isolation, Egress) {
    let iso = match isolation.as_deref() {
        None | Some("sandbox") => Isolation::Sandbox,
        Some("none") => Isolation::None,
        Some(other) => {
            err(
                errors,
                key("isolation"),
                format!("'{other}' is not one of \"sandbox\" (the default) or \"none\""),
            );
            Isolation::Sandbox
        }
    };
    let eg = match egress.as_deref() {
        None | Some("none") => Egress::None,
        Some("all") => {
            err(
                errors,
                key("egress"),
                "\"all\" is not supported yet: sandboxed session processes have loopback only; use \"none\"",
            );
            Egress::None
        }
        Some(other) => {
            err(
                errors,
                key("egress"),
                format!("'{other}' is not one of \"none\" (the default) or \"all\""),
            );
            Egress::None
        }
    };
    if !has_command && (isolation.is_some() || egress.is_some()) {
        err(
            errors,
            key(if isolation.is_some() {
                "isolation"
            } else {
                "egress"
            }),
            "applies only to a `command` runtime (gatehouse does not start an `upstream` agent)",
        );
    }
    (iso, eg)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::config::Config;

    fn errors(toml: &str) -> String {
        Config::from_toml(toml).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_sandboxed_without_egress() {
        let c = Config::from_toml("version = 1\n[[runtime]]\nname = \"a\"\ncommand = [\"x\"]\n")
            .unwrap();
        let r = &c.runtimes[0];
        assert_eq!(r.isolation, super::Isolation::Sandbox);
        assert_eq!(r.egress, super::Egress::None);
        assert!(!r.keep_workdir);
        assert_eq!(c.sandbox.uid_range, super::DEFAULT_UID_RANGE);
    }

    #[test]
    fn bad_keys_are_named() {
        let e = errors("version = 1\n[sandbox]\nuid_range = [5, 1]\nworkdir_root = \"rel\"\n");
        assert!(e.contains("sandbox.uid_range"), "{e}");
        assert!(e.contains("sandbox.workdir_root"), "{e}");
        let e = errors(
            "version = 1\n[[runtime]]\nname = \"a\"\ncommand = [\"x\"]\nisolation = \"weak\"\negress = \"all\"\n",
        );
        assert!(e.contains("runtime[0].isolation"), "{e}");
        assert!(
            e.contains("runtime[0].egress") && e.contains("not supported yet"),
            "{e}"
        );
        let e = errors("version = 1\n[sandbox]\nuid_rang = [1, 2]\n");
        assert!(e.contains("uid_rang"), "{e}");
    }
}
