//! `endpoints.json` (what `up` bound, for scripts, tests and the CLI) and the start-up banner. Written only once
//! every listener accepts connections, atomically; removed on shutdown. Holds no wiring.
use std::path::Path;

use serde::Serialize;

use super::{ServerError, ENDPOINTS_FILE};
use crate::gateway::Runtime;

/// `endpoints.json`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Endpoints {
    pub web: String,
    pub idp: String,
    pub gateway: String,
    /// The admin listener (`/metrics`, `/healthz`).
    #[serde(default)]
    pub admin: String,
    /// The internal (instance-to-instance) listener's advertised URL, with `[cluster]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal: Option<String>,
    /// The plain-HTTP listener that redirects to the web app's https:// URL, when one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_redirect: Option<String>,
    pub region: String,
    pub user_pool_id: String,
    pub client_id: String,
    pub issuer: String,
    pub discovery_url: String,
    pub jwks_uri: String,
    pub runtimes: Vec<EndpointRuntime>,
}

/// One runtime in `endpoints.json`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct EndpointRuntime {
    pub name: String,
    pub arn: String,
    pub invocations_url: String,
    pub ws_url: String,
}

/// The runtimes' URLs on the gateway (`gw_url`), as `endpoints.json` lists them.
pub(super) fn runtimes(runtimes: &[std::sync::Arc<Runtime>], gw_url: &str) -> Vec<EndpointRuntime> {
    runtimes
        .iter()
        .map(|r| {
            let enc = crate::gateway::arn::encode(&r.arn);
            EndpointRuntime {
                name: r.name.clone(),
                arn: r.arn.clone(),
                invocations_url: format!("{gw_url}/runtimes/{enc}/invocations?qualifier=DEFAULT"),
                ws_url: format!(
                    "{}/runtimes/{enc}/ws?qualifier=DEFAULT",
                    gw_url.replacen("http", "ws", 1)
                ),
            }
        })
        .collect()
}

/// Writes `endpoints.json` into `data_dir` and prints the banner.
pub(super) fn publish(e: &Endpoints, data_dir: &Path) -> Result<(), ServerError> {
    let path = data_dir.join(ENDPOINTS_FILE);
    let json = serde_json::to_vec_pretty(e)
        .map_err(|err| ServerError::Internal(format!("encoding endpoints.json: {err}")))?;
    write_atomically(&path, &json)?;
    tracing::info!(path = %path.display(), "ready");
    print_banner(e, data_dir);
    Ok(())
}

/// Writes `contents` to `path` atomically (temp file in the same directory + rename).
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), ServerError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, contents)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| ServerError::Write(path.to_path_buf(), e))
}

pub(super) fn print_banner(e: &Endpoints, data_dir: &Path) {
    let mut s = String::new();
    s.push_str("gatehouse is up\n");
    s.push_str(&format!("  web app          {}\n", e.web));
    if let Some(r) = &e.web_redirect {
        s.push_str(&format!("  web redirect     {r} → {}\n", e.web));
    }
    s.push_str(&format!(
        "  identity provider {}  (user pool {}, app client {})\n",
        e.idp, e.user_pool_id, e.client_id
    ));
    s.push_str(&format!("  runtime gateway  {}\n", e.gateway));
    s.push_str(&format!("  admin (metrics)  {}/metrics\n", e.admin));
    for r in &e.runtimes {
        s.push_str(&format!("  runtime {:<8} {}\n", r.name, r.arn));
    }
    s.push_str(&format!(
        "  endpoints        {}\nCreate a user:  printf '%s' \"$PASSWORD\" | gatehouse user create --username alice --password-stdin --data-dir {}\n",
        data_dir.join(ENDPOINTS_FILE).display(),
        data_dir.display()
    ));
    print!("{s}");
}
