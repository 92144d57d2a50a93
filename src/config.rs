//! The operator's configuration file, `/etc/kexdump.toml`: where dumps go,
//! how they are written, what the capture kernel does afterwards, which
//! kernel and initramfs are armed, how many dumps are kept, and the
//! crashkernel= policy. Every key is optional; `etc/kexdump.toml` in the
//! repository documents each one (a test keeps it complete).
//!
//! Errors name the file, the line and the key, e.g.
//! `/etc/kexdump.toml:12: key dump.level: 40 is not a dump level (0-31)`:
//! toml reports the span of a syntax error, an unknown key or a value of
//! the wrong type; values are checked after deserializing, and the line of
//! the key comes from the document's spans (toml_edit, the parser toml
//! itself uses).

use crate::arming::capture_cmdline::{DEFAULT_CPUS, MAX_CPUS};
use crate::known_hosts;
use crate::system::mounts;
use crate::system::network::{self, NetProbe};
use kexdump_engine::capture_config::{Action, CaptureConfig, Fallback, RemoteUrl, Scheme, Target, NFS_VERSIONS};
use kexdump_engine::compress::Compression;
use kexdump_engine::Format;
use kexdump_initramfs::image::Bus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

/// The configuration file, relative to the root directory.
pub const DEFAULT_PATH: &str = "etc/kexdump.toml";

/// The whole file. `Default` is the configuration of a missing file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub target: TargetSection,
    pub dump: DumpSection,
    pub actions: ActionsSection,
    pub kernel: KernelSection,
    pub retention: RetentionSection,
    pub crashkernel: CrashkernelSection,
    pub network: NetworkSection,
    pub ssh: SshSection,
    pub nfs: NfsSection,
    /// Where the values came from, for the line numbers of later errors.
    #[serde(skip)]
    origin: Origin,
}

#[derive(Clone, Debug, Default)]
struct Origin {
    /// The file read (or looked for, when `found` is false).
    path: Option<PathBuf>,
    found: bool,
    /// `table.key` -> 1-based line of the key.
    lines: BTreeMap<String, usize>,
}

/// Equal settings; where they were read from does not matter.
impl PartialEq for Config {
    fn eq(&self, o: &Config) -> bool {
        (&self.target, &self.dump, &self.actions, &self.kernel, &self.retention, &self.crashkernel)
            == (&o.target, &o.dump, &o.actions, &o.kernel, &o.retention, &o.crashkernel)
            && (&self.network, &self.ssh, &self.nfs) == (&o.network, &o.ssh, &o.nfs)
    }
}

/// `[target]`: the file system the capture kernel saves dumps to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetSection {
    /// `UUID=...`, `LABEL=...`, `/dev/...`, a mounted directory,
    /// `ssh://user@host[:port]/dir` or `nfs://host/export`.
    pub target: String,
    /// Directory on the target (not with a directory target).
    pub path: String,
    /// Empty: the capture kernel mounts what the superblock says.
    pub fstype: String,
    pub mount_options: String,
    /// Disk driver modules; empty: the `bus` preset.
    pub drivers: Vec<String>,
    pub bus: String,
    pub wait_seconds: i64,
    /// A local target (as `target`) for when a remote one cannot be reached.
    pub fallback: String,
}

impl Default for TargetSection {
    fn default() -> Self {
        TargetSection {
            target: "/var/crash".into(),
            path: "crash".into(),
            fstype: String::new(),
            mount_options: String::new(),
            drivers: Vec::new(),
            bus: "virtio".into(),
            wait_seconds: 60,
            fallback: String::new(),
        }
    }
}

/// `[dump]`: what the capture kernel writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DumpSection {
    pub level: i64,
    pub format: String,
    pub compression: String,
    pub compression_level: i64,
}

impl Default for DumpSection {
    fn default() -> Self {
        DumpSection {
            level: 31,
            format: "kdump".into(),
            compression: "zstd".into(),
            compression_level: i64::from(Compression::DEFAULT_ZSTD_LEVEL),
        }
    }
}

impl DumpSection {
    /// The level as a dump level: [`Config::load`] has checked it is 0-31.
    pub fn level_bits(&self) -> u8 {
        u8::try_from(self.level.clamp(0, 31)).unwrap_or(31)
    }
}

/// `[actions]`: what the capture kernel does when it is done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionsSection {
    #[serde(rename = "failure")]
    pub failure_action: String,
    #[serde(rename = "final")]
    pub final_action: String,
}

impl Default for ActionsSection {
    fn default() -> Self {
        ActionsSection { failure_action: "reboot".into(), final_action: "reboot".into() }
    }
}

/// `[kernel]`: what `kexdump arm` loads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KernelSection {
    /// Empty: `/boot/vmlinuz-<running release>`.
    pub kernel: String,
    pub initramfs: String,
    /// Empty: `/lib/modules/<release of kernel>`.
    pub modules_dir: String,
    pub extra_modules: Vec<String>,
    pub cmdline_remove: Vec<String>,
    pub cmdline_append: Vec<String>,
    /// The capture kernel's `nr_cpus=` (1-64).
    pub cpus: i64,
}

impl Default for KernelSection {
    fn default() -> Self {
        KernelSection {
            kernel: String::new(),
            initramfs: "/var/lib/kexdump/capture.img".into(),
            modules_dir: String::new(),
            extra_modules: Vec::new(),
            cmdline_remove: Vec::new(),
            cmdline_append: Vec::new(),
            cpus: i64::from(DEFAULT_CPUS),
        }
    }
}

impl KernelSection {
    /// The capture kernel's CPUs: [`Config::load`] has checked the value.
    pub fn cpus(&self) -> u32 {
        u32::try_from(self.cpus.clamp(1, i64::from(MAX_CPUS))).unwrap_or(DEFAULT_CPUS)
    }
}

/// `[retention]`: old dumps on the target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSection {
    /// Dumps kept (0: all); the one just written is never deleted.
    pub keep: i64,
    /// Free space to leave on the target, e.g. `1G`.
    pub min_free: String,
}

impl Default for RetentionSection {
    fn default() -> Self {
        RetentionSection { keep: 5, min_free: "1G".into() }
    }
}

/// `[crashkernel]`: the memory reservation for the capture kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrashkernelSection {
    /// `auto` or a crashkernel= value.
    pub policy: String,
}

impl Default for CrashkernelSection {
    fn default() -> Self {
        CrashkernelSection { policy: "auto".into() }
    }
}

/// `[network]`: how the capture kernel reaches a remote target. Empty (or
/// 0): as this machine reaches it now, found when the image is built.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSection {
    pub interface: String,
    /// `dhcp` or `a.b.c.d/nn`.
    pub address: String,
    pub gateway: String,
    pub mtu: i64,
    pub driver: String,
}

/// `[ssh]`: the key an ssh target logs in with and the server's host key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SshSection {
    pub identity: String,
    pub known_hosts: String,
}

impl Default for SshSection {
    fn default() -> Self {
        SshSection { identity: "/etc/kexdump/id_ed25519".into(), known_hosts: "/etc/kexdump/known_hosts".into() }
    }
}

/// `[nfs]`: how an NFS target is mounted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NfsSection {
    pub version: String,
}

impl Default for NfsSection {
    fn default() -> Self {
        NfsSection { version: "4.2".into() }
    }
}

