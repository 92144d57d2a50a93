//! Bringing up the one IPv4 interface a dump to an ssh or NFS server needs,
//! in a capture kernel with no udev, no `ip` tool and no DHCP client.
//!
//! The NIC's driver module was just loaded and probes asynchronously, and
//! the capture kernel names interfaces in its own order, so the interface
//! is found by MAC address, polling /sys/class/net. Then: MTU and up
//! (rtnetlink, `netlink.rs`), carrier, then a static address and default
//! route, or DHCP (`dhcp.rs`). Each wait (interface, carrier, DHCP) has the
//! whole `timeout`; each rtnetlink request is acked by the kernel at once.
//! Errors name the step and what was seen.

pub mod dhcp;
pub mod netlink;

use kexdump_engine::net_config::{format_mac, NetAddress, NetConfig};
use netlink::Rtnl;
use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

const SYS_CLASS_NET: &str = "/sys/class/net";
const POLL: Duration = Duration::from_millis(100);

/// The interface as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Up {
    pub ifname: String,
    pub addr: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv4Addr>,
    /// Whether the address came from DHCP.
    pub dhcp: bool,
}

/// Bring up `lo` and the interface `cfg` names, as `cfg` says. `say` gets a
/// line per step that may wait.
///
/// For DHCP, `cfg.gateway` overrides the lease's router and `cfg.mtu` the
/// lease's MTU. With no gateway at all, no default route is added: the
/// server is on the address's subnet.
pub fn bring_up(cfg: &NetConfig, timeout: Duration, say: &mut dyn FnMut(&str)) -> Result<Up, String> {
    let mut rtnl = Rtnl::open().map_err(|e| format!("opening an rtnetlink socket: {e}"))?;
    let lo = ifindex("lo")?;
    rtnl.request("setting lo up", |seq| netlink::set_link_up(seq, lo, None)).map_err(|e| e.to_string())?;

    let mac = format_mac(&cfg.mac);
    say(&format!("waiting for the interface with MAC {mac}"));
    let ifname = wait_for_interface(&cfg.mac, timeout)?;
    let index = ifindex(&ifname)?;
    let what = match cfg.mtu {
        Some(mtu) => format!("setting {ifname} up with MTU {mtu}"),
        None => format!("setting {ifname} up"),
    };
    rtnl.request(&what, |seq| netlink::set_link_up(seq, index, cfg.mtu)).map_err(|e| e.to_string())?;
    say(&format!("{ifname} ({mac}): waiting for carrier"));
    wait_for_carrier(&ifname, timeout)?;

    let (addr, prefix, gateway, dhcp) = match cfg.address {
        NetAddress::Static { addr, prefix } => (addr, prefix, cfg.gateway, false),
        NetAddress::Dhcp => {
            say(&format!("{ifname}: DHCP"));
            let lease = dhcp::obtain_lease(&ifname, &cfg.mac, timeout)?;
            if let (None, Some(mtu)) = (cfg.mtu, lease.mtu) {
                let what = format!("setting {ifname}'s MTU to {mtu} (DHCP option 26)");
                rtnl.request(&what, |seq| netlink::set_link_up(seq, index, Some(mtu))).map_err(|e| e.to_string())?;
            }
            (lease.addr, lease.prefix, cfg.gateway.or(lease.router), true)
        }
    };
    let what = format!("adding {addr}/{prefix} to {ifname}");
    rtnl.request(&what, |seq| netlink::add_address(seq, index, addr, prefix)).map_err(|e| e.to_string())?;
    if let Some(gw) = gateway {
        let onlink = !netlink::same_subnet(addr, prefix, gw);
        let what = format!("adding the default route via {gw} on {ifname}{}", if onlink { " (on-link)" } else { "" });
        rtnl.request(&what, |seq| netlink::add_default_route(seq, index, gw, onlink)).map_err(|e| e.to_string())?;
    }
    let via = gateway.map(|g| format!(", default route via {g}")).unwrap_or_default();
    say(&format!("{ifname}: {addr}/{prefix}{via}{}", if dhcp { " (DHCP)" } else { "" }));
    Ok(Up { ifname, addr, prefix, gateway, dhcp })
}

/// /sys/class/net/NAME/ifindex.
fn ifindex(ifname: &str) -> Result<u32, String> {
    let path = Path::new(SYS_CLASS_NET).join(ifname).join("ifindex");
    let text = fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    text.trim().parse().map_err(|_| format!("{} holds {:?}, not an interface index", path.display(), text.trim()))
}

/// Each interface's name and MAC address as sysfs says, sorted by name.
fn interfaces() -> Vec<(String, String)> {
    let Ok(dir) = fs::read_dir(SYS_CLASS_NET) else { return Vec::new() };
    let mut found: Vec<(String, String)> = dir
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let mac = fs::read_to_string(e.path().join("address")).unwrap_or_default().trim().to_ascii_lowercase();
            (name, mac)
        })
        .collect();
    found.sort();
    found
}

/// The interface with `mac`, polling until `timeout`. When several have it
/// (a VLAN or bond over the NIC), the one with a device behind it.
fn wait_for_interface(mac: &[u8; 6], timeout: Duration) -> Result<String, String> {
    let wanted = format_mac(mac);
    let started = Instant::now();
    loop {
        let all = interfaces();
        let matching: Vec<&String> = all.iter().filter(|(_, m)| *m == wanted).map(|(n, _)| n).collect();
        let physical = matching.iter().find(|n| Path::new(SYS_CLASS_NET).join(n).join("device").exists());
        if let Some(name) = physical.or(matching.first()) {
            return Ok((*name).clone());
        }
        if started.elapsed() >= timeout {
            let listed: Vec<String> = all
                .iter()
                .map(|(n, m)| if m.is_empty() || m == "00:00:00:00:00:00" { n.clone() } else { format!("{n} ({m})") })
                .collect();
            let listed = if listed.is_empty() { "none".to_owned() } else { listed.join(", ") };
            return Err(format!("no interface with MAC {wanted} after {} s; interfaces: {listed}", secs(timeout)));
        }
        sleep(POLL);
    }
}

/// Wait until /sys/class/net/NAME/carrier reads 1 (it reads EINVAL while
/// the interface is down, 0 while the link is) and operstate reads up (or
/// unknown, for drivers that do not report it). Carrier alone is not
/// enough: the kernel sets it at once but attaches the queueing discipline
/// in its link-watch work, up to a second later, and until then every
/// packet sent is dropped without an error; operstate changes in that same
/// work.
fn wait_for_carrier(ifname: &str, timeout: Duration) -> Result<(), String> {
    let dir = Path::new(SYS_CLASS_NET).join(ifname);
    let started = Instant::now();
    loop {
        let carrier = fs::read_to_string(dir.join("carrier"));
        let operstate = fs::read_to_string(dir.join("operstate")).unwrap_or_default();
        let operstate = operstate.trim();
        if carrier.as_deref().is_ok_and(|c| c.trim() == "1") && matches!(operstate, "up" | "unknown") {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            let carrier = match carrier {
                Ok(c) => c.trim().to_owned(),
                Err(e) => format!("unreadable: {e}"),
            };
            return Err(format!(
                "no carrier on {ifname} after {} s (carrier {carrier}, operstate {operstate})",
                secs(timeout)
            ));
        }
        sleep(POLL);
    }
}

/// "30" for whole seconds, "0.5" otherwise.
fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{:.1}", d.as_secs_f64())
    }
}
