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
use crate::save::Format;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub const PATH_IN_IMAGE: &str = "etc/kexdump-capture.conf";
/// Where the image keeps its modules: `/lib/modules/<name>.ko`.
pub const MODULES_DIR_IN_IMAGE: &str = "lib/modules";

/// The dump target, as an operator names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `UUID=...` of the file system (case-insensitive, dashes optional).
    Uuid(String),
    /// `LABEL=...` of the file system.
    Label(String),
    /// A block device path such as `/dev/vdb1`.
    Device(PathBuf),
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
        } else {
            Err(format!("{s:?} is not UUID=..., LABEL=... or /dev/..."))
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Uuid(u) => write!(f, "UUID={u}"),
            Target::Label(l) => write!(f, "LABEL={l}"),
            Target::Device(p) => write!(f, "{}", p.display()),
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
}

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
        s
    }

    pub fn parse(text: &str) -> Result<CaptureConfig, ConfigError> {
        let mut target = None;
        let mut c = CaptureConfig::new(Target::Device(PathBuf::new()));
        let mut compression_level: Option<(usize, i32)> = None;
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
