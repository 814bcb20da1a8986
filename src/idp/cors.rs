//! CORS for the IdP, so that a browser app can call it directly as Amplify calls Cognito: allowed origins are
//! the web listener's and every app client's `allowed_origins` (re-read from the store at most every two
//! seconds). Preflights list the request headers the AWS SDKs send explicitly (never `*`); every response,
//! error responses included, carries `Access-Control-Allow-Origin` for an allowed origin and `Vary: Origin`.
//! Never allows credentials, never echoes an origin that is not on the list.
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::IdpState;
use crate::store::{PoolId, Store};

/// Request headers a preflight may ask for.
pub const ALLOW_HEADERS: &str = "content-type, x-amz-target, x-amz-user-agent, cache-control, \
     amz-sdk-invocation-id, amz-sdk-request, x-amz-date, x-amz-content-sha256";
/// Response headers scripts may read.
pub const EXPOSE_HEADERS: &str = "x-amzn-requestid, x-amzn-errortype, x-amzn-errormessage";
const RELOAD: Duration = Duration::from_secs(2);

/// The allowed origins of the pool.
pub struct Origins {
    store: Arc<dyn Store>,
    pool_id: PoolId,
    web_origin: String,
    cached: tokio::sync::Mutex<Option<(Instant, Arc<HashSet<String>>)>>,
}

impl Origins {
    pub fn new(store: Arc<dyn Store>, pool_id: PoolId, web_origin: String) -> Self {
        Self {
            store,
            pool_id,
            web_origin,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    async fn set(&self) -> Arc<HashSet<String>> {
        let mut g = self.cached.lock().await;
        if let Some((at, s)) = g.as_ref() {
            if at.elapsed() < RELOAD {
                return s.clone();
            }
        }
        let mut set = HashSet::new();
        set.insert(self.web_origin.clone());
        match self.store.clients(&self.pool_id).await {
            Ok(clients) => {
                for c in clients {
                    set.extend(c.allowed_origins.split_whitespace().map(str::to_string));
                }
            }
            Err(e) => {
                if let Some((at, s)) = g.as_mut() {
                    // Keep the last known list (and try again after RELOAD, not on every request).
                    tracing::warn!(error = %e, "cannot read client origins; keeping the last list");
                    *at = Instant::now();
                    return s.clone();
                }
                tracing::warn!(error = %e, "cannot read client origins; allowing the web origin only")
            }
        }
        let set = Arc::new(set);
        *g = Some((Instant::now(), set.clone()));
        set
    }

    /// Whether `origin` is allowed (exact, byte-for-byte match).
    pub async fn allows(&self, origin: &str) -> bool {
        self.set().await.contains(origin)
    }
}

/// The middleware.
pub async fn layer(State(state): State<Arc<IdpState>>, req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let allowed = match &origin {
        Some(o) => state.cors.allows(o).await,
        None => false,
    };
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut resp = if preflight {
        if allowed {
            let headers = [
                (header::ACCESS_CONTROL_ALLOW_METHODS, "POST, GET, OPTIONS"),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS),
                (header::ACCESS_CONTROL_MAX_AGE, "600"),
            ];
            (StatusCode::NO_CONTENT, headers).into_response()
        } else {
            (StatusCode::FORBIDDEN, Body::empty()).into_response()
        }
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if let (true, Some(o)) = (allowed, origin) {
        if let Ok(v) = HeaderValue::from_str(&o) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
        }
    }
    resp
}
