//! `[runtime.limits]`: per-runtime request, WebSocket and process limits, raw and checked. Must never
//! enforce them (the gateway and the supervisor do).
use std::time::Duration;

use serde::Deserialize;

use super::common::{duration_or, positive};
use super::ConfigError;

/// `[runtime.limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_payload_bytes: Option<i64>,
    pub requests_per_minute: Option<i64>,
    pub burst: Option<i64>,
    pub max_sessions_per_user: Option<i64>,
    pub response_timeout: Option<String>,
    pub stream_idle_timeout: Option<String>,
    pub ws_max_message_bytes: Option<i64>,
    pub ws_frames_per_second: Option<i64>,
    pub ws_max_lifetime: Option<String>,
    pub ws_idle_timeout: Option<String>,
    pub ws_max_sockets_per_user: Option<i64>,
    pub max_processes: Option<i64>,
    pub memory_limit_mb: Option<i64>,
    pub cpu_time_limit_secs: Option<i64>,
    pub start_timeout: Option<String>,
    pub stop_grace: Option<String>,
}

/// A checked `[runtime.limits]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Largest request body (default 100 MB, AgentCore's payload limit).
    pub max_payload_bytes: u64,
    /// Sustained requests per user per minute (default 600).
    pub requests_per_minute: u32,
    /// Requests a user may make in a burst (default 60).
    pub burst: u32,
    /// Sessions one user may hold on the runtime at once (default 100).
    pub max_sessions_per_user: u32,
    /// How long the agent has to start answering (default 15 min, AgentCore's synchronous request timeout).
    pub response_timeout: Duration,
    /// A stream that sends nothing for this long is ended (default 15 min).
    pub stream_idle_timeout: Duration,
    /// Largest WebSocket message or frame (default 64 KiB, AgentCore's frame quota).
    pub ws_max_message_bytes: usize,
    /// Messages a client may send per second on one WebSocket (default 250, AgentCore's quota).
    pub ws_frames_per_second: u32,
    /// Longest a WebSocket may stay open (default 60 min, AgentCore's streaming maximum).
    pub ws_max_lifetime: Duration,
    /// A WebSocket with no message either way for this long is closed (default 15 min).
    pub ws_idle_timeout: Duration,
    /// WebSockets one user may hold open on the runtime (default 20).
    pub ws_max_sockets_per_user: u32,
    /// Session processes of a `command` runtime at once (default 32).
    pub max_processes: u32,
    /// Address-space limit of each session process, MiB (RLIMIT_AS; default none).
    pub memory_limit_mb: Option<u64>,
    /// CPU-time limit of each session process, seconds (RLIMIT_CPU; default none).
    pub cpu_time_limit_secs: Option<u64>,
    /// How long a session process has to answer `/ping` (default 30 s).
    pub start_timeout: Duration,
    /// Time between SIGTERM and SIGKILL when stopping a session process (default 10 s).
    pub stop_grace: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_payload_bytes: 100_000_000,
            requests_per_minute: 600,
            burst: 60,
            max_sessions_per_user: 100,
            response_timeout: Duration::from_secs(15 * 60),
            stream_idle_timeout: Duration::from_secs(15 * 60),
            ws_max_message_bytes: 64 * 1024,
            ws_frames_per_second: 250,
            ws_max_lifetime: Duration::from_secs(60 * 60),
            ws_idle_timeout: Duration::from_secs(15 * 60),
            ws_max_sockets_per_user: 20,
            max_processes: 32,
            memory_limit_mb: None,
            cpu_time_limit_secs: None,
            start_timeout: Duration::from_secs(30),
            stop_grace: Duration::from_secs(10),
        }
    }
}

