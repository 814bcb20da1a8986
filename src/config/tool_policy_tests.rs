//! Tests of the tool policy file: parsing, patterns, first-match order and every refusal, by key.
use super::*;
use crate::config::Config;

fn parse(text: &str) -> Result<ToolPolicy, ToolPolicyErrors> {
    ToolPolicy::parse(Path::new("/etc/gh/tools.toml"), text)
}

/// The keys `text` is refused for, in order.
fn refused(text: &str) -> Vec<String> {
    let e = parse(text).unwrap_err();
    assert!(
        e.0.iter()
            .all(|e| e.file == Path::new("/etc/gh/tools.toml")),
        "{e}"
    );
    e.0.into_iter().map(|e| e.key).collect()
}

#[test]
fn a_full_policy_parses_in_file_order() {
    let p = parse(
        r#"
        default = "deny"
        [[tool]]
        name = "admin_status"
        allow = true
        [[tool]]
        name = "admin_*"
        scopes = ["tools/admin", "tools/read"]
        groups = ["admins", "ops"]
        claims = { "custom:tier" = "gold" }
        [[tool]]
        name = "rm_rf"
        deny = true
        [[tool]]
        name = "*"
        scopes = ["tools/read"]
        "#,
    )
    .unwrap();
    assert_eq!(p.default, DefaultAction::Deny);
    assert_eq!(p.rules.len(), 4);
    assert_eq!(
        p.rules[1],
        ToolRule {
            pattern: ToolPattern::Prefix("admin_".into()),
            scopes: vec!["tools/admin".into(), "tools/read".into()],
            groups: vec!["admins".into(), "ops".into()],
            claims: vec![("custom:tier".into(), "gold".into())],
            deny: false,
        }
    );
    // The first rule naming a tool decides: the exact rule above the prefix, the catch-all last.
    assert_eq!(
        p.rule_for("admin_status").unwrap().pattern,
        ToolPattern::Exact("admin_status".into())
    );
    assert!(p.rule_for("admin_status").unwrap().scopes.is_empty());
    assert_eq!(
        p.rule_for("admin_drop").unwrap().pattern.as_written(),
        "admin_*"
    );
    assert!(p.rule_for("rm_rf").unwrap().deny);
    assert_eq!(p.rule_for("weather").unwrap().pattern.as_written(), "*");
    assert_eq!(
        parse("default = \"allow\"\n").unwrap(),
        ToolPolicy {
            default: DefaultAction::Allow,
            rules: vec![]
        }
    );
}

#[test]
fn patterns_match_exactly_or_by_prefix() {
    let exact = ToolPattern::Exact("get".into());
    assert!(exact.matches("get"));
    assert!(!exact.matches("get_weather"));
    assert!(!exact.matches("ge"));
    let prefix = ToolPattern::Prefix("get_".into());
    assert!(prefix.matches("get_weather"));
    assert!(prefix.matches("get_"));
    assert!(!prefix.matches("get"));
    assert!(ToolPattern::Prefix(String::new()).matches("anything"));
}

#[test]
fn unknown_keys_and_wrong_types_are_refused_by_key() {
    assert_eq!(
        refused("default = \"deny\"\n[[tool]]\nname = \"a\"\nscope = [\"x\"]\n"),
        ["tool[0].scope"]
    );
    let e = parse("default = \"deny\"\n[[tool]]\nname = \"a\"\nscope = [\"x\"]\n").unwrap_err();
    assert!(e.to_string().contains("scope"), "{e}");
    assert!(e.to_string().contains("/etc/gh/tools.toml"), "{e}");
    assert_eq!(refused("defaults = \"deny\"\n"), ["defaults"]);
    assert_eq!(
        refused("default = \"deny\"\n[[tool]]\nname = \"a\"\nscopes = \"x\"\n"),
        ["tool[0].scopes"]
    );
    assert_eq!(
        refused("default = \"deny\"\n[[tool]]\nname = \"a\"\nclaims = { tier = 1 }\n"),
        ["tool[0].claims.tier"]
    );
    assert_eq!(refused("default = [\n"), ["(file)"]);
}

