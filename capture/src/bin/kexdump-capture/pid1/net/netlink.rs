//! The three rtnetlink requests the bring-up makes (the capture image has no
//! `ip` tool): set a link up with an MTU (RTM_NEWLINK), add an IPv4 address
//! (RTM_NEWADDR), add a default route (RTM_NEWROUTE). Each is sent with
//! NLM_F_ACK and waits for the kernel's answer, so a refusal is an error
//! naming the request, not a silent no-op.
//!
//! Encoding is pure functions returning the message bytes, tested against
//! the kernel's layouts (linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h):
//! `nlmsghdr` 16 bytes, `ifinfomsg` 16, `ifaddrmsg` 8, `rtmsg` 12, each
//! attribute a 4-byte `rtattr` header and its data padded to 4 bytes.
//! Header fields are in host byte order, IPv4 addresses in network order.
//! The constants are spelled out here with the header they come from:
//! libc exports only some of them, under differing integer types.

use nix::sys::socket::{
    bind, recv, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol,
    SockType,
};
use nix::sys::time::TimeVal;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

// linux/netlink.h
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_CREATE: u16 = 0x400;
// linux/rtnetlink.h
const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNICAST: u8 = 1;
const RTNH_F_ONLINK: u32 = 4;
// linux/if_link.h, linux/if_addr.h, linux/if.h, linux/socket.h
const IFLA_MTU: u16 = 4;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const IFF_UP: u32 = 0x1;
const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;

/// How long the kernel may take to answer one request: it answers at once,
/// so running out means something is badly wrong, not slow.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// RTM_NEWLINK setting `ifindex` up (IFF_UP in both flags and change mask,
/// other flags untouched) and, if given, its MTU.
pub fn set_link_up(seq: u32, ifindex: u32, mtu: Option<u32>) -> Vec<u8> {
    // struct ifinfomsg { u8 family, pad; u16 type; i32 index; u32 flags, change; }
    let mut ifinfo = vec![AF_UNSPEC, 0, 0, 0];
    ifinfo.extend_from_slice(&ifindex.to_ne_bytes());
    ifinfo.extend_from_slice(&IFF_UP.to_ne_bytes());
    ifinfo.extend_from_slice(&IFF_UP.to_ne_bytes());
    let mut msg = start(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, &ifinfo);
    if let Some(mtu) = mtu {
        push_attr(&mut msg, IFLA_MTU, &mtu.to_ne_bytes());
    }
    finish(msg)
}

/// RTM_NEWADDR adding `addr/prefix` to `ifindex` (replacing the same
/// address if there), with the subnet's broadcast address when the prefix
/// leaves room for one (not /31 or /32).
pub fn add_address(seq: u32, ifindex: u32, addr: Ipv4Addr, prefix: u8) -> Vec<u8> {
    // struct ifaddrmsg { u8 family, prefixlen, flags, scope; u32 index; }
    let mut ifaddr = vec![AF_INET, prefix, 0, RT_SCOPE_UNIVERSE];
    ifaddr.extend_from_slice(&ifindex.to_ne_bytes());
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    let mut msg = start(RTM_NEWADDR, flags, seq, &ifaddr);
    push_attr(&mut msg, IFA_LOCAL, &addr.octets());
    push_attr(&mut msg, IFA_ADDRESS, &addr.octets());
    if prefix <= 30 {
        push_attr(&mut msg, IFA_BROADCAST, &broadcast(addr, prefix).octets());
    }
    finish(msg)
}

/// RTM_NEWROUTE: the default route of the main table via `gateway` out of
/// `ifindex` (replacing one already there). `onlink` (RTNH_F_ONLINK) makes
/// the kernel take the gateway as reachable on the link even though no
/// address's subnet contains it (a /32 address, a gateway outside the
/// prefix).
pub fn add_default_route(seq: u32, ifindex: u32, gateway: Ipv4Addr, onlink: bool) -> Vec<u8> {
    // struct rtmsg { u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags; }
    let mut rtmsg = vec![AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST];
    rtmsg.extend_from_slice(&(if onlink { RTNH_F_ONLINK } else { 0 }).to_ne_bytes());
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    let mut msg = start(RTM_NEWROUTE, flags, seq, &rtmsg);
    push_attr(&mut msg, RTA_GATEWAY, &gateway.octets());
    push_attr(&mut msg, RTA_OIF, &ifindex.to_ne_bytes());
    finish(msg)
}

