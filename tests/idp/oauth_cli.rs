//! The OAuth administration commands: `resource-server create|list|delete` and `client create` with callback and
//! logout URLs, OAuth flows and scopes (what they store, `--json`), `client delete`, and every refusal with exit
//! code 64 and a message that says what to fix.
use std::path::Path;
use std::process::Command;

use gatehouse::store::{OAuthFlow, SqliteStore, Store};

use crate::common::BIN;

/// Runs `gatehouse <args> --data-dir DIR`; (exit code, stdout, stderr).
pub(crate) fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn resource_servers_and_oauth_clients_are_created_listed_and_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (code, out, err) = run(
        dir,
        &[
            "resource-server",
            "create",
            "--identifier",
            "https://api.example.com",
            "--scope",
            "read:Read orders",
            "--scope",
            "write:Write orders",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("scope https://api.example.com/read"), "{out}");
    let (code, out, _) = run(dir, &["resource-server", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("https://api.example.com") && out.contains("read write"),
        "{out}"
    );

    let (code, out, err) = run(
        dir,
        &[
            "client",
            "create",
            "--name",
            "m2m",
            "--secret",
            "--json",
            "--oauth-flows",
            "client_credentials",
            "--oauth-scopes",
            "https://api.example.com/read",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let m2m: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let m2m_id = m2m["client_id"].as_str().unwrap().to_string();
    assert_eq!(m2m["client_secret"].as_str().unwrap().len(), 52);

    let (code, out, err) = run(
        dir,
        &[
            "client",
            "create",
            "--name",
            "spa",
            "--callback-url",
            "https://app.example.com/cb",
            "--callback-url",
            "http://127.0.0.1/cb",
            "--logout-url",
            "https://app.example.com/bye",
            "--oauth-flows",
            "code",
            "--oauth-scopes",
            "openid,email https://api.example.com/write",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let spa_id = out
        .lines()
        .find_map(|l| l.strip_prefix("client_id "))
        .unwrap()
        .to_string();
    assert!(
        !out.contains("client_secret"),
        "a public client has no secret: {out}"
    );

    let store = SqliteStore::open_in(dir).await.unwrap();
    let pool = gatehouse::idp::bootstrap::default_pool(&store, &gatehouse::clock::SystemClock)
        .await
        .unwrap()
        .0;
    let clients = store.clients(&pool.id).await.unwrap();
    let spa = clients.iter().find(|c| c.id == spa_id).unwrap();
    assert_eq!(
        spa.callback_urls.as_str(),
        "https://app.example.com/cb http://127.0.0.1/cb"
    );
    assert_eq!(spa.logout_urls.as_str(), "https://app.example.com/bye");
    assert!(spa.oauth_flows.allows(OAuthFlow::Code));
    assert!(!spa.oauth_flows.allows(OAuthFlow::ClientCredentials));
    assert_eq!(
        spa.oauth_scopes.as_str(),
        "openid email https://api.example.com/write"
    );
    let m2m = clients.iter().find(|c| c.id == m2m_id).unwrap();
    assert!(m2m.oauth_flows.allows(OAuthFlow::ClientCredentials) && m2m.secret.is_some());
    drop(store);

    let (code, out, _) = run(dir, &["client", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains(&spa_id) && out.contains("code"), "{out}");

    let (code, out, err) = run(dir, &["client", "delete", "--client-id", &spa_id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("deleted client"));
    let (code, _, err) = run(dir, &["client", "delete", "--client-id", &spa_id]);
    assert_eq!(code, 64);
    assert!(err.contains("no client"), "{err}");
    let (code, _, err) = run(
        dir,
        &[
            "resource-server",
            "delete",
            "--identifier",
            "https://api.example.com",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(
        dir,
        &[
            "resource-server",
            "delete",
            "--identifier",
            "https://api.example.com",
        ],
    );
    assert_eq!(code, 64);
    assert!(err.contains("no resource server"), "{err}");
}

#[test]
fn oauth_client_settings_that_would_be_unsafe_or_unusable_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (code, _, err) = run(
        dir,
        &[
            "resource-server",
            "create",
            "--identifier",
            "api",
            "--scope",
            "read",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let cases: [(&[&str], &str); 9] = [
        (
            &[
                "--oauth-flows",
                "code",
                "--callback-url",
                "http://app.example.com/cb",
            ],
            "plain http",
        ),
        (
            &[
                "--oauth-flows",
                "code",
                "--callback-url",
                "https://*.example.com/cb",
            ],
            "wildcard",
        ),
        (
            &["--oauth-flows", "code", "--callback-url", "/cb"],
            "absolute URL",
        ),
        (
            &[
                "--oauth-flows",
                "code",
                "--callback-url",
                "https://a.example/cb",
                "--logout-url",
                "https://a.example/#x",
            ],
            "fragment",
        ),
        (
            &["--oauth-flows", "code"],
            "needs at least one --callback-url",
        ),
        (
            &[
                "--oauth-flows",
                "implicit",
                "--callback-url",
                "https://a.example/cb",
            ],
            "not 'implicit'",
        ),
        (
            &[
                "--oauth-flows",
                "client_credentials",
                "--oauth-scopes",
                "api/read",
            ],
            "needs --secret",
        ),
        (
            &[
                "--secret",
                "--oauth-flows",
                "client_credentials",
                "--oauth-scopes",
                "openid",
            ],
            "resource-server scope",
        ),
        (
            &[
                "--oauth-flows",
                "code",
                "--callback-url",
                "https://a.example/cb",
                "--oauth-scopes",
                "openid api/admin",
            ],
            "'api/admin'",
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec!["client", "create", "--name", "x"];
        args.extend_from_slice(extra);
        let (code, out, err) = run(dir, &args);
        assert_eq!(code, 64, "{extra:?}: {out}{err}");
        assert!(err.contains(want), "{extra:?}: {err}");
    }
    let (code, _, err) = run(dir, &["resource-server", "create", "--identifier", "api"]);
    assert_eq!(code, 64);
    assert!(err.contains("exists already"), "{err}");
    let (code, _, err) = run(dir, &["resource-server", "create", "--identifier", "a b"]);
    assert_eq!(code, 64);
    assert!(err.contains("--identifier"), "{err}");
}
