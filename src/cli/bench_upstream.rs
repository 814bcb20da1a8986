//! `gatehouse bench-upstream` (hidden): the trivial agent the benchmark suite measures against — `POST
//! /invocations` answers `{"ok":true}` (or, with `?sse=1` or the custom header
//! `X-Amzn-Bedrock-AgentCore-Runtime-Custom-Bench: sse`, one SSE event; with `?sse=hold` or `…-Bench: hold`, one
//! event and then an open, silent stream), `GET /ping` answers Healthy, `GET /ws` accepts a WebSocket and holds
//! it open. Plain hyper with keep-alive and nothing else, so it costs as little as an upstream can.
use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// Arguments of `bench-upstream`.
#[derive(Debug, clap::Args)]
pub struct BenchUpstreamArgs {
    /// HOST:PORT to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

type Reply = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// `GET /ws`: a WebSocket handshake answered with 101, then the connection is held (read and discarded).
fn hold_websocket(req: http::Request<hyper::body::Incoming>) -> http::Response<Reply> {
    use http_body_util::BodyExt as _;
    let key = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| tokio_tungstenite::tungstenite::handshake::derive_accept_key(k.as_bytes()));
    let Some(accept) = key else {
        let mut r = http::Response::new(Full::new(Bytes::from_static(b"not a WebSocket")).boxed());
        *r.status_mut() = http::StatusCode::BAD_REQUEST;
        return r;
    };
    tokio::spawn(async move {
        if let Ok(upgraded) = hyper::upgrade::on(req).await {
            let mut io = TokioIo::new(upgraded);
            let mut buf = [0u8; 1024];
            while let Ok(n) = tokio::io::AsyncReadExt::read(&mut io, &mut buf).await {
                if n == 0 {
                    break;
                }
            }
        }
    });
    let mut r = http::Response::new(http_body_util::Empty::new().boxed());
    *r.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(
        http::header::UPGRADE,
        http::HeaderValue::from_static("websocket"),
    );
    h.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("upgrade"),
    );
    if let Ok(v) = http::HeaderValue::from_str(&accept) {
        h.insert("sec-websocket-accept", v);
    }
    r
}

async fn answer(
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Reply>, Infallible> {
    use http_body_util::BodyExt as _;
    if req.uri().path() == "/ws" {
        return Ok(hold_websocket(req));
    }
    // The gateway forwards no query string; custom headers pass, so either selects the mode.
    let mode = req
        .headers()
        .get("x-amzn-bedrock-agentcore-runtime-custom-bench")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let query = req.uri().query().unwrap_or("");
    if mode == "hold" || query.contains("sse=hold") {
        let first = futures_util::stream::iter([Ok::<_, Infallible>(http_body::Frame::data(
            Bytes::from_static(b"data: {\"ok\":true}\n\n"),
        ))]);
        let body = http_body_util::StreamBody::new(futures_util::StreamExt::chain(
            first,
            futures_util::stream::pending(),
        ));
        let mut resp = http::Response::new(body.boxed());
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/event-stream"),
        );
        return Ok(resp);
    }
    let sse = mode == "sse" || query.contains("sse=1");
    let (ct, body) = match (req.uri().path(), sse) {
        ("/ping", _) => (
            "application/json",
            Bytes::from_static(br#"{"status":"Healthy"}"#),
        ),
        (_, true) => (
            "text/event-stream",
            Bytes::from_static(b"data: {\"ok\":true}\n\n"),
        ),
        _ => ("application/json", Bytes::from_static(br#"{"ok":true}"#)),
    };
    let mut resp = http::Response::new(Full::new(body).boxed());
    if let Ok(v) = http::HeaderValue::from_str(ct) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    Ok(resp)
}

/// Serves until killed.
pub fn execute(a: BenchUpstreamArgs) -> anyhow::Result<()> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("cannot listen on {}", a.listen))?;
        println!(
            "{}http://{}",
            crate::agent::child::LISTENING_PREFIX,
            listener.local_addr()?
        );
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .with_upgrades()
                    .await;
            });
        }
    })
}
