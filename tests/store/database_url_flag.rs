//! `--database-url` as every command that takes it reads it: parsed once, right after the command line, so a
//! scheme gatehouse does not speak is the same usage error (exit code 64, the same message, no password shown)
//! from `up`, `doctor`, `user`, `client` and `keys`, before anything starts. Owns no production code.
use crate::common::{BIN, LOOPBACK_LISTENERS};

#[test]
fn every_command_refuses_an_unsupported_database_url_the_same_way() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let commands: [&[&str]; 6] = [
        &[
            "up",
            "--web-listen",
            "127.0.0.1:0",
            "--idp-listen",
            "127.0.0.1:0",
            "--gateway-listen",
            "127.0.0.1:0",
        ],
        &["doctor"],
        &["user", "list"],
        &["client", "list"],
        &["keys", "list"],
        &["user", "disable", "--username", "alice"],
    ];
    for args in commands {
        let out = std::process::Command::new(BIN)
            .args(args)
            .args(if args == ["up"] {
                &LOOPBACK_LISTENERS[..]
            } else {
                &[]
            })
            .arg("--data-dir")
            .arg(&data)
            .args(["--database-url", "mysql://root:hunter22@localhost/db"])
            .env_remove("GATEHOUSE_DATABASE_URL")
            .env_remove("GATEHOUSE_CONFIG")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {err}");
        assert!(
            err.contains(
                "--database-url: 'mysql://' is not supported; use postgres://USER@HOST:PORT/DB, sqlite:PATH or a file path"
            ),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("hunter22"),
            "{args:?}: the password leaked: {err}"
        );
    }
    assert!(
        !data.exists(),
        "nothing was created before the URL was checked"
    );
}
