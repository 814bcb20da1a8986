//! The MCP messages a tool policy looks at, pure: the `tools/call`s in a JSON-RPC body (one message or a
//! batch), the `Mcp-Method`/`Mcp-Name` request headers of MCP's sessionless revision and whether they agree with
//! the body, the refusal (a JSON-RPC error, and the `WWW-Authenticate: Bearer error="insufficient_scope"`
//! challenge), and a `tools/list` answer (JSON, or one SSE event's data) with the tools a caller may not call
//! removed, every other byte of it kept. Must never do I/O, and never read a body it was not handed whole.
use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// The header naming the JSON-RPC method.
pub const MCP_METHOD: &str = "mcp-method";
/// The header naming a `tools/call`'s tool (`params.name`), plain or `=?base64?…?=`.
pub const MCP_NAME: &str = "mcp-name";
/// JSON-RPC: the body is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: the body is JSON but not a request the gateway can read.
pub const INVALID_REQUEST: i64 = -32600;
/// MCP: the `Mcp-*` headers do not match the body (answered with HTTP 400).
pub const HEADER_MISMATCH: i64 = -32020;
/// The tool policy refused the call. MCP asks for application codes outside JSON-RPC's reserved
/// `-32768..=-32000`; this one is gatehouse's.
pub const TOOL_REFUSED: i64 = -31003;

/// One message of a body, as far as a tool policy cares.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `None` for a response (a client answering the server).
    pub method: Option<String>,
    /// `None` for a notification.
    pub id: Option<Value>,
    /// `params.name` of a `tools/call`; `None` for every other method.
    pub tool: Option<String>,
}

/// A `tools/call` in a body.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: Option<Value>,
    pub name: String,
}

/// The messages of one body.
#[derive(Debug, Clone, PartialEq)]
pub struct Messages {
    /// The body was a JSON array (a batch, MCP revisions before 2025-06-18).
    pub batch: bool,
    pub messages: Vec<Message>,
}

impl Messages {
    /// Every `tools/call`, in order: a policy must decide each one.
    pub fn tool_calls(&self) -> Vec<ToolCall> {
        self.messages
            .iter()
            .filter_map(|m| {
                m.tool.as_ref().map(|name| ToolCall {
                    id: m.id.clone(),
                    name: name.clone(),
                })
            })
            .collect()
    }
}

/// Why a body cannot be read as JSON-RPC (the gateway then refuses it rather than let the agent read it
/// differently).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum McpBodyError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body is not a JSON-RPC message: {0}")]
    NotJsonRpc(String),
}

impl McpBodyError {
    /// The JSON-RPC code to answer with.
    pub fn code(&self) -> i64 {
        match self {
            McpBodyError::NotJson(_) => PARSE_ERROR,
            McpBodyError::NotJsonRpc(_) => INVALID_REQUEST,
        }
    }
}

/// The members a policy reads; a member given twice is an error (the agent might read the other one).
#[derive(Deserialize)]
struct RawMessage<'a> {
    method: Option<String>,
    id: Option<Value>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct CallParams {
    name: String,
}

fn message(raw: &RawValue) -> Result<Message, McpBodyError> {
    let bad = |e: serde_json::Error| McpBodyError::NotJsonRpc(e.to_string());
    if !raw.get().starts_with('{') {
        return Err(McpBodyError::NotJsonRpc(
            "a message must be an object".into(),
        ));
    }
    let m: RawMessage<'_> = serde_json::from_str(raw.get()).map_err(bad)?;
    let tool = match (m.method.as_deref(), m.params) {
        (Some("tools/call"), Some(p)) if p.get().starts_with('{') => Some(
            serde_json::from_str::<CallParams>(p.get())
                .map_err(bad)?
                .name,
        ),
        (Some("tools/call"), _) => {
            return Err(McpBodyError::NotJsonRpc(
                "a tools/call needs params with a string name".into(),
            ))
        }
        _ => None,
    };
    Ok(Message {
        method: m.method,
        id: m.id,
        tool,
    })
}

