//! A small DHCPv4 client (RFC 2131, options of RFC 2132): DISCOVER, OFFER,
//! REQUEST, ACK, once. The capture kernel lives for minutes, so there is no
//! renewal, no DECLINE after an ARP probe, no INIT-REBOOT: the address is
//! added without a lifetime and the machine reboots long before a server
//! could reasonably give it away.
//!
//! Transport: a UDP socket bound to 0.0.0.0:68 with SO_BROADCAST and
//! SO_BINDTODEVICE, sending to 255.255.255.255:67, the broadcast flag set so
//! the server broadcasts its replies. Decided by experiment
//! (tests/net/netns-test.sh: Linux 6.18, a veth pair, dnsmasq 2.90): this
//! works while the interface has no IPv4 address. The kernel sends the
//! limited broadcast out of the bound device from 0.0.0.0 and delivers the
//! server's broadcast replies to the socket, with one condition the same
//! experiment found: rp_filter must be 0. With 1 or 2 (on `all` or the
//! device) no OFFER arrived in 6 s, the replies being dropped by the
//! reverse-path check, since nothing routes back to the server yet. The
//! kernel's default is 0, and the client turns it off for the exchange
//! anyway (`ReversePathFilterOff`). So no AF_PACKET socket and no
//! hand-built IP/UDP headers are needed. What this does need is a server or
//! relay that honours the broadcast flag (RFC 2131 4.1 requires it): a reply
//! unicast to the offered address would be dropped, since it is not yet ours.
//!
//! Packet building and parsing are pure functions; parsing is bounds-checked
//! and refuses (never panics on) any malformed input.

use nix::sys::socket::{
    bind, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockProtocol, SockType, SockaddrIn,
};
use std::ffi::OsString;
use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime};

pub const SERVER_PORT: u16 = 67;
pub const CLIENT_PORT: u16 = 68;

const BOOTREQUEST: u8 = 1;
const BOOTREPLY: u8 = 2;
const HTYPE_ETHERNET: u8 = 1;
const FLAG_BROADCAST: u16 = 0x8000;
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// op through file: the fixed part of a message (RFC 2131 figure 1).
const FIXED_LEN: usize = 236;
/// The fixed part and the magic cookie: where options start.
const OPTIONS_AT: usize = FIXED_LEN + 4;
/// BOOTP's minimum message size (RFC 1542 2.1): some relays drop less.
const MIN_REQUEST_LEN: usize = 300;

// Options (RFC 2132).
const OPT_PAD: u8 = 0;
const OPT_SUBNET_MASK: u8 = 1;
const OPT_ROUTER: u8 = 3;
const OPT_MTU: u8 = 26;
const OPT_REQUESTED_IP: u8 = 50;
const OPT_LEASE_TIME: u8 = 51;
const OPT_MESSAGE_TYPE: u8 = 53;
const OPT_SERVER_ID: u8 = 54;
const OPT_PARAMETER_LIST: u8 = 55;
const OPT_CLIENT_ID: u8 = 61;
const OPT_END: u8 = 255;

// Message types (option 53).
pub const DISCOVER: u8 = 1;
pub const OFFER: u8 = 2;
pub const REQUEST: u8 = 3;
pub const ACK: u8 = 5;
pub const NAK: u8 = 6;

/// The first wait for a reply; each retransmission doubles it up to
/// MAX_RETRANSMIT (RFC 2131 4.1 suggests 4 s doubling to 64 s; a capture
/// kernel cannot wait that long and a LAN answers within a second).
const FIRST_RETRANSMIT: Duration = Duration::from_secs(1);
const MAX_RETRANSMIT: Duration = Duration::from_secs(8);
/// REQUESTs sent for one OFFER before starting over with a DISCOVER.
const REQUEST_SENDS: usize = 3;

/// DHCPDISCOVER from `mac`, transaction `xid`, `secs` seconds after the start.
pub fn discover(xid: u32, mac: &[u8; 6], secs: u16) -> Vec<u8> {
    let mut msg = request_header(xid, mac, secs);
    push_option(&mut msg, OPT_MESSAGE_TYPE, &[DISCOVER]);
    push_common_options(&mut msg, mac);
    finish(msg)
}

