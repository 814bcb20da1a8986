//! Several instances: shared PostgreSQL, rate limits through Redis, cross-instance forwarding of sessions. Test modules only; owns no production code.
pub mod forwarding;
pub mod multi_instance;
pub mod redis_limits;
