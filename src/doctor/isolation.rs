//! The `isolation` control: every `command` runtime's session processes run in the agent sandbox. A runtime
//! with `isolation = "none"` runs agents as gatehouse's own user, able to read its store and signing keys, and
//! fails. Must never pass such a runtime.
use super::Check;
use crate::config::{Config, Isolation};

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
