//! Attack class: identity headers a client sends must never reach the agent. Owns no production code.
use super::*;

// === 7: identity headers ===

#[tokio::test]
async fn identity_headers_sent_by_clients_never_reach_the_agent() {
    identity_headers(Route::Http).await;
}

#[tokio::test]
async fn identity_headers_sent_by_clients_never_reach_an_mcp_server() {
    identity_headers(Route::Mcp).await;
}

#[tokio::test]
async fn identity_headers_sent_by_clients_never_reach_an_a2a_agent() {
    identity_headers(Route::A2a).await;
}

async fn identity_headers(route: Route) {
    let g = shared();
    let v = victim(g, "ident").await;
    let auth = format!("Bearer {}", v.token);
    let spoofs: &[(&str, &str)] = &[
        ("X-Amzn-Bedrock-AgentCore-Runtime-User-Id", "mallory"),
        ("x-amzn-bedrock-agentcore-runtime-user-id", "mallory"),
        ("X-AMZN-BEDROCK-AGENTCORE-RUNTIME-USER-ID", "mallory"),
        ("x-user-id", "mallory"),
        ("X-User-Id", "mallory"),
        ("x-forwarded-user", "mallory"),
        ("x-forwarded-email", "mallory@example.com"),
        ("x-forwarded-for", "6.6.6.6"),
        ("x-forwarded-host", "mallory.example"),
        ("x-forwarded-proto", "https"),
        ("x-real-ip", "6.6.6.6"),
        ("forwarded", "for=6.6.6.6;by=mallory"),
        ("x-amzn-oidc-identity", "mallory"),
        ("x-amzn-oidc-data", "mallory"),
        ("x-amzn-oidc-accesstoken", "mallory"),
        ("x-remote-user", "mallory"),
        ("remote-user", "mallory"),
        ("x-auth-request-user", "mallory"),
        ("x-amzn-bedrock-agentcore-runtime-request-id", "mallory"),
        ("x-amz-security-token", "mallory"),
        ("cookie", "session=mallory"),
        ("proxy-authorization", "Basic mallory"),
    ];
    let mut rows = Vec::new();
    for (name, value) in spoofs {
        let a = invoke_on(
            g,
            route,
            Some(auth.as_bytes()),
            &[(name, value.as_bytes()), (name, b"mallory-duplicate")],
        )
        .await;
        let got = if a.status == 200 {
            let user_ok = route.user_seen(&a).as_deref() == Some(v.sub.as_str());
            let headers = route.headers_seen(&a);
            let leaked = headers.contains("mallory") || headers.contains("6.6.6.6");
            format!(
                "200 user_id={} spoofed-value-forwarded={leaked}",
                if user_ok { "sub" } else { "SPOOFED" }
            )
        } else {
            a.describe()
        };
        rows.push(Row::new(
            format!("{name}: {value} (twice)"),
            "200 user_id=sub spoofed-value-forwarded=false",
            got,
        ));
    }
    let a = invoke_on(g, route, Some(auth.as_bytes()), &[]).await;
    let headers: Value = serde_json::from_str(&route.headers_seen(&a)).unwrap_or(Value::Null);
    for gone in ["authorization", "sec-websocket-protocol"] {
        rows.push(Row::new(
            format!("{gone} stripped before the agent"),
            "absent",
            if headers.get(gone).is_some() || route.headers_seen(&a).contains(&v.token) {
                "forwarded"
            } else {
                "absent"
            },
        ));
    }
    let anon = invoke_on(
        g,
        route,
        None,
        &[("x-amzn-bedrock-agentcore-runtime-user-id", b"mallory")],
    )
    .await;
    rows.push(Row::new(
        "spoofed user id without a token",
        "401 no-error",
        anon.describe(),
    ));
    report(
        &format!("identity headers (checklist 7), {route:?} runtime"),
        &rows,
    );
}
