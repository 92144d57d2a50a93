//! The way to a remote dump target from this machine, read at arm time
//! while the system is healthy: the server's IPv4 address (the capture
//! kernel has no resolver), the route to it (`ip -j route get`), the
//! interface's address, MAC, MTU and NIC driver, so the capture kernel can
//! bring the same interface up the same way.
//!
//! Out of scope, and refused with what to do: IPv6 (the capture kernel
//! configures IPv4 only), VLAN, bonding, bridge and team interfaces (the
//! capture kernel brings up one plain interface, found by its MAC).
//!
//! `ip` runs through [`NetProbe`], so the parsers and the resolution are
//! tested with fixture JSON; sysfs is read below a root directory.

use kexdump_engine::net_config::{NetAddress, NetConfig};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::Path;
use std::process::Command;

/// What the resolution asks of the system.
pub trait NetProbe {
    /// The standard output of `ip ARGS`; an error names the command and
    /// what it printed.
    fn ip(&self, args: &[&str]) -> Result<String, String>;
    /// The addresses of a host name (the system's resolver).
    fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, String>;
}

/// The running system: `ip` from iproute2, the libc resolver.
pub struct Live;

impl NetProbe for Live {
    fn ip(&self, args: &[&str]) -> Result<String, String> {
        let shown = format!("ip {}", args.join(" "));
        let out = Command::new("ip")
            .args(args)
            .output()
            .map_err(|e| format!("cannot run `{shown}`: {e} (install iproute2)"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(format!("`{shown}` failed ({}): {}", out.status, err.trim()));
        }
        String::from_utf8(out.stdout).map_err(|_| format!("`{shown}` printed something that is not UTF-8"))
    }

    fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        (host, 0)
            .to_socket_addrs()
            .map(|a| a.map(|s| s.ip()).collect())
            .map_err(|e| format!("cannot resolve {host}: {e}"))
    }
}

/// The IPv4 address of `host` (a name or an address).
pub fn resolve_host(probe: &dyn NetProbe, host: &str) -> Result<Ipv4Addr, String> {
    let v6 = "IPv6 targets are not supported (the capture kernel configures IPv4 only): \
              name the server by an IPv4 address or a name with an A record";
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => return Ok(a),
        Ok(IpAddr::V6(a)) => return Err(format!("{a}: {v6}")),
        Err(_) => {}
    }
    let addrs = probe.lookup(host)?;
    addrs
        .iter()
        .find_map(|a| match a {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        })
        .ok_or_else(|| {
            if addrs.is_empty() {
                format!("{host} resolves to no address")
            } else {
                format!("{host} has only IPv6 addresses; {v6}")
            }
        })
}

/// What `ip -j route get ADDR` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub dev: String,
    pub gateway: Option<Ipv4Addr>,
    pub prefsrc: Option<Ipv4Addr>,
    /// `local`, `unicast`, ...: a `local` route is this machine itself.
    pub kind: Option<String>,
}

fn json(text: &str, what: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{what} printed no JSON ({e}): is iproute2 older than 4.14?"))
}

fn ipv4(v: &Value, key: &str, what: &str) -> Result<Option<Ipv4Addr>, String> {
    match v.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => {
            s.parse().map(Some).map_err(|_| format!("{what}: {key} {s:?} is not an IPv4 address"))
        }
        Some(x) => Err(format!("{what}: {key} is {x}, not an address")),
    }
}

/// Parse `ip -j route get ADDR`: a one-element array.
pub fn parse_route(text: &str) -> Result<Route, String> {
    let what = "ip -j route get";
    let v = json(text, what)?;
    let r = v.as_array().and_then(|a| a.first()).ok_or_else(|| format!("{what}: no route"))?;
    let dev = r.get("dev").and_then(Value::as_str).ok_or_else(|| format!("{what}: the route names no device"))?;
    Ok(Route {
        dev: dev.to_owned(),
        gateway: ipv4(r, "gateway", what)?,
        prefsrc: ipv4(r, "prefsrc", what)?,
        kind: r.get("type").and_then(Value::as_str).map(String::from),
    })
}

/// One IPv4 address of an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfAddr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
    /// Given by DHCP (it has a lifetime): the capture kernel asks DHCP too.
    pub dynamic: bool,
}