/// The subnet's directed broadcast address.
pub fn broadcast(addr: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(addr) | !netmask(prefix))
}

/// Whether `other` is in `addr/prefix`'s subnet.
pub fn same_subnet(addr: Ipv4Addr, prefix: u8, other: Ipv4Addr) -> bool {
    (u32::from(addr) ^ u32::from(other)) & netmask(prefix) == 0
}

fn netmask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

/// A message with its nlmsghdr (length filled in by `finish`) and the
/// family header.
fn start(kind: u16, flags: u16, seq: u32, family_header: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(64);
    msg.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len
    msg.extend_from_slice(&kind.to_ne_bytes());
    msg.extend_from_slice(&flags.to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel fills it in
    msg.extend_from_slice(family_header);
    pad4(&mut msg);
    msg
}

/// One rtattr: { u16 len (header + data, unpadded); u16 type; } + data,
/// padded to 4 bytes.
fn push_attr(msg: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = 4 + data.len();
    msg.extend_from_slice(&(len as u16).to_ne_bytes());
    msg.extend_from_slice(&kind.to_ne_bytes());
    msg.extend_from_slice(data);
    pad4(msg);
}

fn pad4(msg: &mut Vec<u8>) {
    msg.resize(msg.len().next_multiple_of(4), 0);
}

fn finish(mut msg: Vec<u8>) -> Vec<u8> {
    let len = msg.len() as u32;
    msg[..4].copy_from_slice(&len.to_ne_bytes());
    msg
}

/// The kernel's answer to request `seq` in one received datagram: None if
/// the datagram holds none, Some(0) for an ack, Some(errno) for a refusal.
/// Malformed datagrams are errors saying what was wrong.
pub fn find_ack(datagram: &[u8], seq: u32) -> Result<Option<i32>, String> {
    let mut rest = datagram;
    while !rest.is_empty() {
        let field = |at: usize| -> Result<[u8; 4], String> {
            rest.get(at..at + 4).and_then(|b| b.try_into().ok()).ok_or_else(|| {
                format!("a netlink answer cut short ({} bytes left where a header needs {NLMSG_HDRLEN})", rest.len())
            })
        };
        let len = u32::from_ne_bytes(field(0)?) as usize;
        let kind_flags = field(4)?;
        let kind = u16::from_ne_bytes([kind_flags[0], kind_flags[1]]);
        let msg_seq = u32::from_ne_bytes(field(8)?);
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(format!("a netlink message of length {len} in a datagram of {} bytes", rest.len()));
        }
        if kind == NLMSG_ERROR && msg_seq == seq {
            // struct nlmsgerr { int error; struct nlmsghdr msg; ... }: error is -errno, 0 for an ack.
            let error = rest
                .get(NLMSG_HDRLEN..NLMSG_HDRLEN + 4)
                .filter(|_| len >= NLMSG_HDRLEN + 4)
                .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| format!("a netlink error message of length {len}, too short for its error code"))?;
            return Ok(Some(error.checked_neg().unwrap_or(i32::MAX)));
        }
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or(&[]);
    }
    Ok(None)
}

/// An rtnetlink socket that sends one request at a time and waits for its ack.
pub struct Rtnl {
    fd: OwnedFd,
    seq: u32,
}

