//! Dialing an agent that runs in a user namespace (gatehouse without root): gatehouse cannot enter such a
//! session's network namespace (that needs CAP_SYS_ADMIN, and a multithreaded process can never join a user
//! namespace), so the session's first `exec-agent` stage stays inside it as a dialer. Gatehouse holds one end
//! of a Unix socket pair (the other is the dialer's stdin); each request is one byte, and the answer is a
//! 4-byte errno (0: connected) carrying, on success, the connected socket to the agent's port on the namespace's
//! loopback as an SCM_RIGHTS descriptor. Both sides are here. Must never connect anywhere but the namespace's
//! own loopback, nor accept a request from anyone but the socket pair's other end.
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::time::Duration;

use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// The request byte.
const CONNECT: u8 = b'c';

/// Gatehouse's end: asks the session's dialer for connections, one at a time.
#[derive(Debug)]
pub struct Dialer {
    sock: Mutex<UnixStream>,
}

impl Dialer {
    /// A socket pair: gatehouse's dialer and the descriptor to give the session process as its stdin.
    pub fn pair() -> std::io::Result<(Self, OwnedFd)> {
        let (ours, theirs) = UnixStream::pair()?;
        Ok((
            Self {
                sock: Mutex::new(ours),
            },
            theirs.into(),
        ))
    }

    /// A connection to the agent (blocking, bounded by `timeout`).
    pub fn dial(&self, timeout: Duration) -> std::io::Result<TcpStream> {
        let sock = self
            .sock
            .lock()
            .map_err(|_| std::io::Error::other("the dialer's lock is poisoned"))?;
        sock.set_read_timeout(Some(timeout))?;
        sock.set_write_timeout(Some(timeout))?;
        std::io::Write::write_all(&mut &*sock, &[CONNECT])?;
        let mut errno = [0u8; 4];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let got = recvmsg(
            sock.as_fd(),
            &mut [IoSliceMut::new(&mut errno)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )?;
        let mut fd: Option<OwnedFd> = None;
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(fds) = msg {
                for f in fds {
                    fd.get_or_insert(f);
                }
            }
        }
        if got.bytes != errno.len() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the session's dialer has ended",
            ));
        }
        match (i32::from_ne_bytes(errno), fd) {
            (0, Some(fd)) => Ok(TcpStream::from(fd)),
            (0, None) => Err(std::io::Error::other(
                "the dialer answered without a socket",
            )),
            (e, _) => Err(std::io::Error::from_raw_os_error(e)),
        }
    }
}

/// The dialer's end (inside the namespace): answers one request read from `control`. False: gatehouse closed
/// its end (it has gone), so the session must end.
pub fn serve_one(control: BorrowedFd<'_>, port: u16, timeout: Duration) -> std::io::Result<bool> {
    let mut req = [0u8; 1];
    let n = rustix::io::read(control, &mut req)?;
    if n == 0 {
        return Ok(false);
    }
    if req[0] != CONNECT {
        return Err(std::io::Error::other("unknown dialer request"));
    }
    let conn = TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), timeout);
    let errno = match &conn {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(libc::ECONNREFUSED),
    };
    let bytes = errno.to_ne_bytes();
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut buffer = SendAncillaryBuffer::new(&mut space);
    let fds;
    if let Ok(stream) = &conn {
        fds = [stream.as_fd()];
        buffer.push(SendAncillaryMessage::ScmRights(&fds));
    }
    sendmsg(
        control,
        &[IoSlice::new(&bytes)],
        &mut buffer,
        SendFlags::NOSIGNAL,
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::os::fd::AsFd as _;
    use std::time::Duration;

    #[test]
    fn a_connection_made_by_the_dialer_arrives_on_gatehouses_side() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (dialer, theirs) = super::Dialer::pair().unwrap();
        let server = std::thread::spawn(move || {
            let t = Duration::from_secs(5);
            assert!(super::serve_one(theirs.as_fd(), port, t).unwrap());
            // A refused connection travels back as its errno.
            assert!(super::serve_one(theirs.as_fd(), 1, t).unwrap());
            // Gatehouse's end closed: the dialer is told to end.
            assert!(!super::serve_one(theirs.as_fd(), port, t).unwrap());
        });
        let mut conn = dialer.dial(Duration::from_secs(5)).unwrap();
        let (mut accepted, _) = listener.accept().unwrap();
        conn.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        accepted.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        let refused = dialer.dial(Duration::from_secs(5)).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
        drop(dialer);
        server.join().unwrap();
    }
}