/// Parse `ip -j -4 addr show dev IF`: the `inet` entries of `addr_info`.
pub fn parse_addrs(text: &str) -> Result<Vec<IfAddr>, String> {
    let what = "ip -j -4 addr show";
    let v = json(text, what)?;
    let mut out = Vec::new();
    for link in v.as_array().map(Vec::as_slice).unwrap_or_default() {
        for a in link.get("addr_info").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            if a.get("family").and_then(Value::as_str).is_some_and(|f| f != "inet") {
                continue;
            }
            let Some(addr) = ipv4(a, "local", what)? else { continue };
            let prefix = a
                .get("prefixlen")
                .and_then(Value::as_u64)
                .and_then(|p| u8::try_from(p).ok())
                .filter(|p| *p <= 32)
                .ok_or_else(|| format!("{what}: {addr} has no prefix length 0-32"))?;
            let dynamic = a.get("dynamic").and_then(Value::as_bool).unwrap_or(false);
            out.push(IfAddr { addr, prefix, dynamic });
        }
    }
    Ok(out)
}

/// Parse `ip -j -d link show dev IF`: `linkinfo.info_kind` (vlan, bond,
/// bridge, team, ...), `None` for a plain interface.
pub fn parse_link_kind(text: &str) -> Result<Option<String>, String> {
    let v = json(text, "ip -j -d link show")?;
    let link = v.as_array().and_then(|a| a.first());
    Ok(link.and_then(|l| l.get("linkinfo")).and_then(|i| i.get("info_kind")).and_then(Value::as_str).map(String::from))
}

/// Why an interface of `kind` cannot carry the dump, and what to do.
fn refuse_kind(ifname: &str, kind: &str) -> String {
    let what = match kind {
        "vlan" => "a VLAN interface",
        "bond" => "a bonding interface",
        "bridge" => "a bridge",
        "team" => "a team interface",
        _ => "a virtual interface",
    };
    format!(
        "{ifname} is {what} ({kind}): the capture kernel brings up one plain network interface only \
         (VLAN, bonding, bridges and teams are not supported). Set network.interface to a physical \
         interface with its own address on a network that reaches the server"
    )
}

/// An interface as sysfs shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub mac: [u8; 6],
    pub mtu: u32,
    /// The NIC driver's module; `None`: built into the kernel.
    pub driver: Option<String>,
}

/// Read `/sys/class/net/<name>` under `root`.
pub fn read_interface(root: &Path, name: &str) -> Result<Interface, String> {
    if name.is_empty() || name.contains(['/', '\0']) || name == "." || name == ".." {
        return Err(format!("{name:?} is not an interface name"));
    }
    let dir = root.join("sys/class/net").join(name);
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .map(|s| s.trim().to_owned())
            .map_err(|e| format!("/sys/class/net/{name}/{f}: {e}"))
    };
    if !dir.exists() {
        return Err(format!(
            "there is no interface {name} (/sys/class/net/{name} does not exist; `ip link` lists them)"
        ));
    }
    for (sub, kind) in [("bonding", "bond"), ("bridge", "bridge")] {
        if dir.join(sub).exists() {
            return Err(refuse_kind(name, kind));
        }
    }
    let mac = kexdump_engine::net_config::parse_mac(&read("address")?)
        .map_err(|e| format!("/sys/class/net/{name}/address: {e}"))?;
    let mtu = read("mtu")?.parse::<u32>().map_err(|_| format!("/sys/class/net/{name}/mtu is not a number"))?;
    if !dir.join("device").exists() {
        return Err(format!(
            "{name} has no device (/sys/class/net/{name}/device): it is not a network card the capture \
             kernel can drive. Set network.interface to a physical interface"
        ));
    }
    let driver = std::fs::read_link(dir.join("device/driver/module"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    Ok(Interface { name: name.to_owned(), mac, mtu, driver })
}

/// `[network]` as written; empty (or 0) means "as this machine has it now".
#[derive(Clone, Copy, Debug, Default)]
pub struct Wanted<'a> {
    pub interface: &'a str,
    pub address: &'a str,
    pub gateway: &'a str,
    pub mtu: u32,
    pub driver: &'a str,
}

/// The way to the server, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub interface: String,
    pub net: NetConfig,
    /// The NIC driver module for the image; `None`: built in.
    pub driver: Option<String>,
}

/// A resolution error and the configuration key it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetError {
    pub key: &'static str,
    pub msg: String,
}

fn at(key: &'static str) -> impl Fn(String) -> NetError {
    move |msg| NetError { key, msg }
}

