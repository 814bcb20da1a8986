//! The attack suite's listener and file cases: who may name the client's address (trusted proxies,
//! `X-Forwarded-For`, the PROXY protocol) and whether one client can lock out others; TLS on the IdP and
//! gateway listeners (HTTPS, WSS, certificate reload, `doctor`'s `tls` control); the database file's and data
//! directory's modes; the admin listener's session controls; the edge's CSP. Each `attack_*` test is one
//! finding and fails on a build without its fix. Owns no production code.
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt as _;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

use crate::common::attack::{authority, report, Row};
use crate::common::{body_text, password, poll, send, Gatehouse, BIN};

fn write_config(dir: &Path, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("gatehouse.toml");
    std::fs::write(&path, format!("version = 1\n{text}")).unwrap();
    path
}

/// Starts `up` with a configuration file (kept in `tmp`).
fn start_with(tmp: &Path, config: &str, extra: &[&str]) -> Gatehouse {
    let cfg = write_config(&tmp.join("etc"), config);
    let mut args = vec!["--config", cfg.to_str().unwrap()];
    args.extend_from_slice(extra);
    Gatehouse::start_in(&tmp.join("data"), &args)
}

fn password_auth_body(client: &str, user: &str, pw: &str) -> String {
    json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
           "AuthParameters": {"USERNAME": user, "PASSWORD": pw}})
    .to_string()
}

/// USER_PASSWORD_AUTH through the IdP with extra headers; returns (status, `__type` or "tokens").
async fn sign_in_via(g: &Gatehouse, user: &str, pw: &str, extra: &[(&str, &str)]) -> (u16, String) {
    let mut headers = vec![
        (
            "x-amz-target",
            "AWSCognitoIdentityProviderService.InitiateAuth",
        ),
        ("content-type", "application/x-amz-json-1.1"),
    ];
    headers.extend_from_slice(extra);
    let resp = send(
        "POST",
        &format!("{}/", g.endpoints.idp),
        &headers,
        password_auth_body(&g.endpoints.client_id, user, pw),
    )
    .await;
    let status = resp.status().as_u16();
    let v: Value = serde_json::from_str(&body_text(resp).await).unwrap_or(Value::Null);
    let what = if v["AuthenticationResult"]["AccessToken"].is_string() {
        "tokens".to_string()
    } else {
        v["__type"].as_str().unwrap_or("?").to_string()
    };
    (status, what)
}

fn got(a: (u16, String)) -> String {
    format!("{} {}", a.0, a.1)
}

// === finding: the per-address sign-in throttle locks everyone out behind a proxy ===

