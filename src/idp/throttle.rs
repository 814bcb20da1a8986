//! Failed sign-in throttling, per user and per client address (in memory; one instance). After
//! `max_per_user` failures within the window a user is refused with "Password attempts exceeded" even with
//! the right password; after `max_per_ip` failures an address gets `TooManyRequestsException`. Unknown users
//! are counted exactly like known ones. Must never record a password.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use super::CognitoError;

/// Limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_per_user: u32,
    pub max_per_ip: u32,
    pub window_secs: i64,
}

/// Failure counters.
#[derive(Debug)]
pub struct Throttle {
    limits: Limits,
    users: Mutex<HashMap<String, Vec<i64>>>,
    ips: Mutex<HashMap<IpAddr, Vec<i64>>>,
}

fn recent(v: &mut Vec<i64>, now: i64, window: i64) -> usize {
    v.retain(|t| *t > now - window);
    v.len()
}

impl Throttle {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            users: Mutex::new(HashMap::new()),
            ips: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses if the address or the user is over its limit.
    pub fn check(&self, user: &str, ip: Option<IpAddr>, now: i64) -> Result<(), CognitoError> {
        let w = self.limits.window_secs;
        if let (Some(ip), Ok(mut ips)) = (ip, self.ips.lock()) {
            if let Some(v) = ips.get_mut(&ip) {
                if recent(v, now, w) >= self.limits.max_per_ip as usize {
                    return Err(CognitoError::TooManyRequests);
                }
            }
        }
        if let Ok(mut users) = self.users.lock() {
            if let Some(v) = users.get_mut(user) {
                if recent(v, now, w) >= self.limits.max_per_user as usize {
                    return Err(CognitoError::NotAuthorized(
                        "Password attempts exceeded".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Counts a failed attempt.
    pub fn fail(&self, user: &str, ip: Option<IpAddr>, now: i64) {
        let w = self.limits.window_secs;
        if let (Some(ip), Ok(mut ips)) = (ip, self.ips.lock()) {
            if ips.len() > 100_000 {
                ips.retain(|_, v| recent(v, now, w) > 0);
            }
            ips.entry(ip).or_default().push(now);
        }
        if let Ok(mut users) = self.users.lock() {
            if users.len() > 100_000 {
                users.retain(|_, v| recent(v, now, w) > 0);
            }
            users.entry(user.to_string()).or_default().push(now);
        }
    }

    /// A successful sign-in clears the user's failures.
    pub fn succeed(&self, user: &str) {
        if let Ok(mut users) = self.users.lock() {
            users.remove(user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_apply_per_user_and_per_address_and_expire() {
        let t = Throttle::new(Limits {
            max_per_user: 2,
            max_per_ip: 3,
            window_secs: 10,
        });
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        t.fail("a", ip, 100);
        assert!(t.check("a", ip, 100).is_ok());
        t.fail("a", ip, 101);
        assert!(matches!(
            t.check("a", None, 101),
            Err(CognitoError::NotAuthorized(_))
        ));
        assert!(t.check("b", None, 101).is_ok());
        t.fail("b", ip, 102);
        assert!(matches!(
            t.check("c", ip, 102),
            Err(CognitoError::TooManyRequests)
        ));
        assert!(t.check("a", None, 112).is_ok(), "failures expire");
    }
}