/// Find how this machine reaches `server`, with `w`'s settings winning
/// over what the system has.
pub fn resolve(root: &Path, probe: &dyn NetProbe, server: Ipv4Addr, w: &Wanted) -> Result<Resolved, NetError> {
    let addr = server.to_string();
    let route = parse_route(&probe.ip(&["-j", "route", "get", &addr]).map_err(at("target.target"))?)
        .map_err(|m| NetError { key: "target.target", msg: format!("the route to {server}: {m}") })?;
    let (ifname, if_key) = if w.interface.is_empty() {
        (route.dev.clone(), "target.target")
    } else {
        (w.interface.to_owned(), "network.interface")
    };
    if ifname == "lo" || route.kind.as_deref() == Some("local") && w.interface.is_empty() {
        return Err(NetError {
            key: if_key,
            msg: format!(
                "{server} is this machine itself (reached through {ifname}): the dump must go to another \
                 machine, which the capture kernel reaches over a network card"
            ),
        });
    }
    let kind = parse_link_kind(&probe.ip(&["-j", "-d", "link", "show", "dev", &ifname]).map_err(at(if_key))?)
        .map_err(at(if_key))?;
    if let Some(kind) = kind {
        return Err(NetError { key: if_key, msg: refuse_kind(&ifname, &kind) });
    }
    let iface = read_interface(root, &ifname).map_err(at(if_key))?;
    let on_route = ifname == route.dev;
    let address = match w.address {
        "" => {
            let addrs = parse_addrs(&probe.ip(&["-j", "-4", "addr", "show", "dev", &ifname]).map_err(at(if_key))?)
                .map_err(at(if_key))?;
            let chosen = addrs.iter().find(|a| on_route && Some(a.addr) == route.prefsrc).or(addrs.first());
            match chosen {
                Some(a) if a.dynamic => NetAddress::Dhcp,
                Some(a) => NetAddress::Static { addr: a.addr, prefix: a.prefix },
                None => {
                    return Err(NetError {
                        key: "network.address",
                        msg: format!("{ifname} has no IPv4 address now: set network.address (dhcp or a.b.c.d/nn)"),
                    })
                }
            }
        }
        a => a.parse().map_err(at("network.address"))?,
    };
    let gateway = match w.gateway {
        "" if on_route => route.gateway,
        "" => None,
        g => Some(
            g.parse().map_err(|_| NetError { key: "network.gateway", msg: format!("{g:?} is not an IPv4 address") })?,
        ),
    };
    let mtu = Some(if w.mtu == 0 { iface.mtu } else { w.mtu });
    let driver = if w.driver.is_empty() { iface.driver.clone() } else { Some(w.driver.to_owned()) };
    Ok(Resolved { interface: ifname, net: NetConfig { mac: iface.mac, address, gateway, mtu }, driver })
}

/// The resolution for people: `eth0 (52:54:00:12:34:56, 10.0.2.15/24, gateway 10.0.2.2, MTU 1500, driver virtio_net)`.
pub fn describe(r: &Resolved) -> String {
    use kexdump_engine::net_config::format_mac;
    let gw = r.net.gateway.map_or("no gateway (on-link)".to_owned(), |g| format!("gateway {g}"));
    let mtu = r.net.mtu.map_or(String::new(), |m| format!(", MTU {m}"));
    let driver = r.driver.as_deref().map_or("driver built in".to_owned(), |d| format!("driver {d}"));
    format!("{} ({}, {}, {gw}{mtu}, {driver})", r.interface, format_mac(&r.net.mac), r.net.address)
}