#[tokio::test]
async fn attack_one_client_behind_a_trusted_proxy_locks_out_every_user() {
    let tmp = tempfile::tempdir().unwrap();
    let g = start_with(
        tmp.path(),
        "[listeners]\ntrusted_proxies = [\"127.0.0.1/32\"]\n",
        &[],
    );
    let victim = g.new_user("victim");
    let attacker = [("x-forwarded-for", "198.51.100.66")];
    for i in 0..100 {
        let user = format!("random-{i}-{}", gatehouse::util::random_lower_alnum(8));
        let (status, _) = sign_in_via(&g, &user, "Wrong-password-1!", &attacker).await;
        assert_eq!(status, 400, "failure {i} is an ordinary refusal");
    }
    let rows = vec![
        Row::new(
            "the attacker's address after 100 failures",
            "400 TooManyRequestsException",
            got(sign_in_via(&g, &victim, password(), &attacker).await),
        ),
        Row::new(
            "another client (its own X-Forwarded-For hop), right password",
            "200 tokens",
            got(sign_in_via(
                &g,
                &victim,
                password(),
                &[("x-forwarded-for", "203.0.113.5")],
            )
            .await),
        ),
        Row::new(
            "a forged first hop does not escape the block (rightmost untrusted hop counts)",
            "400 TooManyRequestsException",
            got(sign_in_via(
                &g,
                &victim,
                password(),
                &[("x-forwarded-for", "203.0.113.77, 198.51.100.66")],
            )
            .await),
        ),
    ];
    report("sign-in throttle behind a trusted proxy", &rows);
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_do_not_pick_the_throttle_key() {
    let tmp = tempfile::tempdir().unwrap();
    let g = start_with(tmp.path(), "[idp]\nmax_failed_signins_per_ip = 3\n", &[]);
    for i in 0..3 {
        let hop = format!("198.51.100.{i}");
        sign_in_via(
            &g,
            &format!("nobody-{i}"),
            "Wrong-1!",
            &[("x-forwarded-for", &hop)],
        )
        .await;
    }
    let rows = vec![Row::new(
        "a fresh X-Forwarded-For from a peer that is not a trusted proxy",
        "400 TooManyRequestsException",
        got(sign_in_via(
            &g,
            "nobody-x",
            "Wrong-1!",
            &[("x-forwarded-for", "203.0.113.9")],
        )
        .await),
    )];
    report("untrusted forwarding headers", &rows);
}

/// One HTTP/1.1 request on a fresh connection that first sends `preamble` (a PROXY header).
async fn with_preamble(
    addr: &str,
    preamble: &[u8],
    path: &str,
    headers: &[(&str, &str)],
    body: String,
) -> Option<(u16, String)> {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(preamble).await.ok()?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .ok()?;
    tokio::spawn(conn);
    let mut req = http::Request::post(path).header("host", addr);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(
            req.body(http_body_util::Full::new(bytes::Bytes::from(body)))
                .unwrap(),
        )
        .await
        .ok()?;
    let status = resp.status().as_u16();
    let text = resp.into_body().collect().await.ok()?.to_bytes();
    let v: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
    let what = if v["AuthenticationResult"]["AccessToken"].is_string() {
        "tokens".to_string()
    } else {
        v["__type"].as_str().unwrap_or("?").to_string()
    };
    Some((status, what))
}

#[tokio::test]
async fn attack_behind_haproxy_send_proxy_v2_one_client_locks_out_others() {
    use gatehouse::net::proxy_protocol::v2_header;
    let tmp = tempfile::tempdir().unwrap();
    let g = start_with(
        tmp.path(),
        "[listeners]\ntrusted_proxies = [\"127.0.0.1\"]\nproxy_protocol = true\n[idp]\nmax_failed_signins_per_ip = 3\n",
        &[],
    );
    let victim = g.new_user("victim");
    let idp = authority(&g.endpoints.idp);
    let dst = idp.parse().unwrap();
    let attacker = v2_header("198.51.100.66:40000".parse().unwrap(), dst);
    let other = v2_header("203.0.113.5:40001".parse().unwrap(), dst);
    let op = [
        (
            "x-amz-target",
            "AWSCognitoIdentityProviderService.InitiateAuth",
        ),
        ("content-type", "application/x-amz-json-1.1"),
    ];
    let client = g.endpoints.client_id.clone();
    for i in 0..3 {
        let body = password_auth_body(&client, &format!("random-{i}"), "Wrong-1!");
        with_preamble(&idp, &attacker, "/", &op, body)
            .await
            .unwrap();
    }
    let show = |a: Option<(u16, String)>| a.map_or("connection closed".to_string(), got);
    let v1 = b"PROXY TCP4 203.0.113.6 127.0.0.1 40002 4001\r\n".to_vec();
    let rows = vec![
        Row::new(
            "PROXY v2 source over its limit",
            "400 TooManyRequestsException",
            show(
                with_preamble(
                    &idp,
                    &attacker,
                    "/",
                    &op,
                    password_auth_body(&client, &victim, password()),
                )
                .await,
            ),
        ),
        Row::new(
            "PROXY v2 naming another client, right password",
            "200 tokens",
            show(
                with_preamble(
                    &idp,
                    &other,
                    "/",
                    &op,
                    password_auth_body(&client, &victim, password()),
                )
                .await,
            ),
        ),
        Row::new(
            "PROXY v1 naming another client, right password",
            "200 tokens",
            show(
                with_preamble(
                    &idp,
                    &v1,
                    "/",
                    &op,
                    password_auth_body(&client, &victim, password()),
                )
                .await,
            ),
        ),
        Row::new(
            "a trusted peer without the PROXY header it must send",
            "connection closed",
            show(
                with_preamble(
                    &idp,
                    b"",
                    "/",
                    &op,
                    password_auth_body(&client, &victim, password()),
                )
                .await,
            ),
        ),
    ];
    report("sign-in throttle behind PROXY protocol", &rows);
}

// === TLS on every listener ===

struct Cert {
    cert_pem: String,
    key_pem: String,
    der: rustls::pki_types::CertificateDer<'static>,
}

fn self_signed() -> Cert {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    Cert {
        cert_pem: ck.cert.pem(),
        key_pem: ck.key_pair.serialize_pem(),
        der: ck.cert.der().clone(),
    }
}

fn install(cert: &Cert, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (c, k) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    // Replaced atomically (rename), as certificate tools do.
    for (path, text) in [(&k, &cert.key_pem), (&c, &cert.cert_pem)] {
        let tmp = path.with_extension("new");
        std::fs::write(&tmp, text).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }
    (c, k)
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn tls_connect(addr: &str, trust: &[&Cert]) -> Tls {
    let mut roots = rustls::RootCertStore::empty();
    for c in trust {
        roots.add(c.der.clone()).unwrap();
    }
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
    connector.connect(name, tcp).await.unwrap()
}

/// One HTTPS request; returns (status, body).
async fn https(
    url: &str,
    trust: &Cert,
    method: &str,
    headers: &[(&str, &str)],
    body: String,
) -> (u16, String) {
    let uri: http::Uri = url.parse().unwrap();
    let addr = uri.authority().unwrap().to_string();
    let tls = tls_connect(&addr, &[trust]).await;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method(method)
        .uri(uri.path_and_query().unwrap().as_str())
        .header("host", addr);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(
            req.body(http_body_util::Full::new(bytes::Bytes::from(body)))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&text).into_owned())
}

struct TlsGatehouse {
    g: Gatehouse,
    idp: Cert,
    gw: Cert,
    etc: PathBuf,
    _tmp: tempfile::TempDir,
}

fn tls_gatehouse() -> TlsGatehouse {
    let tmp = tempfile::tempdir().unwrap();
    let etc = tmp.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let (idp, gw) = (self_signed(), self_signed());
    let (ic, ik) = install(&idp, &etc, "idp");
    let (gc, gk) = install(&gw, &etc, "gateway");
    let g = start_with(
        tmp.path(),
        &format!(
            "[idp]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n[gateway]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            ic.display(),
            ik.display(),
            gc.display(),
            gk.display()
        ),
        &[],
    );
    TlsGatehouse {
        g,
        idp,
        gw,
        etc,
        _tmp: tmp,
    }
}

async fn sign_in_tls(t: &TlsGatehouse, user: &str) -> String {
    let (status, body) = https(
        &format!("{}/", t.g.endpoints.idp),
        &t.idp,
        "POST",
        &[
            (
                "x-amz-target",
                "AWSCognitoIdentityProviderService.InitiateAuth",
            ),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        password_auth_body(&t.g.endpoints.client_id, user, password()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn attack_idp_and_gateway_listeners_speak_plain_http_only() {
    let t = tls_gatehouse();
    let e = &t.g.endpoints;
    let user = t.g.new_user("tls");
    let token = sign_in_tls(&t, &user).await;
    let (disc_status, disc) = https(&e.discovery_url, &t.idp, "GET", &[], String::new()).await;
    let disc: Value = serde_json::from_str(&disc).unwrap_or(Value::Null);
    let auth = format!("Bearer {token}");
    let (inv_status, inv_body) = https(
        &e.runtimes[0].invocations_url,
        &t.gw,
        "POST",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        json!({"prompt": "over tls"}).to_string(),
    )
    .await;
    // Plain HTTP to a TLS listener gets no HTTP answer.
    let plain = crate::common::attack::raw(
        &authority(&e.idp),
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    let rows = vec![
        Row::new(
            "endpoints.json idp",
            "https",
            e.idp.split(':').next().unwrap().to_string(),
        ),
        Row::new(
            "endpoints.json gateway",
            "https",
            e.gateway.split(':').next().unwrap().to_string(),
        ),
        Row::new(
            "issuer",
            "https",
            e.issuer.split(':').next().unwrap().to_string(),
        ),
        Row::new(
            "ws_url",
            "wss",
            e.runtimes[0].ws_url.split(':').next().unwrap().to_string(),
        ),
        Row::new(
            "discovery over HTTPS names the https issuer",
            "200 true",
            format!(
                "{disc_status} {}",
                disc["issuer"].as_str() == Some(e.issuer.as_str())
            ),
        ),
        Row::new(
            "invocation over HTTPS with a token from the HTTPS IdP",
            "200",
            if inv_status == 200 {
                "200".into()
            } else {
                format!("{inv_status} {inv_body}")
            },
        ),
        Row::new(
            "plain HTTP to the IdP listener",
            "no HTTP answer",
            if plain.statuses.is_empty() {
                "no HTTP answer".into()
            } else {
                plain.describe()
            },
        ),
    ];
    report("TLS on the IdP and gateway listeners", &rows);
}

#[tokio::test]
async fn websockets_work_over_tls_on_the_gateway() {
    let t = tls_gatehouse();
    let user = t.g.new_user("wss");
    let token = sign_in_tls(&t, &user).await;
    let url = &t.g.endpoints.runtimes[0].ws_url;
    assert!(url.starts_with("wss://"), "{url}");
    let mut req = url.as_str().into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let tls = tls_connect(&authority(url), &[&t.gw]).await;
    let (mut ws, resp) = tokio_tungstenite::client_async(req, tls).await.unwrap();
    assert_eq!(resp.status().as_u16(), 101);
    ws.send(Message::Text(
        json!({"prompt": "hello over wss"}).to_string().into(),
    ))
    .await
    .unwrap();
    let reply = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("no reply")
        {
            Some(Ok(Message::Text(t))) => break serde_json::from_str::<Value>(t.as_str()).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text reply, got {other:?}"),
        }
    };
    assert!(reply.is_object(), "{reply}");
}

fn served_cert(
    addr: String,
    trust: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> rustls::pki_types::CertificateDer<'static> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let certs: Vec<Cert> = trust
            .into_iter()
            .map(|der| Cert {
                cert_pem: String::new(),
                key_pem: String::new(),
                der,
            })
            .collect();
        let refs: Vec<&Cert> = certs.iter().collect();
        let tls = tls_connect(&addr, &refs).await;
        tls.get_ref().1.peer_certificates().unwrap()[0].clone()
    })
}

#[test]
fn a_swapped_certificate_is_served_without_a_restart() {
    let t = tls_gatehouse();
    let addr = authority(&t.g.endpoints.gateway);
    let trust = vec![t.gw.der.clone()];
    assert_eq!(served_cert(addr.clone(), trust), t.gw.der);
    let next = self_signed();
    install(&next, &t.etc, "gateway");
    let both = vec![t.gw.der.clone(), next.der.clone()];
    poll(
        Duration::from_secs(20),
        "the new certificate to be served",
        || (served_cert(addr.clone(), both.clone()) == next.der).then_some(()),
    );
    // A broken pair (key of another certificate) is refused and the new one stays in service.
    let other = self_signed();
    let key = t.etc.join("gateway.key");
    std::fs::write(&key, &other.key_pem).unwrap();
    std::thread::sleep(gatehouse::edge::tls::RELOAD_POLL * 2);
    assert_eq!(
        served_cert(addr.clone(), both),
        next.der,
        "a mismatched pair never replaces the one in service"
    );
}

#[test]
fn doctor_passes_tls_for_a_deployment_that_terminates_tls_on_every_listener() {
    let tmp = tempfile::tempdir().unwrap();
    let etc = tmp.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let mut toml = String::new();
    for name in ["idp", "gateway", "web"] {
        let (c, k) = install(&self_signed(), &etc, name);
        toml.push_str(&format!(
            "[{name}]\npublic_url = \"https://{name}.example.com\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            c.display(),
            k.display()
        ));
    }
    // The last table is [web]: the HTTP→HTTPS redirect for browsers.
    toml.push_str("redirect_listen = \"0.0.0.0:80\"\n");
    let cfg = write_config(&etc, &toml);
    let out = std::process::Command::new(BIN)
        .args(["doctor", "--json", "--config"])
        .arg(&cfg)
        .args(["--data-dir"])
        .arg(tmp.path().join("data"))
        .args([
            "--web-listen",
            "0.0.0.0:443",
            "--idp-listen",
            "0.0.0.0:8443",
            "--gateway-listen",
            "0.0.0.0:9443",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let checks: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let checks = checks.as_array().cloned().unwrap();
    for subject in ["web", "idp", "gateway"] {
        let c = checks
            .iter()
            .find(|c| c["control"] == "tls" && c["subject"] == subject)
            .unwrap_or_else(|| panic!("no tls check for {subject}: {text}"));
        assert_eq!(c["pass"], true, "{c}");
    }
    let redirect = checks
        .iter()
        .find(|c| c["control"] == "tls-redirect")
        .unwrap();
    assert_eq!(redirect["pass"], true, "{redirect}");
}

// === files and the admin listener ===

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn attack_the_database_file_is_readable_by_every_local_user() {
    let tmp = tempfile::tempdir().unwrap();
    let g = Gatehouse::start_in(&tmp.path().join("data"), &[]);
    let db = g.dir.join("gatehouse.db");
    let mut rows = vec![Row::new("gatehouse.db", "600", format!("{:o}", mode(&db)))];
    for c in ["-wal", "-shm"] {
        let p = g.dir.join(format!("gatehouse.db{c}"));
        if p.exists() {
            rows.push(Row::new(
                format!("gatehouse.db{c}"),
                "600",
                format!("{:o}", mode(&p)),
            ));
        }
    }
    rows.push(Row::new(
        "admin.token",
        "600",
        format!("{:o}", mode(&g.dir.join("admin.token"))),
    ));
    report("database file modes", &rows);
}

#[test]
fn attack_a_loose_data_directory_is_used_as_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    // An existing database made world-readable (an earlier version, a copy): tightened too.
    let db = dir.join("gatehouse.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let g = Gatehouse::start_in(&dir, &[]);
    report(
        "a loose data directory",
        &[
            Row::new(
                "data directory after start",
                "700",
                format!("{:o}", mode(&g.dir)),
            ),
            Row::new(
                "existing gatehouse.db after start",
                "600",
                format!("{:o}", mode(&db)),
            ),
        ],
    );
}

#[test]
fn attack_a_sqlite_database_outside_the_data_directory_is_not_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("shared");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o777)).unwrap();
    let db = elsewhere.join("g.db");
    let url = format!("sqlite:{}", db.display());
    let g = Gatehouse::start_in(&tmp.path().join("data"), &["--database-url", &url]);
    let file_mode = format!("{:o}", mode(&db));
    drop(g);
    let out = std::process::Command::new(BIN)
        .args(["doctor", "--json", "--database-url", &url, "--data-dir"])
        .arg(tmp.path().join("data"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let checks = v.as_array().cloned().unwrap();
    let audit = checks
        .iter()
        .find(|c| c["control"] == "credentials" && c["subject"] == "database")
        .map_or("no audit".to_string(), |c| {
            if c["pass"] == true {
                "pass".into()
            } else {
                "fail".into()
            }
        });
    report(
        "a sqlite: database outside the data directory",
        &[
            Row::new("the file `up` created there", "600", file_mode),
            Row::new(
                "doctor on a world-writable directory holding it",
                "fail",
                audit,
            ),
        ],
    );
}

async fn admin(g: &Gatehouse, method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let r = send(method, &format!("{}{path}", g.endpoints.admin), headers, "").await;
    r.status().as_u16().to_string()
}

#[tokio::test]
async fn attack_a_web_page_stops_sessions_through_the_admin_listener() {
    let tmp = tempfile::tempdir().unwrap();
    let g = Gatehouse::start_in(&tmp.path().join("data"), &[]);
    let token = std::fs::read_to_string(g.dir.join("admin.token")).unwrap();
    let bearer = format!("Bearer {}", token.trim());
    let stop = "/sessions/stop?session=x";
    let rows = vec![
        Row::new(
            "POST /sessions/stop, no token",
            "401",
            admin(&g, "POST", stop, &[]).await,
        ),
        Row::new(
            "POST /sessions/stop, wrong token",
            "401",
            admin(&g, "POST", stop, &[("authorization", "Bearer guess")]).await,
        ),
        Row::new(
            "POST /sessions/stop from a web page (Origin), with the token",
            "403",
            admin(
                &g,
                "POST",
                stop,
                &[
                    ("authorization", &bearer),
                    ("origin", "https://evil.example"),
                ],
            )
            .await,
        ),
        Row::new(
            "POST /sessions/stop, Sec-Fetch-Site: cross-site, with the token",
            "403",
            admin(
                &g,
                "POST",
                stop,
                &[("authorization", &bearer), ("sec-fetch-site", "cross-site")],
            )
            .await,
        ),
        Row::new(
            "GET /sessions, no token",
            "401",
            admin(&g, "GET", "/sessions", &[]).await,
        ),
        Row::new(
            "POST /sessions/stop with the token",
            "200",
            admin(&g, "POST", stop, &[("authorization", &bearer)]).await,
        ),
        Row::new(
            "GET /healthz stays open for probes",
            "200",
            admin(&g, "GET", "/healthz", &[]).await,
        ),
    ];
    report("admin listener session controls", &rows);
}

#[tokio::test]
async fn attack_the_csp_blocks_data_uri_fonts() {
    let g = crate::common::shared();
    let r = send("GET", &format!("{}/", g.endpoints.web), &[], "").await;
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    report(
        "edge CSP",
        &[Row::new(
            "font-src allows the app's own and data: fonts",
            "font-src 'self' data:",
            csp.split(';')
                .map(str::trim)
                .find(|d| d.starts_with("font-src"))
                .unwrap_or("no font-src")
                .to_string(),
        )],
    );
}

#[test]
fn the_haproxy_file_sends_the_proxy_protocol_and_says_how_to_accept_it() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cfg = std::fs::read_to_string(root.join("deploy/haproxy.cfg")).unwrap();
    let servers: Vec<&str> = cfg
        .lines()
        .filter(|l| l.trim_start().starts_with("server "))
        .collect();
    assert_eq!(servers.len(), 6);
    assert!(
        servers.iter().all(|l| l.ends_with(" send-proxy-v2")),
        "{servers:?}"
    );
    // The gatehouse.toml the file's comment prescribes is valid and turns the PROXY protocol on.
    let snippet: String = cfg
        .lines()
        .skip_while(|l| !l.contains("[listeners]"))
        .take(3)
        .map(|l| l.trim_start_matches('#').trim())
        .collect::<Vec<_>>()
        .join("\n");
    let c = gatehouse::config::Config::from_toml(&format!("version = 1\n{snippet}\n"))
        .unwrap_or_else(|e| panic!("{e}: {snippet}"));
    assert!(c.listeners.proxy_protocol && !c.listeners.trusted_proxies.0.is_empty());
}

#[test]
fn listener_settings_are_checked_naming_the_key() {
    let e = gatehouse::config::Config::from_toml(
        "version = 1\n[listeners]\ntrusted_proxies = [\"10.0.0.0/33\"]\nproxy_protocol = true\n[idp]\ntls_cert = \"a.pem\"\n",
    )
    .unwrap_err()
    .to_string();
    for key in [
        "listeners.trusted_proxies[0]",
        "listeners.proxy_protocol",
        "idp.tls_key",
    ] {
        assert!(e.contains(key), "{key}: {e}");
    }
    let e = gatehouse::config::Config::from_toml("version = 1\n[listeners]\ntrusted = []\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("trusted"), "{e}");
}
