//! The files in `deploy/` cannot rot silently: every flag they pass to `gatehouse up` and every environment
//! variable they set is one the binary accepts, the probes name the admin listener's health paths, and the
//! hardening they promise in docs/deploy.md is there.
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use crate::common::{body_text, send, shared, BIN};

fn read(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The non-comment text of a file.
fn code(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `--flag` in a text.
fn flags(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for word in text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '[') {
        if let Some(rest) = word.strip_prefix("--") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if !name.is_empty() {
                out.insert(format!("--{name}"));
            }
        }
    }
    out
}

fn up_help() -> String {
    let out = Command::new(BIN).args(["up", "--help"]).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn deploy_files_use_only_flags_and_variables_the_binary_accepts() {
    let help = up_help();
    let unit = read("deploy/gatehouse.service");
    let deployment = read("deploy/k8s/deployment.yaml");
    for (file, text) in [
        ("gatehouse.service", &unit),
        ("deployment.yaml", &deployment),
    ] {
        let used = flags(&code(text));
        assert!(
            used.contains("--admin-listen"),
            "{file} binds the admin listener"
        );
        assert!(
            !text.contains("0.0.0.0:4000") || used.contains("--allow-plaintext-public"),
            "{file} binds the web listener off loopback without TLS: `up` refuses that without \
             --allow-plaintext-public"
        );
        for f in used {
            assert!(
                help.contains(&format!("{f} ")) || help.contains(&format!("{f}\n")),
                "{file} passes {f}, which `gatehouse up` does not accept"
            );
        }
    }
    for var in [
        "GATEHOUSE_DATABASE_URL",
        "GATEHOUSE_REDIS_URL",
        "GATEHOUSE_DATA_DIR",
        "GATEHOUSE_INTERNAL_URL",
    ] {
        assert!(help.contains(var), "`up --help` names {var}");
    }
    assert!(
        unit.contains("GATEHOUSE_DATA_DIR=/var/lib/gatehouse")
            && unit.contains("StateDirectory=gatehouse")
    );
    for var in [
        "GATEHOUSE_DATABASE_URL",
        "GATEHOUSE_REDIS_URL",
        "GATEHOUSE_INTERNAL_URL",
    ] {
        assert!(
            deployment.contains(&format!("name: {var}")),
            "deployment sets {var}"
        );
    }
}

#[test]
fn the_kubernetes_configuration_is_a_valid_gatehouse_toml() {
    let cm = read("deploy/k8s/configmap.yaml");
    let start = cm.find("gatehouse.toml: |").unwrap();
    let toml: String = cm[start..]
        .lines()
        .skip(1)
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let config = gatehouse::config::Config::from_toml(&toml)
        .unwrap_or_else(|e| panic!("configmap.yaml's gatehouse.toml: {e}"));
    let cluster = config.cluster.expect("[cluster] is configured");
    let deployment = read("deploy/k8s/deployment.yaml");
    let dir = cluster
        .shared_secret_file
        .parent()
        .unwrap()
        .display()
        .to_string();
    assert!(
        deployment.contains(&format!("mountPath: {dir}")),
        "the cluster secret is mounted where the configuration reads it"
    );
    assert!(
        deployment.contains("key: cluster-secret")
            && read("deploy/k8s/secret.yaml").contains("cluster-secret:")
    );
    assert!(
        deployment.contains("- 0.0.0.0:4010")
            && deployment.contains("value: http://$(POD_IP):4010")
    );
    let policy = read("deploy/k8s/networkpolicy.yaml");
    let internal = &policy[policy.find("port: 4002").unwrap()..];
    assert!(internal.contains("podSelector:\n            matchLabels:\n              app.kubernetes.io/name: gatehouse\n      ports:\n        - port: 4010"), "only replicas reach the internal listener");
}

#[test]
fn probes_and_health_checks_name_the_admin_health_paths() {
    let deployment = read("deploy/k8s/deployment.yaml");
    assert!(deployment.contains("replicas: 2"));
    let liveness = &deployment[deployment.find("livenessProbe:").unwrap()..];
    assert!(liveness[..200].contains("path: /healthz") && liveness[..200].contains("port: admin"));
    let readiness = &deployment[deployment.find("readinessProbe:").unwrap()..];
    assert!(readiness[..200].contains("path: /readyz") && readiness[..200].contains("port: admin"));
    assert!(deployment.contains("- 0.0.0.0:4003") && deployment.contains("containerPort: 4003"));
    let service = code(&read("deploy/k8s/service.yaml"));
    assert!(
        !service.contains("4003") && !service.contains("admin"),
        "the Service never exposes the admin port"
    );
    let secret = read("deploy/k8s/secret.yaml");
    assert!(secret.contains("kind: Secret") && secret.contains("database-url:"));
    assert!(deployment.contains("key: database-url"));

    let haproxy = read("deploy/haproxy.cfg");
    assert_eq!(
        haproxy.matches("option httpchk GET /readyz").count(),
        3,
        "every backend checks readiness"
    );
    assert!(haproxy.contains("check port 4003"));
    assert!(
        haproxy.contains("timeout tunnel") && haproxy.contains("no option http-buffer-request")
    );
    assert!(
        !code(&haproxy).contains(":4003\n"),
        "HAProxy never publishes the admin port"
    );
}

#[test]
fn hardening_promised_by_the_docs_is_in_the_files() {
    let unit = code(&read("deploy/gatehouse.service"));
    for line in [
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "UMask=0077",
        "--admin-listen 127.0.0.1:4003",
    ] {
        assert!(unit.contains(line), "gatehouse.service lacks {line:?}");
    }
    let deployment = code(&read("deploy/k8s/deployment.yaml"));
    for line in [
        "runAsNonRoot: true",
        "readOnlyRootFilesystem: true",
        "allowPrivilegeEscalation: false",
        "drop: [\"ALL\"]",
        "type: RuntimeDefault",
        "automountServiceAccountToken: false",
        "limits:",
    ] {
        assert!(deployment.contains(line), "deployment.yaml lacks {line:?}");
    }
    let docs = read("docs/deploy.md");
    for f in [
        "deploy/haproxy.cfg",
        "deploy/gatehouse.service",
        "secret.yaml",
        "deployment.yaml",
        "service.yaml",
        "networkpolicy.yaml",
        "configmap.yaml",
    ] {
        assert!(docs.contains(f), "docs/deploy.md describes {f}");
    }
}

#[tokio::test]
async fn the_liveness_path_is_served_by_the_admin_listener() {
    let g = shared();
    let r = send("GET", &format!("{}/healthz", g.endpoints.admin), &[], "").await;
    assert_eq!(r.status(), 200, "{}", body_text(r).await);
}

#[tokio::test]
async fn the_readiness_path_is_served_by_the_admin_listener() {
    let g = shared();
    let r = send("GET", &format!("{}/readyz", g.endpoints.admin), &[], "").await;
    assert_eq!(r.status(), 200, "{}", body_text(r).await);
}
