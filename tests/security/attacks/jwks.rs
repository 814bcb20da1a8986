//! Attack class: hostile or broken JWKS of external authorizers (fail closed, bounded fetching). Owns no
//! production code.
use super::*;

// === 6: JWKS fetching (external authorizers) ===

#[tokio::test]
async fn hostile_or_broken_jwks_fail_closed() {
    use crate::common::attack::FakeIdp;
    let der = gatehouse::token::RsaSigner::generate_pkcs8().unwrap();
    let signer = gatehouse::token::RsaSigner::from_pkcs8("ext-key".into(), &der).unwrap();
    let idp = FakeIdp::start(serde_json::to_value(signer.public_jwk()).unwrap()).await;
    let agent = crate::common::fake_agent::start();
    let modes = ["ok", "big", "bomb", "enc", "slow", "down"];
    let mut toml = String::from("version = 1\n");
    for m in modes {
        let discovery = if m == "down" {
            // A port that was free a moment ago: nothing listens there.
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!(
                "http://{}/down/.well-known/openid-configuration",
                l.local_addr().unwrap()
            )
        } else {
            idp.discovery(m)
        };
        toml.push_str(&format!(
            "[[runtime]]\nname = \"jwks_{m}\"\nupstream = \"{agent}/{m}\"\n[runtime.authorizer]\ndiscovery_url = \"{discovery}\"\nallowed_clients = [\"ext-client\"]\n"
        ));
    }
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("jwks.toml");
    std::fs::write(&config, toml).unwrap();
    let g = Gatehouse::start_in(
        &tmp.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let url = |m: &str| {
        g.endpoints
            .runtimes
            .iter()
            .find(|r| r.name == format!("jwks_{m}"))
            .unwrap()
            .invocations_url
            .clone()
    };
    let token = |m: &str, kid: &str| {
        let t = now();
        rs256(
            &json!({"alg": "RS256", "kid": kid, "typ": "JWT"}),
            &json!({"sub": "ext-user", "iss": format!("{}/{m}", idp.base), "client_id": "ext-client",
                    "token_use": "access", "iat": t, "exp": t + 600}),
            &der,
        )
    };
    let call = |m: &'static str, kid: String| {
        let (u, t) = (url(m), token(m, &kid));
        async move {
            let auth = format!("Bearer {t}");
            request(
                "POST",
                &u,
                &[
                    ("authorization", auth.as_bytes()),
                    ("content-type", b"application/json"),
                ],
                "{}",
            )
            .await
        }
    };
    let mut rows = vec![Row::new(
        "control: a token of the external IdP",
        "200",
        call("ok", "ext-key".into()).await.describe(),
    )];
    // kid flood: random kids must not turn into one JWKS fetch each.
    let mut flood = Vec::new();
    for _ in 0..25 {
        flood.push(
            call("ok", gatehouse::util::random_alnum(12))
                .await
                .describe(),
        );
    }
    flood.dedup();
    rows.push(Row::new(
        "25 tokens with random kids",
        INVALID,
        flood.join(", "),
    ));
    rows.push(Row::new(
        "JWKS fetches caused by the flood (≤ 1 refresh per interval)",
        "≤ 2 fetches",
        match idp.fetches("ok") {
            n if n <= 2 => "≤ 2 fetches".to_string(),
            n => format!("{n} fetches"),
        },
    ));
    for (m, name) in [
        ("big", "JWKS over 64 KiB"),
        ("bomb", "JWKS of 50 000 nested arrays"),
        ("down", "IdP down (connection refused)"),
    ] {
        rows.push(Row::new(
            format!("{name}: fail closed"),
            "503",
            call(m, "ext-key".into()).await.status.to_string(),
        ));
    }
    rows.push(Row::new(
        "key published with use \"enc\"",
        "401 invalid_token | 503 ServiceUnavailableException",
        call("enc", "ext-key".into()).await.describe(),
    ));
    let start = Instant::now();
    let slow = call("slow", "ext-key".into()).await;
    rows.push(Row::new(
        "JWKS that never answers: fail closed within 15 s",
        "503 within 15 s",
        format!(
            "{}{}",
            slow.status,
            if start.elapsed() <= Duration::from_secs(15) {
                " within 15 s"
            } else {
                " too late"
            }
        ),
    ));
    report("JWKS fetching (checklist 6)", &rows);
}

