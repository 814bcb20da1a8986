//! A controllable agent container for gateway tests, on 127.0.0.1:0 in its own thread. `POST
//! /{prefix}/invocations` with a JSON body `{"mode": …}`: `echo` (default: the prefix, every header received and
//! the body length), `error` (`status`, `message`), `slow_headers` (`ms`), `die` (two SSE events, then the
//! connection breaks), `die_mid_event` (one event and half a line of the next, then the break), `silent` (one SSE
//! event, then nothing), `long` (an SSE event every 50 ms), `flood` (`total` bytes as fast as the gateway takes
//! them; `GET /flood/{id}` says how many it took so far).
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

fn counters() -> &'static Mutex<HashMap<String, Arc<AtomicU64>>> {
    static C: OnceLock<Mutex<HashMap<String, Arc<AtomicU64>>>> = OnceLock::new();
    C.get_or_init(Default::default)
}

fn sse(
    stream: impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
) -> Response {
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut()
        .insert("content-type", "text/event-stream".parse().unwrap());
    r
}

fn event(v: Value) -> Result<Bytes, std::io::Error> {
    Ok(Bytes::from(format!("data: {v}\n\n")))
}

async fn invocations(Path(path): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let prefix = path
        .strip_suffix("invocations")
        .unwrap_or(&path)
        .trim_end_matches('/')
        .to_string();
    let req: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    match req["mode"].as_str().unwrap_or("echo") {
        "error" => {
            let status =
                axum::http::StatusCode::from_u16(req["status"].as_u64().unwrap_or(500) as u16)
                    .unwrap();
            (
                status,
                req["message"].as_str().unwrap_or("boom").to_string(),
            )
                .into_response()
        }
        "slow_headers" => {
            tokio::time::sleep(Duration::from_millis(req["ms"].as_u64().unwrap_or(5000))).await;
            "late".into_response()
        }
        "die" => sse(futures_util::stream::unfold(0u32, |n| async move {
            // The crash comes after the first events have left, as a real crash would.
            tokio::time::sleep(Duration::from_millis(100)).await;
            match n {
                0 | 1 => Some((event(json!({"n": n + 1})), n + 1)),
                2 => Some((Err(std::io::Error::other("agent crashed")), 3)),
                _ => None,
            }
        })),
        "die_mid_event" => sse(futures_util::stream::unfold(0u32, |n| async move {
            // One whole event, half of the next (mid-line, CRLF style), then the crash.
            tokio::time::sleep(Duration::from_millis(100)).await;
            match n {
                0 => Some((event(json!({"n": 1})), 1)),
                1 => Some((Ok(Bytes::from_static(b"event: delta\r\ndata: {\"par")), 2)),
                2 => Some((Err(std::io::Error::other("agent crashed")), 3)),
                _ => None,
            }
        })),
        "silent" => {
            let first = futures_util::stream::iter(vec![event(json!({"n": 1}))]);
            sse(futures_util::StreamExt::chain(
                first,
                futures_util::stream::pending(),
            ))
        }
        "long" => sse(futures_util::stream::unfold(0u64, |n| async move {
            if n > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Some((event(json!({"n": n})), n + 1))
        })),
        "flood" => {
            let id = req["id"].as_str().unwrap_or("x").to_string();
            let total = req["total"].as_u64().unwrap_or(1 << 20);
            let counter = Arc::new(AtomicU64::new(0));
            counters().lock().unwrap().insert(id, counter.clone());
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let stream = futures_util::stream::unfold(0u64, move |sent| {
                let counter = counter.clone();
                let chunk = chunk.clone();
                async move {
                    if sent >= total {
                        return None;
                    }
                    counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                    Some((
                        Ok::<_, Infallible>(chunk.clone()),
                        sent + chunk.len() as u64,
                    ))
                }
            });
            Response::new(Body::from_stream(stream))
        }
        _ => {
            let mut h = BTreeMap::new();
            for (k, v) in &headers {
                h.entry(k.as_str().to_string())
                    .or_insert_with(Vec::new)
                    .push(v.to_str().unwrap_or("?").to_string());
            }
            axum::Json(json!({"prefix": prefix, "headers": h, "body_len": body.len()}))
                .into_response()
        }
    }
}

async fn flood_count(Path(id): Path<String>) -> String {
    counters()
        .lock()
        .unwrap()
        .get(&id)
        .map_or(0, |c| c.load(Ordering::SeqCst))
        .to_string()
}

/// Starts the fake agent in its own thread; returns its base URL.
pub fn start() -> String {
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
                .route("/flood/{id}", get(flood_count))
                .route("/{*path}", post(invocations))
                .layer(axum::extract::DefaultBodyLimit::disable());
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}
