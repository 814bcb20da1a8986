//! Everything that is not a valid token for this runtime and this session is refused, over real sockets.
use aws_lc_rs::encoding::AsDer as _;
use base64::Engine as _;
use gatehouse::clock::Clock as _;
use gatehouse::token::jws::encode_segment;
use serde_json::{json, Map, Value};

use crate::common::{invoke, send, shared, Gatehouse, Invocation};

async fn user_token(g: &Gatehouse, prefix: &str) -> (String, Map<String, Value>) {
    let user = g.new_user(prefix);
    let token = g.access_token(&user).await;
    let payload = gatehouse::token::jws::parse(&token).unwrap().payload;
    (token, payload)
}

/// Re-signs `payload` (edited by `edit`) with the pool's real key.
async fn resign(
    g: &Gatehouse,
    mut payload: Map<String, Value>,
    edit: impl FnOnce(&mut Map<String, Value>),
) -> String {
    edit(&mut payload);
    g.signer().await.sign(&Value::Object(payload)).unwrap()
}

fn hs256(header: &Value, payload: &Map<String, Value>, key: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        encode_segment(header.to_string().as_bytes()),
        encode_segment(Value::Object(payload.clone()).to_string().as_bytes())
    );
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let sig = aws_lc_rs::hmac::sign(&k, input.as_bytes());
    format!("{input}.{}", encode_segment(sig.as_ref()))
}

async fn call(g: &Gatehouse, token: &str) -> Invocation {
    invoke(
        &g.invocations_url(),
        Some(token),
        &[],
        &json!({"stream": false}),
    )
    .await
}

fn assert_invalid_token(r: &Invocation, case: &str) {
    assert_eq!(r.status, 401, "{case}: {}", r.body);
    assert_eq!(
        r.headers["x-amzn-errortype"], "UnauthorizedException",
        "{case}"
    );
    let challenge = r.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{case}: {challenge}"
    );
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{case}"
    );
    assert!(
        !r.body.contains("eyJ"),
        "{case}: the response echoes a token"
    );
}

#[tokio::test]
async fn no_token_is_401_with_a_bare_bearer_challenge() {
    let g = shared();
    let r = invoke(&g.invocations_url(), None, &[], &json!({})).await;
    assert_eq!(r.status, 401);
    let challenge = r.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer resource_metadata=\""),
        "{challenge}"
    );
    assert!(
        !challenge.contains("error="),
        "no token was sent, so no error code: {challenge}"
    );
    assert_eq!(r.headers["x-amzn-errortype"], "UnauthorizedException");
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("Authorization: Bearer"));
}

#[tokio::test]
async fn tampered_signature_is_401() {
    let g = shared();
    let (token, _) = user_token(g, "tamper").await;
    let (rest, sig) = token.rsplit_once('.').unwrap();
    let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    bytes[10] ^= 0x01;
    let forged = format!("{rest}.{}", encode_segment(&bytes));
    assert_invalid_token(&call(g, &forged).await, "tampered signature");
    // A payload edited without re-signing.
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload = gatehouse::token::jws::parse(&token).unwrap().payload;
    payload.insert("sub".into(), json!("someone-else"));
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        encode_segment(Value::Object(payload).to_string().as_bytes()),
        parts[2]
    );
    assert_invalid_token(&call(g, &forged).await, "edited payload");
}

#[tokio::test]
async fn alg_none_is_401_in_every_casing() {
    let g = shared();
    let (token, payload) = user_token(g, "none").await;
    let kid = gatehouse::token::jws::parse(&token).unwrap().header.kid;
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "kid": kid});
        for sig in ["", "AAAA"] {
            let forged = format!(
                "{}.{}.{sig}",
                encode_segment(header.to_string().as_bytes()),
                encode_segment(Value::Object(payload.clone()).to_string().as_bytes())
            );
            assert_invalid_token(&call(g, &forged).await, &format!("alg {alg} sig '{sig}'"));
        }
    }
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_401_in_pem_der_and_jwk_forms() {
    let g = shared();
    let (token, payload) = user_token(g, "hs").await;
    let kid = gatehouse::token::jws::parse(&token).unwrap().header.kid;
    let pkcs8 = g.signing_key_pkcs8().await;
    let kp = aws_lc_rs::rsa::KeyPair::from_pkcs8(&pkcs8).unwrap();
    let der = aws_lc_rs::signature::KeyPair::public_key(&kp)
        .as_der()
        .unwrap()
        .as_ref()
        .to_vec();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    let pem_body: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        pem_body.join("\n")
    );
    let jwks = crate::common::body_text(send("GET", &g.endpoints.jwks_uri, &[], "").await).await;
    let jwk: Value = serde_json::from_str::<Value>(&jwks).unwrap()["keys"][0].clone();
    let header = json!({"alg": "HS256", "kid": kid, "typ": "JWT"});
    for (form, key) in [
        ("PEM", pem.into_bytes()),
        ("DER", der),
        ("JWK", jwk.to_string().into_bytes()),
    ] {
        assert_invalid_token(
            &call(g, &hs256(&header, &payload, &key)).await,
            &format!("HS256 with {form} public key"),
        );
    }
}

