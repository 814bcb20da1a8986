//! The attack suite: every case of `shared/reference/security-checklist.md` that this build can be attacked with,
//! against a running gatehouse over real sockets, as data-driven tables (`case | expected | got`, printed; run
//! with `--nocapture` to see them). A case that finds a real weakness stays here as an `#[ignore = "finding: …"]`
//! test until the module that owns the check is fixed. Owns no production code and must never weaken a case to
//! make it pass.
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer as _;
use base64::Engine as _;
use futures_util::StreamExt as _;
use gatehouse::clock::Clock as _;
use gatehouse::token::jws::encode_segment;
use serde_json::{json, Map, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::common::attack::{
    authority, hs256, raw, raw_jws, report, request, rs256, rs256_segments, slowloris, Answer,
    Recorder, Row,
};
use crate::common::{cognito, password, shared, Gatehouse};

const INVALID: &str = "401 invalid_token";
const BAD_REQUEST: &str = "401 invalid_request";

struct Victim {
    token: String,
    header: Map<String, Value>,
    payload: Map<String, Value>,
    sub: String,
}

async fn victim(g: &Gatehouse, prefix: &str) -> Victim {
    let user = g.new_user(prefix);
    let token = g.access_token(&user).await;
    let parsed = gatehouse::token::jws::parse(&token).unwrap();
    let header_b64 = token.split('.').next().unwrap();
    let header: Map<String, Value> = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header_b64)
            .unwrap(),
    )
    .unwrap();
    let sub = parsed.payload["sub"].as_str().unwrap().to_string();
    let payload = parsed.payload.clone();
    Victim {
        token,
        header,
        payload,
        sub,
    }
}

/// POSTs a non-streaming invocation with `authorization` set to `auth` (raw bytes, if any).
async fn invoke_with(g: &Gatehouse, auth: Option<&[u8]>, extra: &[(&str, &[u8])]) -> Answer {
    let mut headers: Vec<(&str, &[u8])> = vec![("content-type", b"application/json")];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    headers.extend_from_slice(extra);
    request(
        "POST",
        &g.invocations_url(),
        &headers,
        json!({"stream": false}).to_string(),
    )
    .await
}

async fn bearer(g: &Gatehouse, token: &str) -> String {
    invoke_with(g, Some(format!("Bearer {token}").as_bytes()), &[])
        .await
        .describe()
}

fn obj(m: &Map<String, Value>) -> Value {
    Value::Object(m.clone())
}

fn with(m: &Map<String, Value>, k: &str, v: Value) -> Value {
    let mut m = m.clone();
    m.insert(k.into(), v);
    Value::Object(m)
}

fn without(m: &Map<String, Value>, k: &str) -> Value {
    let mut m = m.clone();
    m.remove(k);
    Value::Object(m)
}

fn now() -> i64 {
    gatehouse::clock::SystemClock.now_unix()
}

// === 1–4: forged tokens ===

#[tokio::test]
async fn forged_tokens_are_refused() {
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
        rows.push(Row::new(name, expected, bearer(g, &token).await));
    }
    rows.push(Row::new(
        "jku/x5u/kid-URL server was never called",
        "0 calls",
        format!("{} calls", recorder.hits()),
    ));
    let leaked = invoke_with(
        g,
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
    report("forged tokens (checklist 1–4)", &rows);
}

// === 5: token location and smuggling ===

