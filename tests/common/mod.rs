//! Test harness: runs the real `gatehouse` binary (`up` on port 0 in a temp data dir), waits for
//! endpoints.json by polling, and talks to it over real sockets with a hyper client.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatehouse::server::Endpoints;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

pub mod attack;
pub mod fake_agent;
pub mod fake_mcp;
pub mod node_driver;
pub mod pg;
pub mod sdk;
pub mod tcp_proxy;
pub mod unprivileged;

pub const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

/// Every listener of `up` on 127.0.0.1, port 0.
pub const LOOPBACK_LISTENERS: [&str; 8] = [
    "--web-listen",
    "127.0.0.1:0",
    "--idp-listen",
    "127.0.0.1:0",
    "--gateway-listen",
    "127.0.0.1:0",
    "--admin-listen",
    "127.0.0.1:0",
];

/// Runs `gatehouse up --data-dir data <loopback listeners> extra…` to its end (for configurations it must refuse).
pub fn up_output(data: &Path, extra: &[&str]) -> std::process::Output {
    up_output_as(data, extra, None)
}

/// [`up_output`] as `uid` (and the gid of the same number) when given.
pub fn up_output_as(data: &Path, extra: &[&str], uid: Option<u32>) -> std::process::Output {
    as_uid(&mut Command::new(BIN), uid)
        .args(["up", "--data-dir"])
        .arg(data)
        .args(LOOPBACK_LISTENERS)
        .args(extra)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}
/// A password generated per test run (no credential lives in the repository), meeting Cognito's default policy.
pub fn password() -> &'static str {
    static PW: OnceLock<String> = OnceLock::new();
    PW.get_or_init(|| format!("Aa1!{}", gatehouse::util::random_alnum(20)))
}

/// A running `gatehouse up`.
pub struct Gatehouse {
    pub child: Child,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub endpoints: Endpoints,
    /// `--database-url` when `up` was started with one (the CLI helpers then pass it too).
    pub database_url: Option<String>,
    /// The uid `up` (and the CLI helpers) run as when not the test's own (root): see [`Gatehouse::start_as`].
    pub uid: Option<u32>,
}

/// Runs `cmd` as `uid` (and the gid of the same number) when given.
fn as_uid(cmd: &mut Command, uid: Option<u32>) -> &mut Command {
    use std::os::unix::process::CommandExt as _;
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    cmd
}

