//! The OAuth half of `client create`: checking `--callback-url`, `--logout-url`, `--oauth-flows` and
//! `--oauth-scopes` (against the pool's resource servers) and turning them into the client's stored settings.
//! Must never accept a URL the authorization server would refuse to redirect to.
use super::UsageError;
use crate::idp::oauth::{redirect, scopes};
use crate::store::{OAuthFlow, OAuthFlows, ResourceServerRow, Scopes, UrlList};

/// The OAuth flags of `client create`.
#[derive(Debug, clap::Args)]
pub struct OAuthArgs {
    /// OAuth: a redirect URI /oauth2/authorize accepts (repeatable); https, or http on a loopback host (any
    /// port then matches), or an app's own scheme (com.example.app://cb).
    #[arg(long = "callback-url")]
    pub callback_urls: Vec<String>,
    /// OAuth: a logout_uri /logout may redirect to (repeatable); the same rules as --callback-url.
    #[arg(long = "logout-url")]
    pub logout_urls: Vec<String>,
    /// OAuth flows, comma- or space-separated: code (authorization code + PKCE; needs --callback-url),
    /// client_credentials (machine to machine; needs --secret and a resource-server scope).
    #[arg(long, default_value = "")]
    pub oauth_flows: String,
    /// OAuth scopes the client may be granted, space- or comma-separated: openid email phone profile
    /// aws.cognito.signin.user.admin and resource-server scopes (IDENTIFIER/NAME, see `resource-server create`).
    #[arg(long, default_value = "")]
    pub oauth_scopes: String,
    /// OAuth: a third-party client — the hosted sign-in page asks the user to approve the scopes and resource
    /// it requests before a code is issued.
    #[arg(long)]
    pub consent: bool,
}

/// A client's OAuth settings, as stored.
pub struct Settings {
    pub callback_urls: UrlList,
    pub logout_urls: UrlList,
    pub oauth_flows: OAuthFlows,
    pub oauth_scopes: Scopes,
    pub consent_required: bool,
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split([' ', ',']).filter(|w| !w.is_empty())
}

impl OAuthArgs {
    /// The checks that need no store (`secret`: whether the client gets one); each problem as the fix.
    pub fn check(&self, secret: bool) -> Vec<String> {
        let a = self;
        let mut errors = Vec::new();
        for (flag, urls) in [
            ("--callback-url", &a.callback_urls),
            ("--logout-url", &a.logout_urls),
        ] {
            for u in urls {
                if let Err(e) = redirect::validate_registered(u) {
                    errors.push(format!("{flag} {u}: {e}"));
                }
            }
            if urls.len() > 100 {
                errors.push(format!("{flag} is allowed at most 100 times"));
            }
        }
        let known = [OAuthFlow::Code, OAuthFlow::ClientCredentials];
        if let Some(bad) = words(&a.oauth_flows).find(|f| !known.iter().any(|k| k.as_str() == *f)) {
            errors.push(format!(
                "--oauth-flows takes code and client_credentials, not '{bad}'"
            ));
        }
        let has = |f: OAuthFlow| words(&a.oauth_flows).any(|w| w == f.as_str());
        if has(OAuthFlow::Code) && a.callback_urls.is_empty() {
            errors.push("--oauth-flows code needs at least one --callback-url".into());
        }
        if has(OAuthFlow::ClientCredentials) && !secret {
            errors.push(
            "--oauth-flows client_credentials needs --secret (a public client cannot authenticate)"
                .into(),
        );
        }
        if a.oauth_flows.trim().is_empty() && !a.oauth_scopes.trim().is_empty() {
            errors.push("--oauth-scopes needs --oauth-flows".into());
        }
        errors
    }

    /// The stored settings; the scopes must be standard or a resource server's.
    pub fn settings(&self, servers: &[ResourceServerRow]) -> Result<Settings, UsageError> {
        let a = self;
        if let Some(bad) = scopes::first_unknown(words(&a.oauth_scopes), servers) {
            return Err(UsageError(format!(
            "--oauth-scopes: '{bad}' is neither one of {} nor a resource server's scope (create it with \
             `gatehouse resource-server create --identifier ID --scope NAME:DESCRIPTION`)",
            scopes::STANDARD_SCOPES.join(", ")
        )));
        }
        let flows: Vec<&str> = words(&a.oauth_flows).collect();
        if flows.contains(&OAuthFlow::ClientCredentials.as_str())
            && !words(&a.oauth_scopes).any(|s| scopes::is_resource_scope(s, servers))
        {
            return Err(UsageError(
            "--oauth-flows client_credentials needs a resource-server scope in --oauth-scopes (IDENTIFIER/NAME)"
                .into(),
        ));
        }
        let mut dedup: Vec<&str> = Vec::new();
        for f in flows {
            if !dedup.contains(&f) {
                dedup.push(f);
            }
        }
        Ok(Settings {
            callback_urls: a.callback_urls.join(" ").into(),
            logout_urls: a.logout_urls.join(" ").into(),
            oauth_flows: dedup.join(" ").into(),
            oauth_scopes: words(&a.oauth_scopes).collect::<Vec<_>>().join(" ").into(),
            consent_required: a.consent,
        })
    }
}