#[test]
fn every_bad_value_is_reported_at_once() {
    let keys = refused(
        r#"
        default = "maybe"
        [[tool]]
        scopes = ["a"]
        [[tool]]
        name = "has space"
        scopes = ["a"]
        [[tool]]
        name = "a*b"
        scopes = ["a"]
        [[tool]]
        name = "ok"
        scopes = ["", "has space", "quo\"te"]
        groups = [""]
        [[tool]]
        name = "ok2"
        claims = { "" = "x" }
        "#,
    );
    assert_eq!(
        keys,
        [
            "default",
            "tool[0].name",
            "tool[1].name",
            "tool[2].name",
            "tool[3].scopes[0]",
            "tool[3].scopes[1]",
            "tool[3].scopes[2]",
            "tool[3].groups[0]",
            "tool[4].claims",
        ]
    );
    assert_eq!(
        refused("[[tool]]\nname = \"a\"\nallow = true\n"),
        ["default"]
    );
    let long = "x".repeat(MAX_TOOL_NAME + 1);
    assert_eq!(
        refused(&format!(
            "default = \"deny\"\n[[tool]]\nname = \"{long}\"\nallow = true\n"
        )),
        ["tool[0].name"]
    );
}

#[test]
fn duplicate_and_unreachable_rules_are_refused() {
    let e = parse(
        "default = \"deny\"\n[[tool]]\nname = \"a\"\nallow = true\n[[tool]]\nname = \"a\"\nscopes = [\"s\"]\n",
    )
    .unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!(e.0[0].key, "tool[1].name");
    assert!(e.0[0].reason.contains("already named by tool[0]"), "{e}");
    // A rule an earlier prefix already decides for would never be read.
    let e = parse(
        "default = \"deny\"\n[[tool]]\nname = \"x\"\n[[tool]]\nname = \"admin_*\"\nscopes = [\"s\"]\n\
         [[tool]]\nname = \"admin_x\"\ndeny = true\n[[tool]]\nname = \"admin_y*\"\ndeny = true\n",
    )
    .unwrap_err();
    let got: Vec<&str> = e.0.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(got, ["tool[0].name", "tool[2].name", "tool[3].name"]);
    assert!(e.0[1].reason.contains("tool[1] ('admin_*')"), "{e}");
    // The same prefix twice is a duplicate; the exact name above its prefix is fine.
    assert_eq!(
        refused("default = \"deny\"\n[[tool]]\nname = \"a*\"\ndeny = true\n[[tool]]\nname = \"a*\"\ndeny = true\n"),
        ["tool[1].name"]
    );
    assert!(parse("default = \"deny\"\n[[tool]]\nname = \"ab\"\ndeny = true\n[[tool]]\nname = \"a*\"\ndeny = true\n").is_ok());
}

#[test]
fn a_rule_says_what_it_requires_and_never_contradicts_itself() {
    // Requiring nothing is refused unless it says `allow = true`.
    let e = parse("default = \"deny\"\n[[tool]]\nname = \"ping\"\n").unwrap_err();
    assert_eq!(e.0[0].key, "tool[0].name");
    assert!(e.0[0].reason.contains("allow = true"), "{e}");
    assert!(parse("default = \"deny\"\n[[tool]]\nname = \"ping\"\nallow = true\n").is_ok());
    assert!(
        parse("default = \"deny\"\n[[tool]]\nname = \"ping\"\ndeny = false\nallow = true\n")
            .is_ok()
    );
    for (rule, key) in [
        ("allow = false", "tool[0].allow"),
        ("allow = true\ndeny = true", "tool[0].allow"),
        ("deny = true\nscopes = [\"s\"]", "tool[0].deny"),
        ("allow = true\ngroups = [\"g\"]", "tool[0].allow"),
    ] {
        assert_eq!(
            refused(&format!(
                "default = \"deny\"\n[[tool]]\nname = \"t\"\n{rule}\n"
            )),
            [key],
            "{rule}"
        );
    }
}