/// Checks `[runtime.limits]`; `k` turns a key below `runtime[i]` into its full name. One line per key, named
/// by its field (the same in the file and in [`LimitsConfig`]), in the order the errors are reported (a struct
/// literal evaluates its fields in the order written).
pub(super) fn check_limits(
    errors: &mut Vec<ConfigError>,
    k: &dyn Fn(&str) -> String,
    l: RawLimits,
) -> LimitsConfig {
    const MILLION: u64 = 1_000_000;
    let d = LimitsConfig::default();
    let mut c = Checker { errors, k };
    // A count in 1..=max (the default when absent), a duration, a count that has no default.
    macro_rules! count {
        ($f:ident, $max:expr) => {{
            let default = u64::try_from(d.$f).unwrap_or(u64::MAX);
            c.count(stringify!($f), l.$f, default, $max)
                .try_into()
                .unwrap_or(d.$f)
        }};
    }
    macro_rules! span {
        ($f:ident) => {
            c.span(stringify!($f), l.$f, d.$f)
        };
    }
    macro_rules! optional {
        ($f:ident, $max:expr) => {
            c.optional(stringify!($f), l.$f, $max)
        };
    }
    LimitsConfig {
        max_payload_bytes: c.count(
            "max_payload_bytes",
            l.max_payload_bytes,
            d.max_payload_bytes,
            d.max_payload_bytes,
        ),
        requests_per_minute: count!(requests_per_minute, MILLION),
        burst: count!(burst, MILLION),
        max_sessions_per_user: count!(max_sessions_per_user, MILLION),
        response_timeout: span!(response_timeout),
        stream_idle_timeout: span!(stream_idle_timeout),
        ws_max_message_bytes: count!(ws_max_message_bytes, 16 * 1024 * 1024),
        ws_frames_per_second: count!(ws_frames_per_second, 100_000),
        ws_max_lifetime: span!(ws_max_lifetime),
        ws_idle_timeout: span!(ws_idle_timeout),
        ws_max_sockets_per_user: count!(ws_max_sockets_per_user, MILLION),
        max_processes: count!(max_processes, 100_000),
        memory_limit_mb: optional!(memory_limit_mb, 1 << 30),
        cpu_time_limit_secs: optional!(cpu_time_limit_secs, 1 << 30),
        start_timeout: span!(start_timeout),
        stop_grace: span!(stop_grace),
    }
}

/// The one check of each kind, naming `runtime[i].limits.<key>` on an error.
struct Checker<'a> {
    errors: &'a mut Vec<ConfigError>,
    k: &'a dyn Fn(&str) -> String,
}

impl Checker<'_> {
    fn key(&self, key: &str) -> String {
        (self.k)(&format!("limits.{key}"))
    }

    /// A count in `1..=max`, `default` when absent.
    fn count(&mut self, key: &str, raw: Option<i64>, default: u64, max: u64) -> u64 {
        let key = self.key(key);
        positive(self.errors, key, raw, default, max)
    }

    /// A count in `1..=max`, `None` when absent.
    fn optional(&mut self, key: &str, raw: Option<i64>, max: u64) -> Option<u64> {
        raw.map(|_| self.count(key, raw, 1, max))
    }

    /// A duration like `"30s"`, `default` when absent.
    fn span(&mut self, key: &str, raw: Option<String>, default: Duration) -> Duration {
        let key = self.key(key);
        duration_or(self.errors, key, raw, default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_checked_and_named_in_order() {
        let raw: RawLimits = toml::from_str(
            "max_payload_bytes = 0\nrequests_per_minute = 0\nburst = 0\nmax_sessions_per_user = 0\n\
             response_timeout = \"x\"\nstream_idle_timeout = \"x\"\nws_max_message_bytes = 0\n\
             ws_frames_per_second = 0\nws_max_lifetime = \"x\"\nws_idle_timeout = \"x\"\n\
             ws_max_sockets_per_user = 0\nmax_processes = 0\nmemory_limit_mb = 0\ncpu_time_limit_secs = 0\n\
             start_timeout = \"x\"\nstop_grace = \"x\"\n",
        )
        .unwrap();
        let mut errors = Vec::new();
        let c = check_limits(&mut errors, &|s| format!("runtime[0].{s}"), raw);
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        let expected: Vec<String> = [
            "max_payload_bytes",
            "requests_per_minute",
            "burst",
            "max_sessions_per_user",
            "response_timeout",
            "stream_idle_timeout",
            "ws_max_message_bytes",
            "ws_frames_per_second",
            "ws_max_lifetime",
            "ws_idle_timeout",
            "ws_max_sockets_per_user",
            "max_processes",
            "memory_limit_mb",
            "cpu_time_limit_secs",
            "start_timeout",
            "stop_grace",
        ]
        .iter()
        .map(|k| format!("runtime[0].limits.{k}"))
        .collect();
        assert_eq!(keys, expected);
        assert_eq!(
            c.burst,
            LimitsConfig::default().burst,
            "a bad value falls back"
        );

        let raw: RawLimits = toml::from_str(
            "burst = 7\nws_max_message_bytes = 1024\nmemory_limit_mb = 512\nstop_grace = \"3s\"\n",
        )
        .unwrap();
        let mut errors = Vec::new();
        let c = check_limits(&mut errors, &|s| s.to_string(), raw);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(c.burst, 7);
        assert_eq!(c.ws_max_message_bytes, 1024);
        assert_eq!(c.memory_limit_mb, Some(512));
        assert_eq!(c.cpu_time_limit_secs, None);
        assert_eq!(c.stop_grace, Duration::from_secs(3));
        assert_eq!(c.requests_per_minute, 600);
    }
}
