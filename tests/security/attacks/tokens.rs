//! Attack class: forged tokens (signature, algorithm, key, claims, explicit typing). Owns no production code.
use super::*;

// === 1–4: forged tokens ===

#[tokio::test]
async fn forged_tokens_are_refused() {
    forged_tokens(Route::Http).await;
}

#[tokio::test]
async fn forged_tokens_are_refused_by_mcp_runtimes() {
    forged_tokens(Route::Mcp).await;
}

#[tokio::test]
async fn forged_tokens_are_refused_by_a2a_runtimes() {
    forged_tokens(Route::A2a).await;
}

async fn forged_tokens(route: Route) {
    let g = shared();
    let v = victim(g, "forge").await;
    let key = g.signing_key_pkcs8().await;
    let kid = v.header["kid"].as_str().unwrap().to_string();
    let hdr = obj(&v.header);
    let p = &v.payload;
    let mut cases: Vec<(String, &str, String)> = Vec::new();
    let mut add = |name: &str, expected: &'static str, token: String| {
        cases.push((name.to_string(), expected, token));
    };

    add("control: the genuine token", "200", v.token.clone());
    add(
        "control: re-signed unchanged with the real key",
        "200",
        rs256(&hdr, &obj(p), &key),
    );

    // alg none, every casing, with an empty and with the genuine signature.
    let genuine_sig = v.token.rsplit('.').next().unwrap().to_string();
    for alg in ["none", "None", "NONE", "nOnE", "none "] {
        let h = json!({"alg": alg, "typ": "JWT", "kid": kid});
        add(
            &format!("alg {alg:?}, empty signature"),
            INVALID,
            raw_jws(&h, &obj(p), b""),
        );
        let t = raw_jws(&h, &obj(p), b"");
        add(
            &format!("alg {alg:?}, genuine signature kept"),
            INVALID,
            format!("{t}{genuine_sig}"),
        );
    }
    add(
        "alg absent",
        INVALID,
        rs256(&json!({"typ": "JWT", "kid": kid}), &obj(p), &key),
    );
    add(
        "alg null",
        INVALID,
        rs256(&json!({"alg": null, "kid": kid}), &obj(p), &key),
    );
    add(
        "alg 256 (a number)",
        INVALID,
        rs256(&json!({"alg": 256, "kid": kid}), &obj(p), &key),
    );
    add(
        "alg [\"RS256\"] (an array)",
        INVALID,
        rs256(&json!({"alg": ["RS256"], "kid": kid}), &obj(p), &key),
    );
    for alg in ["RS512", "PS256", "ES256", "EdDSA", "rs256"] {
        add(
            &format!("alg {alg} over an RS256 signature"),
            INVALID,
            rs256(&json!({"alg": alg, "kid": kid}), &obj(p), &key),
        );
    }

    // RS/HS confusion: HS256 keyed with every form of the public key.
    let kp = aws_lc_rs::rsa::KeyPair::from_pkcs8(&key).unwrap();
    let spki = aws_lc_rs::signature::KeyPair::public_key(&kp)
        .as_der()
        .unwrap()
        .as_ref()
        .to_vec();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&spki);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    );
    let jwks = request("GET", &g.endpoints.jwks_uri, &[], "").await.json();
    let jwk = jwks["keys"][0].clone();
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jwk["n"].as_str().unwrap())
        .unwrap();
    let hs = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
    for (form, secret) in [
        ("PEM", pem.clone().into_bytes()),
        (
            "PEM without trailing newline",
            pem.trim_end().as_bytes().to_vec(),
        ),
        ("DER (SPKI)", spki.clone()),
        ("JWK JSON", jwk.to_string().into_bytes()),
        ("JWKS JSON", jwks.to_string().into_bytes()),
        ("raw modulus", n),
        ("empty key", Vec::new()),
    ] {
        add(
            &format!("HS256 keyed with the public key ({form})"),
            INVALID,
            hs256(&hs, &obj(p), &secret),
        );
    }

    // Embedded and remote keys: an attacker's own key, carried or pointed to.
    let evil_der = gatehouse::token::RsaSigner::generate_pkcs8().unwrap();
    let evil = gatehouse::token::RsaSigner::from_pkcs8("evil".into(), &evil_der).unwrap();
    let evil_jwk = serde_json::to_value(evil.public_jwk()).unwrap();
    let recorder = Recorder::start(json!({"keys": [evil_jwk.clone()]}).to_string()).await;
    add(
        "inline jwk (attacker key, attacker kid)",
        INVALID,
        rs256(
            &json!({"alg": "RS256", "kid": "evil", "jwk": evil_jwk}),
            &obj(p),
            &evil_der,
        ),
    );
    let mut evil_same_kid = evil_jwk.clone();
    evil_same_kid["kid"] = json!(kid);
    add(
        "inline jwk (attacker key, real kid)",
        INVALID,
        rs256(
            &json!({"alg": "RS256", "kid": kid, "jwk": evil_same_kid}),
            &obj(p),
            &evil_der,
        ),
    );
    add(
        "inline jwk with the real key, signed by the real key",
        INVALID,
        rs256(
            &json!({"alg": "RS256", "kid": kid, "jwk": jwk}),
            &obj(p),
            &key,
        ),
    );
    for field in ["jku", "x5u"] {
        add(
            &format!("{field} → local server (attacker kid)"),
            INVALID,
            rs256(
                &json!({"alg": "RS256", "kid": "evil", field: format!("{}/jwks.json", recorder.url)}),
                &obj(p),
                &evil_der,
            ),
        );
        add(
            &format!("{field} → local server (real kid, real signature)"),
            INVALID,
            rs256(
                &json!({"alg": "RS256", "kid": kid, field: format!("{}/jwks.json", recorder.url)}),
                &obj(p),
                &key,
            ),
        );
    }
    add(
        "x5c (junk certificate chain)",
        INVALID,
        rs256(
            &json!({"alg": "RS256", "kid": kid, "x5c": ["MIIB"]}),
            &obj(p),
            &key,
        ),
    );
    add(
        "crit [\"exp\"]",
        INVALID,
        rs256(
            &json!({"alg": "RS256", "kid": kid, "crit": ["exp"]}),
            &obj(p),
            &key,
        ),
    );
    add(
        "crit [\"b64\"] with b64 false",
        INVALID,
        rs256(
            &json!({"alg": "RS256", "kid": kid, "crit": ["b64"], "b64": false}),
            &obj(p),
            &key,
        ),
    );

    // kid injection: the kid is an opaque map key, never a path, query or command.
    for (name, bad) in [
        ("path traversal", json!("../../../../../../dev/null")),
        ("SQL", json!("' OR '1'='1' --")),
        ("shell", json!("$(touch /tmp/gatehouse-pwned)")),
        ("NUL byte", json!(format!("{kid}\u{0}"))),
        ("URL", json!(format!("{}/jwks.json", recorder.url))),
        ("10 kB", json!("k".repeat(10_000))),
        ("empty", json!("")),
        ("null", json!(null)),
        ("number", json!(1)),
        ("array of the real kid", json!([kid])),
        ("real kid with a trailing space", json!(format!("{kid} "))),
        ("real kid upper-cased", json!(kid.to_uppercase())),
    ] {
        add(
            &format!("kid injection: {name}"),
            INVALID,
            rs256(&json!({"alg": "RS256", "kid": bad}), &obj(p), &key),
        );
    }
    add(
        "kid absent",
        INVALID,
        rs256(&json!({"alg": "RS256", "typ": "JWT"}), &obj(p), &key),
    );

    // Signatures.
    let (input, _) = v.token.rsplit_once('.').unwrap();
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&genuine_sig)
        .unwrap();
    add("null signature (a.b.)", INVALID, format!("{input}."));
    add(
        "truncated signature (-4 chars)",
        INVALID,
        format!("{input}.{}", &genuine_sig[..genuine_sig.len() - 4]),
    );
    add(
        "truncated signature (1 byte)",
        INVALID,
        format!("{input}.{}", encode_segment(&sig[..1])),
    );
    add(
        "all-zero signature",
        INVALID,
        format!("{input}.{}", encode_segment(&vec![0u8; sig.len()])),
    );
    add(
        "signature with one extra byte",
        INVALID,
        format!(
            "{input}.{}",
            encode_segment(&[sig.clone(), vec![0]].concat())
        ),
    );
    add(
        "signature in the standard base64 alphabet with padding",
        "401 invalid_token | 401 invalid_request",
        format!(
            "{input}.{}",
            base64::engine::general_purpose::STANDARD.encode(&sig)
        ),
    );
    let other = victim(g, "forge-other").await;
    add(
        "signature of another user's token",
        INVALID,
        format!("{input}.{}", other.token.rsplit('.').next().unwrap()),
    );
    let mut flipped = sig.clone();
    flipped[0] ^= 1;
    add(
        "one bit flipped",
        INVALID,
        format!("{input}.{}", encode_segment(&flipped)),
    );

    // Format.
    let segs: Vec<&str> = v.token.split('.').collect();
    add("two segments", INVALID, format!("{}.{}", segs[0], segs[1]));
    add("four segments", INVALID, format!("{}.x", v.token));
    add(
        "five segments (JWE shape)",
        INVALID,
        format!("{}.{}.a.b.c", segs[0], segs[1]),
    );
    add("empty token segments (..)", INVALID, "..".into());
    add(
        "payload not JSON (signed)",
        INVALID,
        rs256_segments(
            &format!("{}.{}", segs[0], encode_segment(b"not json")),
            &key,
        ),
    );
    add(
        "payload a JSON array (signed)",
        INVALID,
        rs256_segments(&format!("{}.{}", segs[0], encode_segment(b"[1,2]")), &key),
    );
    add(
        "header not JSON (signed)",
        INVALID,
        rs256_segments(&format!("{}.{}", encode_segment(b"{alg"), segs[1]), &key),
    );
    let dup = format!(
        "{},\"sub\":\"someone-else\"}}",
        obj(p).to_string().trim_end_matches('}')
    );
    add(
        "duplicate sub in the payload (signed)",
        INVALID,
        rs256_segments(
            &format!("{}.{}", segs[0], encode_segment(dup.as_bytes())),
            &key,
        ),
    );
    let dup_alg = format!("{{\"alg\":\"RS256\",\"kid\":\"{kid}\",\"alg\":\"none\"}}");
    add(
        "duplicate alg in the header (signed)",
        INVALID,
        rs256_segments(
            &format!("{}.{}", encode_segment(dup_alg.as_bytes()), segs[1]),
            &key,
        ),
    );
    add(
        "token over 8 kB (signed)",
        INVALID,
        rs256(&hdr, &with(p, "pad", json!("x".repeat(9000))), &key),
    );
    add(
        "header over 8 kB (signed)",
        INVALID,
        rs256(
            &json!({"alg": "RS256", "kid": kid, "pad": "y".repeat(9000)}),
            &obj(p),
            &key,
        ),
    );

    // Claims (signed with the real key: only the claim checks stand in the way).
    let t = now();
    for (name, claim, value) in [
        ("expired", "exp", json!(t - 3600)),
        ("expired just beyond leeway (-61 s)", "exp", json!(t - 61)),
        ("exp as string", "exp", json!((t + 600).to_string())),
        ("exp as float", "exp", json!(t as f64 + 600.5)),
        ("exp negative", "exp", json!(-1)),
        ("exp > 2^53", "exp", json!(1u64 << 60)),
        ("exp as array", "exp", json!([t + 600])),
        ("nbf in the future", "nbf", json!(t + 3600)),
        ("nbf as string", "nbf", json!(t.to_string())),
        ("iat far in the future", "iat", json!(t + 86_400)),
        ("iat as string", "iat", json!(t.to_string())),
        (
            "iss another issuer",
            "iss",
            json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"),
        ),
        (
            "iss with a trailing slash",
            "iss",
            json!(format!("{}/", g.endpoints.issuer)),
        ),
        (
            "iss upper-cased",
            "iss",
            json!(g.endpoints.issuer.to_uppercase()),
        ),
        ("iss as array", "iss", json!([g.endpoints.issuer])),
        (
            "token_use id (ID token on an API route)",
            "token_use",
            json!("id"),
        ),
        (
            "token_use Access (case variant)",
            "token_use",
            json!("Access"),
        ),
        ("token_use as array", "token_use", json!(["access"])),
        (
            "client_id of another client",
            "client_id",
            json!("someotherclient"),
        ),
        (
            "client_id as array",
            "client_id",
            json!([g.endpoints.client_id]),
        ),
        ("sub as number", "sub", json!(42)),
        ("sub as array", "sub", json!(["a"])),
        ("sub as object", "sub", json!({"a": 1})),
        ("aud empty array", "aud", json!([])),
        ("aud with a non-string member", "aud", json!([1])),
        (
            "scope as array",
            "scope",
            json!(["aws.cognito.signin.user.admin"]),
        ),
        ("username as number", "username", json!(7)),
        ("jti as number", "jti", json!(7)),
    ] {
        add(
            &format!("claim: {name}"),
            INVALID,
            rs256(&hdr, &with(p, claim, value), &key),
        );
    }
    for claim in ["exp", "sub", "iss", "token_use", "client_id"] {
        add(
            &format!("claim: {claim} missing"),
            INVALID,
            rs256(&hdr, &without(p, claim), &key),
        );
    }
    add(
        "claim: lifetime over the maximum (exp = iat + 2 days)",
        INVALID,
        rs256(
            &hdr,
            &{
                let mut m = p.clone();
                m.insert("iat".into(), json!(t));
                m.insert("exp".into(), json!(t + 2 * 86_400));
                Value::Object(m)
            },
            &key,
        ),
    );

    // Every claim the IdP issues, set to null / true / false / 0 / "".
    let checked = [
        "sub",
        "iss",
        "token_use",
        "client_id",
        "exp",
        "iat",
        "scope",
        "username",
        "jti",
    ];
    let mut names: Vec<&String> = p.keys().collect();
    names.sort();
    for claim in names {
        for (label, value) in [
            ("null", json!(null)),
            ("true", json!(true)),
            ("false", json!(false)),
            ("0", json!(0)),
            ("\"\"", json!("")),
        ] {
            // Claims gatehouse reads must have exactly their type; an empty string is refused where the claim
            // must identify something. Claims gatehouse never reads (auth_time, event_id, origin_jti) cannot
            // change any decision, so the token stays valid.
            let ignored = !checked.contains(&claim.as_str());
            let may_be_empty =
                label == "\"\"" && ["scope", "username", "jti"].contains(&claim.as_str());
            let expected = if ignored || may_be_empty {
                "200"
            } else {
                INVALID
            };
            add(
                &format!("claim {claim} = {label}"),
                expected,
                rs256(&hdr, &with(p, claim, value), &key),
            );
        }
    }

    let mut rows = Vec::new();
    for (name, expected, token) in cases {
        rows.push(Row::new(name, expected, bearer_on(g, route, &token).await));
    }
    rows.push(Row::new(
        "jku/x5u/kid-URL server was never called",
        "0 calls",
        format!("{} calls", recorder.hits()),
    ));
    let leaked = invoke_on(
        g,
        route,
        Some(format!("Bearer {}", rs256(&hdr, &with(p, "exp", json!(0)), &key)).as_bytes()),
        &[],
    )
    .await;
    rows.push(Row::new(
        "a refusal never echoes the token",
        "no token in body",
        if leaked.body.contains("eyJ") {
            "token echoed"
        } else {
            "no token in body"
        },
    ));
    report(
        &format!("forged tokens (checklist 1–4), {route:?} runtime"),
        &rows,
    );
}

/// RFC 8725 §3.11 (explicit typing): a token whose header says it is another kind of token is refused.
#[tokio::test]
async fn a_header_typ_of_another_token_kind_is_refused() {
    let g = shared();
    let v = victim(g, "typ").await;
    let key = g.signing_key_pkcs8().await;
    let mut rows = Vec::new();
    for typ in ["id_token", "logout+jwt", "secevent+jwt"] {
        let t = rs256(&with(&v.header, "typ", json!(typ)), &obj(&v.payload), &key);
        rows.push(Row::new(
            format!("header typ {typ:?}"),
            INVALID,
            bearer(g, &t).await,
        ));
    }
    report("header typ (checklist 4)", &rows);
}
