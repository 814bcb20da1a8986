//! The edge (web listener) as a browser and an attacker meet it: the real `gatehouse up --web-root DIR` over real
//! sockets, DIR a temp directory holding `index.html`, a hashed Vite asset, a nested directory, dotfiles and
//! symlinks that lead out of the root. SPA fallback, 404s, every path-escape case (raw TCP, so no client
//! normalises the path; a `case | expected | got` table), ETag/304, caching, gzip and brotli, security headers,
//! HEAD/405, TLS with HSTS, the HTTP→HTTPS redirect (a spoofed Host ignored), the refusal of plain HTTP off
//! loopback and its override, and `/config.json` holding no secret.
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::BodyExt as _;
use serde_json::Value;

use crate::common::attack::{authority, raw, report, Row};
use crate::common::{send, Gatehouse, BIN};

/// Marks the content of files that must never be served.
const OUTSIDE: &str = "OUTSIDE-THE-ROOT-7c1e";
const DOTFILE: &str = "DOTFILE-SECRET-93ab";
const INDEX: &str = "<!doctype html><html><head><title>gatehouse app</title>\
<script type=\"module\" src=\"/assets/app-3f9a1c2b.js\"></script></head><body><div id=\"root\"></div></body></html>";
const HASHED: &str = "/assets/app-3f9a1c2b.js";

fn app_js() -> String {
    (0..200)
        .map(|i| format!("export const line{i} = \"gatehouse says hello {i}\";\n"))
        .collect()
}

/// A built app: `<tmp>/site` (the root) and `<tmp>/outside` (what must never be served).
fn populate(tmp: &Path) -> PathBuf {
    let root = tmp.join("site");
    let outside = tmp.join("outside");
    for d in [
        root.join("assets"),
        root.join("nested/deep"),
        root.join(".git"),
        outside.clone(),
    ] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(root.join("index.html"), INDEX).unwrap();
    std::fs::write(root.join("assets/app-3f9a1c2b.js"), app_js()).unwrap();
    std::fs::write(
        root.join("assets/logo.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .unwrap();
    std::fs::write(root.join("nested/deep/page.txt"), "nested page\n").unwrap();
    std::fs::write(
        root.join("manifest.webmanifest"),
        "{\"name\":\"gatehouse\"}",
    )
    .unwrap();
    std::fs::write(root.join(".env"), format!("TOKEN={DOTFILE}\n")).unwrap();
    std::fs::write(root.join(".git/config"), format!("[core] {DOTFILE}\n")).unwrap();
    std::fs::write(outside.join("secret.txt"), OUTSIDE).unwrap();
    std::fs::write(outside.join("secret"), OUTSIDE).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink("../outside", root.join("leakdir")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("passwd.txt")).unwrap();
    // A symlink that stays inside the root is fine.
    std::os::unix::fs::symlink("nested/deep/page.txt", root.join("alias.txt")).unwrap();
    root
}

struct Edge {
    g: Gatehouse,
    tmp: tempfile::TempDir,
}

/// One gatehouse serving the populated root, shared by the read-only tests of this module.
fn edge() -> &'static Edge {
    static EDGE: OnceLock<Edge> = OnceLock::new();
    EDGE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let root = populate(tmp.path());
        let g = Gatehouse::start_in(
            &tmp.path().join("data"),
            &["--web-root", root.to_str().unwrap()],
        );
        Edge { g, tmp }
    })
}

