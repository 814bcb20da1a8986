//! Tests of the MCP message helpers: calls in one message and in batches, headers, refusals, list filtering.
use serde_json::json;

use super::*;

#[test]
fn a_tools_call_gives_its_name_and_id() {
    let body = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_weather","arguments":{"name":"x"}}}"#;
    assert_eq!(
        tool_calls(body).unwrap(),
        [ToolCall {
            id: Some(json!(7)),
            name: "get_weather".into()
        }]
    );
    let notification = br#" {"jsonrpc":"2.0","method":"tools/call","params":{"name":"a"}} "#;
    assert_eq!(tool_calls(notification).unwrap()[0].id, None);
    for other in [
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.as_slice(),
        br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"name":"x"}}"#,
        br#"{"jsonrpc":"2.0","id":1,"method":"sum","params":[1,2]}"#,
        br#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
    ] {
        assert_eq!(
            tool_calls(other).unwrap(),
            [],
            "{}",
            String::from_utf8_lossy(other)
        );
    }
    let m = parse_messages(br#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#).unwrap();
    assert!(!m.batch);
    assert_eq!(m.messages[0].method.as_deref(), Some("ping"));
    assert_eq!(m.messages[0].id, Some(json!("a")));
}

#[test]
fn every_call_of_a_batch_is_found() {
    let body = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},
                   {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"a"}},
                   {"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"b"}}]"#;
    let m = parse_messages(body).unwrap();
    assert!(m.batch);
    assert_eq!(m.messages.len(), 3);
    let names: Vec<String> = m.tool_calls().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(tool_calls(b"[]").unwrap(), []);
}

#[test]
fn a_body_the_agent_might_read_differently_is_refused() {
    for (body, code) in [
        (b"not json".as_slice(), PARSE_ERROR),
        (
            br#"{"method":"tools/call","params":{"name":"a"}} x"#,
            PARSE_ERROR,
        ),
        (
            br#"{"method":"tools/call","params":{"name":"a","name":"b"}}"#,
            INVALID_REQUEST,
        ),
        (
            br#"{"method":"ping","method":"tools/call","params":{"name":"a"}}"#,
            INVALID_REQUEST,
        ),
        (
            br#"{"method":"tools/call","params":{"name":7}}"#,
            INVALID_REQUEST,
        ),
        (
            br#"{"method":"tools/call","params":["a"]}"#,
            INVALID_REQUEST,
        ),
        (br#"{"method":"tools/call"}"#, INVALID_REQUEST),
        (br#"{"method":5}"#, INVALID_REQUEST),
        (
            br#"[{"method":"tools/call","params":{"name":"a"}}, 3]"#,
            INVALID_REQUEST,
        ),
        (b"\"tools/call\"", INVALID_REQUEST),
    ] {
        let e = tool_calls(body).unwrap_err();
        assert_eq!(e.code(), code, "{}: {e}", String::from_utf8_lossy(body));
    }
    // An escaped member name is the same member.
    let escaped = br#"{"m\u0065thod":"tools/call","params":{"n\u0061me":"a"}}"#;
    assert_eq!(tool_calls(escaped).unwrap()[0].name, "a");
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn the_headers_name_the_tool_plain_or_in_base64() {
    assert_eq!(
        tool_of_headers(&headers(&[
            ("mcp-method", "tools/call"),
            ("mcp-name", "get_weather")
        ]))
        .as_deref(),
        Some("get_weather")
    );
    // "天気" in UTF-8, Base64.
    assert_eq!(
        tool_of_headers(&headers(&[
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "=?base64?5aSp5rCX?=")
        ]))
        .as_deref(),
        Some("天気")
    );
    assert_eq!(
        tool_of_headers(&headers(&[("mcp-method", "tools/list"), ("mcp-name", "x")])),
        None
    );
    assert_eq!(tool_of_headers(&headers(&[("mcp-name", "x")])), None);
    assert_eq!(
        tool_of_headers(&headers(&[
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?!!?=")
        ])),
        None
    );
}

#[test]
fn headers_that_disagree_with_the_body_are_refused() {
    let call =
        parse_messages(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b"}}"#)
            .unwrap();
    let ok = headers(&[("mcp-method", "tools/call"), ("mcp-name", "b")]);
    assert_eq!(check_headers(&ok, &call), Ok(()));
    assert_eq!(
        check_headers(&HeaderMap::new(), &call),
        Ok(()),
        "an older client sends none"
    );
    assert_eq!(
        check_headers(
            &headers(&[
                ("mcp-method", "tools/call"),
                ("mcp-name", "=?base64?Yg==?=")
            ]),
            &call
        ),
        Ok(())
    );
    for bad in [
        headers(&[("mcp-method", "tools/call"), ("mcp-name", "a")]),
        headers(&[("mcp-method", "tools/call")]),
        headers(&[("mcp-method", "tools/list"), ("mcp-name", "b")]),
        headers(&[("mcp-name", "b")]),
        headers(&[
            ("mcp-method", "tools/call"),
            ("mcp-name", "b"),
            ("mcp-name", "b"),
        ]),
        headers(&[
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?YQ==?="),
        ]),
    ] {
        assert!(check_headers(&bad, &call).is_err(), "{bad:?}");
    }
    let list = parse_messages(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).unwrap();
    assert_eq!(
        check_headers(&headers(&[("mcp-method", "tools/list")]), &list),
        Ok(())
    );
    let batch = parse_messages(br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#).unwrap();
    assert!(check_headers(&headers(&[("mcp-method", "tools/list")]), &batch).is_err());
}

#[test]
fn a_refusal_is_a_jsonrpc_error_with_the_requests_id() {
    let call = ToolCall {
        id: Some(json!("req-9")),
        name: "admin_drop".into(),
    };
    let body = refusal_body(
        &call,
        &["tools/admin".into()],
        "the tool 'admin_drop' needs the scope(s) tools/admin",
    );
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v,
        json!({"jsonrpc": "2.0", "id": "req-9", "error": {
            "code": TOOL_REFUSED,
            "message": "the tool 'admin_drop' needs the scope(s) tools/admin",
            "data": {"tool": "admin_drop", "missingScopes": ["tools/admin"]}}})
    );
    let n = refusal(
        &ToolCall {
            id: None,
            name: "x".into(),
        },
        &[],
        "no",
    );
    assert_eq!(n["id"], Value::Null);
    assert!(!(-32768..=-32000).contains(&TOOL_REFUSED));
    assert_eq!(
        jsonrpc_error(None, PARSE_ERROR, "bad", None),
        json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}})
    );
}

