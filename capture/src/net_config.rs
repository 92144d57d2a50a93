//! The capture configuration's network settings: which interface the
//! capture kernel brings up and how, for a dump sent to an ssh or NFS
//! server. The host CLI writes them into /etc/kexdump-capture.conf and PID 1
//! reads them back, so both use these types and their text forms:
//!
//! ```text
//! net_mac = 52:54:00:12:34:56     the interface, by MAC address
//! net_address = dhcp              or 10.0.2.15/24
//! net_gateway = 10.0.2.2          or empty: the server is on-link
//! net_mtu = 1500                  or empty: the driver's default (or DHCP's)
//! ```
//!
//! The interface is named by its MAC address because interface names differ
//! in the capture kernel: it has no udev to give the predictable names, and
//! drivers probe in another order. Parse errors are Strings naming the bad
//! value, which the configuration reader prefixes with the line and key.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The smallest MTU an IPv4 interface may have (RFC 791: every host must
/// accept 68-byte datagrams unfragmented); the kernel refuses less.
pub const MIN_MTU: u32 = 68;
/// The largest IPv4 datagram; no link needs an MTU above it for IPv4.
pub const MAX_MTU: u32 = 65535;

/// One IPv4 interface of the capture kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetConfig {
    /// The interface, found by MAC address (names differ in the capture kernel).
    pub mac: [u8; 6],
    pub address: NetAddress,
    /// The default route's next hop. None: the server is on-link (no
    /// default route; for DHCP, the lease's router, if any, is used).
    pub gateway: Option<Ipv4Addr>,
    /// None: the driver's default, or what DHCP's option 26 says.
    pub mtu: Option<u32>,
}

/// How the interface gets its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetAddress {
    Dhcp,
    Static { addr: Ipv4Addr, prefix: u8 },
}

/// `52:54:00:12:34:56` (also `-` separated, any case) to bytes. All-zero,
/// broadcast and multicast addresses are refused: no NIC has them.
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let bad = || format!("{s:?} is not a MAC address (six hex bytes such as 52:54:00:12:34:56)");
    let sep = if s.contains('-') { '-' } else { ':' };
    let mut mac = [0u8; 6];
    let mut parts = s.split(sep);
    for byte in mac.iter_mut() {
        let part = parts.next().ok_or_else(bad)?;
        // from_str_radix alone would take "+5".
        if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    if mac == [0; 6] || mac[0] & 1 != 0 {
        return Err(format!("{s:?} is a zero, broadcast or multicast MAC address, not an interface's"));
    }
    Ok(mac)
}

/// The form `parse_mac` reads and sysfs writes: lower-case, colons.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// `net_gateway`'s value: empty for none, else a unicast IPv4 address.
pub fn parse_gateway(s: &str) -> Result<Option<Ipv4Addr>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    parse_unicast(s, "gateway").map(Some)
}

/// `net_gateway`'s text form: empty for none.
pub fn format_gateway(gateway: Option<Ipv4Addr>) -> String {
    gateway.map(|g| g.to_string()).unwrap_or_default()
}

/// `net_mtu`'s value: empty for the default, else MIN_MTU..=MAX_MTU.
pub fn parse_mtu(s: &str) -> Result<Option<u32>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<u32>() {
        Ok(m) if (MIN_MTU..=MAX_MTU).contains(&m) => Ok(Some(m)),
        _ => Err(format!("{s:?} is not an MTU ({MIN_MTU}-{MAX_MTU})")),
    }
}

/// `net_mtu`'s text form: empty for the default.
pub fn format_mtu(mtu: Option<u32>) -> String {
    mtu.map(|m| m.to_string()).unwrap_or_default()
}

/// An address an interface (or a gateway) can have: not 0.0.0.0, broadcast,
/// multicast or loopback. `what` names it in the error.
fn parse_unicast(s: &str, what: &str) -> Result<Ipv4Addr, String> {
    let addr: Ipv4Addr = s.parse().map_err(|_| format!("{s:?} is not an IPv4 address"))?;
    if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() || addr.is_loopback() {
        return Err(format!("{s:?} cannot be a {what} (unspecified, broadcast, multicast or loopback)"));
    }
    Ok(addr)
}

