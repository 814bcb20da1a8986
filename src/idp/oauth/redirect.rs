//! Redirect URIs, pure: which callback and logout URLs a client may register (absolute, no fragment, plain
//! http only on a loopback host, no wildcard) and whether a presented `redirect_uri` is one of them — exactly,
//! except that a loopback http URL matches with any port (RFC 8252 §7.3). Must never build a redirect from
//! anything but a registered URL.

/// The longest URL accepted anywhere (registration and requests).
pub const MAX_URL_LEN: usize = 2048;

/// Why a URL cannot be registered, said as the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error(
        "must be an absolute URL of at most 2048 characters, e.g. https://app.example.com/callback"
    )]
    NotAbsolute,
    #[error("must not hold a fragment (#…)")]
    Fragment,
    #[error("must not hold a wildcard (*)")]
    Wildcard,
    #[error(
        "plain http is allowed only on a loopback host (127.0.0.1, [::1], localhost); use https"
    )]
    PlainHttp,
}

/// Whether `host` (as in a URL's authority, IPv6 in brackets) is a loopback host.
fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "[::1]" || host.starts_with("127.")
}

/// A URL's parts that matching compares: scheme, host, and what follows the authority (path and query).
struct Parts<'a> {
    scheme: &'a str,
    host: &'a str,
    rest: &'a str,
}

fn split(url: &str) -> Option<Parts<'_>> {
    if url.len() > MAX_URL_LEN || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (scheme, after) = url.split_once("://")?;
    let valid_scheme = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let close = v6.find(']')?;
        let host = &authority[..close + 2];
        match &authority[close + 2..] {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty()
        || port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(Parts { scheme, host, rest })
}

/// Checks a callback or logout URL a client registers.
pub fn validate_registered(url: &str) -> Result<(), UrlError> {
    let p = split(url).ok_or(UrlError::NotAbsolute)?;
    if url.contains('#') {
        return Err(UrlError::Fragment);
    }
    if url.contains('*') {
        return Err(UrlError::Wildcard);
    }
    if p.scheme.eq_ignore_ascii_case("http") && !is_loopback(p.host) {
        return Err(UrlError::PlainHttp);
    }
    Ok(())
}

/// Checks a redirect URI a third party registers (dynamic registration, a metadata document):
/// [`validate_registered`], and https or loopback http only (no app scheme: a third party's custom scheme
/// proves nothing). The error names the URL.
pub fn validate_third_party(u: &str) -> Result<(), String> {
    validate_registered(u).map_err(|e| format!("{u}: {e}"))?;
    if !(u.starts_with("https://") || u.starts_with("http://")) {
        return Err(format!(
            "{u}: must be an https URL (or http on a loopback host)"
        ));
    }
    Ok(())
}

/// Whether a presented `redirect_uri` is `registered`: the same string, or — for plain http on a loopback
/// host — the same but for the port (RFC 8252 §7.3: native apps listen on an ephemeral port).
pub fn matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Some(r), Some(p)) = (split(registered), split(presented)) else {
        return false;
    };
    r.scheme == "http"
        && p.scheme == "http"
        && is_loopback(r.host)
        && r.host == p.host
        && r.rest == p.rest
        && !presented.contains('#')
}

/// Whether `presented` matches one of the registered URLs.
pub fn is_registered<'a>(mut registered: impl Iterator<Item = &'a str>, presented: &str) -> bool {
    registered.any(|r| matches(r, presented))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_refuses_what_could_redirect_anywhere() {
        assert_eq!(validate_registered("https://app.example.com/cb"), Ok(()));
        assert_eq!(validate_registered("http://127.0.0.1/cb"), Ok(()));
        assert_eq!(validate_registered("http://localhost:3000/cb"), Ok(()));
        assert_eq!(validate_registered("http://[::1]:8080/cb"), Ok(()));
        assert_eq!(validate_registered("com.example.app://cb"), Ok(()));
        assert_eq!(
            validate_registered("http://app.example.com/cb"),
            Err(UrlError::PlainHttp)
        );
        assert_eq!(
            validate_registered("https://*.example.com/cb"),
            Err(UrlError::Wildcard)
        );
        assert_eq!(
            validate_registered("https://app.example.com/cb#x"),
            Err(UrlError::Fragment)
        );
        for bad in [
            "/cb",
            "app.example.com/cb",
            "https://",
            "https://u@evil/cb",
            "https://a b/",
        ] {
            assert_eq!(
                validate_registered(bad),
                Err(UrlError::NotAbsolute),
                "{bad}"
            );
        }
    }

    #[test]
    fn matching_is_exact_except_a_loopback_port() {
        let reg = "https://app.example.com/cb";
        assert!(matches(reg, reg));
        for other in [
            "https://app.example.com/cb/",
            "https://app.example.com/cb?x=1",
            "https://app.example.com:443/cb",
            "https://APP.example.com/cb",
            "https://app.example.com.evil.com/cb",
            "https://app.example.com/c",
        ] {
            assert!(!matches(reg, other), "{other}");
        }
        assert!(matches("http://127.0.0.1/cb", "http://127.0.0.1:53123/cb"));
        assert!(matches("http://127.0.0.1:1/cb", "http://127.0.0.1:2/cb"));
        assert!(matches("http://[::1]/cb", "http://[::1]:9/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:5/other"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.2:5/cb"));
        assert!(!matches("http://127.0.0.1/cb", "https://127.0.0.1:5/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:5/cb#f"));
    }
}
