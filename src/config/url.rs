//! `HttpUrl`: an `http://` or `https://` URL the configuration holds (the listeners' `public_url`s, the cluster's
//! `internal_url`), checked once when the file or flag is read, so that no later code parses it again or holds an
//! unchecked one. Keeps the text as written. Must never be built from unchecked text outside `parse`.
use std::fmt;
use std::ops::Deref;

/// A checked `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl(String);

impl HttpUrl {
    /// Checks `text`; the error is the reason, naming the text (a URL here carries no secret).
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok = (text.starts_with("http://") || text.starts_with("https://"))
            && text.parse::<http::Uri>().is_ok();
        if ok {
            Ok(Self(text.to_string()))
        } else {
            Err(format!("'{text}' is not an http:// or https:// URL"))
        }
    }

    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same URL without trailing slashes (still a checked URL: only a path's end is removed).
    pub fn trimmed(&self) -> Self {
        Self(self.0.trim_end_matches('/').to_string())
    }
}

impl Deref for HttpUrl {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_are_taken() {
        let u = HttpUrl::parse("https://app.example.com/").unwrap();
        assert_eq!(u.as_str(), "https://app.example.com/");
        assert_eq!(u.trimmed().as_str(), "https://app.example.com");
        assert_eq!(&*u, "https://app.example.com/");
        assert_eq!(u.to_string(), "https://app.example.com/");
        for bad in ["ftp://x", "example.com", "http://exa mple.com", ""] {
            let e = HttpUrl::parse(bad).unwrap_err();
            assert!(
                e.contains("is not an http:// or https:// URL"),
                "{bad}: {e}"
            );
        }
    }
}
