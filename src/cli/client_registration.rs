//! `gatehouse client registration-token create`: an initial access token for
//! `[idp.oauth] dynamic_client_registration = "token"` — printed once, stored only as its SHA-256, valid until
//! the database is reset (there is no expiry; a leaked token is why `open` is audited and `token` preferred).
//! Must never print a token twice or store it in the clear.
use super::user::with_pool;
use super::StoreArgs;
use crate::clock::{Clock, SystemClock};

/// `client registration-token` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RegistrationTokenCommand {
    /// Create an initial access token (printed once) for POST /oauth2/register.
    Create(StoreArgs),
}

/// Runs a `client registration-token` subcommand.
pub fn execute(cmd: RegistrationTokenCommand) -> anyhow::Result<()> {
    match cmd {
        RegistrationTokenCommand::Create(s) => with_pool(&s, |store, pool| async move {
            let token = crate::util::opaque_token(32);
            let hash = crate::util::sha256_hex(token.as_bytes());
            store
                .add_registration_token(&pool.id, &hash, SystemClock.now_unix())
                .await?;
            println!("registration_token {token}");
            eprintln!(
                "Send it as `Authorization: Bearer …` to POST /oauth2/register; it is shown only now."
            );
            Ok(())
        }),
    }
}
