//! Owns the JWK / JWKS wire types ([`Jwk`], [`JwkSet`]) and turning a JWKS
//! document into pre-parsed RSA verification keys ([`VerifyingKeys`]), parsed
//! once per JWKS load.
//!
//! Must never: accept keys that are not RSA signing keys usable with RS256,
//! accept moduli under 2048 bits or exponents other than 65537, let one bad
//! key poison the whole set, or do I/O (the bytes are handed in).

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::token::error::TokenError;
use crate::token::jws::{decode_segment, parse_object};

/// Maximum accepted size of a JWKS document, in bytes (64 KiB).
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Minimum accepted RSA modulus size, in bits.
const MIN_MODULUS_BITS: usize = 2048;

/// Maximum RSA modulus size the verifier supports, in bits.
const MAX_MODULUS_BITS: usize = 8192;

/// The only accepted RSA public exponent (65537, `AQAB`).
const EXPONENT_65537: [u8; 3] = [0x01, 0x00, 0x01];

/// One JSON Web Key (RFC 7517), restricted to the members an RSA signing key
/// needs. Unknown members are ignored when deserialising.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type; only `"RSA"` is used.
    pub kty: String,
    /// Key id, matched against the token header `kid`.
    pub kid: String,
    /// RSA modulus, base64url (no padding), big-endian.
    pub n: String,
    /// RSA public exponent, base64url (no padding), big-endian.
    pub e: String,
    /// Intended algorithm (`"RS256"` when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Intended use (`"sig"` when present).
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

/// A JWK Set document (`{"keys":[...]}`), as served at `jwks.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// RSA verification keys by `kid`, each parsed once with aws-lc-rs for
/// RS256 (`RSA_PKCS1_2048_8192_SHA256`).
#[derive(Default)]
pub struct VerifyingKeys {
    keys: HashMap<String, ParsedPublicKey>,
}

impl fmt::Debug for VerifyingKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKeys")
            .field("kids", &self.kids())
            .finish()
    }
}

impl VerifyingKeys {
    /// Parses a raw JWKS body. The document itself must be at most
    /// [`MAX_JWKS_BYTES`] and a JSON object with a `keys` array (else
    /// `Malformed`); individual keys that are unusable are *skipped*: not
    /// RSA, missing/empty `kid`, `use` present and not `sig`, `alg` present
    /// and not `RS256`, modulus under 2048 (or over 8192) bits, exponent
    /// other than 65537, bad base64url, or a `kid` already seen (the first
    /// key with a given `kid` wins). The result may be empty.
    pub fn from_jwks_json(bytes: &[u8]) -> Result<VerifyingKeys, TokenError> {
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(TokenError::Malformed("jwks too large"));
        }
        let doc = parse_object(bytes, "jwks is not a JSON object")?;
        let Some(Value::Array(raw_keys)) = doc.get("keys") else {
            return Err(TokenError::Malformed("jwks has no keys array"));
        };
        let mut out = VerifyingKeys::default();
        for raw in raw_keys {
            // Each key is decoded on its own so one odd key (e.g. an EC key
            // without `n`) cannot make the whole set unusable.
            if let Ok(jwk) = Jwk::deserialize(raw) {
                out.insert(&jwk);
            }
        }
        Ok(out)
    }

    /// Builds verification keys from already-typed JWKs with the same
    /// per-key skipping rules as [`VerifyingKeys::from_jwks_json`].
    pub fn from_jwks(keys: &[Jwk]) -> VerifyingKeys {
        let mut out = VerifyingKeys::default();
        for jwk in keys {
            out.insert(jwk);
        }
        out
    }

    fn insert(&mut self, jwk: &Jwk) {
        if self.keys.contains_key(&jwk.kid) {
            return;
        }
        if let Some(parsed) = usable_key(jwk) {
            self.keys.insert(jwk.kid.clone(), parsed);
        }
    }

    /// The key for `kid`, if any. `kid` is only ever used as a map key.
    pub fn get(&self, kid: &str) -> Option<&ParsedPublicKey> {
        self.keys.get(kid)
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if no key was usable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key ids, sorted.
    pub fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        kids
    }
}

fn usable_key(jwk: &Jwk) -> Option<ParsedPublicKey> {
    if jwk.kty != "RSA" || jwk.kid.is_empty() {
        return None;
    }
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    if jwk.alg.as_deref().is_some_and(|a| a != "RS256") {
        return None;
    }
    let n = decode_segment(&jwk.n)?;
    let e = decode_segment(&jwk.e)?;
    let n = strip_leading_zeros(&n);
    let bits = bit_len(n);
    if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits) {
        return None;
    }
    if strip_leading_zeros(&e) != EXPONENT_65537 {
        return None;
    }
    RsaPublicKeyComponents {
        n,
        e: &EXPONENT_65537[..],
    }
    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
    .ok()
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Bit length of a big-endian integer without leading zero bytes.
fn bit_len(be: &[u8]) -> usize {
    match be.first() {
        None => 0,
        Some(top) => (be.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

#[cfg(test)]
#[path = "jwk_tests.rs"]
mod tests;