impl FromStr for NetAddress {
    type Err = String;
    /// `dhcp` or `ADDRESS/PREFIX` such as `10.0.2.15/24`: the prefix is
    /// required, since guessing it from the address class is wrong on most
    /// networks.
    fn from_str(s: &str) -> Result<NetAddress, String> {
        if s == "dhcp" {
            return Ok(NetAddress::Dhcp);
        }
        let (addr, prefix) =
            s.split_once('/').ok_or_else(|| format!("{s:?} is neither dhcp nor ADDRESS/PREFIX (10.0.2.15/24)"))?;
        let addr = parse_unicast(addr, "interface address").map_err(|e| format!("{s:?}: {e}"))?;
        let prefix = match prefix.parse::<u8>() {
            Ok(p) if p <= 32 => p,
            _ => return Err(format!("{prefix:?} in {s:?} is not a prefix length (0-32)")),
        };
        Ok(NetAddress::Static { addr, prefix })
    }
}

impl fmt::Display for NetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetAddress::Dhcp => f.write_str("dhcp"),
            NetAddress::Static { addr, prefix } => write!(f, "{addr}/{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_addresses_round_trip_and_accept_dashes_and_upper_case() {
        let mac = parse_mac("52:54:00:12:34:56").unwrap();
        assert_eq!(mac, [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        assert_eq!(format_mac(&mac), "52:54:00:12:34:56");
        assert_eq!(parse_mac("52-54-00-AB-cd-EF").unwrap(), [0x52, 0x54, 0, 0xab, 0xcd, 0xef]);
    }

    #[test]
    fn bad_mac_addresses_are_refused_naming_the_value() {
        for bad in [
            "",
            "52:54:00:12:34",
            "52:54:00:12:34:56:78",
            "52:54:00:12:34:5",
            "52:54:00:12:34:5g",
            "5254.0012.3456",
            "52:54:00:12:34:+5",
            "52:54-00:12:34:56",
            "00:00:00:00:00:00",
            "ff:ff:ff:ff:ff:ff",
            "01:00:5e:00:00:01",
        ] {
            let e = parse_mac(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn addresses_are_dhcp_or_address_slash_prefix() {
        assert_eq!("dhcp".parse::<NetAddress>().unwrap(), NetAddress::Dhcp);
        let a: NetAddress = "10.0.2.15/24".parse().unwrap();
        assert_eq!(a, NetAddress::Static { addr: Ipv4Addr::new(10, 0, 2, 15), prefix: 24 });
        for text in ["dhcp", "10.0.2.15/24", "192.168.1.7/32", "10.1.2.3/0"] {
            assert_eq!(text.parse::<NetAddress>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn bad_addresses_are_refused_naming_the_value() {
        for bad in [
            "",
            "DHCP",
            "10.0.2.15",
            "10.0.2.15/",
            "10.0.2.15/33",
            "10.0.2.15/-1",
            "10.0.2/24",
            "0.0.0.0/8",
            "255.255.255.255/32",
            "224.0.0.1/4",
            "127.0.0.1/8",
            "fe80::1/64",
        ] {
            let e = bad.parse::<NetAddress>().unwrap_err();
            assert!(e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn gateway_and_mtu_are_empty_or_valid() {
        assert_eq!(parse_gateway("").unwrap(), None);
        assert_eq!(parse_gateway("10.0.2.2").unwrap(), Some(Ipv4Addr::new(10, 0, 2, 2)));
        assert!(parse_gateway("10.0.2").unwrap_err().contains("\"10.0.2\""));
        assert!(parse_gateway("0.0.0.0").unwrap_err().contains("gateway"));
        assert_eq!(format_gateway(None), "");
        assert_eq!(format_gateway(Some(Ipv4Addr::new(10, 0, 2, 2))), "10.0.2.2");

        assert_eq!(parse_mtu("").unwrap(), None);
        assert_eq!(parse_mtu("1500").unwrap(), Some(1500));
        assert_eq!(parse_mtu("68").unwrap(), Some(68));
        assert_eq!(parse_mtu("65535").unwrap(), Some(65535));
        for bad in ["67", "65536", "0", "-1", "1500 ", "jumbo"] {
            assert!(parse_mtu(bad).unwrap_err().contains(&format!("{bad:?}")), "{bad}");
        }
        assert_eq!(format_mtu(Some(9000)), "9000");
        assert_eq!(format_mtu(None), "");
    }
}
