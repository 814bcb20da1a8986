//! Agents: the reference agent (`gatehouse agent`, AgentCore's container contract) and the supervisor code that
//! starts it as a child process for `gatehouse up`. Must never outlive gatehouse: children are stopped on
//! shutdown and the reference agent exits by itself when its parent dies.
pub mod child;
pub mod reference;
pub mod supervisor;
