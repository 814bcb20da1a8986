//! The store contract, run against both SQLite and PostgreSQL. Test modules only; owns no production code.
pub mod conformance;
pub mod conformance_codes;
pub mod conformance_oauth;