impl Rtnl {
    pub fn open() -> io::Result<Rtnl> {
        let fd = socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkRoute)?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::new(ANSWER_TIMEOUT.as_secs() as _, 0))?;
        Ok(Rtnl { fd, seq: 0 })
    }

    /// Send the message `build` makes for the next sequence number and wait
    /// for its ack; a refusal becomes an io::Error naming `what` (such as
    /// "setting eth0 up") with the kernel's errno.
    pub fn request(&mut self, what: &str, build: impl FnOnce(u32) -> Vec<u8>) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let msg = build(self.seq);
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
        sendto(self.fd.as_raw_fd(), &msg, &NetlinkAddr::new(0, 0), MsgFlags::empty())
            .map_err(|e| named(io::Error::from(e)))?;
        let mut buf = vec![0u8; 16384];
        loop {
            let n = match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{what}: no answer from the kernel within {} s", ANSWER_TIMEOUT.as_secs()),
                    ))
                }
                Err(e) => return Err(named(io::Error::from(e))),
            };
            let ack = find_ack(&buf[..n], self.seq)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {e}")))?;
            match ack {
                None => continue,
                Some(0) => return Ok(()),
                Some(errno) => return Err(named(io::Error::from_raw_os_error(errno))),
            }
        }
    }
}

