//! Serving one listener: accepts connections, reads a trusted proxy's PROXY protocol header (when configured),
//! completes the TLS handshake (when the listener has a certificate), then drives HTTP/1.1 with upgrades under a
//! header-read timeout and a bounded request head, and resolves each request's client address once
//! ([`ClientAddr`], from the peer or a trusted proxy's `X-Forwarded-For`) for the handlers. Drains on stop.
//! Holds no business logic and must never believe a forwarding header or PROXY header from an untrusted peer.
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::DRAIN_GRACE;
use crate::gateway::GatewayState;
use crate::net::{ClientAddr, TrustedProxies};

/// Longest a client may take to send a request's headers (slowloris); also bounds the PROXY header and the TLS
/// handshake.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line + headers) accepted; bigger gets 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How a listener treats its connections.
#[derive(Clone, Default)]
pub struct ListenerOpts {
    /// Terminate TLS on every connection.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Peers whose `X-Forwarded-For` (and PROXY header) name the client.
    pub proxies: Arc<TrustedProxies>,
    /// Connections from a trusted proxy must start with a PROXY protocol header.
    pub proxy_protocol: bool,
}

async fn stopping(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|s| *s).await.is_err() {
        // The sender is gone: we are shutting down anyway.
    }
}

/// Serves one listener over HTTP/1.1 (with upgrades for WebSocket) until `stop` turns true, then lets open
/// connections finish for up to `DRAIN_GRACE`. Unlike a bare `axum::serve`, every connection has a header-read
/// timeout and a bounded request head, so slow or huge headers cannot pin it. No TLS, no trusted proxies.
pub async fn serve_http(
    listener: TcpListener,
    app: impl Into<App>,
    stop: watch::Receiver<bool>,
    name: &'static str,
) {
    serve_listener(listener, app, ListenerOpts::default(), stop, name).await;
}

/// [`serve_http`] behind TLS (no trusted proxies).
pub async fn serve_http_tls(
    listener: TcpListener,
    app: impl Into<App>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: watch::Receiver<bool>,
    name: &'static str,
) {
    let opts = ListenerOpts {
        tls,
        ..ListenerOpts::default()
    };
    serve_listener(listener, app, opts, stop, name).await;
}

/// What a listener serves.
#[derive(Clone)]
pub enum App {
    /// An axum router (identity provider, web app, admin, internal and redirect listeners).
    Router(axum::Router),
    /// The runtime gateway's own service: one match on the path, no router, since it runs on every proxied
    /// request (see `gateway::serve`).
    Gateway(Arc<GatewayState>),
}

impl From<axum::Router> for App {
    fn from(router: axum::Router) -> Self {
        App::Router(router)
    }
}

/// [`serve_http`] with the listener's options: with an acceptor every connection first completes a TLS
/// handshake, and with `proxy_protocol` a trusted peer's connection first gives its PROXY header (each within
/// `HEADER_READ_TIMEOUT`, in the connection's own task so a slow one never blocks accepting).
pub async fn serve_listener(
    listener: TcpListener,
    app: impl Into<App>,
    opts: ListenerOpts,
    stop: watch::Receiver<bool>,
    name: &'static str,
) {
    let app = app.into();
    let opts = Arc::new(opts);
    let mut conns = tokio::task::JoinSet::new();
    let mut stop_accept = stop.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let app = app.clone();
                    let stop = stop.clone();
                    let opts = opts.clone();
                    conns.spawn(async move {
                        if opts.tls.is_none() && !opts.proxy_protocol {
                            serve_connection(stream, app, peer, peer.ip(), opts, stop).await;
                        } else {
                            // Boxed: the TLS and PROXY state would otherwise enlarge every plain connection's task.
                            Box::pin(serve_wrapped(stream, app, peer, opts, stop, name)).await;
                        }
                    });
                    while conns.try_join_next().is_some() {}
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(listener = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = stopping(&mut stop_accept) => break,
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            listener = name,
            "connections still open after {DRAIN_GRACE:?}; closing them"
        );
        conns.abort_all();
    }
}

/// Reads a trusted peer's PROXY header (when required), completes the TLS handshake (when configured), each
/// within `HEADER_READ_TIMEOUT`, then serves the connection.
async fn serve_wrapped(
    mut stream: TcpStream,
    app: App,
    peer: SocketAddr,
    opts: Arc<ListenerOpts>,
    stop: watch::Receiver<bool>,
    name: &'static str,
) {
    let mut source = peer.ip();
    if opts.proxy_protocol && opts.proxies.trusts(peer.ip()) {
        let read = crate::net::proxy_protocol::read_header(&mut stream);
        match tokio::time::timeout(HEADER_READ_TIMEOUT, read).await {
            Ok(Ok(Some(addr))) => source = addr.ip(),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::debug!(listener = name, %peer, error = %e, "PROXY header refused");
                return;
            }
            Err(_) => {
                tracing::debug!(listener = name, %peer, "PROXY header timed out");
                return;
            }
        }
    }
    let Some(acceptor) = opts.tls.clone() else {
        return serve_connection(stream, app, peer, source, opts, stop).await;
    };
    match tokio::time::timeout(HEADER_READ_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => serve_connection(tls, app, peer, source, opts, stop).await,
        Ok(Err(e)) => tracing::debug!(listener = name, %peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(listener = name, %peer, "TLS handshake timed out"),
    }
}

/// Stamps a request with the TCP peer (`ConnectInfo`) and the resolved client address (`ClientAddr`).
fn stamp<B>(
    req: &mut http::Request<B>,
    peer: SocketAddr,
    source: IpAddr,
    proxies: &TrustedProxies,
) {
    let client = proxies.resolve(source, req.headers());
    let ext = req.extensions_mut();
    ext.insert(axum::extract::ConnectInfo(peer));
    ext.insert(ClientAddr(client));
}

/// One connection (plain TCP or TLS): HTTP/1.1 with the header-read timeout and the bounded head, ended
/// gracefully when `stop` turns true. `source` is the peer, or the client a trusted PROXY header named.
async fn serve_connection<I>(
    io: I,
    app: App,
    peer: SocketAddr,
    source: IpAddr,
    opts: Arc<ListenerOpts>,
    stop: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use hyper_util::service::TowerToHyperService;

    match app {
        App::Router(router) => {
            let svc = TowerToHyperService::new(tower::util::MapRequest::new(
                router,
                move |mut req: http::Request<hyper::body::Incoming>| {
                    stamp(&mut req, peer, source, &opts.proxies);
                    req
                },
            ));
            // Boxed: a router connection's state would otherwise size every gateway connection's task.
            Box::pin(drive_connection(io, svc, stop)).await;
        }
        App::Gateway(state) => {
            // Boxed per request: hyper keeps the service's future type in a per-connection allocation for the
            // connection's whole life, which would hold a whole request's future (kilobytes) under every idle
            // stream; boxed, that slot is a pointer and the request's future is freed when it completes.
            let svc = hyper::service::service_fn(move |mut req| {
                let state = Arc::clone(&state);
                stamp(&mut req, peer, source, &opts.proxies);
                Box::pin(async move {
                    Ok::<_, std::convert::Infallible>(crate::gateway::serve(state, req).await)
                })
            });
            drive_connection(io, svc, stop).await;
        }
    }
}

/// Drives one HTTP/1.1 connection for `svc` with the header-read timeout and the bounded head.
async fn drive_connection<I, S>(io: I, svc: S, mut stop: watch::Receiver<bool>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            http::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    use hyper::server::conn::http1;
    use hyper_util::rt::{TokioIo, TokioTimer};

    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = stopping(&mut stop) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}
