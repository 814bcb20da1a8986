//! The attack suite's harness: a table of cases (`case | expected | got`), token forgery helpers (raw JWS with any
//! header, RS256 with any key, HS256 with any secret), raw-socket HTTP for framing attacks, and a recording HTTP
//! server that tells whether gatehouse ever called it. Owns no assertions about gatehouse's behaviour itself:
//! the cases live in `tests/security/attacks/`. Must never use fixed ports or fixed sleeps for readiness.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse::token::jws::encode_segment;
use http_body_util::BodyExt as _;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// One row of an attack table.
#[derive(Debug, Clone)]
pub struct Row {
    pub case: String,
    /// What a secure perimeter answers; alternatives are separated by `" | "`.
    pub expected: String,
    pub got: String,
}

impl Row {
    pub fn new(
        case: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Self {
        Self {
            case: case.into(),
            expected: expected.into(),
            got: got.into(),
        }
    }

    pub fn passed(&self) -> bool {
        self.expected.split(" | ").any(|e| e == self.got)
    }
}

/// Renders the table.
pub fn table(group: &str, rows: &[Row]) -> String {
    let w1 = rows.iter().map(|r| r.case.len()).max().unwrap_or(4).max(4);
    let w2 = rows
        .iter()
        .map(|r| r.expected.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut s = format!("\n== attack suite: {group}\n");
    s.push_str(&format!("   {:<w1$} | {:<w2$} | got\n", "case", "expected"));
    for r in rows {
        let mark = if r.passed() { "ok " } else { "XX " };
        s.push_str(&format!(
            "{mark}{:<w1$} | {:<w2$} | {}\n",
            r.case, r.expected, r.got
        ));
    }
    let failed = rows.iter().filter(|r| !r.passed()).count();
    s.push_str(&format!(
        "{} passed, {failed} failed\n",
        rows.len() - failed
    ));
    s
}

/// Prints the table and fails the test if any row's answer is not one of the expected ones.
pub fn report(group: &str, rows: &[Row]) {
    let t = table(group, rows);
    println!("{t}");
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.passed()).collect();
    assert!(
        failed.is_empty(),
        "{} case(s) answered wrongly:{t}",
        failed.len()
    );
}

// === describing answers ===

/// `"<status>"`, `"401 <error code of the Bearer challenge or 'no-error'>"`, or `"<status> <x-amzn-ErrorType>"`.
pub fn describe(status: u16, headers: &http::HeaderMap) -> String {
    if status == 401 {
        let challenge = headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let code = challenge
            .split("error=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("no-error");
        return format!("401 {code}");
    }
    match headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
    {
        Some(t) if status >= 400 => format!("{status} {t}"),
        _ => status.to_string(),
    }
}

/// A response read whole (bytes, lossily decoded).
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn describe(&self) -> String {
        describe(self.status, &self.headers)
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends one request with arbitrary header bytes (obs-text allowed) and reads the whole answer.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &[u8])],
    body: impl Into<bytes::Bytes>,
) -> Answer {
    let mut b = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, http::HeaderValue::from_bytes(v).unwrap());
    }
    let resp = super::client()
        .request(b.body(http_body_util::Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

// === forging tokens ===

/// A compact JWS from any header and payload (serialized as given) and any signature bytes.
pub fn raw_jws(header: &Value, payload: &Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        encode_segment(header.to_string().as_bytes()),
        encode_segment(payload.to_string().as_bytes()),
        encode_segment(sig)
    )
}

/// Signs `header.payload` (already-encoded segments) with RS256 and the PKCS#8 key `der`.
pub fn rs256_segments(signing_input: &str, der: &[u8]) -> String {
    let kp = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(der).unwrap();
    let mut sig = vec![0; kp.public_modulus_len()];
    kp.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{signing_input}.{}", encode_segment(&sig))
}

/// RS256 over any header and payload with the PKCS#8 key `der`.
pub fn rs256(header: &Value, payload: &Value, der: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        encode_segment(header.to_string().as_bytes()),
        encode_segment(payload.to_string().as_bytes())
    );
    rs256_segments(&input, der)
}

/// HS256 over any header and payload with `key` as the HMAC secret.
pub fn hs256(header: &Value, payload: &Value, key: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        encode_segment(header.to_string().as_bytes()),
        encode_segment(payload.to_string().as_bytes())
    );
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let sig = aws_lc_rs::hmac::sign(&k, input.as_bytes());
    format!("{input}.{}", encode_segment(sig.as_ref()))
}

// === raw sockets ===

/// What a listener did with raw bytes: the status of every response it wrote and whether it closed.
#[derive(Debug)]
pub struct RawAnswer {
    pub statuses: Vec<u16>,
    pub closed: bool,
    pub text: String,
}

impl RawAnswer {
    /// `"<first status> x<number of responses> <closed|open>"`, e.g. `"400 x1 closed"`.
    pub fn describe(&self) -> String {
        let first = self
            .statuses
            .first()
            .map_or("none".to_string(), u16::to_string);
        format!(
            "{first} x{} {}",
            self.statuses.len(),
            if self.closed { "closed" } else { "open" }
        )
    }
}

/// `http://host:port` → `host:port`.
pub fn authority(url: &str) -> String {
    url.split("://")
        .nth(1)
        .unwrap_or(url)
        .split('/')
        .next()
        .unwrap_or("")
        .to_string()
}

