//! `gatehouse user create|list|disable|enable|delete|set-password`: administration of the built-in pool's users.
//! Passwords are read from standard input (never from an argument, which would land in shell history and
//! `ps`), checked against the pool's policy, hashed with argon2id off the async threads, and their SRP verifier
//! derived at the same time. Disabling, deleting and resetting a password revoke the user's sessions. Works
//! while `up` runs.
use std::io::Read as _;
use std::sync::Arc;

use super::{StoreArgs, UsageError};
use crate::clock::{Clock, SystemClock};
use crate::config::Secret;
use crate::idp::{bootstrap, password, srp};
use crate::store::{PasswordUpdate, PoolRow, Store, StoreError, Sub, UserRow, UserStatus};

/// `user` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create(CreateArgs),
    /// List the users of the pool.
    List(StoreArgs),
    /// Disable a user: sign-in and refresh stop at once, issued tokens are revoked.
    Disable(NameArgs),
    /// Enable a disabled user.
    Enable(NameArgs),
    /// Delete a user and revoke its tokens.
    Delete(NameArgs),
    /// Set a user's password (read from standard input), permanent or temporary; revokes its sessions.
    SetPassword(SetPasswordArgs),
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
    /// The password is temporary: the first sign-in answers NEW_PASSWORD_REQUIRED.
    #[arg(long)]
    pub temporary: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// A command on one user.
#[derive(Debug, clap::Args)]
pub struct NameArgs {
    /// The user.
    #[arg(long)]
    pub username: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `user set-password`.
#[derive(Debug, clap::Args)]
pub struct SetPasswordArgs {
    /// The user.
    #[arg(long)]
    pub username: String,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// The password is temporary (the user must choose a new one at the next sign-in).
    #[arg(long, conflicts_with = "permanent")]
    pub temporary: bool,
    /// The password is permanent (default).
    #[arg(long)]
    pub permanent: bool,
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
        UserCommand::List(s) => with_pool(&s, |store, pool| async move {
            println!(
                "{:<32} {:<38} {:<22} {:<8} email",
                "username", "sub", "status", "enabled"
            );
            for u in store.list_users(&pool.id).await? {
                println!(
                    "{:<32} {:<38} {:<22} {:<8} {}",
                    u.username,
                    u.sub,
                    u.status,
                    u.enabled,
                    u.email.unwrap_or_default()
                );
            }
            Ok(())
        }),
        UserCommand::Disable(a) => change(a, "disabled", |store, pool, name, now| async move {
            store.set_user_enabled(&pool.id, &name, false, now).await
        }),
        UserCommand::Enable(a) => change(a, "enabled", |store, pool, name, now| async move {
            store.set_user_enabled(&pool.id, &name, true, now).await
        }),
        UserCommand::Delete(a) => change(a, "deleted", |store, pool, name, now| async move {
            store.delete_user(&pool.id, &name, now).await
        }),
        UserCommand::SetPassword(a) => set_password(a),
    }
}

fn read_password(password_stdin: bool, example: &str) -> anyhow::Result<Secret> {
    if !password_stdin {
        return Err(UsageError(format!(
            "pass --password-stdin and pipe the password in, e.g. printf '%s' \"$PASSWORD\" | {example}"
        ))
        .into());
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
    Ok(Secret::new(pw))
}

/// Opens the store and the default pool, then runs `f`.
pub(crate) fn with_pool<F, Fut>(s: &StoreArgs, f: F) -> anyhow::Result<()>
where
    F: FnOnce(Arc<dyn Store>, PoolRow) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let url = s.database()?;
    let rt = super::runtime()?;
    rt.block_on(async move {
        let store = crate::store::open(&url).await?;
        let (pool, _client) = bootstrap::default_pool(store.as_ref(), &SystemClock).await?;
        f(store, pool).await
    })
}

fn change<F, Fut>(a: NameArgs, done: &str, f: F) -> anyhow::Result<()>
where
    F: FnOnce(Arc<dyn Store>, PoolRow, String, i64) -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    let name = a.username.clone();
    with_pool(&a.store, |store, pool| async move {
        let pool_id = pool.id.clone();
        match f(store, pool, name.clone(), SystemClock.now_unix()).await {
            Ok(()) => {
                println!("user {name} {done}");
                Ok(())
            }
            Err(StoreError::NotFound) => Err(anyhow::anyhow!(
                "user '{name}' does not exist in user pool {pool_id}"
            )),
            Err(e) => Err(e.into()),
        }
    })
}

async fn update_for(
    pool: &PoolRow,
    username: &str,
    pw: Secret,
    status: UserStatus,
) -> anyhow::Result<PasswordUpdate> {
    let (salt, verifier) =
        srp::make_verifier(srp::pool_name(pool.id.as_str()), username, pw.expose());
    Ok(PasswordUpdate {
        password_hash: password::hash(pw.expose().to_string()).await?,
        srp_salt: salt,
        srp_verifier: verifier,
        status,
    })
}

fn set_password(a: SetPasswordArgs) -> anyhow::Result<()> {
    check_username(&a.username)?;
    let pw = read_password(
        a.password_stdin,
        "gatehouse user set-password --username alice --password-stdin",
    )?;
    let status = if a.temporary {
        UserStatus::ForceChangePassword
    } else {
        UserStatus::Confirmed
    };
    let name = a.username.clone();
    with_pool(&a.store, |store, pool| async move {
        let update = update_for(&pool, &name, pw, status).await?;
        match store
            .set_password(&pool.id, &name, update, true, SystemClock.now_unix())
            .await
        {
            Ok(()) => {
                println!("password of {name} set ({status})");
                Ok(())
            }
            Err(StoreError::NotFound) => Err(anyhow::anyhow!(
                "user '{name}' does not exist in user pool {}",
                pool.id
            )),
            Err(e) => Err(e.into()),
        }
    })
}

fn create(a: CreateArgs) -> anyhow::Result<()> {
    check_username(&a.username)?;
    if let Some(e) = &a.email {
        if !e.contains('@') || e.len() > 254 || e.chars().any(char::is_whitespace) {
            return Err(UsageError(format!("--email: '{e}' is not an e-mail address")).into());
        }
    }
    let pw = read_password(
        a.password_stdin,
        "gatehouse user create --username alice --password-stdin",
    )?;
    let status = if a.temporary {
        UserStatus::ForceChangePassword
    } else {
        UserStatus::Confirmed
    };
    with_pool(&a.store, |store, pool| async move {
        let update = update_for(&pool, &a.username, pw, status).await?;
        let sub = Sub::generate();
        let row = UserRow {
            pool_id: pool.id.clone(),
            sub: sub.clone(),
            username: a.username.clone(),
            email: a.email.clone(),
            password_hash: update.password_hash,
            status: update.status,
            enabled: true,
            created_at: SystemClock.now_unix(),
            srp_salt: Some(update.srp_salt),
            srp_verifier: Some(update.srp_verifier),
            attributes: "{}".into(),
            email_verified: a.email.is_some(),
            pending_email: None,
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
