//! The capture configuration: what `kexdump-capture`, running as PID 1 in
//! the capture kernel, must do. The host (`kexdump initramfs`) writes it
//! into the image as `/etc/kexdump-capture.conf`; the capture binary reads
//! it back. Both sides use this one type, so they cannot disagree.
//!
//! The text form is one `key = value` per line, `#` comments, no quoting:
//! the static binary stays small and an operator can read the file with
//! `zstdcat capture.img | cpio -i --to-stdout etc/kexdump-capture.conf`.
//! Unknown keys and bad values are errors naming the line and the key.

use crate::compress::Compression;
use crate::net_config::{self, NetAddress, NetConfig};
use crate::save::Format;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

pub const PATH_IN_IMAGE: &str = "etc/kexdump-capture.conf";
/// Where the image keeps its modules: `/lib/modules/<name>.ko`.
pub const MODULES_DIR_IN_IMAGE: &str = "lib/modules";
/// The ssh private key an ssh target logs in with, in the image (0600).
pub const SSH_IDENTITY_IN_IMAGE: &str = "etc/kexdump/ssh_identity";
/// The port of `ssh://` when the URL names none.
pub const SSH_PORT: u16 = 22;

/// The dump target, as an operator names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `UUID=...` of the file system (case-insensitive, dashes optional).
    Uuid(String),
    /// `LABEL=...` of the file system.
    Label(String),
    /// A block device path such as `/dev/vdb1`.
    Device(PathBuf),
    /// `ssh://user@address[:port]/directory`: the dump streams over SFTP
    /// in the flattened format into `directory/<path>/<time>-<host>/`.
    Ssh(SshTarget),
    /// `nfs://address/export`: mounted with the kernel's NFS client and
    /// written as a local file system.
    Nfs(NfsTarget),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshTarget {
    pub user: String,
    pub addr: SocketAddr,
    /// Absolute directory on the server.
    pub dir: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NfsTarget {
    pub server: IpAddr,
    /// The exported directory, absolute.
    pub export: String,
}

impl Target {
    /// Whether the target is reached over the network.
    pub fn is_remote(&self) -> bool {
        matches!(self, Target::Ssh(_) | Target::Nfs(_))
    }
}

/// An `ssh://` or `nfs://` URL taken apart; the host is a name or an
/// address (names are resolved by `kexdump arm`, while the system is
/// healthy: the capture kernel has no resolver).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteUrl {
    pub scheme: Scheme,
    /// ssh only.
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// Absolute; no `.` or `..` components, no empty ones.
    pub path: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Ssh,
    Nfs,
}

impl RemoteUrl {
    /// `None` when `s` is not a URL at all (another kind of target).
    pub fn parse(s: &str) -> Option<Result<RemoteUrl, String>> {
        let (scheme, rest) = if let Some(r) = s.strip_prefix("ssh://") {
            (Scheme::Ssh, r)
        } else if let Some(r) = s.strip_prefix("nfs://") {
            (Scheme::Nfs, r)
        } else {
            return None;
        };
        Some(RemoteUrl::parse_rest(s, scheme, rest))
    }

    fn parse_rest(s: &str, scheme: Scheme, rest: &str) -> Result<RemoteUrl, String> {
        let example = match scheme {
            Scheme::Ssh => "ssh://user@host[:port]/directory",
            Scheme::Nfs => "nfs://host/export",
        };
        let bad = |why: &str| format!("{s:?}: {why} (expected {example})");
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => return Err(bad("no directory")),
        };
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let user = match (scheme, user) {
            (Scheme::Ssh, Some(u)) if is_user_name(u) => Some(u.to_owned()),
            (Scheme::Ssh, Some(u)) => return Err(bad(&format!("{u:?} is not a user name"))),
            (Scheme::Ssh, None) => return Err(bad("no user")),
            (Scheme::Nfs, Some(_)) => return Err(bad("NFS takes no user")),
            (Scheme::Nfs, None) => None,
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p.parse::<u16>().map_err(|_| bad(&format!("{p:?} is not a port")))?),
                None if after.is_empty() => None,
                None => return Err(bad("junk after ]")),
            };
            (h.to_owned(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => {
                    (h.to_owned(), Some(p.parse::<u16>().map_err(|_| bad(&format!("{p:?} is not a port")))?))
                }
                None => (hostport.to_owned(), None),
            }
        };
        if host.is_empty() || !host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c)) {
            return Err(bad(&format!("{host:?} is not a host name or address")));
        }
        if port == Some(0) {
            return Err(bad("port 0"));
        }
        if scheme == Scheme::Nfs && port.is_some() {
            return Err(bad("NFS takes its port from the mount options (port=...), not the URL"));
        }
        let path = check_remote_path(path).map_err(|m| bad(&m))?;
        Ok(RemoteUrl { scheme, user, host, port, path })
    }

    /// The target, once the host is an address.
    pub fn to_target(&self, addr: IpAddr) -> Target {
        match self.scheme {
            Scheme::Ssh => Target::Ssh(SshTarget {
                user: self.user.clone().unwrap_or_default(),
                addr: SocketAddr::new(addr, self.port.unwrap_or(SSH_PORT)),
                dir: self.path.clone(),
            }),
            Scheme::Nfs => Target::Nfs(NfsTarget { server: addr, export: self.path.clone() }),
        }
    }
}

