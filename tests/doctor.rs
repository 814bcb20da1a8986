//! `gatehouse doctor` as a user runs it: passes on the embedded defaults (with and without a running deployment),
//! fails with exit 1 on a deliberately bad configuration, naming each control, and `--json` is machine-readable.
//! Controls that no configuration can trip in this build (token lifetimes, refresh rotation, argon2 parameters,
//! key size and age) or that the configuration itself refuses (an authorizer open to every client, a `*` origin)
//! are tripped in `src/doctor/doctor_tests.rs`.
use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use serde_json::Value;

use crate::common::{shared, BIN};

fn doctor(args: &[&str]) -> (i32, String) {
    doctor_as(args, None)
}

/// `doctor` run as `uid` (and the gid of the same number) when given.
fn doctor_as(args: &[&str], uid: Option<u32>) -> (i32, String) {
    use std::os::unix::process::CommandExt as _;
    let mut cmd = Command::new(BIN);
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    let out = cmd
        .arg("doctor")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn failed_controls(json: &str) -> Vec<(String, String)> {
    let v: Value = serde_json::from_str(json).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["pass"] == false)
        .map(|c| {
            (
                c["control"].as_str().unwrap().to_string(),
                c["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn doctor_passes_on_the_defaults_before_first_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (code, out) = doctor(&["--data-dir", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("FAIL"), "{out}");
    for control in [
        "tls",
        "cors",
        "identity",
        "argon2",
        "rate-limits",
        "upstream",
        "signing-keys",
    ] {
        assert!(out.contains(control), "no line for {control}: {out}");
    }
}

#[test]
fn doctor_passes_on_a_running_default_deployment() {
    let g = shared();
    let endpoints = g.dir.join("endpoints.json");
    let (code, out) = doctor(&[
        "--data-dir",
        g.dir.to_str().unwrap(),
        "--endpoints",
        endpoints.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let lines = v.as_array().unwrap();
    for control in ["jwks", "live-auth", "live-cors", "signing-keys"] {
        assert!(
            lines
                .iter()
                .any(|c| c["control"] == control && c["pass"] == true),
            "{control}: {out}"
        );
    }
    assert!(out.contains("RSA") || out.contains("bits"), "{out}");
}

#[test]
fn doctor_fails_a_deliberately_bad_deployment_on_every_configurable_control() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = tmp.path().join("bad.toml");
    std::fs::write(
        &config,
        r#"version = 1
[web]
public_url = "http://app.example.com"

[[runtime]]
name = "exposed"
upstream = "http://8.8.8.8:8080"
allowed_origins = ["http://app.example.com"]
request_header_allowlist = ["x-user-id"]
[runtime.limits]
requests_per_minute = 1000000

[[runtime]]
name = "leaky"
upstream = "http://agent:hunter2@10.0.0.5:8080"
[runtime.authorizer]
discovery_url = "http://idp.example.com/pool/.well-known/openid-configuration"
allowed_clients = ["someclient"]
"#,
    )
    .unwrap();
    let endpoints = tmp.path().join("endpoints.json");
    std::fs::write(
        &endpoints,
        serde_json::json!({
            "web": "http://127.0.0.1:1", "idp": "http://127.0.0.1:1", "gateway": "http://127.0.0.1:1",
            "region": "us-east-1", "user_pool_id": "us-east-1_x", "client_id": "c", "issuer": "http://127.0.0.1:1/x",
            "discovery_url": "http://127.0.0.1:1/x/.well-known/openid-configuration",
            "jwks_uri": "http://127.0.0.1:1/x/.well-known/jwks.json",
            "runtimes": [{"name": "x", "arn": "arn", "ws_url": "ws://127.0.0.1:1/x",
                          "invocations_url": "http://127.0.0.1:1/runtimes/x/invocations"}]
        })
        .to_string(),
    )
    .unwrap();
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        dir.to_str().unwrap(),
        "--web-listen",
        "0.0.0.0:4000",
        "--gateway-listen",
        "[::]:4002",
        "--admin-listen",
        "0.0.0.0:4003",
        "--endpoints",
        endpoints.to_str().unwrap(),
    ];
    let (code, text) = doctor(&args);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL") && text.contains("Fix:"), "{text}");
    assert!(
        !text.contains("hunter2"),
        "doctor printed a credential: {text}"
    );
    let (code, json) = doctor(&[&args[..], &["--json"]].concat());
    assert_eq!(code, 1, "{json}");
    let failed = failed_controls(&json);
    for (control, subject) in [
        ("tls", "web"),
        ("tls", "gateway"),
        ("tls-redirect", "listeners"),
        ("admin", "listener"),
        ("cors", "exposed"),
        ("identity", "exposed"),
        ("credentials", "urls"),
        ("credentials", "data-dir"),
        ("jwks-transport", "authorizers"),
        ("rate-limits", "exposed"),
        ("upstream", "exposed v1"),
        (
            "jwks",
            "http://127.0.0.1:1/x/.well-known/openid-configuration",
        ),
        ("live-auth", "http://127.0.0.1:1/runtimes/x/invocations"),
        ("live-cors", "http://127.0.0.1:1/runtimes/x/invocations"),
    ] {
        assert!(
            failed.contains(&(control.to_string(), subject.to_string())),
            "{control} {subject} did not fail: {json}"
        );
    }
    assert!(
        !failed
            .iter()
            .any(|(c, s)| c == "upstream" && s == "leaky v1"),
        "10.0.0.5 is private"
    );
}

#[test]
fn doctor_fails_an_invalid_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("star.toml");
    std::fs::write(
        &config,
        "version = 1\n[[runtime]]\nname = \"a\"\nupstream = \"http://127.0.0.1:9\"\nallowed_origins = [\"*\"]\n",
    )
    .unwrap();
    let (code, out) = doctor(&[
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        tmp.path().join("d").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  config"), "{out}");
    assert!(out.contains("allowed_origins"), "{out}");
}

#[test]
fn doctor_fails_plain_http_on_a_public_web_listener_even_when_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    for extra in [&[][..], &["--allow-plaintext-public"][..]] {
        let args = [
            &[
                "--data-dir",
                dir.to_str().unwrap(),
                "--web-listen",
                "0.0.0.0:4000",
            ][..],
            extra,
        ]
        .concat();
        let (code, text) = doctor(&args);
        assert_eq!(code, 1, "{text}");
        let line = text
            .lines()
            .find(|l| l.contains("web-plaintext"))
            .unwrap_or_else(|| panic!("no web-plaintext line: {text}"));
        assert!(line.starts_with("FAIL") && line.contains("Fix:"), "{line}");
        assert!(line.contains("tls_cert"), "{line}");
        let (_, json) = doctor(&[&args[..], &["--json"]].concat());
        assert!(failed_controls(&json).contains(&("web-plaintext".into(), "web".into())));
    }
}

#[test]
fn doctor_passes_a_public_web_listener_with_tls_and_a_redirect() {
    let tmp = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["app.example.com".to_string()]).unwrap();
    let cert = tmp.path().join("cert.pem");
    let key = tmp.path().join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = tmp.path().join("tls.toml");
    std::fs::write(
        &config,
        "version = 1\n[web]\npublic_url = \"https://app.example.com\"\ntls_cert = \"cert.pem\"\n\
         tls_key = \"key.pem\"\nredirect_listen = \"0.0.0.0:80\"\n",
    )
    .unwrap();
    let dir = tmp.path().join("d");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        dir.to_str().unwrap(),
        "--web-listen",
        "0.0.0.0:443",
    ];
    let (code, text) = doctor(&args);
    assert_eq!(code, 0, "{text}");
    for control in ["web-plaintext", "tls ", "tls-redirect"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("PASS") && l.contains(control)),
            "{control}: {text}"
        );
    }
    // Without the redirect listener http:// answers nothing: a finding. A key others can read is one too.
    let no_redirect = tmp.path().join("noredirect.toml");
    std::fs::write(
        &no_redirect,
        "version = 1\n[web]\npublic_url = \"https://app.example.com\"\ntls_cert = \"cert.pem\"\n\
         tls_key = \"key.pem\"\n",
    )
    .unwrap();
    let (code, json) = doctor(&[
        "--config",
        no_redirect.to_str().unwrap(),
        "--data-dir",
        dir.to_str().unwrap(),
        "--web-listen",
        "0.0.0.0:443",
        "--json",
    ]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(
        failed_controls(&json),
        [("tls-redirect".to_string(), "listeners".to_string())]
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, json) = doctor(&[&args[..], &["--json"]].concat());
    assert_eq!(code, 1, "{json}");
    assert_eq!(
        failed_controls(&json),
        [("tls".to_string(), "web".to_string())]
    );
    assert!(!json.contains("PRIVATE KEY"), "{json}");
}

/// The isolation control says which sandbox sessions get: a uid per session as root, a user namespace per
/// session without; and without root an `egress = "all"` runtime fails when the TUN device is not this uid's.
#[test]
fn doctor_names_the_sandbox_mode_root_or_user_namespaces() {
    use crate::common::unprivileged::{give_away, UNPRIVILEGED_UID};
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("modes.toml");
    std::fs::write(
        &path,
        "version = 1\n[[runtime]]\nname = \"agent\"\ncommand = [\"gatehouse\", \"agent\"]\n\
         [[runtime]]\nname = \"online\"\ncommand = [\"gatehouse\", \"agent\"]\negress = \"all\"\n",
    )
    .unwrap();
    give_away(tmp.path());
    let data = tmp.path().join("data");
    let args = [
        "--data-dir",
        data.to_str().unwrap(),
        "--config",
        path.to_str().unwrap(),
        "--json",
    ];
    let isolation = |out: &str, subject: &str| -> Value {
        let v: Value = serde_json::from_str(out).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .find(|c| c["control"] == "isolation" && c["subject"] == subject)
            .unwrap_or_else(|| panic!("no isolation check of {subject}: {out}"))
            .clone()
    };
    let (_, out) = doctor_as(&args, None);
    let agent = isolation(&out, "agent");
    assert_eq!(agent["pass"], true, "{out}");
    assert!(
        agent["detail"]
            .as_str()
            .unwrap()
            .contains("uid_range per session"),
        "{out}"
    );
    let (_, out) = doctor_as(&args, Some(UNPRIVILEGED_UID));
    let agent = isolation(&out, "agent");
    assert_eq!(agent["pass"], true, "{out}");
    assert!(
        agent["detail"]
            .as_str()
            .unwrap()
            .contains("a user namespace per session"),
        "{out}"
    );
    let online = isolation(&out, "online");
    let tun_ok = std::fs::metadata("/dev/net/tun")
        .map(|m| std::os::unix::fs::MetadataExt::mode(&m) & 0o006 == 0o006)
        .unwrap_or(false);
    let slirp = std::path::Path::new("/usr/bin/slirp4netns").is_file();
    assert_eq!(online["pass"], tun_ok && slirp, "{out}");
}

#[test]
fn doctor_fails_open_registration_and_private_metadata_hosts_and_passes_token_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let config = tmp.path().join("gatehouse.toml");
    let run = |oauth: &str| {
        std::fs::write(&config, format!("version = 1\n[idp.oauth]\n{oauth}")).unwrap();
        let (code, json) = doctor(&[
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            dir.to_str().unwrap(),
            "--json",
        ]);
        (code, failed_controls(&json))
    };
    let (code, failed) = run(
        "dynamic_client_registration = \"open\"\nclient_id_metadata_documents = \"on\"\n\
         allow_private_metadata_hosts = true\n",
    );
    assert_eq!(code, 1);
    assert_eq!(
        failed,
        [
            ("registration".to_string(), "idp.oauth".to_string()),
            ("metadata-docs".to_string(), "idp.oauth".to_string())
        ]
    );
    let (code, failed) =
        run("dynamic_client_registration = \"token\"\nclient_id_metadata_documents = \"on\"\n");
    assert_eq!((code, failed), (0, Vec::new()));
}