struct Got {
    status: u16,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn get(path: &str, headers: &[(&str, &str)]) -> Got {
    fetch("GET", path, headers).await
}

async fn fetch(method: &str, path: &str, headers: &[(&str, &str)]) -> Got {
    let url = format!("{}{path}", edge().g.endpoints.web);
    let resp = send(method, &url, headers, "").await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Got {
        status,
        headers,
        body,
    }
}

#[tokio::test]
async fn app_routes_fall_back_to_index_html() {
    for path in [
        "/",
        "/index.html",
        "/chat/42",
        "/settings/",
        "/nested/",
        "/a/b/c",
    ] {
        let r = get(path, &[]).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.text(), INDEX, "{path}");
        assert_eq!(
            r.header("content-type"),
            "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(r.header("cache-control"), "no-cache", "{path}");
    }
    // Files are served by exact name, nested ones too, and a symlink inside the root is followed.
    for (path, body) in [
        ("/nested/deep/page.txt", "nested page\n"),
        ("/alias.txt", "nested page\n"),
    ] {
        let r = get(path, &[]).await;
        assert_eq!((r.status, r.text().as_str()), (200, body), "{path}");
    }
}

#[tokio::test]
async fn missing_assets_dotfiles_and_outside_symlinks_are_404() {
    for path in [
        "/assets/missing-1234abcd.js",
        "/favicon.ico",
        "/nested/deep/other.txt",
        "/.env",
        "/.git/config",
        "/.git/",
        "/nested/.hidden",
        "/leak.txt",
        "/leakdir/secret.txt",
        "/passwd.txt",
    ] {
        let r = get(path, &[]).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert!(!r.text().contains(OUTSIDE) && !r.text().contains(DOTFILE));
        assert!(!r.text().contains("root:"), "{path}");
    }
    // A directory is never listed: it is an app route.
    let r = get("/assets/", &[]).await;
    assert_eq!(r.text(), INDEX);
}

/// Every way out of the root, over raw TCP so nothing normalises the path first.
#[tokio::test]
async fn path_escapes_are_refused() {
    let e = edge();
    let web = authority(&e.g.endpoints.web);
    let abs = e.tmp.path().join("outside/secret.txt");
    let abs = abs.to_str().unwrap();
    let cases: Vec<(&str, String)> = vec![
        ("dot-dot", "/../outside/secret.txt".into()),
        ("deep dot-dot", "/../../../../../../etc/passwd".into()),
        (
            "dot-dot after a directory",
            "/assets/../../outside/secret.txt".into(),
        ),
        ("dot-dot to a dotfile", "/assets/../.env".into()),
        ("encoded dot-dot", "/%2e%2e/outside/secret.txt".into()),
        (
            "encoded dot-dot, upper case",
            "/%2E%2E/%2E%2E/etc/passwd".into(),
        ),
        ("half-encoded dot-dot", "/.%2e/outside/secret.txt".into()),
        ("encoded slash", "/..%2foutside%2fsecret.txt".into()),
        (
            "double-encoded dot-dot",
            "/%252e%252e/outside/secret.txt".into(),
        ),
        (
            "double-encoded dot-dot, no extension",
            "/%252e%252e/%252e%252e/etc/passwd".into(),
        ),
        (
            "double-encoded slash",
            "/..%252foutside%252fsecret.txt".into(),
        ),
        (
            "overlong UTF-8 dot-dot",
            "/%c0%ae%c0%ae/outside/secret.txt".into(),
        ),
        (
            "overlong UTF-8 slash",
            "/..%c0%afoutside%c0%afsecret.txt".into(),
        ),
        ("raw backslash", "/..\\outside\\secret.txt".into()),
        ("encoded backslash", "/..%5coutside%5csecret.txt".into()),
        (
            "encoded backslash, lower case",
            "/..%5Coutside%5Csecret".into(),
        ),
        ("NUL before an extension", "/index.html%00.js".into()),
        ("NUL in a dot-dot", "/.%00./outside/secret.txt".into()),
        ("lone NUL", "/%00".into()),
        ("double slash to an absolute path", "//etc/passwd".into()),
        ("absolute path of the outside file", abs.to_string()),
        (
            "absolute path, no leading slash",
            abs.trim_start_matches('/').to_string(),
        ),
        (
            "absolute-form URI with dot-dot",
            "http://a/%2e%2e/outside/secret.txt".into(),
        ),
        ("Windows drive path", "/C:/Windows/win.ini".into()),
        ("dotfile", "/.env".into()),
        ("encoded dotfile", "/%2eenv".into()),
        ("dot directory", "/.git/config".into()),
        ("symlink to a file outside", "/leak.txt".into()),
        (
            "symlink to a directory outside",
            "/leakdir/secret.txt".into(),
        ),
        ("symlink to /etc/passwd", "/passwd.txt".into()),
        ("dot segment", "/./.env".into()),
    ];
    let mut rows = Vec::new();
    for (name, target) in cases {
        let a = raw(
            &web,
            format!("GET {target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").as_bytes(),
            Duration::from_secs(2),
        )
        .await;
        let status = a
            .statuses
            .first()
            .map_or("none".to_string(), u16::to_string);
        let leaked =
            a.text.contains(OUTSIDE) || a.text.contains(DOTFILE) || a.text.contains("root:x:");
        rows.push(Row::new(
            format!("GET {name}"),
            "404 | 400",
            if leaked {
                format!("{status} LEAKED")
            } else {
                status
            },
        ));
    }
    report("edge path escapes (with a web root)", &rows);
}

#[tokio::test]
async fn etags_revalidate_with_304() {
    let r = get(HASHED, &[]).await;
    assert_eq!(r.status, 200);
    let etag = r.header("etag").to_string();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let again = get(HASHED, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), etag);
    assert_eq!(again.header("cache-control"), r.header("cache-control"));
    let weak = format!("W/{etag}");
    assert_eq!(get(HASHED, &[("if-none-match", &weak)]).await.status, 304);
    let list = format!("\"nope\", {etag}");
    assert_eq!(get(HASHED, &[("if-none-match", &list)]).await.status, 304);
    assert_eq!(
        get(HASHED, &[("if-none-match", "\"nope\"")]).await.status,
        200
    );
    // The gzip representation has its own ETag; the identity one does not revalidate it.
    let gz = get(HASHED, &[("accept-encoding", "gzip")]).await;
    let gz_etag = gz.header("etag").to_string();
    assert_ne!(gz_etag, etag);
    let h = [
        ("accept-encoding", "gzip"),
        ("if-none-match", gz_etag.as_str()),
    ];
    assert_eq!(get(HASHED, &h).await.status, 304);
    let h = [
        ("accept-encoding", "gzip"),
        ("if-none-match", etag.as_str()),
    ];
    assert_eq!(get(HASHED, &h).await.status, 200);
    // The SPA fallback revalidates too.
    let index = get("/some/route", &[]).await;
    let tag = index.header("etag").to_string();
    assert_eq!(
        get("/other/route", &[("if-none-match", &tag)]).await.status,
        304
    );
}