#[tokio::test]
async fn smuggled_and_ambiguous_credentials_are_refused() {
    let g = shared();
    let v = victim(g, "smuggle").await;
    let other = victim(g, "smuggle-other").await;
    let t = v.token.as_str();
    let url = g.invocations_url();
    let mut rows = Vec::new();
    let single: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "control: Bearer <token>",
            "200",
            format!("Bearer {t}").into_bytes(),
        ),
        (
            "scheme lower-case (RFC 7235: case-insensitive)",
            "200",
            format!("bearer {t}").into_bytes(),
        ),
        (
            "two spaces after the scheme",
            "200",
            format!("Bearer  {t}").into_bytes(),
        ),
        (
            "tab after the scheme",
            BAD_REQUEST,
            format!("Bearer\t{t}").into_bytes(),
        ),
        (
            "Bearer a,b (two tokens)",
            BAD_REQUEST,
            format!("Bearer {t},{}", other.token).into_bytes(),
        ),
        (
            "Bearer a b (two tokens)",
            BAD_REQUEST,
            format!("Bearer {t} {}", other.token).into_bytes(),
        ),
        ("Basic scheme", BAD_REQUEST, b"Basic dXNlcjpwYXNz".to_vec()),
        (
            "Token scheme",
            BAD_REQUEST,
            format!("Token {t}").into_bytes(),
        ),
        ("no scheme", BAD_REQUEST, t.as_bytes().to_vec()),
        (
            "scheme only",
            "401 no-error | 401 invalid_request",
            b"Bearer".to_vec(),
        ),
        (
            "scheme and a space",
            "401 no-error | 401 invalid_request",
            b"Bearer ".to_vec(),
        ),
        (
            "token wrapped in quotes",
            BAD_REQUEST,
            format!("Bearer \"{t}\"").into_bytes(),
        ),
        (
            "non-ASCII bytes in the header",
            BAD_REQUEST,
            [b"Bearer ".as_slice(), t.as_bytes(), b"\xff\xfe"].concat(),
        ),
        (
            "token with a trailing NUL-like %00",
            BAD_REQUEST,
            format!("Bearer {t}%00").into_bytes(),
        ),
    ];
    for (name, expected, value) in single {
        let got = invoke_with(g, Some(&value), &[]).await.describe();
        rows.push(Row::new(format!("Authorization: {name}"), expected, got));
    }
    let auth = format!("Bearer {t}");
    let auth_other = format!("Bearer {}", other.token);
    let two_same = invoke_with(
        g,
        Some(auth.as_bytes()),
        &[("authorization", auth.as_bytes())],
    )
    .await;
    rows.push(Row::new(
        "two identical Authorization headers",
        BAD_REQUEST,
        two_same.describe(),
    ));
    let two_diff = invoke_with(
        g,
        Some(auth.as_bytes()),
        &[("Authorization", auth_other.as_bytes())],
    )
    .await;
    rows.push(Row::new(
        "two different Authorization headers",
        BAD_REQUEST,
        two_diff.describe(),
    ));
    for q in ["access_token", "id_token", "ACCESS_TOKEN", "Id_Token"] {
        let with_header = request(
            "POST",
            &format!("{url}&{q}={}", other.token),
            &[("authorization", auth.as_bytes())],
            "{}",
        )
        .await;
        rows.push(Row::new(
            format!("header + a different token in ?{q}="),
            BAD_REQUEST,
            with_header.describe(),
        ));
    }
    let query_only = request("POST", &format!("{url}&access_token={t}"), &[], "{}").await;
    rows.push(Row::new(
        "token only in ?access_token=",
        BAD_REQUEST,
        query_only.describe(),
    ));
    let cookie = request(
        "POST",
        &url,
        &[(
            "cookie",
            format!("access_token={t}; idToken={t}").as_bytes(),
        )],
        "{}",
    )
    .await;
    rows.push(Row::new(
        "token only in a cookie (never read)",
        "401 no-error",
        cookie.describe(),
    ));
    let cookie_and_header = request(
        "POST",
        &url,
        &[
            ("authorization", auth.as_bytes()),
            ("cookie", format!("access_token={}", other.token).as_bytes()),
        ],
        json!({"stream": false}).to_string(),
    )
    .await;
    let got = if cookie_and_header.status == 200 {
        let seen_user = cookie_and_header.json()["user_id"].clone();
        let cookie_seen = cookie_and_header.body.contains(&other.token);
        format!(
            "200 user={} cookie-token-forwarded={cookie_seen}",
            if seen_user == v.sub.as_str() {
                "header's"
            } else {
                "other"
            }
        )
    } else {
        cookie_and_header.describe()
    };
    rows.push(Row::new(
        "header + another user's token in a cookie",
        "200 user=header's cookie-token-forwarded=false | 401 invalid_request",
        got,
    ));
    report("token location and smuggling (checklist 5)", &rows);
}

