//! The controls on how gatehouse is reached: TLS on each listener, plain HTTP on the web listener, the
//! HTTP→HTTPS redirect, the admin listener's address, CORS origins, rate limits, the agents' upstream addresses,
//! and what a running deployment answers. Pure judgements of [`Facts`]; never probes anything itself.
use super::*;

pub(super) fn tls(f: &Facts, c: &Config, out: &mut Vec<Check>) {
    let l = &f.listeners;
    let web_tls = c.web.tls();
    let idp_tls = c.listeners.idp_tls.is_some();
    let gw_tls = c.listeners.gateway_tls.is_some();
    for (name, addr, public, own_tls) in [
        ("web", l.web, &c.web_public_url, web_tls),
        ("idp", l.idp, &c.idp_public_url, idp_tls),
        ("gateway", l.gateway, &c.gateway_public_url, gw_tls),
    ] {
        listener_tls(f, name, addr, public.as_deref(), own_tls, out);
    }
    web_plaintext(l, c, web_tls, out);
    tls_redirect(l, c, (web_tls, idp_tls, gw_tls), out);
    admin_listener(l, out);
}

pub(super) fn cors(c: &Config, out: &mut Vec<Check>) {
    embedded_demo(
        c,
        "cors",
        "the embedded runtime allows exactly the web listener's own origin",
        out,
    );
    for r in &c.runtimes {
        let bad: Vec<&String> = r
            .allowed_origins
            .iter()
            .filter(|o| {
                let lower = o.to_ascii_lowercase();
                lower == "null"
                    || o.contains('*')
                    || !(lower.starts_with("https://")
                        || (lower.starts_with("http://")
                            && url_host(&lower).is_some_and(host_is_loopback)))
            })
            .collect();
        let web = c.web_public_url.as_deref().map(|u| u.trim_end_matches('/'));
        let unknown: Vec<&String> = match web {
            Some(w) => r
                .allowed_origins
                .iter()
                .filter(|o| !o.eq_ignore_ascii_case(w) && !bad.contains(o))
                .collect(),
            None => Vec::new(),
        };
        if !bad.is_empty() {
            out.push(Check::fail(
                "cors",
                r.name.clone(),
                format!(
                    "allowed_origins has {} (wildcard, null or plain http off loopback)",
                    join(&bad)
                ),
                "list only the exact https:// origins of your web apps",
            ));
        } else if !unknown.is_empty() {
            out.push(Check::fail(
                "cors",
                r.name.clone(),
                format!(
                    "allowed_origins has {} besides [web] public_url",
                    join(&unknown)
                ),
                "remove origins that are not your own web app, or confirm each and set [web] public_url",
            ));
        } else {
            out.push(Check::pass(
                "cors",
                r.name.clone(),
                if r.allowed_origins.is_empty() {
                    "no browser origin allowed (non-browser clients only)".to_string()
                } else {
                    format!(
                        "only {}",
                        join(&r.allowed_origins.iter().collect::<Vec<_>>())
                    )
                },
            ));
        }
    }
}

