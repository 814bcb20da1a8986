//! Attack class: cross-origin requests (only the app's own origin is answered). Owns no production code.
use super::*;

// === 11: CORS ===

#[tokio::test]
async fn cors_only_answers_the_apps_own_origin() {
    let g = shared();
    let v = victim(g, "cors").await;
    let web = g.endpoints.web.clone();
    let host = authority(&web);
    let url = g.invocations_url();
    let preflight = |origins: Vec<String>| {
        let url = url.clone();
        async move {
            let mut h: Vec<(&str, &[u8])> = vec![
                ("access-control-request-method", b"POST"),
                (
                    "access-control-request-headers",
                    b"authorization, content-type",
                ),
            ];
            for o in &origins {
                h.push(("origin", o.as_bytes()));
            }
            let a = request("OPTIONS", &url, &h, "").await;
            let acao = a
                .headers
                .get("access-control-allow-origin")
                .map_or("none".to_string(), |v| {
                    v.to_str().unwrap_or("?").to_string()
                });
            let creds_with_star =
                acao == "*" && a.headers.contains_key("access-control-allow-credentials");
            let vary = a.headers.get_all("vary").iter().any(|v| {
                v.to_str()
                    .unwrap_or("")
                    .to_ascii_lowercase()
                    .contains("origin")
            });
            format!(
                "{} acao={}{}{}",
                a.status,
                if acao == "none" {
                    "none"
                } else if origins.first() == Some(&acao) {
                    "echo"
                } else {
                    acao.as_str()
                },
                if vary { "" } else { " no-vary" },
                if creds_with_star {
                    " STAR+CREDENTIALS"
                } else {
                    ""
                }
            )
        }
    };
    let mut rows = vec![Row::new(
        "control: the app's origin",
        "204 acao=echo",
        preflight(vec![web.clone()]).await,
    )];
    for (name, origin) in [
        ("another site", "https://evil.example".to_string()),
        ("Origin: null", "null".to_string()),
        ("suffix trick", format!("{web}.evil.example")),
        ("prefix trick", format!("http://evil{host}")),
        ("subdomain trick", format!("http://evil.{host}")),
        ("scheme swap", web.replacen("http://", "https://", 1)),
        ("trailing slash", format!("{web}/")),
        ("userinfo trick", format!("http://{host}@evil.example")),
        ("wildcard", "*".to_string()),
        ("empty", String::new()),
    ] {
        rows.push(Row::new(
            format!("preflight from {name}"),
            "403 acao=none",
            preflight(vec![origin]).await,
        ));
    }
    rows.push(Row::new(
        "preflight with two Origin headers",
        "403 acao=none",
        preflight(vec![web.clone(), "https://evil.example".into()]).await,
    ));
    // The actual request: a preflight never stands in for authentication.
    let auth = format!("Bearer {}", v.token);
    let evil = request(
        "POST",
        &url,
        &[
            ("origin", b"https://evil.example"),
            ("authorization", auth.as_bytes()),
            ("content-type", b"application/json"),
        ],
        json!({"stream": false}).to_string(),
    )
    .await;
    rows.push(Row::new(
        "POST with a valid token from another site",
        "403 | 403 AccessDeniedException",
        format!(
            "{}{}",
            evil.describe(),
            if evil.headers.contains_key("access-control-allow-origin") {
                " with ACAO"
            } else {
                ""
            }
        ),
    ));
    let own = request(
        "POST",
        &url,
        &[
            ("origin", web.as_bytes()),
            ("content-type", b"application/json"),
        ],
        json!({"stream": false}).to_string(),
    )
    .await;
    rows.push(Row::new(
        "POST from the app's origin without a token",
        "401 no-error",
        own.describe(),
    ));
    report("CORS (checklist 11)", &rows);
}
