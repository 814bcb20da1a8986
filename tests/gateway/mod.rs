//! The runtime gateway: invocations over HTTP and SSE, WebSocket, revocation, every refusal, the reference agent
//! on its own (each protocol), and one process per session. Test modules only; owns no production code.
pub mod invocations;
pub mod isolation;
pub mod reference_agent;
pub mod reference_protocols;
pub mod refusals;
pub mod revocation;
pub mod websocket;
