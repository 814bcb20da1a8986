//! One unprivileged uid (and the gid of the same number) per live sandboxed session, from `[sandbox] uid_range`.
//! A uid is held through an exclusive `flock` on `/run/gatehouse/uids/<uid>`, so every gatehouse on the host
//! (they may share the range) skips the uids another holds, and a killed gatehouse's locks go with it. Must never
//! hand one uid to two live sessions.
use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::fcntl::{Flock, FlockArg};

/// Where the lock files live (root-only).
pub const LOCK_DIR: &str = "/run/gatehouse/uids";

/// A uid held for one session; released when dropped.
#[derive(Debug)]
pub struct UidLease {
    pub uid: u32,
    _lock: Flock<File>,
}

/// Hands out uids from a range.
#[derive(Debug)]
pub struct UidPool {
    first: u32,
    last: u32,
    next: AtomicU32,
    dir: PathBuf,
}

impl UidPool {
    /// A pool over `first..=last`.
    pub fn new(first: u32, last: u32) -> Self {
        Self {
            first,
            last,
            next: AtomicU32::new(0),
            dir: PathBuf::from(LOCK_DIR),
        }
    }

    /// Whether `uid` is in the range and no live session (of any gatehouse on this host) holds it.
    pub fn is_free(&self, uid: u32) -> bool {
        if !(self.first..=self.last).contains(&uid) {
            return false;
        }
        let Ok(file) = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(uid.to_string()))
        else {
            return false;
        };
        Flock::lock(file, FlockArg::LockExclusiveNonblock).is_ok()
    }

    /// A free uid, or `None` if every uid of the range is held.
    pub fn acquire(&self) -> std::io::Result<Option<UidLease>> {
        std::fs::create_dir_all(&self.dir)?;
        let span = u64::from(self.last - self.first) + 1;
        let tries = span.min(1 << 20);
        for _ in 0..tries {
            let off = u64::from(self.next.fetch_add(1, Ordering::Relaxed)) % span;
            let uid = self.first + off as u32;
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(self.dir.join(uid.to_string()))?;
            if let Ok(lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                return Ok(Some(UidLease { uid, _lock: lock }));
            }
        }
        Ok(None)
    }
}
