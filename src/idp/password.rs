//! Password hashing: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), always on the blocking pool so
//! the async threads never stall, and at most `max_concurrent()` at once (one per core, at most 4), so that a
//! flood of sign-ins costs at most that many 19 MiB buffers; beyond `MAX_WAITING` queued runs the caller is
//! refused (`Busy`). Must never log or return a password.
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::util::random_bytes;

/// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

/// Hashing failed (only on a broken parameter set), or too many runs are waiting.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Failed(String),
    #[error("too many password operations at once; retry shortly")]
    Busy,
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None)
        .map_err(|e| PasswordError::Failed(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` into a PHC string, synchronously. Prefer `hash` on async paths.
pub fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::encode_b64(&random_bytes(16))
        .map_err(|e| PasswordError::Failed(e.to_string()))?;
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Failed(e.to_string()))
}

/// Checks `password` against a PHC string, synchronously. A malformed stored hash never matches.
pub fn verify_blocking(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(h) = hasher() else { return false };
    h.verify_password(password.as_bytes(), &parsed).is_ok()
}

/// Most argon2 runs waiting for a permit; beyond it a run is refused at once.
pub const MAX_WAITING: usize = 256;

/// How many argon2 runs may use memory at once: one per core, 1 to 4.
pub fn max_concurrent() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 4)
}

fn permits() -> &'static tokio::sync::Semaphore {
    static S: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    S.get_or_init(|| tokio::sync::Semaphore::new(max_concurrent()))
}

static WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs `f` on the blocking pool once a permit is free; `None` when too many runs are already waiting.
async fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    use std::sync::atomic::Ordering;
    if WAITING.fetch_add(1, Ordering::AcqRel) >= MAX_WAITING {
        WAITING.fetch_sub(1, Ordering::AcqRel);
        return None;
    }
    let permit = permits().acquire().await;
    WAITING.fetch_sub(1, Ordering::AcqRel);
    let _permit = permit.ok()?;
    tokio::task::spawn_blocking(f).await.ok()
}

/// Hashes on the blocking pool (bounded).
pub async fn hash(password: String) -> Result<String, PasswordError> {
    bounded(move || hash_blocking(&password))
        .await
        .ok_or(PasswordError::Busy)?
}

/// Verifies on the blocking pool (bounded); `Err(Busy)` when refused for load.
pub async fn verify(password: String, phc: String) -> Result<bool, PasswordError> {
    bounded(move || verify_blocking(&password, &phc))
        .await
        .ok_or(PasswordError::Busy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let h = hash_blocking("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_blocking("correct horse", &h));
        assert!(!verify_blocking("correct horsE", &h));
        assert!(!verify_blocking("correct horse", "not a hash"));
        assert_ne!(h, hash_blocking("correct horse").unwrap(), "salted");
    }
}

/// What `check_policy` wants, in a sentence for a form.
pub const POLICY_SUMMARY: &str =
    "Passwords need at least 8 characters, a lower-case letter, an upper-case letter, \
                                  a number and a symbol, and no white space.";

/// Cognito's default password policy: 8–256 characters, no white space, at least one lower-case letter, one
/// upper-case letter, one digit and one symbol. The error says what is missing.
pub fn check_policy(password: &str) -> Result<(), String> {
    let mut missing = Vec::new();
    if password.chars().count() < 8 {
        missing.push("at least 8 characters");
    }
    if password.len() > 256 {
        return Err(
            "Password did not conform with policy: Password must be at most 256 characters".into(),
        );
    }
    if password.chars().any(char::is_whitespace) {
        return Err(
            "Password did not conform with policy: Password must not contain white space".into(),
        );
    }
    if !password.chars().any(|c| c.is_lowercase()) {
        missing.push("a lower-case letter");
    }
    if !password.chars().any(|c| c.is_uppercase()) {
        missing.push("an upper-case letter");
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        missing.push("a number");
    }
    if !password.chars().any(|c| !c.is_alphanumeric()) {
        missing.push("a symbol");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "Password did not conform with policy: Password needs {}",
            missing.join(", ")
        ))
    }
}

#[cfg(test)]
mod policy_tests {
    use super::check_policy;

    #[test]
    fn cognito_default_policy() {
        assert!(check_policy("Str0ng!pass").is_ok());
        let e = check_policy("short").unwrap_err();
        assert!(
            e.contains("at least 8 characters")
                && e.contains("an upper-case letter")
                && e.contains("a number")
                && e.contains("a symbol"),
            "{e}"
        );
        assert!(check_policy("Str0ng! pass").is_err());
        assert!(check_policy("alllowercase1!")
            .unwrap_err()
            .contains("upper-case"));
    }
}
