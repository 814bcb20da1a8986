//! The edge (web listener): serves the built single-page app from memory ([`site`]) with the SPA fallback, or
//! a placeholder page when no web root is given; `GET /config.json` with the app's public settings (no secret,
//! no user, no password); security headers on every answer (CSP, nosniff, no-referrer, DENY, and HSTS over
//! TLS); TLS from PEM files ([`tls`]); and the plain-HTTP redirect listener ([`redirect_router`]). Must never
//! serve anything outside its root, list a directory, serve a dotfile, or build a redirect from the request's
//! Host header.
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use serde::Serialize;

pub mod asset;
pub mod site;
pub mod tls;

pub use site::{Site, SiteError};

/// What the browser app needs to know; all of it public.
#[derive(Debug, Clone, Serialize)]
pub struct AppConfig {
    pub region: String,
    pub idp_url: String,
    pub user_pool_id: String,
    pub client_id: String,
    pub gateway_url: String,
    pub runtimes: Vec<AppRuntime>,
    /// The hosted sign-in (authorization code + PKCE), when the web app's client is registered for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth: Option<AppOAuth>,
}

/// What the web app registered for the hosted sign-in; all of it public. The endpoints are Cognito's fixed
/// paths under `idp_url` (`/oauth2/authorize`, `/oauth2/token`, `/logout`).
#[derive(Debug, Clone, Serialize)]
pub struct AppOAuth {
    /// The issuer the authorization response's `iss` must name (RFC 9207).
    pub issuer: String,
    /// Where the hosted page sends the browser back (a path of this app).
    pub redirect_uri: String,
    /// Where `/logout` sends the browser back, when the client registered it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logout_uri: Option<String>,
    pub scopes: Vec<String>,
}

/// One runtime as the app sees it.
#[derive(Debug, Clone, Serialize)]
pub struct AppRuntime {
    pub name: String,
    pub arn: String,
    /// What kind of server answers at its invocations URL: `http`, `mcp` or `a2a`.
    pub protocol: &'static str,
}

/// `HSTS` sent over TLS.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";
/// Methods the edge answers.
const ALLOW: &str = "GET, HEAD";

/// `scheme://host[:port]` of a URL (`None` if it has no authority).
pub fn origin(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
}

/// The Content-Security-Policy: the app may load only its own files and talk only to itself, the IdP and the
/// gateway (HTTP and WebSocket).
pub fn content_security_policy(idp_url: &str, gateway_url: &str) -> String {
    let mut connect = vec!["'self'".to_string()];
    if let Some(o) = origin(idp_url) {
        connect.push(o);
    }
    if let Some(o) = origin(gateway_url) {
        let ws = if let Some(rest) = o.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = o.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            o.clone()
        };
        connect.push(o);
        connect.push(ws);
    }
    connect.dedup();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src {}; \
         frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'",
        connect.join(" ")
    )
}

/// `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`, which every answer of the web
/// listener and the redirect listener carries.
fn no_sniff_no_referrer(h: &mut HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The headers every edge answer carries.
fn security_headers(csp: &str, tls: bool) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    no_sniff_no_referrer(&mut h);
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    h
}

struct Edge {
    config_json: Bytes,
    placeholder: Bytes,
    site: Option<Arc<Site>>,
    security: HeaderMap,
}

/// The web listener's routes: `/config.json`, then the app (or the placeholder page). `tls` adds HSTS.
pub fn router(config: AppConfig, site: Option<Arc<Site>>, tls: bool) -> Router {
    let csp = content_security_policy(&config.idp_url, &config.gateway_url);
    let edge = Edge {
        config_json: Bytes::from(serde_json::to_vec(&config).unwrap_or_default()),
        placeholder: Bytes::from(placeholder_page(&config)),
        site,
        security: security_headers(&csp, tls),
    };
    Router::new().fallback(handle).with_state(Arc::new(edge))
}