/// DHCPREQUEST (SELECTING state) for the address `offered` by `server`.
pub fn request(xid: u32, mac: &[u8; 6], secs: u16, offered: Ipv4Addr, server: Ipv4Addr) -> Vec<u8> {
    let mut msg = request_header(xid, mac, secs);
    push_option(&mut msg, OPT_MESSAGE_TYPE, &[REQUEST]);
    push_option(&mut msg, OPT_REQUESTED_IP, &offered.octets());
    push_option(&mut msg, OPT_SERVER_ID, &server.octets());
    push_common_options(&mut msg, mac);
    finish(msg)
}

/// op, htype, hlen, hops, xid, secs, flags (broadcast), four zero
/// addresses, chaddr, empty sname and file, the magic cookie.
fn request_header(xid: u32, mac: &[u8; 6], secs: u16) -> Vec<u8> {
    let mut msg = Vec::with_capacity(MIN_REQUEST_LEN);
    msg.extend_from_slice(&[BOOTREQUEST, HTYPE_ETHERNET, 6, 0]);
    msg.extend_from_slice(&xid.to_be_bytes());
    msg.extend_from_slice(&secs.to_be_bytes());
    msg.extend_from_slice(&FLAG_BROADCAST.to_be_bytes());
    msg.extend_from_slice(&[0; 16]); // ciaddr, yiaddr, siaddr, giaddr
    msg.extend_from_slice(mac);
    msg.resize(FIXED_LEN, 0); // chaddr's padding, sname, file
    msg.extend_from_slice(&MAGIC_COOKIE);
    msg
}

fn push_common_options(msg: &mut Vec<u8>, mac: &[u8; 6]) {
    let mut client_id = vec![HTYPE_ETHERNET];
    client_id.extend_from_slice(mac);
    push_option(msg, OPT_CLIENT_ID, &client_id);
    push_option(msg, OPT_PARAMETER_LIST, &[OPT_SUBNET_MASK, OPT_ROUTER, OPT_MTU]);
}

fn push_option(msg: &mut Vec<u8>, code: u8, data: &[u8]) {
    msg.push(code);
    msg.push(data.len() as u8);
    msg.extend_from_slice(data);
}

fn finish(mut msg: Vec<u8>) -> Vec<u8> {
    msg.push(OPT_END);
    if msg.len() < MIN_REQUEST_LEN {
        msg.resize(MIN_REQUEST_LEN, OPT_PAD);
    }
    msg
}

/// What a server's reply says, as far as this client uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Option 53: OFFER, ACK, NAK...
    pub kind: u8,
    pub xid: u32,
    pub chaddr: [u8; 6],
    pub yiaddr: Ipv4Addr,
    pub server_id: Option<Ipv4Addr>,
    pub subnet_mask: Option<Ipv4Addr>,
    /// The first router of option 3.
    pub router: Option<Ipv4Addr>,
    pub mtu: Option<u16>,
    pub lease_secs: Option<u32>,
}

