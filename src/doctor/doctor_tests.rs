//! The audit on the defaults (every control passes) and on deliberately bad facts (every control trips once).
use std::net::{IpAddr, SocketAddr};

use super::*;
use crate::config::{HttpUrl, RuntimeConfig};

fn url(text: &str) -> HttpUrl {
    HttpUrl::parse(text).unwrap()
}

/// A `command` runtime (one reference agent per session) and no upstream.
fn command_runtime(name: &str) -> RuntimeConfig {
    let mut r = RuntimeConfig::simple(name, url("http://127.0.0.1:1"));
    r.versions.clear();
    r.command = Some(vec!["gatehouse".into(), "agent".into()]);
    r
}

fn good() -> Facts {
    Facts {
        config: Ok(Config::default()),
        listeners: Listeners::default(),
        lifetimes: Lifetimes::default(),
        refresh_flow_served: true,
        clients: vec![("web".into(), false, 30 * 24 * 3600)],
        oauth_clients: vec![oauth_client("app", "https://app.example.com/cb")],
        argon2: Argon2Params::from_phc("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
        keys: Some(vec![KeyFact {
            kid: "k1".into(),
            created_at: 1_000_000,
            modulus_bits: 2048,
        }]),
        now_unix: 1_000_000 + 86_400,
        data_dir_mode: Some(0o40700),
        db_mode: Some(0o100600),
        upstream_addrs: Vec::new(),
        live: None,
        web_tls: None,
        listener_tls: Vec::new(),
        db_outside: None,
    }
}

/// A confidential client with one callback, its secret a day old in `good()`'s clock.
fn oauth_client(name: &str, callback: &str) -> OAuthClientFact {
    OAuthClientFact {
        id: format!("{name}-id"),
        name: name.into(),
        callback_urls: vec![callback.into(), "http://127.0.0.1/cb".into()],
        logout_urls: Vec::new(),
        confidential: true,
        created_at: 1_000_000,
        secret_created_at: Some(1_000_000),
        dynamic: false,
    }
}

fn failing(checks: &[Check]) -> Vec<(&'static str, String)> {
    checks
        .iter()
        .filter(|c| !c.pass)
        .map(|c| (c.control, c.subject.clone()))
        .collect()
}

#[test]
fn the_defaults_pass_every_control() {
    let checks = audit(&good());
    assert!(failing(&checks).is_empty(), "{checks:#?}");
    for control in [
        "config",
        "tls",
        "tls-redirect",
        "web-plaintext",
        "admin",
        "cors",
        "identity",
        "token-lifetime",
        "refresh-rotation",
        "credentials",
        "jwks-transport",
        "signing-keys",
        "argon2",
        "rate-limits",
        "upstream",
        "isolation",
        "registration",
        "metadata-docs",
        "redirect-uris",
        "wildcard-callbacks",
        "secret-rotation",
    ] {
        assert!(
            checks.iter().any(|c| c.control == control),
            "no line for {control}"
        );
    }
}

fn bad_runtime() -> RuntimeConfig {
    let mut r = RuntimeConfig::simple("bad", url("http://8.8.8.8:8080"));
    r.allowed_origins = vec!["http://app.example.com".into()];
    r.request_header_allowlist = vec!["x-user-id".into()];
    r.limits.requests_per_minute = 1_000_000;
    r
}

#[test]
fn every_control_trips_on_a_bad_deployment() {
    let mut f = good();
    let mut config = Config {
        web_public_url: Some(crate::config::HttpUrl::parse("http://app.example.com").unwrap()),
        ..Config::default()
    };
    let mut open = RuntimeConfig::simple("open", url("http://user:secret@10.0.0.5:8080"));
    open.authorizer = Some(crate::config::AuthorizerConfig {
        discovery_url: url("http://idp.example.com/.well-known/openid-configuration"),
        allowed_clients: Vec::new(),
        allowed_audience: Vec::new(),
        allowed_scopes: Vec::new(),
        custom_claims: Vec::new(),
        jwks_refresh_interval: std::time::Duration::from_secs(30),
    });
    let mut unsandboxed = command_runtime("bare");
    unsandboxed.isolation = crate::config::Isolation::None;
    let mut online = command_runtime("online");
    online.egress = crate::config::Egress::All;
    config.sandbox.slirp4netns = "/nonexistent/slirp4netns".into();
    config.runtimes = vec![bad_runtime(), open, unsandboxed, online];
    f.config = Ok(config);
    let public = IpAddr::from([203, 0, 113, 7]);
    f.listeners = Listeners {
        web: SocketAddr::new(public, 443),
        idp: SocketAddr::new(public, 4001),
        gateway: SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 4002),
        admin: SocketAddr::new(public, 4003),
    };
    f.lifetimes.access = 86_400;
    f.clients = vec![("forever".into(), false, 3650 * 24 * 3600)];
    f.argon2 = Argon2Params::from_phc("$argon2i$v=19$m=4096,t=1,p=1$c2FsdA$aGFzaA");
    f.keys = Some(vec![KeyFact {
        kid: "old".into(),
        created_at: 0,
        modulus_bits: 2048,
    }]);
    f.now_unix = 400 * 86_400;
    f.data_dir_mode = Some(0o40755);
    f.upstream_addrs = vec![
        (
            "http://8.8.8.8:8080".into(),
            vec![IpAddr::from([8, 8, 8, 8])],
        ),
        (
            "http://user:secret@10.0.0.5:8080".into(),
            vec![IpAddr::from([10, 0, 0, 5])],
        ),
    ];
    f.live = Some(LiveFacts {
        jwks: vec![(
            "http://idp/.well-known/openid-configuration".into(),
            Err("refused".into()),
        )],
        anonymous: vec![("http://gw/runtimes/x/invocations".into(), Ok(200))],
        foreign_preflight: vec![(
            "http://gw/runtimes/x/invocations".into(),
            Ok(Some("*".into())),
        )],
    });
    let checks = audit(&f);
    let failed = failing(&checks);
    for control in [
        "tls",
        "tls-redirect",
        "web-plaintext",
        "admin",
        "cors",
        "identity",
        "token-lifetime",
        "refresh-rotation",
        "credentials",
        "jwks-transport",
        "signing-keys",
        "argon2",
        "rate-limits",
        "upstream",
        "jwks",
        "live-auth",
        "live-cors",
        "isolation",
    ] {
        assert!(
            failed.iter().any(|(c, _)| *c == control),
            "{control} did not trip: {checks:#?}"
        );
    }
    // The identity check trips on an open authorizer as well as on a forwarded identity header.
    assert!(failed.contains(&("identity", "bad".into())));
    assert!(failed.contains(&("identity", "open".into())));
    assert!(failed.contains(&("isolation", "bare".into())));
    assert!(
        failed.contains(&("isolation", "online".into())),
        "egress = \"all\" without slirp4netns passed"
    );
    assert!(checks.iter().all(|c| c.pass || !c.fix.is_empty()));
    assert!(checks.iter().all(|c| !c.line().contains("secret@")));
}

