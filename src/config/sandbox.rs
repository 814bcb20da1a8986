//! The agent sandbox's settings: `[sandbox]` (the uid range session processes run under, where their working
//! directories live) and the per-runtime `isolation`, `egress` and `keep_workdir` keys. Checked at load, errors
//! naming the key. Must never accept a setting that weakens the sandbox silently: `isolation = "none"` is
//! explicit (and `doctor` fails it), `egress = "all"` is explicit per runtime (and `doctor` warns about it).
use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::Deserialize;

use super::{err, ConfigError};

/// Default of `[sandbox] uid_range`: far above ordinary users, system users and the usual subordinate-id ranges.
pub const DEFAULT_UID_RANGE: (u32, u32) = (2_100_000_000, 2_100_065_535);
/// Default of `[sandbox] workdir_root`.
pub const DEFAULT_WORKDIR_ROOT: &str = "/var/lib/gatehouse-sessions";
/// Default of `[sandbox] slirp4netns`: Debian's package installs it here.
pub const DEFAULT_SLIRP4NETNS: &str = "/usr/bin/slirp4netns";
/// Default of `[sandbox] egress_deny`: link-local addresses, where cloud metadata services hand out the host's
/// own credentials.
pub const DEFAULT_EGRESS_DENY: &[&str] = &["169.254.0.0/16"];

/// `[sandbox]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSandbox {
    /// `[first, last]` uid (and gid) handed out, one per live session.
    pub uid_range: Option<Vec<i64>>,
    /// Absolute directory under which each session gets its own working directory.
    pub workdir_root: Option<String>,
    /// Absolute path of the `slirp4netns` program (`egress = "all"` runtimes).
    pub slirp4netns: Option<String>,
    /// IPv4 networks (`a.b.c.d/len`) an `egress = "all"` session can never reach.
    pub egress_deny: Option<Vec<String>>,
}

/// An IPv4 network: address and prefix length, the address's host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl std::str::FromStr for Ipv4Net {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("'{s}' is not a network: write it as a.b.c.d/len"))?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("'{a}' is not an IPv4 address"))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("'{p}' is not a prefix length from 0 to 32"))?;
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        if u32::from(addr) & !mask != 0 {
            return Err(format!(
                "'{s}' has host bits set: the network is {}/{prefix}",
                Ipv4Addr::from(u32::from(addr) & mask)
            ));
        }
        Ok(Self { addr, prefix })
    }
}

