//! RFC 8707 end to end: a client-credentials token requested with `resource=R` carries `aud = R`, and a runtime
//! whose authorizer (gatehouse's own pool, by its discovery URL) lists `allowed_audience = [R]` accepts it, while
//! a runtime that lists another audience refuses it — as it refuses a token requested without a resource.
use std::net::TcpListener;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::{body_text, fake_agent, invoke, send, Gatehouse};
use crate::idp::oauth_cli::run;

async fn client_credentials(
    g: &Gatehouse,
    id: &str,
    secret: &str,
    resource: Option<&str>,
) -> String {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let form = match resource {
        Some(r) => format!(
            "grant_type=client_credentials&resource={}",
            percent_encoding::utf8_percent_encode(r, percent_encoding::NON_ALPHANUMERIC)
        ),
        None => "grant_type=client_credentials".to_string(),
    };
    let resp = send(
        "POST",
        &format!("{}/oauth2/token", g.endpoints.idp),
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", &format!("Basic {basic}")),
        ],
        form,
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = serde_json::from_str(&body_text(resp).await).unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_resource_bound_token_is_accepted_exactly_by_the_runtime_that_allows_its_audience() {
    // The pool, its resource servers and the client exist before `up`, so the configuration can name the
    // pool's discovery URL on a port chosen now.
    let idp_listen = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    for api in ["https://orders.example.com", "https://billing.example.com"] {
        let (code, _, err) = run(
            &dir,
            &[
                "resource-server",
                "create",
                "--identifier",
                api,
                "--scope",
                "call:Call",
            ],
        );
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, err) = run(
        &dir,
        &[
            "client",
            "create",
            "--name",
            "m2m",
            "--secret",
            "--json",
            "--oauth-flows",
            "client_credentials",
            "--oauth-scopes",
            "https://orders.example.com/call https://billing.example.com/call",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let creds: Value = serde_json::from_str(out.trim()).unwrap();
    let (id, secret) = (
        creds["client_id"].as_str().unwrap(),
        creds["client_secret"].as_str().unwrap(),
    );
    let pool = {
        let store = gatehouse::store::SqliteStore::open_in(&dir).await.unwrap();
        gatehouse::idp::bootstrap::default_pool(&store, &gatehouse::clock::SystemClock)
            .await
            .unwrap()
            .0
            .id
    };
    let fake = fake_agent::start();
    let disc = format!("http://{idp_listen}/{pool}/.well-known/openid-configuration");
    let config = format!(
        r#"
version = 1
[[runtime]]
name = "orders"
upstream = "{fake}"
[runtime.authorizer]
discovery_url = "{disc}"
allowed_audience = ["https://orders.example.com"]

[[runtime]]
name = "billing"
upstream = "{fake}"
[runtime.authorizer]
discovery_url = "{disc}"
allowed_audience = ["https://billing.example.com"]
"#
    );
    let path = tmp.path().join("aud.toml");
    std::fs::write(&path, config).unwrap();
    let g = Gatehouse::start_in_at(&dir, &idp_listen, &["--config", path.to_str().unwrap()]);

    let orders = client_credentials(&g, id, secret, Some("https://orders.example.com")).await;
    let ok = invoke(
        &g.runtime_url("orders"),
        Some(&orders),
        &[],
        &json!({"prompt": "hi"}),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let refused = invoke(
        &g.runtime_url("billing"),
        Some(&orders),
        &[],
        &json!({"prompt": "hi"}),
    )
    .await;
    assert!(
        matches!(refused.status, 401 | 403),
        "a token for another audience is refused: {} {}",
        refused.status,
        refused.body
    );
    let billing = client_credentials(&g, id, secret, Some("https://billing.example.com")).await;
    let ok = invoke(
        &g.runtime_url("billing"),
        Some(&billing),
        &[],
        &json!({"prompt": "hi"}),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let no_aud = client_credentials(&g, id, secret, None).await;
    for rt in ["orders", "billing"] {
        let r = invoke(
            &g.runtime_url(rt),
            Some(&no_aud),
            &[],
            &json!({"prompt": "hi"}),
        )
        .await;
        assert!(
            matches!(r.status, 401 | 403),
            "{rt}: a token without aud is refused: {}",
            r.status
        );
    }
}
