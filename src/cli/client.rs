//! `gatehouse client create|list|delete|registration-token`: app clients of the built-in pool — name, secret or
//! not, scopes, token lifetimes, refresh-token rotation and its grace period, allowed browser origins, and the
//! OAuth settings (callback and logout URLs, OAuth flows and scopes); `list` marks dynamically registered
//! clients. A new client is usable at once by a running `up`. Prints a generated secret once, on creation;
//! `list` never shows it.
use super::user::with_pool;
use super::{StoreArgs, UsageError};
use crate::clock::{Clock, SystemClock};
use crate::config::Secret;
use crate::idp::bootstrap::DEFAULT_AUTH_FLOWS;
use crate::store::{ClientId, ClientRow};
use crate::util::random_alnum;

/// `client` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Create an app client.
    Create(Box<CreateArgs>),
    /// List the app clients.
    List(StoreArgs),
    /// Delete an app client: its refresh tokens are revoked, its tokens refused by the gateway.
    Delete(DeleteArgs),
    /// Initial access tokens for `[idp.oauth] dynamic_client_registration = "token"`.
    #[command(subcommand)]
    RegistrationToken(super::client_registration::RegistrationTokenCommand),
}

/// Arguments of `client delete`.
#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// The client to delete (not the pool's default client, which `up` serves the web app with).
    #[arg(long)]
    pub client_id: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `client create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// A name for people.
    #[arg(long)]
    pub name: String,
    /// Generate a client secret (a confidential client: SECRET_HASH becomes required).
    #[arg(long)]
    pub secret: bool,
    /// Scopes of the access tokens, space- or comma-separated (default aws.cognito.signin.user.admin).
    #[arg(long, default_value = "aws.cognito.signin.user.admin")]
    pub scopes: String,
    /// Access-token lifetime in seconds (60 to 86400; Cognito's floor is 300, shorter ones are for tests and demos).
    #[arg(long, default_value_t = 3600)]
    pub access_token_validity: i64,
    /// ID-token lifetime in seconds (60 to 86400).
    #[arg(long, default_value_t = 3600)]
    pub id_token_validity: i64,
    /// Refresh-token lifetime in seconds (3600 to 315360000).
    #[arg(long, default_value_t = 30 * 86400)]
    pub refresh_token_validity: i64,
    /// Enable refresh-token rotation (GetTokensFromRefreshToken returns a new refresh token each time).
    #[arg(long)]
    pub rotation: bool,
    /// RetryGracePeriodSeconds with rotation (0 to 60).
    #[arg(long, default_value_t = 0)]
    pub grace_period: i64,
    /// Cognito's ExplicitAuthFlows, space- or comma-separated (ALLOW_USER_SRP_AUTH, ALLOW_USER_PASSWORD_AUTH,
    /// ALLOW_REFRESH_TOKEN_AUTH). Default: all three.
    #[arg(long, default_value = DEFAULT_AUTH_FLOWS)]
    pub auth_flows: String,
    /// A browser origin allowed to call the IdP (repeatable), e.g. https://app.example.com.
    #[arg(long = "allowed-origin")]
    pub allowed_origins: Vec<String>,
    #[command(flatten)]
    pub oauth: super::client_oauth::OAuthArgs,
    /// Print {"client_id": …, "client_secret": …} as JSON instead of lines.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs a `client` subcommand.
pub fn execute(cmd: ClientCommand) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Create(a) => create(*a),
        ClientCommand::RegistrationToken(c) => super::client_registration::execute(c),
        ClientCommand::List(s) => with_pool(&s, |store, pool| async move {
            println!(
                "{:<28} {:<20} {:<7} {:<9} {:<6} {:<6} {:<9} scopes / origins",
                "client id", "name", "secret", "rotation", "access", "id", "refresh"
            );
            for c in store.clients(&pool.id).await? {
                println!(
                    "{:<28} {:<20} {:<7} {:<9} {:<6} {:<6} {:<9} {} / {}",
                    c.id,
                    c.name,
                    c.secret.is_some(),
                    if c.rotation {
                        format!("on:{}s", c.grace_seconds)
                    } else {
                        "off".into()
                    },
                    c.access_validity,
                    c.id_validity,
                    c.refresh_validity,
                    c.scopes,
                    c.allowed_origins
                );
                if c.dynamic {
                    println!(
                        "  dynamically registered (third party) · last token: {}",
                        c.last_used_at
                            .map_or_else(|| "never".to_string(), |t| t.to_string())
                    );
                }
                if !c.oauth_flows.as_str().is_empty() {
                    println!(
                        "  oauth flows: {} · scopes: {} · callback: {} · logout: {}{}",
                        c.oauth_flows,
                        c.oauth_scopes,
                        c.callback_urls,
                        c.logout_urls,
                        if c.consent_required {
                            " · consent: asked (third-party)"
                        } else {
                            ""
                        }
                    );
                }
            }
            Ok(())
        }),
        ClientCommand::Delete(a) => with_pool(&a.store, |store, pool| async move {
            let (_, default) =
                crate::idp::bootstrap::default_pool(store.as_ref(), &SystemClock).await?;
            if default.id == a.client_id {
                return Err(UsageError(format!(
                    "{} is the pool's default client, which `up` serves the web app with; it cannot be deleted",
                    a.client_id
                ))
                .into());
            }
            match store
                .delete_client(
                    &pool.id,
                    &ClientId::from(a.client_id.as_str()),
                    SystemClock.now_unix(),
                )
                .await
            {
                Ok(()) => {
                    println!("deleted client {}", a.client_id);
                    Ok(())
                }
                Err(crate::store::StoreError::NotFound) => Err(UsageError(format!(
                    "no client {} in pool {} (see `gatehouse client list`)",
                    a.client_id, pool.id
                ))
                .into()),
                Err(e) => Err(e.into()),
            }
        }),
    }
}

fn check(a: &CreateArgs) -> Result<(), UsageError> {
    let mut errors: Vec<String> = Vec::new();
    if a.name.is_empty() || a.name.len() > 128 {
        errors.push("--name must be 1 to 128 characters".into());
    }
    if !(60..=86_400).contains(&a.access_token_validity) {
        errors.push("--access-token-validity must be 60 to 86400 seconds".into());
    }
    if !(60..=86_400).contains(&a.id_token_validity) {
        errors.push("--id-token-validity must be 60 to 86400 seconds".into());
    }
    if !(3600..=315_360_000).contains(&a.refresh_token_validity) {
        errors.push("--refresh-token-validity must be 3600 to 315360000 seconds".into());
    }
    if !(0..=60).contains(&a.grace_period) {
        errors.push("--grace-period must be 0 to 60 seconds".into());
    }
    for o in &a.allowed_origins {
        let ok = (o.starts_with("http://") || o.starts_with("https://"))
            && !o.ends_with('/')
            && o.parse::<http::Uri>()
                .is_ok_and(|u| u.path() == "/" && u.query().is_none());
        if !ok {
            errors.push("--allowed-origin must be scheme://host[:port] without a path, e.g. https://app.example.com".into());
        }
    }
    const FLOWS: [&str; 3] = [
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    ];
    if a.auth_flows
        .split([' ', ','])
        .any(|f| !f.is_empty() && !FLOWS.contains(&f))
    {
        errors.push("--auth-flows takes ALLOW_USER_SRP_AUTH, ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH".into());
    }
    errors.extend(a.oauth.check(a.secret));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(UsageError(errors.join("; ")))
    }
}

fn create(a: CreateArgs) -> anyhow::Result<()> {
    check(&a)?;
    let scopes = a
        .scopes
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let flows = a
        .auth_flows
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let store_args = a.store.clone();
    with_pool(&store_args, |store, pool| async move {
        let servers = store.resource_servers(&pool.id).await?;
        let oauth = a.oauth.settings(&servers)?;
        let secret = a.secret.then(|| Secret::new(random_alnum(52)));
        let now = SystemClock.now_unix();
        let row = ClientRow {
            secret: secret.as_ref().map(|s| s.expose().to_string()),
            secret_created_at: secret.as_ref().map(|_| now),
            scopes: scopes.into(),
            access_validity: a.access_token_validity,
            id_validity: a.id_token_validity,
            refresh_validity: a.refresh_token_validity,
            rotation: a.rotation,
            grace_seconds: a.grace_period,
            allowed_origins: a.allowed_origins.join(" "),
            callback_urls: oauth.callback_urls,
            logout_urls: oauth.logout_urls,
            oauth_flows: oauth.oauth_flows,
            oauth_scopes: oauth.oauth_scopes,
            consent_required: oauth.consent_required,
            ..ClientRow::new_public(
                ClientId::generate(),
                pool.id.clone(),
                a.name.clone(),
                flows.into(),
                now,
            )
        };
        let id = row.id.clone();
        store.create_client(row).await?;
        if a.json {
            let secret = secret.as_ref().map(|s| s.expose().to_string());
            println!(
                "{}",
                serde_json::json!({"client_id": id, "client_secret": secret})
            );
            return Ok(());
        }
        println!("client_id {id}");
        if let Some(s) = secret {
            // Shown once, on purpose: the only time the secret leaves the store.
            println!("client_secret {}", s.expose());
        }
        Ok(())
    })
}
