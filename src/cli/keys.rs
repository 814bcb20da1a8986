//! `gatehouse keys rotate|list`: the pool's RSA signing keys. `rotate` adds a new key; a running `up` signs with
//! it within a second, and keeps publishing the old public key until every token it signed has expired.
//! Never prints private key material.
use super::user::with_pool;
use super::StoreArgs;
use crate::clock::{Clock, SystemClock};
use crate::idp::keys::published;
use crate::store::KeyRow;
use crate::token::RsaSigner;

/// `keys` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Generate a new signing key; new tokens use it at once.
    Rotate(StoreArgs),
    /// List the signing keys and whether each signs or is still published.
    List(StoreArgs),
}

/// Runs a `keys` subcommand.
pub fn execute(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Rotate(s) => with_pool(&s, |store, pool| async move {
            let der = tokio::task::spawn_blocking(RsaSigner::generate_pkcs8).await??;
            let kid = RsaSigner::kid_for_pkcs8(&der);
            // A key created in the same second as the previous one would sort by kid; make it strictly newer.
            let newest = store
                .signing_keys(&pool.id)
                .await?
                .last()
                .map_or(0, |k| k.created_at);
            let created_at = SystemClock.now_unix().max(newest + 1);
            store
                .insert_signing_key(KeyRow {
                    kid: kid.clone(),
                    pool_id: pool.id.clone(),
                    pkcs8: der,
                    created_at,
                })
                .await?;
            println!("new signing key {kid}");
            Ok(())
        }),
        KeysCommand::List(s) => with_pool(&s, |store, pool| async move {
            let rows = store.signing_keys(&pool.id).await?;
            let publish = published(&rows, SystemClock.now_unix());
            let n = rows.len();
            for (i, (r, p)) in rows.iter().zip(publish).enumerate() {
                let state = if i + 1 == n {
                    "signing"
                } else if p {
                    "published"
                } else {
                    "retired"
                };
                println!("{} {:<10} created {}", r.kid, state, r.created_at);
            }
            Ok(())
        }),
    }
}
