//! Prometheus metrics of the data plane, kept in memory and rendered in the text exposition format on the admin
//! listener: requests by runtime and status, authentication failures by reason, active streams, upstream latency
//! and JWKS fetches, MCP tool calls allowed and refused by runtime, tool and user. Labels never carry a token or
//! a session id; only the tool-call counters carry a user (the token's `sub`), in at most [`MAX_TOOL_SERIES`]
//! series.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// At most this many (runtime, tool, user) series of tool calls; later ones are counted under
/// `tool="other",user="other"` of their runtime.
pub const MAX_TOOL_SERIES: usize = 10_000;
/// The tool and user of the series counting everything past [`MAX_TOOL_SERIES`].
pub const OTHER: &str = "other";
/// A tool name or user longer than this is cut in its label.
const MAX_LABEL_CHARS: usize = 128;

/// Tool calls: runtime → tool → user → [allowed, refused].
#[derive(Debug, Default)]
struct ToolCalls {
    by_runtime: BTreeMap<String, BTreeMap<String, BTreeMap<String, [u64; 2]>>>,
    series: usize,
}

impl ToolCalls {
    fn count(&mut self, runtime: &str, tool: &str, user: &str, i: usize) {
        if let Some(c) = self
            .by_runtime
            .get_mut(runtime)
            .and_then(|t| t.get_mut(tool))
            .and_then(|u| u.get_mut(user))
        {
            c[i] += 1;
            return;
        }
        let (tool, user) = if self.series < MAX_TOOL_SERIES {
            (tool, user)
        } else {
            (OTHER, OTHER)
        };
        let users = self
            .by_runtime
            .entry(runtime.to_string())
            .or_default()
            .entry(tool.to_string())
            .or_default();
        let c = users.entry(user.to_string()).or_insert_with(|| {
            self.series += 1;
            [0, 0]
        });
        c[i] += 1;
    }
}

/// `s` cut to [`MAX_LABEL_CHARS`] characters (borrowed when it is short enough).
fn cut(s: &str) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(MAX_LABEL_CHARS) {
        Some((end, _)) => s[..end].to_string().into(),
        None => s.into(),
    }
}

