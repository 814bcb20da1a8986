//! The runtime gateway: invocations over HTTP and SSE, WebSocket, revocation, every refusal, the reference agent on its own,
//! and one process per session. Test modules only; owns no production code.
pub mod invocations;
pub mod isolation;
pub mod reference_agent;
pub mod refusals;
pub mod revocation;
pub mod tool_policy;
pub mod websocket;
