//! Client addresses: CIDR blocks, `[listeners] trusted_proxies`, the PROXY protocol ([`proxy_protocol`]) and the
//! client's address, resolved once per request by the listener and handed to every handler as the
//! [`ClientAddr`] request extension: the TCP peer (or the source a trusted proxy named in a PROXY protocol
//! header), or — when that peer is one of `[listeners] trusted_proxies` — the rightmost `X-Forwarded-For` hop
//! that is not itself a trusted proxy. The IdP's throttles and the gateway's logs read this and nothing else.
//! Must never believe a forwarding header from a peer outside `trusted_proxies` (the client writes those).
use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderMap;

pub mod proxy_protocol;

/// The client's address as the listener resolved it (a request extension on every request of the web, IdP and
/// gateway listeners).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// One `ADDRESS/PREFIX` block (a bare address is a single host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

/// Why a CIDR block does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an address or ADDRESS/PREFIX block (e.g. \"10.0.0.0/8\", \"fd00::/8\", \"127.0.0.1\")")]
pub struct CidrError(pub String);

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, CidrError> {
        let bad = || CidrError(s.to_string());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let net = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
        };
        Ok(Cidr { net, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, what a dual-stack socket reports) as the IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

impl Cidr {
    /// Whether `ip` lies in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        if ip.is_ipv4() != self.net.is_ipv4() {
            return false;
        }
        let (a, width) = bits(ip);
        let (n, _) = bits(self.net);
        let shift = u32::from(width - self.prefix);
        if shift >= 128 {
            return true;
        }
        (a >> shift) == (n >> shift)
    }
}

/// `[listeners] trusted_proxies`: the peers whose forwarding headers (and PROXY protocol headers) are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<Cidr>);

/// Most `X-Forwarded-For` hops looked at (the header is bounded by the request head anyway).
const MAX_HOPS: usize = 32;

impl TrustedProxies {
    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client's address for a request that came from `peer`: `peer` itself unless it is trusted; then the
    /// rightmost `X-Forwarded-For` hop that is not trusted (every header line counts, in order). A malformed
    /// hop ends the walk at the last address believed, so garbage cannot pick an address.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev().take(MAX_HOPS) {
            match parse_hop(hop) {
                Some(ip) => {
                    client = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                None => break,
            }
        }
        client
    }
}

/// One `X-Forwarded-For` element: an address, optionally `[v6]:port` or `v4:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(canonical(sa.ip()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies(list.iter().map(|s| s.parse().unwrap()).collect())
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_blocks_parse_and_match() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.1.2.3")) && !c.contains(ip("11.0.0.1")));
        assert!(
            c.contains(ip("::ffff:10.9.9.9")),
            "IPv4-mapped counts as IPv4"
        );
        let h: Cidr = "127.0.0.1".parse().unwrap();
        assert!(h.contains(ip("127.0.0.1")) && !h.contains(ip("127.0.0.2")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(
            v6.contains(ip("fd12::1"))
                && !v6.contains(ip("fe80::1"))
                && !v6.contains(ip("10.0.0.1"))
        );
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0/8", "::/129", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarding_headers_from_untrusted_peers_are_ignored() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            p.resolve(ip("203.0.113.9"), &xff(&["198.51.100.1"])),
            ip("203.0.113.9")
        );
        assert_eq!(
            TrustedProxies::default().resolve(ip("10.0.0.1"), &xff(&["1.2.3.4"])),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let p = proxies(&["10.0.0.0/8"]);
        // The client forged the first element; the proxy appended the real one.
        let h = xff(&["6.6.6.6, 198.51.100.7"]);
        assert_eq!(p.resolve(ip("10.0.0.5"), &h), ip("198.51.100.7"));
        // Two trusted proxies in a row, header split over two lines.
        let h = xff(&["6.6.6.6, 198.51.100.7", "10.0.0.9"]);
        assert_eq!(p.resolve(ip("10.0.0.5"), &h), ip("198.51.100.7"));
        // Ports and brackets.
        assert_eq!(
            p.resolve(ip("10.0.0.5"), &xff(&["[2001:db8::1]:443"])),
            ip("2001:db8::1")
        );
        assert_eq!(
            p.resolve(ip("10.0.0.5"), &xff(&["198.51.100.7:5555"])),
            ip("198.51.100.7")
        );
        // Garbage stops the walk at the last believed address.
        assert_eq!(
            p.resolve(ip("10.0.0.5"), &xff(&["1.1.1.1, garbage"])),
            ip("10.0.0.5")
        );
        // No header: the proxy itself.
        assert_eq!(p.resolve(ip("10.0.0.5"), &HeaderMap::new()), ip("10.0.0.5"));
    }
}
