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

/// Checks `[runtime.limits]`; `k` turns a key below `runtime[i]` into its full name.
pub(super) fn check_limits(
    errors: &mut Vec<ConfigError>,
    k: &dyn Fn(&str) -> String,
    l: RawLimits,
) -> LimitsConfig {
    let mut c = LimitsConfig::default();
    check_request_limits(errors, k, &l, &mut c);
    check_ws_limits(errors, k, &l, &mut c);
    check_process_limits(errors, k, &l, &mut c);
    c
}

fn check_request_limits(
    errors: &mut Vec<ConfigError>,
    k: &dyn Fn(&str) -> String,
    l: &RawLimits,
    c: &mut LimitsConfig,
) {
    let d = LimitsConfig::default();
    c.max_payload_bytes = positive(
        errors,
        k("limits.max_payload_bytes"),
        l.max_payload_bytes,
        d.max_payload_bytes,
        d.max_payload_bytes,
    );
    c.requests_per_minute = positive(
        errors,
        k("limits.requests_per_minute"),
        l.requests_per_minute,
        u64::from(d.requests_per_minute),
        1_000_000,
    ) as u32;
    c.burst = positive(
        errors,
        k("limits.burst"),
        l.burst,
        u64::from(d.burst),
        1_000_000,
    ) as u32;
    c.max_sessions_per_user = positive(
        errors,
        k("limits.max_sessions_per_user"),
        l.max_sessions_per_user,
        u64::from(d.max_sessions_per_user),
        1_000_000,
    ) as u32;
    c.response_timeout = duration_or(
        errors,
        k("limits.response_timeout"),
        l.response_timeout.clone(),
        d.response_timeout,
    );
    c.stream_idle_timeout = duration_or(
        errors,
        k("limits.stream_idle_timeout"),
        l.stream_idle_timeout.clone(),
        d.stream_idle_timeout,
    );
}

fn check_ws_limits(
    errors: &mut Vec<ConfigError>,
    k: &dyn Fn(&str) -> String,
    l: &RawLimits,
    c: &mut LimitsConfig,
) {
    let d = LimitsConfig::default();
    c.ws_max_message_bytes = positive(
        errors,
        k("limits.ws_max_message_bytes"),
        l.ws_max_message_bytes,
        d.ws_max_message_bytes as u64,
        16 * 1024 * 1024,
    ) as usize;
    c.ws_frames_per_second = positive(
        errors,
        k("limits.ws_frames_per_second"),
        l.ws_frames_per_second,
        u64::from(d.ws_frames_per_second),
        100_000,
    ) as u32;
    c.ws_max_lifetime = duration_or(
        errors,
        k("limits.ws_max_lifetime"),
        l.ws_max_lifetime.clone(),
        d.ws_max_lifetime,
    );
    c.ws_idle_timeout = duration_or(
        errors,
        k("limits.ws_idle_timeout"),
        l.ws_idle_timeout.clone(),
        d.ws_idle_timeout,
    );
    c.ws_max_sockets_per_user = positive(
        errors,
        k("limits.ws_max_sockets_per_user"),
        l.ws_max_sockets_per_user,
        u64::from(d.ws_max_sockets_per_user),
        1_000_000,
    ) as u32;
}

fn check_process_limits(
    errors: &mut Vec<ConfigError>,
    k: &dyn Fn(&str) -> String,
    l: &RawLimits,
    c: &mut LimitsConfig,
) {
    let d = LimitsConfig::default();
    c.max_processes = positive(
        errors,
        k("limits.max_processes"),
        l.max_processes,
        u64::from(d.max_processes),
        100_000,
    ) as u32;
    c.memory_limit_mb = l.memory_limit_mb.map(|_| {
        positive(
            errors,
            k("limits.memory_limit_mb"),
            l.memory_limit_mb,
            1,
            1 << 30,
        )
    });
    c.cpu_time_limit_secs = l.cpu_time_limit_secs.map(|_| {
        positive(
            errors,
            k("limits.cpu_time_limit_secs"),
            l.cpu_time_limit_secs,
            1,
            1 << 30,
        )
    });
    c.start_timeout = duration_or(
        errors,
        k("limits.start_timeout"),
        l.start_timeout.clone(),
        d.start_timeout,
    );
    c.stop_grace = duration_or(
        errors,
        k("limits.stop_grace"),
        l.stop_grace.clone(),
        d.stop_grace,
    );
}
