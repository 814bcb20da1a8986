//! The network of a fresh namespace, over a netlink route socket (safe code: each message is laid out by hand,
//! its acknowledgement checked): loopback brought up, and for `egress = "all"` sessions `prohibit` routes for
//! the networks they must never reach — routes the agent, without CAP_NET_ADMIN, cannot remove, and which win
//! over the default route the user-mode network stack adds later. Must never touch any interface but `lo`.
use std::os::fd::AsRawFd as _;

use nix::sys::socket::{
    recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};

use super::{fail, SandboxError};
use crate::config::sandbox::Ipv4Net;

const RTM_NEWLINK: u16 = 16;
const RTM_NEWROUTE: u16 = 24;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 2;
const IFF_UP: u32 = 1;
const AF_INET: u8 = 2;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_STATIC: u8 = 4;
const RTN_PROHIBIT: u8 = 8;
const RTA_DST: u16 = 1;

/// `nlmsghdr` (16 bytes) of a message of `len` bytes.
fn header(m: &mut [u8], kind: u16, flags: u16) {
    let len = m.len() as u32;
    m[0..4].copy_from_slice(&len.to_ne_bytes());
    m[4..6].copy_from_slice(&kind.to_ne_bytes());
    m[6..8].copy_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence number
}

/// `nlmsghdr` + `ifinfomsg` asking for `IFF_UP` on interface `index`.
fn link_up(index: u32) -> [u8; 32] {
    let mut m = [0u8; 32];
    header(&mut m, RTM_NEWLINK, 0);
    // ifinfomsg: family 0 (AF_UNSPEC), pad, type 0, then index, flags, change mask.
    m[20..24].copy_from_slice(&index.to_ne_bytes());
    m[24..28].copy_from_slice(&IFF_UP.to_ne_bytes());
    m[28..32].copy_from_slice(&IFF_UP.to_ne_bytes());
    m
}

/// `nlmsghdr` + `rtmsg` + one `RTA_DST` attribute: `ip route add prohibit <net>` in the main table.
fn prohibit(net: Ipv4Net) -> [u8; 36] {
    let mut m = [0u8; 36];
    header(&mut m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
    // rtmsg: family, dst_len, src_len, tos, table, protocol, scope (universe = 0), type, flags (u32).
    m[16] = AF_INET;
    m[17] = net.prefix;
    m[20] = RT_TABLE_MAIN;
    m[21] = RTPROT_STATIC;
    m[23] = RTN_PROHIBIT;
    // rtattr: length 8, type RTA_DST, then the address in network order.
    m[28..30].copy_from_slice(&8u16.to_ne_bytes());
    m[30..32].copy_from_slice(&RTA_DST.to_ne_bytes());
    m[32..36].copy_from_slice(&net.addr.octets());
    m
}

/// Sends one request and checks the kernel's acknowledgement.
fn send(step: &'static str, message: &[u8]) -> Result<(), SandboxError> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .map_err(fail(step))?;
    sendto(
        fd.as_raw_fd(),
        message,
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

/// `ip link set lo up`, in the current network namespace.
pub(super) fn loopback_up() -> Result<(), SandboxError> {
    let step = "bring up loopback";
    let index = nix::net::if_::if_nametoindex("lo").map_err(fail(step))?;
    send(step, &link_up(index))
}

/// `ip route add prohibit <net>` for each network, in the current network namespace.
pub(super) fn prohibit_routes(nets: &[Ipv4Net]) -> Result<(), SandboxError> {
    for net in nets {
        send("add a prohibit route for egress_deny", &prohibit(*net))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_link_request_is_one_well_formed_message() {
        let m = super::link_up(1);
        assert_eq!(u32::from_ne_bytes([m[0], m[1], m[2], m[3]]), 32);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), 16);
        assert_eq!(i32::from_ne_bytes([m[20], m[21], m[22], m[23]]), 1);
    }

    #[test]
    fn the_route_request_names_the_network_and_the_prohibit_type() {
        let m = super::prohibit("169.254.0.0/16".parse().unwrap());
        assert_eq!(u32::from_ne_bytes([m[0], m[1], m[2], m[3]]), 36);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), 24);
        assert_eq!((m[16], m[17], m[23]), (2, 16, 8));
        assert_eq!(&m[32..36], &[169, 254, 0, 0]);
    }
}