impl std::fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A checked `[sandbox]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Inclusive range of uids/gids for session processes.
    pub uid_range: (u32, u32),
    /// Session working directories live here (never inside the data directory).
    pub workdir_root: PathBuf,
    /// The user-mode network stack that gives `egress = "all"` sessions their outbound network.
    pub slirp4netns: PathBuf,
    /// Networks `egress = "all"` sessions can never reach (besides the host's loopback, always refused).
    pub egress_deny: Vec<Ipv4Net>,
}

impl SandboxConfig {
    /// `egress_deny` as written, comma-separated.
    pub fn egress_deny_text(&self) -> String {
        let nets: Vec<String> = self.egress_deny.iter().map(Ipv4Net::to_string).collect();
        nets.join(", ")
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            uid_range: DEFAULT_UID_RANGE,
            workdir_root: PathBuf::from(DEFAULT_WORKDIR_ROOT),
            slirp4netns: PathBuf::from(DEFAULT_SLIRP4NETNS),
            egress_deny: DEFAULT_EGRESS_DENY
                .iter()
                .filter_map(|n| n.parse().ok())
                .collect(),
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
    /// Outbound connections through a user-mode network stack (slirp4netns) attached to the session's own
    /// namespace: the network the host reaches, but never the host's loopback (where gatehouse, its store and
    /// the other agents listen) nor `[sandbox] egress_deny`. Nothing outside can connect in.
    All,
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
    if let Some(path) = raw.slirp4netns {
        if path.starts_with('/') {
            c.slirp4netns = PathBuf::from(path);
        } else {
            err(
                errors,
                "sandbox.slirp4netns",
                "must be an absolute path, e.g. \"/usr/bin/slirp4netns\"",
            );
        }
    }
    if let Some(nets) = raw.egress_deny {
        c.egress_deny.clear();
        for (i, n) in nets.iter().enumerate() {
            match n.parse() {
                Ok(net) => c.egress_deny.push(net),
                Err(e) => err(errors, format!("sandbox.egress_deny[{i}]"), e),
            }
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

/// The choice `value` names among `choices` (the first is the default, also after an error, which lists them).
fn one_of<T: Copy>(
    errors: &mut Vec<ConfigError>,
    key: &str,
    value: Option<&str>,
    choices: &[(&str, T)],
) -> T {
    let default = choices[0].1;
    let Some(value) = value else { return default };
    if let Some((_, v)) = choices.iter().find(|(name, _)| *name == value) {
        return *v;
    }
    let names: Vec<String> = choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    err(
        errors,
        key,
        format!(
            "'{value}' is not one of {} (the default) or {}",
            names[0],
            names[1..].join(", ")
        ),
    );
    default
}

/// The per-runtime keys, checked.
pub(super) fn check_runtime_keys(
    errors: &mut Vec<ConfigError>,
    key: &dyn Fn(&str) -> String,
    isolation: Option<String>,
    egress: Option<String>,
    has_command: bool,
) -> (Isolation, Egress) {
    let iso = one_of(
        errors,
        &key("isolation"),
        isolation.as_deref(),
        &[("sandbox", Isolation::Sandbox), ("none", Isolation::None)],
    );
    let eg = one_of(
        errors,
        &key("egress"),
        egress.as_deref(),
        &[("none", Egress::None), ("all", Egress::All)],
    );
    if has_command && iso == Isolation::None && egress.is_some() {
        err(
            errors,
            key("egress"),
            "applies only to a sandboxed runtime: with isolation = \"none\" the agent shares gatehouse's own \
             network; remove one of the two",
        );
    }
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
    fn egress_all_is_explicit_and_denies_link_local_by_default() {
        let c = Config::from_toml(
            "version = 1\n[[runtime]]\nname = \"a\"\ncommand = [\"x\"]\negress = \"all\"\n",
        )
        .unwrap();
        assert_eq!(c.runtimes[0].egress, super::Egress::All);
        assert_eq!(c.sandbox.egress_deny_text(), "169.254.0.0/16");
        assert_eq!(
            c.sandbox.slirp4netns,
            std::path::Path::new("/usr/bin/slirp4netns")
        );
        let c = Config::from_toml(
            "version = 1\n[sandbox]\negress_deny = [\"10.0.0.0/8\", \"0.0.0.0/0\"]\nslirp4netns = \"/opt/s\"\n",
        )
        .unwrap();
        assert_eq!(
            c.sandbox.egress_deny_text(),
            "10.0.0.0/8, 0.0.0.0/0",
            "the list replaces the default"
        );
        assert_eq!(c.sandbox.slirp4netns, std::path::Path::new("/opt/s"));
    }

    #[test]
    fn bad_keys_are_named() {
        let e = errors("version = 1\n[sandbox]\nuid_range = [5, 1]\nworkdir_root = \"rel\"\n");
        assert!(e.contains("sandbox.uid_range"), "{e}");
        assert!(e.contains("sandbox.workdir_root"), "{e}");
        let e = errors(
            "version = 1\n[[runtime]]\nname = \"a\"\ncommand = [\"x\"]\nisolation = \"weak\"\negress = \"some\"\n",
        );
        assert!(e.contains("runtime[0].isolation"), "{e}");
        assert!(
            e.contains("runtime[0].egress") && e.contains("'some' is not one of"),
            "{e}"
        );
        let e = errors(
            "version = 1\n[sandbox]\nslirp4netns = \"slirp\"\negress_deny = [\"10.0.0.0/8\", \"10.0.0.1/8\", \"1.2.3.4\", \"1.2.3.0/33\"]\n",
        );
        assert!(e.contains("sandbox.slirp4netns"), "{e}");
        assert!(!e.contains("sandbox.egress_deny[0]"), "{e}");
        assert!(
            e.contains("sandbox.egress_deny[1]") && e.contains("host bits"),
            "{e}"
        );
        assert!(
            e.contains("sandbox.egress_deny[2]") && e.contains("a.b.c.d/len"),
            "{e}"
        );
        assert!(
            e.contains("sandbox.egress_deny[3]") && e.contains("prefix length"),
            "{e}"
        );
        let e = errors(
            "version = 1\n[[runtime]]\nname = \"a\"\ncommand = [\"x\"]\nisolation = \"none\"\negress = \"none\"\n",
        );
        assert!(
            e.contains("runtime[0].egress") && e.contains("shares gatehouse's own"),
            "{e}"
        );
        let e = errors("version = 1\n[sandbox]\nuid_rang = [1, 2]\n");
        assert!(e.contains("uid_rang"), "{e}");
    }
}