#[tokio::test]
async fn same_kid_with_a_new_key_is_picked_up_and_forgeries_under_it_cost_one_fetch() {
    use crate::common::attack::FakeIdp;
    let key = |der: &[u8]| {
        let s = gatehouse::token::RsaSigner::from_pkcs8("ext-key".into(), der).unwrap();
        serde_json::to_value(s.public_jwk()).unwrap()
    };
    let old = gatehouse::token::RsaSigner::generate_pkcs8().unwrap();
    let new = gatehouse::token::RsaSigner::generate_pkcs8().unwrap();
    let forger = gatehouse::token::RsaSigner::generate_pkcs8().unwrap();
    let idp = FakeIdp::start(key(&old)).await;
    let agent = crate::common::fake_agent::start();
    let toml = format!(
        "[[runtime]]\nname = \"rot\"\nupstream = \"{agent}/rot\"\n[runtime.authorizer]\ndiscovery_url = \"{}\"\nallowed_clients = [\"ext-client\"]\njwks_refresh_interval = \"1s\"\n",
        idp.discovery("rot")
    );
    let (_tmp, g) = crate::common::start_with_config(&toml);
    let url = g.endpoints.runtimes[0].invocations_url.clone();
    let call = |der: Vec<u8>| {
        let url = url.clone();
        let iss = format!("{}/rot", idp.base);
        async move {
            let t = now();
            let token = rs256(
                &json!({"alg": "RS256", "kid": "ext-key", "typ": "JWT"}),
                &json!({"sub": "ext-user", "iss": iss, "client_id": "ext-client",
                        "token_use": "access", "iat": t, "exp": t + 600}),
                &der,
            );
            let auth = format!("Bearer {token}");
            request(
                "POST",
                &url,
                &[
                    ("authorization", auth.as_bytes()),
                    ("content-type", b"application/json"),
                ],
                "{}",
            )
            .await
        }
    };
    let mut rows = vec![Row::new(
        "control: the published key",
        "200",
        call(old.clone()).await.status.to_string(),
    )];
    // The issuer replaces its key in place: same kid, new modulus.
    idp.rotate(key(&new));
    let deadline = Instant::now() + Duration::from_secs(10);
    let picked_up = loop {
        let status = call(new.clone()).await.status;
        if status == 200 || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    rows.push(Row::new(
        "same kid, new key: accepted after a refresh",
        "200",
        picked_up.to_string(),
    ));
    rows.push(Row::new(
        "the replaced key under that kid",
        INVALID,
        call(old.clone()).await.describe(),
    ));
    let before = idp.fetches("rot");
    let flood_start = Instant::now();
    let mut flood = Vec::new();
    for _ in 0..25 {
        flood.push(call(forger.clone()).await.describe());
    }
    // One refresh may happen per jwks_refresh_interval (1 s) of flood, plus one at its start.
    let budget = 2 + flood_start.elapsed().as_secs() as usize;
    flood.dedup();
    rows.push(Row::new(
        "25 forged signatures under the known kid",
        INVALID,
        flood.join(", "),
    ));
    rows.push(Row::new(
        "JWKS fetches caused by the forgeries (≤ 1 per interval)",
        "bounded",
        match idp.fetches("rot") - before {
            n if n <= budget => "bounded".to_string(),
            n => format!("{n} fetches for a budget of {budget}"),
        },
    ));
    report("JWKS rotation in place (checklist 6)", &rows);
}
