//! Keep-alive connections to the agents, driven on the task of the request that uses them. A pooled hyper
//! client hands every request to a per-connection task through a channel, and every answer back: two task
//! wake-ups across threads per request, which on a small machine cost more than the proxying itself. Here a
//! request checks a connection out (LIFO, so a warm one), polls the connection's I/O itself while it waits for
//! the answer, and hands the connection to the answer's body, which keeps polling it while the body streams to
//! the client and puts it back in the pool when the body has ended. A body dropped early drops (closes) its
//! connection, so nothing half-read is ever reused.
//!
//! Must never reuse a connection whose previous answer was not read to its end, retry a request whose body may
//! have been sent, or block: the pool lock is held only to push or pop.
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Idle connections kept per agent address.
pub const MAX_IDLE_PER_HOST: usize = 256;
/// An idle connection older than this is closed instead of reused.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Read buffer per agent connection. hyper's adaptive default starts at 8 KiB and grows; a fixed 4 KiB keeps an
/// idle stream (SSE held open for minutes) small, and costs nothing for the short answers most agents send.
pub const READ_BUFFER: usize = 4096;
/// Deadline for opening a TCP connection to an agent.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a request did not get an answer from the agent.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The agent's URL cannot be used (not `http://host:port[/prefix]`).
    #[error("{0}")]
    BadUrl(String),
    /// No TCP connection could be made.
    #[error("connect: {0}")]
    Connect(#[source] std::io::Error),
    /// Opening the connection timed out.
    #[error("connect: timed out")]
    ConnectTimeout,
    /// The agent closed the connection before answering.
    #[error("the agent closed the connection")]
    Closed,
    /// The HTTP exchange failed (the source chain says why, e.g. a request body over its limit).
    #[error("{0}")]
    Http(#[source] hyper::Error),
}

struct Conn {
    sender: http1::SendRequest<Body>,
    conn: http1::Connection<TokioIo<TcpStream>, Body>,
    /// The connection future has not completed (it must not be polled once it has).
    alive: bool,
    authority: Arc<str>,
    idle_since: Instant,
}

impl Conn {
    /// Drives the connection's I/O; false once it has ended.
    fn poll_io(&mut self, cx: &mut Context<'_>) -> bool {
        if self.alive && Pin::new(&mut self.conn).poll(cx).is_ready() {
            self.alive = false;
        }
        self.alive
    }
}

/// Idle connections by agent address (`host:port`).
#[derive(Default)]
pub struct Pool {
    // Boxed: a connection (hyper's state and buffers) moves between the pool, the request and the answer's body
    // on every request; a box makes each move a pointer copy.
    #[allow(clippy::vec_box)]
    idle: Mutex<HashMap<Arc<str>, Vec<Box<Conn>>>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n: usize = self
            .idle
            .lock()
            .map(|m| m.values().map(Vec::len).sum())
            .unwrap_or(0);
        f.debug_struct("Pool").field("idle", &n).finish()
    }
}

/// Polls `fut` while driving `conn`'s I/O on the same task. If the connection ends first, `fut` is polled once
/// more (hyper fails it with the reason); a future still pending then gets `None`.
async fn drive<F: Future + Unpin>(conn: &mut Conn, mut fut: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        let alive = conn.poll_io(cx);
        if let Poll::Ready(out) = Pin::new(&mut fut).poll(cx) {
            return Poll::Ready(Some(out));
        }
        if alive {
            Poll::Pending
        } else {
            Poll::Ready(None)
        }
    })
    .await
}

/// `http://host:port/prefix/path` → (`host:port`, `/prefix/path`).
fn split_url(uri: &http::Uri) -> Result<(Arc<str>, http::Uri), UpstreamError> {
    if uri.scheme_str() != Some("http") {
        return Err(UpstreamError::BadUrl(format!(
            "{uri}: only http:// agent URLs are supported"
        )));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| UpstreamError::BadUrl(format!("{uri}: no host")))?;
    let path = uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let origin_form =
        http::Uri::try_from(path).map_err(|e| UpstreamError::BadUrl(format!("{uri}: {e}")))?;
    Ok((Arc::from(authority.as_str()), origin_form))
}

