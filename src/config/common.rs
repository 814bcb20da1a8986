//! Shared checks of the configuration: error collection, URLs, origins, durations, ranges. Owns no section
//! and must never read the environment or the file system.
use std::time::Duration;

use super::{ConfigError, HttpUrl};

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

/// A checked URL, or `None` with an error naming `key`.
pub(super) fn check_url(errors: &mut Vec<ConfigError>, key: &str, url: &str) -> Option<HttpUrl> {
    HttpUrl::parse(url)
        .map_err(|reason| err(errors, key, reason))
        .ok()
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

/// `raw.field` if the file sets it, else `default.field`, for each named field (the checked field has the raw
/// key's name and type).
macro_rules! or_default {
    ($raw:expr, $default:expr, $f:ident) => {
        $raw.$f.unwrap_or($default.$f)
    };
}
pub(super) use or_default;

/// A span written as whole seconds (the old form, `900`) or as a duration (`"15m"`, `"30d"`), as the `[idp]`
/// keys take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawSeconds {
    /// `900`.
    Seconds(i64),
    /// `"15m"`.
    Text(String),
}

impl<'de> serde::Deserialize<'de> for RawSeconds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RawSeconds;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("whole seconds or a duration like \"15m\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawSeconds, E> {
                Ok(RawSeconds::Seconds(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawSeconds, E> {
                Ok(RawSeconds::Seconds(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawSeconds, E> {
                Ok(RawSeconds::Text(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Checks a [`RawSeconds`] against `1..=max_secs` whole seconds; `None` when absent or wrong (the error then
/// names `key`).
pub(super) fn seconds(
    errors: &mut Vec<ConfigError>,
    key: &str,
    v: &Option<RawSeconds>,
    max_secs: u64,
) -> Option<Duration> {
    let d = match v.as_ref()? {
        RawSeconds::Seconds(n) => u64::try_from(*n).ok().map(Duration::from_secs),
        RawSeconds::Text(t) => parse_duration(t),
    };
    match d {
        Some(d) if d.subsec_nanos() == 0 && (1..=max_secs).contains(&d.as_secs()) => Some(d),
        _ => {
            err(
                errors,
                key,
                format!(
                    "must be 1 to {max_secs} seconds (whole seconds, or a duration like \"15m\" or \"1d\")"
                ),
            );
            None
        }
    }
}

/// Each `(key, value)` that is set must be at least 1.
pub(super) fn at_least_one(errors: &mut Vec<ConfigError>, keys: &[(&str, Option<u32>)]) {
    for (k, v) in keys {
        if *v == Some(0) {
            err(errors, *k, "must be at least 1");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_take_the_old_integer_form_and_the_duration_form() {
        #[derive(serde::Deserialize)]
        struct K {
            v: Option<RawSeconds>,
        }
        let check = |text: &str| {
            let k: K = toml::from_str(text).unwrap();
            let mut e = Vec::new();
            let d = seconds(&mut e, "idp.v", &k.v, 86_400);
            (d, e)
        };
        assert_eq!(check("v = 900").0, Some(Duration::from_secs(900)));
        assert_eq!(check("v = \"15m\"").0, Some(Duration::from_secs(900)));
        assert_eq!(check("v = \"1d\"").0, Some(Duration::from_secs(86_400)));
        assert_eq!(check("").0, None);
        assert!(check("").1.is_empty());
        for bad in [
            "v = 0",
            "v = -5",
            "v = 86401",
            "v = \"2d\"",
            "v = \"500ms\"",
            "v = \"soon\"",
        ] {
            let (d, e) = check(bad);
            assert_eq!(d, None, "{bad}");
            assert_eq!(e.len(), 1, "{bad}");
            assert_eq!(e[0].key, "idp.v", "{bad}");
        }
        assert!(toml::from_str::<K>("v = true").is_err());
    }
}
