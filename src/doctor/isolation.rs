//! The `isolation` control: every `command` runtime's session processes run in the agent sandbox. A runtime
//! with `isolation = "none"` runs agents as gatehouse's own user, able to read its store and signing keys, and
//! fails, and so does an `egress = "all"` runtime without the `slirp4netns` that gives it its network (or,
//! without root, without a TUN device it may open). Says which sandbox the sessions get — a uid per session
//! (root) or a user namespace per session — judged by doctor's own uid: run it as gatehouse's user. Must never
//! pass such a runtime.
use super::Check;
use crate::agent::launch::SandboxMode;
use crate::config::{Config, Egress, Isolation};

pub(super) fn isolation(c: &Config, out: &mut Vec<Check>) {
    let mode = SandboxMode::detect();
    let tun = match mode {
        SandboxMode::SessionUid => Ok(()),
        SandboxMode::UserNamespace => crate::agent::usernet::tun_usable(),
    };
    let mut any = false;
    for r in c.runtimes.iter().filter(|r| r.command.is_some()) {
        any = true;
        if r.isolation == Isolation::None {
            out.push(Check::fail(
                "isolation",
                r.name.clone(),
                "isolation = \"none\": session agents run as gatehouse's own user and can read its store, \
                 signing keys and other sessions",
                "remove `isolation = \"none\"` so every session process runs in the agent sandbox",
            ));
        } else if r.egress == Egress::All && !c.sandbox.slirp4netns.is_file() {
            out.push(Check::fail(
                "isolation",
                r.name.clone(),
                format!(
                    "egress = \"all\" needs slirp4netns, which is not at {}",
                    c.sandbox.slirp4netns.display()
                ),
                "install Debian's slirp4netns package, set `[sandbox] slirp4netns` to where it is, \
                 or remove `egress = \"all\"`",
            ));
        } else if let (Egress::All, Err(e)) = (r.egress, &tun) {
            out.push(Check::fail(
                "isolation",
                r.name.clone(),
                format!(
                    "egress = \"all\" without root needs {} readable and writable by this uid: {e}",
                    crate::agent::usernet::TUN_DEVICE
                ),
                "make the TUN device mode 0666 (Debian's default), run gatehouse as root, or remove \
                 `egress = \"all\"`",
            ));
        } else if r.egress == Egress::All {
            let deny = c.sandbox.egress_deny_text();
            out.push(Check::pass(
                "isolation",
                r.name.clone(),
                format!(
                    "session processes sandboxed in {}: namespaces, Landlock, seccomp; egress = \"all\": \
                     outbound to the network the host reaches, never its loopback{}",
                    mode.describe(),
                    if deny.is_empty() {
                        String::new()
                    } else {
                        format!(" nor {deny}")
                    }
                ),
            ));
        } else {
            out.push(Check::pass(
                "isolation",
                r.name.clone(),
                format!(
                    "session processes sandboxed in {}: namespaces, Landlock, seccomp, no egress",
                    mode.describe()
                ),
            ));
        }
    }
    if !any {
        out.push(Check::pass(
            "isolation",
            "agents",
            "no `command` runtime: gatehouse starts no session processes",
        ));
    }
}