pub(super) fn rate_limits(c: &Config, out: &mut Vec<Check>) {
    // With Redis shared by several instances, what happens while it is away decides whether limits hold at all.
    if let Some(url) = c
        .rate_limits
        .redis_url
        .as_ref()
        .map(crate::config::Secret::expose)
    {
        if c.rate_limits.fail_open {
            out.push(Check::fail(
                "rate-limits",
                "redis",
                format!(
                    "{}: redis_unavailable = \"open\" lifts every limit while Redis is unreachable",
                    redact(url)
                ),
                "set [gateway] redis_unavailable = \"closed\" (the default): 503 until Redis is back",
            ));
        } else {
            out.push(Check::pass(
                "rate-limits",
                "redis",
                format!("{}: shared by every instance, fail closed", redact(url)),
            ));
        }
    }
    embedded_demo(
        c,
        "rate-limits",
        "default limits: 600 requests/min, burst 60, 100 sessions and 20 WebSockets per user",
        out,
    );
    for r in &c.runtimes {
        let l = &r.limits;
        let mut problems = Vec::new();
        if l.requests_per_minute > MAX_SANE_REQUESTS_PER_MINUTE {
            problems.push(format!("requests_per_minute {}", l.requests_per_minute));
        }
        if l.burst > l.requests_per_minute {
            problems.push(format!("burst {} above requests_per_minute", l.burst));
        }
        if l.max_sessions_per_user > 1000 {
            problems.push(format!("max_sessions_per_user {}", l.max_sessions_per_user));
        }
        if l.ws_max_sockets_per_user > 100 {
            problems.push(format!(
                "ws_max_sockets_per_user {}",
                l.ws_max_sockets_per_user
            ));
        }
        if l.max_payload_bytes > 100_000_000 {
            problems.push(format!("max_payload_bytes {}", l.max_payload_bytes));
        }
        if problems.is_empty() {
            out.push(Check::pass(
                "rate-limits",
                r.name.clone(),
                format!(
                    "{} requests/min, burst {}, {} sessions and {} WebSockets per user",
                    l.requests_per_minute,
                    l.burst,
                    l.max_sessions_per_user,
                    l.ws_max_sockets_per_user
                ),
            ));
        } else {
            out.push(Check::fail(
                "rate-limits",
                r.name.clone(),
                format!("effectively unlimited: {}", problems.join(", ")),
                format!(
                    "set [runtime.limits] requests_per_minute ≤ {MAX_SANE_REQUESTS_PER_MINUTE}, burst ≤ it, \
                     sessions ≤ 1000, WebSockets ≤ 100 per user, payload ≤ 100 MB"
                ),
            ));
        }
    }
}

pub(super) fn upstreams(f: &Facts, c: &Config, out: &mut Vec<Check>) {
    embedded_demo(
        c,
        "upstream",
        "the reference agent listens on 127.0.0.1 (reachable only through gatehouse)",
        out,
    );
    for r in &c.runtimes {
        for (n, url) in &r.versions {
            let subject = format!("{} v{n}", r.name);
            let shown = redact(url);
            let addrs = f
                .upstream_addrs
                .iter()
                .find(|(u, _)| *u == **url)
                .map(|(_, a)| a.as_slice())
                .unwrap_or(&[]);
            if addrs.is_empty() {
                out.push(Check::fail(
                    "upstream",
                    subject,
                    format!("{shown} does not resolve"),
                    "point upstream at the agent's loopback or private address",
                ));
            } else if let Some(public) = addrs.iter().find(|a| !is_private(**a)) {
                out.push(Check::fail(
                    "upstream",
                    subject,
                    format!("{shown} resolves to the public address {public}: the agent can be called around gatehouse"),
                    "bind the agent to 127.0.0.1 or a private network reachable only by gatehouse",
                ));
            } else {
                out.push(Check::pass(
                    "upstream",
                    subject,
                    format!(
                        "{shown} is loopback or private; {} requests go to {}{}",
                        protocol_name(r.protocol),
                        shown.trim_end_matches('/'),
                        r.agent_path
                    ),
                ));
            }
        }
    }
}

/// How doctor names a runtime's protocol.
fn protocol_name(p: crate::config::Protocol) -> &'static str {
    match p {
        crate::config::Protocol::Http => "HTTP (AgentCore's contract)",
        crate::config::Protocol::Mcp => "MCP (Streamable HTTP)",
        crate::config::Protocol::A2a => "A2A (JSON-RPC)",
    }
}