/// The messages of a JSON-RPC body: one message, or a batch (an array).
pub fn parse_messages(body: &[u8]) -> Result<Messages, McpBodyError> {
    let raw: &RawValue =
        serde_json::from_slice(body).map_err(|e| McpBodyError::NotJson(e.to_string()))?;
    if raw.get().starts_with('[') {
        let items: Vec<&RawValue> =
            serde_json::from_str(raw.get()).map_err(|e| McpBodyError::NotJson(e.to_string()))?;
        let messages = items.into_iter().map(message).collect::<Result<_, _>>()?;
        return Ok(Messages {
            batch: true,
            messages,
        });
    }
    Ok(Messages {
        batch: false,
        messages: vec![message(raw)?],
    })
}

/// Every `tools/call` of a body (empty: none; an error: the body cannot be read, refuse it).
pub fn tool_calls(body: &[u8]) -> Result<Vec<ToolCall>, McpBodyError> {
    parse_messages(body).map(|m| m.tool_calls())
}

/// `Mcp-Name` decoded: plain visible ASCII, or `=?base64?…?=` around standard Base64 of UTF-8.
fn decode_name(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    match s
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        Some(b64) => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
            String::from_utf8(bytes).ok()
        }
        None => Some(s.to_string()),
    }
}

/// The tool a request's headers name: `Mcp-Name` when `Mcp-Method` is `tools/call` (`None` otherwise, or when
/// `Mcp-Name` is missing or does not decode).
pub fn tool_of_headers(h: &HeaderMap) -> Option<String> {
    let method = h.get(MCP_METHOD)?.to_str().ok()?;
    if method != "tools/call" {
        return None;
    }
    h.get(MCP_NAME).and_then(decode_name)
}

/// Whether the `Mcp-Method`/`Mcp-Name` headers agree with the body (MCP: refuse with HTTP 400 and
/// [`HEADER_MISMATCH`] otherwise). A request without `Mcp-Method` (revisions before the sessionless one)
/// passes; a batch never carries them. `Err` says what disagrees, without echoing header values.
pub fn check_headers(h: &HeaderMap, body: &Messages) -> Result<(), String> {
    let Some(method) = h.get(MCP_METHOD) else {
        if h.contains_key(MCP_NAME) {
            return Err("Mcp-Name without Mcp-Method".into());
        }
        return Ok(());
    };
    if h.get_all(MCP_METHOD).iter().count() > 1 || h.get_all(MCP_NAME).iter().count() > 1 {
        return Err("an Mcp-Method or Mcp-Name header is repeated".into());
    }
    let [m] = body.messages.as_slice() else {
        return Err("Mcp-Method on a batch".into());
    };
    if body.batch || method.to_str().ok() != m.method.as_deref() {
        return Err("the Mcp-Method header does not match the body's method".into());
    }
    match (&m.tool, h.get(MCP_NAME)) {
        (Some(tool), Some(name)) if decode_name(name).as_deref() == Some(tool.as_str()) => Ok(()),
        (Some(_), Some(_)) => {
            Err("the Mcp-Name header does not match the body's params.name".into())
        }
        (Some(_), None) => Err("a tools/call without the Mcp-Name header".into()),
        (None, _) => Ok(()),
    }
}

/// A JSON-RPC error response (`id` null when the request's could not be read or it was a notification).
pub fn jsonrpc_error(id: Option<&Value>, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut error = serde_json::json!({ "code": code, "message": message });
    if let (Some(d), Some(e)) = (data, error.as_object_mut()) {
        e.insert("data".into(), d);
    }
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": id.cloned().unwrap_or(Value::Null),
        "error": error,
    })
}

/// The answer to a refused `tools/call`: [`TOOL_REFUSED`], the policy's reason, and in `data` the tool and the
/// scopes the token lacks.
pub fn refusal(call: &ToolCall, missing_scopes: &[String], reason: &str) -> Value {
    let tool: String = call.name.chars().take(128).collect();
    jsonrpc_error(
        call.id.as_ref(),
        TOOL_REFUSED,
        reason,
        Some(serde_json::json!({ "tool": tool, "missingScopes": missing_scopes })),
    )
}

/// [`refusal`] as a body.
pub fn refusal_body(call: &ToolCall, missing_scopes: &[String], reason: &str) -> Vec<u8> {
    refusal(call, missing_scopes, reason)
        .to_string()
        .into_bytes()
}