/// Parse a BOOTREPLY: the fixed part, the magic cookie and the options,
/// each option bounds- and length-checked. The options this client uses
/// must have their RFC 2132 length and appear once; others are skipped.
/// Option overload (52) is not followed: sname and file are ignored.
pub fn parse_reply(msg: &[u8]) -> Result<Reply, String> {
    if msg.len() < OPTIONS_AT {
        return Err(format!("a {}-byte message, shorter than DHCP's {OPTIONS_AT}", msg.len()));
    }
    if msg[0] != BOOTREPLY {
        return Err(format!("op {} is not a BOOTREPLY", msg[0]));
    }
    if msg[1] != HTYPE_ETHERNET || msg[2] != 6 {
        return Err(format!("hardware type {} length {}, not Ethernet", msg[1], msg[2]));
    }
    if msg[FIXED_LEN..OPTIONS_AT] != MAGIC_COOKIE {
        return Err(format!("no DHCP magic cookie (found {:02x?})", &msg[FIXED_LEN..OPTIONS_AT]));
    }
    let ipv4 = |at: usize| Ipv4Addr::new(msg[at], msg[at + 1], msg[at + 2], msg[at + 3]);
    let mut chaddr = [0u8; 6];
    chaddr.copy_from_slice(&msg[28..34]);
    let mut reply = Reply {
        kind: 0,
        xid: u32::from_be_bytes([msg[4], msg[5], msg[6], msg[7]]),
        chaddr,
        yiaddr: ipv4(16),
        server_id: None,
        subnet_mask: None,
        router: None,
        mtu: None,
        lease_secs: None,
    };
    let mut seen = [false; 256];
    let mut at = OPTIONS_AT;
    // Options running to the end of the message without an end option are accepted.
    while let Some(&code) = msg.get(at) {
        if code == OPT_END {
            break;
        }
        if code == OPT_PAD {
            at += 1;
            continue;
        }
        let len = *msg.get(at + 1).ok_or_else(|| format!("option {code} at byte {at} has no length"))? as usize;
        let data = msg
            .get(at + 2..at + 2 + len)
            .ok_or_else(|| format!("option {code} at byte {at} runs past the end ({len} bytes)"))?;
        at += 2 + len;
        let wanted_len = match code {
            OPT_MESSAGE_TYPE => Some(len == 1),
            OPT_SUBNET_MASK | OPT_SERVER_ID | OPT_LEASE_TIME => Some(len == 4),
            OPT_ROUTER => Some(len >= 4 && len.is_multiple_of(4)),
            OPT_MTU => Some(len == 2),
            _ => None,
        };
        match wanted_len {
            None => continue,
            Some(false) => return Err(format!("option {code} has length {len}")),
            Some(true) => {}
        }
        if std::mem::replace(&mut seen[code as usize], true) {
            return Err(format!("option {code} appears twice"));
        }
        let addr = || Ipv4Addr::new(data[0], data[1], data[2], data[3]);
        match code {
            OPT_MESSAGE_TYPE => reply.kind = data[0],
            OPT_SUBNET_MASK => reply.subnet_mask = Some(addr()),
            OPT_SERVER_ID => reply.server_id = Some(addr()),
            OPT_ROUTER => reply.router = Some(addr()),
            OPT_MTU => reply.mtu = Some(u16::from_be_bytes([data[0], data[1]])),
            OPT_LEASE_TIME => reply.lease_secs = Some(u32::from_be_bytes([data[0], data[1], data[2], data[3]])),
            _ => {}
        }
    }
    if reply.kind == 0 {
        return Err("no DHCP message type (option 53)".into());
    }
    Ok(reply)
}

/// What the bring-up configures from an ACK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub addr: Ipv4Addr,
    pub prefix: u8,
    pub router: Option<Ipv4Addr>,
    /// Option 26, if given and at least 68 (smaller is ignored: the kernel refuses it).
    pub mtu: Option<u32>,
    pub server: Ipv4Addr,
    pub lease_secs: Option<u32>,
}

/// The lease an ACK grants. The address must be one an interface can have;
/// the subnet mask must be contiguous (without one, the address's class
/// decides, as RFC 1122 3.3.1.6's hosts did).
pub fn lease_from_ack(ack: &Reply, server: Ipv4Addr) -> Result<Lease, String> {
    let addr = ack.yiaddr;
    if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() || addr.is_loopback() {
        return Err(format!("the ACK from {server} grants {addr}, which no interface can have"));
    }
    let prefix = match ack.subnet_mask {
        Some(mask) => {
            let m = u32::from(mask);
            if m.leading_ones() + m.trailing_zeros() != 32 {
                return Err(format!("the ACK from {server} has subnet mask {mask}, which is not contiguous"));
            }
            m.leading_ones() as u8
        }
        None => match addr.octets()[0] {
            0..=127 => 8,
            128..=191 => 16,
            _ => 24,
        },
    };
    Ok(Lease {
        addr,
        prefix,
        router: ack.router.filter(|r| !r.is_unspecified() && !r.is_broadcast()),
        mtu: ack.mtu.map(u32::from).filter(|m| *m >= 68),
        server,
        lease_secs: ack.lease_secs,
    })
}