/// Fixtures: `ip` answers and a sysfs tree, for this module's tests and
/// the configuration's.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;
    use std::collections::BTreeMap;

    /// Canned `ip` output by its arguments, and a name table.
    #[derive(Default)]
    pub struct Fake {
        pub ip: BTreeMap<String, String>,
        pub names: BTreeMap<String, Vec<IpAddr>>,
    }

    impl NetProbe for Fake {
        fn ip(&self, args: &[&str]) -> Result<String, String> {
            let k = args.join(" ");
            self.ip.get(&k).cloned().ok_or_else(|| format!("`ip {k}` failed (exit status: 1): Cannot find device"))
        }
        fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, String> {
            self.names.get(host).cloned().ok_or_else(|| format!("cannot resolve {host}: Name or service not known"))
        }
    }

    pub const ROUTE: &str = r#"[{"dst":"192.0.2.10","gateway":"10.0.2.2","dev":"eth0","prefsrc":"10.0.2.15","flags":[],"uid":0,"cache":[]}]"#;
    pub const ADDR_STATIC: &str = r#"[{"ifindex":2,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"fq_codel","operstate":"UP","group":"default","txqlen":1000,"addr_info":[{"family":"inet","local":"10.0.2.15","prefixlen":24,"broadcast":"10.0.2.255","scope":"global","label":"eth0","valid_life_time":4294967295,"preferred_life_time":4294967295}]}]"#;
    pub const ADDR_DHCP: &str = r#"[{"ifindex":2,"ifname":"eth0","addr_info":[{"family":"inet","local":"10.0.2.15","prefixlen":24,"broadcast":"10.0.2.255","scope":"global","dynamic":true,"noprefixroute":true,"label":"eth0","valid_life_time":86183,"preferred_life_time":86183}]}]"#;
    pub const LINK_PLAIN: &str = r#"[{"ifindex":2,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"link_type":"ether","address":"52:54:00:12:34:56","promiscuity":0,"min_mtu":68,"max_mtu":65535,"num_tx_queues":1,"num_rx_queues":1,"parentbus":"virtio","parentdev":"virtio0"}]"#;

    /// A machine with eth0 (virtio_net, static 10.0.2.15/24) routing to
    /// 192.0.2.10 through 10.0.2.2; `server.example` resolves to it.
    pub fn machine(root: &Path) -> Fake {
        let net = root.join("sys/class/net/eth0");
        std::fs::create_dir_all(net.join("device/driver")).unwrap();
        std::fs::create_dir_all(root.join("sys/module/virtio_net")).unwrap();
        std::os::unix::fs::symlink(root.join("sys/module/virtio_net"), net.join("device/driver/module")).unwrap();
        std::fs::write(net.join("address"), "52:54:00:12:34:56\n").unwrap();
        std::fs::write(net.join("mtu"), "1500\n").unwrap();
        let mut f = Fake::default();
        f.ip.insert("-j route get 192.0.2.10".into(), ROUTE.into());
        f.ip.insert("-j -d link show dev eth0".into(), LINK_PLAIN.into());
        f.ip.insert("-j -4 addr show dev eth0".into(), ADDR_STATIC.into());
        f.names.insert("server.example".into(), vec!["2001:db8::10".parse().unwrap(), "192.0.2.10".parse().unwrap()]);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::*;
    use super::*;

    #[test]
    fn route_json() {
        let r = parse_route(ROUTE).unwrap();
        assert_eq!(
            r,
            Route {
                dev: "eth0".into(),
                gateway: Some("10.0.2.2".parse().unwrap()),
                prefsrc: Some("10.0.2.15".parse().unwrap()),
                kind: None
            }
        );
        // On-link: no gateway.
        let r = parse_route(r#"[{"dst":"10.0.2.9","dev":"ens3","prefsrc":"10.0.2.15","flags":[],"uid":0,"cache":[]}]"#)
            .unwrap();
        assert_eq!((r.dev.as_str(), r.gateway), ("ens3", None));
        let r = parse_route(r#"[{"type":"local","dst":"127.0.0.1","dev":"lo","prefsrc":"127.0.0.1"}]"#).unwrap();
        assert_eq!((r.dev.as_str(), r.kind.as_deref()), ("lo", Some("local")));
        assert!(parse_route("[]").unwrap_err().contains("no route"));
        assert!(parse_route("10.0.2.2 via eth0").unwrap_err().contains("no JSON"));
        assert!(parse_route(r#"[{"dst":"x","gateway":"fe80::1","dev":"eth0"}]"#).unwrap_err().contains("gateway"));
    }

    #[test]
    fn addr_json() {
        assert_eq!(
            parse_addrs(ADDR_STATIC).unwrap(),
            [IfAddr { addr: "10.0.2.15".parse().unwrap(), prefix: 24, dynamic: false }]
        );
        assert!(parse_addrs(ADDR_DHCP).unwrap()[0].dynamic);
        assert_eq!(parse_addrs(r#"[{"ifname":"eth1","addr_info":[]}]"#).unwrap(), []);
        assert_eq!(parse_addrs("[]").unwrap(), []);
        let two = r#"[{"addr_info":[{"family":"inet","local":"10.1.0.1","prefixlen":16},{"family":"inet","local":"10.2.0.1","prefixlen":8,"dynamic":true}]}]"#;
        assert_eq!(parse_addrs(two).unwrap().len(), 2);
        assert!(parse_addrs(r#"[{"addr_info":[{"local":"10.1.0.1","prefixlen":33}]}]"#).is_err());
    }

    #[test]
    fn link_kind_json() {
        assert_eq!(parse_link_kind(LINK_PLAIN).unwrap(), None);
        let vlan = r#"[{"ifname":"eth0.10","link":"eth0","linkinfo":{"info_kind":"vlan","info_data":{"protocol":"802.1Q","id":10}}}]"#;
        assert_eq!(parse_link_kind(vlan).unwrap().as_deref(), Some("vlan"));
        let bond = r#"[{"ifname":"bond0","linkinfo":{"info_kind":"bond","info_data":{"mode":"active-backup"}}}]"#;
        assert_eq!(parse_link_kind(bond).unwrap().as_deref(), Some("bond"));
    }

    #[test]
    fn host_names_resolve_to_ipv4() {
        let f = machine(tempfile::tempdir().unwrap().path());
        assert_eq!(resolve_host(&f, "192.0.2.10").unwrap(), Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(resolve_host(&f, "server.example").unwrap(), Ipv4Addr::new(192, 0, 2, 10));
        assert!(resolve_host(&f, "fd00::1").unwrap_err().contains("IPv6 targets are not supported"));
        assert!(resolve_host(&f, "nowhere.example").unwrap_err().contains("cannot resolve nowhere.example"));
    }

    #[test]
    fn resolution_takes_what_the_system_has() {
        let d = tempfile::tempdir().unwrap();
        let mut f = machine(d.path());
        let server = Ipv4Addr::new(192, 0, 2, 10);
        let r = resolve(d.path(), &f, server, &Wanted::default()).unwrap();
        assert_eq!(r.interface, "eth0");
        assert_eq!(r.driver.as_deref(), Some("virtio_net"));
        assert_eq!(
            r.net,
            NetConfig {
                mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
                address: NetAddress::Static { addr: "10.0.2.15".parse().unwrap(), prefix: 24 },
                gateway: Some("10.0.2.2".parse().unwrap()),
                mtu: Some(1500),
            }
        );
        assert_eq!(
            describe(&r),
            "eth0 (52:54:00:12:34:56, 10.0.2.15/24, gateway 10.0.2.2, MTU 1500, driver virtio_net)"
        );
        // A dynamic address: DHCP in the capture kernel too.
        f.ip.insert("-j -4 addr show dev eth0".into(), ADDR_DHCP.into());
        assert_eq!(resolve(d.path(), &f, server, &Wanted::default()).unwrap().net.address, NetAddress::Dhcp);
        // The settings win.
        let w = Wanted { address: "10.9.0.2/16", gateway: "10.9.0.1", mtu: 9000, driver: "e1000e", interface: "" };
        let r = resolve(d.path(), &f, server, &w).unwrap();
        assert_eq!(
            (r.net.address.to_string(), r.net.gateway, r.net.mtu, r.driver.as_deref()),
            ("10.9.0.2/16".into(), Some("10.9.0.1".parse().unwrap()), Some(9000), Some("e1000e"))
        );
    }

    #[test]
    fn vlans_bonds_bridges_loopback_and_missing_interfaces_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let mut f = machine(d.path());
        let server = Ipv4Addr::new(192, 0, 2, 10);
        f.ip.insert("-j -d link show dev eth0".into(), r#"[{"linkinfo":{"info_kind":"vlan"}}]"#.into());
        let e = resolve(d.path(), &f, server, &Wanted::default()).unwrap_err();
        assert!(e.msg.starts_with("eth0 is a VLAN interface (vlan)") && e.msg.contains("network.interface"), "{e:?}");
        f.ip.insert("-j -d link show dev eth0".into(), LINK_PLAIN.into());
        std::fs::create_dir(d.path().join("sys/class/net/eth0/bonding")).unwrap();
        let e = resolve(d.path(), &f, server, &Wanted::default()).unwrap_err();
        assert!(e.msg.starts_with("eth0 is a bonding interface"), "{e:?}");
        std::fs::remove_dir(d.path().join("sys/class/net/eth0/bonding")).unwrap();

        let e = resolve(d.path(), &f, server, &Wanted { interface: "eth9", ..Wanted::default() }).unwrap_err();
        assert_eq!(e.key, "network.interface");
        assert!(e.msg.contains("`ip -j -d link show dev eth9` failed"), "{e:?}");

        f.ip.insert(
            "-j route get 127.0.0.1".into(),
            r#"[{"type":"local","dst":"127.0.0.1","dev":"lo","prefsrc":"127.0.0.1"}]"#.into(),
        );
        let e = resolve(d.path(), &f, Ipv4Addr::LOCALHOST, &Wanted::default()).unwrap_err();
        assert!(e.msg.starts_with("127.0.0.1 is this machine itself (reached through lo)"), "{e:?}");

        f.ip.insert("-j -4 addr show dev eth0".into(), r#"[{"addr_info":[]}]"#.into());
        let e = resolve(d.path(), &f, server, &Wanted::default()).unwrap_err();
        assert_eq!(e.key, "network.address");
    }
}
