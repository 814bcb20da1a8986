//! Owns minting RS256 tokens for the IdP ([`RsaSigner`]): RSA key
//! generation as PKCS#8, stable Cognito-style key ids, the public JWK and
//! compact JWS signing. Pure: no clock (the caller supplies `iat`/`exp`), no
//! storage.
//!
//! Must never: print, log or serialise private key material (its `Debug` is
//! redacted), accept RSA keys under 2048 bits, or emit any header beyond
//! `{"alg":"RS256","kid":...}`.

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Serialize;

use crate::token::error::TokenError;
use crate::token::jwk::Jwk;
use crate::token::jws::encode_segment;

/// Minimum accepted modulus length for signing keys, in bytes (2048 bits).
const MIN_MODULUS_BYTES: usize = 256;

/// The exact JOSE header we emit; field order is serialisation order.
#[derive(Serialize)]
struct SignHeader<'a> {
    alg: &'static str,
    kid: &'a str,
}

/// An RS256 signing key with its key id.
pub struct RsaSigner {
    kid: String,
    key: KeyPair,
}

impl fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaSigner")
            .field("kid", &self.kid)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl RsaSigner {
    /// Generates a new RSA-2048 key and returns it as PKCS#8 v1 DER (for
    /// storage; load it with [`RsaSigner::from_pkcs8`]). Fails with
    /// `Malformed("key generation")` only if the crypto library fails.
    pub fn generate_pkcs8() -> Result<Vec<u8>, TokenError> {
        const ERR: TokenError = TokenError::Malformed("key generation");
        let key = KeyPair::generate(KeySize::Rsa2048).map_err(|_| ERR)?;
        let der: Pkcs8V1Der<'static> = key.as_der().map_err(|_| ERR)?;
        Ok(der.as_ref().to_vec())
    }

    /// Loads a PKCS#8 DER RSA private key. Refuses (with
    /// `Malformed("signing key")`) anything that is not a valid RSA key of
    /// at least 2048 bits.
    pub fn from_pkcs8(kid: String, der: &[u8]) -> Result<Self, TokenError> {
        const ERR: TokenError = TokenError::Malformed("signing key");
        let key = KeyPair::from_pkcs8(der).map_err(|_| ERR)?;
        if key.public_modulus_len() < MIN_MODULUS_BYTES {
            return Err(ERR);
        }
        Ok(RsaSigner { kid, key })
    }

    /// The key id put in every token header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK: `kty` RSA, `alg` RS256, `use` sig, `n`/`e`
    /// base64url of the big-endian values without leading zeros.
    pub fn public_jwk(&self) -> Jwk {
        let public = self.key.public_key();
        Jwk {
            kty: "RSA".to_owned(),
            kid: self.kid.clone(),
            n: encode_segment(public.modulus().big_endian_without_leading_zero()),
            e: encode_segment(public.exponent().big_endian_without_leading_zero()),
            alg: Some("RS256".to_owned()),
            use_: Some("sig".to_owned()),
        }
    }

    /// Signs `claims` (must be a JSON object) as a compact RS256 JWS with
    /// header exactly `{"alg":"RS256","kid":"<kid>"}` (no `typ`, like
    /// Cognito). The caller is responsible for `iat`/`exp`.
    pub fn sign(&self, claims: &serde_json::Value) -> Result<String, TokenError> {
        if !claims.is_object() {
            return Err(TokenError::Malformed("claims must be a JSON object"));
        }
        const ERR: TokenError = TokenError::Malformed("signing failed");
        let header = serde_json::to_vec(&SignHeader {
            alg: "RS256",
            kid: &self.kid,
        })
        .map_err(|_| ERR)?;
        let payload = serde_json::to_vec(claims).map_err(|_| ERR)?;
        let mut token = encode_segment(&header);
        token.push('.');
        token.push_str(&encode_segment(&payload));
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                token.as_bytes(),
                &mut signature,
            )
            .map_err(|_| ERR)?;
        token.push('.');
        token.push_str(&encode_segment(&signature));
        Ok(token)
    }

    /// A stable key id for a PKCS#8 key: standard base64 (with padding, like
    /// Cognito kids) of SHA-256 over the PKCS#1 `RSAPublicKey` DER. If `der`
    /// is not a loadable RSA key, the hash is taken over `der` itself (still
    /// stable; `from_pkcs8` will refuse such a key anyway).
    pub fn kid_for_pkcs8(der: &[u8]) -> String {
        let hashed = match KeyPair::from_pkcs8(der) {
            Ok(key) => digest::digest(&digest::SHA256, key.public_key().as_ref()),
            Err(_) => digest::digest(&digest::SHA256, der),
        };
        STANDARD.encode(hashed.as_ref())
    }
}

#[cfg(test)]
#[path = "sign_tests.rs"]
mod tests;
