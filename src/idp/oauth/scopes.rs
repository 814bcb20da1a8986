//! OAuth scopes, pure: the OpenID and Cognito scopes gatehouse grants, resource-server scopes
//! (`identifier/name`), which scopes a client may be registered with, and which a request may be granted (never
//! more than the client's). Must never grant a scope the client was not registered with.
use crate::store::ResourceServerRow;

/// The scopes that are not a resource server's, in the order discovery lists them.
pub const STANDARD_SCOPES: [&str; 5] = [
    "openid",
    "email",
    "phone",
    "profile",
    "aws.cognito.signin.user.admin",
];

/// Whether `scope` is a standard scope or one a resource server defines.
pub fn is_known(scope: &str, servers: &[ResourceServerRow]) -> bool {
    STANDARD_SCOPES.contains(&scope) || servers.iter().any(|s| s.full_scopes().any(|f| f == scope))
}

/// The first scope of `scopes` that is neither standard nor a resource server's.
pub fn first_unknown<'a>(
    mut scopes: impl Iterator<Item = &'a str>,
    servers: &[ResourceServerRow],
) -> Option<&'a str> {
    scopes.find(|s| !is_known(s, servers))
}

/// Whether `scope` belongs to a resource server (the only kind the client-credentials grant issues).
pub fn is_resource_scope(scope: &str, servers: &[ResourceServerRow]) -> bool {
    servers.iter().any(|s| s.full_scopes().any(|f| f == scope))
}

/// The scopes of a request, checked against what the client may be granted: `Err(scope)` names the first one
/// it may not have (scope escalation is refused, never narrowed silently). An absent request means all of the
/// client's scopes that `default_filter` keeps.
pub fn granted(
    requested: Option<&str>,
    allowed: &[&str],
    default_filter: impl Fn(&str) -> bool,
) -> Result<Vec<String>, String> {
    let Some(requested) = requested.filter(|r| !r.trim().is_empty()) else {
        return Ok(allowed
            .iter()
            .filter(|s| default_filter(s))
            .map(|s| s.to_string())
            .collect());
    };
    let mut out: Vec<String> = Vec::new();
    for s in requested.split(' ').filter(|s| !s.is_empty()) {
        if !allowed.contains(&s) {
            return Err(s.to_string());
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ResourceScope, ResourceScopes};

    fn api() -> ResourceServerRow {
        ResourceServerRow {
            pool_id: "p".into(),
            identifier: "https://api.example.com".into(),
            name: "api".into(),
            scopes: ResourceScopes(vec![ResourceScope {
                name: "read".into(),
                description: "Read".into(),
            }]),
            created_at: 0,
        }
    }

    #[test]
    fn known_scopes_are_standard_or_a_resource_servers() {
        let servers = [api()];
        assert!(is_known("openid", &servers));
        assert!(is_known("https://api.example.com/read", &servers));
        assert!(!is_known("https://api.example.com/write", &servers));
        assert!(is_resource_scope("https://api.example.com/read", &servers));
        assert!(!is_resource_scope("email", &servers));
        assert_eq!(
            first_unknown(["openid", "admin"].into_iter(), &servers),
            Some("admin")
        );
    }

    #[test]
    fn a_request_gets_at_most_the_clients_scopes() {
        let allowed = ["openid", "email", "https://api.example.com/read"];
        assert_eq!(
            granted(Some("openid  email openid"), &allowed, |_| true),
            Ok(vec!["openid".to_string(), "email".to_string()])
        );
        assert_eq!(
            granted(Some("openid profile"), &allowed, |_| true),
            Err("profile".to_string())
        );
        assert_eq!(
            granted(None, &allowed, |s| s.contains('/')),
            Ok(vec!["https://api.example.com/read".to_string()])
        );
    }
}
