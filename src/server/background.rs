//! The background tasks of a running instance — the revocation poller, the signing-key reloader, the
//! session-process sweeper and the tool-policy reloaders — owned in one `JoinSet`, stopped by the shutdown signal and drained (waited for, with
//! a bound) instead of aborted. Holds no business logic: each task calls its module.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::agent::supervisor::{ProcessSpec, Supervisor};
use crate::clock::Clock;
use crate::gateway::revocation::RevocationSet;
use crate::idp::IdpState;
use crate::store::{PoolId, Store};

/// How often the gateway reads new revocations from the store.
pub const REVOCATION_POLL: Duration = Duration::from_millis(250);

/// Applies the revocations recorded since the last poll.
pub(super) async fn poll_revocations(
    store: &dyn Store,
    set: &crate::gateway::revocation::RevocationSet,
    pool_id: &PoolId,
) {
    loop {
        match store.revocations_after(set.last_id(), 1000).await {
            Ok(rows) => {
                let n = rows.len();
                let rows: Vec<crate::gateway::revocation::Revocation> = rows
                    .into_iter()
                    .map(|r| crate::gateway::revocation::Revocation {
                        id: r.id,
                        origin_jti: r.origin_jti,
                        sub: if r.pool_id == *pool_id { r.sub } else { None },
                        not_before: r.not_before,
                    })
                    .collect();
                set.apply(&rows);
                if n < 1000 {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read revocations; keeping the last known set");
                return;
            }
        }
    }
}

/// The tasks, each of which ends when `stop` turns true.
pub(super) struct Background {
    tasks: JoinSet<&'static str>,
    stop: watch::Receiver<bool>,
}

impl Background {
    pub(super) fn new(stop: watch::Receiver<bool>) -> Self {
        Self {
            tasks: JoinSet::new(),
            stop,
        }
    }

    /// Revocations of gatehouse's own pool reach the gateway within `REVOCATION_POLL`, with no store read per
    /// request; PostgreSQL also signals (LISTEN/NOTIFY) when any instance commits one, which is read at once.
    pub(super) fn poll_revocations(
        &mut self,
        store: Arc<dyn Store>,
        set: Arc<RevocationSet>,
        pool_id: PoolId,
    ) {
        let mut stop = self.stop.clone();
        let mut changes = store.changes();
        self.tasks.spawn(async move {
            let mut tick = tokio::time::interval(REVOCATION_POLL);
            loop {
                tokio::select! {
                    _ = tick.tick() => poll_revocations(store.as_ref(), &set, &pool_id).await,
                    () = crate::store::changed(&mut changes) => poll_revocations(store.as_ref(), &set, &pool_id).await,
                    _ = stop.changed() => break,
                }
            }
            "revocation poller"
        });
    }

    /// Every instance re-reads the signing keys, so a rotation made anywhere signs here within `keys::RELOAD`.
    pub(super) fn reload_keys(&mut self, idp: Arc<IdpState>, clock: Arc<dyn Clock>) {
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            idp.keys.reload_forever(clock, stop).await;
            "signing-key reloader"
        });
    }

    /// Lifecycle checks of session processes (crashes, idle timeout, maximum lifetime) twice a second.
    pub(super) fn sweep(
        &mut self,
        supervisor: Arc<Supervisor>,
        specs: HashMap<String, ProcessSpec>,
    ) {
        let mut stop = self.stop.clone();
        self.tasks.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tokio::select! {
                    _ = tick.tick() => supervisor.sweep(&specs).await,
                    _ = stop.changed() => break,
                }
            }
            "session sweeper"
        });
    }

    /// Each MCP runtime's tool policy file is looked at every `gateway::tool_policy::RELOAD_POLL`; a change
    /// that checks is put in service, one that does not is logged and the policy in service stays.
    pub(super) fn reload_tool_policies(&mut self, runtimes: &[Arc<crate::gateway::Runtime>]) {
        for handle in runtimes.iter().filter_map(|r| r.tool_policy.clone()) {
            let stop = self.stop.clone();
            self.tasks.spawn(async move {
                handle
                    .watch(crate::gateway::tool_policy::RELOAD_POLL, stop)
                    .await;
                "tool-policy reloader"
            });
        }
    }

    /// Waits up to `grace` for every task to end (the stop signal must have been sent); aborts what is left.
    pub(super) async fn drain(mut self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                Ok(None) => return,
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(e))) => tracing::warn!(error = %e, "a background task failed"),
                Err(_) => {
                    tracing::warn!(
                        left = self.tasks.len(),
                        "background tasks did not stop in time; aborting them"
                    );
                    self.tasks.abort_all();
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_waits_for_tasks_that_stop_and_aborts_those_that_do_not() {
        let (tx, rx) = watch::channel(false);
        let mut b = Background::new(rx.clone());
        let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f = finished.clone();
        let mut stop = rx.clone();
        b.tasks.spawn(async move {
            let _ = stop.changed().await;
            f.store(true, std::sync::atomic::Ordering::SeqCst);
            "polite"
        });
        b.tasks.spawn(async {
            std::future::pending::<()>().await;
            "stubborn"
        });
        tx.send(true).unwrap();
        let started = std::time::Instant::now();
        b.drain(Duration::from_millis(200)).await;
        assert!(
            finished.load(std::sync::atomic::Ordering::SeqCst),
            "the polite task was not waited for"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
