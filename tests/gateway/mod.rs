//! The runtime gateway: invocations over HTTP and SSE, WebSocket, revocation, every refusal, the reference agent on its own,
//! one process per session, and the real MCP and A2A SDK drivers the MCP and A2A tests use. Test modules only; owns no production code.
pub mod invocations;
pub mod isolation;
pub mod mcp_relay;
pub mod mcp_sdk;
pub mod reference_agent;
pub mod refusals;
pub mod revocation;
pub mod sdk_drivers;
pub mod websocket;