pub(super) fn live_checks(live: &LiveFacts, out: &mut Vec<Check>) {
    let jwks_fix =
        "make the discovery URL and its jwks_uri reachable from gatehouse (tokens fail closed until then)";
    per_url(out, "jwks", &live.jwks, jwks_fix, |url, n| {
        if *n > 0 {
            Check::pass(
                "jwks",
                url,
                format!("discovery and JWKS reachable, {n} key(s)"),
            )
        } else {
            Check::fail(
                "jwks",
                url,
                "the JWKS has no usable RS256 key",
                "publish the signing key in the IdP's JWKS",
            )
        }
    });
    let running = "check the URL and that gatehouse is running";
    per_url(out, "live-auth", &live.anonymous, running, |url, s| {
        if *s == 401 {
            Check::pass(
                "live-auth",
                url,
                "an invocation without a token is refused with 401",
            )
        } else {
            Check::fail(
                "live-auth",
                url,
                format!("an invocation without a token answered {s}"),
                "put gatehouse in front of the runtime and check its authorizer",
            )
        }
    });
    per_url(
        out,
        "live-cors",
        &live.foreign_preflight,
        running,
        |url, v| match v {
            None => Check::pass(
                "live-cors",
                url,
                "a preflight from a foreign origin gets no Access-Control-Allow-Origin",
            ),
            Some(v) => Check::fail(
                "live-cors",
                url,
                format!("a preflight from a foreign origin got Access-Control-Allow-Origin: {v}"),
                "allow only your web app's exact origin",
            ),
        },
    );
}

/// One check of `control` per URL the live probe tried: `judge` reads an answer (given the URL as shown); a URL
/// that could not be reached fails with `fix`.
fn per_url<T>(
    out: &mut Vec<Check>,
    control: &'static str,
    answers: &[(String, Result<T, String>)],
    fix: &str,
    judge: impl Fn(String, &T) -> Check,
) {
    for (url, r) in answers {
        out.push(match r {
            Ok(answer) => judge(short(url), answer),
            Err(e) => Check::fail(control, short(url), format!("unreachable: {e}"), fix),
        });
    }
}

/// The `tls` control for one listener: its own TLS (and whether its files load), loopback, or a finding.
fn listener_tls(
    f: &Facts,
    name: &str,
    addr: SocketAddr,
    public: Option<&str>,
    own_tls: bool,
    out: &mut Vec<Check>,
) {
    let fact = if name == "web" {
        f.web_tls.as_ref()
    } else {
        f.listener_tls
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
    };
    let public_https = public.is_some_and(|u| u.starts_with("https://"));
    let public_plain = public
        .is_some_and(|u| u.starts_with("http://") && !url_host(u).is_some_and(host_is_loopback));
    if public_plain {
        out.push(Check::fail(
            "tls",
            name,
            format!(
                "public_url {} is plain http on a non-loopback host",
                redact(public.unwrap_or(""))
            ),
            format!("serve it over TLS and set [{name}] public_url = \"https://…\""),
        ));
    } else if own_tls {
        match fact {
            Some(WebTlsFact { loads: Err(e), .. }) => out.push(Check::fail(
                "tls",
                name,
                format!("the certificate and key do not load: {e}"),
                format!("point [{name}] tls_cert at the PEM certificate chain and tls_key at its PEM private key"),
            )),
            Some(WebTlsFact {
                key_mode: Some(m), ..
            }) if m & 0o077 != 0 => out.push(Check::fail(
                "tls",
                name,
                format!("the private key file is open to other users (mode {:o})", m & 0o777),
                "chmod 600 the key file (and keep it owned by the user gatehouse runs as)",
            )),
            Some(_) => out.push(Check::pass(
                "tls",
                name,
                format!(
                    "listens on {addr} with TLS (rustls, TLS 1.2 and 1.3{}; reloaded when the files change); \
                     certificate and key load, key file private",
                    if name == "web" { "; HSTS sent" } else { "" }
                ),
            )),
            None => out.push(Check::pass(
                "tls",
                name,
                format!("listens on {addr} with TLS (the certificate files were not examined)"),
            )),
        }
    } else if is_loopback(addr.ip()) {
        out.push(Check::pass(
            "tls",
            name,
            format!(
                "listens on {addr} (loopback only): TLS not applicable here{}",
                if public_https {
                    "; public URL is https (terminated in front)"
                } else {
                    ""
                }
            ),
        ));
    } else {
        let fix = if name == "web" {
            "set [web] tls_cert and tls_key (or --web-tls-cert/--web-tls-key), or bind --web-listen to \
             127.0.0.1 behind a TLS reverse proxy and set [web] public_url to its https:// URL"
                .to_string()
        } else {
            format!(
                "set [{name}] tls_cert and tls_key, or bind --{name}-listen to 127.0.0.1 and terminate TLS \
                 in a reverse proxy; set [{name}] public_url to its https:// URL"
            )
        };
        out.push(Check::fail(
            "tls",
            name,
            format!("listens on {addr} without TLS"),
            fix,
        ));
    }
}