/// `text` as an RFC 7230 quoted-string's content: visible ASCII and spaces, `"` and `\` escaped.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// `WWW-Authenticate` of a 403 for missing scopes (RFC 6750 §3.1, as MCP asks): `scopes` are every scope the
/// operation needs, `resource_metadata` the runtime's RFC 9728 document, `description` optional.
pub fn insufficient_scope_challenge(
    scopes: &[String],
    resource_metadata: &str,
    description: Option<&str>,
) -> HeaderValue {
    let mut v = format!(
        "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{}\"",
        quoted(&scopes.join(" ")),
        quoted(resource_metadata)
    );
    if let Some(d) = description {
        v.push_str(&format!(", error_description=\"{}\"", quoted(d)));
    }
    HeaderValue::from_str(&v)
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer error=\"insufficient_scope\""))
}

/// A JSON object whose members are kept in order and as written (only the ones touched are rewritten).
struct Object(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Object;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Object, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push(member);
                }
                Ok(Object(members))
            }
        }
        d.deserialize_map(Visitor)
    }
}

impl serde::Serialize for Object {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Object {
    /// The one member called `key` (`None` if absent or given twice: such a document is left alone).
    fn member(&mut self, key: &str) -> Option<&mut Box<RawValue>> {
        let mut found = self.0.iter_mut().filter(|(k, _)| k == key);
        let first = found.next()?;
        found.next().is_none().then_some(&mut first.1)
    }
}

fn raw(v: &impl serde::Serialize) -> Option<Box<RawValue>> {
    serde_json::to_string(v)
        .ok()
        .and_then(|s| RawValue::from_string(s).ok())
}

/// One response with `result.tools` filtered; `None` if it is not a tools list or nothing is removed.
fn filter_response(text: &str, allowed: &dyn Fn(&str) -> bool) -> Option<Box<RawValue>> {
    #[derive(Deserialize)]
    struct Named {
        name: String,
    }
    let mut response: Object = serde_json::from_str(text).ok()?;
    let result = response.member("result")?;
    let mut result_obj: Object = serde_json::from_str(result.get()).ok()?;
    let tools = result_obj.member("tools")?;
    let list: Vec<Box<RawValue>> = serde_json::from_str(tools.get()).ok()?;
    let before = list.len();
    // A tool whose name cannot be read cannot be decided: it is removed too.
    let kept: Vec<Box<RawValue>> = list
        .into_iter()
        .filter(|t| serde_json::from_str::<Named>(t.get()).is_ok_and(|n| allowed(&n.name)))
        .collect();
    if kept.len() == before {
        return None;
    }
    *tools = raw(&kept)?;
    *result = raw(&result_obj)?;
    raw(&response)
}

/// A `tools/list` answer (one JSON-RPC response, or a batch of them) without the tools `allowed` refuses, every
/// other member as it was (`nextCursor` included). `None`: not a tools list, or nothing removed — send the
/// answer unchanged.
pub fn filter_tools_list(response: &[u8], allowed: impl Fn(&str) -> bool) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(response).ok()?;
    filter_text(text, &allowed).map(String::into_bytes)
}

fn filter_text(text: &str, allowed: &dyn Fn(&str) -> bool) -> Option<String> {
    let trimmed = text.trim_start();
    if !trimmed.starts_with('[') {
        return filter_response(trimmed, allowed).map(|r| r.get().to_string());
    }
    let mut items: Vec<Box<RawValue>> = serde_json::from_str(trimmed).ok()?;
    let mut changed = false;
    for item in &mut items {
        if let Some(filtered) = filter_response(item.get(), allowed) {
            *item = filtered;
            changed = true;
        }
    }
    if !changed {
        return None;
    }
    serde_json::to_string(&items).ok()
}

/// [`filter_tools_list`] for the `data` of one SSE event (its `data:` lines joined by newlines, as SSE reads
/// them). The result is one line (a JSON document's newlines are all whitespace between tokens), to be sent as
/// one `data:` line.
pub fn filter_sse_event(data: &str, allowed: impl Fn(&str) -> bool) -> Option<String> {
    filter_text(data, &allowed).map(|s| s.replace(['\r', '\n'], " "))
}

#[cfg(test)]
#[path = "mcp_tools_tests.rs"]
mod tests;
