//! Owns strict parsing of JWS compact serialisation (`header.payload.signature`)
//! into a checked [`Header`], the exact signing input, a JSON payload object
//! and the raw signature bytes. Pure: no I/O, no clock, no key material.
//!
//! Must never: verify signatures or trust claims (that is `cache`/`claims`),
//! follow key-location headers (`jku`, `x5u`, `jwk`, `x5c`), accept any
//! algorithm other than RS256, accept lenient base64 (padding, `+`, `/`), or
//! tolerate duplicate top-level JSON keys.

use std::fmt;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::token::error::TokenError;

/// Maximum accepted length of a compact token, in bytes. Checked before any
/// decoding work is done.
pub const MAX_TOKEN_BYTES: usize = 8192;

/// Maximum accepted length of a `kid`, in characters.
const MAX_KID_CHARS: usize = 256;

/// Header parameters that would make a verifier fetch or trust a key chosen
/// by the token itself, plus `crit` (we understand no extensions).
const FORBIDDEN_HEADERS: [&str; 5] = ["jku", "x5u", "jwk", "x5c", "crit"];

/// base64url, no padding, padding *refused*, non-canonical trailing bits
/// refused.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Signing algorithms this verifier accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, the only algorithm Cognito uses.
    RS256,
}

/// The checked JOSE header of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The signing algorithm (always [`Alg::RS256`] today).
    pub alg: Alg,
    /// The key id; an opaque map key, never interpreted as a path or query.
    pub kid: String,
    /// The optional `typ` header, unchecked beyond being a string.
    pub typ: Option<String>,
}

/// A structurally valid, *unverified* token.
#[derive(Debug, Clone)]
pub struct Parsed<'a> {
    /// The checked header.
    pub header: Header,
    /// `base64url(header) "." base64url(payload)`, exactly as received.
    pub signing_input: &'a [u8],
    /// The payload JSON object. Untrusted until the signature is verified.
    pub payload: Map<String, Value>,
    /// The decoded signature bytes (never empty).
    pub signature: Vec<u8>,
}

/// Encodes bytes as base64url without padding (a JWS segment).
pub fn encode_segment(bytes: &[u8]) -> String {
    B64URL.encode(bytes)
}

/// Strictly decodes a base64url segment (no padding, url-safe alphabet only).
pub(crate) fn decode_segment(segment: &str) -> Option<Vec<u8>> {
    B64URL.decode(segment.as_bytes()).ok()
}

/// Parses a JWS compact token. See the module docs for the rules; the
/// signature is *not* verified here.
pub fn parse(token: &str) -> Result<Parsed<'_>, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed(
            "expected three dot-separated segments",
        ));
    };
    if s.is_empty() {
        return Err(TokenError::Malformed("empty signature"));
    }
    let header_bytes = decode_segment(h).ok_or(TokenError::Malformed("header encoding"))?;
    let payload_bytes = decode_segment(p).ok_or(TokenError::Malformed("payload encoding"))?;
    let signature = decode_segment(s).ok_or(TokenError::Malformed("signature encoding"))?;
    if signature.is_empty() {
        return Err(TokenError::Malformed("empty signature"));
    }
    let header_obj = parse_object(&header_bytes, "header is not a JSON object")?;
    let payload = parse_object(&payload_bytes, "payload is not a JSON object")?;
    let header = check_header(&header_obj)?;
    let signing_input = &token.as_bytes()[..h.len() + 1 + p.len()];
    Ok(Parsed {
        header,
        signing_input,
        payload,
        signature,
    })
}

fn check_header(obj: &Map<String, Value>) -> Result<Header, TokenError> {
    for name in FORBIDDEN_HEADERS {
        if obj.contains_key(name) {
            return Err(TokenError::ForbiddenHeader(name));
        }
    }
    let alg = match obj.get("alg") {
        Some(Value::String(s)) if s == "RS256" => Alg::RS256,
        // "none" in any casing, other algorithms, absent or non-string alg.
        _ => return Err(TokenError::UnsupportedAlgorithm),
    };
    let kid = match obj.get("kid") {
        None => return Err(TokenError::MissingKid),
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_KID_CHARS => s.clone(),
        Some(_) => return Err(TokenError::Malformed("kid")),
    };
    let typ = match obj.get("typ") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(TokenError::Malformed("typ")),
    };
    Ok(Header { alg, kid, typ })
}

/// Parses `bytes` as a single JSON object, refusing duplicate top-level keys.
pub(crate) fn parse_object(
    bytes: &[u8],
    not_object: &'static str,
) -> Result<Map<String, Value>, TokenError> {
    let strict: StrictObject =
        serde_json::from_slice(bytes).map_err(|_| TokenError::Malformed(not_object))?;
    if strict.duplicate {
        return Err(TokenError::Malformed("duplicate JSON key"));
    }
    Ok(strict.map)
}

/// A JSON object deserialised while recording whether any top-level key
/// occurred twice (serde_json's `Map` silently keeps the last one).
struct StrictObject {
    map: Map<String, Value>,
    duplicate: bool,
}

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(StrictObjectVisitor)
    }
}

struct StrictObjectVisitor;

impl<'de> Visitor<'de> for StrictObjectVisitor {
    type Value = StrictObject;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrictObject, A::Error> {
        let mut map = Map::new();
        let mut duplicate = false;
        while let Some((key, value)) = access.next_entry::<String, Value>()? {
            if map.insert(key, value).is_some() {
                duplicate = true;
            }
        }
        Ok(StrictObject { map, duplicate })
    }
}

#[cfg(test)]
#[path = "jws_tests.rs"]
mod tests;