/// `web-plaintext`: `up` refuses plain HTTP off loopback on the web listener unless told otherwise; the override
/// is still a finding.
fn web_plaintext(l: &Listeners, c: &Config, web_tls: bool, out: &mut Vec<Check>) {
    if web_tls || is_loopback(l.web.ip()) {
        out.push(Check::pass(
            "web-plaintext",
            "web",
            if web_tls {
                format!("the web listener on {} serves HTTPS only", l.web)
            } else {
                format!("plain HTTP only on loopback ({})", l.web)
            },
        ));
    } else {
        out.push(Check::fail(
            "web-plaintext",
            "web",
            format!(
                "the web listener serves plain HTTP on the non-loopback address {}{}",
                l.web,
                if c.web.allow_plaintext_public {
                    " (allowed by allow_plaintext_public)"
                } else {
                    "; `up` refuses to start like this"
                }
            ),
            "set [web] tls_cert and tls_key (or --web-tls-cert/--web-tls-key), or bind --web-listen to 127.0.0.1 \
             behind a TLS proxy; allow_plaintext_public only when that proxy is on a private network",
        ));
    }
}

/// `tls-redirect`: whether http:// off this host is answered with a redirect to https://.
fn tls_redirect(
    l: &Listeners,
    c: &Config,
    (web_tls, idp_tls, gw_tls): (bool, bool, bool),
    out: &mut Vec<Check>,
) {
    let exposed: Vec<&str> = [
        ("web", l.web, web_tls),
        ("idp", l.idp, idp_tls),
        ("gateway", l.gateway, gw_tls),
    ]
    .into_iter()
    .filter(|(_, a, tls)| !is_loopback(a.ip()) && !tls)
    .map(|(n, _, _)| n)
    .collect();
    let web_tls_exposed = web_tls && !is_loopback(l.web.ip());
    if !exposed.is_empty() {
        out.push(Check::fail(
            "tls-redirect",
            "listeners",
            format!(
                "{} answer plain HTTP off this host and gatehouse has no HTTP→HTTPS redirect for them",
                exposed.join(", ")
            ),
            "bind them to loopback behind a TLS proxy that redirects http:// to https://",
        ));
    } else if web_tls_exposed && c.web.redirect_listen.is_none() {
        out.push(Check::fail(
            "tls-redirect",
            "listeners",
            format!(
                "the web listener serves HTTPS on {} but nothing answers http:// with a redirect",
                l.web
            ),
            "set [web] redirect_listen = \"0.0.0.0:80\" (or --web-redirect-listen) with [web] public_url = \
             \"https://…\"",
        ));
    } else if let Some(r) = c.web.redirect_listen.filter(|_| web_tls) {
        out.push(Check::pass(
            "tls-redirect",
            "listeners",
            format!(
                "{r} redirects every request to {} (308, host from public_url)",
                c.web_public_url.as_deref().unwrap_or("public_url")
            ),
        ));
    } else {
        out.push(Check::pass(
            "tls-redirect",
            "listeners",
            "no listener is reachable off this host: an HTTP→HTTPS redirect belongs to the proxy in front",
        ));
    }
}

/// `admin`: the metrics listener stays on loopback or a private address.
fn admin_listener(l: &Listeners, out: &mut Vec<Check>) {
    if is_private(l.admin.ip()) {
        out.push(Check::pass(
            "admin",
            "listener",
            format!("metrics listen on {} (loopback or private)", l.admin),
        ));
    } else {
        out.push(Check::fail(
            "admin",
            "listener",
            format!("metrics listen on the public address {}", l.admin),
            "bind --admin-listen to 127.0.0.1 or a private address",
        ));
    }
}