#[tokio::test]
async fn expired_token_is_401() {
    let g = shared();
    let (_, payload) = user_token(g, "exp").await;
    let now = gatehouse::clock::SystemClock.now_unix();
    let forged = resign(g, payload, |p| {
        p.insert("iat".into(), json!(now - 7200));
        p.insert("exp".into(), json!(now - 3600));
    })
    .await;
    let r = call(g, &forged).await;
    assert_invalid_token(&r, "expired");
    assert!(r.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn token_from_another_issuer_is_401() {
    let g = shared();
    let (_, payload) = user_token(g, "iss").await;
    // Signed with the pool's real key but claiming another issuer (even a trailing-slash variant).
    for iss in [
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123".to_string(),
        format!("{}/", g.endpoints.issuer),
    ] {
        let forged = resign(g, payload.clone(), |p| {
            p.insert("iss".into(), json!(iss));
        })
        .await;
        assert_invalid_token(&call(g, &forged).await, &format!("iss {iss}"));
    }
    // Signed by another IdP's key altogether.
    let der = gatehouse::token::RsaSigner::generate_pkcs8().unwrap();
    let other = gatehouse::token::RsaSigner::from_pkcs8("other-idp-key".into(), &der).unwrap();
    let forged = other.sign(&Value::Object(payload)).unwrap();
    assert_invalid_token(&call(g, &forged).await, "foreign key");
}

#[tokio::test]
async fn token_for_another_client_is_401() {
    let g = shared();
    let (_, payload) = user_token(g, "client").await;
    let forged = resign(g, payload, |p| {
        p.insert("client_id".into(), json!("someotherclientid000000000"));
    })
    .await;
    assert_invalid_token(&call(g, &forged).await, "other client");
}

#[tokio::test]
async fn id_token_used_as_access_token_is_401() {
    let g = shared();
    let user = g.new_user("idtok");
    let auth = g.login(&user).await;
    let id_token = auth["IdToken"].as_str().unwrap();
    let r = call(g, id_token).await;
    assert_invalid_token(&r, "ID token");
}

#[tokio::test]
async fn token_in_the_query_string_is_refused() {
    let g = shared();
    let (token, _) = user_token(g, "query").await;
    let url = format!("{}&access_token={token}", g.invocations_url());
    let r = invoke(&url, None, &[], &json!({})).await;
    assert_eq!(r.status, 401);
    let r = invoke(&url, Some(&token), &[], &json!({})).await;
    assert_eq!(
        r.status, 401,
        "a query token next to a header token is still refused"
    );
}

#[tokio::test]
async fn spoofed_user_id_headers_never_reach_the_agent() {
    let g = shared();
    let (token, payload) = user_token(g, "spoof").await;
    let sub = payload["sub"].as_str().unwrap();
    let r = invoke(
        &g.invocations_url(),
        Some(&token),
        &[
            ("X-Amzn-Bedrock-AgentCore-Runtime-User-Id", "mallory"),
            ("x-amzn-bedrock-agentcore-runtime-user-id", "mallory2"),
            ("X-AMZN-BEDROCK-AGENTCORE-RUNTIME-USER-ID", "mallory3"),
            ("x-user-id", "mallory4"),
            ("x-amzn-oidc-identity", "mallory5"),
            ("x-forwarded-user", "mallory6"),
        ],
        &json!({"stream": false}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["user_id"], sub);
    let seen = v["headers"].to_string();
    assert!(
        !seen.contains("mallory"),
        "a spoofed identity reached the agent: {seen}"
    );
    assert_eq!(
        v["headers"]["x-amzn-bedrock-agentcore-runtime-user-id"],
        sub
    );
}

#[tokio::test]
async fn second_user_presenting_the_first_users_session_gets_403_and_never_reaches_the_agent() {
    let g = shared();
    let (alice, _) = user_token(g, "owner").await;
    let (bob, _) = user_token(g, "thief").await;
    let session = format!("hijack-test-{}", gatehouse::util::random_alnum(30));
    let hdr = [(
        "x-amzn-bedrock-agentcore-runtime-session-id",
        session.as_str(),
    )];
    let first = invoke(
        &g.invocations_url(),
        Some(&alice),
        &hdr,
        &json!({"stream": false}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.json()["turn"], 1);

    let stolen = invoke(
        &g.invocations_url(),
        Some(&bob),
        &hdr,
        &json!({"stream": false}),
    )
    .await;
    assert_eq!(stolen.status, 403, "{}", stolen.body);
    assert_eq!(stolen.headers["x-amzn-errortype"], "AccessDeniedException");
    assert!(!stolen.body.contains("turn"));

    let again = invoke(
        &g.invocations_url(),
        Some(&alice),
        &hdr,
        &json!({"stream": false}),
    )
    .await;
    assert_eq!(
        again.json()["turn"],
        2,
        "the refused request must not have reached the agent"
    );
}

#[tokio::test]
async fn malformed_session_ids_are_400() {
    let g = shared();
    let (token, _) = user_token(g, "sid").await;
    for bad in [
        "short".to_string(),
        "x".repeat(257),
        format!("{}/../x", "a".repeat(40)),
        format!("{} x", "a".repeat(40)),
    ] {
        let r = invoke(
            &g.invocations_url(),
            Some(&token),
            &[("x-amzn-bedrock-agentcore-runtime-session-id", &bad)],
            &json!({}),
        )
        .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.headers["x-amzn-errortype"], "ValidationException");
    }
}

#[tokio::test]
async fn unknown_runtime_or_qualifier_is_404() {
    let g = shared();
    let (token, _) = user_token(g, "nf").await;
    let url = format!(
        "{}/runtimes/{}/invocations",
        g.endpoints.gateway,
        gatehouse::gateway::arn::encode(
            "arn:aws:bedrock-agentcore:us-east-1:000000000000:runtime/nope-0123456789"
        )
    );
    let r = invoke(&url, Some(&token), &[], &json!({})).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.headers["x-amzn-errortype"], "ResourceNotFoundException");
    let url = g
        .invocations_url()
        .replace("qualifier=DEFAULT", "qualifier=prod");
    let r = invoke(&url, Some(&token), &[], &json!({})).await;
    assert_eq!(r.status, 404);
}