#[tokio::test]
async fn caching_and_content_types_follow_the_file() {
    for (path, content_type, cache) in [
        (
            HASHED,
            "text/javascript; charset=utf-8",
            "public, max-age=31536000, immutable",
        ),
        ("/assets/logo.svg", "image/svg+xml", "no-cache"),
        ("/index.html", "text/html; charset=utf-8", "no-cache"),
        ("/deep/link", "text/html; charset=utf-8", "no-cache"),
        (
            "/nested/deep/page.txt",
            "text/plain; charset=utf-8",
            "no-cache",
        ),
        (
            "/manifest.webmanifest",
            "application/manifest+json",
            "no-cache",
        ),
        ("/config.json", "application/json", "no-cache"),
    ] {
        let r = get(path, &[]).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), content_type, "{path}");
        assert_eq!(r.header("cache-control"), cache, "{path}");
    }
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn unbrotli(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(b, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn gzip_and_brotli_decode_to_the_file() {
    let js = app_js();
    let plain = get(HASHED, &[]).await;
    assert_eq!(plain.text(), js);
    assert_eq!(plain.header("content-encoding"), "");
    assert_eq!(plain.header("vary"), "accept-encoding");
    let gz = get(HASHED, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gz.header("content-encoding"), "gzip");
    assert_eq!(gz.header("vary"), "accept-encoding");
    assert!(gz.body.len() < js.len() / 2, "{} bytes", gz.body.len());
    assert_eq!(gunzip(&gz.body), js.as_bytes());
    let br = get(HASHED, &[("accept-encoding", "br")]).await;
    assert_eq!(br.header("content-encoding"), "br");
    assert_eq!(unbrotli(&br.body), js.as_bytes());
    let both = get(HASHED, &[("accept-encoding", "gzip, deflate, br, zstd")]).await;
    assert_eq!(both.header("content-encoding"), "br");
    assert_eq!(unbrotli(&both.body), js.as_bytes());
    let no_br = get(HASHED, &[("accept-encoding", "br;q=0, gzip")]).await;
    assert_eq!(no_br.header("content-encoding"), "gzip");
    assert_eq!(gunzip(&no_br.body), js.as_bytes());
    assert_eq!(gz.header("content-type"), "text/javascript; charset=utf-8");
}

fn assert_security_headers(what: &str, h: &http::HeaderMap, gateway: &str, tls: bool) {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let csp = get("content-security-policy");
    let ws = gateway.replacen("http", "ws", 1);
    for d in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(d), "{what}: {d} missing from {csp}");
    }
    let connect = csp
        .split(';')
        .find(|d| d.trim().starts_with("connect-src"))
        .unwrap_or("");
    assert!(
        connect.contains(gateway) && connect.contains(&ws),
        "{what}: {connect}"
    );
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    if tls {
        assert_eq!(
            get("strict-transport-security"),
            "max-age=31536000; includeSubDomains",
            "{what}"
        );
    } else {
        assert!(h.get("strict-transport-security").is_none(), "{what}");
    }
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let e = edge();
    let gw = e.g.endpoints.gateway.clone();
    let idp = e.g.endpoints.idp.clone();
    for (method, path, status) in [
        ("GET", "/", 200),
        ("GET", HASHED, 200),
        ("GET", "/config.json", 200),
        ("GET", "/deep/link", 200),
        ("GET", "/missing.js", 404),
        ("GET", "/.env", 404),
        ("GET", "/%252e%252e/x", 400),
        ("POST", "/", 405),
        ("HEAD", "/", 200),
    ] {
        let r = fetch(method, path, &[]).await;
        assert_eq!(r.status, status, "{method} {path}");
        assert_security_headers(&format!("{method} {path}"), &r.headers, &gw, false);
        let csp = r.header("content-security-policy");
        assert!(csp.contains(&idp), "{csp}");
    }
    let r = get(HASHED, &[("if-none-match", "*")]).await;
    assert_eq!(r.status, 304);
    assert_security_headers("304", &r.headers, &gw, false);
}