/// What went wrong, for tests and callers to match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A file named explicitly does not exist.
    NotFound,
    /// The file exists but cannot be read.
    Io,
    /// Not TOML.
    Syntax,
    /// A key or table the schema does not have.
    UnknownKey,
    /// A value of the wrong TOML type (a string for a number, ...).
    WrongType,
    /// A value of the right type that means nothing (level 40, ...).
    BadValue,
    /// A directory target whose file system cannot be found; a remote
    /// target's host, route or host key that cannot be found.
    Unresolved,
}

#[derive(Debug)]
pub struct ConfigError {
    /// For callers (and tests) to match on; the message says it for people.
    #[cfg_attr(not(test), allow(dead_code))]
    pub kind: ErrorKind,
    pub path: Option<PathBuf>,
    /// 1-based.
    pub line: Option<usize>,
    /// `table.key`.
    pub key: Option<String>,
    pub msg: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}", p.display())?;
            if let Some(l) = self.line {
                write!(f, ":{l}")?;
            }
            f.write_str(": ")?;
        }
        if let Some(k) = &self.key {
            write!(f, "key {k}: ")?;
        }
        f.write_str(&self.msg)
    }
}

impl std::error::Error for ConfigError {}

/// The dump target as written: a file system, or a directory on one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSpec {
    FileSystem(Target),
    /// An absolute directory of the running system, e.g. `/var/crash`.
    Directory(String),
    /// `ssh://...` or `nfs://...`; the host is resolved when the image is built.
    Remote(RemoteUrl),
}

/// Everything the capture image is built from that the configuration
/// decides: the capture configuration, and for a remote target the NIC
/// driver and the ssh key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureSetup {
    pub capture: CaptureConfig,
    /// How the server is reached (remote targets).
    pub network: Option<network::Resolved>,
    /// The ssh private key file, below the root (ssh targets).
    pub ssh_identity: Option<PathBuf>,
}

/// Every value, parsed.
struct Parsed {
    target: TargetSpec,
    path: String,
    level: u8,
    format: Format,
    compression: Compression,
    wait_seconds: u32,
    failure_action: Action,
    final_action: Action,
    fallback: Option<TargetSpec>,
}

