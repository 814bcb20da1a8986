//! Attacks and containment: the attack suite by class, the IdP's and the listeners' review findings, and the agent
//! sandbox (and its `egress = "all"` network) tried by a hostile agent. Test modules only; owns no production code.
pub mod attacks;
pub mod attacks_idp;
pub mod attacks_listeners;
pub mod egress;
pub mod sandbox;
pub mod sandbox_dev;
