//! Agents: the reference agents (`gatehouse agent`: AgentCore's HTTP container contract, an MCP server, an A2A
//! agent), the supervisor that starts one sandboxed process per session of a `command` runtime, and the code that
//! starts the reference agent as a child process for `gatehouse up`. Must never outlive gatehouse: children are
//! stopped on shutdown and the reference agent exits by itself when its parent dies.
pub mod child;
pub mod dialer;
pub mod jsonrpc;
pub mod launch;
pub mod netns;
pub mod pool;
pub mod proc_state;
pub mod reference;
pub mod reference_a2a;
#[cfg(test)]
mod reference_a2a_tests;
pub mod reference_mcp;
#[cfg(test)]
mod reference_mcp_tests;
pub mod sandbox;
pub mod session_process;
pub mod supervisor;
pub mod uids;
pub mod usernet;