type Bad = (&'static str, String);

impl Config {
    /// Read `explicit`, or `<root>/etc/kexdump.toml`. A missing default
    /// file means all defaults; a missing explicit one is an error.
    pub fn load(root: &Path, explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = explicit.map_or_else(|| root.join(DEFAULT_PATH), Path::to_path_buf);
        let err = |kind, msg: String| ConfigError { kind, path: Some(path.clone()), line: None, key: None, msg };
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                Ok(Config { origin: Origin { path: Some(path), ..Origin::default() }, ..Config::default() })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(err(ErrorKind::NotFound, "no such file".into())),
            Err(e) => Err(err(ErrorKind::Io, format!("cannot read: {e}"))),
        }
    }

    /// Parse and check the text of the file at `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let err = |kind, line, key, msg| ConfigError { kind, path: Some(path.to_path_buf()), line, key, msg };
        let doc = toml_edit::ImDocument::parse(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            err(ErrorKind::Syntax, line, None, e.message().trim().replace('\n', ": "))
        })?;
        let mut spots = Vec::new();
        collect_spots(doc.as_table(), "", &mut spots);
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| s.start);
            let key = at.and_then(|at| {
                spots
                    .iter()
                    .filter(|s| s.key.contains(&at) || s.value.as_ref().is_some_and(|v| v.contains(&at)))
                    // The innermost: a key's own name, else the smallest value around it.
                    .min_by_key(|s| match &s.value {
                        _ if s.key.contains(&at) => 0,
                        Some(v) => v.len(),
                        None => usize::MAX,
                    })
                    .map(|s| s.path.clone())
            });
            let line = at.map(|at| line_of(text, at));
            let msg = e.message().trim().replace('\n', ": ");
            match msg.strip_prefix("unknown field `").and_then(|r| r.split_once('`')) {
                Some((name, rest)) => {
                    let expected = rest.trim_start_matches(", ");
                    let key = key.or_else(|| Some(name.to_owned()));
                    err(ErrorKind::UnknownKey, line, key, format!("unknown key; {expected}"))
                }
                None => err(ErrorKind::WrongType, line, key, msg.replace("expected i64", "expected an integer")),
            }
        })?;
        config.origin = Origin {
            path: Some(path.to_path_buf()),
            found: true,
            lines: spots.iter().map(|s| (s.path.clone(), line_of(text, s.key.start))).collect(),
        };
        config.parsed().map_err(|(key, msg)| config.error(ErrorKind::BadValue, key, msg))?;
        Ok(config)
    }

    /// The file the values came from; `None` when it did not exist (or
    /// the configuration was not read from a file).
    pub fn file(&self) -> Option<&Path> {
        self.origin.path.as_deref().filter(|_| self.origin.found)
    }

    /// The file that was looked for, whether or not it existed.
    pub fn looked_for(&self) -> Option<&Path> {
        self.origin.path.as_deref()
    }

    fn error(&self, kind: ErrorKind, key: &str, msg: String) -> ConfigError {
        ConfigError {
            kind,
            path: self.origin.path.clone(),
            line: self.origin.lines.get(key).copied(),
            key: Some(key.to_owned()),
            msg,
        }
    }

    /// The dump target as written.
    pub fn target_spec(&self) -> Result<TargetSpec, ConfigError> {
        parse_target(&self.target.target).map_err(|m| self.error(ErrorKind::BadValue, "target.target", m))
    }

    /// The fallback of a remote target as written, if any.
    pub fn fallback_spec(&self) -> Result<Option<TargetSpec>, ConfigError> {
        match self.target.fallback.as_str() {
            "" => Ok(None),
            f => parse_target(f).map(Some).map_err(|m| self.error(ErrorKind::BadValue, "target.fallback", m)),
        }
    }

    /// The disk driver modules: `drivers`, or else the `bus` preset's.
    pub fn disk_modules(&self) -> Result<Vec<String>, ConfigError> {
        if !self.target.drivers.is_empty() {
            return Ok(self.target.drivers.clone());
        }
        let bus = parse_bus(&self.target.bus).map_err(|m| self.error(ErrorKind::BadValue, "target.bus", m))?;
        Ok(bus.modules().iter().map(|m| m.to_string()).collect())
    }

    /// The capture configuration the image builder writes into the
    /// initramfs (its module list is filled in by the builder). A
    /// directory target is resolved on the running system.
    pub fn capture_config(&self) -> Result<CaptureConfig, ConfigError> {
        self.capture_config_in(Path::new("/"))
    }

    /// [`Config::capture_config`] for the system whose root is `root`.
    pub fn capture_config_in(&self, root: &Path) -> Result<CaptureConfig, ConfigError> {
        self.capture_setup(root, &network::Live).map(|s| s.capture)
    }

    /// A local target (`key`: `target.target` or `target.fallback`) as the
    /// capture kernel finds it: a directory is resolved to its file
    /// system's UUID, the directory below its root and its type.
    fn local_target(
        &self,
        root: &Path,
        key: &'static str,
        spec: TargetSpec,
        path: &str,
    ) -> Result<(Target, String, Option<String>), ConfigError> {
        let fstype = Some(self.target.fstype.clone()).filter(|f| !f.is_empty());
        match spec {
            TargetSpec::FileSystem(t) => Ok((t, path.to_owned(), fstype)),
            TargetSpec::Directory(dir) => {
                let unresolved = |m: String| self.error(ErrorKind::Unresolved, key, m);
                let found = mounts::locate_directory(root, &dir).map_err(unresolved)?;
                let target = format!("UUID={}", found.uuid).parse::<Target>().map_err(|m| {
                    unresolved(format!(
                        "{dir} is on {}, whose UUID {m}: name it as LABEL=... or /dev/...",
                        found.mount.source
                    ))
                })?;
                // The capture config's reader takes "" (not ".") for the root.
                let path = if found.path == "." { String::new() } else { found.path };
                Ok((target, path, fstype.or(Some(found.mount.fstype))))
            }
            TargetSpec::Remote(_) => Err(self.error(ErrorKind::BadValue, key, "not a local target".into())),
        }
    }

    /// Resolve the configuration on the system under `root`: a directory
    /// target to its file system; a remote target's host to its address,
    /// the interface that reaches it (`probe` runs `ip`), its host key
    /// (from `[ssh] known_hosts`) and the fallback.
    pub fn capture_setup(&self, root: &Path, probe: &dyn NetProbe) -> Result<CaptureSetup, ConfigError> {
        let p = self.parsed().map_err(|(key, msg)| self.error(ErrorKind::BadValue, key, msg))?;
        let mut setup = CaptureSetup {
            capture: CaptureConfig::new(Target::Label(String::new())),
            network: None,
            ssh_identity: None,
        };
        let (target, path, fstype) = match p.target {
            TargetSpec::Remote(url) => {
                let unresolved = |key, m: String| self.error(ErrorKind::Unresolved, key, m);
                let server = network::resolve_host(probe, &url.host).map_err(|m| unresolved("target.target", m))?;
                let n = &self.network;
                let wanted = network::Wanted {
                    interface: &n.interface,
                    address: &n.address,
                    gateway: &n.gateway,
                    mtu: u32::try_from(n.mtu).unwrap_or(0),
                    driver: &n.driver,
                };
                let resolved = network::resolve(root, probe, server, &wanted).map_err(|e| unresolved(e.key, e.msg))?;
                let target = url.to_target(IpAddr::V4(server));
                if let Target::Ssh(t) = &target {
                    let file = &self.ssh.known_hosts;
                    let text = std::fs::read_to_string(under(root, file)).map_err(|e| {
                        unresolved("ssh.known_hosts", format!("cannot read {file}: {e}; run `kexdump propagate`"))
                    })?;
                    let key = known_hosts::lookup(&text, t.addr, &url.host).ok_or_else(|| {
                        unresolved(
                            "ssh.known_hosts",
                            format!(
                                "{file} has no host key for {}: run `kexdump propagate`",
                                known_hosts::host_field(t.addr)
                            ),
                        )
                    })?;
                    setup.capture.ssh_host_key = Some(key);
                    setup.ssh_identity = Some(under(root, &self.ssh.identity));
                }
                setup.capture.net = Some(resolved.net.clone());
                setup.network = Some(resolved);
                setup.capture.nfs_version = self.nfs.version.clone();
                if let Some(fb) = p.fallback {
                    let (t, path, fstype) = self.local_target(root, "target.fallback", fb, &p.path)?;
                    setup.capture.fallback = Some(Fallback { target: t, fstype, path });
                }
                (target, p.path, None)
            }
            local => self.local_target(root, "target.target", local, &p.path)?,
        };
        let c = &mut setup.capture;
        c.target = target;
        c.fstype = fstype;
        c.mount_options = self.target.mount_options.clone();
        c.path = path;
        c.level = p.level;
        c.format = p.format;
        c.compression = p.compression;
        c.wait_seconds = p.wait_seconds;
        c.failure_action = p.failure_action;
        c.final_action = p.final_action;
        c.keep = u32::try_from(self.retention.keep).unwrap_or(0);
        c.min_free_bytes = parse_size(&self.retention.min_free).unwrap_or(0);
        Ok(setup)
    }

    /// The remote target's URL, if the target is one (and valid).
    pub fn remote_url(&self) -> Option<RemoteUrl> {
        match parse_target(&self.target.target) {
            Ok(TargetSpec::Remote(u)) => Some(u),
            _ => None,
        }
    }

    /// Check every value; the error names the first bad key.
    fn parsed(&self) -> Result<Parsed, Bad> {
        let t = &self.target;
        let target = parse_target(&t.target).map_err(|m| ("target.target", m))?;
        let fallback = self.check_remote(&target)?;
        if matches!(target, TargetSpec::Directory(_)) && self.origin.lines.contains_key("target.path") {
            return Err((
                "target.path",
                format!(
                    "not used with a directory target: dumps go into {} itself (remove this key, or name \
                     the file system as UUID=..., LABEL=... or /dev/...)",
                    t.target
                ),
            ));
        }
        let path = dump_dir(&t.path).map_err(|m| ("target.path", m))?;
        if !t.fstype.is_empty() && !t.fstype.chars().all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c)) {
            return Err(("target.fstype", format!("{:?} is not a file system type such as ext4 or xfs", t.fstype)));
        }
        if t.mount_options.chars().any(char::is_whitespace) {
            return Err((
                "target.mount_options",
                format!("{:?}: mount options are separated by commas, without spaces", t.mount_options),
            ));
        }
        check_modules(&t.drivers).map_err(|m| ("target.drivers", m))?;
        parse_bus(&t.bus).map_err(|m| ("target.bus", m))?;
        let wait_seconds = u32::try_from(t.wait_seconds)
            .map_err(|_| ("target.wait_seconds", format!("{} is not a number of seconds", t.wait_seconds)))?;

        let d = &self.dump;
        let level = u8::try_from(d.level)
            .ok()
            .filter(|l| *l <= 31)
            .ok_or_else(|| ("dump.level", format!("{} is not a dump level (0-31)", d.level)))?;
        let format = d.format.parse::<Format>().map_err(|m| ("dump.format", m))?;
        let compression = d.compression.parse::<Compression>().map_err(|m| ("dump.compression", m))?;
        let compression =
            compression_with_level(compression, d.compression_level).map_err(|m| ("dump.compression_level", m))?;

        let a = &self.actions;
        let failure_action = a.failure_action.parse::<Action>().map_err(|m| ("actions.failure", m))?;
        let final_action = a.final_action.parse::<Action>().map_err(|m| ("actions.final", m))?;

        let k = &self.kernel;
        check_abs_path(&k.kernel, true).map_err(|m| ("kernel.kernel", m))?;
        check_abs_path(&k.initramfs, false).map_err(|m| ("kernel.initramfs", m))?;
        check_abs_path(&k.modules_dir, true).map_err(|m| ("kernel.modules_dir", m))?;
        check_modules(&k.extra_modules).map_err(|m| ("kernel.extra_modules", m))?;
        for o in &k.cmdline_remove {
            if o.is_empty() || o.contains('=') || o.chars().any(char::is_whitespace) {
                return Err((
                    "kernel.cmdline_remove",
                    format!("{o:?} is not an option name (such as quiet or crashkernel: no `=`, no spaces)"),
                ));
            }
        }
        for o in &k.cmdline_append {
            if o.trim().is_empty() || o.contains(['\n', '\0']) {
                return Err(("kernel.cmdline_append", format!("{o:?} is not a kernel command line option")));
            }
        }
        check_cpus(k.cpus).map_err(|m| ("kernel.cpus", m))?;

        let r = &self.retention;
        u32::try_from(r.keep)
            .map_err(|_| ("retention.keep", format!("{} is not a number of dumps (0: all)", r.keep)))?;
        parse_size(&r.min_free)
            .ok_or_else(|| ("retention.min_free", format!("{:?} is not a size such as 1G, 512M or 0", r.min_free)))?;

        check_crashkernel(&self.crashkernel.policy).map_err(|m| ("crashkernel.policy", m))?;
        Ok(Parsed { target, path, level, format, compression, wait_seconds, failure_action, final_action, fallback })
    }

    /// The keys of remote targets: checked, and refused where the target
    /// does not use them (an explicit key that does nothing is a mistake).
    /// Returns the fallback.
    fn check_remote(&self, target: &TargetSpec) -> Result<Option<TargetSpec>, Bad> {
        let set = |key: &str| self.origin.lines.contains_key(key);
        let (kind, scheme) = match target {
            TargetSpec::Remote(u) => (if u.scheme == Scheme::Ssh { "an ssh" } else { "an NFS" }, Some(u.scheme)),
            _ => ("a local", None),
        };
        let unused = |key: &'static str, why: &str| Err((key, format!("not used with {kind} target: {why}")));
        if scheme.is_none() {
            for key in [
                "target.fallback",
                "network.interface",
                "network.address",
                "network.gateway",
                "network.mtu",
                "network.driver",
            ] {
                if set(key) {
                    return unused(key, "it is for ssh:// and nfs:// targets (remove this key)");
                }
            }
        }
        if scheme != Some(Scheme::Ssh) {
            for key in ["ssh.identity", "ssh.known_hosts"] {
                if set(key) {
                    return unused(key, "it is for ssh:// targets (remove this key)");
                }
            }
        }
        if scheme != Some(Scheme::Nfs) && set("nfs.version") {
            return unused("nfs.version", "it is for nfs:// targets (remove this key)");
        }
        if scheme == Some(Scheme::Ssh) && set("target.mount_options") {
            return unused("target.mount_options", "nothing is mounted, the dump is sent over SFTP (remove this key)");
        }
        let t = &self.target;
        let fallback = match t.fallback.as_str() {
            "" => None,
            f => match parse_target(f).map_err(|m| ("target.fallback", m))? {
                TargetSpec::Remote(_) => {
                    return Err((
                        "target.fallback",
                        format!(
                        "{f:?}: the fallback is a local target (UUID=..., LABEL=..., /dev/... or a mounted directory)"
                    ),
                    ))
                }
                local => Some(local),
            },
        };
        if scheme.is_some() && fallback.is_none() {
            for key in ["target.fstype", "target.drivers", "target.bus"] {
                if set(key) {
                    return unused(key, "the disk settings are for the fallback, and target.fallback is not set (remove this key, or set target.fallback)");
                }
            }
        }
        let n = &self.network;
        if !n.interface.is_empty()
            && (n.interface.len() > 15
                || n.interface.contains(['/', ':'])
                || n.interface.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err((
                "network.interface",
                format!("{:?} is not an interface name (such as eth0 or ens3)", n.interface),
            ));
        }
        if !n.address.is_empty() {
            n.address
                .parse::<kexdump_engine::net_config::NetAddress>()
                .map_err(|m| ("network.address", format!("{m}; or \"\" for what the interface has now")))?;
        }
        if !n.gateway.is_empty() {
            kexdump_engine::net_config::parse_gateway(&n.gateway).map_err(|m| ("network.gateway", m))?;
        }
        if n.mtu != 0 {
            let ok = u32::try_from(n.mtu)
                .ok()
                .filter(|m| (kexdump_engine::net_config::MIN_MTU..=kexdump_engine::net_config::MAX_MTU).contains(m));
            ok.ok_or_else(|| {
                ("network.mtu", format!("{} is not an MTU (68-65535; 0: the interface's current one)", n.mtu))
            })?;
        }
        if !n.driver.is_empty() {
            check_modules(std::slice::from_ref(&n.driver)).map_err(|m| ("network.driver", m))?;
        }
        check_abs_path(&self.ssh.identity, false).map_err(|m| ("ssh.identity", m))?;
        check_abs_path(&self.ssh.known_hosts, false).map_err(|m| ("ssh.known_hosts", m))?;
        if !NFS_VERSIONS.contains(&self.nfs.version.as_str()) {
            return Err(("nfs.version", format!("{:?} is not one of {}", self.nfs.version, NFS_VERSIONS.join(", "))));
        }
        Ok(fallback)
    }
}