#[test]
fn an_invalid_configuration_and_weak_keys_fail() {
    let mut f = good();
    f.config = Err("runtime[0].allowed_origins[0]: '*' is not an origin".into());
    f.keys = Some(vec![KeyFact {
        kid: "short".into(),
        created_at: f.now_unix,
        modulus_bits: 1024,
    }]);
    f.data_dir_mode = Some(0o40711);
    f.db_mode = Some(0o100644);
    let failed = failing(&audit(&f));
    assert!(failed.contains(&("config", "file".into())));
    assert!(failed.contains(&("signing-keys", "idp".into())));
    assert!(failed.contains(&("credentials", "data-dir".into())));
    f.keys = Some(Vec::new());
    assert!(failing(&audit(&f)).contains(&("signing-keys", "idp".into())));
}

#[test]
fn loopback_and_private_addresses_are_told_apart_from_public_ones() {
    for ip in [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "fd00::1",
        "::ffff:10.0.0.1",
    ] {
        assert!(is_private(ip.parse().unwrap()), "{ip}");
    }
    for ip in [
        "8.8.8.8",
        "172.32.0.1",
        "2001:db8::1",
        "0.0.0.0",
        "::ffff:8.8.8.8",
    ] {
        assert!(!is_private(ip.parse().unwrap()), "{ip}");
    }
    assert_eq!(url_host("http://[::1]:80/x"), Some("::1"));
    assert_eq!(url_host("http://u:p@host:1/x"), Some("host"));
    assert!(has_userinfo("http://u:p@host:1/x"));
    assert!(!has_userinfo("http://host:1/x@y"));
}