// === 7: identity headers ===

#[tokio::test]
async fn identity_headers_sent_by_clients_never_reach_the_agent() {
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
        let a = invoke_with(
            g,
            Some(auth.as_bytes()),
            &[(name, value.as_bytes()), (name, b"mallory-duplicate")],
        )
        .await;
        let got = if a.status == 200 {
            let body = a.json();
            let user_ok = body["user_id"] == v.sub.as_str();
            let headers = body["headers"].to_string();
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
    let a = invoke_with(g, Some(auth.as_bytes()), &[]).await;
    let headers = a.json()["headers"].clone();
    for gone in ["authorization", "sec-websocket-protocol"] {
        rows.push(Row::new(
            format!("{gone} stripped before the agent"),
            "absent",
            if headers.get(gone).is_some() {
                "forwarded"
            } else {
                "absent"
            },
        ));
    }
    let anon = invoke_with(
        g,
        None,
        &[("x-amzn-bedrock-agentcore-runtime-user-id", b"mallory")],
    )
    .await;
    rows.push(Row::new(
        "spoofed user id without a token",
        "401 no-error",
        anon.describe(),
    ));
    report("identity headers (checklist 7)", &rows);
}

// === 10: sessions ===

#[tokio::test]
async fn sessions_cannot_be_hijacked_or_forged() {
    let g = shared();
    let a = victim(g, "sess-a").await;
    let b = victim(g, "sess-b").await;
    const SID: &str = "x-amzn-bedrock-agentcore-runtime-session-id";
    let auth_a = format!("Bearer {}", a.token);
    let auth_b = format!("Bearer {}", b.token);
    let first = invoke_with(g, Some(auth_a.as_bytes()), &[]).await;
    let session = first.headers[SID].to_str().unwrap().to_string();
    let mut rows = vec![Row::new(
        "control: A continues A's session",
        "200",
        invoke_with(g, Some(auth_a.as_bytes()), &[(SID, session.as_bytes())])
            .await
            .describe(),
    )];
    rows.push(Row::new(
        "B presents A's session id",
        "403 AccessDeniedException",
        invoke_with(g, Some(auth_b.as_bytes()), &[(SID, session.as_bytes())])
            .await
            .describe(),
    ));
    rows.push(Row::new(
        "B presents A's session id upper-cased",
        "200 | 403 AccessDeniedException",
        {
            // A different id is a different session: B may own it, but it must never reach A's.
            let r = invoke_with(
                g,
                Some(auth_b.as_bytes()),
                &[(SID, session.to_uppercase().as_bytes())],
            )
            .await;
            if r.status == 200 && r.json()["turn"] != 1 {
                "200 but continued A's conversation".to_string()
            } else {
                r.describe()
            }
        },
    ));
    let minted = first.json()["session_id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    rows.push(Row::new(
        "minted session id has ≥ 128 bits (≥ 33 chars of [A-Za-z0-9_-])",
        "ok",
        if minted.len() >= 33
            && minted
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            "ok"
        } else {
            "weak"
        },
    ));
    let bad_ids: Vec<(&str, Vec<u8>)> = vec![
        ("32 characters", vec![b'a'; 32]),
        ("257 characters", vec![b'a'; 257]),
        (
            "path traversal",
            format!("../../{}", "a".repeat(40)).into_bytes(),
        ),
        (
            "percent-encoded slash",
            format!("{}%2f..", "a".repeat(40)).into_bytes(),
        ),
        ("space", format!("{} b", "a".repeat(40)).into_bytes()),
        (
            "non-ASCII",
            [vec![b'a'; 40], "é".as_bytes().to_vec()].concat(),
        ),
        (
            "CRLF-free header injection attempt",
            format!("{};x-user-id=mallory", "a".repeat(40)).into_bytes(),
        ),
    ];
    for (name, id) in bad_ids {
        rows.push(Row::new(
            format!("session id: {name}"),
            "400 ValidationException",
            invoke_with(g, Some(auth_a.as_bytes()), &[(SID, &id)])
                .await
                .describe(),
        ));
    }
    let fresh = format!("attack-{}", gatehouse::util::random_alnum(40));
    rows.push(Row::new(
        "two different session-id headers",
        "400 ValidationException",
        invoke_with(
            g,
            Some(auth_a.as_bytes()),
            &[(SID, session.as_bytes()), (SID, fresh.as_bytes())],
        )
        .await
        .describe(),
    ));
    report("session routing (checklist 10)", &rows);
}

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

