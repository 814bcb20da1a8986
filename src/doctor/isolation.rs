//! The `isolation` control: every `command` runtime's session processes run in the agent sandbox. A runtime
//! with `isolation = "none"` runs agents as gatehouse's own user, able to read its store and signing keys, and
//! fails, and so does an `egress = "all"` runtime without the `slirp4netns` that gives it its network. Must
//! never pass such a runtime.
use super::Check;
use crate::config::{Config, Egress, Isolation};

pub(super) fn isolation(c: &Config, out: &mut Vec<Check>) {
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
        } else if r.egress == Egress::All {
            let deny = c.sandbox.egress_deny_text();
            out.push(Check::pass(
                "isolation",
                r.name.clone(),
                format!(
                    "session processes sandboxed: own uid, namespaces, Landlock, seccomp; egress = \"all\": \
                     outbound to the network the host reaches, never its loopback{}",
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
                "session processes sandboxed: own uid, namespaces, Landlock, seccomp, no egress",
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