/// `path` from the configuration, read below `root`.
fn under(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// A key of the document with the spans of its name and of its value.
struct Spot {
    path: String,
    key: Range<usize>,
    value: Option<Range<usize>>,
}

fn collect_spots(table: &dyn toml_edit::TableLike, prefix: &str, out: &mut Vec<Spot>) {
    for (name, _) in table.iter() {
        let Some((key, item)) = table.get_key_value(name) else { continue };
        let path = if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") };
        if let Some(k) = key.span() {
            out.push(Spot { path: path.clone(), key: k, value: item.span() });
        }
        if let Some(t) = item.as_table_like() {
            collect_spots(t, &path, out);
        } else if let Some(a) = item.as_array_of_tables() {
            a.iter().for_each(|t| collect_spots(t, &path, out));
        }
    }
}

/// 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

fn parse_target(s: &str) -> Result<TargetSpec, String> {
    if let Some(url) = RemoteUrl::parse(s) {
        return url.map(TargetSpec::Remote);
    }
    if s.starts_with("UUID=") || s.starts_with("LABEL=") || s.starts_with("/dev/") {
        return s.parse().map(TargetSpec::FileSystem);
    }
    if s.starts_with('/') {
        if Path::new(s).components().any(|c| c == Component::ParentDir) || s.contains('\n') {
            return Err(format!("{s:?}: a directory target is an absolute path without .."));
        }
        return Ok(TargetSpec::Directory(s.to_owned()));
    }
    Err(format!(
        "{s:?} is not UUID=..., LABEL=..., /dev/..., a mounted directory such as /var/crash, \
         ssh://user@host/dir or nfs://host/export"
    ))
}

/// The dump directory relative to the target's root, as the capture
/// configuration takes it: no `.` or `..`, no leading or trailing `/`.
fn dump_dir(v: &str) -> Result<String, String> {
    let p = v.trim_matches('/');
    if p.split('/').any(|c| c == ".." || c == ".") || v.contains('\n') {
        return Err(format!("{v:?} is not a directory below the target's root (no . or ..)"));
    }
    Ok(p.to_owned())
}

fn parse_bus(s: &str) -> Result<Bus, String> {
    match s {
        "virtio" => Ok(Bus::Virtio),
        "virtio-scsi" => Ok(Bus::VirtioScsi),
        "nvme" => Ok(Bus::Nvme),
        "ahci" => Ok(Bus::Ahci),
        _ => Err(format!("unknown bus {s:?} (expected virtio, virtio-scsi, nvme or ahci)")),
    }
}

fn check_modules(names: &[String]) -> Result<(), String> {
    match names.iter().find(|m| m.is_empty() || m.contains(['/', ',']) || m.chars().any(char::is_whitespace)) {
        Some(m) => Err(format!("{m:?} is not a module name (such as nvme or virtio_blk)")),
        None => Ok(()),
    }
}

/// A count of capture CPUs: 1 to [`MAX_CPUS`]. Shared with `arm --cpus`.
pub fn check_cpus(n: i64) -> Result<u32, String> {
    u32::try_from(n).ok().filter(|n| (1..=MAX_CPUS).contains(n)).ok_or_else(|| {
        format!(
            "{n} is not a number of capture CPUs (1-{MAX_CPUS}); each CPU beyond the first needs more \
             crashkernel= memory, see `kexdump estimate`"
        )
    })
}

fn check_abs_path(p: &str, empty_ok: bool) -> Result<(), String> {
    if (p.is_empty() && empty_ok) || (p.starts_with('/') && !p.contains('\n')) {
        Ok(())
    } else {
        Err(format!("{p:?} is not an absolute path"))
    }
}

fn compression_with_level(c: Compression, level: i64) -> Result<Compression, String> {
    let l = i32::try_from(level).unwrap_or(i32::MAX);
    match c {
        // Neither takes a level: the key (and its default) does not apply.
        Compression::None | Compression::Snappy | Compression::Lzo => Ok(c),
        Compression::Zstd { .. } if (-7..=22).contains(&l) && l != 0 => Ok(Compression::Zstd { level: l }),
        Compression::Zlib { .. } if (1..=9).contains(&l) => Ok(Compression::Zlib { level: l as u32 }),
        Compression::Zstd { .. } => Err(format!("{level} is not a zstd level (-7 to 22, not 0)")),
        Compression::Zlib { .. } => Err(format!("{level} is not a zlib level (1-9)")),
    }
}

/// A size: bytes, or a number with K, M, G or T (powers of 1024).
pub fn parse_size(s: &str) -> Option<u64> {
    let (num, shift) = match s.as_bytes().last()?.to_ascii_uppercase() {
        b'K' => (&s[..s.len() - 1], 10),
        b'M' => (&s[..s.len() - 1], 20),
        b'G' => (&s[..s.len() - 1], 30),
        b'T' => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    num.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// `auto`, or the syntax of the kernel's crashkernel= (Documentation/
/// admin-guide/kdump/kdump.rst): `SIZE[@OFFSET]`, `SIZE,high|low`, or
/// `START-[END]:SIZE[,START-[END]:SIZE...][@OFFSET]`.
/// `auto` or a value `kexdump crashkernel set` would accept (one parser
/// for both: `crate::crashkernel::param`).
fn check_crashkernel(v: &str) -> Result<(), String> {
    crate::crashkernel::param::parse_set_value(v).map(drop).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../etc/kexdump.toml");

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/kexdump.toml"))
    }

    /// `(kind, line, key)` of the error `text` gives, and its message.
    fn fails(text: &str) -> (ErrorKind, Option<usize>, Option<String>, String) {
        let e = parse(text).unwrap_err();
        let s = e.to_string();
        (e.kind, e.line, e.key, s)
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.target.target, "/var/crash");
        assert_eq!((c.target.path.as_str(), c.target.bus.as_str(), c.target.wait_seconds), ("crash", "virtio", 60));
        assert_eq!((c.dump.level, c.dump.format.as_str(), c.dump.compression.as_str()), (31, "kdump", "zstd"));
        assert_eq!(c.dump.compression_level, 1);
        assert_eq!((c.actions.failure_action.as_str(), c.actions.final_action.as_str()), ("reboot", "reboot"));
        assert_eq!(c.kernel.initramfs, "/var/lib/kexdump/capture.img");
        assert_eq!((c.kernel.cpus, c.kernel.cpus()), (1, 1));
        assert_eq!((c.retention.keep, c.retention.min_free.as_str()), (5, "1G"));
        assert_eq!(c.crashkernel.policy, "auto");
        // An empty file is the defaults, and they are valid.
        assert_eq!(parse("").unwrap(), c);
        // The default target is a directory, resolved to its file system's
        // UUID when the image is built (tests below).
        assert_eq!(c.target_spec().unwrap(), TargetSpec::Directory("/var/crash".into()));
        let c = parse("[target]\ntarget = \"LABEL=kexdump\"\n").unwrap();
        let cc = c.capture_config().unwrap();
        let mut want = CaptureConfig::new(Target::Label("kexdump".into()));
        want.path = "crash".into();
        // [retention] defaults: keep 5, leave 1G free.
        (want.keep, want.min_free_bytes) = (5, 1 << 30);
        assert_eq!(cc, want);
        assert_eq!(c.disk_modules().unwrap(), ["virtio_pci", "virtio_blk"]);
    }

    #[test]
    fn missing_default_file_is_defaults_explicit_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        let c = Config::load(root.path(), None).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.file(), None);
        assert_eq!(c.looked_for(), Some(root.path().join("etc/kexdump.toml").as_path()));

        let missing = root.path().join("nope.toml");
        let e = Config::load(root.path(), Some(&missing)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.to_string(), format!("{}: no such file", missing.display()));

        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/kexdump.toml"), "[dump]\nlevel = 1\n").unwrap();
        let c = Config::load(root.path(), None).unwrap();
        assert_eq!(c.dump.level, 1);
        assert_eq!(c.file(), Some(root.path().join("etc/kexdump.toml").as_path()));
    }

    /// Keys a directory target (the default) does not take: set, they are errors.
    const NOT_FOR_A_DIRECTORY: [&str; 10] =
        ["path", "fallback", "interface", "address", "gateway", "mtu", "driver", "identity", "known_hosts", "version"];

    /// Lines `#key = value` of the example, uncommented; but those of
    /// `skip`.
    fn uncommented(skip: &[&str]) -> String {
        EXAMPLE
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(r) if skip.iter().any(|k| r.starts_with(&format!("{k} = "))) => l,
                Some(r) if r.starts_with(|c: char| c.is_ascii_lowercase()) && r.contains(" = ") => r,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn example_uncommented() -> String {
        uncommented(&NOT_FOR_A_DIRECTORY)
    }

    #[test]
    fn example_parses_and_documents_every_key_with_its_default() {
        assert_eq!(parse(EXAMPLE).unwrap(), Config::default());
        // With every `#key = default` line switched on it is still the
        // defaults, and it has exactly the keys of the schema.
        let on = example_uncommented();
        assert_eq!(parse(&on).unwrap(), Config::default());
        let mut have: toml::Table = toml::from_str(&on).unwrap();
        // [network], [ssh] and [nfs] are there, all their keys commented.
        have.retain(|_, t| !t.as_table().unwrap().is_empty());
        let mut want = toml::Table::try_from(Config::default()).unwrap();
        let all = want.clone();
        let path = want["target"].as_table_mut().and_then(|t| t.remove("path"));
        for (_, keys) in want.iter_mut() {
            keys.as_table_mut().unwrap().retain(|k, _| !NOT_FOR_A_DIRECTORY.contains(&k));
        }
        want.retain(|_, t| !t.as_table().unwrap().is_empty());
        assert_eq!(have, want);
        // With an ssh target and a fallback, every key is used: all of
        // them uncommented is the defaults still.
        let ssh = uncommented(&["version", "mount_options"])
            .replacen("target = \"/var/crash\"", "target = \"ssh://kx@192.0.2.10/srv/dumps\"", 1)
            .replacen("\nfallback = \"\"", "\nfallback = \"/var/crash\"", 1);
        let c = parse(&ssh).unwrap();
        let mut all_set = toml::Table::try_from(&c).unwrap();
        all_set["target"].as_table_mut().unwrap().insert("target".into(), "/var/crash".into());
        all_set["target"].as_table_mut().unwrap().insert("fallback".into(), "".into());
        assert_eq!(all_set, all);
        let want = all;
        // `path`'s default is documented, and used with a file-system target.
        assert!(EXAMPLE.contains(&format!("#path = {}", path.unwrap())));
        let fs_target = on.replacen("target = \"/var/crash\"", "target = \"LABEL=kexdump\"\npath = \"crash\"", 1);
        assert_eq!(parse(&fs_target).unwrap().target.path, Config::default().target.path);
        // Each key is documented: prose comments right above it.
        let lines: Vec<&str> = EXAMPLE.lines().collect();
        for (table, keys) in &want {
            for key in keys.as_table().unwrap().keys() {
                let i = lines
                    .iter()
                    .position(|l| l.starts_with(&format!("#{key} = ")))
                    .unwrap_or_else(|| panic!("{table}.{key} is not in etc/kexdump.toml"));
                assert!(lines[i - 1].starts_with("# "), "{table}.{key}: no comment above it");
            }
        }
    }

    #[test]
    fn every_key_can_be_set() {
        let c = parse(
            "[target]\ntarget = \"UUID=6B657864-756d-7000-0000-000000000003\"\npath = \"/var/crash/\"\n\
             fstype = \"xfs\"\nmount_options = \"noatime,nouuid\"\ndrivers = [\"nvme\"]\nbus = \"nvme\"\n\
             wait_seconds = 120\n[dump]\nlevel = 17\nformat = \"elf\"\ncompression = \"zlib\"\n\
             compression_level = 6\n[actions]\nfailure = \"halt\"\nfinal = \"poweroff\"\n[kernel]\n\
             kernel = \"/boot/vmlinuz-6.1.0-56-amd64\"\ninitramfs = \"/boot/kexdump.img\"\n\
             modules_dir = \"/lib/modules/6.1.0-56-amd64\"\nextra_modules = [\"dm_crypt\"]\n\
             cmdline_remove = [\"numa\"]\ncmdline_append = [\"console=ttyS0,115200\"]\ncpus = 64\n\
             [retention]\nkeep = 0\nmin_free = \"512M\"\n[crashkernel]\npolicy = \"1G-4G:128M,4G-:192M\"\n",
        )
        .unwrap();
        let cc = c.capture_config().unwrap();
        assert_eq!(cc.target, Target::Uuid("6b657864-756d-7000-0000-000000000003".into()));
        assert_eq!(
            (cc.path.as_str(), cc.fstype.as_deref(), cc.mount_options.as_str()),
            ("var/crash", Some("xfs"), "noatime,nouuid")
        );
        assert_eq!((cc.level, cc.format, cc.compression), (17, Format::Elf, Compression::Zlib { level: 6 }));
        assert_eq!((cc.wait_seconds, cc.failure_action, cc.final_action), (120, Action::Halt, Action::Poweroff));
        assert_eq!(c.disk_modules().unwrap(), ["nvme"]);
        assert_eq!(c.kernel.cpus(), 64);
        // The capture config it makes survives the image's text form.
        assert_eq!(CaptureConfig::parse(&cc.to_text()).unwrap(), cc);
        // snappy ignores the (default) level.
        let c = parse("[target]\ntarget = \"LABEL=k\"\n[dump]\ncompression = \"snappy\"\n").unwrap();
        assert_eq!(c.capture_config().unwrap().compression, Compression::Snappy);
    }

    #[test]
    fn unknown_key_in_each_table_names_table_key_and_line() {
        for table in ["target", "dump", "actions", "kernel", "retention", "crashkernel"] {
            let (kind, line, key, msg) = fails(&format!("# c\n[{table}]\n\ncolour = \"red\"\n"));
            assert_eq!(
                (kind, line, key.as_deref()),
                (ErrorKind::UnknownKey, Some(4), Some(format!("{table}.colour").as_str()))
            );
            assert!(
                msg.starts_with(&format!("/etc/kexdump.toml:4: key {table}.colour: unknown key; expected ")),
                "{msg}"
            );
        }
        let (kind, line, key, msg) = fails("[dump]\nlevel = 3\n[colour]\nx = 1\n");
        assert_eq!((kind, line, key.as_deref()), (ErrorKind::UnknownKey, Some(3), Some("colour")));
        assert!(msg.contains("expected one of `target`, `dump`"), "{msg}");
        // Dotted keys and inline tables name the key the same way.
        let (_, line, key, _) = fails("x = 1\ndump.colour = 1\n");
        assert_eq!((line, key.as_deref()), (Some(1), Some("x")));
        let (_, line, key, _) = fails("\ndump.colour = 1\n");
        assert_eq!((line, key.as_deref()), (Some(2), Some("dump.colour")));
        let (_, line, key, _) = fails("\n\ntarget = { bus = \"nvme\", colour = 2 }\n");
        assert_eq!((line, key.as_deref()), (Some(3), Some("target.colour")));
    }

    #[test]
    fn bad_values_name_key_and_line() {
        let cases: &[(&str, usize, &str, &str)] = &[
            ("[dump]\n\nlevel = 40\n", 3, "dump.level", "40 is not a dump level (0-31)"),
            ("[dump]\nlevel = -1\n", 2, "dump.level", "-1 is not a dump level (0-31)"),
            ("[dump]\ncompression = \"lz4\"\n", 2, "dump.compression", "unknown compression \"lz4\""),
            ("[dump]\ncompression_level = 0\n", 2, "dump.compression_level", "0 is not a zstd level"),
            (
                "[dump]\ncompression = \"zlib\"\ncompression_level = 12\n",
                3,
                "dump.compression_level",
                "12 is not a zlib level (1-9)",
            ),
            ("[dump]\nformat = \"flat\"\n", 2, "dump.format", "unknown format \"flat\""),
            ("[actions]\nfinal = \"explode\"\n", 2, "actions.final", "unknown action \"explode\""),
            ("[actions]\nfailure = \"Reboot\"\n", 2, "actions.failure", "unknown action \"Reboot\""),
            ("[target]\ntarget = \"sdb1\"\n", 2, "target.target", "\"sdb1\" is not UUID=..., LABEL=..., /dev/..."),
            ("[target]\ntarget = \"UUID=1234\"\n", 2, "target.target", "\"UUID=1234\" is not a file system UUID"),
            ("[target]\ntarget = \"/var/../crash\"\n", 2, "target.target", "without .."),
            ("[target]\ntarget = \"/var/crash\"\npath = \"x\"\n", 3, "target.path", "not used with a directory target"),
            ("[target]\ntarget = \"LABEL=k\"\npath = \"../etc\"\n", 3, "target.path", "no . or .."),
            ("[target]\nbus = \"usb\"\n", 2, "target.bus", "unknown bus \"usb\""),
            ("[target]\nwait_seconds = -5\n", 2, "target.wait_seconds", "-5 is not a number of seconds"),
            (
                "[target]\ndrivers = [\"nvme\", \"virtio blk\"]\n",
                2,
                "target.drivers",
                "\"virtio blk\" is not a module name",
            ),
            ("[target]\nmount_options = \"noatime, nouuid\"\n", 2, "target.mount_options", "without spaces"),
            ("[target]\nfstype = \"ext4 \"\n", 2, "target.fstype", "is not a file system type"),
            ("[kernel]\ncpus = 0\n", 2, "kernel.cpus", "0 is not a number of capture CPUs (1-64)"),
            ("[kernel]\n\ncpus = 65\n", 3, "kernel.cpus", "65 is not a number of capture CPUs (1-64)"),
            ("[kernel]\ncpus = -2\n", 2, "kernel.cpus", "-2 is not a number of capture CPUs (1-64)"),
            (
                "[kernel]\ninitramfs = \"capture.img\"\n",
                2,
                "kernel.initramfs",
                "\"capture.img\" is not an absolute path",
            ),
            ("[kernel]\ncmdline_remove = [\"numa=off\"]\n", 2, "kernel.cmdline_remove", "is not an option name"),
            (
                "[retention]\nmin_free = \"1GB\"\n",
                2,
                "retention.min_free",
                "\"1GB\" is not a size such as 1G, 512M or 0",
            ),
            ("[retention]\nkeep = -1\n", 2, "retention.keep", "-1 is not a number of dumps"),
            ("[crashkernel]\npolicy = \"lots\"\n", 2, "crashkernel.policy", "`lots` is not a memory size"),
            ("[crashkernel]\npolicy = \"4G-1G:128M\"\n", 2, "crashkernel.policy", "range `4G-1G` is empty"),
            ("[target]\ntarget = \"ssh://root@h\"\n", 2, "target.target", "no directory"),
            ("[target]\ntarget = \"ssh://h/d\"\n", 2, "target.target", "no user"),
            ("[target]\ntarget = \"nfs://h:2049/d\"\n", 2, "target.target", "NFS takes its port"),
            ("[target]\ntarget = \"ssh://kx@h/../etc\"\n", 2, "target.target", "may not contain . or .."),
            (
                "[target]\ntarget = \"nfs://h/e\"\nfallback = \"ssh://kx@h/d\"\n",
                3,
                "target.fallback",
                "the fallback is a local target",
            ),
            ("[target]\ntarget = \"nfs://h/e\"\nfallback = \"vdb1\"\n", 3, "target.fallback", "is not UUID=..."),
            (
                "[target]\ntarget = \"LABEL=k\"\nfallback = \"/var/crash\"\n",
                3,
                "target.fallback",
                "not used with a local target: it is for ssh:// and nfs:// targets",
            ),
            ("[network]\nmtu = 1400\n", 2, "network.mtu", "not used with a local target"),
            (
                "[target]\ntarget = \"nfs://h/e\"\n[ssh]\nidentity = \"/k\"\n",
                4,
                "ssh.identity",
                "not used with an NFS target",
            ),
            (
                "[target]\ntarget = \"ssh://kx@h/d\"\n[nfs]\nversion = \"3\"\n",
                4,
                "nfs.version",
                "not used with an ssh target",
            ),
            (
                "[target]\ntarget = \"ssh://kx@h/d\"\nmount_options = \"hard\"\n",
                3,
                "target.mount_options",
                "nothing is mounted",
            ),
            ("[target]\ntarget = \"ssh://kx@h/d\"\nbus = \"nvme\"\n", 3, "target.bus", "target.fallback is not set"),
            ("[target]\ntarget = \"nfs://h/e\"\n[nfs]\nversion = \"5\"\n", 4, "nfs.version", "\"5\" is not one of 4.2"),
            (
                "[target]\ntarget = \"nfs://h/e\"\n[network]\naddress = \"10.0.2.15\"\n",
                4,
                "network.address",
                "neither dhcp nor ADDRESS/PREFIX",
            ),
            (
                "[target]\ntarget = \"nfs://h/e\"\n[network]\naddress = \"10.0.2.15/40\"\n",
                4,
                "network.address",
                "prefix length",
            ),
            ("[target]\ntarget = \"nfs://h/e\"\n[network]\ngateway = \"gw\"\n", 4, "network.gateway", "gw"),
            ("[target]\ntarget = \"nfs://h/e\"\n[network]\nmtu = 20\n", 4, "network.mtu", "20 is not an MTU"),
            (
                "[target]\ntarget = \"nfs://h/e\"\n[network]\ndriver = \"e1000 e\"\n",
                4,
                "network.driver",
                "not a module name",
            ),
            (
                "[target]\ntarget = \"nfs://h/e\"\n[network]\ninterface = \"eth0/1\"\n",
                4,
                "network.interface",
                "not an interface name",
            ),
            (
                "[target]\ntarget = \"ssh://kx@h/d\"\n[ssh]\nknown_hosts = \"kh\"\n",
                4,
                "ssh.known_hosts",
                "not an absolute path",
            ),
        ];
        for (text, line, key, want) in cases {
            let (kind, l, k, msg) = fails(text);
            assert_eq!((kind, l, k.as_deref()), (ErrorKind::BadValue, Some(*line), Some(*key)), "{text}: {msg}");
            let prefix = format!("/etc/kexdump.toml:{line}: key {key}: ");
            assert!(msg.starts_with(&prefix) && msg.contains(want), "{text}: {msg}");
        }
        let (_, _, _, msg) = fails("[dump]\n\nlevel = 40\n");
        assert_eq!(msg, "/etc/kexdump.toml:3: key dump.level: 40 is not a dump level (0-31)");
    }

    #[test]
    fn wrong_types_and_syntax_errors_name_the_line() {
        let (kind, line, key, msg) = fails("[dump]\nlevel = \"31\"\n");
        assert_eq!((kind, line, key.as_deref()), (ErrorKind::WrongType, Some(2), Some("dump.level")));
        assert_eq!(msg, "/etc/kexdump.toml:2: key dump.level: invalid type: string \"31\", expected an integer");
        // Capture CPUs are a whole number, not a string or a fraction.
        for (cpus, got) in [("\"2\"", "string \"2\""), ("1.5", "floating point `1.5`")] {
            let (kind, line, key, msg) = fails(&format!("[kernel]\ncpus = {cpus}\n"));
            assert_eq!((kind, line, key.as_deref()), (ErrorKind::WrongType, Some(2), Some("kernel.cpus")), "{msg}");
            assert_eq!(msg, format!("/etc/kexdump.toml:2: key kernel.cpus: invalid type: {got}, expected an integer"));
        }
        let (kind, line, key, _) = fails("[target]\n\ndrivers = [\"nvme\",\n  3]\n");
        assert_eq!((kind, line, key.as_deref()), (ErrorKind::WrongType, Some(4), Some("target.drivers")));
        let (kind, line, key, msg) = fails("[dump]\nlevel = 3\n[kernel\n");
        assert_eq!((kind, line, key), (ErrorKind::Syntax, Some(3), None));
        assert!(msg.starts_with("/etc/kexdump.toml:3: "), "{msg}");
        let (kind, line, _, msg) = fails("[dump]\nlevel = 3\nlevel = 4\n");
        assert_eq!((kind, line), (ErrorKind::Syntax, Some(3)), "{msg}");
    }

    #[test]
    fn sizes_and_crashkernel_values() {
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("512m"), Some(512 << 20));
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("4096"), Some(4096));
        for bad in ["", "G", "1.5G", "-1G", "1GB", "1 G", "99999999999T"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        for ok in ["auto", "256M", "256M@16M", "512M,high", "1G-4G:128M,4G-:192M", "2G-:256M@64M"] {
            assert_eq!(check_crashkernel(ok), Ok(()), "{ok}");
        }
        for bad in
            ["", "0", "Auto", "256", "72M,low", "1G-4G", "1G:128M", "1G-:0M", "1G-4G:128M,", "256M@", "1G-4G:128M,high"]
        {
            assert!(check_crashkernel(bad).is_err(), "{bad}");
        }
    }

    /// A fake machine reaching 192.0.2.10 (`server.example`) through eth0,
    /// with kexdump's known_hosts.
    fn remote_machine() -> (tempfile::TempDir, network::fixture::Fake) {
        let d = tempfile::tempdir().unwrap();
        let f = network::fixture::machine(d.path());
        std::fs::create_dir_all(d.path().join("etc/kexdump")).unwrap();
        std::fs::write(d.path().join("etc/kexdump/known_hosts"), format!("[192.0.2.10]:2222 {HOST_KEY}\n")).unwrap();
        std::fs::write(d.path().join("etc/kexdump/id_ed25519"), "key\n").unwrap();
        (d, f)
    }

    const HOST_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb1mDz2qOdz4dDkEQnqv1yTyTCXrHo/SMA+w7PfsPcC";

    #[test]
    fn ssh_target_resolves_address_network_and_host_key() {
        use kexdump_engine::capture_config::SshTarget;
        use kexdump_engine::net_config::NetAddress;
        let (d, f) = remote_machine();
        let c = parse("[target]\ntarget = \"ssh://kx@server.example:2222/srv/dumps\"\n").unwrap();
        assert!(matches!(c.target_spec().unwrap(), TargetSpec::Remote(_)));
        let s = c.capture_setup(d.path(), &f).unwrap();
        let cc = &s.capture;
        assert_eq!(
            cc.target,
            Target::Ssh(SshTarget {
                user: "kx".into(),
                addr: "192.0.2.10:2222".parse().unwrap(),
                dir: "/srv/dumps".into()
            })
        );
        assert_eq!(cc.path, "crash");
        assert_eq!(cc.ssh_host_key.as_deref(), Some(HOST_KEY));
        let net = cc.net.as_ref().unwrap();
        assert_eq!(net.address, NetAddress::Static { addr: "10.0.2.15".parse().unwrap(), prefix: 24 });
        assert_eq!((net.gateway, net.mtu), (Some("10.0.2.2".parse().unwrap()), Some(1500)));
        assert_eq!(s.network.as_ref().unwrap().driver.as_deref(), Some("virtio_net"));
        assert_eq!(s.ssh_identity, Some(d.path().join("etc/kexdump/id_ed25519")));
        assert_eq!(cc.fallback, None);
        // What the image carries reads back.
        assert_eq!(CaptureConfig::parse(&cc.to_text()).unwrap(), *cc);

        // No known host: run propagate.
        let c = parse("[target]\ntarget = \"ssh://kx@192.0.2.10/srv/dumps\"\n").unwrap();
        let e = c.capture_setup(d.path(), &f).unwrap_err();
        assert_eq!((e.kind, e.key.as_deref()), (ErrorKind::Unresolved, Some("ssh.known_hosts")));
        assert!(e.msg.ends_with("has no host key for 192.0.2.10: run `kexdump propagate`"), "{e}");
        // An unknown host, a route through a VLAN: named with the key.
        let c = parse("\n[target]\ntarget = \"ssh://kx@nowhere.example/d\"\n").unwrap();
        let e = c.capture_setup(d.path(), &f).unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("target.target")));
        assert!(e.to_string().contains("cannot resolve nowhere.example"), "{e}");
        let mut vlan = network::fixture::machine(tempfile::tempdir().unwrap().path());
        vlan.ip.insert("-j -d link show dev eth0".into(), r#"[{"linkinfo":{"info_kind":"vlan"}}]"#.into());
        let c = parse("[target]\ntarget = \"ssh://kx@192.0.2.10:2222/d\"\n").unwrap();
        let e = c.capture_setup(d.path(), &vlan).unwrap_err();
        assert!(e.msg.starts_with("eth0 is a VLAN interface"), "{e}");
    }

    #[test]
    fn nfs_target_with_settings_and_a_fallback() {
        use kexdump_engine::net_config::NetAddress;
        let (d, f) = remote_machine();
        let c = parse(
            "[target]\ntarget = \"nfs://192.0.2.10/export/dumps\"\npath = \"\"\nmount_options = \"port=2050\"\n\
             fallback = \"LABEL=crash\"\nfstype = \"ext4\"\n[network]\naddress = \"dhcp\"\nmtu = 9000\n\
             driver = \"e1000e\"\n[nfs]\nversion = \"3\"\n",
        )
        .unwrap();
        let s = c.capture_setup(d.path(), &f).unwrap();
        let cc = &s.capture;
        assert_eq!(cc.target.to_string(), "nfs://192.0.2.10/export/dumps");
        assert_eq!((cc.path.as_str(), cc.mount_options.as_str(), cc.nfs_version.as_str()), ("", "port=2050", "3"));
        assert_eq!(cc.fstype, None);
        let net = cc.net.as_ref().unwrap();
        assert_eq!((net.address, net.mtu), (NetAddress::Dhcp, Some(9000)));
        assert_eq!(s.network.unwrap().driver.as_deref(), Some("e1000e"));
        assert_eq!(s.ssh_identity, None);
        let fb = cc.fallback.as_ref().unwrap();
        assert_eq!(
            (&fb.target, fb.fstype.as_deref(), fb.path.as_str()),
            (&Target::Label("crash".into()), Some("ext4"), "")
        );
        assert_eq!(CaptureConfig::parse(&cc.to_text()).unwrap().fallback.unwrap().target, fb.target);
    }

    #[test]
    fn directory_target_resolves_on_a_fake_root() {
        use std::os::unix::fs::symlink;
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("proc/self")).unwrap();
        std::fs::write(
            r.join("proc/self/mountinfo"),
            "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n\
             25 22 254:17 / /var rw,relatime shared:14 - xfs /dev/vdb1 rw\n\
             26 22 0:30 / /run rw shared:13 - tmpfs tmpfs rw\n",
        )
        .unwrap();
        std::fs::create_dir_all(r.join("dev/disk/by-uuid")).unwrap();
        symlink("../../vdb1", r.join("dev/disk/by-uuid/6b657864-756d-7000-0000-000000000003")).unwrap();

        let c = parse("[target]\ntarget = \"/var/crash\"\n").unwrap();
        assert_eq!(c.target_spec().unwrap(), TargetSpec::Directory("/var/crash".into()));
        let cc = c.capture_config_in(r).unwrap();
        assert_eq!(cc.target, Target::Uuid("6b657864-756d-7000-0000-000000000003".into()));
        assert_eq!((cc.path.as_str(), cc.fstype.as_deref()), ("crash", Some("xfs")));
        // The mount point itself: the file system's root.
        let cc = parse("[target]\ntarget = \"/var\"\nfstype = \"ext4\"\n").unwrap().capture_config_in(r).unwrap();
        assert_eq!((cc.path.as_str(), cc.fstype.as_deref()), ("", Some("ext4")));
        assert_eq!(CaptureConfig::parse(&cc.to_text()).unwrap().path, ".");

        // The root file system has no by-uuid entry here; tmpfs never has.
        for (dir, on) in
            [("/srv/crash", "/dev/vda1 (ext4, mounted on /)"), ("/run/crash", "tmpfs (tmpfs, mounted on /run)")]
        {
            let c = parse(&format!("\n[target]\ntarget = \"{dir}\"\n")).unwrap();
            let e = c.capture_config_in(r).unwrap_err();
            assert_eq!((e.kind, e.line, e.key.as_deref()), (ErrorKind::Unresolved, Some(3), Some("target.target")));
            let msg = e.to_string();
            assert!(msg.starts_with(&format!("/etc/kexdump.toml:3: key target.target: {dir} is on {on}")), "{msg}");
            assert!(msg.ends_with("name it as UUID=..., LABEL=... or /dev/..."), "{msg}");
        }
    }
}
