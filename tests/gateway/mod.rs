//! The runtime gateway: invocations over HTTP and SSE, WebSocket, revocation, every refusal, the reference agent
//! on its own (each protocol), one process per session, MCP and A2A runtimes (a recording server, and the real SDKs
//! on both sides). Test modules only; owns no production code.
pub mod invocations;
pub mod isolation;
pub mod mcp_relay;
pub mod mcp_sdk;
pub mod reference_agent;
pub mod reference_protocols;
pub mod refusals;
pub mod revocation;
pub mod sdk_drivers;
pub mod tool_policy;
pub mod websocket;