/// A POSIX-portable user name: what ssh sends, and safe in messages.
fn is_user_name(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 32
        && !u.starts_with('-')
        && u.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// An absolute path on a server: no `.`, `..` or empty components, no
/// control characters, no trailing slash (but `/` itself).
fn check_remote_path(p: &str) -> Result<String, String> {
    if !p.starts_with('/') {
        return Err(format!("{p:?} is not absolute"));
    }
    if p.chars().any(|c| c.is_control() || c.is_whitespace() || c == ',') {
        return Err(format!("{p:?} has spaces, commas or control characters"));
    }
    let comps: Vec<&str> = p.split('/').filter(|c| !c.is_empty()).collect();
    if comps.iter().any(|c| *c == "." || *c == "..") {
        return Err(format!("{p:?} may not contain . or .."));
    }
    Ok(format!("/{}", comps.join("/")))
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Target, String> {
        if let Some(u) = s.strip_prefix("UUID=") {
            let hex: String = u.chars().filter(|c| *c != '-').collect();
            if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!("{s:?} is not a file system UUID (32 hex digits)"));
            }
            Ok(Target::Uuid(u.to_ascii_lowercase()))
        } else if let Some(l) = s.strip_prefix("LABEL=") {
            if l.is_empty() {
                return Err("LABEL= is empty".into());
            }
            Ok(Target::Label(l.to_owned()))
        } else if s.starts_with("/dev/") {
            Ok(Target::Device(PathBuf::from(s)))
        } else if let Some(url) = RemoteUrl::parse(s) {
            let url = url?;
            let addr = url.host.parse::<IpAddr>().map_err(|_| {
                format!("{s:?}: the capture kernel has no resolver: the host must be an address (kexdump arm resolves names)")
            })?;
            Ok(url.to_target(addr))
        } else {
            Err(format!("{s:?} is not UUID=..., LABEL=..., /dev/..., ssh://... or nfs://..."))
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Uuid(u) => write!(f, "UUID={u}"),
            Target::Label(l) => write!(f, "LABEL={l}"),
            Target::Device(p) => write!(f, "{}", p.display()),
            Target::Ssh(t) => match t.addr {
                SocketAddr::V4(a) => write!(f, "ssh://{}@{}:{}{}", t.user, a.ip(), a.port(), t.dir),
                SocketAddr::V6(a) => write!(f, "ssh://{}@[{}]:{}{}", t.user, a.ip(), a.port(), t.dir),
            },
            Target::Nfs(t) => match t.server {
                IpAddr::V4(a) => write!(f, "nfs://{a}{}", t.export),
                IpAddr::V6(a) => write!(f, "nfs://[{a}]{}", t.export),
            },
        }
    }
}