/// `v` as a label value: cut to [`MAX_LABEL_CHARS`], `\`, `"` and line ends escaped.
fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars().take(MAX_LABEL_CHARS) {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// The gateway's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Runtime → status → count (a lookup borrows the runtime's name; nothing is allocated per request).
    requests: Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
    auth_failures: Mutex<BTreeMap<String, u64>>,
    active_streams: AtomicI64,
    agent_failures: AtomicU64,
    /// Answers in each bucket alone (not cumulative: one increment per request); summed when rendered.
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    tool_calls: Mutex<ToolCalls>,
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, runtime: &str, status: u16) {
        if let Ok(mut m) = self.requests.lock() {
            match m.get_mut(runtime) {
                Some(by_status) => *by_status.entry(status).or_insert(0) += 1,
                None => {
                    m.insert(runtime.to_string(), BTreeMap::from([(status, 1)]));
                }
            }
        }
    }

    /// Counts one refused credential, by reason (a fixed vocabulary).
    pub fn auth_failure(&self, reason: &str) {
        if let Ok(mut m) = self.auth_failures.lock() {
            *m.entry(reason.to_string()).or_insert(0) += 1;
        }
    }

    /// Counts one MCP `tools/call` the tool policy decided: `sub` is the caller's `sub` claim. Tool names and
    /// users are cut to 128 characters; past [`MAX_TOOL_SERIES`] series, new ones count under [`OTHER`].
    pub fn tool_call(&self, runtime: &str, tool: &str, sub: &str, allowed: bool) {
        let (tool, sub) = (cut(tool), cut(sub));
        if let Ok(mut m) = self.tool_calls.lock() {
            m.count(runtime, &tool, &sub, usize::from(!allowed));
        }
    }

    /// Counts an agent that failed mid-stream or could not be reached.
    pub fn agent_failure(&self) {
        self.agent_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Records how long the agent took to answer with headers.
    pub fn upstream_latency(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|le| secs <= *le) {
            self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// A response stream started.
    pub fn stream_opened(&self) {
        self.active_streams.fetch_add(1, Ordering::Relaxed);
    }

    /// A response stream ended.
    pub fn stream_closed(&self) {
        self.active_streams.fetch_sub(1, Ordering::Relaxed);
    }

    /// Streams open now.
    pub fn active_streams(&self) -> i64 {
        self.active_streams.load(Ordering::Relaxed)
    }

    /// The text exposition; `jwks_fetches` are (runtime, count) pairs read from the key caches.
    pub fn render(&self, jwks_fetches: &[(String, u64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP gatehouse_requests_total Data-plane requests answered, by runtime and HTTP status.\n# TYPE gatehouse_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for (rt, by_status) in m.iter() {
                for (status, n) in by_status {
                    let _ = writeln!(
                        out,
                        "gatehouse_requests_total{{runtime=\"{rt}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }
        out.push_str("# HELP gatehouse_auth_failures_total Refused credentials, by reason.\n# TYPE gatehouse_auth_failures_total counter\n");
        if let Ok(m) = self.auth_failures.lock() {
            for (reason, n) in m.iter() {
                let _ = writeln!(
                    out,
                    "gatehouse_auth_failures_total{{reason=\"{reason}\"}} {n}"
                );
            }
        }
        let _ = writeln!(out, "# HELP gatehouse_active_streams Responses being streamed now.\n# TYPE gatehouse_active_streams gauge\ngatehouse_active_streams {}", self.active_streams());
        let _ = writeln!(out, "# HELP gatehouse_agent_failures_total Agents unreachable or failing mid-stream.\n# TYPE gatehouse_agent_failures_total counter\ngatehouse_agent_failures_total {}", self.agent_failures.load(Ordering::Relaxed));
        out.push_str("# HELP gatehouse_upstream_latency_seconds Time until the agent answered with headers.\n# TYPE gatehouse_upstream_latency_seconds histogram\n");
        let mut cumulative = 0;
        for (i, le) in BUCKETS.iter().enumerate() {
            cumulative += self.latency_buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "gatehouse_upstream_latency_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "gatehouse_upstream_latency_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "gatehouse_upstream_latency_seconds_sum {}",
            self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "gatehouse_upstream_latency_seconds_count {count}");
        out.push_str("# HELP gatehouse_jwks_fetches_total JWKS fetches (initial loads and refreshes), by runtime.\n# TYPE gatehouse_jwks_fetches_total counter\n");
        for (rt, n) in jwks_fetches {
            let _ = writeln!(out, "gatehouse_jwks_fetches_total{{runtime=\"{rt}\"}} {n}");
        }
        self.render_tool_calls(&mut out);
        out
    }

    fn render_tool_calls(&self, out: &mut String) {
        out.push_str("# HELP gatehouse_tool_calls_total MCP tool calls decided by the tool policy, by runtime, tool, user (sub) and decision.\n# TYPE gatehouse_tool_calls_total counter\n");
        let Ok(m) = self.tool_calls.lock() else {
            return;
        };
        for (rt, tools) in &m.by_runtime {
            for (tool, users) in tools {
                let tool = label(tool);
                for (user, counts) in users {
                    let user = label(user);
                    for (decision, n) in ["allowed", "refused"].iter().zip(counts) {
                        if *n > 0 {
                            let _ = writeln!(
                                out,
                                "gatehouse_tool_calls_total{{runtime=\"{rt}\",tool=\"{tool}\",user=\"{user}\",decision=\"{decision}\"}} {n}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let m = Metrics::default();
        m.request("demo", 200);
        m.request("demo", 200);
        m.auth_failure("expired");
        m.upstream_latency(Duration::from_millis(3));
        m.upstream_latency(Duration::from_millis(20));
        m.upstream_latency(Duration::from_secs(60));
        m.request("other", 404);
        m.stream_opened();
        let text = m.render(&[("demo".into(), 2)]);
        m.stream_closed();
        assert!(text.contains("gatehouse_requests_total{runtime=\"demo\",status=\"200\"} 2"));
        assert!(text.contains("gatehouse_auth_failures_total{reason=\"expired\"} 1"));
        assert!(text.contains("gatehouse_active_streams 1"));
        assert!(text.contains("gatehouse_requests_total{runtime=\"other\",status=\"404\"} 1"));
        // Buckets are cumulative: each counts every answer at or under its bound; +Inf counts them all.
        assert!(text.contains("gatehouse_upstream_latency_seconds_bucket{le=\"0.001\"} 0"));
        assert!(text.contains("gatehouse_upstream_latency_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("gatehouse_upstream_latency_seconds_bucket{le=\"0.01\"} 1"));
        assert!(text.contains("gatehouse_upstream_latency_seconds_bucket{le=\"0.025\"} 2"));
        assert!(text.contains("gatehouse_upstream_latency_seconds_bucket{le=\"30\"} 2"));
        assert!(text.contains("gatehouse_upstream_latency_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("gatehouse_upstream_latency_seconds_count 3"));
        assert!(text.contains("gatehouse_jwks_fetches_total{runtime=\"demo\"} 2"));
        assert_eq!(m.active_streams(), 0);
        assert!(text.contains("# TYPE gatehouse_tool_calls_total counter"));
    }

    #[test]
    fn tool_calls_are_counted_by_runtime_tool_user_and_decision() {
        let m = Metrics::default();
        m.tool_call("tools", "get_weather", "user-1", true);
        m.tool_call("tools", "get_weather", "user-1", true);
        m.tool_call("tools", "get_weather", "user-1", false);
        m.tool_call("tools", "admin_drop", "user-2", false);
        m.tool_call("tools", "evil\"} 1\nx{a=\"", "user-3", true);
        let text = m.render(&[]);
        assert!(text.contains("gatehouse_tool_calls_total{runtime=\"tools\",tool=\"get_weather\",user=\"user-1\",decision=\"allowed\"} 2"), "{text}");
        assert!(text.contains("gatehouse_tool_calls_total{runtime=\"tools\",tool=\"get_weather\",user=\"user-1\",decision=\"refused\"} 1"));
        assert!(text.contains("gatehouse_tool_calls_total{runtime=\"tools\",tool=\"admin_drop\",user=\"user-2\",decision=\"refused\"} 1"));
        assert!(
            !text.contains("admin_drop\",user=\"user-2\",decision=\"allowed\""),
            "no zero series"
        );
        // A client-chosen tool name cannot break out of its label.
        assert!(
            text.contains(r#"tool="evil\"} 1\nx{a=\"",user="user-3""#),
            "{text}"
        );
        assert_eq!(text.lines().filter(|l| l.starts_with("x{")).count(), 0);
    }

    #[test]
    fn distinct_series_are_capped_then_counted_as_other() {
        let m = Metrics::default();
        for i in 0..MAX_TOOL_SERIES {
            m.tool_call("tools", "t", &format!("u{i}"), true);
        }
        m.tool_call("tools", "t", "late-1", true);
        m.tool_call("tools", "t2", "late-2", false);
        m.tool_call("tools", "t", "u7", true);
        let text = m.render(&[]);
        assert!(!text.contains("late-"), "no series past the cap");
        assert!(text.contains("gatehouse_tool_calls_total{runtime=\"tools\",tool=\"other\",user=\"other\",decision=\"allowed\"} 1"));
        assert!(text.contains("gatehouse_tool_calls_total{runtime=\"tools\",tool=\"other\",user=\"other\",decision=\"refused\"} 1"));
        assert!(text.contains("gatehouse_tool_calls_total{runtime=\"tools\",tool=\"t\",user=\"u7\",decision=\"allowed\"} 2"), "existing series still count");
        let long = "x".repeat(500);
        m.tool_call("tools", &long, "u0", true);
        assert!(!m.render(&[]).contains(&"x".repeat(129)));
    }
}
