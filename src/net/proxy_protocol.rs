//! The PROXY protocol (HAProxy's `send-proxy` / `send-proxy-v2`), version 1 (text) and 2 (binary): reads the
//! header a trusted proxy sends before the first byte of the connection and returns the client's address in
//! it. Reads exactly the header's bytes (never into the HTTP or TLS data after it) and at most
//! [`MAX_V2_BYTES`]. Must only be called for peers in `[listeners] trusted_proxies` with `proxy_protocol` on:
//! from anyone else the header would be a forged address.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt};

/// The version 2 signature.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Longest version 1 line, CRLF included (the specification's limit).
pub const MAX_V1_BYTES: usize = 107;
/// Longest version 2 header accepted (address block plus TLVs).
pub const MAX_V2_BYTES: usize = 16 + 1024;

/// Why the header is refused (the connection is then closed).
#[derive(Debug, thiserror::Error)]
pub enum ProxyHeaderError {
    #[error("reading the PROXY header: {0}")]
    Io(#[from] std::io::Error),
    #[error("the connection does not start with a PROXY protocol header")]
    Missing,
    #[error("malformed PROXY protocol header: {0}")]
    Malformed(&'static str),
}

/// Reads one PROXY header. `Ok(Some(addr))`: the client's address; `Ok(None)`: the proxy speaks for itself
/// (v2 `LOCAL`, v1 `UNKNOWN`, or a non-IP family — health checks), so the peer address stands.
pub async fn read_header<R: AsyncRead + Unpin>(
    io: &mut R,
) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    let mut head = [0u8; 16];
    io.read_exact(&mut head[..8]).await?;
    if head[..8] == V2_SIGNATURE[..8] {
        io.read_exact(&mut head[8..]).await?;
        if head[..12] != V2_SIGNATURE {
            return Err(ProxyHeaderError::Missing);
        }
        return read_v2(io, &head).await;
    }
    if &head[..6] == b"PROXY " {
        let mut line = head[..8].to_vec();
        while !line.ends_with(b"\r\n") {
            if line.len() >= MAX_V1_BYTES {
                return Err(ProxyHeaderError::Malformed(
                    "version 1 line longer than 107 bytes",
                ));
            }
            line.push(io.read_u8().await?);
        }
        return parse_v1(&line);
    }
    Err(ProxyHeaderError::Missing)
}

async fn read_v2<R: AsyncRead + Unpin>(
    io: &mut R,
    head: &[u8; 16],
) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    if head[12] >> 4 != 2 {
        return Err(ProxyHeaderError::Malformed(
            "version 2 signature with another version",
        ));
    }
    let len = usize::from(u16::from_be_bytes([head[14], head[15]]));
    if len + 16 > MAX_V2_BYTES {
        return Err(ProxyHeaderError::Malformed("version 2 header too long"));
    }
    let mut rest = vec![0u8; len];
    io.read_exact(&mut rest).await?;
    match head[12] & 0x0f {
        0 => return Ok(None),
        1 => {}
        _ => return Err(ProxyHeaderError::Malformed("unknown version 2 command")),
    }
    match head[13] >> 4 {
        1 if rest.len() >= 12 => {
            let ip = Ipv4Addr::new(rest[0], rest[1], rest[2], rest[3]);
            let port = u16::from_be_bytes([rest[8], rest[9]]);
            Ok(Some(SocketAddr::new(IpAddr::V4(ip), port)))
        }
        2 if rest.len() >= 36 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(&rest[..16]);
            let port = u16::from_be_bytes([rest[32], rest[33]]);
            Ok(Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(b)), port)))
        }
        1 | 2 => Err(ProxyHeaderError::Malformed("address block too short")),
        // AF_UNSPEC or AF_UNIX: no IP address to take.
        _ => Ok(None),
    }
}

