//! Attack class: WebSocket handshakes refused before the upgrade. Owns no production code.
use super::*;

// === 8: WebSocket handshakes ===

async fn ws_handshake(url: &str, headers: &[(&str, String)]) -> String {
    let mut req = url.into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    match tokio::time::timeout(
        Duration::from_secs(15),
        tokio_tungstenite::connect_async(req),
    )
    .await
    {
        Err(_) => "timeout".into(),
        Ok(Err(WsError::Http(resp))) => describe_ws(&resp),
        Ok(Err(e)) => format!("error {e}"),
        Ok(Ok((mut ws, resp))) => {
            let proto = resp
                .headers()
                .get("sec-websocket-protocol")
                .map_or("none".into(), |v| v.to_str().unwrap_or("?").to_string());
            let _ = ws.close(None).await;
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(2), ws.next()).await {}
            format!("101 protocol={proto}")
        }
    }
}

fn describe_ws(resp: &http::Response<Option<Vec<u8>>>) -> String {
    crate::common::attack::describe(resp.status().as_u16(), resp.headers())
}

#[tokio::test]
async fn websocket_handshakes_are_refused_before_the_upgrade() {
    let g = shared();
    let v = victim(g, "wsatk").await;
    let other = victim(g, "wsatk-other").await;
    let key = g.signing_key_pkcs8().await;
    let url = g.endpoints.runtimes[0].ws_url.clone();
    let b64 = |t: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(t);
    let sub = |t: &str| {
        format!(
            "base64UrlBearerAuthorization.{}, base64UrlBearerAuthorization",
            b64(t)
        )
    };
    let origin = ("origin", g.endpoints.web.clone());
    let none_token = raw_jws(&json!({"alg": "none"}), &obj(&v.payload), b"");
    let expired = rs256(
        &obj(&v.header),
        &with(&v.payload, "exp", json!(now() - 3600)),
        &key,
    );
    let id_token = rs256(
        &obj(&v.header),
        &with(&v.payload, "token_use", json!("id")),
        &key,
    );
    type WsCase<'a> = (&'a str, &'a str, Vec<(&'a str, String)>, String);
    let cases: Vec<WsCase<'_>> = vec![
        ("control: subprotocol token from the app's origin", "101 protocol=base64UrlBearerAuthorization", vec![("sec-websocket-protocol", sub(&v.token)), origin.clone()], url.clone()),
        ("control: Authorization header (no Origin)", "101 protocol=none", vec![("authorization", format!("Bearer {}", v.token))], url.clone()),
        ("no credential", "401 no-error", vec![origin.clone()], url.clone()),
        ("token subprotocol without the sentinel", BAD_REQUEST, vec![("sec-websocket-protocol", format!("base64UrlBearerAuthorization.{}", b64(&v.token))), origin.clone()], url.clone()),
        ("two token subprotocols", BAD_REQUEST, vec![("sec-websocket-protocol", format!("base64UrlBearerAuthorization.{}, base64UrlBearerAuthorization.{}, base64UrlBearerAuthorization", b64(&v.token), b64(&other.token))), origin.clone()], url.clone()),
        ("subprotocol token not base64url", BAD_REQUEST, vec![("sec-websocket-protocol", "base64UrlBearerAuthorization.@@@, base64UrlBearerAuthorization".into()), origin.clone()], url.clone()),
        ("subprotocol and header carry different tokens", BAD_REQUEST, vec![("sec-websocket-protocol", sub(&v.token)), ("authorization", format!("Bearer {}", other.token))], url.clone()),
        ("alg none token in the subprotocol", INVALID, vec![("sec-websocket-protocol", sub(&none_token)), origin.clone()], url.clone()),
        ("expired token in the subprotocol", INVALID, vec![("sec-websocket-protocol", sub(&expired)), origin.clone()], url.clone()),
        ("ID token in the subprotocol", INVALID, vec![("sec-websocket-protocol", sub(&id_token)), origin.clone()], url.clone()),
        ("cross-site Origin (CSWSH) with a valid token", "403 | 403 AccessDeniedException", vec![("sec-websocket-protocol", sub(&v.token)), ("origin", "https://evil.example".into())], url.clone()),
        ("Origin: null with a valid token", "403 | 403 AccessDeniedException", vec![("sec-websocket-protocol", sub(&v.token)), ("origin", "null".into())], url.clone()),
        ("token in ?access_token=", BAD_REQUEST, vec![origin.clone()], format!("{url}&access_token={}", v.token)),
        ("spoofed user id in the query string", "101 protocol=base64UrlBearerAuthorization", vec![("sec-websocket-protocol", sub(&v.token)), origin.clone()], format!("{url}&X-Amzn-Bedrock-AgentCore-Runtime-User-Id=mallory")),
    ];
    let mut rows = Vec::new();
    for (name, expected, headers, u) in cases {
        rows.push(Row::new(name, expected, ws_handshake(&u, &headers).await));
    }
    // An upgrade to something other than WebSocket on the WebSocket route.
    let h2c = request(
        "GET",
        &url.replacen("ws://", "http://", 1),
        &[
            ("connection", b"Upgrade, HTTP2-Settings"),
            ("upgrade", b"h2c"),
            ("authorization", format!("Bearer {}", v.token).as_bytes()),
        ],
        "",
    )
    .await;
    rows.push(Row::new(
        "Upgrade: h2c on the WebSocket route",
        "400 | 426 | 405",
        h2c.status.to_string(),
    ));
    report("WebSocket handshakes (checklist 8)", &rows);
}