#[cfg(test)]
#[cfg(target_endian = "little")]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_struct_sizes_match_the_ones_encoded_here() {
        assert_eq!(std::mem::size_of::<libc::nlmsghdr>(), NLMSG_HDRLEN);
        assert_eq!(std::mem::size_of::<libc::ifinfomsg>(), 16);
        assert_eq!(std::mem::size_of::<libc::rtattr>(), 4);
        // The header and the family header of each message: 16 + 16, 16 + 8, 16 + 12.
        assert_eq!(set_link_up(1, 2, None).len(), 32);
        assert_eq!(&add_address(1, 2, Ipv4Addr::new(10, 0, 0, 1), 32)[..4], &(16 + 8 + 8 + 8u32).to_le_bytes());
        assert_eq!(add_default_route(1, 2, Ipv4Addr::new(10, 0, 0, 1), false).len(), 16 + 12 + 8 + 8);
        assert_eq!(RTA_OIF as libc::c_ushort, libc::RTA_OIF);
        assert_eq!(RTA_GATEWAY as libc::c_ushort, libc::RTA_GATEWAY);
        assert_eq!(IFF_UP as libc::c_int, libc::IFF_UP);
        assert_eq!(AF_INET as libc::c_int, libc::AF_INET);
    }

    #[test]
    fn set_link_up_with_an_mtu() {
        let msg = set_link_up(7, 3, Some(1400));
        #[rustfmt::skip]
        let expected = [
            40, 0, 0, 0,  16, 0,  5, 0,  7, 0, 0, 0,  0, 0, 0, 0, // nlmsghdr: len 40, RTM_NEWLINK, REQUEST|ACK, seq 7
            0, 0, 0, 0,  3, 0, 0, 0,  1, 0, 0, 0,  1, 0, 0, 0,    // ifinfomsg: AF_UNSPEC, index 3, flags/change IFF_UP
            8, 0, 4, 0,  0x78, 5, 0, 0,                           // IFLA_MTU 1400
        ];
        assert_eq!(msg, expected);
        assert_eq!(set_link_up(7, 3, None).len(), 32);
    }

    #[test]
    fn add_address_with_broadcast() {
        let msg = add_address(9, 2, Ipv4Addr::new(10, 77, 0, 50), 24);
        #[rustfmt::skip]
        let expected = [
            48, 0, 0, 0,  20, 0,  0x05, 0x05,  9, 0, 0, 0,  0, 0, 0, 0, // RTM_NEWADDR, REQUEST|ACK|REPLACE|CREATE
            2, 24, 0, 0,  2, 0, 0, 0,                                   // ifaddrmsg: AF_INET, /24, scope universe, index 2
            8, 0, 2, 0,  10, 77, 0, 50,                                 // IFA_LOCAL
            8, 0, 1, 0,  10, 77, 0, 50,                                 // IFA_ADDRESS
            8, 0, 4, 0,  10, 77, 0, 255,                                // IFA_BROADCAST
        ];
        assert_eq!(msg, expected);
        // No broadcast address on a /31 or /32.
        assert_eq!(add_address(9, 2, Ipv4Addr::new(10, 77, 0, 50), 31).len(), 40);
        assert_eq!(add_address(9, 2, Ipv4Addr::new(10, 77, 0, 50), 32).len(), 40);
    }

    #[test]
    fn add_default_route_via_a_gateway_and_on_link() {
        let msg = add_default_route(4, 2, Ipv4Addr::new(10, 77, 0, 1), false);
        #[rustfmt::skip]
        let expected = [
            44, 0, 0, 0,  24, 0,  0x05, 0x05,  4, 0, 0, 0,  0, 0, 0, 0, // RTM_NEWROUTE, REQUEST|ACK|REPLACE|CREATE
            2, 0, 0, 0,  254, 3, 0, 1,  0, 0, 0, 0,                     // rtmsg: AF_INET, dst_len 0, main, boot, universe, unicast
            8, 0, 5, 0,  10, 77, 0, 1,                                  // RTA_GATEWAY
            8, 0, 4, 0,  2, 0, 0, 0,                                    // RTA_OIF
        ];
        assert_eq!(msg, expected);
        let onlink = add_default_route(4, 2, Ipv4Addr::new(10, 77, 0, 1), true);
        assert_eq!(&onlink[24..28], &[4, 0, 0, 0]);
    }

    #[test]
    fn attributes_are_padded_to_four_bytes_with_the_unpadded_length() {
        let mut msg = start(RTM_NEWLINK, NLM_F_REQUEST, 1, &[0; 16]);
        push_attr(&mut msg, 3, b"eth0\0");
        assert_eq!(&msg[32..], &[9, 0, 3, 0, b'e', b't', b'h', b'0', 0, 0, 0, 0]);
        assert_eq!(finish(msg).len(), 44);
    }

    #[test]
    fn subnets_and_broadcast_addresses() {
        let a = Ipv4Addr::new(192, 168, 1, 7);
        assert_eq!(broadcast(a, 24), Ipv4Addr::new(192, 168, 1, 255));
        assert_eq!(broadcast(a, 0), Ipv4Addr::BROADCAST);
        assert_eq!(broadcast(a, 32), a);
        assert!(same_subnet(a, 24, Ipv4Addr::new(192, 168, 1, 1)));
        assert!(!same_subnet(a, 24, Ipv4Addr::new(192, 168, 2, 1)));
        assert!(!same_subnet(a, 32, Ipv4Addr::new(192, 168, 1, 1)));
        assert!(same_subnet(a, 0, Ipv4Addr::new(8, 8, 8, 8)));
    }

    fn error_message(seq: u32, error: i32) -> Vec<u8> {
        let mut m = start(NLMSG_ERROR, 0, seq, &error.to_ne_bytes());
        m.extend_from_slice(&[0; 16]); // the request's header, echoed
        finish(m)
    }

    #[test]
    fn acks_and_errors_are_found_by_sequence_number() {
        assert_eq!(find_ack(&error_message(5, 0), 5), Ok(Some(0)));
        assert_eq!(find_ack(&error_message(5, -libc::EEXIST), 5), Ok(Some(libc::EEXIST)));
        assert_eq!(find_ack(&error_message(4, 0), 5), Ok(None));
        let mut two = error_message(4, -libc::EPERM);
        two.extend(error_message(5, -libc::ENODEV));
        assert_eq!(find_ack(&two, 5), Ok(Some(libc::ENODEV)));
        assert_eq!(find_ack(&[], 5), Ok(None));
    }

    #[test]
    fn malformed_answers_are_errors_not_panics() {
        let good = error_message(5, 0);
        for cut in 1..good.len() {
            let _ = find_ack(&good[..cut], 5);
        }
        assert!(find_ack(&good[..10], 5).unwrap_err().contains("cut short"));
        let mut short_len = good.clone();
        short_len[0] = 8;
        assert!(find_ack(&short_len, 5).unwrap_err().contains("length 8"));
        let mut long_len = good.clone();
        long_len[0] = 200;
        assert!(find_ack(&long_len, 5).unwrap_err().contains("length 200"));
        let mut no_code = start(NLMSG_ERROR, 0, 5, &[]);
        no_code = finish(no_code);
        assert!(find_ack(&no_code, 5).unwrap_err().contains("too short"));
        // An errno of i32::MIN does not overflow.
        assert_eq!(find_ack(&error_message(5, i32::MIN), 5), Ok(Some(i32::MAX)));
    }
}