/// Writes `bytes` to `addr` and reads until the peer closes or stays silent for `quiet`.
pub async fn raw(addr: &str, bytes: &[u8], quiet: Duration) -> RawAnswer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(bytes).await;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let closed = loop {
        match tokio::time::timeout(quiet, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => break false,
        }
    };
    let text = String::from_utf8_lossy(&buf).into_owned();
    let statuses = text
        .match_indices("HTTP/1.1 ")
        .filter(|(i, _)| *i == 0 || text[..*i].ends_with('\n'))
        .filter_map(|(i, _)| text.get(i + 9..i + 12)?.parse().ok())
        .collect();
    RawAnswer {
        statuses,
        closed,
        text,
    }
}

/// Slowloris: opens a request and trickles one header line every `every`; returns how long the listener kept
/// the connection open (or `None` if it was still open after `limit`).
pub async fn slowloris(addr: &str, every: Duration, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    if s.write_all(b"GET / HTTP/1.1\r\nHost: slow\r\n")
        .await
        .is_err()
    {
        return Some(start.elapsed());
    }
    let mut n = 0u32;
    let mut chunk = [0u8; 1024];
    while start.elapsed() < limit {
        match tokio::time::timeout(every, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            // The listener answered (e.g. 408 or 431): it gave up on the request; wait for the close.
            Ok(Ok(_)) => continue,
            Err(_) => {
                n += 1;
                if s.write_all(format!("X-Slow-{n}: a\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    return Some(start.elapsed());
                }
            }
        }
    }
    None
}

// === a server that records whether it was called ===

/// An HTTP server on 127.0.0.1:0 that answers every request with `body` and counts connections.
pub struct Recorder {
    pub url: String,
    hits: Arc<AtomicUsize>,
}

impl Recorder {
    pub async fn start(body: String) -> Self {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                h.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                });
            }
        });
        Self { url, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

// === a controllable OIDC provider for JWKS attacks ===

/// An OIDC provider on 127.0.0.1:0 whose behaviour is chosen by the first path segment (`/{mode}/…`):
/// `ok` serves `jwk`; `big` a JWKS over 64 KiB; `bomb` 50 000 nested arrays; `enc` the key marked `use: enc`;
/// `slow` never answers the JWKS; `rot` serves the key last given to [`FakeIdp::rotate`] (initially `jwk`).
/// Counts JWKS fetches per mode.
pub struct FakeIdp {
    pub base: String,
    fetches: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    rotating: Arc<std::sync::Mutex<Value>>,
}

impl FakeIdp {
    pub async fn start(jwk: Value) -> Self {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let fetches: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>> =
            Arc::default();
        let rotating = Arc::new(std::sync::Mutex::new(jwk.clone()));
        let (b, f, r) = (base.clone(), fetches.clone(), rotating.clone());
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let (base, fetches, jwk, rot) = (b.clone(), f.clone(), jwk.clone(), r.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                    let mode = path.split('/').nth(1).unwrap_or("").to_string();
                    let body = if path.ends_with("/.well-known/openid-configuration") {
                        serde_json::json!({
                            "issuer": format!("{base}/{mode}"),
                            "jwks_uri": format!("{base}/{mode}/jwks.json"),
                        })
                        .to_string()
                    } else {
                        *fetches.lock().unwrap().entry(mode.clone()).or_default() += 1;
                        match mode.as_str() {
                            "big" => serde_json::json!({"keys": [jwk], "pad": "x".repeat(100_000)})
                                .to_string(),
                            "bomb" => "[".repeat(50_000),
                            "enc" => {
                                let mut k = jwk.clone();
                                k["use"] = serde_json::json!("enc");
                                serde_json::json!({"keys": [k]}).to_string()
                            }
                            "slow" => {
                                tokio::time::sleep(Duration::from_secs(120)).await;
                                return;
                            }
                            "rot" => {
                                let k = rot.lock().unwrap().clone();
                                serde_json::json!({ "keys": [k] }).to_string()
                            }
                            _ => serde_json::json!({"keys": [jwk]}).to_string(),
                        }
                    };
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                });
            }
        });
        Self {
            base,
            fetches,
            rotating,
        }
    }

    /// From now on mode `rot` publishes `jwk` (and only it).
    pub fn rotate(&self, jwk: Value) {
        *self.rotating.lock().unwrap() = jwk;
    }

    pub fn discovery(&self, mode: &str) -> String {
        format!("{}/{mode}/.well-known/openid-configuration", self.base)
    }

    pub fn fetches(&self, mode: &str) -> usize {
        self.fetches.lock().unwrap().get(mode).copied().unwrap_or(0)
    }
}

/// Starts `up` like [`super::Gatehouse::start_in`] but with every log level on and stdout + stderr written to
/// `log`, so a test can read what gatehouse logged.
pub fn start_logged(dir: &std::path::Path, log: &std::path::Path) -> super::Gatehouse {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    let child = std::process::Command::new(super::BIN)
        .args(["up", "--data-dir"])
        .arg(dir)
        .args(super::LOOPBACK_LISTENERS)
        .arg("--exit-with-parent")
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .env("RUST_LOG", "trace")
        .spawn()
        .unwrap();
    let path = dir.join("endpoints.json");
    let endpoints = super::poll(Duration::from_secs(60), "endpoints.json", || {
        let text = std::fs::read_to_string(&path).ok()?;
        serde_json::from_str(&text).ok()
    });
    super::Gatehouse {
        child,
        dir: dir.to_path_buf(),
        _tmp: None,
        endpoints,
        database_url: None,
        uid: None,
    }
}