/// Where the client's messages go and its replies come from.
pub trait Transport {
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;
    /// The next datagram, or None once `until` has passed.
    fn recv(&mut self, buf: &mut [u8], until: Instant) -> io::Result<Option<usize>>;
}

/// UDP from 0.0.0.0:68 on one device to 255.255.255.255:67 (see the module
/// comment for why this works before the interface has an address).
pub struct UdpTransport(UdpSocket);

impl UdpTransport {
    pub fn open(ifname: &str) -> io::Result<UdpTransport> {
        let fd = socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, SockProtocol::Udp)?;
        setsockopt(&fd, sockopt::ReuseAddr, &true)?;
        setsockopt(&fd, sockopt::Broadcast, &true)?;
        setsockopt(&fd, sockopt::BindToDevice, &OsString::from(ifname))?;
        bind(fd.as_raw_fd(), &SockaddrIn::new(0, 0, 0, 0, CLIENT_PORT))?;
        Ok(UdpTransport(UdpSocket::from(fd)))
    }
}

impl Transport for UdpTransport {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.0.send_to(msg, SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT)).map(drop)
    }

    fn recv(&mut self, buf: &mut [u8], until: Instant) -> io::Result<Option<usize>> {
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.0.set_read_timeout(Some(left))?;
            match self.0.recv_from(buf) {
                Ok((n, _)) => return Ok(Some(n)),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// A lease for `mac` on `ifname` within `timeout`, over UDP, with the
/// reverse-path filter off meanwhile (see `ReversePathFilterOff`).
pub fn obtain_lease(ifname: &str, mac: &[u8; 6], timeout: Duration) -> Result<Lease, String> {
    let _rp_filter_off = ReversePathFilterOff::new(ifname)?;
    let mut udp = UdpTransport::open(ifname).map_err(|e| format!("opening a DHCP socket on {ifname}: {e}"))?;
    let started = Instant::now();
    run_client(&mut udp, mac, new_xid(), started, started + timeout).map_err(|e| format!("DHCP on {ifname}: {e}"))
}

/// rp_filter set to 0 for `all` and the interface (the kernel applies the
/// larger of the two) while the interface has no address, and put back
/// when dropped. With rp_filter 1 or 2 the kernel drops the server's
/// replies as martians before they reach the socket: there is no route
/// back to the server's address yet (seen in tests/net's namespaces: no
/// OFFER in 6 s with 1 or 2, a lease at once with 0). The capture kernel
/// boots with the default, 0, unless the command line says
/// `sysctl.net.ipv4.conf.*.rp_filter=`; then this is what makes DHCP work.
struct ReversePathFilterOff {
    restore: Vec<(String, String)>,
}

impl ReversePathFilterOff {
    fn new(ifname: &str) -> Result<ReversePathFilterOff, String> {
        let mut restore = Vec::new();
        for conf in ["all", ifname] {
            let path = format!("/proc/sys/net/ipv4/conf/{conf}/rp_filter");
            let Ok(value) = std::fs::read_to_string(&path) else { continue }; // no /proc: nothing to turn off
            let value = value.trim().to_owned();
            if value != "0" {
                std::fs::write(&path, "0").map_err(|e| format!("turning {path} (now {value}) off for DHCP: {e}"))?;
                restore.push((path, value));
            }
        }
        Ok(ReversePathFilterOff { restore })
    }
}

impl Drop for ReversePathFilterOff {
    fn drop(&mut self) {
        for (path, value) in &self.restore {
            let _ = std::fs::write(path, value);
        }
    }
}

/// A transaction id nobody else on the link is likely to use: from
/// /dev/urandom, else from the clock.
fn new_xid() -> u32 {
    let mut bytes = [0u8; 4];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).is_ok() {
        return u32::from_ne_bytes(bytes);
    }
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}

/// What the client saw, for an error that says it.
#[derive(Default)]
struct Seen {
    discovers: usize,
    requests: usize,
    offer: Option<(Ipv4Addr, Ipv4Addr)>,
    naks: usize,
    ignored: usize,
    last_ignored: String,
}

impl Seen {
    fn ignore(&mut self, why: String) {
        self.ignored += 1;
        self.last_ignored = why;
    }

    fn describe(&self, waited: Duration) -> String {
        let mut s = match self.offer {
            None => format!("no DHCPOFFER after {:.1} s ({} DISCOVERs sent", waited.as_secs_f64(), self.discovers),
            Some((addr, server)) => format!(
                "no DHCPACK after {:.1} s (last offer {addr} from {server}; {} DISCOVERs, {} REQUESTs sent",
                waited.as_secs_f64(),
                self.discovers,
                self.requests
            ),
        };
        if self.naks > 0 {
            s += &format!(", {} NAKs", self.naks);
        }
        match self.ignored {
            0 if self.offer.is_none() => s += ", no replies)",
            0 => s += ", no other replies)",
            n => s += &format!(", {n} replies ignored, the last: {})", self.last_ignored),
        }
        s
    }
}

/// DISCOVER until an OFFER, REQUEST it until its server's ACK (or NAK:
/// start over with a new transaction), all before `deadline`.
pub fn run_client(
    t: &mut dyn Transport,
    mac: &[u8; 6],
    first_xid: u32,
    started: Instant,
    deadline: Instant,
) -> Result<Lease, String> {
    let mut seen = Seen::default();
    let mut xid = first_xid;
    let secs = || started.elapsed().as_secs().min(u64::from(u16::MAX)) as u16;
    while Instant::now() < deadline {
        let ask = Exchange { xid, mac, deadline, max_sends: usize::MAX, sending: DISCOVER };
        let offer = ask.run(t, &discover(xid, mac, secs()), |r| r.kind == OFFER && r.server_id.is_some(), &mut seen)?;
        let Some(offer) = offer else { break };
        let server = offer.server_id.unwrap_or(Ipv4Addr::UNSPECIFIED);
        seen.offer = Some((offer.yiaddr, server));
        let ask = Exchange { xid, mac, deadline, max_sends: REQUEST_SENDS, sending: REQUEST };
        let request = request(xid, mac, secs(), offer.yiaddr, server);
        let answer =
            ask.run(t, &request, |r| (r.kind == ACK || r.kind == NAK) && r.server_id == Some(server), &mut seen)?;
        match answer {
            Some(ack) if ack.kind == ACK => return lease_from_ack(&ack, server),
            Some(_) => {
                seen.naks += 1;
                xid = xid.wrapping_add(1);
            }
            None => {}
        }
    }
    Err(seen.describe(deadline.saturating_duration_since(started)))
}

/// One message sent with retransmissions until an accepted reply.
struct Exchange<'a> {
    xid: u32,
    mac: &'a [u8; 6],
    deadline: Instant,
    max_sends: usize,
    /// DISCOVER or REQUEST: which count in `Seen` a send adds to.
    sending: u8,
}

