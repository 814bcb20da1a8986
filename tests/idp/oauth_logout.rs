//! `GET /logout` over real sockets: a registered logout URL is redirected to (a loopback one on any port); every
//! open-redirect attempt — an unregistered URL, a look-alike host, another client's URL, a missing or repeated
//! parameter, an unknown client — is a 400 page and never a `Location`.
use crate::common::{body_text, send, shared};

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn logout_redirects_only_to_a_registered_logout_url() {
    let g = shared();
    let (client, _) = g.create_client(&[
        "--oauth-flows",
        "code",
        "--callback-url",
        "https://app.example.com/cb",
        "--logout-url",
        "https://app.example.com/bye",
        "--logout-url",
        "http://127.0.0.1/bye",
    ]);
    let (other, _) = g.create_client(&[
        "--oauth-flows",
        "code",
        "--callback-url",
        "https://other.example.com/cb",
        "--logout-url",
        "https://other.example.com/bye",
    ]);
    let url = |query: String| format!("{}/logout?{query}", g.endpoints.idp);
    for target in ["https://app.example.com/bye", "http://127.0.0.1:53121/bye"] {
        let resp = send(
            "GET",
            &url(format!("client_id={client}&logout_uri={}", enc(target))),
            &[],
            String::new(),
        )
        .await;
        assert_eq!(resp.status().as_u16(), 302, "{target}");
        assert_eq!(resp.headers()["location"], target);
    }
    for query in [
        format!(
            "client_id={client}&logout_uri={}",
            enc("https://evil.example.com/bye")
        ),
        format!(
            "client_id={client}&logout_uri={}",
            enc("https://app.example.com.evil.com/bye")
        ),
        format!(
            "client_id={client}&logout_uri={}",
            enc("https://app.example.com/bye/../../evil")
        ),
        format!(
            "client_id={client}&logout_uri={}",
            enc("//evil.example.com/bye")
        ),
        format!(
            "client_id={client}&logout_uri={}",
            enc("https://other.example.com/bye")
        ),
        format!(
            "client_id={other}&logout_uri={}",
            enc("https://app.example.com/bye")
        ),
        format!(
            "client_id=nosuchclient&logout_uri={}",
            enc("https://app.example.com/bye")
        ),
        format!("client_id={client}"),
        format!(
            "client_id={client}&logout_uri={}&logout_uri={}",
            enc("https://app.example.com/bye"),
            enc("https://evil.example.com/")
        ),
    ] {
        let resp = send("GET", &url(query.clone()), &[], String::new()).await;
        assert_eq!(resp.status().as_u16(), 400, "{query}");
        assert!(
            resp.headers().get("location").is_none(),
            "never redirected: {query}"
        );
        let text = body_text(resp).await;
        assert!(text.starts_with("Sign-out refused:"), "{text}");
    }
}
