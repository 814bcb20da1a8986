//! `[[runtime]] tool_policy` through the command line: `config validate` reports a bad policy file by the
//! runtime's key, the file and the key in it, and accepts a good one. Test code only.
use std::process::Command;

fn validate(config: &std::path::Path) -> std::process::Output {
    Command::new(crate::common::BIN)
        .args(["config", "validate", "-c"])
        .arg(config)
        .output()
        .unwrap()
}

const RUNTIME: &str =
    "version = 1\n[[runtime]]\nname = \"tools\"\nupstream = \"http://127.0.0.1:9\"\n\
                       protocol = \"mcp\"\ntool_policy = \"policy/tools.toml\"\n";

#[test]
fn config_validate_reports_a_bad_tool_policy_by_file_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("policy")).unwrap();
    let policy = tmp.path().join("policy/tools.toml");
    std::fs::write(
        &policy,
        "default = \"deny\"\n[[tool]]\nname = \"admin_*\"\nscopes = [\"tools/admin\"]\n\
         [[tool]]\nname = \"admin_status\"\nallow = true\n[[tool]]\nname = \"ping\"\n",
    )
    .unwrap();
    let config = tmp.path().join("gatehouse.toml");
    std::fs::write(&config, RUNTIME).unwrap();
    let out = validate(&config);
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = policy.display().to_string();
    for line in [
        format!("runtime[0].tool_policy: {file}: tool[1].name: 'admin_status' is never reached"),
        format!("runtime[0].tool_policy: {file}: tool[2].name: the rule requires nothing"),
    ] {
        assert!(err.contains(&line), "{line} not reported: {err}");
    }
    // An unknown key is named too (a file that does not parse is reported on its own).
    std::fs::write(
        &policy,
        "default = \"deny\"\n[[tool]]\nname = \"ping\"\nscope = [\"x\"]\n",
    )
    .unwrap();
    let err = String::from_utf8_lossy(&validate(&config).stderr).to_string();
    assert!(
        err.contains(&format!(
            "runtime[0].tool_policy: {file}: tool[0].scope: unknown field `scope`"
        )),
        "{err}"
    );

    // Fixed, the same file is valid (relative to the configuration file, not the working directory).
    std::fs::write(
        &policy,
        "default = \"deny\"\n[[tool]]\nname = \"admin_status\"\nallow = true\n\
         [[tool]]\nname = \"admin_*\"\nscopes = [\"tools/admin\"]\n",
    )
    .unwrap();
    let out = validate(&config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Only an MCP runtime takes one.
    std::fs::write(&config, RUNTIME.replace("protocol = \"mcp\"\n", "")).unwrap();
    let out = validate(&config);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("runtime[0].tool_policy: applies only to a protocol = \"mcp\" runtime"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
