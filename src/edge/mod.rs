//! The edge (web listener). For now a placeholder page that says where the IdP and gateway are, and
//! `GET /config.json` with the app's public settings (no secret, no user, no password). Static files, SPA
//! fallback and TLS come later. Must never serve anything outside its root or list a directory.
use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

/// What the browser app needs to know; all of it public.
#[derive(Debug, Clone, Serialize)]
pub struct AppConfig {
    pub region: String,
    pub idp_url: String,
    pub user_pool_id: String,
    pub client_id: String,
    pub gateway_url: String,
    pub runtimes: Vec<AppRuntime>,
}

/// One runtime as the app sees it.
#[derive(Debug, Clone, Serialize)]
pub struct AppRuntime {
    pub name: String,
    pub arn: String,
}

fn secure(mut resp: Response, csp: &str) -> Response {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// The web listener's routes.
pub fn router(config: AppConfig) -> Router {
    let config = Arc::new(config);
    let csp = format!(
        "default-src 'self'; connect-src 'self' {} {}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        config.idp_url, config.gateway_url
    );
    let page = Arc::new(placeholder_page(&config));
    let (c1, c2, c3) = (csp.clone(), csp.clone(), csp);
    Router::new()
        .route(
            "/",
            get(move || {
                let page = page.clone();
                let csp = c1.clone();
                async move {
                    let mut r = Html(page.as_str().to_string()).into_response();
                    r.headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                    secure(r, &csp)
                }
            }),
        )
        .route(
            "/config.json",
            get(move || {
                let config = config.clone();
                let csp = c2.clone();
                async move {
                    let mut r = Json(config.as_ref().clone()).into_response();
                    r.headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                    secure(r, &csp)
                }
            }),
        )
        .fallback(move || {
            let csp = c3.clone();
            async move { secure((StatusCode::NOT_FOUND, "Not found\n").into_response(), &csp) }
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
         <p>The web app arrives in a later release; see the README for signing in and invoking with curl.</p>\
         </body></html>",
        escape(&c.idp_url),
        escape(&c.user_pool_id),
        escape(&c.client_id),
        escape(&c.gateway_url),
        runtimes
    )
}
