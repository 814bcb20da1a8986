//! `[idp.oauth]`: how OAuth clients nobody pre-registered may appear — RFC 7591 dynamic registration (`off`,
//! `open`, `token`) and Client ID Metadata Documents (an `https://` client_id naming its own metadata), with the
//! host allow-list and the private-address switch of the fetch. Raw and checked; must never fetch anything.
use serde::Deserialize;

use super::common::err;
use super::ConfigError;

/// `[idp.oauth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdpOAuth {
    pub dynamic_client_registration: Option<String>,
    pub client_id_metadata_documents: Option<String>,
    #[serde(default)]
    pub metadata_document_hosts: Vec<String>,
    pub allow_private_metadata_hosts: Option<bool>,
}

/// `dynamic_client_registration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Registration {
    /// `POST /oauth2/register` is refused (the default).
    #[default]
    Off,
    /// Anyone may register a client.
    Open,
    /// A registration needs an initial access token (`gatehouse client registration-token create`).
    Token,
}

impl Registration {
    /// The configuration value.
    pub fn as_str(self) -> &'static str {
        match self {
            Registration::Off => "off",
            Registration::Open => "open",
            Registration::Token => "token",
        }
    }
}

/// One `metadata_document_hosts` entry: `example.com` (that host) or `*.example.com` (its subdomains).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    /// The suffix after `*.`: matches any host ending in `.suffix`, never `suffix` itself.
    Subdomains(String),
}

impl HostPattern {
    /// Parses one entry (lowercased); `None` when it is not a host name or `*.` + host name.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim().to_ascii_lowercase();
        let (wild, host) = match t.strip_prefix("*.") {
            Some(h) => (true, h.to_string()),
            None => (false, t),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
            return None;
        }
        Some(if wild {
            HostPattern::Subdomains(host)
        } else {
            HostPattern::Exact(host)
        })
    }

    /// Whether `host` (any case) matches.
    pub fn matches(&self, host: &str) -> bool {
        let h = host.to_ascii_lowercase();
        match self {
            HostPattern::Exact(e) => h == *e,
            HostPattern::Subdomains(s) => h
                .strip_suffix(s.as_str())
                .is_some_and(|p| p.len() > 1 && p.ends_with('.')),
        }
    }
}

/// A checked `[idp.oauth]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdpOAuthConfig {
    pub dynamic_client_registration: Registration,
    /// `client_id_metadata_documents = "on"`.
    pub client_id_metadata_documents: bool,
    /// Empty: any public host.
    pub metadata_document_hosts: Vec<HostPattern>,
    /// Loopback and private addresses are refused unless true.
    pub allow_private_metadata_hosts: bool,
}

impl IdpOAuthConfig {
    /// Whether a metadata document may be fetched from `host` (the allow-list only; addresses are checked
    /// after resolution).
    pub fn host_allowed(&self, host: &str) -> bool {
        self.metadata_document_hosts.is_empty()
            || self.metadata_document_hosts.iter().any(|p| p.matches(host))
    }
}

pub(super) fn check(errors: &mut Vec<ConfigError>, raw: Option<&RawIdpOAuth>) -> IdpOAuthConfig {
    let Some(raw) = raw else {
        return IdpOAuthConfig::default();
    };
    let dynamic_client_registration = match raw.dynamic_client_registration.as_deref() {
        None | Some("off") => Registration::Off,
        Some("open") => Registration::Open,
        Some("token") => Registration::Token,
        Some(other) => {
            err(
                errors,
                "idp.oauth.dynamic_client_registration",
                format!("'{other}' is not one of \"off\", \"open\", \"token\""),
            );
            Registration::Off
        }
    };
    let client_id_metadata_documents = match raw.client_id_metadata_documents.as_deref() {
        None | Some("off") => false,
        Some("on") => true,
        Some(other) => {
            err(
                errors,
                "idp.oauth.client_id_metadata_documents",
                format!("'{other}' is not one of \"off\", \"on\""),
            );
            false
        }
    };
    let mut hosts = Vec::new();
    for h in &raw.metadata_document_hosts {
        match HostPattern::parse(h) {
            Some(p) => hosts.push(p),
            None => err(
                errors,
                "idp.oauth.metadata_document_hosts",
                format!("'{h}' is not a host name like example.com or *.example.com"),
            ),
        }
    }
    IdpOAuthConfig {
        dynamic_client_registration,
        client_id_metadata_documents,
        metadata_document_hosts: hosts,
        allow_private_metadata_hosts: raw.allow_private_metadata_hosts.unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns_match_exactly_or_subdomains_only() {
        let e = HostPattern::parse("Example.com").unwrap();
        assert!(e.matches("example.COM"));
        assert!(!e.matches("a.example.com"));
        let s = HostPattern::parse("*.example.com").unwrap();
        assert!(s.matches("a.example.com"));
        assert!(s.matches("a.b.example.com"));
        assert!(!s.matches("example.com"));
        assert!(!s.matches("badexample.com"));
        for bad in [
            "",
            "*",
            "*.",
            "a*.example.com",
            "example.com:443",
            "https://x",
            "a..b",
        ] {
            assert!(HostPattern::parse(bad).is_none(), "{bad}");
        }
    }
}
