//! Cognito's SRP-6a (`USER_SRP_AUTH` / `PASSWORD_VERIFIER`), server side: the 3072-bit group of RFC 3526 with
//! g = 2 and SHA-256, Cognito's padded-hex hashing conventions, the verifier derived when a password is set,
//! `B`, the session key (HKDF "Caldera Derived Key") and the `PASSWORD_CLAIM_SIGNATURE` check, plus Cognito's
//! `TIMESTAMP` format. Pure arithmetic and parsing: no I/O, no clock; must never log a password, `b`, `S`,
//! the key or the verifier.
use std::sync::OnceLock;

use aws_lc_rs::{constant_time, digest, hmac};
use num_bigint::BigUint;

use crate::util::random_bytes;

/// RFC 3526 section 4, the 3072-bit MODP group.
const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

struct Group {
    n: BigUint,
    g: BigUint,
    k: BigUint,
}

fn group() -> &'static Group {
    static G: OnceLock<Group> = OnceLock::new();
    G.get_or_init(|| {
        let n = BigUint::parse_bytes(N_HEX.as_bytes(), 16).unwrap_or_default();
        let g = BigUint::from(2u32);
        let k = hash_hex_to_int(&format!("{}{}", pad_hex(&n), pad_hex(&g)));
        Group { n, g, k }
    })
}

/// Why an SRP step failed; every variant ends as the same "Incorrect username or password." for the client.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SrpError {
    #[error("SRP_A is not a valid group element")]
    BadA,
    #[error("the stored verifier is unusable")]
    BadVerifier,
    #[error("u is zero")]
    ZeroU,
}

/// An integer as Cognito hashes it: hex digits, a leading `0` if the count is odd, else `00` if the first digit
/// is 8–f.
pub fn pad_hex(n: &BigUint) -> String {
    let h = n.to_str_radix(16);
    if h.len() % 2 == 1 {
        format!("0{h}")
    } else if matches!(h.as_bytes()[0], b'8'..=b'9' | b'a'..=b'f') {
        format!("00{h}")
    } else {
        h
    }
}

fn hex_bytes(h: &str) -> Vec<u8> {
    (0..h.len() / 2)
        .filter_map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).ok())
        .collect()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

fn hash_hex_to_int(hex: &str) -> BigUint {
    BigUint::from_bytes_be(&sha256(&hex_bytes(hex)))
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Parses a hex integer as a client sends it (either case, no `0x`).
pub fn parse_hex(h: &str) -> Option<BigUint> {
    if h.is_empty() || h.len() > 2048 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    BigUint::parse_bytes(h.as_bytes(), 16)
}

/// `poolName`: the part of the pool id after `_`.
pub fn pool_name(pool_id: &str) -> &str {
    pool_id.split_once('_').map_or(pool_id, |(_, n)| n)
}

fn x_for(salt_hex: &str, pool_name: &str, user_id: &str, password: &str) -> BigUint {
    let inner = to_hex(&sha256(
        format!("{pool_name}{user_id}:{password}").as_bytes(),
    ));
    let salt = BigUint::parse_bytes(salt_hex.as_bytes(), 16).unwrap_or_default();
    hash_hex_to_int(&format!("{}{inner}", pad_hex(&salt)))
}

/// A fresh salt (16 random bytes, hex) and the verifier `g^x mod N` (hex) for a password.
pub fn make_verifier(pool_name: &str, user_id: &str, password: &str) -> (String, String) {
    let salt_hex = to_hex(&random_bytes(16));
    let v = verifier_for(&salt_hex, pool_name, user_id, password);
    (salt_hex, v)
}

/// The verifier for a given salt.
pub fn verifier_for(salt_hex: &str, pool_name: &str, user_id: &str, password: &str) -> String {
    let g = group();
    let x = x_for(salt_hex, pool_name, user_id, password);
    g.g.modpow(&x, &g.n).to_str_radix(16)
}

/// A salt and verifier for a user that does not exist, derived from the username and a server secret so that
/// repeated challenges for one name look alike (and like a real user's).
pub fn fake_verifier(secret: &[u8], username: &str) -> (String, String) {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let salt = hmac::sign(&key, format!("salt:{username}").as_bytes());
    let x = hmac::sign(&key, format!("x:{username}").as_bytes());
    let g = group();
    let v = g.g.modpow(&BigUint::from_bytes_be(x.as_ref()), &g.n);
    (to_hex(&salt.as_ref()[..16]), v.to_str_radix(16))
}

/// The server's ephemeral secret `b` and public `B = (k·v + g^b) mod N`.
pub struct ServerEphemeral {
    b: BigUint,
    /// `B`, hex (lower case, unpadded).
    pub big_b_hex: String,
}

impl std::fmt::Debug for ServerEphemeral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerEphemeral(<redacted>)")
    }
}

impl ServerEphemeral {
    /// `b` as hex, so that another instance can finish the exchange (through the store). Secret.
    pub fn secret_hex(&self) -> String {
        self.b.to_str_radix(16)
    }

    /// Rebuilds an ephemeral from `secret_hex()` and `big_b_hex`.
    pub fn from_parts(secret_hex: &str, big_b_hex: String) -> Option<Self> {
        Some(Self {
            b: parse_hex(secret_hex)?,
            big_b_hex,
        })
    }
}

/// Picks `b` (256 random bits) and computes `B` for `verifier_hex`.
pub fn server_ephemeral(verifier_hex: &str) -> Result<ServerEphemeral, SrpError> {
    let g = group();
    let v = parse_hex(verifier_hex).ok_or(SrpError::BadVerifier)?;
    loop {
        let b = BigUint::from_bytes_be(&random_bytes(32));
        let big_b = (&g.k * &v + g.g.modpow(&b, &g.n)) % &g.n;
        if big_b != BigUint::default() {
            return Ok(ServerEphemeral {
                b,
                big_b_hex: big_b.to_str_radix(16),
            });
        }
    }
}

