//! gatehouse: a self-hosted perimeter for AI agents — a Cognito-compatible identity provider, an
//! AgentCore-compatible runtime gateway that validates every JWT, an edge for the web app and a reference agent.
//!
//! Dependency rule (arrows point one way; nothing imports `cli`):
//! `cli → server → {idp, gateway, edge, agent} → {token, store, config, net, clock}`.
//! `token` is pure: it never imports axum, hyper, sqlx or `tokio::net`, and never reads the wall clock.
#![forbid(unsafe_code)]

pub mod agent;
pub mod cli;
pub mod clock;
pub mod config;
pub mod doctor;
pub mod edge;
pub mod gateway;
pub mod idp;
pub mod net;
pub mod outbound;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod token;
pub mod util;
