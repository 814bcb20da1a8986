//! Attack class: session hijacking and forged session ids. Owns no production code.
use super::*;

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