/// Checks `A` (refuses `A mod N == 0`) and parses it.
pub fn check_a(a_hex: &str) -> Result<BigUint, SrpError> {
    let a = parse_hex(a_hex).ok_or(SrpError::BadA)?;
    if (&a % &group().n) == BigUint::default() {
        return Err(SrpError::BadA);
    }
    Ok(a)
}

/// The 16-byte session key `K` on the server side: `S = (A · v^u)^b mod N`, then HKDF as Cognito does.
pub fn server_key(
    a: &BigUint,
    eph: &ServerEphemeral,
    verifier_hex: &str,
) -> Result<[u8; 16], SrpError> {
    let g = group();
    let v = parse_hex(verifier_hex).ok_or(SrpError::BadVerifier)?;
    let big_b = parse_hex(&eph.big_b_hex).ok_or(SrpError::BadVerifier)?;
    let u = hash_hex_to_int(&format!("{}{}", pad_hex(a), pad_hex(&big_b)));
    if u == BigUint::default() {
        return Err(SrpError::ZeroU);
    }
    let s = (a * v.modpow(&u, &g.n)).modpow(&eph.b, &g.n);
    let prk = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &hex_bytes(&pad_hex(&u))),
        &hex_bytes(&pad_hex(&s)),
    );
    let okm = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref()),
        b"Caldera Derived Key\x01",
    );
    let mut k = [0u8; 16];
    k.copy_from_slice(&okm.as_ref()[..16]);
    Ok(k)
}

/// Checks `PASSWORD_CLAIM_SIGNATURE` (standard base64) in constant time.
pub fn signature_matches(
    key: &[u8; 16],
    pool_name: &str,
    user_id: &str,
    secret_block: &[u8],
    timestamp: &str,
    signature_b64: &str,
) -> bool {
    use base64::Engine as _;
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(signature_b64) else {
        return false;
    };
    let mut msg = Vec::with_capacity(pool_name.len() + user_id.len() + secret_block.len() + 32);
    msg.extend_from_slice(pool_name.as_bytes());
    msg.extend_from_slice(user_id.as_bytes());
    msg.extend_from_slice(secret_block);
    msg.extend_from_slice(timestamp.as_bytes());
    let expected = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), &msg);
    constant_time::verify_slices_are_equal(expected.as_ref(), &sig).is_ok()
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses Cognito's `TIMESTAMP` (`Sat Nov 28 15:48:00 UTC 2026`, day without a leading zero) into Unix seconds.
/// The weekday must be an English abbreviation.
pub fn parse_timestamp(ts: &str) -> Option<i64> {
    let parts: Vec<&str> = ts.split(' ').collect();
    let [wd, mon, day, hms, utc, year] = parts.as_slice() else {
        return None;
    };
    if *utc != "UTC" || day.starts_with('0') || day.is_empty() || day.len() > 2 {
        return None;
    }
    let month = MONTHS.iter().position(|m| m == mon)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
    let t: Vec<&str> = hms.split(':').collect();
    let [h, mi, s] = t.as_slice() else {
        return None;
    };
    if h.len() != 2 || mi.len() != 2 || s.len() != 2 {
        return None;
    }
    let (h, mi, s): (i64, i64, i64) = (h.parse().ok()?, mi.parse().ok()?, s.parse().ok()?);
    if !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // The weekday must be a valid abbreviation; it is not cross-checked (the signature covers the string).
    if !DAYS.contains(wd) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

/// Formats Unix seconds as Cognito's `TIMESTAMP`.
pub fn format_timestamp(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // civil_from_days
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{} {} {} {:02}:{:02}:{:02} UTC {}",
        DAYS[((days + 4).rem_euclid(7)) as usize],
        MONTHS[(m - 1) as usize],
        d,
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60,
        y
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_is_rfc3526_3072() {
        assert_eq!(group().n.bits(), 3072);
        assert_eq!(pad_hex(&BigUint::from(0x0fu32)), "0f");
        assert_eq!(pad_hex(&BigUint::from(0x80u32)), "0080");
        assert_eq!(pad_hex(&BigUint::from(0x123u32)), "0123");
        assert_eq!(pad_hex(&BigUint::from(0x7fu32)), "7f");
    }

    #[test]
    fn timestamps_round_trip_in_cognitos_format() {
        assert_eq!(
            format_timestamp(1_795_880_880),
            "Sat Nov 28 15:48:00 UTC 2026"
        );
        assert_eq!(
            parse_timestamp("Sat Nov 28 15:48:00 UTC 2026"),
            Some(1_795_880_880)
        );
        let dec1 = parse_timestamp("Tue Dec 1 09:05:07 UTC 2026").unwrap();
        assert_eq!(format_timestamp(dec1), "Tue Dec 1 09:05:07 UTC 2026");
        for bad in [
            "Sat Nov 28 15:48:00 GMT 2026",
            "Xyz Nov 28 15:48:00 UTC 2026",
            "Tue Dec 01 09:05:07 UTC 2026",
            "Sat Nov 28 15:48 UTC 2026",
            "",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_zero_or_n_is_refused() {
        assert_eq!(check_a("0"), Err(SrpError::BadA));
        assert_eq!(check_a(N_HEX), Err(SrpError::BadA));
        assert_eq!(check_a("xyz"), Err(SrpError::BadA));
        assert!(check_a("02").is_ok());
    }
}
