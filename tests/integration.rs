//! gatehouse's integration tests: one binary, real processes, real sockets, temp data dirs, port 0.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]
mod architecture;
mod cluster;
mod common;
mod deploy;
mod doctor;
mod edge;
mod gateway;
mod idp;
mod security;
mod spine;
mod store;
