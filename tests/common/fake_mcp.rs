//! A recording MCP server and A2A agent for the gateway's own relay tests, on 127.0.0.1:0 in its own thread:
//! `POST /mcp` (JSON-RPC; `initialize` issues a server session id when stateful; `tools/call` answers JSON, or
//! SSE when the tool is `stream`), `GET /mcp` (one SSE event), `DELETE /mcp`; `POST /` (A2A `message/send`:
//! a task `t-…` in context `c-…`; `message/stream`: the same as SSE events) and `GET /.well-known/agent-card.json`.
//! Every request is recorded (method, path, headers) so a test can prove what reached the server — and what
//! never did. The real SDKs' servers are tested elsewhere; this one is small enough to reason about.
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

/// A running fake server.
#[derive(Clone)]
pub struct FakeMcp {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeMcp {
    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    /// How many requests reached the server.
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

#[derive(Clone)]
struct Fake {
    stateful: bool,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn record(f: &Fake, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Value {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    f.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        headers: headers.clone(),
        body: body.clone(),
    });
    body
}

fn json_response(v: Value) -> Response {
    let mut r = v.to_string().into_response();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

fn sse_response(events: &[Value]) -> Response {
    let text: String = events
        .iter()
        .map(|e| format!("event: message\ndata: {e}\n\n"))
        .collect();
    let mut r = Response::new(Body::from(text));
    r.headers_mut()
        .insert("content-type", "text/event-stream".parse().unwrap());
    r
}

fn header(h: &HeaderMap, name: &str) -> Value {
    h.get(name)
        .map_or(Value::Null, |v| Value::String(v.to_str().unwrap().into()))
}

async fn mcp_post(
    State(f): State<Fake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let msg = record(&f, &method, &uri, &headers, &body);
    let id = msg["id"].clone();
    match msg["method"].as_str().unwrap_or("") {
        "initialize" => {
            let mut r = json_response(json!({"jsonrpc":"2.0","id":id,"result":{
                "protocolVersion":"2025-06-18","capabilities":{"tools":{}},
                "serverInfo":{"name":"fake","version":"1"}}}));
            if f.stateful {
                let sid = format!("srv-{}", gatehouse::util::uuid_v4());
                r.headers_mut()
                    .insert("mcp-session-id", sid.parse().unwrap());
            }
            r
        }
        "tools/call" => {
            let result = json!({"content":[{"type":"text","text":"ok"}],"structuredContent":{
                "user": header(&headers, "x-amzn-bedrock-agentcore-runtime-user-id"),
                "mcp_session": header(&headers, "mcp-session-id"),
                "authorization": header(&headers, "authorization")}});
            let answer = json!({"jsonrpc":"2.0","id":id,"result":result});
            if msg["params"]["name"] == "stream" {
                let progress = json!({"jsonrpc":"2.0","method":"notifications/progress",
                    "params":{"progressToken":1,"progress":1}});
                sse_response(&[progress, answer])
            } else {
                json_response(answer)
            }
        }
        "" => (axum::http::StatusCode::ACCEPTED, "").into_response(),
        _ => json_response(json!({"jsonrpc":"2.0","id":id,"result":{}})),
    }
}

async fn mcp_get_or_delete(
    State(f): State<Fake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    record(&f, &method, &uri, &headers, b"");
    if method == Method::DELETE {
        return "".into_response();
    }
    sse_response(&[
        json!({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hello"}}),
    ])
}

async fn a2a_post(
    State(f): State<Fake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let msg = record(&f, &method, &uri, &headers, &body);
    let id = msg["id"].clone();
    let m = &msg["params"]["message"];
    let task = m["taskId"].as_str().map_or_else(
        || format!("t-{}", gatehouse::util::uuid_v4()),
        str::to_string,
    );
    let context = m["contextId"].as_str().map_or_else(
        || format!("c-{}", gatehouse::util::uuid_v4()),
        str::to_string,
    );
    let user = header(&headers, "x-amzn-bedrock-agentcore-runtime-user-id");
    match msg["method"].as_str().unwrap_or("") {
        "message/stream" => sse_response(&[
            json!({"jsonrpc":"2.0","id":id,"result":{"kind":"status-update","taskId":task,
                "contextId":context,"status":{"state":"working"},"final":false}}),
            json!({"jsonrpc":"2.0","id":id,"result":{"kind":"status-update","taskId":task,
                "contextId":context,"status":{"state":"completed"},"final":true,"metadata":{"user":user}}}),
        ]),
        "tasks/get" => json_response(
            json!({"jsonrpc":"2.0","id":id,"result":{"kind":"task","id":msg["params"]["id"],
                "contextId":"c","status":{"state":"completed"}}}),
        ),
        _ => json_response(
            json!({"jsonrpc":"2.0","id":id,"result":{"kind":"task","id":task,"contextId":context,
                "status":{"state":"completed"},"metadata":{"user":user}}}),
        ),
    }
}

async fn card(State(f): State<Fake>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    record(&f, &method, &uri, &headers, b"");
    json_response(
        json!({"name":"fake","url":"http://127.0.0.1:1/","version":"1",
        "protocolVersion":"0.3.0","capabilities":{"streaming":true},"skills":[],
        "defaultInputModes":["text/plain"],"defaultOutputModes":["text/plain"]}),
    )
}

/// Starts the fake server; `stateful`: `initialize` issues a server session id.
pub fn start(stateful: bool) -> FakeMcp {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let fake = Fake {
        stateful,
        seen: seen.clone(),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            let app = Router::new()
                .route(
                    "/mcp",
                    post(mcp_post)
                        .get(mcp_get_or_delete)
                        .delete(mcp_get_or_delete),
                )
                .route("/", post(a2a_post))
                .route("/.well-known/agent-card.json", get(card))
                .route("/ping", get(|| async { "{\"status\":\"Healthy\"}" }))
                .with_state(fake);
            axum::serve(listener, app).await.unwrap();
        });
    });
    FakeMcp {
        url: rx.recv().unwrap(),
        seen,
    }
}
