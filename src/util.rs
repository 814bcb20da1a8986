//! Small shared helpers: random identifiers and hashing for logs. Pure apart from the system RNG; no I/O.
use aws_lc_rs::digest;
use base64::Engine as _;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // aws-lc's RNG only fails if the OS RNG is broken; there is no sane way to go on without it.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut buf).expect("the operating system's random number generator failed");
    buf
}

fn random_from(alphabet: &[u8], n: usize) -> String {
    // Rejection sampling keeps the distribution uniform.
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes(n * 2) {
            if (b as usize) < limit && out.len() < n {
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
    }
    out
}

/// `n` random characters of `[A-Za-z0-9]`.
pub fn random_alnum(n: usize) -> String {
    random_from(ALNUM, n)
}

/// `n` random characters of `[a-z0-9]` (Cognito app-client ids look like this).
pub fn random_lower_alnum(n: usize) -> String {
    random_from(LOWER_ALNUM, n)
}

/// A random RFC 4122 version-4 UUID in its usual text form.
pub fn uuid_v4() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b = [0u8; 16];
    // aws-lc's RNG only fails if the OS RNG is broken; there is no sane way to go on without it.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut b).expect("the operating system's random number generator failed");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    // Runs on every gateway request (the request id): one allocation, no formatting machinery.
    let mut out = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(x >> 4)]));
        out.push(char::from(HEX[usize::from(x & 0x0f)]));
    }
    out
}

/// An opaque random token of `bytes` bytes of entropy, base64url without padding.
pub fn opaque_token(bytes: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

/// SHA-256 of `data`, lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    digest::digest(&digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// What may be logged about a secret (a token, a refresh token): the first 12 hex digits of its SHA-256.
pub fn log_id(secret: &str) -> String {
    let mut h = sha256_hex(secret.as_bytes());
    h.truncate(12);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_have_the_requested_shape() {
        let a = random_alnum(9);
        assert_eq!(a.len(), 9);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        let c = random_lower_alnum(26);
        assert!(c
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert_ne!(random_alnum(16), random_alnum(16));
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        for (i, c) in u.chars().enumerate() {
            match i {
                8 | 13 | 18 | 23 => assert_eq!(c, '-', "{u}"),
                _ => assert!(c.is_ascii_hexdigit() && !c.is_ascii_uppercase(), "{u}"),
            }
        }
        assert!("89ab".contains(&u[19..20]), "RFC 4122 variant: {u}");
        assert_ne!(uuid_v4(), uuid_v4());
    }

    #[test]
    fn log_id_is_a_short_hash_not_the_secret() {
        let id = log_id("eyJsecret");
        assert_eq!(id.len(), 12);
        assert!(!id.contains("eyJ"));
    }
}