impl Pool {
    /// Sends `req` (absolute `http://` URI) and returns the answer, whose body keeps the connection.
    pub async fn send(
        self: &Arc<Self>,
        req: http::Request<Body>,
    ) -> Result<http::Response<PooledBody>, UpstreamError> {
        let (mut parts, body) = req.into_parts();
        let (authority, path) = split_url(&parts.uri)?;
        parts.uri = path;
        if let Ok(host) = http::HeaderValue::from_str(&authority) {
            parts.headers.insert(http::header::HOST, host);
        }
        let mut req = http::Request::from_parts(parts, body);
        loop {
            let (mut conn, reused) = match self.checkout(&authority) {
                Some(c) => (c, true),
                // Boxed: connecting is the rare path and its future would otherwise enlarge every request's.
                None => (Box::pin(connect(&authority)).await?, false),
            };
            if !wait_ready(&mut conn).await {
                if reused {
                    continue; // the agent closed this idle connection; try another
                }
                return Err(UpstreamError::Closed);
            }
            let mut fut = std::pin::pin!(conn.sender.try_send_request(req));
            let Some(out) = drive(&mut conn, fut.as_mut()).await else {
                // The connection ended with the request pending. Dropping it makes hyper hand back a request it
                // never wrote (the agent closed an idle connection just as it was reused): try another one.
                drop(conn);
                match fut.await {
                    Err(mut e) => match e.take_message() {
                        Some(back) if reused => {
                            req = back;
                            continue;
                        }
                        _ => return Err(UpstreamError::Closed),
                    },
                    Ok(_) => return Err(UpstreamError::Closed),
                }
            };
            match out {
                Ok(resp) => {
                    let pool = Arc::clone(self);
                    return Ok(resp.map(|inner| PooledBody::new(inner, conn, pool)));
                }
                Err(mut e) => match e.take_message() {
                    // Never written to the connection: safe to try again on another one.
                    Some(back) if reused => req = back,
                    _ => return Err(UpstreamError::Http(e.into_error())),
                },
            }
        }
    }

    fn checkout(&self, authority: &Arc<str>) -> Option<Box<Conn>> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(authority)?;
        let now = Instant::now();
        while let Some(c) = list.pop() {
            if c.alive
                && now.saturating_duration_since(c.idle_since) < IDLE_TIMEOUT
                && !c.sender.is_closed()
            {
                return Some(c);
            }
        }
        None
    }

    /// Polls the idle connections to `authority` once, leaving them in the pool; true while one is still open.
    #[cfg(test)]
    fn has_open_idle(&self, authority: &str) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let Ok(mut idle) = self.idle.lock() else {
            return false;
        };
        idle.get_mut(authority)
            .is_some_and(|list| list.iter_mut().any(|c| c.poll_io(&mut cx)))
    }

    fn put(&self, mut conn: Box<Conn>) {
        if !conn.alive || conn.sender.is_closed() {
            return;
        }
        conn.idle_since = Instant::now();
        if let Ok(mut idle) = self.idle.lock() {
            let list = idle.entry(Arc::clone(&conn.authority)).or_default();
            if list.len() >= MAX_IDLE_PER_HOST {
                // Full: make room by dropping connections idle too long (checkout skips them anyway).
                let now = conn.idle_since;
                list.retain(|c| now.saturating_duration_since(c.idle_since) < IDLE_TIMEOUT);
            }
            if list.len() < MAX_IDLE_PER_HOST {
                list.push(conn);
            }
        }
    }
}

/// Waits until the connection can take a request, driving its I/O; false if it ended instead.
async fn wait_ready(conn: &mut Conn) -> bool {
    std::future::poll_fn(|cx| {
        let alive = conn.poll_io(cx);
        match conn.sender.poll_ready(cx) {
            Poll::Ready(r) => Poll::Ready(r.is_ok()),
            Poll::Pending if alive => Poll::Pending,
            Poll::Pending => Poll::Ready(false),
        }
    })
    .await
}

/// A TCP connection to `authority`; a sandboxed session's name (`agent::netns`) is dialed inside its namespace.
pub async fn dial(authority: &str) -> Result<TcpStream, UpstreamError> {
    use crate::agent::netns;
    let stream = match netns::split_authority(authority) {
        Some((host, port)) if netns::is_sandbox_host(host) => {
            tokio::time::timeout(CONNECT_TIMEOUT, netns::connect(host, port, CONNECT_TIMEOUT)).await
        }
        _ => tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(authority)).await,
    };
    stream
        .map_err(|_| UpstreamError::ConnectTimeout)?
        .map_err(UpstreamError::Connect)
}

async fn connect(authority: &Arc<str>) -> Result<Box<Conn>, UpstreamError> {
    let stream = dial(authority).await?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::Builder::new()
        .read_buf_exact_size(Some(READ_BUFFER))
        .handshake(TokioIo::new(stream))
        .await
        .map_err(UpstreamError::Http)?;
    Ok(Box::new(Conn {
        sender,
        conn,
        alive: true,
        authority: Arc::clone(authority),
        idle_since: Instant::now(),
    }))
}