#[test]
fn argon2_parameters_are_read_from_a_phc_string() {
    let p = Argon2Params::from_phc("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").unwrap();
    assert_eq!(
        (p.algorithm.as_str(), p.memory_kib, p.passes, p.lanes),
        ("argon2id", 19456, 2, 1)
    );
    assert!(Argon2Params::from_phc("not a hash").is_none());
}

fn check<'a>(checks: &'a [Check], control: &str, subject: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.control == control && c.subject == subject)
        .unwrap_or_else(|| panic!("no {control} {subject}: {checks:#?}"))
}

#[test]
fn plain_http_on_a_public_web_listener_fails_even_when_allowed() {
    let mut f = good();
    f.listeners.web = SocketAddr::from(([0, 0, 0, 0], 4000));
    let checks = audit(&f);
    let c = check(&checks, "web-plaintext", "web");
    assert!(!c.pass, "{c:?}");
    assert!(c.detail.contains("refuses to start"), "{c:?}");
    assert!(
        c.fix.contains("tls_cert") && c.fix.contains("127.0.0.1"),
        "{c:?}"
    );
    // The override starts `up`, but the audit still reports it.
    let mut config = Config::default();
    config.web.allow_plaintext_public = true;
    f.config = Ok(config);
    let checks = audit(&f);
    let c = check(&checks, "web-plaintext", "web");
    assert!(
        !c.pass && c.detail.contains("allowed by allow_plaintext_public"),
        "{c:?}"
    );
}

#[test]
fn a_public_web_listener_with_tls_and_a_redirect_passes() {
    let mut f = good();
    f.listeners.web = SocketAddr::from(([0, 0, 0, 0], 443));
    let mut config = Config {
        web_public_url: Some(crate::config::HttpUrl::parse("https://app.example.com").unwrap()),
        ..Config::default()
    };
    config.web.tls_cert = Some("cert.pem".into());
    config.web.tls_key = Some("key.pem".into());
    f.config = Ok(config.clone());
    f.web_tls = Some(WebTlsFact {
        loads: Ok(()),
        key_mode: Some(0o100600),
    });
    // TLS without a redirect: http:// answers nothing.
    let checks = audit(&f);
    assert!(check(&checks, "web-plaintext", "web").pass);
    assert!(check(&checks, "tls", "web").pass);
    assert!(!check(&checks, "tls-redirect", "listeners").pass);
    config.web.redirect_listen = Some(SocketAddr::from(([0, 0, 0, 0], 80)));
    f.config = Ok(config);
    let checks = audit(&f);
    assert!(failing(&checks).is_empty(), "{checks:#?}");
    // A key others can read, or a pair that does not load, fails the web listener's tls control.
    f.web_tls = Some(WebTlsFact {
        loads: Ok(()),
        key_mode: Some(0o100644),
    });
    assert!(!check(&audit(&f), "tls", "web").pass);
    f.web_tls = Some(WebTlsFact {
        loads: Err("no PEM CERTIFICATE block found".into()),
        key_mode: Some(0o100600),
    });
    assert!(!check(&audit(&f), "tls", "web").pass);
}

#[test]
fn shared_rate_limits_that_fail_open_fail_the_audit() {
    let mut f = good();
    let mut config = Config::default();
    config.rate_limits.redis_url = Some("redis://:hunter2@10.0.0.5:6379/0".into());
    f.config = Ok(config.clone());
    let checks = audit(&f);
    let c = check(&checks, "rate-limits", "redis");
    assert!(c.pass, "{c:?}");
    config.rate_limits.fail_open = true;
    f.config = Ok(config);
    let checks = audit(&f);
    let c = check(&checks, "rate-limits", "redis");
    assert!(!c.pass && c.fix.contains("redis_unavailable"), "{c:?}");
    assert!(
        !c.line().contains("hunter2"),
        "the Redis password leaked: {}",
        c.line()
    );
}