/// What the capture kernel does at the end (`final_action`) or when a step
/// fails (`failure_action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Reboot,
    Poweroff,
    Halt,
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Action, String> {
        match s {
            "reboot" => Ok(Action::Reboot),
            "poweroff" => Ok(Action::Poweroff),
            "halt" => Ok(Action::Halt),
            _ => Err(format!("unknown action {s:?} (expected reboot, poweroff or halt)")),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Reboot => "reboot",
            Action::Poweroff => "poweroff",
            Action::Halt => "halt",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureConfig {
    pub target: Target,
    /// `ext4`, `xfs`, ...; `None`: take what the superblock says.
    pub fstype: Option<String>,
    /// Mount options (comma-separated, as mount(8) takes them after `-o`).
    pub mount_options: String,
    /// Directory on the target, relative to its root, holding one
    /// `<timestamp>-<hostname>/` per crash.
    pub path: String,
    pub level: u8,
    pub format: Format,
    pub compression: Compression,
    /// Modules to load, dependencies first (files `/lib/modules/<name>.ko`).
    pub modules: Vec<String>,
    /// How long to wait for the target to appear.
    pub wait_seconds: u32,
    pub failure_action: Action,
    pub final_action: Action,
    /// Set by `kexdump test`: recorded in kexdump.json so the primary can
    /// tell that its self-test arrived.
    pub test_id: Option<String>,
    /// Retention after a successful capture: dumps kept (0: all) and bytes
    /// to leave free on the target (0: no minimum).
    pub keep: u32,
    pub min_free_bytes: u64,
    /// The interface a remote target is reached through.
    pub net: Option<NetConfig>,
    /// An ssh target's host key, `type base64`: nothing is sent to a
    /// server that offers another.
    pub ssh_host_key: Option<String>,
    /// NFS version for an `nfs://` target: "4.2", "4.1", "4" or "3".
    pub nfs_version: String,
    /// A local target used when the remote one cannot be reached.
    pub fallback: Option<Fallback>,
}

/// Where a dump goes when the remote target fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fallback {
    /// A local kind: UUID=, LABEL= or a device.
    pub target: Target,
    pub fstype: Option<String>,
    pub path: String,
}

/// NFS versions kexdump mounts with.
pub const NFS_VERSIONS: [&str; 5] = ["4.2", "4.1", "4.0", "4", "3"];

impl CaptureConfig {
    pub fn new(target: Target) -> CaptureConfig {
        CaptureConfig {
            target,
            fstype: None,
            mount_options: String::new(),
            path: "crash".into(),
            level: 31,
            format: Format::Kdump,
            compression: Compression::Zstd { level: Compression::DEFAULT_ZSTD_LEVEL },
            modules: Vec::new(),
            wait_seconds: 60,
            failure_action: Action::Reboot,
            final_action: Action::Reboot,
            test_id: None,
            keep: 0,
            min_free_bytes: 0,
            net: None,
            ssh_host_key: None,
            nfs_version: "4.2".into(),
            fallback: None,
        }
    }

    /// The text form (parsed back by [`CaptureConfig::parse`]).
    pub fn to_text(&self) -> String {
        let format = match self.format {
            Format::Kdump => "kdump",
            Format::Elf => "elf",
        };
        let level = match self.compression {
            Compression::Zstd { level } => level.to_string(),
            Compression::Zlib { level } => level.to_string(),
            _ => String::new(),
        };
        let mut s = String::from("# kexdump capture configuration (written by `kexdump initramfs`)\n");
        let mut kv = |k: &str, v: &str| {
            s.push_str(k);
            s.push_str(" = ");
            s.push_str(v);
            s.push('\n');
        };
        kv("target", &self.target.to_string());
        kv("fstype", self.fstype.as_deref().unwrap_or(""));
        kv("mount_options", &self.mount_options);
        kv("path", &self.path);
        kv("level", &self.level.to_string());
        kv("format", format);
        kv("compression", self.compression.name());
        kv("compression_level", &level);
        kv("modules", &self.modules.join(","));
        kv("wait_seconds", &self.wait_seconds.to_string());
        kv("failure_action", &self.failure_action.to_string());
        kv("final_action", &self.final_action.to_string());
        kv("test_id", self.test_id.as_deref().unwrap_or(""));
        kv("keep", &self.keep.to_string());
        kv("min_free_bytes", &self.min_free_bytes.to_string());
        if let Some(n) = &self.net {
            kv("net_mac", &net_config::format_mac(&n.mac));
            kv("net_address", &n.address.to_string());
            kv("net_gateway", &net_config::format_gateway(n.gateway));
            kv("net_mtu", &net_config::format_mtu(n.mtu));
        }
        if let Some(k) = &self.ssh_host_key {
            kv("ssh_host_key", k);
        }
        if matches!(self.target, Target::Nfs(_)) {
            kv("nfs_version", &self.nfs_version);
        }
        if let Some(f) = &self.fallback {
            kv("fallback", &f.target.to_string());
            kv("fallback_fstype", f.fstype.as_deref().unwrap_or(""));
            kv("fallback_path", &f.path);
        }
        s
    }

    pub fn parse(text: &str) -> Result<CaptureConfig, ConfigError> {
        let mut target = None;
        let mut c = CaptureConfig::new(Target::Device(PathBuf::new()));
        let mut compression_level: Option<(usize, i32)> = None;
        let mut net: (Option<[u8; 6]>, Option<NetAddress>, Option<std::net::Ipv4Addr>, Option<u32>) =
            (None, None, None, None);
        let mut fallback: Option<Target> = None;
        let (mut fallback_fstype, mut fallback_path) = (None, "crash".to_owned());
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let Some((k, v)) = l.split_once('=') else {
                return Err(ConfigError {
                    line,
                    key: String::new(),
                    msg: format!("expected `key = value`, got {l:?}"),
                });
            };
            let (k, v) = (k.trim(), v.trim());
            let err = |msg: String| ConfigError { line, key: k.to_owned(), msg };
            match k {
                "target" => target = Some(v.parse::<Target>().map_err(err)?),
                "fstype" => c.fstype = Some(v.to_owned()).filter(|s| !s.is_empty()),
                "mount_options" => c.mount_options = v.to_owned(),
                "path" => c.path = check_path(v).map_err(err)?,
                "level" => {
                    c.level = v.parse().ok().filter(|l| *l <= 31).ok_or_else(|| err(format!("{v:?} is not 0-31")))?
                }
                "format" => c.format = v.parse().map_err(err)?,
                "compression" => c.compression = v.parse().map_err(err)?,
                "compression_level" if v.is_empty() => {}
                "compression_level" => {
                    let n = v.parse().map_err(|_| err(format!("{v:?} is not a number")))?;
                    compression_level = Some((line, n));
                }
                "modules" => {
                    c.modules = v.split(',').map(str::trim).filter(|m| !m.is_empty()).map(String::from).collect()
                }
                "wait_seconds" => c.wait_seconds = v.parse().map_err(|_| err(format!("{v:?} is not a number")))?,
                "failure_action" => c.failure_action = v.parse().map_err(err)?,
                "final_action" => c.final_action = v.parse().map_err(err)?,
                "test_id" => c.test_id = Some(v.to_owned()).filter(|s| !s.is_empty()),
                "keep" => c.keep = v.parse().map_err(|_| err(format!("{v:?} is not a number")))?,
                "min_free_bytes" => c.min_free_bytes = v.parse().map_err(|_| err(format!("{v:?} is not a number")))?,
                "net_mac" => net.0 = Some(net_config::parse_mac(v).map_err(err)?),
                "net_address" => net.1 = Some(v.parse().map_err(err)?),
                "net_gateway" => net.2 = net_config::parse_gateway(v).map_err(err)?,
                "net_mtu" => net.3 = net_config::parse_mtu(v).map_err(err)?,
                "ssh_host_key" => {
                    check_host_key_text(v).map_err(err)?;
                    c.ssh_host_key = Some(v.to_owned())
                }
                "nfs_version" if NFS_VERSIONS.contains(&v) => c.nfs_version = v.to_owned(),
                "nfs_version" => return Err(err(format!("{v:?} is not one of {}", NFS_VERSIONS.join(", ")))),
                "fallback" if v.is_empty() => {}
                "fallback" => {
                    let t = v.parse::<Target>().map_err(err)?;
                    if t.is_remote() {
                        return Err(err("the fallback must be a local file system (UUID=, LABEL= or /dev/...)".into()));
                    }
                    fallback = Some(t)
                }
                "fallback_fstype" => fallback_fstype = Some(v.to_owned()).filter(|s| !s.is_empty()),
                "fallback_path" => fallback_path = check_path(v).map_err(err)?,
                _ => return Err(err("unknown key".into())),
            }
        }
        if let Some((line, n)) = compression_level {
            c.compression = c.compression.with_level(Some(n)).map_err(|e| ConfigError {
                line,
                key: "compression_level".into(),
                msg: e.to_string(),
            })?;
        }
        c.target = target.ok_or(ConfigError { line: 0, key: "target".into(), msg: "missing".into() })?;
        let missing = |key: &str, msg: &str| ConfigError { line: 0, key: key.into(), msg: msg.into() };
        c.net = match net {
            (Some(mac), Some(address), gateway, mtu) => Some(NetConfig { mac, address, gateway, mtu }),
            (None, None, None, None) => None,
            (None, ..) => return Err(missing("net_mac", "missing (the other net_ keys need it)")),
            (_, None, ..) => return Err(missing("net_address", "missing (dhcp or address/prefix)")),
        };
        if c.target.is_remote() && c.net.is_none() {
            return Err(missing("net_mac", "missing: a remote target needs the interface that reaches it"));
        }
        if matches!(c.target, Target::Ssh(_)) && c.ssh_host_key.is_none() {
            return Err(missing("ssh_host_key", "missing: an ssh target needs the server's host key"));
        }
        c.fallback = fallback.map(|target| Fallback { target, fstype: fallback_fstype, path: fallback_path });
        Ok(c)
    }
}

