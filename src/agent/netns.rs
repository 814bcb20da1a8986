//! Reaching a sandboxed session's agent inside its own network namespace. The supervisor registers each
//! sandboxed process under a host name of the reserved `.invalid` domain (`s<hex>.sandbox.invalid`), holding
//! its namespace open (`/proc/<pid>/ns/net`, opened once at start, so a recycled pid can never redirect it);
//! the agent pool and the WebSocket relay dial such a name by connecting from a short-lived thread that has
//! entered the namespace, then hand the connected socket to tokio. A session in a user namespace (gatehouse
//! without root) is registered with its dialer instead (`agent::dialer`: its first stage connects inside the
//! namespace and passes the socket back). Must never resolve a `.sandbox.invalid` name any other way, nor leave
//! a tokio worker thread inside a session's namespace.
use std::collections::HashMap;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use nix::sched::{setns, CloneFlags};

/// The suffix of every sandboxed session's host name.
pub const HOST_SUFFIX: &str = ".sandbox.invalid";

/// How a registered session is reached.
#[derive(Debug, Clone)]
enum Route {
    /// Its network namespace, entered by a dialing thread (gatehouse as root).
    Netns(Arc<File>),
    /// Its dialer inside its user namespace (gatehouse without root).
    Dialer(Arc<super::dialer::Dialer>),
}

fn registry() -> &'static Mutex<HashMap<String, Route>> {
    static R: OnceLock<Mutex<HashMap<String, Route>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// A registered namespace; unregistered when dropped.
#[derive(Debug)]
pub struct Registration {
    host: String,
}

impl Registration {
    /// A new random host name, not yet bound to a namespace (dialing it fails until [`Self::attach`]).
    pub fn reserve() -> Self {
        let host = format!(
            "s{}{HOST_SUFFIX}",
            crate::util::random_alnum(20).to_ascii_lowercase()
        );
        Self { host }
    }

    /// Binds the name to process `pid`'s network namespace once that process has left gatehouse's own
    /// (`exec-agent` unshares it first thing). True when bound; false: not yet, try again.
    pub fn attach(&self, pid: u32) -> std::io::Result<bool> {
        use std::os::unix::fs::MetadataExt as _;
        let registered = registry()
            .lock()
            .ok()
            .and_then(|r| r.get(&self.host).cloned());
        let file = match registered {
            Some(Route::Netns(_)) => return Ok(true),
            // Reached through its dialer, but only attached once it has left gatehouse's namespaces (slirp4netns
            // joins them by path).
            Some(Route::Dialer(_)) => None,
            None => Some(File::open(format!("/proc/{pid}/ns/net"))?),
        };
        let ours = std::fs::metadata("/proc/self/ns/net")?;
        let theirs = match &file {
            Some(f) => f.metadata()?,
            None => std::fs::metadata(format!("/proc/{pid}/ns/net"))?,
        };
        if (theirs.dev(), theirs.ino()) == (ours.dev(), ours.ino()) {
            return Ok(false);
        }
        let Some(file) = file else {
            return Ok(true);
        };
        if let Ok(mut r) = registry().lock() {
            r.insert(self.host.clone(), Route::Netns(Arc::new(file)));
        }
        Ok(true)
    }

    /// Binds the name to a session's dialer (a session in a user namespace); [`Self::attach`] then finds it.
    pub fn attach_dialer(&self, dialer: super::dialer::Dialer) {
        if let Ok(mut r) = registry().lock() {
            r.insert(self.host.clone(), Route::Dialer(Arc::new(dialer)));
        }
    }

    /// The host name to put in the agent's URL.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut r) = registry().lock() {
            r.remove(&self.host);
        }
    }
}

/// Whether `host` (without port) names a sandboxed session.
pub fn is_sandbox_host(host: &str) -> bool {
    host.ends_with(HOST_SUFFIX)
}

/// Connects to `host:port` (a registered sandbox name) on the namespace's loopback.
pub async fn connect(
    host: &str,
    port: u16,
    timeout: Duration,
) -> std::io::Result<tokio::net::TcpStream> {
    let route = registry()
        .lock()
        .ok()
        .and_then(|r| r.get(host).cloned())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the session's agent has ended",
            )
        })?;
    let ns = match route {
        Route::Netns(ns) => ns,
        Route::Dialer(d) => {
            let stream = tokio::task::spawn_blocking(move || d.dial(timeout))
                .await
                .map_err(|_| std::io::Error::other("the dialing task ended without an answer"))??;
            stream.set_nonblocking(true)?;
            return tokio::net::TcpStream::from_std(stream);
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("netns-dial".into())
        .spawn(move || {
            let r = setns(&*ns, CloneFlags::CLONE_NEWNET)
                .map_err(std::io::Error::from)
                .and_then(|()| {
                    std::net::TcpStream::connect_timeout(
                        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                        timeout,
                    )
                });
            let _ = tx.send(r);
        })?;
    let stream = rx
        .await
        .map_err(|_| std::io::Error::other("the dialing thread ended without an answer"))??;
    stream.set_nonblocking(true)?;
    tokio::net::TcpStream::from_std(stream)
}

/// Splits `host:port`.
pub fn split_authority(authority: &str) -> Option<(&str, u16)> {
    let (h, p) = authority.rsplit_once(':')?;
    Some((h, p.parse().ok()?))
}
