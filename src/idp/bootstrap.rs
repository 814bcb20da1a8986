//! First-start set-up of the embedded default: the user pool (`us-east-1_` + 9 alphanumerics), its public app
//! client (26 lower-case alphanumerics, no secret) and its RSA-2048 signing key. Idempotent: a second start, or
//! `gatehouse user create` racing `up`, finds and reuses what is there. Never creates a user.
use crate::clock::Clock;
use crate::store::{ClientId, ClientRow, KeyRow, PoolId, PoolRow, Store, StoreError};
use crate::token::{JwkSet, RsaSigner, TokenError};

/// The region of the embedded default pool.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Flows the default client allows (Cognito's names).
pub const DEFAULT_AUTH_FLOWS: &str =
    "ALLOW_USER_PASSWORD_AUTH ALLOW_USER_SRP_AUTH ALLOW_REFRESH_TOKEN_AUTH";

/// Why bootstrapping failed.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("signing key: {0}")]
    Key(#[from] TokenError),
}

/// The default pool and client, created on first use.
pub async fn default_pool(
    store: &dyn Store,
    clock: &dyn Clock,
) -> Result<(PoolRow, ClientRow), BootstrapError> {
    let now = clock.now_unix();
    let pool = PoolRow {
        id: PoolId::generate(DEFAULT_REGION),
        region: DEFAULT_REGION.into(),
        created_at: now,
    };
    let client = ClientRow::new_public(
        ClientId::generate(),
        pool.id.clone(),
        "gatehouse-web".into(),
        DEFAULT_AUTH_FLOWS.into(),
        now,
    );
    Ok(store.ensure_default_pool(pool, client).await?)
}

/// The pool's active signing keys, generating an RSA-2048 key first if it has none.
/// Returns the signer (the newest key) and the JWKS that publishes every active key.
pub async fn signing_keys(
    store: &dyn Store,
    clock: &dyn Clock,
    pool: &PoolRow,
) -> Result<(RsaSigner, JwkSet), BootstrapError> {
    let mut rows = store.signing_keys(&pool.id).await?;
    if rows.is_empty() {
        let der = tokio::task::spawn_blocking(RsaSigner::generate_pkcs8)
            .await
            .map_err(|e| StoreError::Other(format!("key generation task: {e}")))??;
        let row = KeyRow {
            kid: RsaSigner::kid_for_pkcs8(&der),
            pool_id: pool.id.clone(),
            pkcs8: der,
            created_at: clock.now_unix(),
        };
        tracing::info!(kid = %row.kid, "generated a new RSA-2048 signing key");
        store.insert_signing_key(row).await?;
        rows = store.signing_keys(&pool.id).await?;
    }
    let mut signers = rows
        .into_iter()
        .map(|r| RsaSigner::from_pkcs8(r.kid, &r.pkcs8))
        .collect::<Result<Vec<_>, _>>()?;
    let jwks = JwkSet {
        keys: signers.iter().map(RsaSigner::public_jwk).collect(),
    };
    let signer = signers
        .pop()
        .ok_or_else(|| StoreError::Other("no signing key after generation".into()))?;
    Ok((signer, jwks))
}
