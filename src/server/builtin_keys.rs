//! The built-in runtimes' key source when the IdP listener speaks TLS: the JWKS straight from the IdP's
//! in-process key ring (the same keys `/.well-known/jwks.json` publishes), so the gateway needs no HTTPS client
//! and no round trip to its own listener. Never hands out private key material.
use std::sync::Arc;

use crate::clock::Clock;
use crate::idp::IdpState;
use crate::token::{FetchError, Fetched, KeySource};

/// Reads the public keys from the IdP's key ring.
pub(super) struct RingKeySource {
    pub(super) idp: Arc<IdpState>,
    pub(super) clock: Arc<dyn Clock>,
}

#[async_trait::async_trait]
impl KeySource for RingKeySource {
    async fn fetch(&self) -> Result<Fetched, FetchError> {
        let keys = self
            .idp
            .keys
            .current(self.clock.now_unix())
            .await
            .map_err(|e| FetchError(format!("the IdP's key ring: {e:?}")))?;
        let jwks = serde_json::to_vec(&keys.jwks)
            .map_err(|e| FetchError(format!("JWKS serialisation: {e}")))?;
        Ok(Fetched {
            issuer: self.idp.issuer.clone(),
            jwks,
        })
    }
}
