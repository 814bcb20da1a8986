//! `gatehouse bench-upstream` (hidden): the trivial agent the benchmark suite measures against — `POST
//! /invocations` answers `{"ok":true}` (or, with `?sse=1`, one SSE event), `GET /ping` answers Healthy. Plain
//! hyper with keep-alive and nothing else, so it costs as little as an upstream can.
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

async fn answer(
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let sse = req.uri().query().is_some_and(|q| q.contains("sse=1"));
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
    let mut resp = http::Response::new(Full::new(body));
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
                    .await;
            });
        }
    })
}
