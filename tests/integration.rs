//! gatehouse's integration tests: one binary, real processes, real sockets, temp data dirs, port 0.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]
mod agent;
mod architecture;
mod attacks;
mod common;
mod doctor;
mod edge;
mod gateway;
mod idp;
mod idp_account;
mod idp_admin;
mod idp_refresh;
mod idp_srp;
mod isolation;
mod refusals;
mod revocation;
mod spine;
mod web_client;
mod websocket;