#[tokio::test]
async fn head_is_get_without_a_body_and_other_methods_are_405() {
    for path in ["/", HASHED, "/config.json", "/deep/link"] {
        let g = get(path, &[]).await;
        let h = fetch("HEAD", path, &[]).await;
        assert_eq!(h.status, 200, "{path}");
        assert!(h.body.is_empty(), "{path}");
        assert_eq!(
            h.header("content-length"),
            g.body.len().to_string(),
            "{path}"
        );
        assert_eq!(h.header("etag"), g.header("etag"), "{path}");
        assert_eq!(h.header("content-type"), g.header("content-type"), "{path}");
    }
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] {
        for path in ["/", HASHED, "/config.json"] {
            let r = fetch(method, path, &[]).await;
            assert_eq!(r.status, 405, "{method} {path}");
            assert_eq!(r.header("allow"), "GET, HEAD", "{method} {path}");
        }
    }
}

// === /config.json ===

fn forbidden_keys(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let lower = k.to_ascii_lowercase();
                if [
                    "secret", "password", "key", "private", "pkcs", "token", "hash",
                ]
                .iter()
                .any(|w| lower.contains(w))
                {
                    out.push(format!("{path}.{k}"));
                }
                forbidden_keys(v, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                forbidden_keys(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn config_json_holds_no_secret_even_when_the_default_client_has_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut g = Gatehouse::start_in(&dir, &[]);
    let client_id = g.endpoints.client_id.clone();
    g.stop();
    // Give the default client a secret behind gatehouse's back, then start again on the same data.
    let secret = format!("s3cr3t{}", gatehouse::util::random_alnum(24));
    {
        use sqlx::ConnectOptions as _;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.join("gatehouse.db"))
            .connect()
            .await
            .unwrap();
        let n = sqlx::query("UPDATE app_clients SET secret = ?1 WHERE id = ?2")
            .bind(&secret)
            .bind(&client_id)
            .execute(&mut conn)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(n, 1);
    }
    let g = Gatehouse::start_in(&dir, &[]);
    assert_eq!(g.endpoints.client_id, client_id);
    let resp = send("GET", &format!("{}/config.json", g.endpoints.web), &[], "").await;
    assert_eq!(resp.status(), 200);
    let text = crate::common::body_text(resp).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "client_id",
            "gateway_url",
            "idp_url",
            "oauth",
            "region",
            "runtimes",
            "user_pool_id"
        ]
    );
    assert_eq!(v["client_id"], client_id);
    assert_eq!(v["runtimes"][0]["name"], "demo");
    assert!(v["runtimes"][0]["arn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:bedrock-agentcore:"));
    let named: Vec<(&str, &str)> = v["runtimes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["protocol"].as_str().unwrap()))
        .collect();
    assert_eq!(
        named,
        [("demo", "http"), ("demo_mcp", "mcp"), ("demo_a2a", "a2a")]
    );
    let mut bad = Vec::new();
    forbidden_keys(&v, "", &mut bad);
    assert!(bad.is_empty(), "secret-looking fields {bad:?} in {text}");
    assert!(!text.contains(&secret), "the client secret leaked: {text}");
    for material in [
        "BEGIN", "PRIVATE", "\"d\"", "\"p\"", "\"q\"", "argon2", "$2",
    ] {
        assert!(!text.contains(material), "{material} in {text}");
    }
}

