//! Attack class: oversize and malformed input on every listener. Owns no production code.
use super::*;

// === oversize and malformed input ===

#[tokio::test]
async fn oversize_and_malformed_input_is_refused() {
    let g = shared();
    let v = victim(g, "input").await;
    let auth = format!("Bearer {}", v.token);
    let gw = authority(&g.endpoints.gateway);
    let idp = authority(&g.endpoints.idp);
    let web = authority(&g.endpoints.web);
    let path = g.invocations_url();
    let path = &path[path.find("/runtimes").unwrap()..];
    let quiet = Duration::from_secs(3);
    let mut rows = Vec::new();

    // Headers.
    for (name, addr) in [("gateway", &gw), ("idp", &idp), ("web", &web)] {
        let big = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
            "a".repeat(1 << 20)
        );
        rows.push(Row::new(
            format!("{name}: one 1 MiB header"),
            "431 x1 closed",
            raw(addr, big.as_bytes(), quiet).await.describe(),
        ));
        let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
        rows.push(Row::new(
            format!("{name}: 200 headers"),
            "431 x1 closed",
            raw(
                addr,
                format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n").as_bytes(),
                quiet,
            )
            .await
            .describe(),
        ));
        rows.push(Row::new(
            format!("{name}: 1 MiB request line"),
            "431 x1 closed | 414 x1 closed | 400 x1 closed",
            raw(
                addr,
                format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(1 << 20)).as_bytes(),
                quiet,
            )
            .await
            .describe(),
        ));
        rows.push(Row::new(
            format!("{name}: garbage instead of HTTP"),
            "400 x1 closed | none x0 closed",
            raw(
                addr,
                b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n",
                quiet,
            )
            .await
            .describe(),
        ));
        rows.push(Row::new(
            format!("{name}: NUL in a header value"),
            "400 x1 closed",
            raw(
                addr,
                b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n",
                quiet,
            )
            .await
            .describe(),
        ));
    }

    // The gateway: a token of exactly the size limit + 1, invalid UTF-8 in the credential.
    let long = format!(
        "Bearer {}",
        "a".repeat(gatehouse::token::jws::MAX_TOKEN_BYTES + 1)
    );
    rows.push(Row::new(
        "gateway: 8 kB + 1 bearer token",
        "401 invalid_token | 401 invalid_request",
        invoke_with(g, Some(long.as_bytes()), &[]).await.describe(),
    ));
    let huge_len = format!(
        "POST {path} HTTP/1.1\r\nHost: a\r\nAuthorization: {auth}\r\nContent-Length: 99999999999999999999\r\n\r\n"
    );
    rows.push(Row::new(
        "gateway: Content-Length overflowing u64",
        "400 x1 closed",
        raw(&gw, huge_len.as_bytes(), quiet).await.describe(),
    ));

    // The IdP's JSON decoder.
    let op = |body: Vec<u8>, target: &'static str| {
        let idp = g.endpoints.idp.clone();
        async move {
            request(
                "POST",
                &format!("{idp}/"),
                &[
                    ("x-amz-target", target.as_bytes()),
                    ("content-type", b"application/x-amz-json-1.1"),
                ],
                body,
            )
            .await
            .describe()
        }
    };
    const INIT: &str = "AWSCognitoIdentityProviderService.InitiateAuth";
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    rows.push(Row::new(
        "idp: JSON nested 20 000 deep",
        "400 SerializationException",
        op(deep.into_bytes(), INIT).await,
    ));
    let deep_obj = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    rows.push(Row::new(
        "idp: objects nested 10 000 deep (skipped as an unknown key)",
        "400 SerializationException | 400 InvalidParameterException",
        op(deep_obj.into_bytes(), INIT).await,
    ));
    let wide: String = (0..5000).map(|i| format!("\"k{i}\":{i},")).collect();
    rows.push(Row::new(
        "idp: 5 000 unknown keys",
        "400 SerializationException | 400 InvalidParameterException | 400 ResourceNotFoundException",
        op(format!("{{{wide}\"x\":1}}").into_bytes(), INIT).await,
    ));
    rows.push(Row::new(
        "idp: body over 64 KiB",
        "413 | 400 SerializationException | 413 SerializationException",
        op(vec![b' '; 1 << 20], INIT).await,
    ));
    rows.push(Row::new(
        "idp: invalid UTF-8 in the JSON",
        "400 SerializationException",
        op(b"{\"AuthFlow\":\"\xff\xfe\"}".to_vec(), INIT).await,
    ));
    rows.push(Row::new(
        "idp: duplicate keys",
        "400 SerializationException | 400 NotAuthorizedException | 400 ResourceNotFoundException",
        op(
            json!({"AuthFlow": "USER_PASSWORD_AUTH"})
                .to_string()
                .replace('}', ",\"AuthFlow\":\"ADMIN_NO_SRP_AUTH\"}")
                .into_bytes(),
            INIT,
        )
        .await,
    ));
    rows.push(Row::new(
        "idp: unknown operation",
        "400 UnknownOperationException",
        op(
            b"{}".to_vec(),
            "AWSCognitoIdentityProviderService.AdminDeleteUser",
        )
        .await,
    ));
    rows.push(Row::new(
        "idp: target with path characters",
        "400 UnknownOperationException",
        op(
            b"{}".to_vec(),
            "AWSCognitoIdentityProviderService.../InitiateAuth",
        )
        .await,
    ));
    rows.push(Row::new(
        "idp: no body",
        "400 SerializationException",
        op(Vec::new(), INIT).await,
    ));
    report("oversize and malformed input", &rows);
}
