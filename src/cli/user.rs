//! `gatehouse user create`: adds a confirmed user to the built-in pool. The password is read from standard
//! input (never from an argument, which would land in shell history and `ps`), checked against the pool's
//! policy, and hashed with argon2id off the async threads. Works while `up` runs.
use std::io::Read as _;

use super::{StoreArgs, UsageError};
use crate::clock::{Clock, SystemClock};
use crate::idp::{bootstrap, password};
use crate::server::open_store;
use crate::store::{StoreError, UserRow};

/// `user` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a confirmed user; the password is read from standard input.
    Create(CreateArgs),
}

/// Arguments of `user create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The username to sign in with.
    #[arg(long)]
    pub username: String,
    /// The user's e-mail address (put in the ID token's `email` claim).
    #[arg(long)]
    pub email: Option<String>,
    /// Read the password from standard input (one line; the trailing newline is dropped).
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Checks a username: 1–128 characters, no white space or control characters.
pub fn check_username(u: &str) -> Result<(), UsageError> {
    if u.is_empty()
        || u.chars().count() > 128
        || u.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(UsageError(
            "--username must be 1 to 128 characters without spaces or control characters".into(),
        ));
    }
    Ok(())
}

/// Runs a `user` subcommand.
pub fn execute(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create(a) => create(a),
    }
}

fn create(a: CreateArgs) -> anyhow::Result<()> {
    check_username(&a.username)?;
    if !a.password_stdin {
        return Err(UsageError(
            "pass --password-stdin and pipe the password in, e.g. printf '%s' \"$PASSWORD\" | gatehouse user create --username alice --password-stdin".into(),
        )
        .into());
    }
    if let Some(e) = &a.email {
        if !e.contains('@') || e.len() > 254 || e.chars().any(char::is_whitespace) {
            return Err(UsageError(format!("--email: '{e}' is not an e-mail address")).into());
        }
    }
    let mut pw = String::new();
    std::io::stdin()
        .read_to_string(&mut pw)
        .map_err(|e| UsageError(format!("cannot read the password from standard input: {e}")))?;
    let pw = pw
        .strip_suffix('\n')
        .map_or(pw.as_str(), |p| p.strip_suffix('\r').unwrap_or(p))
        .to_string();
    password::check_policy(&pw).map_err(UsageError)?;

    let rt = super::runtime()?;
    rt.block_on(async move {
        let clock = SystemClock;
        let store = open_store(&a.store.data_dir, a.store.database_url.as_deref())
            .await
            .map_err(|e| match e {
                crate::server::ServerError::Usage(m) => anyhow::Error::new(UsageError(m)),
                other => anyhow::Error::new(other),
            })?;
        let (pool, _client) = bootstrap::default_pool(store.as_ref(), &clock).await?;
        let hash = password::hash(pw).await?;
        let sub = crate::util::uuid_v4();
        let row = UserRow {
            pool_id: pool.id.clone(),
            sub: sub.clone(),
            username: a.username.clone(),
            email: a.email.clone(),
            password_hash: hash,
            status: "CONFIRMED".into(),
            enabled: true,
            created_at: clock.now_unix(),
        };
        match store.create_user(row).await {
            Ok(()) => {
                println!(
                    "created user {} (sub {sub}) in user pool {}",
                    a.username, pool.id
                );
                Ok(())
            }
            Err(StoreError::Conflict) => Err(anyhow::anyhow!(
                "user '{}' already exists in user pool {}",
                a.username,
                pool.id
            )),
            Err(e) => Err(e.into()),
        }
    })
}
