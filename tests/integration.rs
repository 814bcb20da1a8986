//! gatehouse's integration tests: one binary, real processes, real sockets, temp data dirs, port 0.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]
mod agent;
mod architecture;
mod attacks;
mod cluster;
mod common;
mod deploy;
mod doctor;
mod edge;
mod gateway;
mod idp;
mod idp_account;
mod idp_admin;
mod idp_refresh;
mod idp_srp;
mod isolation;
mod multi_instance;
mod redis_limits;
mod refusals;
mod revocation;
mod sandbox;
mod spine;
mod store_conformance;
mod web_client;
mod websocket;