async fn handle(State(edge): State<Arc<Edge>>, req: Request) -> Response {
    let mut resp = edge.answer(req.method(), req.uri().path(), req.headers());
    for (k, v) in &edge.security {
        resp.headers_mut().insert(k, v.clone());
    }
    resp
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn not_found() -> Response {
    plain(StatusCode::NOT_FOUND, "Not found\n")
}

fn bad_path() -> Response {
    plain(
        StatusCode::BAD_REQUEST,
        "Bad request: the path is not a clean absolute path (no '..', backslash, NUL or double encoding)\n",
    )
}

fn generated(body: &Bytes, content_type: &'static str) -> Response {
    let mut r = Response::new(Body::from(body.clone()));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// True when `If-None-Match` lists `etag` (weak comparison, `*` matches anything).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

fn serve_asset(asset: &site::Asset, headers: &HeaderMap) -> Response {
    let accepts = site::Accepts::parse(
        headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let (variant, encoding) = asset.select(accepts);
    let fresh = not_modified(headers, &variant.etag);
    let mut r = if fresh {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(Body::from(variant.body.clone()))
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&variant.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(asset.cache_control),
    );
    if asset.gzip.is_some() || asset.br.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if !fresh {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        if let Some(e) = encoding {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
        }
    }
    r
}

impl Edge {
    fn answer(&self, method: &Method, path: &str, headers: &HeaderMap) -> Response {
        if method != Method::GET && method != Method::HEAD {
            let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed\n");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
            return r;
        }
        if path == "/config.json" {
            return generated(&self.config_json, "application/json");
        }
        let Some(site) = &self.site else {
            return match site::clean_path(path) {
                Ok(s) if s.is_empty() || s == ["index.html"] => {
                    generated(&self.placeholder, "text/html; charset=utf-8")
                }
                Err(true) => bad_path(),
                _ => not_found(),
            };
        };
        match site.resolve(path) {
            site::Lookup::File(key) => match site.get(key) {
                Some(a) => serve_asset(a, headers),
                None => not_found(),
            },
            site::Lookup::Fallback => match site.index() {
                Some(a) => serve_asset(a, headers),
                None => not_found(),
            },
            site::Lookup::NotFound => not_found(),
            site::Lookup::BadPath => bad_path(),
        }
    }
}

/// The plain-HTTP redirect listener: every request, whatever its method, Host or target, gets 308 to
/// `public_url` + the request's path and query. The Host header is never read.
pub fn redirect_router(public_url: &str) -> Router {
    let base = Arc::new(public_url.trim_end_matches('/').to_string());
    Router::new().fallback(move |req: Request| {
        let base = base.clone();
        async move {
            let pq = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .filter(|p| p.starts_with('/'))
                .unwrap_or("/");
            let mut r = Response::new(Body::empty());
            match HeaderValue::from_str(&format!("{base}{pq}")) {
                Ok(v) => {
                    *r.status_mut() = StatusCode::PERMANENT_REDIRECT;
                    r.headers_mut().insert(header::LOCATION, v);
                }
                Err(_) => *r.status_mut() = StatusCode::BAD_REQUEST,
            }
            let h = r.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            no_sniff_no_referrer(h);
            r
        }
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn placeholder_page(c: &AppConfig) -> String {
    let runtimes: String = c
        .runtimes
        .iter()
        .map(|r| {
            format!(
                "<li><code>{}</code> — <code>{}</code></li>",
                escape(&r.name),
                escape(&r.arn)
            )
        })
        .collect();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>gatehouse</title></head><body>\
         <h1>gatehouse is running</h1>\
         <p>Identity provider: <code>{}</code> (user pool <code>{}</code>, app client <code>{}</code>)</p>\
         <p>Runtime gateway: <code>{}</code></p><ul>{}</ul>\
         <p>No web app is served: start <code>gatehouse up --web-root DIR</code> with a built app, or see the \
         README for signing in and invoking with curl.</p>\
         </body></html>",
        escape(&c.idp_url),
        escape(&c.user_pool_id),
        escape(&c.client_id),
        escape(&c.gateway_url),
        runtimes
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AppConfig {
        AppConfig {
            region: "us-east-1".into(),
            idp_url: "https://login.example.com".into(),
            user_pool_id: "us-east-1_abc".into(),
            client_id: "client".into(),
            gateway_url: "https://agents.example.com:8443/base".into(),
            runtimes: vec![AppRuntime {
                name: "demo".into(),
                arn: "arn:aws:bedrock-agentcore:us-east-1:000000000000:runtime/demo-x".into(),
                protocol: "http",
            }],
            oauth: None,
        }
    }

    #[test]
    fn the_csp_allows_the_idp_and_the_gateway_over_http_and_websocket() {
        let csp = content_security_policy("http://127.0.0.1:4001", "http://127.0.0.1:4002");
        assert!(
            csp.contains("connect-src 'self' http://127.0.0.1:4001 http://127.0.0.1:4002 ws://127.0.0.1:4002;"),
            "{csp}"
        );
        let c = config();
        let csp = content_security_policy(&c.idp_url, &c.gateway_url);
        assert!(
            csp.contains("https://login.example.com https://agents.example.com:8443 wss://agents.example.com:8443;"),
            "{csp}"
        );
        for d in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(d), "{d}: {csp}");
        }
    }

    #[test]
    fn config_json_has_exactly_the_public_fields() {
        let v = serde_json::to_value(config()).unwrap();
        let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "client_id",
                "gateway_url",
                "idp_url",
                "region",
                "runtimes",
                "user_pool_id"
            ]
        );
        let r: Vec<&String> = v["runtimes"][0].as_object().unwrap().keys().collect();
        assert_eq!(r, ["arn", "name", "protocol"]);
        assert_eq!(v["runtimes"][0]["protocol"], "http");
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"a\", W/\"b\""),
        );
        assert!(not_modified(&h, "\"a\""));
        assert!(not_modified(&h, "\"b\""));
        assert!(!not_modified(&h, "\"c\""));
        assert!(!not_modified(&HeaderMap::new(), "\"a\""));
    }
}
