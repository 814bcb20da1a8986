//! Per-address admission counters for what anyone can trigger without credentials: the CPU-heavy steps (SRP's
//! modular exponentiations in `USER_SRP_AUTH` / `PASSWORD_VERIFIER`, argon2 in `USER_PASSWORD_AUTH`, `SignUp`,
//! `ConfirmForgotPassword`, `NEW_PASSWORD_REQUIRED`; `[idp] max_cpu_heavy_per_ip_per_minute`) and the issuance of
//! codes (`ForgotPassword`, `ResendConfirmationCode`; `[idp] max_codes_per_ip_per_hour`). A sliding window per
//! client address (IPv6 by its /64) refuses beyond the limit with the error the caller chose.
//! Memory is bounded: two generations of counters, each holding at most `MAX_TRACKED` addresses (further new
//! addresses share one overflow counter), so nothing is ever scanned. It keys on whatever address the IdP
//! resolved for the request; must never record anything else about it.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use super::CognitoError;

/// Addresses tracked per generation.
pub const MAX_TRACKED: usize = 50_000;

/// The key of an address: IPv4 as is, IPv6 by its /64 (one host usually holds a whole /64).
fn key_of(ip: Option<IpAddr>) -> Option<IpAddr> {
    match ip? {
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            Some(IpAddr::from([seg[0], seg[1], seg[2], seg[3], 0, 0, 0, 0]))
        }
        v4 => Some(v4),
    }
}

#[derive(Debug, Default)]
struct Windows {
    /// Start of the current window.
    start: i64,
    current: HashMap<Option<IpAddr>, u32>,
    previous: HashMap<Option<IpAddr>, u32>,
}

/// The admission counters of one kind of request.
#[derive(Debug)]
pub struct AddressLimit {
    limit: u32,
    window_secs: i64,
    refusal: fn() -> CognitoError,
    windows: Mutex<Windows>,
}

impl AddressLimit {
    /// `limit` admissions per address per `window_secs` (0: unlimited); beyond it `refusal()`.
    pub fn new(limit: u32, window_secs: i64, refusal: fn() -> CognitoError) -> Self {
        Self {
            limit,
            window_secs: window_secs.max(1),
            refusal,
            windows: Mutex::default(),
        }
    }

    /// The CPU-heavy steps: `TooManyRequestsException` beyond `per_minute`.
    pub fn cpu_heavy(per_minute: u32) -> Self {
        Self::new(per_minute, 60, || CognitoError::TooManyRequests)
    }

    /// Admits one request from `ip` at `now` (unix seconds), or refuses it.
    pub fn admit(&self, ip: Option<IpAddr>, now: i64) -> Result<(), CognitoError> {
        if self.limit == 0 {
            return Ok(());
        }
        let window = self.window_secs;
        let Ok(mut w) = self.windows.lock() else {
            return Ok(());
        };
        if now >= w.start + 2 * window {
            w.previous.clear();
            w.current.clear();
            w.start = now - now.rem_euclid(window);
        } else if now >= w.start + window {
            w.previous = std::mem::take(&mut w.current);
            w.start += window;
        }
        let mut key = key_of(ip);
        if !w.current.contains_key(&key) && w.current.len() >= MAX_TRACKED {
            key = None;
        }
        let prev = u64::from(w.previous.get(&key).copied().unwrap_or(0));
        let cur = u64::from(w.current.get(&key).copied().unwrap_or(0));
        let elapsed = (now - w.start).clamp(0, window) as u64;
        // The previous window's count, weighted by how much of it still overlaps the last minute.
        let estimate = prev * (window as u64 - elapsed) / window as u64 + cur;
        if estimate >= u64::from(self.limit) {
            return Err((self.refusal)());
        }
        *w.current.entry(key).or_default() += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_its_own_budget_which_refills() {
        let g = AddressLimit::cpu_heavy(3);
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        for _ in 0..3 {
            g.admit(a, 1_000).unwrap();
        }
        assert!(matches!(
            g.admit(a, 1_001),
            Err(CognitoError::TooManyRequests)
        ));
        g.admit(b, 1_001).unwrap();
        // Two windows later everything is forgotten.
        g.admit(a, 1_000 + 2 * 60 + 1).unwrap();
    }

    #[test]
    fn ipv6_hosts_share_their_slash_64() {
        let g = AddressLimit::new(1, 3600, || CognitoError::LimitExceeded);
        let x: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let y: IpAddr = "2001:db8:1:2::ffff".parse().unwrap();
        let z: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        g.admit(Some(x), 5).unwrap();
        assert!(matches!(
            g.admit(Some(y), 5),
            Err(CognitoError::LimitExceeded)
        ));
        g.admit(Some(z), 5).unwrap();
    }

    #[test]
    fn zero_means_unlimited() {
        let g = AddressLimit::cpu_heavy(0);
        for _ in 0..1_000 {
            g.admit(None, 1).unwrap();
        }
    }
}
