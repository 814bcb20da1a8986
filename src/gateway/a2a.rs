//! A2A agents behind the gateway: the agent card (AgentCore's `GetAgentCard`, authenticated) with its `url` pointing
//! at the gateway and its security scheme naming the runtime's identity provider, and JSON-RPC (`message/send`,
//! `message/stream` answered with SSE, `tasks/*`) relayed through the same pipeline as an HTTP invocation. A2A task
//! and context ids are bound to their user like sessions: the ids in an answer before the client sees them, the
//! ids a request names before it reaches the agent (another user's → 403). Must never pass the token on.
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use serde_json::Value;

use super::pipeline::deliver::{deliver, Delivery};
use super::pipeline::headers::agent_headers;
use super::pipeline::{self, Ctx};
use super::{GatewayError, GatewayState, Runtime};
use crate::token::VerifiedClaims;

/// The agent card's path on the agent.
pub const CARD_PATH: &str = "/.well-known/agent-card.json";
/// The largest agent card read.
const MAX_CARD_BYTES: usize = 256 * 1024;
/// The largest JSON answer whose ids are bound (larger answers are refused rather than passed unbound).
const MAX_JSON_ANSWER: usize = 16 * 1024 * 1024;
/// The longest SSE event inspected for ids.
const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// The binding key of an A2A task or context id (kept apart from runtime session ids).
fn id_key(kind: &str, id: &str) -> String {
    format!("a2a-{kind}:{id}")
}

/// Methods that carry a message (A2A 0.3 and 1.0 names).
const MESSAGE_METHODS: &[&str] = &[
    "message/send",
    "message/stream",
    "SendMessage",
    "SendStreamingMessage",
];
/// Methods that list tasks across contexts: allowed only with a `contextId` the caller owns.
const LIST_METHODS: &[&str] = &["tasks/list", "ListTasks"];

