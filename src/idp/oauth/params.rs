//! The parameters of a form-encoded OAuth request (token, revocation): each present at most once (RFC 6749
//! §3.2), at most a bounded number, an empty value counted as absent. Pure; must never log a value.
use super::error::OAuthError;

/// The most parameters one token request may carry.
const MAX_PARAMS: usize = 20;

/// A token request's parameters, each present at most once (RFC 6749 §3.2).
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Checks the pairs of a form body.
    pub fn new(pairs: Vec<(String, String)>) -> Result<Self, OAuthError> {
        if pairs.len() > MAX_PARAMS {
            return Err(OAuthError::InvalidRequest(format!(
                "at most {MAX_PARAMS} parameters"
            )));
        }
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(p, _)| p == k) {
                return Err(OAuthError::InvalidRequest(format!(
                    "parameter {k} is given more than once"
                )));
            }
        }
        Ok(Self(pairs))
    }

    /// A parameter; an empty value counts as absent.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// A required parameter.
    pub fn required(&self, key: &str) -> Result<&str, OAuthError> {
        self.get(key)
            .ok_or_else(|| OAuthError::InvalidRequest(format!("{key} is required")))
    }
}
