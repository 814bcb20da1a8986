//! The admin listener: Prometheus metrics, liveness and readiness probes (open, for probes), and the session
//! controls (`GET /sessions`, `POST /sessions/stop`), which need the admin token that `up` writes to
//! `<data-dir>/admin.token` (mode 0600; the CLI reads it) and refuse any request a browser marks as coming from
//! a web page (`Origin`, or `Sec-Fetch-Site` other than `none`). Must never log the token.
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ServerError;
use crate::gateway::GatewayState;
use crate::idp::IdpState;
use crate::store::Store;

/// The admin token's file in the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// Writes a fresh admin token to `<data_dir>/admin.token` with mode 0600 (atomically) and returns it.
pub(super) fn write_admin_token(data_dir: &Path) -> Result<String, ServerError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let token = crate::util::opaque_token(32);
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(token.as_bytes()))
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| ServerError::Write(path, e))?;
    Ok(token)
}

/// Why a session-control request is refused.
fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// Why a session-control request is refused: (status, message).
type Refusal = (StatusCode, &'static str);

/// `None` when the request carries the admin token and no browser marks it as sent by a web page; otherwise
/// the refusal to answer.
fn authorize(headers: &HeaderMap, token: &str) -> Option<Response> {
    check(headers, token).err().map(|(s, m)| refuse(s, m))
}

fn check(headers: &HeaderMap, token: &str) -> Result<(), Refusal> {
    let site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    if headers.contains_key(http::header::ORIGIN) || site != "none" {
        return Err((
            StatusCode::FORBIDDEN,
            "cross-site requests are refused on the admin listener; use `gatehouse sessions`",
        ));
    }
    let given = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), token.as_bytes())
        .is_err()
    {
        return Err((
            StatusCode::UNAUTHORIZED,
            "missing or wrong admin token: send `Authorization: Bearer` with the contents of \
             <data-dir>/admin.token (the `gatehouse sessions` commands do)",
        ));
    }
    Ok(())
}

/// How long `/readyz` waits for the store.
pub const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// `/readyz`: 200 when the store answers within `READY_TIMEOUT` and the signing keys are loaded, 503 otherwise,
/// with a JSON body naming each check (for load balancers: take the instance out while its database is away).
async fn readiness(
    store: &dyn Store,
    idp: &IdpState,
) -> (http::StatusCode, axum::Json<serde_json::Value>) {
    let store_ok = matches!(
        tokio::time::timeout(READY_TIMEOUT, store.ping()).await,
        Ok(Ok(()))
    );
    let keys_ok = idp.keys.is_loaded();
    let status = if store_ok && keys_ok {
        http::StatusCode::OK
    } else {
        http::StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(serde_json::json!({
            "ready": store_ok && keys_ok,
            "store": if store_ok { "ok" } else { "unreachable" },
            "keys": if keys_ok { "loaded" } else { "not loaded" },
        })),
    )
}

/// The admin listener: Prometheus metrics, liveness and readiness probes.
pub(super) fn admin_router(
    gw: Arc<GatewayState>,
    store: Arc<dyn Store>,
    idp: Arc<IdpState>,
    token: Arc<str>,
) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/readyz",
            get(move || {
                let store = store.clone();
                let idp = idp.clone();
                async move { readiness(store.as_ref(), &idp).await }
            }),
        )
        .route(
            "/metrics",
            get({
                let gw = gw.clone();
                move || {
                    let gw = gw.clone();
                    async move {
                        (
                            [(
                                axum::http::header::CONTENT_TYPE,
                                "text/plain; version=0.0.4",
                            )],
                            gw.render_metrics(),
                        )
                    }
                }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/sessions",
            get({
                let gw = gw.clone();
                let token = token.clone();
                move |headers: HeaderMap| {
                    let gw = gw.clone();
                    let token = token.clone();
                    async move {
                        match authorize(&headers, &token) {
                            None => axum::Json(gw.supervisor.list()).into_response(),
                            Some(r) => r,
                        }
                    }
                }
            }),
        )
        .route(
            "/sessions/stop",
            axum::routing::post({
                let gw = gw.clone();
                move |headers: HeaderMap,
                      axum::extract::Query(q): axum::extract::Query<
                    std::collections::HashMap<String, String>,
                >| {
                    let gw = gw.clone();
                    let token = token.clone();
                    async move {
                        if let Some(r) = authorize(&headers, &token) {
                            return r;
                        }
                        let session = q.get("session").cloned().unwrap_or_default();
                        let mut stopped = false;
                        for r in gw
                            .runtimes
                            .iter()
                            .filter(|r| q.get("runtime").is_none_or(|n| *n == r.name))
                        {
                            gw.streams.stop(&r.arn, &session);
                            stopped |= gw
                                .supervisor
                                .stop(&r.arn, &session, r.limits.stop_grace)
                                .await;
                        }
                        axum::Json(serde_json::json!({ "stopped": stopped })).into_response()
                    }
                }
            }),
        )
}