fn parse_v1(line: &[u8]) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    let text = std::str::from_utf8(line)
        .map_err(|_| ProxyHeaderError::Malformed("version 1 line is not ASCII"))?
        .trim_end_matches("\r\n");
    let parts: Vec<&str> = text.split(' ').collect();
    match parts.as_slice() {
        ["PROXY", "UNKNOWN", ..] => Ok(None),
        ["PROXY", fam @ ("TCP4" | "TCP6"), src, _dst, sport, _dport] => {
            let ip: IpAddr = src
                .parse()
                .map_err(|_| ProxyHeaderError::Malformed("bad source address"))?;
            if (*fam == "TCP4") != ip.is_ipv4() {
                return Err(ProxyHeaderError::Malformed("address family mismatch"));
            }
            let port: u16 = sport
                .parse()
                .map_err(|_| ProxyHeaderError::Malformed("bad source port"))?;
            Ok(Some(SocketAddr::new(ip, port)))
        }
        _ => Err(ProxyHeaderError::Malformed(
            "version 1 line is not PROXY TCP4|TCP6|UNKNOWN …",
        )),
    }
}

/// A version 2 `PROXY` header for a TCP connection from `src` to `dst` (tests and tools).
pub fn v2_header(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.push(0x21);
    match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            out.push(0x11);
            out.extend_from_slice(&12u16.to_be_bytes());
            out.extend_from_slice(&s.ip().octets());
            out.extend_from_slice(&d.ip().octets());
            out.extend_from_slice(&s.port().to_be_bytes());
            out.extend_from_slice(&d.port().to_be_bytes());
        }
        _ => {
            let v6 = |a: SocketAddr| match a.ip() {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            out.push(0x21);
            out.extend_from_slice(&36u16.to_be_bytes());
            out.extend_from_slice(&v6(src).octets());
            out.extend_from_slice(&v6(dst).octets());
            out.extend_from_slice(&src.port().to_be_bytes());
            out.extend_from_slice(&dst.port().to_be_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8]) -> (Result<Option<SocketAddr>, ProxyHeaderError>, Vec<u8>) {
        let mut cur = std::io::Cursor::new(bytes.to_vec());
        let r = read_header(&mut cur).await;
        let mut left = Vec::new();
        let _ = cur.read_to_end(&mut left).await;
        (r, left)
    }

    #[tokio::test]
    async fn version_1_gives_the_source_and_leaves_the_request() {
        let (r, left) =
            read(b"PROXY TCP4 198.51.100.7 10.0.0.11 5555 4001\r\nGET / HTTP/1.1\r\n").await;
        assert_eq!(r.unwrap(), Some("198.51.100.7:5555".parse().unwrap()));
        assert_eq!(left, b"GET / HTTP/1.1\r\n");
        let (r, _) = read(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n").await;
        assert_eq!(r.unwrap(), Some("[2001:db8::1]:1".parse().unwrap()));
        let (r, _) = read(b"PROXY UNKNOWN\r\n").await;
        assert_eq!(r.unwrap(), None);
    }

    #[tokio::test]
    async fn version_2_gives_the_source_and_leaves_the_request() {
        let mut h = v2_header(
            "198.51.100.7:5555".parse().unwrap(),
            "10.0.0.11:4001".parse().unwrap(),
        );
        h.extend_from_slice(b"GET /");
        let (r, left) = read(&h).await;
        assert_eq!(r.unwrap(), Some("198.51.100.7:5555".parse().unwrap()));
        assert_eq!(left, b"GET /");
        let h = v2_header(
            "[2001:db8::1]:7".parse().unwrap(),
            "[2001:db8::2]:8".parse().unwrap(),
        );
        assert_eq!(
            read(&h).await.0.unwrap(),
            Some("[2001:db8::1]:7".parse().unwrap())
        );
        // LOCAL (a health check): the peer stands.
        let mut local = V2_SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
        assert_eq!(read(&local).await.0.unwrap(), None);
    }

    #[tokio::test]
    async fn malformed_or_missing_headers_are_refused() {
        for bad in [
            &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"PROXY TCP4 198.51.100.7 10.0.0.11 99999 1\r\n",
            b"PROXY TCP4 2001:db8::1 10.0.0.11 1 1\r\n",
            b"PROXY TCP9 1.2.3.4 1.2.3.4 1 1\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 1 1 and then a very long line that never ends with a carriage return \
              line feed pair at all, no, never",
        ] {
            assert!(read(bad).await.0.is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let mut huge = V2_SIGNATURE.to_vec();
        huge.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert!(
            read(&huge).await.0.is_err(),
            "a 64 KiB v2 header is refused before it is read"
        );
    }
}