/// The ids a JSON-RPC request names: a message's `taskId` and `contextId`, a task method's `id` (or `taskId`, or
/// 1.0's `name` = `tasks/{id}…`), a listing's `contextId`. A listing without one is refused: the agent would list
/// every user's tasks.
pub(in crate::gateway) fn request_ids(
    msg: &Value,
) -> Result<Vec<(&'static str, String)>, GatewayError> {
    let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
    let params = msg.get("params");
    let field = |name: &str| {
        params
            .and_then(|p| p.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let mut out = Vec::new();
    if MESSAGE_METHODS.contains(&method) {
        let m = params.and_then(|p| p.get("message"));
        for (kind, name) in [("task", "taskId"), ("context", "contextId")] {
            if let Some(v) = m.and_then(|m| m.get(name)).and_then(Value::as_str) {
                out.push((kind, v.to_string()));
            }
        }
    } else if LIST_METHODS.contains(&method) {
        let context = field("contextId").ok_or(GatewayError::Validation(
            "Listing tasks needs the contextId of one of your conversations.",
        ))?;
        out.push(("context", context));
    } else if method.starts_with("tasks/") || method.contains("Task") {
        let from_name = field("name").and_then(|n| {
            n.strip_prefix("tasks/")
                .map(|rest| rest.split('/').next().unwrap_or(rest).to_string())
        });
        for id in [field("id"), field("taskId"), from_name]
            .into_iter()
            .flatten()
        {
            out.push(("task", id));
        }
    }
    Ok(out)
}

/// The ids an answer (a JSON-RPC response or one streamed event) carries: a task's `id`, any `taskId` and
/// `contextId` — of the result itself (0.3) or of the one object it wraps (1.0: `task`, `message`, `statusUpdate`,
/// `artifactUpdate`).
pub(in crate::gateway) fn answer_ids(msg: &Value) -> Vec<(&'static str, String)> {
    let Some(r) = msg.get("result") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut collect = |obj: &Value, is_task: bool| {
        if is_task || obj.get("kind").and_then(Value::as_str) == Some("task") {
            if let Some(id) = obj.get("id").and_then(Value::as_str) {
                out.push(("task", id.to_string()));
            }
        }
        for (kind, name) in [("task", "taskId"), ("context", "contextId")] {
            if let Some(id) = obj.get(name).and_then(Value::as_str) {
                out.push((kind, id.to_string()));
            }
        }
    };
    collect(r, false);
    for (name, is_task) in [
        ("task", true),
        ("message", false),
        ("statusUpdate", false),
        ("artifactUpdate", false),
    ] {
        if let Some(obj) = r.get(name).filter(|v| v.is_object()) {
            collect(obj, is_task);
        }
    }
    out
}

/// Binds each id to the caller; one bound to someone else refuses the request.
async fn bind_ids(
    state: &GatewayState,
    runtime: &Runtime,
    claims: &VerifiedClaims,
    ids: &[(&'static str, String)],
) -> Result<(), GatewayError> {
    for (kind, id) in ids {
        if id.is_empty() || id.len() > 256 {
            return Err(GatewayError::Validation(
                "A2A task and context ids must be 1 to 256 characters.",
            ));
        }
        state
            .sessions
            .bind(
                &runtime.arn,
                &id_key(kind, id),
                &claims.iss,
                &claims.sub,
                state.clock.now_unix(),
            )
            .await?;
    }
    Ok(())
}

/// The session of an A2A request: the client's runtime session header, or the caller's own stable one.
fn session_of(
    runtime: &Runtime,
    claims: &VerifiedClaims,
    headers: &http::HeaderMap,
) -> Result<String, GatewayError> {
    if let Some(id) = pipeline::client_session_id(headers)? {
        return Ok(id);
    }
    let key = format!("{}\n{}\n{}", runtime.arn, claims.iss, claims.sub);
    Ok(format!(
        "a2a-user-{}",
        &crate::util::sha256_hex(key.as_bytes())[..48]
    ))
}

/// The JSON-RPC endpoint clients are told to use: the runtime's invocations URL on the gateway.
pub(in crate::gateway) fn endpoint_url(
    state: &GatewayState,
    runtime: &Runtime,
    qualifier: Option<&str>,
) -> String {
    format!(
        "{}/runtimes/{}/invocations?qualifier={}",
        state.public_url,
        super::arn::encode(&runtime.arn),
        qualifier.unwrap_or(super::route::DEFAULT_QUALIFIER)
    )
}

/// `GetAgentCard`: the agent's card, its endpoints rewritten to the gateway's and its security to the runtime's IdP.
pub(super) async fn card(
    state: &GatewayState,
    runtime: &Arc<Runtime>,
    qualifier: Option<&str>,
    req: Request,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let fixed = runtime.static_upstream(qualifier)?;
    let (parts, _body) = req.into_parts();
    let claims = pipeline::authenticate(state, runtime, &parts, ctx).await?;
    let session_id = session_of(runtime, &claims, &parts.headers)?;
    ctx.session = Some(session_id.clone());
    pipeline::admit(state, runtime, &claims, &session_id).await?;
    let headers = agent_headers(
        &parts.headers,
        &session_id,
        &claims.sub,
        &ctx.request_id,
        &runtime.header_allowlist,
    );
    let delivery = Delivery {
        fixed,
        method: Method::GET,
        path: CARD_PATH,
        headers,
        body: Bytes::new(),
        session_id: &session_id,
        user: &claims.sub,
        request_id: &ctx.request_id,
    };
    let resp = Box::pin(deliver(state, runtime, delivery)).await?;
    if !resp.status().is_success() {
        return Err(GatewayError::AgentError {
            status: resp.status().as_u16(),
            message: "the agent has no agent card".into(),
        });
    }
    let bytes = http_body_util::Limited::new(resp.into_body(), MAX_CARD_BYTES)
        .collect()
        .await
        .map_err(|_| {
            GatewayError::AgentUnreachable("the agent card is too large or cut short".into())
        })?
        .to_bytes();
    let mut card: Value = serde_json::from_slice(&bytes).map_err(|_| GatewayError::AgentError {
        status: 200,
        message: "the agent card is not JSON".into(),
    })?;
    rewrite_card(
        &mut card,
        &endpoint_url(state, runtime, qualifier),
        &runtime.authorization_server,
    );
    let mut out = card.to_string().into_response();
    out.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    Ok(out)
}

/// The card's `url` and every interface's URL become the gateway's; its security names the runtime's issuer.
pub(in crate::gateway) fn rewrite_card(card: &mut Value, url: &str, issuer: &str) {
    let Some(obj) = card.as_object_mut() else {
        return;
    };
    obj.insert("url".into(), Value::String(url.to_string()));
    obj.insert("preferredTransport".into(), Value::String("JSONRPC".into()));
    // 0.3's `additionalInterfaces` and 1.0's `supportedInterfaces`: the gateway relays JSON-RPC only, so only
    // JSON-RPC interfaces stay, each at the gateway's URL.
    for key in ["additionalInterfaces", "supportedInterfaces"] {
        if let Some(Value::Array(ifaces)) = obj.get_mut(key) {
            ifaces.retain(|i| {
                let binding = i
                    .get("transport")
                    .or_else(|| i.get("protocolBinding"))
                    .and_then(Value::as_str);
                binding.is_none_or(|b| b.eq_ignore_ascii_case("JSONRPC"))
            });
            for i in ifaces.iter_mut().filter_map(Value::as_object_mut) {
                i.insert("url".into(), Value::String(url.to_string()));
            }
        }
    }
    let discovery = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    obj.insert(
        "securitySchemes".into(),
        serde_json::json!({ "gatehouse": { "type": "openIdConnect", "openIdConnectUrl": discovery,
            "description": "A bearer token from this identity provider, sent as Authorization: Bearer." } }),
    );
    obj.insert("security".into(), serde_json::json!([{ "gatehouse": [] }]));
}

/// `InvokeAgentRuntime` on an A2A runtime: one JSON-RPC request, its ids checked, the answer's ids bound.
pub(super) async fn invoke(
    state: &GatewayState,
    runtime: &Arc<Runtime>,
    qualifier: Option<&str>,
    req: Request,
    ctx: &mut Ctx,
) -> Result<Response, GatewayError> {
    let fixed = runtime.static_upstream(qualifier)?;
    let (parts, body) = req.into_parts();
    let claims = pipeline::authenticate(state, runtime, &parts, ctx).await?;
    let body = pipeline::read_body(runtime, &parts.headers, body).await?;
    let named = match serde_json::from_slice::<Value>(&body) {
        Ok(msg) => request_ids(&msg)?,
        Err(_) => Vec::new(),
    };
    let session_id = session_of(runtime, &claims, &parts.headers)?;
    ctx.session = Some(session_id.clone());
    pipeline::admit(state, runtime, &claims, &session_id).await?;
    bind_ids(state, runtime, &claims, &named).await?;
    let headers = agent_headers(
        &parts.headers,
        &session_id,
        &claims.sub,
        &ctx.request_id,
        &runtime.header_allowlist,
    );
    let delivery = Delivery {
        fixed,
        method: Method::POST,
        path: &runtime.agent_path,
        headers,
        body,
        session_id: &session_id,
        user: &claims.sub,
        request_id: &ctx.request_id,
    };
    let resp = Box::pin(deliver(state, runtime, delivery)).await?;
    let sse = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if sse {
        Ok(bind_stream(state, runtime, &claims, resp))
    } else {
        bind_json(state, runtime, &claims, resp).await
    }
}

/// A JSON answer: read (bounded), its ids bound, then passed on unchanged.
async fn bind_json(
    state: &GatewayState,
    runtime: &Runtime,
    claims: &VerifiedClaims,
    resp: Response,
) -> Result<Response, GatewayError> {
    let (parts, body) = resp.into_parts();
    let bytes = http_body_util::Limited::new(body, MAX_JSON_ANSWER)
        .collect()
        .await
        .map_err(|_| {
            GatewayError::AgentUnreachable("the agent's answer is too large or cut short".into())
        })?
        .to_bytes();
    if let Ok(msg) = serde_json::from_slice::<Value>(&bytes) {
        bind_ids(state, runtime, claims, &answer_ids(&msg)).await?;
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

/// An SSE answer: relayed event by event; each event's ids are bound before the event reaches the client.
fn bind_stream(
    state: &GatewayState,
    runtime: &Runtime,
    claims: &VerifiedClaims,
    resp: Response,
) -> Response {
    let (parts, body) = resp.into_parts();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let sessions = state.sessions.clone();
    let clock = state.clock.clone();
    let (arn, iss, sub) = (runtime.arn.clone(), claims.iss.clone(), claims.sub.clone());
    tokio::spawn(async move {
        let mut body = body;
        let mut events = EventSplitter::default();
        while let Some(frame) = body.frame().await {
            let data = match frame {
                Ok(f) => match f.into_data() {
                    Ok(d) => d,
                    Err(_) => continue,
                },
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
            };
            for msg in events.push(&data) {
                for (kind, id) in answer_ids(&msg) {
                    let bound = sessions
                        .bind(&arn, &id_key(kind, &id), &iss, &sub, clock.now_unix())
                        .await;
                    if bound.is_err() {
                        tracing::error!(
                            "an A2A answer named a task or context of another user; stream ended"
                        );
                        return;
                    }
                }
            }
            if tx.send(Ok(data)).await.is_err() {
                return;
            }
        }
    });
    let stream = tokio_stream_from(rx);
    Response::from_parts(parts, Body::from_stream(stream))
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Splits an SSE byte stream into events and yields each event's `data` parsed as JSON.
#[derive(Debug, Default)]
pub(in crate::gateway) struct EventSplitter {
    buf: Vec<u8>,
}

impl EventSplitter {
    /// Feeds bytes; returns the JSON of every event they completed.
    pub(in crate::gateway) fn push(&mut self, data: &[u8]) -> Vec<Value> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            let text = &self.buf;
            let end = text
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|p| (p, 2))
                .or_else(|| {
                    text.windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .map(|p| (p, 4))
                });
            let Some((at, len)) = end else { break };
            let event: Vec<u8> = self.buf.drain(..at + len).collect();
            let text = String::from_utf8_lossy(&event);
            let payload: String = text
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect::<Vec<_>>()
                .join("\n");
            if let Ok(v) = serde_json::from_str(&payload) {
                out.push(v);
            }
        }
        if self.buf.len() > MAX_EVENT_BYTES {
            self.buf.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_name_their_task_and_context() {
        let ids = |v: Value| request_ids(&v).unwrap();
        let send =
            json!({"method":"message/send","params":{"message":{"taskId":"t1","contextId":"c1"}}});
        assert_eq!(
            ids(send),
            vec![("task", "t1".into()), ("context", "c1".into())]
        );
        assert_eq!(
            ids(json!({"method":"tasks/get","params":{"id":"t2"}})),
            vec![("task", "t2".into())]
        );
        assert_eq!(
            ids(json!({"method":"GetTask","params":{"name":"tasks/t3"}})),
            vec![("task", "t3".into())]
        );
        let send1 =
            json!({"method":"SendStreamingMessage","params":{"message":{"contextId":"c9"}}});
        assert_eq!(ids(send1), vec![("context", "c9".into())]);
        assert!(ids(json!({"method":"message/send","params":{"message":{}}})).is_empty());
        assert!(
            request_ids(&json!({"method":"ListTasks","params":{}})).is_err(),
            "every user's tasks"
        );
        assert_eq!(
            ids(json!({"method":"ListTasks","params":{"contextId":"c1"}})),
            vec![("context", "c1".into())]
        );
    }

    #[test]
    fn answers_name_their_task_and_context() {
        let task = json!({"result":{"kind":"task","id":"t1","contextId":"c1"}});
        assert_eq!(
            answer_ids(&task),
            vec![("task", "t1".into()), ("context", "c1".into())]
        );
        let update = json!({"result":{"kind":"status-update","taskId":"t1","contextId":"c1"}});
        assert_eq!(
            answer_ids(&update),
            vec![("task", "t1".into()), ("context", "c1".into())]
        );
        assert!(answer_ids(&json!({"error":{"code":-32001}})).is_empty());
        let v1 = json!({"result":{"task":{"id":"t1","contextId":"c1"}}});
        assert_eq!(
            answer_ids(&v1),
            vec![("task", "t1".into()), ("context", "c1".into())]
        );
        let v1_update = json!({"result":{"statusUpdate":{"taskId":"t2","contextId":"c2"}}});
        assert_eq!(
            answer_ids(&v1_update),
            vec![("task", "t2".into()), ("context", "c2".into())]
        );
    }

    #[test]
    fn events_split_across_frames() {
        let mut s = EventSplitter::default();
        assert!(s.push(b"data: {\"result\":").is_empty());
        let got = s.push(b"{\"taskId\":\"t\"}}\n\ndata: {\"a\":1}\r\n\r\n");
        assert_eq!(got, vec![json!({"result":{"taskId":"t"}}), json!({"a":1})]);
    }

    #[test]
    fn the_card_points_at_the_gateway() {
        let mut card = json!({"name":"x","url":"http://127.0.0.1:9000/","additionalInterfaces":[{"url":"http://127.0.0.1:9000/","transport":"JSONRPC"},{"url":"http://127.0.0.1:9001","transport":"GRPC"}],
            "supportedInterfaces":[{"url":"http://127.0.0.1:9000/","protocolBinding":"JSONRPC","protocolVersion":"1.0"}]});
        rewrite_card(
            &mut card,
            "https://gw/runtimes/a/invocations?qualifier=DEFAULT",
            "https://idp/pool",
        );
        assert_eq!(
            card["url"],
            "https://gw/runtimes/a/invocations?qualifier=DEFAULT"
        );
        assert_eq!(card["additionalInterfaces"][0]["url"], card["url"]);
        assert_eq!(
            card["additionalInterfaces"].as_array().unwrap().len(),
            1,
            "gRPC is not relayed"
        );
        assert_eq!(card["supportedInterfaces"][0]["url"], card["url"]);
        assert_eq!(
            card["securitySchemes"]["gatehouse"]["openIdConnectUrl"],
            "https://idp/pool/.well-known/openid-configuration"
        );
    }
}