/// Polls `f` every 20 ms until it returns `Some`, or panics after `timeout`.
pub fn poll<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Gatehouse {
    /// Starts `up` in a fresh temp dir.
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let mut g = Self::start_in(&dir, &[]);
        g._tmp = Some(tmp);
        g
    }

    /// Starts `up` on `dir` (kept by the caller), with extra arguments.
    pub fn start_in(dir: &Path, extra: &[&str]) -> Self {
        Self::start_in_at(dir, "127.0.0.1:0", extra)
    }

    /// Starts `up` on `dir` with the IdP on `idp_listen` (a fixed port keeps the issuer across restarts).
    pub fn start_in_at(dir: &Path, idp_listen: &str, extra: &[&str]) -> Self {
        Self::start_in_with(dir, idp_listen, extra, "warn", Stdio::inherit())
    }

    /// Starts `up` on `dir` as the unprivileged `uid` (gid the same number): `dir`'s parent and every path the
    /// configuration names must be usable by it.
    pub fn start_as(dir: &Path, extra: &[&str], uid: u32) -> Self {
        Self::spawn_up(
            dir,
            "127.0.0.1:0",
            extra,
            "warn",
            Stdio::inherit(),
            Some(uid),
            &[],
        )
    }

    /// Starts `up` on `dir` with extra arguments and extra environment variables.
    pub fn start_in_with_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn_up(
            dir,
            "127.0.0.1:0",
            extra,
            "warn",
            Stdio::inherit(),
            None,
            env,
        )
    }

    /// Starts `up` with a log filter and where its log (stderr) goes.
    pub fn start_in_with(
        dir: &Path,
        idp_listen: &str,
        extra: &[&str],
        rust_log: &str,
        stderr: Stdio,
    ) -> Self {
        Self::spawn_up(dir, idp_listen, extra, rust_log, stderr, None, &[])
    }

    fn spawn_up(
        dir: &Path,
        idp_listen: &str,
        extra: &[&str],
        rust_log: &str,
        stderr: Stdio,
        uid: Option<u32>,
        env: &[(&str, &str)],
    ) -> Self {
        let mut child = as_uid(&mut Command::new(BIN), uid)
            .envs(env.iter().copied())
            .args(["up", "--data-dir"])
            .arg(dir)
            .args([
                "--web-listen",
                "127.0.0.1:0",
                "--idp-listen",
                idp_listen,
                "--gateway-listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--exit-with-parent",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .env("RUST_LOG", rust_log)
            .spawn()
            .unwrap();
        let path = dir.join("endpoints.json");
        let endpoints: Endpoints = poll(Duration::from_secs(60), "endpoints.json", || {
            // Fail at once (its stderr says why) rather than at the timeout.
            if let Ok(Some(status)) = child.try_wait() {
                panic!("gatehouse up exited ({status}) before writing endpoints.json");
            }
            let text = std::fs::read_to_string(&path).ok()?;
            serde_json::from_str(&text).ok()
        });
        let database_url = extra
            .iter()
            .position(|a| *a == "--database-url")
            .and_then(|i| extra.get(i + 1))
            .map(|u| u.to_string());
        Self {
            child,
            dir: dir.to_path_buf(),
            _tmp: None,
            endpoints,
            database_url,
            uid,
        }
    }

    /// SIGTERM, then waits for the process to exit; returns its exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        poll(Duration::from_secs(30), "gatehouse to exit", || {
            self.child.try_wait().unwrap()
        })
    }

    /// `gatehouse user create` with the password on stdin; returns (success, stdout+stderr).
    pub fn create_user_with(
        &self,
        username: &str,
        password: &str,
        email: Option<&str>,
    ) -> (bool, String) {
        use std::io::Write as _;
        let mut cmd = Command::new(BIN);
        as_uid(&mut cmd, self.uid);
        cmd.args([
            "user",
            "create",
            "--username",
            username,
            "--password-stdin",
            "--data-dir",
        ])
        .arg(&self.dir)
        .args(
            self.database_url
                .iter()
                .flat_map(|u| ["--database-url", u.as_str()]),
        )
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        if let Some(e) = email {
            cmd.args(["--email", e]);
        }
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// Creates a user with a unique name and returns the name.
    pub fn new_user(&self, prefix: &str) -> String {
        let name = format!("{prefix}-{}", gatehouse::util::random_lower_alnum(8));
        let (ok, out) =
            self.create_user_with(&name, password(), Some(&format!("{name}@example.com")));
        assert!(ok, "user create failed: {out}");
        name
    }

    pub fn invocations_url(&self) -> String {
        self.endpoints.runtimes[0].invocations_url.clone()
    }

    /// Signs in with USER_PASSWORD_AUTH; returns the AuthenticationResult.
    pub async fn login(&self, username: &str) -> Value {
        let (status, body) = cognito(
            &self.endpoints.idp,
            "InitiateAuth",
            &json!({
                "AuthFlow": "USER_PASSWORD_AUTH",
                "ClientId": self.endpoints.client_id,
                "AuthParameters": { "USERNAME": username, "PASSWORD": password() },
            }),
        )
        .await;
        assert_eq!(status, 200, "login failed: {body}");
        body["AuthenticationResult"].clone()
    }

    pub async fn access_token(&self, username: &str) -> String {
        self.login(username).await["AccessToken"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The pool's signer, read from the data dir's database, to forge tokens signed with the real key.
    pub async fn signer(&self) -> gatehouse::token::RsaSigner {
        use gatehouse::store::Store as _;
        let store = gatehouse::store::SqliteStore::open_in(&self.dir)
            .await
            .unwrap();
        let mut keys = store
            .signing_keys(&self.endpoints.user_pool_id.as_str().into())
            .await
            .unwrap();
        let k = keys.pop().unwrap();
        gatehouse::token::RsaSigner::from_pkcs8(k.kid, &k.pkcs8).unwrap()
    }

    pub async fn signing_key_pkcs8(&self) -> Vec<u8> {
        use gatehouse::store::Store as _;
        let store = gatehouse::store::SqliteStore::open_in(&self.dir)
            .await
            .unwrap();
        store
            .signing_keys(&self.endpoints.user_pool_id.as_str().into())
            .await
            .unwrap()
            .pop()
            .unwrap()
            .pkcs8
    }
}

impl Drop for Gatehouse {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

static SHARED: OnceLock<Gatehouse> = OnceLock::new();

/// One gatehouse shared by the tests that only read (each creates its own users and sessions).
pub fn shared() -> &'static Gatehouse {
    SHARED.get_or_init(Gatehouse::start)
}

// === HTTP ===

pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends a request and returns the response with its body unread.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> http::Response<Incoming> {
    let mut b = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    client()
        .request(b.body(Full::new(body.into())).unwrap())
        .await
        .unwrap()
}

pub async fn body_text(resp: http::Response<Incoming>) -> String {
    String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap()
}

/// Calls a Cognito operation; returns (status, JSON body).
pub async fn cognito(idp: &str, op: &str, body: &Value) -> (u16, Value) {
    let target = format!("AWSCognitoIdentityProviderService.{op}");
    let resp = send(
        "POST",
        &format!("{idp}/"),
        &[
            ("x-amz-target", &target),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        body.to_string(),
    )
    .await;
    let status = resp.status().as_u16();
    let text = body_text(resp).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The result of an invocation, body fully read.
pub struct Invocation {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Invocation {
    /// The `data:` events of an SSE body, as JSON.
    pub fn events(&self) -> Vec<Value> {
        sse_events(&self.body)
    }
    pub fn session_id(&self) -> String {
        self.headers["x-amzn-bedrock-agentcore-runtime-session-id"]
            .to_str()
            .unwrap()
            .to_string()
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

pub fn sse_events(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// POSTs to an invocations URL with `token` (if any), extra headers and a JSON body.
pub async fn invoke(
    url: &str,
    token: Option<&str>,
    extra: &[(&str, &str)],
    body: &Value,
) -> Invocation {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = extra.to_vec();
    if let Some(a) = &auth {
        headers.push(("authorization", a));
    }
    headers.push(("content-type", "application/json"));
    let resp = send("POST", url, &headers, body.to_string()).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    Invocation {
        status,
        headers,
        body: body_text(resp).await,
    }
}

// === IdP helpers ===

impl Gatehouse {
    /// The invocations URL of the runtime named `runtime` (panics if there is none).
    pub fn runtime_url(&self, runtime: &str) -> String {
        self.endpoints
            .runtimes
            .iter()
            .find(|r| r.name == runtime)
            .unwrap_or_else(|| panic!("no runtime {runtime} in endpoints.json"))
            .invocations_url
            .clone()
    }
}

impl Gatehouse {
    /// Runs `gatehouse <args> --data-dir <dir>` with `stdin`; returns (success, stdout+stderr).
    /// Creates a resource server `https://{prefix}-{random}.example.com` with `scopes` (`name:description`)
    /// through the CLI; its identifier.
    pub fn resource_server(&self, prefix: &str, scopes: &[&str]) -> String {
        let api = format!(
            "https://{prefix}-{}.example.com",
            gatehouse::util::random_lower_alnum(6)
        );
        let mut args = vec!["resource-server", "create", "--identifier", &api];
        for s in scopes {
            args.extend_from_slice(&["--scope", s]);
        }
        let (ok, out) = self.cli(&args, "");
        assert!(ok, "{out}");
        api
    }

    pub fn cli(&self, args: &[&str], stdin: &str) -> (bool, String) {
        use std::io::Write as _;
        let mut child = as_uid(&mut Command::new(BIN), self.uid)
            .args(args)
            .arg("--data-dir")
            .arg(&self.dir)
            .args(
                self.database_url
                    .iter()
                    .flat_map(|u| ["--database-url", u.as_str()]),
            )
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// `gatehouse client create --name … <extra>`; returns (client id, secret if any).
    pub fn create_client(&self, extra: &[&str]) -> (String, Option<String>) {
        let name = format!("c-{}", gatehouse::util::random_lower_alnum(6));
        let mut args = vec!["client", "create", "--name", &name];
        args.extend_from_slice(extra);
        let (ok, out) = self.cli(&args, "");
        assert!(ok, "client create failed: {out}");
        let field = |k: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
        };
        (field("client_id ").unwrap(), field("client_secret "))
    }

    /// The newest code in `<data-dir>/outbox/` sent to `email` after `after` messages had been seen for it, by
    /// polling. Returns the six digits.
    pub fn code_for(&self, email: &str, nth: usize) -> String {
        let dir = self.dir.join("outbox");
        poll(Duration::from_secs(10), "a code in the outbox", || {
            let mut msgs: Vec<(String, String)> = std::fs::read_dir(&dir)
                .ok()?
                .filter_map(|e| {
                    let p = e.ok()?.path();
                    if p.extension()? != "eml" {
                        return None;
                    }
                    let text = std::fs::read_to_string(&p).ok()?;
                    let name = p.file_name()?.to_string_lossy().to_string();
                    text.contains(&format!("To: {email}\r\n"))
                        .then_some((name, text))
                })
                .collect();
            msgs.sort();
            let (_, text) = msgs.get(nth)?;
            extract_code(text)
        })
    }

    /// Signs in with USER_PASSWORD_AUTH as `username`/`pw` via `client`; returns (status, body).
    pub async fn password_auth(&self, client: &str, username: &str, pw: &str) -> (u16, Value) {
        cognito(
            &self.endpoints.idp,
            "InitiateAuth",
            &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                    "AuthParameters": {"USERNAME": username, "PASSWORD": pw}}),
        )
        .await
    }

    /// Calls an IdP operation; returns (status, body).
    pub async fn idp(&self, op: &str, body: &Value) -> (u16, Value) {
        cognito(&self.endpoints.idp, op, body).await
    }

    /// `idp` with an owned body (for futures that outlive the caller's temporaries).
    pub async fn idp_owned(&self, op: &str, body: Value) -> (u16, Value) {
        cognito(&self.endpoints.idp, op, &body).await
    }
}

/// The six digits after "code is " in a message.
pub fn extract_code(text: &str) -> Option<String> {
    let i = text.find("code is ")? + "code is ".len();
    let code: String = text[i..].chars().take(6).collect();
    (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// `SECRET_HASH` as the AWS SDKs compute it: base64(HMAC-SHA256(secret, username + client_id)).
pub fn secret_hash(secret: &str, username: &str, client_id: &str) -> String {
    use base64::Engine as _;
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, format!("{username}{client_id}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}

/// Asserts a Cognito error: status 400 and `__type`.
pub fn assert_refused(r: &(u16, Value), type_name: &str) {
    assert_eq!(r.0, 400, "expected {type_name}, got {} {}", r.0, r.1);
    assert_eq!(r.1["__type"], type_name, "{}", r.1);
}

/// A second password meeting the policy, different from `password()`.
pub fn password2() -> &'static str {
    static PW: OnceLock<String> = OnceLock::new();
    PW.get_or_init(|| format!("Bb2@{}", gatehouse::util::random_alnum(20)))
}

/// Starts `up` in a fresh temp dir with a configuration file of `toml` (`version = 1` is prepended).
pub fn start_with_config(toml: &str) -> (tempfile::TempDir, Gatehouse) {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("gatehouse.toml");
    std::fs::write(&cfg, format!("version = 1\n{toml}")).unwrap();
    let dir = tmp.path().join("data");
    let g = Gatehouse::start_in(&dir, &["--config", cfg.to_str().unwrap()]);
    (tmp, g)
}

/// Like `poll`, for async checks: retries `f` every 50 ms until it returns `Some`, or panics after `timeout`.
pub async fn poll_async<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A reference agent (`gatehouse agent`) on 127.0.0.1:0, killed when dropped.
pub struct RefAgent {
    pub child: Child,
    pub url: String,
}

impl RefAgent {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// `gatehouse agent` with `args` added (e.g. `["--protocol", "all"]`).
    pub fn start_with(args: &[&str]) -> Self {
        use std::io::BufRead as _;
        let mut child = Command::new(BIN)
            .args(["agent", "--listen", "127.0.0.1:0", "--exit-with-parent"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("gatehouse agent listening on ")
            .unwrap()
            .to_string();
        Self { child, url }
    }
}

impl Drop for RefAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