/// The agent's answer body. Polling it drives the connection; at its end the connection goes back to the pool.
pub struct PooledBody {
    inner: Incoming,
    conn: Option<Box<Conn>>,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for PooledBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledBody").finish_non_exhaustive()
    }
}

impl PooledBody {
    fn new(inner: Incoming, conn: Box<Conn>, pool: Arc<Pool>) -> Self {
        let mut body = Self {
            inner,
            conn: Some(conn),
            pool,
        };
        if body.inner.is_end_stream() {
            body.release();
        }
        body
    }

    /// The answer was read to its end: the connection may serve the next request.
    fn release(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put(conn);
        }
    }
}

impl http_body::Body for PooledBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Some(conn) = &mut this.conn {
            conn.poll_io(cx);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.release();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                if this.inner.is_end_stream() {
                    this.release();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.conn = None;
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use http_body_util::BodyExt as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// An HTTP/1.1 agent on 127.0.0.1:0 answering every request with the number of the connection that carried
    /// it, counted from 1 in the order accepted (not the client's port: the kernel may hand a closed
    /// connection's port to the next one); `close_after` requests on a connection, it closes it.
    async fn agent(close_after: usize) -> String {
        agent_reporting_closes(close_after).await.0
    }

    /// [`agent`], also reporting on the channel each connection it has closed (its socket dropped, so the
    /// client's side already holds the end of the stream).
    async fn agent_reporting_closes(
        close_after: usize,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<()>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (closed_tx, closed_rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut accepted = 0usize;
            while let Ok((s, _)) = l.accept().await {
                accepted += 1;
                let closed_tx = closed_tx.clone();
                tokio::spawn(async move {
                    serve_connection(s, accepted, close_after).await;
                    let _ = closed_tx.send(());
                });
            }
        });
        (format!("http://{addr}"), closed_rx)
    }

    async fn serve_connection(mut s: tokio::net::TcpStream, number: usize, close_after: usize) {
        let mut buf = Vec::new();
        let mut served = 0;
        loop {
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            // Requests in these tests have no body.
            while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                buf.drain(..end + 4);
                let body = number.to_string();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                s.write_all(resp.as_bytes()).await.unwrap();
                served += 1;
                if served == close_after {
                    return;
                }
            }
        }
    }

    async fn get(pool: &Arc<Pool>, base: &str) -> String {
        let req = http::Request::get(format!("{base}/x"))
            .body(Body::empty())
            .unwrap();
        let resp = pool.send(req).await.unwrap();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_connection_read_to_its_end_is_reused() {
        let base = agent(usize::MAX).await;
        let pool = Arc::new(Pool::default());
        let first = get(&pool, &base).await;
        for _ in 0..5 {
            assert_eq!(
                get(&pool, &base).await,
                first,
                "a new connection was opened"
            );
        }
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_closes_its_connection() {
        let base = agent(usize::MAX).await;
        let pool = Arc::new(Pool::default());
        let first = get(&pool, &base).await;
        let req = http::Request::get(format!("{base}/x"))
            .body(Body::empty())
            .unwrap();
        let resp = pool.send(req).await.unwrap();
        drop(resp);
        assert_ne!(
            get(&pool, &base).await,
            first,
            "a half-read connection was reused"
        );
    }

    #[tokio::test]
    async fn an_idle_connection_the_agent_closed_is_replaced_transparently() {
        let (base, mut closed) = agent_reporting_closes(1).await;
        let authority = base.trim_start_matches("http://");
        let pool = Arc::new(Pool::default());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..4 {
            seen.insert(get(&pool, &base).await);
            // The agent has closed the connection before the next request checks it out: the pool must notice
            // and dial anew. (A close racing a request already written is a failure no client may retry.) The
            // end of the stream reaches this socket when the kernel delivers it, which under load may be after
            // the agent's task has finished: wait until no idle connection looks open (usually the pool saw the
            // close while reading the answer and never kept the connection).
            closed.recv().await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while pool.has_open_idle(authority) {
                assert!(
                    Instant::now() < deadline,
                    "the agent's close never reached the pool"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        assert_eq!(seen.len(), 4, "every request needed its own connection");
    }

    #[tokio::test]
    async fn refusals_are_clear() {
        let pool = Arc::new(Pool::default());
        let req = |u: &str| http::Request::get(u).body(Body::empty()).unwrap();
        assert!(matches!(
            pool.send(req("https://127.0.0.1:1/x")).await,
            Err(UpstreamError::BadUrl(_))
        ));
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        assert!(matches!(
            pool.send(req(&format!("http://127.0.0.1:{port}/x"))).await,
            Err(UpstreamError::Connect(_))
        ));
    }
}
