//! `Secret`: a value the configuration or the command line holds that must never be printed — a Redis URL
//! that may carry a password, the admin token, a generated client secret, a password read from standard input.
//! `Debug` and `Display` print a redaction; the value is read only through `expose`, at the one place that
//! sends or stores it. Must never implement `Serialize` or compare in a way that prints.
use std::fmt;

use serde::Deserialize;

/// What `Debug` and `Display` print instead of the value.
pub const REDACTED: &str = "[redacted]";

/// A string that never prints itself.
#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that uses it (never for a log line or an error message).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_string())
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    /// For clap: a flag or environment variable parsed into a `Secret` is never shown by `Debug`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("redis://:hunter2@cache:6379/0");
        for shown in [
            format!("{s}"),
            format!("{s:?}"),
            format!("{s:#?}"),
            format!("{:?}", Some(&s)),
            format!("{s:>40}"),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
        assert_eq!(s.expose(), "redis://:hunter2@cache:6379/0");
        let parsed: Secret = "tok3n".parse().unwrap();
        assert_eq!(parsed, Secret::from("tok3n".to_string()));
        #[derive(Debug, Deserialize)]
        struct Holder {
            #[allow(dead_code)]
            url: Secret,
        }
        let h: Holder = toml::from_str("url = \"redis://:pw-in-file@h\"").unwrap();
        assert_eq!(h.url.expose(), "redis://:pw-in-file@h");
        assert!(!format!("{h:?}").contains("pw-in-file"));
    }
}