#[test]
fn files_are_read_whole_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("p.toml");
    std::fs::write(
        &f,
        "default = \"allow\"\n[[tool]]\nname = \"x\"\ndeny = true\n",
    )
    .unwrap();
    let loaded = load(&f).unwrap();
    assert_eq!(loaded.path, f);
    assert_eq!(loaded.policy.rules.len(), 1);
    assert_eq!(loaded.digest.len(), 64);
    let missing = load(&tmp.path().join("nope.toml")).unwrap_err();
    assert_eq!(missing.0[0].key, "(file)");
    assert!(missing.0[0].reason.contains("cannot read"), "{missing}");
    std::fs::write(&f, [0xff, 0xfe]).unwrap();
    assert!(load(&f).unwrap_err().to_string().contains("UTF-8"));
    let big = vec![b'#'; MAX_POLICY_BYTES as usize + 1];
    std::fs::write(&f, big).unwrap();
    assert!(load(&f).unwrap_err().to_string().contains("larger than"));
}

fn mcp_config(policy: &str) -> String {
    format!(
        "version = 1\n[[runtime]]\nname = \"tools\"\nupstream = \"http://127.0.0.1:9\"\nprotocol = \"mcp\"\ntool_policy = \"{policy}\"\n"
    )
}

#[test]
fn a_runtime_reads_its_policy_relative_to_the_configuration_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("tools.toml"), "default = \"deny\"\n").unwrap();
    let cfg = tmp.path().join("g.toml");
    std::fs::write(&cfg, mcp_config("tools.toml")).unwrap();
    let c = Config::load(&cfg).unwrap();
    let p = c.runtimes[0].tool_policy.as_ref().unwrap();
    assert_eq!(p.path, tmp.path().join("tools.toml"));
    assert_eq!(p.policy.default, DefaultAction::Deny);
    // An absolute path is taken as is.
    let abs = tmp.path().join("tools.toml");
    std::fs::write(&cfg, mcp_config(&abs.display().to_string())).unwrap();
    assert_eq!(
        Config::load(&cfg).unwrap().runtimes[0]
            .tool_policy
            .as_ref()
            .unwrap()
            .path,
        abs
    );
    assert!(Config::from_toml(
        "version = 1\n[[runtime]]\nname = \"a\"\nupstream = \"http://127.0.0.1:9\"\n"
    )
    .unwrap()
    .runtimes[0]
        .tool_policy
        .is_none());
}

#[test]
fn a_bad_policy_is_an_error_of_the_runtimes_key_naming_the_file_and_its_key() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("tools.toml"),
        "default = \"deny\"\n[[tool]]\nname = \"a\"\nscopes = [\"has space\"]\n",
    )
    .unwrap();
    let cfg = tmp.path().join("g.toml");
    std::fs::write(&cfg, mcp_config("tools.toml")).unwrap();
    let e = Config::load(&cfg).unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].key, "runtime[0].tool_policy");
    let file = tmp.path().join("tools.toml").display().to_string();
    assert!(
        e.0[0]
            .reason
            .starts_with(&format!("{file}: tool[0].scopes[0]: ")),
        "{e}"
    );
    std::fs::write(&cfg, mcp_config("missing.toml")).unwrap();
    let e = Config::load(&cfg).unwrap_err();
    assert!(
        e.0[0].reason.contains("missing.toml: (file): cannot read"),
        "{e}"
    );
}

#[test]
fn a_policy_is_refused_on_a_runtime_that_does_not_speak_mcp() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("tools.toml"), "default = \"deny\"\n").unwrap();
    let cfg = tmp.path().join("g.toml");
    for protocol in ["", "protocol = \"http\"\n", "protocol = \"a2a\"\n"] {
        std::fs::write(
            &cfg,
            format!("version = 1\n[[runtime]]\nname = \"a\"\nupstream = \"http://127.0.0.1:9\"\n{protocol}tool_policy = \"tools.toml\"\n"),
        )
        .unwrap();
        let e = Config::load(&cfg).unwrap_err();
        assert_eq!(e.0[0].key, "runtime[0].tool_policy", "{protocol}: {e}");
        assert!(e.0[0].reason.contains("protocol = \"mcp\""), "{e}");
    }
}
