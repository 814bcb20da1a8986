//! Streaming the agent's answer to the client: the body passes through frame by frame (hyper's back-pressure
//! means a slow client slows the agent instead of growing memory), with an idle timeout, a stop signal for
//! `StopRuntimeSession`, and a clean end when the agent dies mid-stream (a final SSE `error` event, logged and
//! counted). Never buffers a whole body and never applies a total timeout.
use std::collections::HashMap;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use http_body::{Body, Frame, SizeHint};

use super::metrics::Metrics;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Tells in-flight streams of one session to end.
#[derive(Debug, Default)]
pub struct StopSignal {
    stopped: AtomicBool,
    waker: AtomicWaker,
}

impl StopSignal {
    /// Ends the streams watching this signal.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.waker.wake();
    }
}

/// In-flight streams by runtime ARN, then session id (nested so registering a stream of a known session
/// borrows the caller's `&str`s instead of allocating keys).
#[derive(Debug, Default)]
pub struct StreamRegistry {
    map: Mutex<HashMap<String, HashMap<String, SessionStreams>>>,
}

/// The stop signals of one session's streams (ended ones pruned lazily).
type SessionStreams = Vec<Weak<StopSignal>>;

impl StreamRegistry {
    /// A signal for a new stream of the session.
    pub fn register(&self, arn: &str, session: &str) -> Arc<StopSignal> {
        let signal = Arc::new(StopSignal::default());
        if let Ok(mut map) = self.map.lock() {
            let weak = Arc::downgrade(&signal);
            match map.get_mut(arn).and_then(|s| s.get_mut(session)) {
                Some(v) => {
                    // Ended streams are pruned only when the list would otherwise grow: O(1) amortized.
                    if v.len() >= v.capacity() {
                        v.retain(|w| w.strong_count() > 0);
                    }
                    v.push(weak);
                }
                None => {
                    let sessions = map.entry(arn.to_string()).or_default();
                    // Likewise for the table of sessions: sessions whose streams all ended are dropped only
                    // when it would grow.
                    if sessions.len() >= sessions.capacity() {
                        sessions.retain(|_, v| {
                            v.retain(|w| w.strong_count() > 0);
                            !v.is_empty()
                        });
                    }
                    sessions.insert(session.to_string(), vec![weak]);
                }
            }
        }
        signal
    }

    /// Stops every stream of the session; returns how many there were.
    pub fn stop(&self, arn: &str, session: &str) -> usize {
        let signals = self
            .map
            .lock()
            .ok()
            .and_then(|mut m| m.get_mut(arn)?.remove(session))
            .unwrap_or_default();
        signals
            .iter()
            .filter_map(Weak::upgrade)
            .map(|s| s.stop())
            .count()
    }
}

/// The agent's body on its way to the client.
pub struct GuardedBody {
    inner: crate::agent::pool::PooledBody,
    sse: bool,
    idle: Duration,
    /// Armed lazily, when the agent first makes the client wait: an answer that arrives whole never touches
    /// the timer wheel.
    idle_timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// A frame passed since the timer was last set: the next wait restarts it.
    timer_stale: bool,
    stop: Arc<StopSignal>,
    metrics: Arc<Metrics>,
    request_id: String,
    done: bool,
    /// Where the relayed event stream stands, so the closing `error` event arrives whole.
    framer: super::sse::Framer,
    /// Keeps a session process busy (not idle) while its answer streams.
    _lease: Option<crate::agent::supervisor::Lease>,
}

impl GuardedBody {
    /// Wraps `inner`; `sse` selects the clean-ending style (a final `error` event).
    pub fn new(
        inner: crate::agent::pool::PooledBody,
        sse: bool,
        idle: Duration,
        stop: Arc<StopSignal>,
        metrics: Arc<Metrics>,
        request_id: String,
        lease: Option<crate::agent::supervisor::Lease>,
    ) -> Self {
        metrics.stream_opened();
        Self {
            inner,
            sse,
            idle,
            idle_timer: None,
            timer_stale: true,
            stop,
            metrics,
            request_id,
            done: false,
            framer: super::sse::Framer::default(),
            _lease: lease,
        }
    }

    fn end(
        &mut self,
        error_type: &str,
        message: &str,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        if self.sse {
            let event = serde_json::json!({ "error": message, "error_type": error_type, "message": message });
            let boundary = self.framer.to_boundary();
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(format!(
                "{boundary}data: {event}\n\n"
            ))))))
        } else {
            Poll::Ready(Some(Err(message.to_string().into())))
        }
    }
}

impl Drop for GuardedBody {
    fn drop(&mut self) {
        self.metrics.stream_closed();
    }
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        this.stop.waker.register(cx.waker());
        if this.stop.stopped.load(Ordering::SeqCst) {
            tracing::info!(request_id = %this.request_id, "stream ended by StopRuntimeSession");
            return this.end("SessionStopped", "The session was stopped.");
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.timer_stale = true;
                if this.sse {
                    if let Some(data) = frame.data_ref() {
                        this.framer.feed(data);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                tracing::warn!(request_id = %this.request_id, error = %e, "the agent's stream broke off");
                this.metrics.agent_failure();
                this.end(
                    "RuntimeClientError",
                    "The agent stopped before finishing its answer.",
                )
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.timer_stale {
                    let deadline = tokio::time::Instant::now() + this.idle;
                    match &mut this.idle_timer {
                        Some(timer) => timer.as_mut().reset(deadline),
                        None => {
                            this.idle_timer = Some(Box::pin(tokio::time::sleep_until(deadline)));
                        }
                    }
                    this.timer_stale = false;
                }
                let expired = this
                    .idle_timer
                    .as_mut()
                    .is_some_and(|t| t.as_mut().poll(cx).is_ready());
                if expired {
                    tracing::info!(request_id = %this.request_id, idle = ?this.idle, "stream idle timeout");
                    return this.end(
                        "IdleTimeout",
                        "The agent sent nothing for too long; the stream was closed.",
                    );
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        if self.sse {
            SizeHint::default()
        } else {
            self.inner.size_hint()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(r: &StreamRegistry) -> usize {
        r.map
            .lock()
            .unwrap()
            .values()
            .flat_map(HashMap::values)
            .map(Vec::len)
            .sum()
    }

    #[test]
    fn ended_streams_do_not_accumulate_and_stop_reaches_the_live_ones() {
        let r = StreamRegistry::default();
        let mut live = Vec::new();
        for i in 0..10_000 {
            let s = r.register("arn", "one-session");
            let other = r.register("arn", &format!("session-{i}"));
            drop(other);
            if i % 1000 == 0 {
                live.push(s);
            }
        }
        // Amortized pruning keeps at most about twice what is live (10 here) plus the last growth step.
        assert!(
            held(&r) < 200,
            "{} entries held for 10 live streams",
            held(&r)
        );
        assert_eq!(r.stop("arn", "one-session"), 10);
        assert!(live.iter().all(|s| s.stopped.load(Ordering::SeqCst)));
        assert_eq!(
            r.stop("arn", "one-session"),
            0,
            "stopped streams are forgotten"
        );
    }
}
