//! Attack class: where a token may be and how it may be smuggled (ambiguous or duplicated credentials, tokens in
//! query strings). Owns no production code.
use super::*;

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
