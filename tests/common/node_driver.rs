//! Runs a Node.js driver of a third-party client library (`tests/cognito-js/`, `tests/oauth-js/`, installed by
//! scripts/test with `npm ci`): the driver reads one secret on stdin and prints one JSON report on stdout. Owns
//! no production code; must never pass a secret on the command line or in the environment's listing.
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// `tests/<dir>`, after checking `package` is installed there (the message says how to install it).
pub fn driver_dir(dir: &str, package: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    assert!(
        dir.join("node_modules").join(package).is_dir(),
        "{package} is not installed: scripts/test installs it (npm ci --prefix {})",
        dir.display()
    );
    dir
}

/// Runs `node <dir>/<script>` with `env`, writes `stdin` to it, and returns its JSON report, which must not
/// hold an `error` member.
pub async fn run(dir: &Path, script: &str, env: &[(&str, &str)], stdin: &str) -> Value {
    let mut child = Command::new("node")
        .arg(dir.join(script))
        .current_dir(dir)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is needed for this test");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "driver output is not JSON ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(report.get("error").is_none(), "{report}");
    report
}