#[test]
fn an_egress_all_runtime_passes_with_slirp4netns_and_names_what_it_cannot_reach() {
    let mut f = good();
    let mut config = Config::default();
    let mut online = RuntimeConfig::simple("online", url("http://127.0.0.1:1"));
    online.command = Some(vec!["gatehouse".into(), "agent".into()]);
    online.egress = crate::config::Egress::All;
    config.runtimes = vec![online];
    // Any existing file stands in for the program: doctor checks it is there, not what it is.
    config.sandbox.slirp4netns = std::env::current_exe().unwrap();
    f.config = Ok(config);
    let checks = audit(&f);
    let line = checks
        .iter()
        .find(|c| c.control == "isolation" && c.subject == "online")
        .unwrap();
    assert!(line.pass, "{line:?}");
    assert!(
        line.detail
            .contains("never its loopback nor 169.254.0.0/16"),
        "{line:?}"
    );
}

fn with_oauth(f: &mut Facts, edit: impl FnOnce(&mut crate::config::idp_oauth::IdpOAuthConfig)) {
    let mut c = Config::default();
    edit(&mut c.idp.oauth);
    f.config = Ok(c);
}

#[test]
fn open_registration_fails_and_token_or_off_pass() {
    use crate::config::idp_oauth::Registration;
    let mut f = good();
    with_oauth(&mut f, |o| {
        o.dynamic_client_registration = Registration::Open
    });
    let checks = audit(&f);
    assert!(failing(&checks).contains(&("registration", "idp.oauth".into())));
    assert!(checks.iter().all(|c| c.pass || !c.fix.is_empty()));
    with_oauth(&mut f, |o| {
        o.dynamic_client_registration = Registration::Token
    });
    assert!(failing(&audit(&f)).is_empty());
}

#[test]
fn metadata_documents_from_private_hosts_fail() {
    let mut f = good();
    with_oauth(&mut f, |o| {
        o.client_id_metadata_documents = true;
        o.allow_private_metadata_hosts = true;
    });
    assert!(failing(&audit(&f)).contains(&("metadata-docs", "idp.oauth".into())));
    with_oauth(&mut f, |o| o.client_id_metadata_documents = true);
    assert!(failing(&audit(&f)).is_empty());
}

#[test]
fn a_plain_http_redirect_uri_off_loopback_fails() {
    let mut f = good();
    f.oauth_clients
        .push(oauth_client("legacy", "http://app.example.com/cb"));
    let failed = failing(&audit(&f));
    assert_eq!(failed, [("redirect-uris", "legacy".to_string())]);
}

#[test]
fn a_wildcard_callback_fails() {
    let mut f = good();
    f.oauth_clients
        .push(oauth_client("wild-host", "https://*.example.com/cb"));
    f.oauth_clients
        .push(oauth_client("wild-path", "https://app.example.com/*"));
    let failed = failing(&audit(&f));
    assert_eq!(
        failed,
        [
            ("wildcard-callbacks", "wild-host".to_string()),
            ("wildcard-callbacks", "wild-path".to_string())
        ]
    );
}

#[test]
fn a_secret_never_rotated_for_over_90_days_fails() {
    let mut f = good();
    let mut old = oauth_client("old", "https://old.example.com/cb");
    old.secret_created_at = None;
    old.created_at = f.now_unix - 91 * 86_400;
    f.oauth_clients.push(old);
    let mut public = oauth_client("public", "https://p.example.com/cb");
    public.confidential = false;
    public.created_at = 0;
    f.oauth_clients.push(public);
    let checks = audit(&f);
    assert_eq!(failing(&checks), [("secret-rotation", "old".to_string())]);
    assert!(checks
        .iter()
        .all(|c| !c.line().contains("s3cret") && !c.fix.is_empty() || c.pass));
}

#[test]
fn the_upstream_check_names_each_runtimes_protocol_and_agent_path() {
    let mut f = good();
    let mut mcp = RuntimeConfig::simple("tools", url("http://10.0.0.7:8000"));
    mcp.protocol = crate::config::Protocol::Mcp;
    mcp.agent_path = "/mcp".into();
    f.config = Ok(Config {
        runtimes: vec![mcp],
        ..Config::default()
    });
    f.upstream_addrs = vec![(
        "http://10.0.0.7:8000".into(),
        vec![IpAddr::from([10, 0, 0, 7])],
    )];
    let checks = audit(&f);
    let c = check(&checks, "upstream", "tools v1");
    assert!(c.detail.contains("MCP (Streamable HTTP)"), "{c:?}");
    assert!(c.detail.contains("http://10.0.0.7:8000/mcp"), "{c:?}");
}