impl Exchange<'_> {
    fn run(
        &self,
        t: &mut dyn Transport,
        msg: &[u8],
        accept: impl Fn(&Reply) -> bool,
        seen: &mut Seen,
    ) -> Result<Option<Reply>, String> {
        let mut wait = FIRST_RETRANSMIT;
        let mut buf = vec![0u8; 2048];
        for _ in 0..self.max_sends {
            let now = Instant::now();
            if now >= self.deadline {
                break;
            }
            t.send(msg).map_err(|e| format!("sending to 255.255.255.255:{SERVER_PORT}: {e}"))?;
            if self.sending == REQUEST {
                seen.requests += 1;
            } else {
                seen.discovers += 1;
            }
            let until = (now + wait).min(self.deadline);
            while let Some(n) = t.recv(&mut buf, until).map_err(|e| format!("receiving: {e}"))? {
                match parse_reply(&buf[..n.min(buf.len())]) {
                    Ok(r) if r.xid != self.xid || r.chaddr != *self.mac => {
                        seen.ignore(format!("a reply to another transaction ({:08x})", r.xid))
                    }
                    Ok(r) if accept(&r) => return Ok(Some(r)),
                    Ok(r) => seen.ignore(format!("message type {} from {:?}", r.kind, r.server_id)),
                    Err(e) => seen.ignore(e),
                }
            }
            wait = (wait * 2).min(MAX_RETRANSMIT);
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    const SERVER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);

    /// A reply as dnsmasq sends it (the OFFER of tests/net's run, by hand):
    /// the fixed part, the cookie, then options 53, 54, 51, 58, 59, 1, 28,
    /// 3, 26 and the end.
    fn server_reply(kind: u8, xid: u32, yiaddr: [u8; 4]) -> Vec<u8> {
        let mut m = vec![2, 1, 6, 0]; // BOOTREPLY, Ethernet, hlen 6, hops 0
        m.extend_from_slice(&xid.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0x80, 0]); // secs 0, flags: broadcast
        m.extend_from_slice(&[0, 0, 0, 0]); // ciaddr
        m.extend_from_slice(&yiaddr); // yiaddr
        m.extend_from_slice(&[10, 77, 0, 1]); // siaddr (next server)
        m.extend_from_slice(&[0, 0, 0, 0]); // giaddr
        m.extend_from_slice(&MAC);
        m.resize(236, 0); // chaddr padding, sname, file
        m.extend_from_slice(&[99, 130, 83, 99]);
        #[rustfmt::skip]
        m.extend_from_slice(&[
            53, 1, kind,
            54, 4, 10, 77, 0, 1,
            51, 4, 0, 0, 0x0e, 0x10,    // lease 3600 s
            58, 4, 0, 0, 0x07, 0x08,    // T1
            59, 4, 0, 0, 0x0c, 0x4e,    // T2
            1, 4, 255, 255, 255, 0,
            28, 4, 10, 77, 0, 255,      // broadcast address: not used
            3, 4, 10, 77, 0, 1,
            26, 2, 0x05, 0x78,          // MTU 1400
            255,
        ]);
        m
    }

    #[test]
    fn discover_bytes() {
        let d = discover(0x01020304, &MAC, 3);
        assert_eq!(d.len(), MIN_REQUEST_LEN);
        assert_eq!(&d[..12], &[1, 1, 6, 0, 1, 2, 3, 4, 0, 3, 0x80, 0]);
        assert_eq!(&d[12..28], &[0; 16]);
        assert_eq!(&d[28..34], &MAC);
        assert!(d[34..236].iter().all(|b| *b == 0));
        #[rustfmt::skip]
        let options = [
            99, 130, 83, 99,
            53, 1, 1,
            61, 7, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
            55, 3, 1, 3, 26,
            255,
        ];
        assert_eq!(&d[236..236 + options.len()], &options);
        assert!(d[236 + options.len()..].iter().all(|b| *b == 0));
    }

    #[test]
    fn request_bytes() {
        let r = request(7, &MAC, 0, Ipv4Addr::new(10, 77, 0, 128), SERVER);
        assert_eq!(r.len(), MIN_REQUEST_LEN);
        assert_eq!(&r[..12], &[1, 1, 6, 0, 0, 0, 0, 7, 0, 0, 0x80, 0]);
        #[rustfmt::skip]
        let options = [
            53, 1, 3,
            50, 4, 10, 77, 0, 128,
            54, 4, 10, 77, 0, 1,
            61, 7, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
            55, 3, 1, 3, 26,
            255,
        ];
        assert_eq!(&r[240..240 + options.len()], &options);
    }

    #[test]
    fn an_offer_and_an_ack_as_dnsmasq_sends_them() {
        let offer = parse_reply(&server_reply(OFFER, 0xdeadbeef, [10, 77, 0, 128])).unwrap();
        assert_eq!(
            offer,
            Reply {
                kind: OFFER,
                xid: 0xdeadbeef,
                chaddr: MAC,
                yiaddr: Ipv4Addr::new(10, 77, 0, 128),
                server_id: Some(SERVER),
                subnet_mask: Some(Ipv4Addr::new(255, 255, 255, 0)),
                router: Some(SERVER),
                mtu: Some(1400),
                lease_secs: Some(3600),
            }
        );
        let ack = parse_reply(&server_reply(ACK, 0xdeadbeef, [10, 77, 0, 128])).unwrap();
        assert_eq!(
            lease_from_ack(&ack, SERVER).unwrap(),
            Lease {
                addr: Ipv4Addr::new(10, 77, 0, 128),
                prefix: 24,
                router: Some(SERVER),
                mtu: Some(1400),
                server: SERVER,
                lease_secs: Some(3600)
            }
        );
    }

    #[test]
    fn leases_need_a_usable_address_and_a_contiguous_mask() {
        let mut ack = parse_reply(&server_reply(ACK, 1, [10, 77, 0, 128])).unwrap();
        ack.subnet_mask = Some(Ipv4Addr::new(255, 0, 255, 0));
        assert!(lease_from_ack(&ack, SERVER).unwrap_err().contains("255.0.255.0"));
        ack.subnet_mask = None;
        assert_eq!(lease_from_ack(&ack, SERVER).unwrap().prefix, 8);
        ack.yiaddr = Ipv4Addr::UNSPECIFIED;
        assert!(lease_from_ack(&ack, SERVER).unwrap_err().contains("0.0.0.0"));
        let mut small_mtu = parse_reply(&server_reply(ACK, 1, [192, 168, 1, 2])).unwrap();
        small_mtu.mtu = Some(60);
        assert_eq!(lease_from_ack(&small_mtu, SERVER).unwrap().mtu, None);
    }

    #[test]
    fn malformed_replies_are_refused_naming_the_fault() {
        let good = server_reply(OFFER, 1, [10, 77, 0, 128]);
        let with = |at: usize, b: u8| {
            let mut m = good.clone();
            m[at] = b;
            m
        };
        assert!(parse_reply(&good[..239]).unwrap_err().contains("239-byte"));
        assert!(parse_reply(&with(0, 1)).unwrap_err().contains("BOOTREPLY"));
        assert!(parse_reply(&with(2, 16)).unwrap_err().contains("not Ethernet"));
        assert!(parse_reply(&with(236, 0)).unwrap_err().contains("magic cookie"));
        assert!(parse_reply(&with(241, 2)).unwrap_err().contains("option 53 has length 2"));
        // An option whose length runs past the end.
        let mut long = good[..good.len() - 1].to_vec();
        long.extend_from_slice(&[12, 10, b'h']);
        assert!(parse_reply(&long).unwrap_err().contains("runs past the end"));
        let mut twice = good[..good.len() - 1].to_vec();
        twice.extend_from_slice(&[1, 4, 255, 255, 0, 0, 255]);
        assert!(parse_reply(&twice).unwrap_err().contains("option 1 appears twice"));
        let mut no_type = good[..240].to_vec();
        no_type.push(255);
        assert!(parse_reply(&no_type).unwrap_err().contains("option 53"));
        // Options running to the end without an end option are accepted.
        assert!(parse_reply(&good[..good.len() - 1]).is_ok());
    }

    /// xorshift64: deterministic, no crate.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn no_input_makes_the_parser_panic() {
        let good = server_reply(ACK, 1, [10, 77, 0, 128]);
        for cut in 0..=good.len() {
            let _ = parse_reply(&good[..cut]);
        }
        let mut state = 0x9e3779b97f4a7c15;
        for _ in 0..20_000 {
            let mut m = good.clone();
            // Mutate a few bytes, mostly in the options, then maybe cut.
            for _ in 0..(next(&mut state) % 6) {
                let at = 230 + (next(&mut state) as usize % (m.len() - 230));
                m[at] = next(&mut state) as u8;
            }
            m.truncate(next(&mut state) as usize % (m.len() + 1));
            if let Ok(r) = parse_reply(&m) {
                let _ = lease_from_ack(&r, SERVER);
            }
            // And wholly random bytes after a valid header.
            let len = 240 + next(&mut state) as usize % 300;
            let mut r = good[..240].to_vec();
            r.resize(len, 0);
            for b in &mut r[240..] {
                *b = next(&mut state) as u8;
            }
            let _ = parse_reply(&r);
        }
    }

    /// A server that answers each message the client sends with the
    /// replies queued for it; no reply means waiting until `until`.
    struct FakeServer {
        sent: Vec<Vec<u8>>,
        answers: VecDeque<Vec<Vec<u8>>>,
        pending: VecDeque<Vec<u8>>,
    }

    impl Transport for FakeServer {
        fn send(&mut self, msg: &[u8]) -> io::Result<()> {
            self.sent.push(msg.to_vec());
            self.pending.extend(self.answers.pop_front().unwrap_or_default());
            Ok(())
        }
        fn recv(&mut self, buf: &mut [u8], until: Instant) -> io::Result<Option<usize>> {
            match self.pending.pop_front() {
                Some(m) => {
                    buf[..m.len()].copy_from_slice(&m);
                    Ok(Some(m.len()))
                }
                None => {
                    std::thread::sleep(until.saturating_duration_since(Instant::now()));
                    Ok(None)
                }
            }
        }
    }

    fn fake(answers: Vec<Vec<Vec<u8>>>) -> FakeServer {
        FakeServer { sent: Vec::new(), answers: answers.into(), pending: VecDeque::new() }
    }

    fn message_type(msg: &[u8]) -> u8 {
        msg[242]
    }

    #[test]
    fn discover_offer_request_ack_ignoring_other_transactions() {
        let mut server = fake(vec![
            vec![server_reply(OFFER, 99, [10, 77, 0, 5]), server_reply(OFFER, 7, [10, 77, 0, 128])],
            vec![server_reply(OFFER, 7, [10, 77, 0, 128]), server_reply(ACK, 7, [10, 77, 0, 128])],
        ]);
        let now = Instant::now();
        let lease = run_client(&mut server, &MAC, 7, now, now + Duration::from_secs(5)).unwrap();
        assert_eq!((lease.addr, lease.prefix, lease.router), (Ipv4Addr::new(10, 77, 0, 128), 24, Some(SERVER)));
        assert_eq!(server.sent.iter().map(|m| message_type(m)).collect::<Vec<_>>(), [DISCOVER, REQUEST]);
        assert_eq!(&server.sent[1][243..249], &[50, 4, 10, 77, 0, 128]);
    }

    #[test]
    fn a_nak_starts_over_with_a_new_transaction() {
        let mut server = fake(vec![
            vec![server_reply(OFFER, 7, [10, 77, 0, 128])],
            vec![server_reply(NAK, 7, [0, 0, 0, 0])],
            vec![server_reply(OFFER, 8, [10, 77, 0, 129])],
            vec![server_reply(ACK, 8, [10, 77, 0, 129])],
        ]);
        let now = Instant::now();
        let lease = run_client(&mut server, &MAC, 7, now, now + Duration::from_secs(5)).unwrap();
        assert_eq!(lease.addr, Ipv4Addr::new(10, 77, 0, 129));
        assert_eq!(server.sent.len(), 4);
        assert_eq!(&server.sent[2][4..8], &8u32.to_be_bytes());
    }

    #[test]
    fn silence_is_an_error_saying_what_was_sent_and_seen() {
        let mut server = fake(vec![vec![server_reply(OFFER, 1234, [10, 77, 0, 5])]]);
        let now = Instant::now();
        let e = run_client(&mut server, &MAC, 7, now, now + Duration::from_millis(300)).unwrap_err();
        assert_eq!(
            e,
            "no DHCPOFFER after 0.3 s (1 DISCOVERs sent, 1 replies ignored, the last: a reply to another transaction (000004d2))"
        );
        let mut server = fake(vec![vec![server_reply(OFFER, 7, [10, 77, 0, 128])]]);
        let now = Instant::now();
        let e = run_client(&mut server, &MAC, 7, now, now + Duration::from_millis(300)).unwrap_err();
        assert_eq!(e, "no DHCPACK after 0.3 s (last offer 10.77.0.128 from 10.77.0.1; 1 DISCOVERs, 1 REQUESTs sent, no other replies)");
    }
}