// === HTTP request smuggling ===

#[tokio::test]
async fn request_smuggling_is_refused_on_every_listener() {
    let g = shared();
    let quiet = Duration::from_secs(3);
    let mut rows = Vec::new();
    // The suffix would be a second request if the listener framed the body by Content-Length while a proxy in
    // front framed it by Transfer-Encoding (or the reverse). RFC 9112 §6.3: such a request "ought to be handled
    // as an error" and the server MUST close the connection after responding.
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let cases: Vec<(&str, &str, String)> = vec![
        ("CL + TE (CL.TE)", "x1 closed", format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}")),
        ("TE + CL (TE.CL)", "x1 closed", format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n{smuggled}")),
        ("two different Content-Length", "x1 closed", format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n{smuggled}")),
        ("Content-Length: 0, 40 (list)", "x1 closed", format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 40\r\n\r\n{smuggled}")),
        ("Content-Length: +5", "x1 closed", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello".into()),
        ("space before the colon", "x1 closed", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello".into()),
        ("Transfer-Encoding: xchunked", "x1 closed", format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n{smuggled}")),
        ("Transfer-Encoding: chunked, identity", "x1 closed", format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{smuggled}")),
        ("obs-fold continuation line", "x1 closed", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n Transfer-Encoding: chunked\r\n\r\n".into()),
        ("chunk size overflow", "x1 closed", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\na\r\n0\r\n\r\n".into()),
        ("no Host header (HTTP/1.1; gatehouse does not route by Host)", "x1 closed | x1 open", "GET / HTTP/1.1\r\n\r\n".into()),
    ];
    for (listener, url) in [
        ("gateway", &g.endpoints.gateway),
        ("idp", &g.endpoints.idp),
        ("web", &g.endpoints.web),
        ("admin", &g.endpoints.admin),
    ] {
        let addr = authority(url);
        for (name, expected, bytes) in &cases {
            let a = raw(&addr, bytes.as_bytes(), quiet).await;
            // The status does not matter (400, or 404/405 for the route); what matters is that exactly one
            // request was answered and the connection was closed, so nothing after the body is ever parsed.
            let got = format!(
                "x{} {}",
                a.statuses.len(),
                if a.closed { "closed" } else { "open" }
            );
            rows.push(Row::new(format!("{listener}: {name}"), *expected, got));
        }
    }
    report("HTTP request smuggling", &rows);
}

// === slowloris ===

/// Every listener must drop a connection that trickles its request headers, within a bound.
#[tokio::test]
async fn slowloris_is_dropped_on_every_listener() {
    let g = shared();
    let limit = Duration::from_secs(45);
    let every = Duration::from_secs(2);
    let listeners = [
        ("web", authority(&g.endpoints.web)),
        ("idp", authority(&g.endpoints.idp)),
        ("gateway", authority(&g.endpoints.gateway)),
        ("admin", authority(&g.endpoints.admin)),
    ];
    let probes = listeners
        .iter()
        .map(|(_, addr)| slowloris(addr, every, limit));
    let results = futures_util::future::join_all(probes).await;
    let rows: Vec<Row> = listeners
        .iter()
        .zip(results)
        .map(|((name, _), r)| {
            Row::new(
                format!("{name}: one header line every 2 s"),
                "dropped within 40 s",
                match r {
                    Some(d) if d <= Duration::from_secs(40) => "dropped within 40 s".to_string(),
                    Some(d) => format!("dropped after {}s", d.as_secs()),
                    None => format!("still open after {}s", limit.as_secs()),
                },
            )
        })
        .collect();
    report("slowloris", &rows);
}

// === path escapes on the edge ===
// Here against the placeholder edge (no web root); the same escapes against a served web root with dotfiles and
// symlinks out of it are the table "edge path escapes (with a web root)" in `tests/edge.rs`.

#[tokio::test]
async fn the_edge_serves_nothing_outside_its_root() {
    let g = shared();
    let web = authority(&g.endpoints.web);
    let quiet = Duration::from_secs(2);
    let data_dir = g.dir.display().to_string();
    let paths = [
        "/../../../../../../etc/passwd".to_string(),
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd".into(),
        "/..%2f..%2f..%2f..%2fetc%2fpasswd".into(),
        "/%252e%252e/%252e%252e/etc/passwd".into(),
        "/..%c0%af..%c0%afetc/passwd".into(),
        "//etc/passwd".into(),
        "/config.json/../../../../etc/passwd".into(),
        "/.%00./.%00./etc/passwd".into(),
        "/..%5c..%5c..%5cetc%5cpasswd".into(),
        "/..\\..\\..\\etc\\passwd".into(),
        "/%2E%2E/%2E%2E/%2E%2E/etc/passwd".into(),
        "/.%2e/.%2e/.%2e/etc/passwd".into(),
        "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd".into(),
        "/..%252f..%252f..%252fetc%252fpasswd".into(),
        "/index.html%00".into(),
        "/C:/Windows/win.ini".into(),
        "/.env".into(),
        "/gatehouse.db".into(),
        "/endpoints.json".into(),
        "/.gatehouse/gatehouse.db".into(),
        format!("/{}", data_dir.trim_start_matches('/')),
        format!("{data_dir}/gatehouse.db"),
        "/.git/config".into(),
        "/Cargo.toml".into(),
        "/src/".into(),
        "/proc/self/environ".into(),
    ];
    let mut rows = Vec::new();
    for p in paths {
        let a = raw(
            &web,
            format!("GET {p} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").as_bytes(),
            quiet,
        )
        .await;
        let leak = a.text.contains("root:")
            || a.text.contains("SQLite format")
            || a.text.contains("[package]")
            || a.text.contains("[core]")
            || a.text.contains("PATH=")
            || a.text.contains("user_pool_id\":");
        let status = a
            .statuses
            .first()
            .map_or("none".to_string(), u16::to_string);
        rows.push(Row::new(
            format!("GET {}", if p.len() > 60 { &p[..60] } else { &p }),
            "404 | 400",
            if leak {
                format!("{status} LEAKED")
            } else {
                status
            },
        ));
    }
    rows.push(Row::new("/config.json carries no secret", "no secret", {
        let a = request("GET", &format!("{}/config.json", g.endpoints.web), &[], "").await;
        let t = a.body.to_ascii_lowercase();
        if t.contains("secret")
            || t.contains("password")
            || t.contains("pkcs8")
            || t.contains("private")
        {
            "secret present".to_string()
        } else {
            "no secret".to_string()
        }
    }));
    report("edge path escapes (SPA serving arrives later)", &rows);
}

// === 12: the IdP ===

async fn initiate(g: &Gatehouse, user: &str, pw: &str) -> (u16, Value, Duration) {
    let start = Instant::now();
    let (s, b) = cognito(
        &g.endpoints.idp,
        "InitiateAuth",
        &json!({
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": g.endpoints.client_id,
            "AuthParameters": {"USERNAME": user, "PASSWORD": pw},
        }),
    )
    .await;
    (s, b, start.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
async fn the_idp_does_not_tell_who_exists() {
    let g = shared();
    let user = g.new_user("enum");
    let wrong = format!("Wrong1!{}", gatehouse::util::random_alnum(10));
    let ghost = format!("ghost-{}", gatehouse::util::random_lower_alnum(10));
    let mut rows = Vec::new();
    let (s1, b1, _) = initiate(g, &user, &wrong).await;
    let (s2, b2, _) = initiate(g, &ghost, &wrong).await;
    rows.push(Row::new(
        "wrong password vs unknown user: status, __type, message",
        "identical",
        if (s1, &b1) == (s2, &b2) {
            "identical".to_string()
        } else {
            format!("differs: {s1} {b1} vs {s2} {b2}")
        },
    ));
    rows.push(Row::new(
        "wrong password answer",
        "400 NotAuthorizedException",
        format!("{s1} {}", b1["__type"].as_str().unwrap_or("?")),
    ));
    let (s3, b3, _) = initiate(g, &user.to_uppercase(), &wrong).await;
    rows.push(Row::new(
        "upper-cased existing username, wrong password",
        "identical",
        if (s3, &b3) == (s2, &b2) {
            "identical".into()
        } else {
            format!("differs: {s3} {b3}")
        },
    ));
    let injection = initiate(g, "' OR '1'='1' --", "' OR '1'='1' --").await;
    rows.push(Row::new(
        "SQL injection in USERNAME and PASSWORD",
        "400 NotAuthorizedException",
        format!(
            "{} {}",
            injection.0,
            injection.1["__type"].as_str().unwrap_or("?")
        ),
    ));
    // Timing: the same argon2 work for an unknown user (a dummy hash) as for a wrong password.
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..7 {
        known.push(initiate(g, &user, &wrong).await.2);
        unknown.push(initiate(g, &ghost, &wrong).await.2);
    }
    let (k, u) = (median(known), median(unknown));
    let ratio =
        k.as_secs_f64().max(u.as_secs_f64()) / k.as_secs_f64().min(u.as_secs_f64()).max(1e-6);
    rows.push(Row::new(
        "timing: median wrong-password vs unknown-user (ratio < 2)",
        "indistinguishable",
        if ratio < 2.0 {
            "indistinguishable".to_string()
        } else {
            format!("known {k:?} vs unknown {u:?}")
        },
    ));
    rows.push(Row::new(
        "a wrong password takes argon2 work (≥ 5 ms)",
        "yes",
        if k >= Duration::from_millis(5) {
            "yes".to_string()
        } else {
            format!("no ({k:?})")
        },
    ));
    let (s, b, _) = initiate(g, &user, &"A".repeat(70_000)).await;
    rows.push(Row::new(
        "70 kB password (over the body limit)",
        "413 | 400 SerializationException | 413 SerializationException | 400 NotAuthorizedException",
        format!("{s}{}", b["__type"].as_str().map(|t| format!(" {t}")).unwrap_or_default()),
    ));
    for flow in ["ADMIN_NO_SRP_AUTH", "CUSTOM_AUTH", "user_password_auth", ""] {
        let (s, b) = cognito(
            &g.endpoints.idp,
            "InitiateAuth",
            &json!({
                "AuthFlow": flow,
                "ClientId": g.endpoints.client_id,
                "AuthParameters": {"USERNAME": user, "PASSWORD": password()},
            }),
        )
        .await;
        rows.push(Row::new(
            format!("AuthFlow {flow:?} with the right password"),
            "400 InvalidParameterException | 400 NotAuthorizedException",
            format!("{s} {}", b["__type"].as_str().unwrap_or("?")),
        ));
    }
    let (s, b) = cognito(
        &g.endpoints.idp,
        "InitiateAuth",
        &json!({
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": "someotherclient",
            "AuthParameters": {"USERNAME": user, "PASSWORD": password()},
        }),
    )
    .await;
    rows.push(Row::new(
        "unknown ClientId with the right password",
        "400 ResourceNotFoundException | 400 NotAuthorizedException",
        format!("{s} {}", b["__type"].as_str().unwrap_or("?")),
    ));
    report("IdP enumeration (checklist 12)", &rows);
}

/// Brute force: after a run of wrong passwords the account (or the client) must be throttled, as Cognito does
/// ("Password attempts exceeded").
#[tokio::test]
async fn the_idp_throttles_password_guessing() {
    let g = shared();
    let user = g.new_user("brute");
    let mut statuses = Vec::new();
    for i in 0..20 {
        let (s, b, _) = initiate(g, &user, &format!("Guess{i}!aaaa")).await;
        statuses.push(format!("{s} {}", b["__type"].as_str().unwrap_or("?")));
    }
    let (s, b, _) = initiate(g, &user, password()).await;
    let throttled_during = statuses.iter().any(|s| {
        s.starts_with("429") || s.contains("TooManyRequests") || s.contains("LimitExceeded")
    });
    let got = if s == 200 && !throttled_during {
        "not throttled: right password accepted after 20 failures".to_string()
    } else {
        "throttled".to_string()
    };
    let _ = b;
    report(
        "IdP brute force (checklist 12)",
        &[Row::new(
            "20 wrong passwords, then the right one",
            "throttled",
            got,
        )],
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

/// Tokens in URLs leak into access logs: a JWT in any query parameter is refused, not only in `access_token`.
#[tokio::test]
async fn a_jwt_in_any_query_parameter_is_refused() {
    let g = shared();
    let v = victim(g, "query").await;
    let other = victim(g, "query-other").await;
    let auth = format!("Bearer {}", v.token);
    let mut rows = Vec::new();
    for q in ["token", "jwt", "Authorization", "bearer"] {
        let a = request(
            "POST",
            &format!("{}&{q}={}", g.invocations_url(), other.token),
            &[("authorization", auth.as_bytes())],
            "{}",
        )
        .await;
        rows.push(Row::new(
            format!("header + a different token in ?{q}="),
            BAD_REQUEST,
            a.describe(),
        ));
    }
    report("query-string tokens (checklist 5)", &rows);
}

/// The table itself: a row whose answer is not one of the expected ones fails the run (so breaking any check that
/// a case covers turns the suite red).
#[test]
#[should_panic(expected = "1 case(s) answered wrongly")]
fn a_wrong_answer_fails_the_table() {
    report(
        "self-test",
        &[
            Row::new(
                "refused",
                "401 invalid_token | 401 invalid_request",
                "401 invalid_request",
            ),
            Row::new("accepted although forged", INVALID, "200"),
        ],
    );
}

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

// === 5: tokens and passwords never reach the log ===

#[tokio::test]
async fn tokens_and_passwords_are_never_logged_even_at_trace_level() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("gatehouse.log");
    let mut g = crate::common::attack::start_logged(&tmp.path().join("data"), &log);
    let user = g.new_user("logged");
    let result = g.login(&user).await;
    let access = result["AccessToken"].as_str().unwrap().to_string();
    let id = result["IdToken"].as_str().unwrap().to_string();
    let refresh = result["RefreshToken"].as_str().unwrap_or("").to_string();
    let _ = bearer(&g, &access).await;
    let _ = bearer(&g, &id).await;
    let forged = format!("{access}x");
    let _ = bearer(&g, &forged).await;
    let _ = request(
        "POST",
        &format!("{}&access_token={access}", g.invocations_url()),
        &[],
        "{}",
    )
    .await;
    let wrong = format!("Wrong1!{}", gatehouse::util::random_alnum(12));
    let _ = initiate(&g, &user, &wrong).await;
    g.stop();
    let text = std::fs::read_to_string(&log).unwrap();
    // A signature segment is unique to its token: finding it means the token (or enough of it) was logged.
    let sig = |t: &str| t.rsplit('.').next().unwrap_or("").to_string();
    let mut rows = vec![Row::new(
        "the log is not empty (trace level on)",
        "has lines",
        if text.lines().count() > 3 {
            "has lines"
        } else {
            "empty"
        },
    )];
    for (name, secret) in [
        ("access token", sig(&access)),
        ("ID token", sig(&id)),
        ("forged token", sig(&forged)),
        ("refresh token", refresh.clone()),
        ("password", crate::common::password().to_string()),
        ("wrong password", wrong.clone()),
    ] {
        rows.push(Row::new(
            format!("{name} in the log"),
            "absent",
            if !secret.is_empty() && text.contains(&secret) {
                "LOGGED"
            } else {
                "absent"
            },
        ));
    }
    report("secrets in logs (checklist 5)", &rows);
}
