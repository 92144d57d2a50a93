//! The crashkernel= reservation as the running kernel has it, read under
//! a root directory (`/`, or a fake tree in tests): the options of
//! proc/cmdline and what they reserve on this RAM (proc/iomem,
//! proc/meminfo), what sys/kernel/kexec_crash_* say is reserved and
//! loaded, and what the boot loader files hold for the next boot.

use super::bootcfg;
use super::param::{self, human, Low, Opt, Outcome, MEASURED_FLOOR, MIB, RAM_ROUNDING};
use std::fs;
use std::path::{Path, PathBuf};

pub const PROC_CMDLINE: &str = "proc/cmdline";
pub const PROC_IOMEM: &str = "proc/iomem";
pub const PROC_MEMINFO: &str = "proc/meminfo";
pub const CRASH_SIZE: &str = "sys/kernel/kexec_crash_size";
pub const CRASH_LOADED: &str = "sys/kernel/kexec_crash_loaded";

/// A file's text, or why it could not be read (naming the file).
fn read(root: &Path, rel: &str) -> Result<String, String> {
    let path = root.join(rel);
    fs::read(&path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// A sysfs number, or why not.
fn read_number(root: &Path, rel: &str) -> Result<u64, String> {
    let text = read(root, rel)?;
    text.trim().parse().map_err(|_| format!("{} holds {:?}, not a number", root.join(rel).display(), text.trim()))
}

/// One `/proc/iomem` line: `start-end : name`, indented two blanks per level.
#[derive(Clone, Debug, PartialEq, Eq)]
struct IomemEntry {
    depth: usize,
    start: u64,
    /// Included.
    end: u64,
    name: String,
}

fn parse_iomem(text: &str) -> Vec<IomemEntry> {
    text.lines()
        .filter_map(|line| {
            let body = line.trim_start_matches(' ');
            let depth = (line.len() - body.len()) / 2;
            let (range, name) = body.split_once(" : ")?;
            let (s, e) = range.split_once('-')?;
            let start = u64::from_str_radix(s.trim(), 16).ok()?;
            let end = u64::from_str_radix(e.trim(), 16).ok()?;
            Some(IomemEntry { depth, start, end, name: name.trim().to_string() })
        })
        .collect()
}

/// Where the reservation is, per /proc/iomem.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Regions {
    /// The "Crash kernel" entries (start, end included).
    pub crash: Vec<(u64, u64)>,
    /// /proc/iomem shows zeros: the reader is not root.
    pub hidden: bool,
    /// The top-level "System RAM" total, when the addresses are shown.
    pub system_ram: Option<u64>,
}

fn regions(iomem: &str) -> Regions {
    let entries = parse_iomem(iomem);
    let hidden = !entries.is_empty() && entries.iter().all(|e| e.start == 0 && e.end == 0);
    let crash = entries.iter().filter(|e| e.name == "Crash kernel").map(|e| (e.start, e.end)).collect();
    let ram: u64 = entries
        .iter()
        .filter(|e| e.depth == 0 && e.name == "System RAM")
        .map(|e| e.end.saturating_sub(e.start).saturating_add(1))
        .fold(0, u64::saturating_add);
    Regions { crash, hidden, system_ram: (!hidden && ram > 0).then_some(ram) }
}

/// `MemTotal:` of /proc/meminfo, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The machine's RAM as the kernel counts it when it matches ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ram {
    pub bytes: u64,
    pub source: String,
}

/// The kernel counts all RAM; MemTotal leaves out what the kernel keeps,
/// the crashkernel= reservation among it. /proc/iomem has the real figure,
/// when it shows addresses (to root); else MemTotal plus the reservation
/// comes close.
fn ram(root: &Path, regions: &Regions, reserved: Option<u64>) -> Option<Ram> {
    if let Some(bytes) = regions.system_ram {
        return Some(Ram { bytes, source: format!("System RAM in {}", root.join(PROC_IOMEM).display()) });
    }
    let total = mem_total(&read(root, PROC_MEMINFO).ok()?)?;
    let bytes = total.saturating_add(reserved.unwrap_or(0));
    let source = format!(
        "MemTotal in {}{}",
        root.join(PROC_MEMINFO).display(),
        if reserved.unwrap_or(0) > 0 { " plus the reservation" } else { "" }
    );
    Some(Ram { bytes, source })
}

/// Everything `kexdump crashkernel show` reports.
pub struct State {
    /// The primary kernel's command line file.
    pub cmdline_path: PathBuf,
    /// Its crashkernel= options.
    pub options: Vec<Opt>,
    pub ram: Option<Ram>,
    /// What the options reserve on this RAM.
    pub outcome: Option<Outcome>,
    /// What is reserved (kexec_crash_size).
    pub reserved: Result<u64, String>,
    pub regions: Regions,
    /// Whether a capture kernel is loaded.
    pub loaded: Result<bool, String>,
    /// The boot loader configuration's crashkernel= options: (file, where, option).
    pub next_boot: Option<(PathBuf, Vec<(String, String)>)>,
    /// GRUB drop-in files that set crashkernel= too.
    pub dropins: Vec<String>,
    pub errors: Vec<String>,
}

