//! Tests of the tool decision and of reloading a policy file.
use std::time::Instant;

use serde_json::json;

use super::*;

fn claims(extra: serde_json::Value) -> VerifiedClaims {
    let mut payload = json!({"sub": "user-1", "iss": "https://idp", "exp": 2_000_000_000_i64});
    if let (Some(p), Some(e)) = (payload.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    match payload {
        serde_json::Value::Object(m) => VerifiedClaims::from_payload(m).unwrap(),
        _ => unreachable!(),
    }
}

fn policy(text: &str) -> ToolPolicy {
    ToolPolicy::parse(Path::new("t.toml"), text).unwrap()
}

const POLICY: &str = r#"
default = "deny"
[[tool]]
name = "admin_status"
allow = true
[[tool]]
name = "admin_*"
scopes = ["tools/admin", "tools/read"]
[[tool]]
name = "billing_*"
groups = ["finance", "admins"]
[[tool]]
name = "gold"
claims = { "custom:tier" = "gold", "custom:region" = "eu" }
[[tool]]
name = "rm_rf"
deny = true
"#;

fn deny_of(d: ToolDecision) -> (Vec<String>, Vec<String>, String) {
    match d {
        ToolDecision::Deny {
            missing_scopes,
            required_scopes,
            reason,
        } => (missing_scopes, required_scopes, reason),
        ToolDecision::Allow => panic!("allowed"),
    }
}

#[test]
fn the_first_matching_rule_decides_and_the_default_covers_the_rest() {
    let p = policy(POLICY);
    let nobody = claims(json!({}));
    assert_eq!(p.decide("admin_status", &nobody), ToolDecision::Allow);
    assert!(!p.allows("admin_drop", &nobody));
    let (_, _, reason) = deny_of(p.decide("weather", &nobody));
    assert_eq!(reason, "the tool 'weather' is not allowed on this runtime");
    let open = policy("default = \"allow\"\n[[tool]]\nname = \"rm_rf\"\ndeny = true\n");
    assert!(open.allows("weather", &nobody));
    let (missing, required, reason) = deny_of(open.decide("rm_rf", &nobody));
    assert!(missing.is_empty() && required.is_empty());
    assert_eq!(reason, "the tool 'rm_rf' may not be called");
    // A denied tool stays denied whatever the token holds.
    let admin = claims(json!({"scope": "tools/admin tools/read", "cognito:groups": ["admins"]}));
    assert!(!p.allows("rm_rf", &admin));
}

#[test]
fn scopes_are_all_required_and_the_missing_ones_are_named() {
    let p = policy(POLICY);
    let both = claims(json!({"scope": "openid tools/read tools/admin"}));
    assert_eq!(p.decide("admin_drop", &both), ToolDecision::Allow);
    let one = claims(json!({"scope": "tools/read"}));
    let (missing, required, reason) = deny_of(p.decide("admin_drop", &one));
    assert_eq!(missing, ["tools/admin"]);
    assert_eq!(required, ["tools/admin", "tools/read"]);
    assert_eq!(
        reason,
        "the tool 'admin_drop' needs the scope(s) tools/admin"
    );
    let (missing, _, _) = deny_of(p.decide("admin_drop", &claims(json!({}))));
    assert_eq!(missing, ["tools/admin", "tools/read"]);
}

#[test]
fn any_one_group_is_enough_and_its_absence_is_refused_without_naming_them() {
    let p = policy(POLICY);
    assert!(p.allows(
        "billing_pay",
        &claims(json!({"cognito:groups": ["staff", "admins"]}))
    ));
    assert!(p.allows("billing_pay", &claims(json!({"cognito:groups": "finance"}))));
    for c in [
        json!({}),
        json!({"cognito:groups": ["staff"]}),
        json!({"cognito:groups": []}),
        json!({"cognito:groups": [1, 2]}),
        json!({"groups": ["admins"]}),
    ] {
        let (missing, required, reason) = deny_of(p.decide("billing_pay", &claims(c.clone())));
        assert!(missing.is_empty() && required.is_empty(), "{c}");
        assert_eq!(
            reason,
            "the tool 'billing_pay' needs membership in one of its groups"
        );
    }
}

#[test]
fn every_claim_must_hold_and_a_refusal_never_shows_a_value() {
    let p = policy(POLICY);
    assert!(p.allows(
        "gold",
        &claims(json!({"custom:tier": "gold", "custom:region": "eu"}))
    ));
    assert!(p.allows(
        "gold",
        &claims(json!({"custom:tier": ["silver", "gold"], "custom:region": "eu"}))
    ));
    let (_, _, reason) = deny_of(p.decide(
        "gold",
        &claims(json!({"custom:tier": "silver-secret", "custom:region": "eu"})),
    ));
    assert_eq!(
        reason,
        "the tool 'gold' needs the claim 'custom:tier' with its required value"
    );
    assert!(!reason.contains("silver") && !reason.contains("\"gold\""));
    let (_, _, reason) = deny_of(p.decide("gold", &claims(json!({"custom:tier": 5}))));
    assert!(
        reason.contains("'custom:region'") && reason.contains("'custom:tier'"),
        "{reason}"
    );
}

#[test]
fn every_missing_requirement_is_named_in_one_refusal() {
    let p = policy(
        "default = \"allow\"\n[[tool]]\nname = \"x\"\nscopes = [\"a\"]\ngroups = [\"g\"]\nclaims = { tier = \"t\" }\n",
    );
    let (missing, _, reason) = deny_of(p.decide("x", &claims(json!({}))));
    assert_eq!(missing, ["a"]);
    assert_eq!(
        reason,
        "the tool 'x' needs the scope(s) a, membership in one of its groups, the claim 'tier' with its required value"
    );
    let (_, _, reason) =
        deny_of(policy("default = \"deny\"\n").decide("bad\nname", &claims(json!({}))));
    assert!(reason.contains("'bad?name'"), "{reason}");
}

#[test]
fn every_call_of_a_body_is_decided_and_counted() {
    let p = policy(POLICY);
    let metrics = Metrics::default();
    let body =
        br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_status"}},
                   {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_drop"}}]"#;
    let calls = super::super::mcp_tools::tool_calls(body).unwrap();
    let caller = claims(json!({"scope": "tools/read"}));
    let refused = refused_calls(&p, "tools", calls, &caller, &metrics);
    assert_eq!(refused.len(), 1, "the second call of the batch is refused");
    let (call, d) = &refused[0];
    assert_eq!(call.name, "admin_drop");
    let answer = refusal(call, d).unwrap();
    assert_eq!(answer["id"], 2);
    assert_eq!(
        answer["error"]["data"]["missingScopes"],
        json!(["tools/admin"])
    );
    assert_eq!(refusal(call, &ToolDecision::Allow), None);
    let text = metrics.render(&[]);
    assert!(
        text.contains("tool=\"admin_status\",user=\"user-1\",decision=\"allowed\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("tool=\"admin_drop\",user=\"user-1\",decision=\"refused\"} 1"),
        "{text}"
    );
}

fn write(path: &Path, text: &str) {
    // Written beside and renamed, as an editor or a deployment tool does.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn handle(dir: &Path, text: &str) -> Arc<ToolPolicyHandle> {
    let f = dir.join("tools.toml");
    write(&f, text);
    ToolPolicyHandle::new("tools", &tool_policy::load(&f).unwrap())
}

#[test]
fn a_bad_change_keeps_the_policy_in_service_and_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let h = handle(tmp.path(), "default = \"allow\"\n");
    let before = h.current();
    assert!(
        !h.reload_if_changed().unwrap(),
        "the file as loaded is no change"
    );
    write(
        h.path(),
        "default = \"allow\"\n[[tool]]\nname = \"x\"\nscope = [\"a\"]\n",
    );
    let e = h.reload_if_changed().unwrap_err();
    assert!(e.to_string().contains("tools.toml: tool[0]"), "{e}");
    assert!(Arc::ptr_eq(&before, &h.current()));
    assert!(!h.reload_if_changed().unwrap(), "reported once");
    std::fs::remove_file(h.path()).unwrap();
    assert!(h
        .reload_if_changed()
        .unwrap_err()
        .to_string()
        .contains("cannot read"));
    assert!(!h.reload_if_changed().unwrap());
    assert!(Arc::ptr_eq(&before, &h.current()));
    assert_eq!(h.counts(), (0, 2));
}

#[test]
fn a_good_change_is_put_in_service_and_a_touch_is_not_a_change() {
    let tmp = tempfile::tempdir().unwrap();
    let h = handle(tmp.path(), "default = \"allow\"\n");
    write(h.path(), "default = \"allow\"\n");
    assert!(!h.reload_if_changed().unwrap(), "same bytes");
    write(h.path(), "default = \"deny\"\n");
    assert!(h.reload_if_changed().unwrap());
    assert_eq!(h.current().default, DefaultAction::Deny);
    assert_eq!(h.counts(), (1, 0));
    assert_eq!(h.runtime(), "tools");
}

/// Polls `f` every few milliseconds until it holds, failing after 10 s.
async fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_watcher_keeps_the_old_policy_on_a_bad_file_and_picks_up_a_good_one() {
    let tmp = tempfile::tempdir().unwrap();
    let h = handle(tmp.path(), "default = \"allow\"\n");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(h.clone().watch(Duration::from_millis(20), stop_rx));
    write(h.path(), "default = \"sometimes\"\n");
    eventually("the refusal", || h.counts().1 == 1).await;
    assert_eq!(h.current().default, DefaultAction::Allow);
    write(
        h.path(),
        "default = \"deny\"\n[[tool]]\nname = \"ping\"\nallow = true\n",
    );
    eventually("the reload", || h.current().default == DefaultAction::Deny).await;
    assert_eq!(h.current().rules.len(), 1);
    assert_eq!(h.counts(), (1, 1));
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
}