#[test]
fn the_challenge_names_every_scope_and_the_metadata() {
    let v = insufficient_scope_challenge(
        &["tools/admin".into(), "tools/read".into()],
        "https://gw.example.com/runtimes/x/invocations/.well-known/oauth-protected-resource",
        Some("the tool \"x\" needs ünicode"),
    );
    assert_eq!(
        v.to_str().unwrap(),
        "Bearer error=\"insufficient_scope\", scope=\"tools/admin tools/read\", \
         resource_metadata=\"https://gw.example.com/runtimes/x/invocations/.well-known/oauth-protected-resource\", \
         error_description=\"the tool \\\"x\\\" needs ?nicode\""
    );
    assert!(!insufficient_scope_challenge(&[], "u", None)
        .to_str()
        .unwrap()
        .contains("error_description"));
}

const LIST: &str = r#"{"jsonrpc":"2.0","id":4,"result":{"tools":[
  {"name":"get_weather","description":"Weather","inputSchema":{"type":"object","properties":{"n":{"maximum":1.50}}}},
  {"name":"admin_drop","inputSchema":{}},
  {"description":"no name"},
  {"name":"ping","annotations":{"readOnlyHint":true}}],
  "nextCursor":"abc","ttlMs":60000},"zeta":1}"#;

fn allowed(name: &str) -> bool {
    !name.starts_with("admin_")
}

#[test]
fn a_list_loses_the_refused_tools_and_keeps_everything_else_as_written() {
    let out = String::from_utf8(filter_tools_list(LIST.as_bytes(), allowed).unwrap()).unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = v["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["get_weather", "ping"],
        "refused and unnamed tools are gone"
    );
    assert_eq!(v["result"]["nextCursor"], "abc");
    assert_eq!(v["result"]["ttlMs"], 60000);
    assert_eq!(v["zeta"], 1);
    assert_eq!(v["id"], 4);
    // The kept members are the bytes the agent sent, in its order.
    assert!(out.contains(r#""maximum":1.50"#), "{out}");
    assert!(out.find("\"jsonrpc\"").unwrap() < out.find("\"zeta\"").unwrap());
    assert!(
        out.contains(r#"{"name":"ping","annotations":{"readOnlyHint":true}}"#),
        "{out}"
    );
    // Nothing to remove, or not a tools list: leave it alone.
    assert_eq!(
        filter_tools_list(LIST.as_bytes(), |_| true).map(|_| ()),
        Some(()),
        "the unnamed tool goes"
    );
    let clean = r#"{"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"ping"}]}}"#;
    assert_eq!(filter_tools_list(clean.as_bytes(), allowed), None);
    for other in [
        r#"{"jsonrpc":"2.0","id":4,"result":{"content":[]}}"#,
        r#"{"jsonrpc":"2.0","id":4,"error":{"code":-1,"message":"x"}}"#,
        "not json",
    ] {
        assert_eq!(
            filter_tools_list(other.as_bytes(), allowed),
            None,
            "{other}"
        );
    }
    let empty = filter_tools_list(
        br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"admin_x"}],"nextCursor":"n"}}"#,
        allowed,
    )
    .unwrap();
    assert_eq!(
        empty,
        br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"nextCursor":"n"}}"#
    );
}

#[test]
fn a_batch_of_answers_is_filtered_answer_by_answer() {
    let batch = format!(r#"[{{"jsonrpc":"2.0","id":1,"result":{{}}}}, {LIST}]"#);
    let v: Value =
        serde_json::from_slice(&filter_tools_list(batch.as_bytes(), allowed).unwrap()).unwrap();
    assert_eq!(v[0], json!({"jsonrpc":"2.0","id":1,"result":{}}));
    assert_eq!(v[1]["result"]["tools"].as_array().unwrap().len(), 2);
    assert_eq!(
        filter_tools_list(br#"[{"jsonrpc":"2.0","id":1,"result":{}}]"#, allowed),
        None
    );
}

#[test]
fn an_sse_message_event_is_filtered_into_one_data_line() {
    let data = LIST.replace(",\n", ",\r\n");
    let out = filter_sse_event(&data, allowed).unwrap();
    assert!(!out.contains('\n') && !out.contains('\r'), "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["result"]["tools"].as_array().unwrap().len(), 2);
    assert_eq!(v["result"]["nextCursor"], "abc");
    assert_eq!(
        filter_sse_event(
            r#"{"jsonrpc":"2.0","method":"notifications/progress"}"#,
            allowed
        ),
        None
    );
}
