//! What the kernel says about a session process beyond `waitpid`: whether it has begun exiting. Reads
//! `/proc/<pid>/stat` only; never signals or reaps anything.

/// True once the kernel has begun tearing `pid` down (PF_EXITING in /proc/<pid>/stat), or when it is gone: a
/// killed agent closes its sockets before it becomes a zombie, so `try_wait` alone would still call it alive and
/// the next request would be sent to a dead port instead of to a fresh process.
pub fn exiting(pid: u32) -> bool {
    const PF_EXITING: u64 = 0x4;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // Fields after the command name (which may hold spaces and parentheses): state, ppid, pgrp, session,
    // tty_nr, tpgid, flags.
    let flags = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(6))
        .and_then(|f| f.parse::<u64>().ok());
    flags.is_some_and(|f| f & PF_EXITING != 0)
}

#[cfg(test)]
mod tests {
    use super::exiting;

    #[test]
    fn a_running_process_is_not_exiting_and_a_missing_one_is() {
        assert!(!exiting(std::process::id()));
        // Above the kernel's pid_max (at most 2^22): never a live process.
        assert!(exiting(u32::MAX - 1));
    }

    #[test]
    fn a_killed_child_counts_as_exiting_before_it_is_reaped() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(!exiting(pid));
        child.kill().unwrap();
        // Not yet reaped (a zombie has PF_EXITING set too), so the pid cannot have been recycled.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !exiting(pid) {
            assert!(std::time::Instant::now() < deadline, "still not exiting");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child.wait().unwrap();
    }
}
