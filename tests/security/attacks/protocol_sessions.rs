//! Attack class: session hijacking on the MCP and A2A routes — another user's `Mcp-Session-Id` (as is, re-cased,
//! smuggled as the runtime session header, doubled), another user's A2A task or context id (read, continued,
//! cancelled, listed), and an unscoped task listing. Owns no production code.
use super::*;

const MCP_SID: &str = "mcp-session-id";
const RUNTIME_SID: &str = "x-amzn-bedrock-agentcore-runtime-session-id";

async fn mcp(g: &Gatehouse, token: &str, extra: &[(&str, &[u8])], msg: &Value) -> Answer {
    let auth = format!("Bearer {token}");
    let mut h: Vec<(&str, &[u8])> = vec![
        ("content-type", b"application/json"),
        ("accept", b"application/json, text/event-stream"),
        ("authorization", auth.as_bytes()),
    ];
    h.extend_from_slice(extra);
    request("POST", &g.runtime_url("demo_mcp"), &h, msg.to_string()).await
}

async fn a2a(g: &Gatehouse, token: &str, msg: &Value) -> Answer {
    let auth = format!("Bearer {token}");
    let h: Vec<(&str, &[u8])> = vec![
        ("content-type", b"application/json"),
        ("authorization", auth.as_bytes()),
    ];
    request("POST", &g.runtime_url("demo_a2a"), &h, msg.to_string()).await
}

fn whoami() -> Value {
    json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}})
}

#[tokio::test]
async fn mcp_sessions_cannot_be_hijacked() {
    let g = shared();
    let a = victim(g, "mcp-sess-a").await;
    let b = victim(g, "mcp-sess-b").await;
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",
        "capabilities":{},"clientInfo":{"name":"attack","version":"1"}}});
    let first = mcp(g, &a.token, &[], &init).await;
    let sid = first.headers[MCP_SID].to_str().unwrap().to_string();
    let sid_b = sid.as_bytes();
    let upper = sid.to_uppercase();
    let mut rows = vec![Row::new(
        "control: A continues A's MCP session",
        "200",
        mcp(g, &a.token, &[(MCP_SID, sid_b)], &whoami())
            .await
            .describe(),
    )];
    rows.push(Row::new(
        "B presents A's Mcp-Session-Id",
        "403 AccessDeniedException",
        mcp(g, &b.token, &[(MCP_SID, sid_b)], &whoami())
            .await
            .describe(),
    ));
    rows.push(Row::new(
        "B presents A's MCP session as the runtime session header",
        "403 AccessDeniedException",
        mcp(g, &b.token, &[(RUNTIME_SID, sid_b)], &whoami())
            .await
            .describe(),
    ));
    rows.push(Row::new(
        "B sends A's Mcp-Session-Id twice",
        "400 ValidationException",
        mcp(
            g,
            &b.token,
            &[(MCP_SID, sid_b), (MCP_SID, sid_b)],
            &whoami(),
        )
        .await
        .describe(),
    ));
    let recased = mcp(g, &b.token, &[(MCP_SID, upper.as_bytes())], &whoami()).await;
    rows.push(Row::new(
        "B presents A's id upper-cased (another session, never A's)",
        "200 another session | 403 AccessDeniedException",
        if recased.status == 200 {
            let seen = recased.json()["result"]["structuredContent"]["mcp_session_id"].clone();
            if seen == sid.as_str() {
                "200 reached A's session".into()
            } else {
                "200 another session".into()
            }
        } else {
            recased.describe()
        },
    ));
    let auth_b = format!("Bearer {}", b.token);
    for method in ["GET", "DELETE"] {
        let r = request(
            method,
            &g.runtime_url("demo_mcp"),
            &[("authorization", auth_b.as_bytes()), (MCP_SID, sid_b)],
            "",
        )
        .await;
        rows.push(Row::new(
            format!("B {method}s A's MCP session"),
            "403 AccessDeniedException",
            r.describe(),
        ));
    }
    rows.push(Row::new(
        "control: A's session still works",
        "200",
        mcp(g, &a.token, &[(MCP_SID, sid_b)], &whoami())
            .await
            .describe(),
    ));
    report("MCP sessions (checklist 10)", &rows);
}

#[tokio::test]
async fn a2a_tasks_and_contexts_cannot_be_hijacked() {
    let g = shared();
    let a = victim(g, "a2a-sess-a").await;
    let b = victim(g, "a2a-sess-b").await;
    let sent = a2a(
        g,
        &a.token,
        &serde_json::from_str(&Route::A2a.body()).unwrap(),
    )
    .await;
    let task = sent.json()["result"]["id"].as_str().unwrap().to_string();
    let context = sent.json()["result"]["contextId"]
        .as_str()
        .unwrap()
        .to_string();
    let msg = |task: Option<&str>, context: Option<&str>| {
        let mut m = json!({"kind":"message","messageId":"m2","role":"user","parts":[{"kind":"text","text":"x"}]});
        if let Some(t) = task {
            m["taskId"] = json!(t);
        }
        if let Some(c) = context {
            m["contextId"] = json!(c);
        }
        json!({"jsonrpc":"2.0","id":3,"method":"message/send","params":{"message": m}})
    };
    let get = |method: &str, key: &str| json!({"jsonrpc":"2.0","id":4,"method":method,"params":{key: task}});
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "B reads A's task (tasks/get)",
            "403 AccessDeniedException",
            get("tasks/get", "id"),
        ),
        (
            "B reads A's task (GetTask by name)",
            "403 AccessDeniedException",
            json!({"jsonrpc":"2.0","id":5,"method":"GetTask","params":{"name": format!("tasks/{task}")}}),
        ),
        (
            "B cancels A's task",
            "403 AccessDeniedException",
            get("tasks/cancel", "id"),
        ),
        (
            "B continues A's task",
            "403 AccessDeniedException",
            msg(Some(&task), None),
        ),
        (
            "B writes into A's context",
            "403 AccessDeniedException",
            msg(None, Some(&context)),
        ),
        (
            "B lists A's context",
            "403 AccessDeniedException",
            json!({"jsonrpc":"2.0","id":6,"method":"ListTasks","params":{"contextId": context}}),
        ),
        (
            "B lists every task",
            "400 ValidationException",
            json!({"jsonrpc":"2.0","id":7,"method":"ListTasks","params":{}}),
        ),
    ];
    let mut rows = Vec::new();
    for (case, expected, body) in cases {
        rows.push(Row::new(
            case,
            expected,
            a2a(g, &b.token, &body).await.describe(),
        ));
    }
    rows.push(Row::new(
        "control: A reads A's task",
        "200",
        a2a(g, &a.token, &get("tasks/get", "id")).await.describe(),
    ));
    report("A2A tasks and contexts (checklist 10)", &rows);
}
