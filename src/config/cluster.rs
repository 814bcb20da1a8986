//! `[cluster]`: the internal listener for cross-instance forwarding, raw and checked. Must never read the
//! shared secret file (the server does).
use serde::Deserialize;

use super::common::{check_url, err};
use super::{ConfigError, HttpUrl};

/// `[cluster]`: the internal listener over which instances forward isolated sessions to each other.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// HOST:PORT of the internal listener (`--internal-listen` overrides it).
    pub internal_listen: Option<String>,
    /// The URL other instances use to reach this one's internal listener (default: `http://` + the bound address).
    pub internal_url: Option<String>,
    /// A file holding the secret every instance shares (at least 32 bytes).
    pub shared_secret_file: Option<String>,
}

/// A checked `[cluster]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    pub internal_listen: Option<std::net::SocketAddr>,
    /// Without trailing slashes.
    pub internal_url: Option<HttpUrl>,
    pub shared_secret_file: std::path::PathBuf,
}

pub(super) fn check_cluster(
    errors: &mut Vec<ConfigError>,
    raw: Option<RawCluster>,
) -> Option<ClusterConfig> {
    let raw = raw?;
    let internal_listen = raw.internal_listen.as_ref().and_then(|a| match a.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            err(
                errors,
                "cluster.internal_listen",
                format!("'{a}' is not HOST:PORT (e.g. \"10.0.0.11:4010\")"),
            );
            None
        }
    });
    let internal_url = raw
        .internal_url
        .as_ref()
        .and_then(|u| check_url(errors, "cluster.internal_url", u));
    let Some(file) = raw.shared_secret_file else {
        err(
            errors,
            "cluster.shared_secret_file",
            "missing; name a file holding a secret of at least 32 bytes, the same on every instance",
        );
        return None;
    };
    Some(ClusterConfig {
        internal_listen,
        internal_url: internal_url.map(|u| u.trimmed()),
        shared_secret_file: file.into(),
    })
}