// === TLS and the redirect ===

struct Cert {
    cert: PathBuf,
    key: PathBuf,
    der: rustls::pki_types::CertificateDer<'static>,
}

fn self_signed(dir: &Path) -> Cert {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    Cert {
        cert,
        key,
        der: ck.cert.der().clone(),
    }
}

/// One HTTPS request to `addr` trusting only `cert`; returns the answer.
async fn https_get(addr: &str, cert: &Cert, path: &str) -> Got {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .uri(path)
        .header("host", "localhost")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Got {
        status,
        headers,
        body,
    }
}

struct TlsEdge {
    g: Gatehouse,
    cert: Cert,
    _tmp: tempfile::TempDir,
}

/// One gatehouse serving the populated root over TLS.
fn tls_edge() -> &'static TlsEdge {
    static EDGE: OnceLock<TlsEdge> = OnceLock::new();
    EDGE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let root = populate(tmp.path());
        let cert = self_signed(tmp.path());
        let g = Gatehouse::start_in(
            &tmp.path().join("data"),
            &[
                "--web-root",
                root.to_str().unwrap(),
                "--web-tls-cert",
                cert.cert.to_str().unwrap(),
                "--web-tls-key",
                cert.key.to_str().unwrap(),
            ],
        );
        TlsEdge { g, cert, _tmp: tmp }
    })
}

#[tokio::test]
async fn tls_serves_the_app_with_hsts() {
    let e = tls_edge();
    assert!(
        e.g.endpoints.web.starts_with("https://"),
        "{}",
        e.g.endpoints.web
    );
    let addr = authority(&e.g.endpoints.web);
    for (path, status, body) in [
        ("/", 200, Some(INDEX)),
        ("/chat/1", 200, Some(INDEX)),
        ("/.env", 404, None),
        ("/config.json", 200, None),
    ] {
        let r = https_get(&addr, &e.cert, path).await;
        assert_eq!(r.status, status, "{path}");
        if let Some(b) = body {
            assert_eq!(r.text(), b);
        }
        assert_security_headers(path, &r.headers, &e.g.endpoints.gateway, true);
    }
    // Plain HTTP on the TLS port gets no HTTP answer.
    let a = raw(
        &addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    assert!(a.statuses.is_empty(), "{}", a.text);
    assert!(!a.text.contains("gatehouse app"));
}

/// A client that opens a connection and never finishes the TLS handshake is dropped within the header-read
/// timeout, and does not hold up anyone else meanwhile.
#[tokio::test]
async fn a_stalled_tls_handshake_is_dropped() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let e = tls_edge();
    let addr = authority(&e.g.endpoints.web);
    let start = std::time::Instant::now();
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut partial = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // The first bytes of a ClientHello record, then nothing.
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    let r = https_get(&addr, &e.cert, "/").await;
    assert_eq!(r.status, 200, "a stalled handshake blocked the listener");
    for s in [&mut silent, &mut partial] {
        let mut buf = [0u8; 64];
        let closed = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "still open after {:?}", start.elapsed());
    }
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn the_redirect_listener_sends_308_to_the_configured_host_whatever_the_host_header() {
    let tmp = tempfile::tempdir().unwrap();
    let cert = self_signed(tmp.path());
    let cfg = tmp.path().join("gatehouse.toml");
    std::fs::write(
        &cfg,
        format!(
            "version = 1\n[web]\npublic_url = \"https://app.example.com\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n\
             redirect_listen = \"127.0.0.1:0\"\n",
            cert.cert.display(),
            cert.key.display()
        ),
    )
    .unwrap();
    let g = Gatehouse::start_in(
        &tmp.path().join("data"),
        &["--config", cfg.to_str().unwrap()],
    );
    let redirect = g.endpoints.web_redirect.clone().expect("web_redirect");
    let addr = authority(&redirect);
    let cases = [
        (
            "GET /chat/42?x=1&y=2 HTTP/1.1\r\nHost: evil.example\r\n",
            "https://app.example.com/chat/42?x=1&y=2",
        ),
        (
            "GET / HTTP/1.1\r\nHost: evil.example:8080\r\nX-Forwarded-Host: evil.example\r\n",
            "https://app.example.com/",
        ),
        (
            "GET http://evil.example/login HTTP/1.1\r\nHost: evil.example\r\n",
            "https://app.example.com/login",
        ),
        (
            "POST /api HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 0\r\n",
            "https://app.example.com/api",
        ),
        (
            "GET //evil.example/x HTTP/1.1\r\nHost: a\r\n",
            "https://app.example.com//evil.example/x",
        ),
        ("GET /x HTTP/1.1\r\n", "https://app.example.com/x"),
    ];
    for (head, want) in cases {
        let a = raw(
            &addr,
            format!("{head}Connection: close\r\n\r\n").as_bytes(),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(a.statuses, [308], "{head}: {}", a.text);
        let location = a
            .text
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("location")
                    .then(|| v.trim().to_string())
            })
            .unwrap_or_default();
        assert_eq!(location, want, "{head}");
        assert!(!a.text.contains("evil.example/") || want.contains("//evil"));
    }
}

