//! The store contract, run against both SQLite and PostgreSQL, and how the CLI reads `--database-url`. Test
//! modules only; owns no production code.
pub mod conformance;
pub mod conformance_codes;
pub mod conformance_oauth;
pub mod conformance_registration;
pub mod database_url_flag;
