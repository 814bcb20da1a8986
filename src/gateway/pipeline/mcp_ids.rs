//! A `command` runtime's MCP sessions whose server issued its own `Mcp-Session-Id`: the server's id is kept here,
//! on the instance that runs the process, and swapped for the gateway's on the way in and out, so the client only
//! ever sees (and is bound by) the gateway's session id. Must never let one session's id reach another's process.
use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::headers::MCP_SESSION_HEADER;
use crate::gateway::{GatewayState, Runtime};

/// How many server-issued session ids of `command` runtimes are remembered.
const MAX_SERVER_IDS: usize = 100_000;

/// A `command` runtime's MCP sessions whose server issued its own `Mcp-Session-Id`: (runtime ARN, the gateway's
/// session id) → the server's id. Kept on the instance that runs the process.
#[derive(Debug, Default)]
pub struct ServerIds(Mutex<HashMap<(String, String), String>>);

impl ServerIds {
    fn get(&self, arn: &str, session: &str) -> Option<String> {
        let map = self.0.lock().ok()?;
        map.get(&(arn.to_string(), session.to_string())).cloned()
    }

    fn set(&self, arn: &str, session: &str, server: String) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= MAX_SERVER_IDS {
                map.clear();
            }
            map.insert((arn.to_string(), session.to_string()), server);
        }
    }

    pub(in crate::gateway) fn forget(&self, arn: &str, session: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(&(arn.to_string(), session.to_string()));
        }
    }
}

/// Before a `command` runtime's request: the server's own session id in place of the gateway's.
pub(in crate::gateway) fn to_server_id(
    state: &GatewayState,
    runtime: &Runtime,
    session: &str,
    headers: &mut HeaderMap,
) {
    if let Some(v) = state
        .mcp_ids
        .get(&runtime.arn, session)
        .and_then(|id| HeaderValue::from_str(&id).ok())
    {
        headers.insert(HeaderName::from_static(MCP_SESSION_HEADER), v);
    }
}

/// After a `command` runtime's answer: a server-issued session id remembered, and the gateway's shown instead.
pub(in crate::gateway) fn from_server_id(
    state: &GatewayState,
    runtime: &Runtime,
    session: &str,
    headers: &mut HeaderMap,
) {
    let Some(server) = headers
        .get(MCP_SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    if server != session {
        state.mcp_ids.set(&runtime.arn, session, server.to_string());
        if let Ok(v) = HeaderValue::from_str(session) {
            headers.insert(HeaderName::from_static(MCP_SESSION_HEADER), v);
        }
    }
}
