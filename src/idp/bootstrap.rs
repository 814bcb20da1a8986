//! First-start set-up of the embedded default: the user pool (`us-east-1_` + 9 alphanumerics), its public app
//! client (26 lower-case alphanumerics, no secret) and its RSA-2048 signing key. Idempotent: a second start, or
//! `gatehouse user create` racing `up`, finds and reuses what is there. Also registers the default client for
//! the web app's hosted sign-in (authorization code + PKCE, its callback and logout URLs on the web listener's
//! origin, `openid email profile`), rewritten only when the web origin changed. Never creates a user, never
//! registers a URL the authorization server would refuse.
use crate::clock::Clock;
use crate::idp::oauth::redirect::{self, UrlError};
use crate::store::{
    ClientId, ClientOAuth, ClientRow, KeyRow, OAuthFlow, PoolId, PoolRow, Store, StoreError,
};
use crate::token::{JwkSet, RsaSigner, TokenError};

/// The region of the embedded default pool.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Flows the default client allows (Cognito's names).
pub const DEFAULT_AUTH_FLOWS: &str =
    "ALLOW_USER_PASSWORD_AUTH ALLOW_USER_SRP_AUTH ALLOW_REFRESH_TOKEN_AUTH";

/// The web app's path that takes the hosted sign-in's answer (an SPA path: the edge serves it `index.html`).
pub const WEB_CALLBACK_PATH: &str = "/callback";
/// The scopes the web app asks the hosted sign-in for.
pub const WEB_OAUTH_SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// The web app's callback and logout URLs, for the web listener's public URL.
pub fn web_app_urls(web_url: &str) -> (String, String) {
    let base = web_url.trim_end_matches('/');
    (format!("{base}{WEB_CALLBACK_PATH}"), format!("{base}/"))
}

/// Whether `client` may take the web app at `web_url` through the hosted sign-in: the code flow, the callback
/// registered and the `openid` scope allowed.
pub fn serves_web_app(client: &ClientRow, web_url: &str) -> bool {
    let (callback, _) = web_app_urls(web_url);
    client.oauth_flows.allows(OAuthFlow::Code)
        && redirect::is_registered(client.callback_urls.iter(), &callback)
        && client.oauth_scopes.iter().any(|s| s == "openid")
}

/// The OAuth settings the default client needs for the web app at `web_url`, or `None` when it has them. The
/// callback and logout URLs are the web app's own (replaced when the origin changed; a loopback one with another
/// port still matches); flows and scopes keep what the client had and gain `code` and `openid email profile`.
pub fn web_app_oauth(client: &ClientRow, web_url: &str) -> Result<Option<ClientOAuth>, UrlError> {
    let (callback, logout) = web_app_urls(web_url);
    redirect::validate_registered(&callback)?;
    redirect::validate_registered(&logout)?;
    let has_scopes = WEB_OAUTH_SCOPES
        .iter()
        .all(|w| client.oauth_scopes.iter().any(|s| s == *w));
    if serves_web_app(client, web_url)
        && has_scopes
        && redirect::is_registered(client.logout_urls.iter(), &logout)
    {
        return Ok(None);
    }
    let union = |have: Vec<&str>, want: &[&str]| {
        let mut all: Vec<String> = have.into_iter().map(str::to_string).collect();
        for w in want {
            if !all.iter().any(|a| a == w) {
                all.push((*w).to_string());
            }
        }
        all.join(" ")
    };
    Ok(Some(ClientOAuth {
        callback_urls: callback.into(),
        logout_urls: logout.into(),
        oauth_flows: union(client.oauth_flows.iter().collect(), &["code"]).into(),
        oauth_scopes: union(client.oauth_scopes.iter().collect(), &WEB_OAUTH_SCOPES).into(),
    }))
}

/// Registers the default client for the web app's hosted sign-in at `web_url` (idempotent: no write when it is
/// registered already) and returns it as stored. A web URL the authorization server cannot redirect to (plain
/// http on a host that is not loopback) leaves the client as it is, with a warning.
pub async fn register_web_app(
    store: &dyn Store,
    client: ClientRow,
    web_url: &str,
) -> Result<ClientRow, BootstrapError> {
    let settings = match web_app_oauth(&client, web_url) {
        Ok(None) => return Ok(client),
        Ok(Some(s)) => s,
        Err(e) => {
            tracing::warn!(%web_url, error = %e, "the web app's hosted sign-in is off: its callback URL {e}");
            return Ok(client);
        }
    };
    store
        .set_client_oauth(&client.pool_id, &client.id, &settings)
        .await?;
    tracing::info!(client_id = %client.id, callback = %settings.callback_urls, "default client registered for the hosted sign-in");
    Ok(ClientRow {
        callback_urls: settings.callback_urls,
        logout_urls: settings.logout_urls,
        oauth_flows: settings.oauth_flows,
        oauth_scopes: settings.oauth_scopes,
        ..client
    })
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn default_client() -> ClientRow {
        ClientRow::new_public(
            "c1".into(),
            "us-east-1_AAAAAAAAA".into(),
            "gatehouse-web".into(),
            DEFAULT_AUTH_FLOWS.into(),
            1,
        )
    }

    #[test]
    fn a_fresh_default_client_gets_the_web_apps_urls_flow_and_scopes() {
        let s = web_app_oauth(&default_client(), "http://127.0.0.1:4000/")
            .unwrap()
            .unwrap();
        assert_eq!(s.callback_urls.as_str(), "http://127.0.0.1:4000/callback");
        assert_eq!(s.logout_urls.as_str(), "http://127.0.0.1:4000/");
        assert_eq!(s.oauth_flows.as_str(), "code");
        assert_eq!(s.oauth_scopes.as_str(), "openid email profile");
    }

    #[test]
    fn a_registered_client_is_left_alone_and_a_new_origin_replaces_the_old() {
        let s = web_app_oauth(&default_client(), "https://app.example.com")
            .unwrap()
            .unwrap();
        let c = ClientRow {
            callback_urls: s.callback_urls,
            logout_urls: s.logout_urls,
            oauth_flows: s.oauth_flows,
            oauth_scopes: s.oauth_scopes,
            ..default_client()
        };
        assert!(serves_web_app(&c, "https://app.example.com"));
        assert_eq!(web_app_oauth(&c, "https://app.example.com").unwrap(), None);
        let moved = web_app_oauth(&c, "https://new.example.com")
            .unwrap()
            .unwrap();
        assert_eq!(
            moved.callback_urls.as_str(),
            "https://new.example.com/callback"
        );
        assert!(!serves_web_app(&c, "https://new.example.com"));
    }

    #[test]
    fn a_plain_http_origin_that_is_not_loopback_is_never_registered() {
        assert_eq!(
            web_app_oauth(&default_client(), "http://app.example.com"),
            Err(UrlError::PlainHttp)
        );
    }
}
