//! `gatehouse resource-server create|list|delete`: the pool's resource servers — an identifier (the prefix of
//! its scopes and the `aud` of access tokens requested with `resource=` it) and its scopes. Must never delete a
//! scope a client holds silently: deleting a server leaves clients' scopes that then grant nothing.
use super::user::with_pool;
use super::{StoreArgs, UsageError};
use crate::clock::{Clock, SystemClock};
use crate::store::{ResourceScope, ResourceScopes, ResourceServerRow, StoreError};

/// `resource-server` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ResourceServerCommand {
    /// Create a resource server and its scopes.
    Create(CreateArgs),
    /// List the resource servers and their scopes.
    List(StoreArgs),
    /// Delete a resource server.
    Delete(DeleteArgs),
}

/// Arguments of `resource-server create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Its identifier, e.g. https://api.example.com (1 to 256 characters, no spaces): scopes are granted as
    /// IDENTIFIER/NAME, and `resource=IDENTIFIER` at /oauth2/authorize or /oauth2/token makes it the access
    /// token's aud.
    #[arg(long)]
    pub identifier: String,
    /// A name for people (default: the identifier).
    #[arg(long)]
    pub name: Option<String>,
    /// A scope as NAME:DESCRIPTION (repeatable), e.g. --scope read:"Read orders".
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `resource-server delete`.
#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// The identifier of the server to delete.
    #[arg(long)]
    pub identifier: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control)
}

fn parse(a: &CreateArgs) -> Result<ResourceScopes, UsageError> {
    let mut errors = Vec::new();
    let id = &a.identifier;
    if id.is_empty() || id.len() > 256 || !id.chars().all(|c| c.is_ascii_graphic()) {
        errors
            .push("--identifier must be 1 to 256 printable characters without spaces".to_string());
    }
    let mut scopes: Vec<ResourceScope> = Vec::new();
    for s in &a.scopes {
        let (name, description) = s.split_once(':').unwrap_or((s.as_str(), ""));
        let name_ok = !name.is_empty()
            && name.len() <= 256
            && name
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '/' && c != '"' && c != '\\');
        if !name_ok {
            errors.push(format!(
                "--scope {s}: NAME must be 1 to 256 printable characters without spaces, '/', quotes or '\\'"
            ));
        } else if description.len() > 256 {
            errors.push(format!(
                "--scope {name}: the description is at most 256 characters"
            ));
        } else if scopes.iter().any(|x| x.name == name) {
            errors.push(format!("--scope {name} is given twice"));
        } else {
            scopes.push(ResourceScope {
                name: name.into(),
                description: description.into(),
            });
        }
    }
    if scopes.len() > 100 {
        errors.push("at most 100 --scope".into());
    }
    if a.name.as_deref().is_some_and(|n| !valid_name(n, 256)) {
        errors.push("--name must be 1 to 256 printable characters".into());
    }
    if errors.is_empty() {
        Ok(ResourceScopes(scopes))
    } else {
        Err(UsageError(errors.join("; ")))
    }
}

/// Runs a `resource-server` subcommand.
pub fn execute(cmd: ResourceServerCommand) -> anyhow::Result<()> {
    match cmd {
        ResourceServerCommand::Create(a) => {
            let scopes = parse(&a)?;
            with_pool(&a.store, |store, pool| async move {
                let row = ResourceServerRow {
                    pool_id: pool.id.clone(),
                    name: a.name.clone().unwrap_or_else(|| a.identifier.clone()),
                    identifier: a.identifier.clone(),
                    scopes,
                    created_at: SystemClock.now_unix(),
                };
                match store.create_resource_server(row.clone()).await {
                    Ok(()) => {
                        println!("resource_server {}", row.identifier);
                        for s in row.full_scopes() {
                            println!("scope {s}");
                        }
                        Ok(())
                    }
                    Err(StoreError::Conflict) => Err(UsageError(format!(
                        "a resource server {} exists already (delete it first)",
                        a.identifier
                    ))
                    .into()),
                    Err(e) => Err(e.into()),
                }
            })
        }
        ResourceServerCommand::List(s) => with_pool(&s, |store, pool| async move {
            println!("{:<40} {:<20} scopes", "identifier", "name");
            for r in store.resource_servers(&pool.id).await? {
                let names: Vec<&str> = r.scopes.0.iter().map(|s| s.name.as_str()).collect();
                println!("{:<40} {:<20} {}", r.identifier, r.name, names.join(" "));
            }
            Ok(())
        }),
        ResourceServerCommand::Delete(a) => with_pool(&a.store, |store, pool| async move {
            match store.delete_resource_server(&pool.id, &a.identifier).await {
                Ok(()) => {
                    println!("deleted resource server {}", a.identifier);
                    Ok(())
                }
                Err(StoreError::NotFound) => Err(UsageError(format!(
                    "no resource server {} (see `gatehouse resource-server list`)",
                    a.identifier
                ))
                .into()),
                Err(e) => Err(e.into()),
            }
        }),
    }
}