/// The reservation of the machine under `root`, as its kernel has it.
pub fn state(root: &Path) -> State {
    let mut errors = Vec::new();
    let options = match read(root, PROC_CMDLINE) {
        Ok(line) => param::options(&line),
        Err(e) => {
            errors.push(e);
            Vec::new()
        }
    };
    let reserved = read_number(root, CRASH_SIZE).map_err(|e| {
        if root.join(CRASH_SIZE).exists() {
            e
        } else {
            format!("{e} (the kernel lacks CONFIG_CRASH_DUMP?)")
        }
    });
    let regions = match read(root, PROC_IOMEM) {
        Ok(t) => regions(&t),
        Err(e) => {
            errors.push(e);
            Regions::default()
        }
    };
    let loaded = match read(root, CRASH_LOADED).map(|t| t.trim().to_string()) {
        Ok(t) if t == "1" => Ok(true),
        Ok(t) if t == "0" => Ok(false),
        Ok(t) => Err(format!("{} holds {t:?}", root.join(CRASH_LOADED).display())),
        Err(e) => Err(e),
    };
    let ram = ram(root, &regions, reserved.as_ref().ok().copied());
    let outcome = ram.as_ref().map(|r| param::outcome(&options, r.bytes));
    let next_boot =
        [(bootcfg::GRUB_DEFAULT, true), (bootcfg::KERNEL_CMDLINE, false)].into_iter().find_map(|(rel, grub)| {
            let path = root.join(rel);
            let text = fs::read_to_string(&path).ok()?;
            let found = bootcfg::configured_options(&path, &text, grub);
            Some((path, found))
        });
    State {
        cmdline_path: root.join(PROC_CMDLINE),
        options,
        ram,
        outcome,
        reserved,
        regions,
        loaded,
        next_boot,
        dropins: bootcfg::grub_dropin_mentions(root),
        errors,
    }
}

fn low_text(low: Low) -> String {
    match low {
        Low::Given(0) => "no low part (0,low)".to_string(),
        Low::Given(n) => format!("plus {} below 4 GiB (,low)", human(n)),
        Low::Default => "plus the architecture's default below 4 GiB (x86_64: 256M, or the swiotlb size + 8M \
                         if larger; arm64 and others: 128M)"
            .to_string(),
    }
}

/// What the options mean on this RAM, in words.
pub fn meaning(s: &State) -> String {
    let (Some(ram), Some(outcome)) = (&s.ram, &s.outcome) else {
        return "unknown: the RAM size could not be read".to_string();
    };
    let ram_text = format!(
        "this machine's RAM: {:.1} GiB, from {}, rounded up to {} as the kernel does",
        param::rounded_ram(ram.bytes) as f64 / (1u64 << 30) as f64,
        ram.source,
        human(RAM_ROUNDING)
    );
    match outcome {
        Outcome::Unset => "nothing: the kernel was booted without crashkernel=".to_string(),
        Outcome::Nothing { reason, .. } => format!("nothing: {reason} ({ram_text})"),
        Outcome::Reserve { size, offset, low, cma, from, range } => {
            let mut t = human(*size);
            if let Some(r) = range {
                t.push_str(&format!(", from the range {r} ({ram_text})"));
            }
            match offset {
                Some(0) | None => {}
                Some(o) => t.push_str(&format!(", at physical address {o:#x}")),
            }
            if let Some(l) = low {
                t.push_str(&format!(" anywhere in memory, {}", low_text(*l)));
            }
            if let Some(c) = cma {
                t.push_str(&format!("; plus {} of CMA (Linux 6.17+)", human(*c)));
            }
            if s.options.len() > 1 {
                t.push_str(&format!("; decided by {}", s.options[*from].option));
            }
            t
        }
    }
}

/// What the new value reserves on this machine, and warnings about it.
/// Why the kernel would reserve nothing for `option` on this machine's RAM,
/// when it would; `None` when it reserves something or the RAM is unknown.
pub fn refusal(root: &Path, option: &str) -> Option<String> {
    let iomem = read(root, PROC_IOMEM).map(|t| regions(&t)).unwrap_or_default();
    let reserved = read_number(root, CRASH_SIZE).ok();
    let ram = ram(root, &iomem, reserved)?;
    match param::outcome(&param::options(option), ram.bytes) {
        Outcome::Nothing { reason, .. } => Some(format!("{reason} (RAM {}, {})", human(ram.bytes), ram.source)),
        _ => None,
    }
}

