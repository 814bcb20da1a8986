//! Shared checks of the configuration: error collection, URLs, origins, durations, ranges. Owns no section
//! and must never read the environment or the file system.
use std::time::Duration;

use super::ConfigError;

/// Parses `500ms`, `30s`, `15m`, `8h`, `1d`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let ms = match unit {
        "ms" => n,
        "s" => n.checked_mul(1000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        "d" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

pub(super) fn err(
    errors: &mut Vec<ConfigError>,
    key: impl Into<String>,
    reason: impl Into<String>,
) {
    errors.push(ConfigError {
        key: key.into(),
        reason: reason.into(),
    });
}

pub(super) fn check_url(errors: &mut Vec<ConfigError>, key: &str, url: &str) {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.parse::<http::Uri>().is_ok();
    if !ok {
        err(
            errors,
            key,
            format!("'{url}' is not an http:// or https:// URL"),
        );
    }
}

pub(super) fn check_origin(errors: &mut Vec<ConfigError>, key: &str, origin: &str) {
    let ok = match origin.split_once("://") {
        Some((scheme, rest)) => {
            (scheme == "http" || scheme == "https")
                && !rest.is_empty()
                && !rest.contains('/')
                && !rest.contains('*')
                && rest.parse::<http::uri::Authority>().is_ok()
        }
        None => false,
    };
    if !ok {
        err(
            errors,
            key,
            format!(
                "'{origin}' is not an origin like https://app.example.com (no path, no wildcard)"
            ),
        );
    }
}

pub(super) fn duration_or(
    errors: &mut Vec<ConfigError>,
    key: String,
    v: Option<String>,
    default: Duration,
) -> Duration {
    match v {
        None => default,
        Some(t) => parse_duration(&t).unwrap_or_else(|| {
            err(
                errors,
                key,
                format!("'{t}' is not a duration like \"500ms\", \"30s\", \"15m\" or \"8h\""),
            );
            default
        }),
    }
}

pub(super) fn positive(
    errors: &mut Vec<ConfigError>,
    key: String,
    v: Option<i64>,
    default: u64,
    max: u64,
) -> u64 {
    match v {
        None => default,
        Some(n) if n >= 1 && (n as u64) <= max => n as u64,
        Some(n) => {
            err(errors, key, format!("{n} is out of range 1..={max}"));
            default
        }
    }
}