/// Runs `gatehouse <args>` that must fail before anything is served; returns (exit code, stderr).
fn refused(args: &[&str]) -> (i32, String) {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("up")
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .args(&crate::common::LOOPBACK_LISTENERS[2..])
        .arg("--exit-with-parent")
        .args(args)
        .stdin(Stdio::null())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_redirect_listener_without_tls_or_public_url_is_a_config_error() {
    let (code, err) = refused(&[
        "--web-listen",
        "127.0.0.1:0",
        "--web-redirect-listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("web.redirect_listen"), "{err}");
    assert!(
        err.contains("tls_cert") && err.contains("public_url"),
        "{err}"
    );
    // In a file: the key is named by `config validate` too.
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("g.toml");
    std::fs::write(
        &cfg,
        "version = 1\n[web]\nredirect_listen = \"0.0.0.0:80\"\ntls_cert = \"c.pem\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["config", "validate", "-c", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{text}");
    assert!(text.contains("web.redirect_listen"), "{text}");
    assert!(text.contains("web.tls_key"), "{text}");
}

#[test]
fn a_missing_web_root_or_bad_certificate_refuses_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-dir");
    let (code, err) = refused(&[
        "--web-listen",
        "127.0.0.1:0",
        "--web-root",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, 64, "{err}");
    assert!(
        err.contains("web root") && err.contains("no-such-dir"),
        "{err}"
    );
    let junk = tmp.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let (code, err) = refused(&[
        "--web-listen",
        "127.0.0.1:0",
        "--web-tls-cert",
        junk.to_str().unwrap(),
        "--web-tls-key",
        junk.to_str().unwrap(),
    ]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("web.tls_cert"), "{err}");
}

/// `up` with exactly these listener flags, killed when dropped.
struct Up(std::process::Child);

impl Up {
    fn start(dir: &Path, args: &[&str]) -> (Self, gatehouse::server::Endpoints) {
        let child = Command::new(BIN)
            .arg("up")
            .arg("--data-dir")
            .arg(dir)
            .args(&crate::common::LOOPBACK_LISTENERS[2..])
            .arg("--exit-with-parent")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap();
        let mut up = Up(child);
        let path = dir.join("endpoints.json");
        let endpoints = crate::common::poll(Duration::from_secs(60), "endpoints.json", || {
            if let Some(status) = up.0.try_wait().unwrap() {
                panic!("up exited with {status}");
            }
            serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()
        });
        (up, endpoints)
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn plain_http_off_loopback_is_refused_unless_allowed() {
    let (code, err) = refused(&["--web-listen", "0.0.0.0:0"]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("0.0.0.0:0"), "{err}");
    assert!(err.contains("--allow-plaintext-public"), "{err}");
    assert!(err.contains("--web-tls-cert"), "{err}");
    // The flag overrides it, and so does the key in the file.
    let tmp = tempfile::tempdir().unwrap();
    let (_up, e) = Up::start(
        &tmp.path().join("data"),
        &["--web-listen", "0.0.0.0:0", "--allow-plaintext-public"],
    );
    assert!(e.web.starts_with("http://0.0.0.0:"), "{}", e.web);
    let cfg = tmp.path().join("g.toml");
    std::fs::write(&cfg, "version = 1\n[web]\nallow_plaintext_public = true\n").unwrap();
    let (_up2, e) = Up::start(
        &tmp.path().join("data2"),
        &[
            "--web-listen",
            "0.0.0.0:0",
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    assert!(e.web.starts_with("http://0.0.0.0:"), "{}", e.web);
}
