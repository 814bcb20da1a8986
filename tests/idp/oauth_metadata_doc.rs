//! Client ID Metadata Documents over real sockets: a local https server (a self-signed certificate that `up`
//! trusts through `SSL_CERT_FILE`, `allow_private_metadata_hosts = true` since it is on loopback) serves the
//! documents, and the token endpoint resolves an `https://` client_id through them — resolved (the grant then
//! judges the code: `invalid_grant`, not `invalid_client`) and cached; refused (401 `invalid_client`, saying
//! why) for a loopback address with the switch off, a `client_id` that differs, an oversized or slow document,
//! a host off the allow-list, a redirect (never followed) and a `private_key_jwt` client.
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::{body_text, send, Gatehouse};

/// What the document server answers on a path.
#[derive(Clone)]
enum Answer {
    /// 200 with this JSON body and `Cache-Control: max-age=600`.
    Json(String),
    /// 302 to this location.
    Redirect(String),
    /// 200 after this long.
    Slow(Duration, String),
}

/// A local https server of metadata documents, on its own thread and runtime (shared by tests that each run on
/// their own runtime).
struct DocServer {
    base: String,
    cert_file: PathBuf,
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    _dir: tempfile::TempDir,
}

impl DocServer {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let cert_file = dir.path().join("docs-ca.pem");
        std::fs::write(&cert_file, ck.cert.pem()).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("https://{}", listener.local_addr().unwrap());
        let answers: Arc<Mutex<HashMap<String, Answer>>> = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (a, h) = (answers.clone(), hits.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let (acceptor, a, h) = (acceptor.clone(), a.clone(), h.clone());
                    tokio::spawn(async move {
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 1024];
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match tls.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let head = String::from_utf8_lossy(&buf).to_string();
                        let path = head.split(' ').nth(1).unwrap_or("").to_string();
                        *h.lock().unwrap().entry(path.clone()).or_default() += 1;
                        let answer = a.lock().unwrap().get(&path).cloned();
                        let reply = match answer {
                            Some(Answer::Json(body)) => ok(&body),
                            Some(Answer::Slow(d, body)) => {
                                tokio::time::sleep(d).await;
                                ok(&body)
                            }
                            Some(Answer::Redirect(to)) => format!(
                                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\
                                 Connection: close\r\n\r\n"
                            ),
                            None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                .to_string(),
                        };
                        let _ = tls.write_all(reply.as_bytes()).await;
                        let _ = tls.shutdown().await;
                    });
                }
            });
        });
        Self {
            base,
            cert_file,
            answers,
            hits,
            _dir: dir,
        }
    }

    /// Serves `answer` on a fresh path; the document's URL.
    fn serve(&self, answer: impl FnOnce(&str) -> Answer) -> String {
        let path = format!("/clients/{}.json", gatehouse::util::random_lower_alnum(8));
        let url = format!("{}{path}", self.base);
        self.answers.lock().unwrap().insert(path, answer(&url));
        url
    }

    fn hits(&self, url: &str) -> usize {
        let path = url.strip_prefix(&self.base).unwrap();
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn ok(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: max-age=600\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A valid document for `url`.
fn document(url: &str) -> String {
    json!({
        "client_id": url,
        "client_name": "An MCP client",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
    })
    .to_string()
}

static DOCS: LazyLock<DocServer> = LazyLock::new(DocServer::start);

/// `up` with metadata documents on and `extra` lines of `[idp.oauth]`, trusting the document server.
fn gatehouse(extra: &str) -> (tempfile::TempDir, Gatehouse) {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("gatehouse.toml");
    std::fs::write(
        &cfg,
        format!("version = 1\n[idp.oauth]\nclient_id_metadata_documents = \"on\"\n{extra}"),
    )
    .unwrap();
    let g = Gatehouse::start_in_with_env(
        &tmp.path().join("data"),
        &["--config", cfg.to_str().unwrap()],
        &[("SSL_CERT_FILE", DOCS.cert_file.to_str().unwrap())],
    );
    (tmp, g)
}

/// Metadata documents on, loopback allowed (the document server is on 127.0.0.1).
static LAB: LazyLock<(tempfile::TempDir, Gatehouse)> =
    LazyLock::new(|| gatehouse("allow_private_metadata_hosts = true\n"));

/// An authorization-code exchange by `client_id` (with a code nobody issued); (status, JSON body).
async fn exchange(g: &Gatehouse, client_id: &str) -> (u16, Value) {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let resp = send(
        "POST",
        &format!("{}/oauth2/token", g.endpoints.idp),
        &[("content-type", "application/x-www-form-urlencoded")],
        format!(
            "grant_type=authorization_code&client_id={}&code=nobody-issued-this&redirect_uri={}\
             &code_verifier={}",
            enc(client_id),
            enc("http://127.0.0.1/callback"),
            "v".repeat(43)
        ),
    )
    .await;
    let status = resp.status().as_u16();
    let text = body_text(resp).await;
    (status, serde_json::from_str(&text).unwrap())
}

/// Asserts a refusal of the client whose description contains `why`.
fn assert_client_refused(r: &(u16, Value), why: &str) {
    assert_eq!(r.0, 401, "{}", r.1);
    assert_eq!(r.1["error"], "invalid_client", "{}", r.1);
    let d = r.1["error_description"].as_str().unwrap();
    assert!(d.contains(why), "{d:?} should say {why:?}");
}

#[tokio::test]
async fn a_metadata_document_client_id_is_resolved_and_cached() {
    let g = &LAB.1;
    let url = DOCS.serve(|u| Answer::Json(document(u)));
    let (status, body) = exchange(g, &url).await;
    assert_eq!(
        status, 400,
        "the client is resolved, the code is judged: {body}"
    );
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert_eq!(exchange(g, &url).await.1["error"], "invalid_grant");
    assert_eq!(DOCS.hits(&url), 1, "the document is cached for its max-age");
    let md = send(
        "GET",
        &format!(
            "{}/.well-known/oauth-authorization-server/{}",
            g.endpoints.idp, g.endpoints.user_pool_id
        ),
        &[],
        "",
    )
    .await;
    let md: Value = serde_json::from_str(&body_text(md).await).unwrap();
    assert_eq!(md["client_id_metadata_document_supported"], true);
}

#[tokio::test]
async fn a_metadata_document_on_a_loopback_address_is_refused_with_the_switch_off() {
    let (_tmp, g) = gatehouse("");
    let url = DOCS.serve(|u| Answer::Json(document(u)));
    assert_client_refused(&exchange(&g, &url).await, "non-public address");
    assert_eq!(DOCS.hits(&url), 0, "nothing was fetched");
}

#[tokio::test]
async fn a_document_whose_client_id_differs_is_refused() {
    let url = DOCS.serve(|_| Answer::Json(document("https://other.example.com/client.json")));
    assert_client_refused(&exchange(&LAB.1, &url).await, "differs");
}

#[tokio::test]
async fn an_oversized_document_is_refused() {
    let url = DOCS.serve(|u| {
        let mut doc: Value = serde_json::from_str(&document(u)).unwrap();
        doc["padding"] = json!("p".repeat(6 * 1024));
        Answer::Json(doc.to_string())
    });
    assert_client_refused(&exchange(&LAB.1, &url).await, "larger than");
}

#[tokio::test]
async fn a_slow_document_is_refused() {
    let url = DOCS.serve(|u| Answer::Slow(Duration::from_secs(8), document(u)));
    let started = std::time::Instant::now();
    assert_client_refused(&exchange(&LAB.1, &url).await, "did not arrive within");
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn a_host_not_on_the_allow_list_is_refused() {
    let (_tmp, g) = gatehouse(
        "allow_private_metadata_hosts = true\nmetadata_document_hosts = [\"*.example.com\"]\n",
    );
    let url = DOCS.serve(|u| Answer::Json(document(u)));
    assert_client_refused(&exchange(&g, &url).await, "allow-list");
    assert_eq!(DOCS.hits(&url), 0, "nothing was fetched");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let target = DOCS.serve(|u| Answer::Json(document(u)));
    let t = target.clone();
    let url = DOCS.serve(move |_| Answer::Redirect(t));
    assert_client_refused(&exchange(&LAB.1, &url).await, "redirects are not followed");
    assert_eq!(DOCS.hits(&url), 1);
    assert_eq!(
        DOCS.hits(&target),
        0,
        "the redirect's target was never fetched"
    );
}

#[tokio::test]
async fn a_private_key_jwt_document_is_refused() {
    let url = DOCS.serve(|u| {
        let mut doc: Value = serde_json::from_str(&document(u)).unwrap();
        doc["token_endpoint_auth_method"] = json!("private_key_jwt");
        Answer::Json(doc.to_string())
    });
    assert_client_refused(
        &exchange(&LAB.1, &url).await,
        "private_key_jwt is not supported",
    );
}
