//! A small TCP proxy for tests, on its own thread and tokio runtime (so it outlives any one test runtime): as a
//! load balancer it spreads connections round-robin over its targets; between gatehouse and PostgreSQL it stands
//! in for a database restart — `cut` drops every proxied connection and refuses new ones, `restore` accepts
//! again. The machine's PostgreSQL itself is never touched.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

struct State {
    targets: Mutex<Vec<SocketAddr>>,
    next: AtomicUsize,
    open: AtomicBool,
    /// Bumped by `cut`: every live connection ends.
    generation: watch::Sender<u64>,
}

/// A running proxy; stops with the test process.
pub struct TcpProxy {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl TcpProxy {
    /// Listens on 127.0.0.1:0 and forwards to `targets` (may be set later with `set_targets`).
    pub fn start(targets: Vec<SocketAddr>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (generation, _) = watch::channel(0u64);
        let state = Arc::new(State {
            targets: Mutex::new(targets),
            next: AtomicUsize::new(0),
            open: AtomicBool::new(true),
            generation,
        });
        let st = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    if !st.open.load(Ordering::SeqCst) {
                        drop(inbound); // refused: closed at once
                        continue;
                    }
                    let target = {
                        let t = st.targets.lock().unwrap();
                        if t.is_empty() {
                            continue;
                        }
                        t[st.next.fetch_add(1, Ordering::SeqCst) % t.len()]
                    };
                    let mut cut = st.generation.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            });
        });
        Self { addr, state }
    }

    /// Replaces the targets.
    pub fn set_targets(&self, targets: Vec<SocketAddr>) {
        *self.state.targets.lock().unwrap() = targets;
    }

    /// Drops every proxied connection and refuses new ones until `restore`.
    pub fn cut(&self) {
        self.state.open.store(false, Ordering::SeqCst);
        self.state.generation.send_modify(|g| *g += 1);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.state.open.store(true, Ordering::SeqCst);
    }
}
