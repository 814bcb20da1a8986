//! The `token` module owns everything about JWTs: strict JWS parsing,
//! JWK/JWKS handling, RS256 verification with a single-flight key cache,
//! claim extraction, AgentCore-style authorization policy, and RS256 signing
//! for the IdP.
//!
//! It must never: do network or database I/O (keys arrive through a
//! [`KeySource`]), read the wall clock (time is always passed in), depend on
//! HTTP frameworks, follow key URLs or embedded keys found in a token, accept
//! any algorithm other than RS256, or echo a token in an error message.

#![warn(missing_docs)]

pub mod cache;
pub mod claims;
pub mod error;
pub mod jwk;
pub mod jws;
pub mod policy;
pub mod sign;

pub use cache::{verify_with, Authorizer, FetchError, Fetched, KeyCache, KeySnapshot, KeySource};
pub use claims::VerifiedClaims;
pub use error::{Refusal, TokenError};
pub use jwk::{Jwk, JwkSet, VerifyingKeys};
pub use policy::{ClaimOp, ClaimRule, Policy};
pub use sign::RsaSigner;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod verify_claims_tests;
#[cfg(test)]
mod verify_tests;
