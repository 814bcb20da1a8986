//! Brings the loopback interface of a fresh network namespace up: one RTM_NEWLINK request over a netlink route
//! socket (safe code: the message is laid out by hand), its acknowledgement checked. Must never touch any
//! interface but `lo`.
use std::os::fd::AsRawFd as _;

use nix::sys::socket::{
    recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};

use super::{fail, SandboxError};

const RTM_NEWLINK: u16 = 16;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLMSG_ERROR: u16 = 2;
const IFF_UP: u32 = 1;

/// `nlmsghdr` + `ifinfomsg` asking for `IFF_UP` on interface `index`.
fn request(index: u32) -> [u8; 32] {
    let mut m = [0u8; 32];
    m[0..4].copy_from_slice(&32u32.to_ne_bytes());
    m[4..6].copy_from_slice(&RTM_NEWLINK.to_ne_bytes());
    m[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence number
                                                   // ifinfomsg: family 0 (AF_UNSPEC), pad, type 0, then index, flags, change mask.
    m[20..24].copy_from_slice(&index.to_ne_bytes());
    m[24..28].copy_from_slice(&IFF_UP.to_ne_bytes());
    m[28..32].copy_from_slice(&IFF_UP.to_ne_bytes());
    m
}

/// `ip link set lo up`, in the current network namespace.
pub(super) fn loopback_up() -> Result<(), SandboxError> {
    let step = "bring up loopback";
    let index = nix::net::if_::if_nametoindex("lo").map_err(fail(step))?;
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .map_err(fail(step))?;
    sendto(
        fd.as_raw_fd(),
        &request(index),
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )
    .map_err(fail(step))?;
    let mut ack = [0u8; 256];
    let n = recv(fd.as_raw_fd(), &mut ack, MsgFlags::empty()).map_err(fail(step))?;
    let kind = (n >= 20).then(|| u16::from_ne_bytes([ack[4], ack[5]]));
    let code = (n >= 20).then(|| i32::from_ne_bytes([ack[16], ack[17], ack[18], ack[19]]));
    match (kind, code) {
        (Some(NLMSG_ERROR), Some(0)) => Ok(()),
        (Some(NLMSG_ERROR), Some(c)) => Err(fail(step)(nix::Error::from_raw(-c))),
        _ => Err(SandboxError {
            step,
            reason: "no acknowledgement from the kernel".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_request_is_one_well_formed_message() {
        let m = super::request(1);
        assert_eq!(u32::from_ne_bytes([m[0], m[1], m[2], m[3]]), 32);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), 16);
        assert_eq!(i32::from_ne_bytes([m[20], m[21], m[22], m[23]]), 1);
    }
}