pub fn set_notes(root: &Path, value: &param::SetValue, option: &str) -> Vec<String> {
    let mut notes = Vec::new();
    let iomem = read(root, PROC_IOMEM).map(|t| regions(&t)).unwrap_or_default();
    let reserved = read_number(root, CRASH_SIZE).ok();
    let opts = param::options(option);
    if let Some(ram) = ram(root, &iomem, reserved) {
        let s = State {
            cmdline_path: root.join(PROC_CMDLINE),
            outcome: Some(param::outcome(&opts, ram.bytes)),
            options: opts,
            ram: Some(ram),
            reserved: Ok(0),
            regions: Regions::default(),
            loaded: Ok(false),
            next_boot: None,
            dropins: Vec::new(),
            errors: Vec::new(),
        };
        notes.push(format!("on this machine {option} reserves {}", meaning(&s)));
    }
    let small = match &value.parsed {
        param::CrashKernel::Fixed { size, .. } | param::CrashKernel::High(size) => vec![*size],
        param::CrashKernel::Ranges { ranges, .. } => ranges.iter().map(|r| r.size).filter(|&s| s > 0).collect(),
        _ => Vec::new(),
    };
    if let Some(s) = small.iter().find(|&&s| s < MEASURED_FLOOR) {
        notes.push(format!(
            "WARNING: {} is below {}M, the smallest reservation that captured a dump in kexdump's measurements \
             (Debian 6.1 kernel, 1.3 MB initramfs): `kexdump arm` tells whether it fits",
            human(*s),
            MEASURED_FLOOR / MIB
        ));
    }
    for d in bootcfg::grub_dropin_mentions(root) {
        notes.push(format!(
            "WARNING: {d}: this file is read after {} and its crashkernel= may win; edit or remove it",
            bootcfg::GRUB_DEFAULT
        ));
    }
    notes
}

/// A fake machine for the tests of `crashkernel`.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;

    pub struct Tree {
        dir: tempfile::TempDir,
    }

    pub const IOMEM_ROOT: &str = "\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
000a0000-000bffff : PCI Bus 0000:00
00100000-7ffdffff : System RAM
  1b000000-1c001fff : Kernel code
  6b000000-72ffffff : Crash kernel
7ffe0000-7fffffff : Reserved
";

    pub const MEMINFO: &str = "MemTotal:        1873456 kB\nMemFree:          1500000 kB\n";

    impl Tree {
        pub fn new() -> Tree {
            let t = Tree { dir: tempfile::tempdir().expect("tempdir") };
            t.write(PROC_CMDLINE, "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro crashkernel=1G-4G:128M,4G-:192M quiet\n");
            t.write(CRASH_SIZE, "134217728\n");
            t.write(CRASH_LOADED, "1\n");
            t.write(PROC_IOMEM, IOMEM_ROOT);
            t.write(PROC_MEMINFO, MEMINFO);
            t
        }

        pub fn root(&self) -> &Path {
            self.dir.path()
        }

        pub fn write(&self, rel: &str, text: &str) {
            let p = self.root().join(rel);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(p, text).expect("write");
        }

        pub fn read(&self, rel: &str) -> String {
            fs::read_to_string(self.root().join(rel)).expect("read")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{Tree, IOMEM_ROOT, MEMINFO};
    use super::*;
    use crate::crashkernel::param::parse_set_value;

    #[test]
    fn iomem_parsing() {
        let r = regions(IOMEM_ROOT);
        assert_eq!(r.crash, [(0x6b00_0000, 0x72ff_ffff)]);
        assert!(!r.hidden);
        assert_eq!(r.system_ram, Some(0x9fc00 - 0x1000 + 0x7ffe0000 - 0x100000));
        let zeros = IOMEM_ROOT.lines().map(|l| {
            let name = l.split_once(" : ").expect("name").1;
            let indent = l.len() - l.trim_start().len();
            format!("{}00000000-00000000 : {name}\n", " ".repeat(indent))
        });
        let r = regions(&zeros.collect::<String>());
        assert!(r.hidden && r.system_ram.is_none());
        assert_eq!(r.crash, [(0, 0)]);
        assert_eq!(mem_total(MEMINFO), Some(1873456 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn notes_on_the_new_value() {
        let t = Tree::new();
        let v = parse_set_value("64M").expect("value");
        let notes = set_notes(t.root(), &v, "crashkernel=64M");
        assert!(notes[0].starts_with("on this machine crashkernel=64M reserves 64M"), "{notes:?}");
        assert!(notes[1].contains("below 88M"), "{notes:?}");
        t.write(
            "etc/default/grub.d/kdump-tools.cfg",
            "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M\"\n",
        );
        let v = parse_set_value("auto").expect("value");
        let notes = set_notes(t.root(), &v, &format!("crashkernel={}", param::AUTO));
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[1].contains("kdump-tools.cfg:1") && notes[1].contains("may win"), "{notes:?}");
    }
}