/// The boot option `kexdump test` adds to the capture kernel's command line:
/// a dotted name, so the kernel neither acts on it nor passes it to /init,
/// and PID 1 reads it from /proc/cmdline. It overrides the image's
/// `test_id`, so a self-test needs no rebuilt image.
pub const TEST_ID_OPTION: &str = "kexdump.test_id";

/// Longest test id accepted.
const TEST_ID_MAX: usize = 64;

/// Whether `id` can be a test id: 1-64 of `[A-Za-z0-9._-]`, so it is safe
/// on a command line, in JSON and in a file name.
pub fn is_test_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= TEST_ID_MAX && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The test id of a kernel command line (the last `kexdump.test_id=`
/// wins, as for kernel options); ids that fail [`is_test_id`] are ignored.
pub fn test_id_from_cmdline(cmdline: &str) -> Option<String> {
    let prefix = format!("{TEST_ID_OPTION}=");
    cmdline
        .split_ascii_whitespace()
        .filter_map(|w| w.strip_prefix(&prefix))
        .rfind(|id| is_test_id(id))
        .map(String::from)
}

/// A host key entry's shape (`type base64`); the ssh client checks the key itself.
fn check_host_key_text(v: &str) -> Result<(), String> {
    let mut w = v.split_whitespace();
    match (w.next(), w.next(), w.next()) {
        (Some(t), Some(b), None) if (t.starts_with("ssh-") || t.starts_with("ecdsa-")) && b.len() > 16 => Ok(()),
        _ => Err(format!("{v:?} is not a host key `type base64` (e.g. ssh-ed25519 AAAA...)")),
    }
}

/// A relative path without `..`: the dump directory stays on the target.
fn check_path(v: &str) -> Result<String, String> {
    let p = v.trim_matches('/');
    if p.is_empty() || p == "." {
        // The target's root directory.
        return Ok(".".into());
    }
    if p.split('/').any(|c| c == ".." || c == ".") {
        return Err(format!("{v:?} may not contain . or .."));
    }
    Ok(p.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based; 0 when the problem is not on one line (a missing key).
    pub line: usize,
    pub key: String,
    pub msg: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.key.is_empty()) {
            (0, _) => write!(f, "key `{}`: {}", self.key, self.msg),
            (l, true) => write!(f, "line {l}: {}", self.msg),
            (l, false) => write!(f, "line {l}, key `{}`: {}", self.key, self.msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_id_comes_from_the_command_line() {
        let c = "console=ttyS0 kexdump.test_id=t-1 irqpoll kexdump.test_id=t-2 elfcorehdr=0x7b000000";
        assert_eq!(test_id_from_cmdline(c).as_deref(), Some("t-2"));
        assert_eq!(test_id_from_cmdline("console=ttyS0 kexdump.test_idx=3"), None);
        assert_eq!(test_id_from_cmdline("kexdump.test_id=a/b kexdump.test_id="), None);
        assert!(!is_test_id(&"x".repeat(65)));
        assert!(is_test_id("20261122T090000-3fa9c2d1"));
    }

    #[test]
    fn text_round_trips() {
        let mut c = CaptureConfig::new("UUID=6B657864-756d-7000-0000-000000000003".parse().unwrap());
        c.fstype = Some("xfs".into());
        c.modules = vec!["virtio_blk".into(), "xfs".into()];
        c.compression = Compression::Zlib { level: 6 };
        c.format = Format::Elf;
        c.failure_action = Action::Poweroff;
        c.test_id = Some("t-1".into());
        c.keep = 5;
        c.min_free_bytes = 1 << 30;
        c.path = "var/crash".into();
        let back = CaptureConfig::parse(&c.to_text()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.target, Target::Uuid("6b657864-756d-7000-0000-000000000003".into()));
        let d = CaptureConfig::new(Target::Label("kxdump".into()));
        assert_eq!(CaptureConfig::parse(&d.to_text()).unwrap(), d);
    }

    #[test]
    fn remote_targets_round_trip() {
        let t: Target = "ssh://kx@10.0.2.100/srv/dumps/".parse().unwrap();
        assert_eq!(t.to_string(), "ssh://kx@10.0.2.100:22/srv/dumps");
        let n: Target = "nfs://10.0.2.100/export".parse().unwrap();
        assert_eq!(n, Target::Nfs(NfsTarget { server: "10.0.2.100".parse().unwrap(), export: "/export".into() }));
        let v6: Target = "ssh://root@[fd00::1]:2222/d".parse().unwrap();
        assert_eq!(v6.to_string(), "ssh://root@[fd00::1]:2222/d");
        let mut c = CaptureConfig::new(t);
        c.net = Some(NetConfig {
            mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
            address: NetAddress::Static { addr: "10.0.2.15".parse().unwrap(), prefix: 24 },
            gateway: Some("10.0.2.2".parse().unwrap()),
            mtu: Some(1500),
        });
        c.ssh_host_key =
            Some("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb1mDz2qOdz4dDkEQnqv1yTyTCXrHo/SMA+w7PfsPcC".into());
        c.fallback = Some(Fallback {
            target: Target::Label("kxdump".into()),
            fstype: Some("ext4".into()),
            path: "crash".into(),
        });
        assert_eq!(CaptureConfig::parse(&c.to_text()).unwrap(), c);
        let mut d = CaptureConfig::new(n);
        d.net = Some(NetConfig { mac: [2, 0, 0, 0, 0, 1], address: NetAddress::Dhcp, gateway: None, mtu: None });
        d.nfs_version = "3".into();
        assert_eq!(CaptureConfig::parse(&d.to_text()).unwrap(), d);
    }

    #[test]
    fn remote_targets_refuse_what_the_capture_kernel_cannot_use() {
        for (s, why) in [
            ("ssh://kx@dumps.example.com/d", "no resolver"),
            ("ssh://10.0.2.100/d", "no user"),
            ("ssh://kx@10.0.2.100", "no directory"),
            ("ssh://kx@10.0.2.100/a/../b", ". or .."),
            ("ssh://kx@10.0.2.100:0/d", "port 0"),
            ("ssh://-oProxyCommand@10.0.2.100/d", "not a user name"),
            ("nfs://10.0.2.100:2049/e", "mount options"),
            ("nfs://u@10.0.2.100/e", "no user"),
        ] {
            let e = s.parse::<Target>().unwrap_err();
            assert!(e.contains(why), "{s}: {e}");
        }
        let e = CaptureConfig::parse("target = ssh://kx@10.0.2.100/d\n").unwrap_err();
        assert_eq!(e.key, "net_mac");
        let e =
            CaptureConfig::parse("target = ssh://kx@10.0.2.100/d\nnet_mac = 52:54:00:12:34:56\nnet_address = dhcp\n")
                .unwrap_err();
        assert_eq!(e.key, "ssh_host_key");
        let e = CaptureConfig::parse("target = LABEL=x\nfallback = nfs://10.0.2.1/e\n").unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (2, "fallback"));
        let e = CaptureConfig::parse("target = LABEL=x\nnfs_version = 5\n").unwrap_err();
        assert_eq!(e.key, "nfs_version");
    }

    #[test]
    fn errors_name_line_and_key() {
        let e = CaptureConfig::parse("target = LABEL=x\nlevel = 32\n").unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (2, "level"));
        let e = CaptureConfig::parse("target = LABEL=x\ncolour = red\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2, key `colour`: unknown key");
        let e = CaptureConfig::parse("level = 1\n").unwrap_err();
        assert_eq!(e.to_string(), "key `target`: missing");
        assert!(CaptureConfig::parse("target = sda1\n").unwrap_err().msg.contains("UUID="));
        assert!(CaptureConfig::parse("target = UUID=1234\n").is_err());
        let mut root = CaptureConfig::new(Target::Label("x".into()));
        root.path = CaptureConfig::parse("target = LABEL=x\npath = /\n").unwrap().path;
        assert_eq!(root.path, ".");
        assert_eq!(CaptureConfig::parse(&root.to_text()).unwrap(), root, "the root directory round-trips");
        let e = CaptureConfig::parse("target = LABEL=x\npath = ../etc\n").unwrap_err();
        assert_eq!(e.key, "path");
        let e = CaptureConfig::parse("target = LABEL=x\ncompression = snappy\ncompression_level = 3\n").unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (3, "compression_level"));
        let e = CaptureConfig::parse("target = LABEL=x\njunk\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2: expected `key = value`, got \"junk\"");
    }
}
