//! `kexdump crashkernel show` and `kexdump crashkernel set`: the
//! crashkernel= reservation as the running kernel has it, and as the boot
//! loader will pass it at the next boot.
//!
//! Everything is read under a root directory (`/`, or a fake tree in
//! tests): proc/cmdline, proc/iomem, proc/meminfo, sys/kernel/kexec_crash_*,
//! and the boot loader files of bootcfg.rs.

use crate::cli::{BootloaderArg, CrashkernelSetArgs, CrashkernelShowArgs};
use crate::crashkernel::bootcfg::{self, Edit};
use crate::crashkernel::option::{self as crashkernel, human, Low, Opt, Outcome, MEASURED_FLOOR, MIB, RAM_ROUNDING};
use anyhow::{bail, Context, Result};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const PROC_CMDLINE: &str = "proc/cmdline";
const PROC_IOMEM: &str = "proc/iomem";
const PROC_MEMINFO: &str = "proc/meminfo";
const CRASH_SIZE: &str = "sys/kernel/kexec_crash_size";
const CRASH_LOADED: &str = "sys/kernel/kexec_crash_loaded";

/// The last line of every `set`.
const REBOOT: &str = "kexdump: a reboot is needed for the new reservation to take effect";

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
struct Regions {
    /// The "Crash kernel" entries (start, end included).
    crash: Vec<(u64, u64)>,
    /// /proc/iomem shows zeros: the reader is not root.
    hidden: bool,
    /// The top-level "System RAM" total, when the addresses are shown.
    system_ram: Option<u64>,
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
struct Ram {
    bytes: u64,
    source: String,
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

/// Everything `show` reports.
struct State {
    cmdline_path: PathBuf,
    options: Vec<Opt>,
    ram: Option<Ram>,
    outcome: Option<Outcome>,
    reserved: Result<u64, String>,
    regions: Regions,
    loaded: Result<bool, String>,
    /// The boot loader configuration's crashkernel= options: (file, where, option).
    next_boot: Option<(PathBuf, Vec<(String, String)>)>,
    dropins: Vec<String>,
    errors: Vec<String>,
}

fn state(root: &Path) -> State {
    let mut errors = Vec::new();
    let options = match read(root, PROC_CMDLINE) {
        Ok(line) => crashkernel::options(&line),
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
    let outcome = ram.as_ref().map(|r| crashkernel::outcome(&options, r.bytes));
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
fn meaning(s: &State) -> String {
    let (Some(ram), Some(outcome)) = (&s.ram, &s.outcome) else {
        return "unknown: the RAM size could not be read".to_string();
    };
    let ram_text = format!(
        "this machine's RAM: {:.1} GiB, from {}, rounded up to {} as the kernel does",
        crashkernel::rounded_ram(ram.bytes) as f64 / (1u64 << 30) as f64,
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

fn run_show_text(s: &State) {
    println!("kexdump: crashkernel");
    if s.options.is_empty() {
        println!("  configured:     none ({} has no crashkernel=)", s.cmdline_path.display());
    }
    for (i, o) in s.options.iter().enumerate() {
        let label = if i == 0 { "configured:" } else { "" };
        match &o.parsed {
            Ok(_) => println!("  {label:<15} {}  ({})", o.option, s.cmdline_path.display()),
            Err(e) => println!("  {label:<15} {}  ({}): INVALID: {e}", o.option, s.cmdline_path.display()),
        }
    }
    println!("  {:<15} {}", "on this RAM:", meaning(s));
    match &s.reserved {
        Ok(0) => println!("  {:<15} nothing ({} is 0)", "reserved:", root_rel(s, CRASH_SIZE)),
        Ok(n) => println!("  {:<15} {} ({})", "reserved:", human(*n), root_rel(s, CRASH_SIZE)),
        Err(e) => println!("  {:<15} unknown: {e}", "reserved:"),
    }
    if s.regions.hidden {
        println!(
            "  {:<15} not shown: {} shows zero addresses to users other than root; run as root to see them",
            "at:",
            root_rel(s, PROC_IOMEM)
        );
    } else {
        for (start, end) in &s.regions.crash {
            println!(
                "  {:<15} {start:#014x}-{end:#014x} ({}, \"Crash kernel\" in {})",
                "at:",
                human(end.saturating_sub(*start).saturating_add(1)),
                root_rel(s, PROC_IOMEM)
            );
        }
    }
    if let (Ok(0), Some(Outcome::Reserve { .. })) = (&s.reserved, &s.outcome) {
        println!(
            "  {:<15} the option asks for memory but none is reserved: the kernel found no room \
             (`dmesg | grep -i crashkernel` says why)",
            "note:"
        );
    }
    match &s.loaded {
        Ok(true) => println!("  {:<15} loaded: a panic now boots it and saves a dump", "capture kernel:"),
        Ok(false) => {
            println!("  {:<15} not loaded: a panic does not save a dump (`kexdump arm` loads one)", "capture kernel:")
        }
        Err(e) => println!("  {:<15} unknown: {e}", "capture kernel:"),
    }
    if let Some((path, found)) = &s.next_boot {
        if found.is_empty() {
            println!("  {:<15} no crashkernel= in {}", "next boot:", path.display());
        }
        for (where_, option) in found {
            println!("  {:<15} {option}  ({where_})", "next boot:");
        }
    }
    for d in &s.dropins {
        println!("  {:<15} {d}", "also sets it:");
    }
    for e in &s.errors {
        println!("  {:<15} {e}", "warning:");
    }
}

fn root_rel(s: &State, rel: &str) -> String {
    // The root is the parent of proc/ (cmdline_path = ROOT/proc/cmdline).
    let root = s.cmdline_path.parent().and_then(Path::parent).unwrap_or(Path::new("/"));
    root.join(rel).display().to_string()
}

fn show_json(s: &State) -> serde_json::Value {
    use serde_json::json;
    let options: Vec<_> = s
        .options
        .iter()
        .map(|o| json!({"option": o.option, "valid": o.parsed.is_ok(), "error": o.parsed.as_ref().err().map(|e| e.to_string())}))
        .collect();
    let expected = match &s.outcome {
        Some(Outcome::Reserve { size, offset, low, cma, from, range }) => json!({
            "size": size,
            "offset": offset,
            "high": low.is_some(),
            "low": match low { Some(Low::Given(n)) => json!(n), Some(Low::Default) => json!("default"), None => json!(null) },
            "cma": cma,
            "range": range.map(|r| r.to_string()),
            "option": s.options[*from].option,
        }),
        _ => json!(null),
    };
    let reason = match &s.outcome {
        Some(Outcome::Nothing { reason, .. }) => Some(reason.clone()),
        Some(Outcome::Unset) => Some("no crashkernel= option".to_string()),
        None => Some("the RAM size could not be read".to_string()),
        _ => None,
    };
    let mut errors = s.errors.clone();
    errors.extend(s.reserved.as_ref().err().cloned());
    errors.extend(s.loaded.as_ref().err().cloned());
    json!({
        "cmdline_options": options,
        "ram_bytes": s.ram.as_ref().map(|r| r.bytes),
        "ram_rounded_bytes": s.ram.as_ref().map(|r| crashkernel::rounded_ram(r.bytes)),
        "ram_source": s.ram.as_ref().map(|r| r.source.clone()),
        "expected": expected,
        "expected_nothing_reason": reason,
        "reserved_bytes": s.reserved.as_ref().ok(),
        "regions": if s.regions.hidden { json!(null) } else {
            json!(s.regions.crash.iter().map(|(a, b)| json!({"start": a, "end": b})).collect::<Vec<_>>())
        },
        "addresses_hidden": s.regions.hidden,
        "loaded": s.loaded.as_ref().ok(),
        "next_boot": s.next_boot.as_ref().map(|(p, found)| json!({
            "file": p.display().to_string(),
            "options": found.iter().map(|(_, o)| o.clone()).collect::<Vec<_>>(),
        })),
        "also_set_in": s.dropins,
        "errors": errors,
    })
}

pub fn run_show(a: CrashkernelShowArgs) -> Result<ExitCode> {
    let s = state(&a.root);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&show_json(&s))?);
    } else {
        run_show_text(&s);
    }
    Ok(ExitCode::SUCCESS)
}

/// Which file holds the boot loader's command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Grub,
    KernelCmdline,
}

impl Target {
    fn rel(self) -> &'static str {
        match self {
            Target::Grub => bootcfg::GRUB_DEFAULT,
            Target::KernelCmdline => bootcfg::KERNEL_CMDLINE,
        }
    }
}

/// The file to edit: the one asked for, which must exist, or with `auto`
/// GRUB's when it exists, else kernel-install's.
pub fn target(root: &Path, asked: BootloaderArg) -> Result<(Target, PathBuf)> {
    let exists = |t: Target| root.join(t.rel()).exists();
    let t = match asked {
        BootloaderArg::Grub => Target::Grub,
        BootloaderArg::KernelCmdline => Target::KernelCmdline,
        BootloaderArg::Auto if exists(Target::Grub) => Target::Grub,
        BootloaderArg::Auto if exists(Target::KernelCmdline) => Target::KernelCmdline,
        BootloaderArg::Auto => bail!(
            "neither {} nor {} exists: kexdump edits GRUB's settings or kernel-install's command line; with \
             another boot loader, add crashkernel= to its kernel command line by hand",
            root.join(bootcfg::GRUB_DEFAULT).display(),
            root.join(bootcfg::KERNEL_CMDLINE).display()
        ),
    };
    let path = root.join(t.rel());
    if !path.exists() {
        bail!(
            "{} does not exist (--bootloader {})",
            path.display(),
            if t == Target::Grub { "grub" } else { "kernel-cmdline" }
        );
    }
    Ok((t, path))
}

/// The planned change of `set`.
pub struct Plan {
    pub target: Target,
    pub path: PathBuf,
    pub old: String,
    pub edit: Edit,
}

pub fn plan(root: &Path, asked: BootloaderArg, option: &str) -> Result<Plan> {
    let (target, path) = target(root, asked)?;
    let meta = fs::symlink_metadata(&path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.file_type().is_symlink() {
        bail!(
            "{} is a symbolic link: kexdump replaces files whole and would break the link; edit its target by hand",
            path.display()
        );
    }
    let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let old = String::from_utf8(bytes).map_err(|_| bootcfg::EditError::NotText { path: path.clone() })?;
    let edit = match target {
        Target::Grub => bootcfg::edit_grub(&path, &old, option)?,
        Target::KernelCmdline => bootcfg::edit_kernel_cmdline(&old, option),
    };
    Ok(Plan { target, path, old, edit })
}

/// Writes the backup, then the new file.
pub fn apply(plan: &Plan) -> Result<PathBuf> {
    let meta = fs::metadata(&plan.path).with_context(|| format!("cannot read {}", plan.path.display()))?;
    let backup = bootcfg::backup_path(&plan.path);
    bootcfg::write_atomic(&backup, plan.old.as_bytes(), &meta).with_context(|| {
        format!("cannot write the backup {}; {} is unchanged", backup.display(), plan.path.display())
    })?;
    bootcfg::write_atomic(&plan.path, plan.edit.text.as_bytes(), &meta).with_context(|| {
        format!("cannot write {}; it is unchanged (the backup is {})", plan.path.display(), backup.display())
    })?;
    Ok(backup)
}

/// Runs GRUB's configuration generator (no shell involved).
pub fn update_grub(program: &str, path: &Path, backup: &Path) -> Result<()> {
    let changed = format!("{} was changed (backup: {})", path.display(), backup.display());
    let how = "run `update-grub` (Debian, Ubuntu), or `grub-mkconfig -o /boot/grub/grub.cfg` \
               (`grub2-mkconfig -o /boot/grub2/grub.cfg` on Fedora, RHEL, SUSE)";
    match Command::new(program).status() {
        Ok(st) if st.success() => Ok(()),
        Ok(st) => {
            bail!("{changed}, but `{program}` failed ({st}), so the boot menu does not have it yet: fix that and {how}")
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            bail!("{changed}, but `{program}` is not installed here, so the boot menu does not have it yet: {how}")
        }
        Err(e) => bail!("{changed}, but `{program}` could not be run ({e}): {how}"),
    }
}

/// What the new value reserves on this machine, and warnings about it.
fn set_notes(root: &Path, value: &crashkernel::SetValue, option: &str) -> Vec<String> {
    let mut notes = Vec::new();
    let iomem = read(root, PROC_IOMEM).map(|t| regions(&t)).unwrap_or_default();
    let reserved = read_number(root, CRASH_SIZE).ok();
    let opts = crashkernel::options(option);
    if let Some(ram) = ram(root, &iomem, reserved) {
        let s = State {
            cmdline_path: root.join(PROC_CMDLINE),
            outcome: Some(crashkernel::outcome(&opts, ram.bytes)),
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
        crashkernel::CrashKernel::Fixed { size, .. } | crashkernel::CrashKernel::High(size) => vec![*size],
        crashkernel::CrashKernel::Ranges { ranges, .. } => ranges.iter().map(|r| r.size).filter(|&s| s > 0).collect(),
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

pub fn run_set(a: CrashkernelSetArgs) -> Result<ExitCode> {
    let root = a.root.as_path();
    let real_root = root == Path::new("/");
    let option = format!("crashkernel={}", a.size.text);
    if !a.dry_run && real_root {
        let euid = crate::system::identity::effective_uid();
        if euid != 0 {
            bail!(
                "changing the boot configuration needs root, and this runs as uid {euid}: run it with sudo, \
                 or add --dry-run to see the change"
            );
        }
    }
    let plan = plan(root, a.bootloader, &option)?;
    let notes = set_notes(root, &a.size, &option);
    if plan.edit.text == plan.old {
        println!("kexdump: {} already has {option}; nothing to change", plan.path.display());
        notes.iter().chain(&plan.edit.notes).for_each(|n| println!("kexdump: {n}"));
        println!("{REBOOT}, unless the running kernel already booted with it (`kexdump crashkernel show`)");
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", bootcfg::diff(&plan.path, &plan.old, &plan.edit.text));
    notes.iter().chain(&plan.edit.notes).for_each(|n| println!("kexdump: {n}"));
    if a.dry_run {
        let then = match plan.target {
            Target::Grub if real_root => "; update-grub would then rebuild the boot menu",
            _ => "",
        };
        println!("kexdump: dry run, nothing was written: the change above ({}){then}", plan.edit.what.join(", "));
        println!("{REBOOT}");
        return Ok(ExitCode::SUCCESS);
    }
    let backup = apply(&plan)?;
    println!("kexdump: {}: {} (backup: {})", plan.path.display(), plan.edit.what.join(", "), backup.display());
    match plan.target {
        Target::Grub if real_root => {
            update_grub("update-grub", &plan.path, &backup)?;
            println!("kexdump: update-grub wrote the boot menu");
        }
        Target::Grub => println!(
            "kexdump: not running update-grub: --root is not /; run it inside {} (e.g. in a chroot)",
            root.display()
        ),
        Target::KernelCmdline => println!(
            "kexdump: boot entries take {} when they are generated: run `kernel-install add <release> <kernel image>` \
             for the installed kernels (or reinstall the kernel package)",
            plan.path.display()
        ),
    }
    println!("{REBOOT}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crashkernel::option::{parse_set_value, Problem, GIB};
    use std::os::unix::fs::PermissionsExt;

    struct Tree {
        dir: tempfile::TempDir,
    }

    const IOMEM_ROOT: &str = "\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
000a0000-000bffff : PCI Bus 0000:00
00100000-7ffdffff : System RAM
  1b000000-1c001fff : Kernel code
  6b000000-72ffffff : Crash kernel
7ffe0000-7fffffff : Reserved
";

    const MEMINFO: &str = "MemTotal:        1873456 kB\nMemFree:          1500000 kB\n";

    impl Tree {
        fn new() -> Tree {
            let t = Tree { dir: tempfile::tempdir().expect("tempdir") };
            t.write(PROC_CMDLINE, "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro crashkernel=1G-4G:128M,4G-:192M quiet\n");
            t.write(CRASH_SIZE, "134217728\n");
            t.write(CRASH_LOADED, "1\n");
            t.write(PROC_IOMEM, IOMEM_ROOT);
            t.write(PROC_MEMINFO, MEMINFO);
            t
        }

        fn root(&self) -> &Path {
            self.dir.path()
        }

        fn write(&self, rel: &str, text: &str) {
            let p = self.root().join(rel);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(p, text).expect("write");
        }

        fn read(&self, rel: &str) -> String {
            fs::read_to_string(self.root().join(rel)).expect("read")
        }

        fn set(&self, value: &str, dry_run: bool, bootloader: BootloaderArg) -> Result<ExitCode> {
            run_set(CrashkernelSetArgs {
                size: parse_set_value(value).expect("value"),
                dry_run,
                bootloader,
                root: self.root().to_path_buf(),
            })
        }
    }

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
    fn show_with_reservation() {
        let t = Tree::new();
        let s = state(t.root());
        assert_eq!(s.options.len(), 1);
        assert_eq!(s.reserved, Ok(128 * MIB));
        assert_eq!(s.loaded, Ok(true));
        // iomem's System RAM (2 GiB less 128 KiB and holes) rounds to 2G.
        assert!(matches!(&s.ram, Some(Ram { source, .. }) if source.contains("System RAM")));
        assert!(matches!(s.outcome, Some(Outcome::Reserve { size, .. }) if size == 128 * MIB));
        let m = meaning(&s);
        assert!(m.starts_with("128M, from the range 1G-4G:128M (this machine's RAM: 2.0 GiB"), "{m}");
        let j = show_json(&s);
        assert_eq!(j["expected"]["size"], 128 * MIB);
        assert_eq!(j["expected"]["range"], "1G-4G:128M");
        assert_eq!(j["reserved_bytes"], 128 * MIB);
        assert_eq!(j["regions"][0]["start"], 0x6b00_0000u64);
        assert_eq!(j["addresses_hidden"], false);
        assert_eq!(j["loaded"], true);
        assert_eq!(j["next_boot"], serde_json::Value::Null);
        assert_eq!(j["errors"].as_array().map(Vec::len), Some(0));
        run_show(CrashkernelShowArgs { json: true, root: t.root().to_path_buf() }).expect("show");
        run_show(CrashkernelShowArgs { json: false, root: t.root().to_path_buf() }).expect("show");
    }

    #[test]
    fn show_without_reservation() {
        let t = Tree::new();
        t.write(PROC_CMDLINE, "BOOT_IMAGE=/vmlinuz ro quiet\n");
        t.write(CRASH_SIZE, "0\n");
        t.write(CRASH_LOADED, "0\n");
        t.write(PROC_IOMEM, &IOMEM_ROOT.replace("  6b000000-72ffffff : Crash kernel\n", ""));
        t.write(bootcfg::GRUB_DEFAULT, "GRUB_CMDLINE_LINUX=\"crashkernel=192M\"\n");
        let s = state(t.root());
        assert!(s.options.is_empty());
        assert_eq!(s.outcome, Some(Outcome::Unset));
        assert!(s.regions.crash.is_empty());
        assert_eq!(meaning(&s), "nothing: the kernel was booted without crashkernel=");
        let j = show_json(&s);
        assert_eq!(j["expected"], serde_json::Value::Null);
        assert_eq!(j["reserved_bytes"], 0);
        assert_eq!(j["loaded"], false);
        assert_eq!(j["next_boot"]["options"][0], "crashkernel=192M");
        run_show(CrashkernelShowArgs { json: false, root: t.root().to_path_buf() }).expect("show");
    }

    #[test]
    fn show_with_zeroed_iomem() {
        let t = Tree::new();
        let zeroed: String = IOMEM_ROOT
            .lines()
            .map(|l| {
                let (range, name) = l.split_once(" : ").expect("line");
                let indent = range.len() - range.trim_start().len();
                format!("{}00000000-00000000 : {name}\n", " ".repeat(indent))
            })
            .collect();
        t.write(PROC_IOMEM, &zeroed);
        let s = state(t.root());
        assert!(s.regions.hidden);
        // MemTotal (1.79 GiB) + the 128M reservation rounds up to 2G.
        let ram = s.ram.clone().expect("ram");
        assert!(ram.source.contains("MemTotal") && ram.source.contains("plus the reservation"), "{}", ram.source);
        assert_eq!(crashkernel::rounded_ram(ram.bytes), 2 * GIB);
        let j = show_json(&s);
        assert_eq!(j["addresses_hidden"], true);
        assert_eq!(j["regions"], serde_json::Value::Null);
        assert_eq!(j["expected"]["size"], 128 * MIB);
    }

    #[test]
    fn show_reports_unreadable_files_and_bad_options() {
        let t = Tree::new();
        t.write(PROC_CMDLINE, "crashkernel=256MB\n");
        fs::remove_file(t.root().join(CRASH_SIZE)).expect("rm");
        fs::remove_file(t.root().join(CRASH_LOADED)).expect("rm");
        let s = state(t.root());
        assert!(matches!(&s.reserved, Err(e) if e.contains("kexec_crash_size") && e.contains("CONFIG_CRASH_DUMP")));
        assert!(matches!(&s.loaded, Err(e) if e.contains("kexec_crash_loaded")));
        assert!(matches!(&s.outcome, Some(Outcome::Nothing { reason, .. }) if reason.contains("`B`")));
        let j = show_json(&s);
        assert_eq!(j["cmdline_options"][0]["valid"], false);
        assert_eq!(j["errors"].as_array().map(Vec::len), Some(2));
    }

    const GRUB: &str = "\
# comment
GRUB_DEFAULT=0
GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"
GRUB_CMDLINE_LINUX=\"\"
";

    #[test]
    fn set_on_grub_without_crashkernel() {
        let t = Tree::new();
        t.write(bootcfg::GRUB_DEFAULT, GRUB);
        let p = t.root().join(bootcfg::GRUB_DEFAULT);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).expect("chmod");
        t.set("auto", false, BootloaderArg::Auto).expect("set");
        let want = GRUB.replace("LINUX=\"\"", "LINUX=\"crashkernel=1G-4G:128M,4G-64G:192M,64G-:256M\"");
        assert_eq!(t.read(bootcfg::GRUB_DEFAULT), want);
        assert_eq!(t.read("etc/default/grub.kexdump-bak"), GRUB);
        assert_eq!(fs::metadata(&p).expect("meta").permissions().mode() & 0o777, 0o600);
        assert_eq!(
            fs::metadata(t.root().join("etc/default/grub.kexdump-bak")).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        // Again: nothing to change, the backup is still the original.
        t.set("auto", false, BootloaderArg::Grub).expect("set");
        assert_eq!(t.read(bootcfg::GRUB_DEFAULT), want);
        assert_eq!(t.read("etc/default/grub.kexdump-bak"), GRUB);
    }

    #[test]
    fn set_on_grub_replaces_in_default() {
        let t = Tree::new();
        let text = GRUB.replace("\"quiet\"", "\"quiet crashkernel=384M-:128M\"");
        t.write(bootcfg::GRUB_DEFAULT, &text);
        t.set("256M", false, BootloaderArg::Auto).expect("set");
        assert_eq!(t.read(bootcfg::GRUB_DEFAULT), GRUB.replace("\"quiet\"", "\"quiet crashkernel=256M\""));
        assert_eq!(t.read("etc/default/grub.kexdump-bak"), text);
    }

    #[test]
    fn set_on_grub_replaces_in_cmdline_linux() {
        let t = Tree::new();
        let text = GRUB.replace("LINUX=\"\"", "LINUX=\"console=ttyS0 crashkernel=512M\"");
        t.write(bootcfg::GRUB_DEFAULT, &text);
        t.set("192M", false, BootloaderArg::Grub).expect("set");
        assert_eq!(
            t.read(bootcfg::GRUB_DEFAULT),
            GRUB.replace("LINUX=\"\"", "LINUX=\"console=ttyS0 crashkernel=192M\"")
        );
    }

    #[test]
    fn set_on_grub_with_single_quotes() {
        let t = Tree::new();
        let text = "GRUB_CMDLINE_LINUX_DEFAULT='quiet'\nGRUB_CMDLINE_LINUX='console=ttyS0'\n";
        t.write(bootcfg::GRUB_DEFAULT, text);
        t.set("2G-:256M", false, BootloaderArg::Auto).expect("set");
        assert_eq!(
            t.read(bootcfg::GRUB_DEFAULT),
            "GRUB_CMDLINE_LINUX_DEFAULT='quiet'\nGRUB_CMDLINE_LINUX='console=ttyS0 crashkernel=2G-:256M'\n"
        );
    }

    #[test]
    fn set_on_kernel_cmdline() {
        let t = Tree::new();
        t.write(bootcfg::KERNEL_CMDLINE, "root=UUID=0f3c rw crashkernel=1G,high crashkernel=256M,low\n");
        t.set("192M", false, BootloaderArg::Auto).expect("set");
        assert_eq!(t.read(bootcfg::KERNEL_CMDLINE), "root=UUID=0f3c rw crashkernel=192M\n");
        assert_eq!(
            t.read("etc/kernel/cmdline.kexdump-bak"),
            "root=UUID=0f3c rw crashkernel=1G,high crashkernel=256M,low\n"
        );
        // --bootloader grub wants GRUB's file.
        let e = t.set("192M", false, BootloaderArg::Grub).expect_err("no grub");
        assert!(e.to_string().contains("etc/default/grub does not exist"), "{e}");
    }

    #[test]
    fn dry_run_touches_nothing() {
        let t = Tree::new();
        t.write(bootcfg::GRUB_DEFAULT, GRUB);
        let before = fs::metadata(t.root().join(bootcfg::GRUB_DEFAULT)).expect("meta").modified().expect("mtime");
        t.set("192M", true, BootloaderArg::Auto).expect("dry run");
        assert_eq!(t.read(bootcfg::GRUB_DEFAULT), GRUB);
        let after = fs::metadata(t.root().join(bootcfg::GRUB_DEFAULT)).expect("meta").modified().expect("mtime");
        assert_eq!(before, after);
        let names: Vec<_> =
            fs::read_dir(t.root().join("etc/default")).expect("ls").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names, ["grub"]);
        // The diff it prints.
        let p = plan(t.root(), BootloaderArg::Auto, "crashkernel=192M").expect("plan");
        let d = bootcfg::diff(&p.path, &p.old, &p.edit.text);
        assert!(d.contains("@@ -4 +4 @@\n-GRUB_CMDLINE_LINUX=\"\"\n+GRUB_CMDLINE_LINUX=\"crashkernel=192M\"\n"), "{d}");
    }

    #[test]
    fn set_needs_a_boot_loader_file() {
        let t = Tree::new();
        let e = t.set("192M", true, BootloaderArg::Auto).expect_err("none");
        let msg = e.to_string();
        assert!(msg.contains("etc/default/grub") && msg.contains("etc/kernel/cmdline"), "{msg}");
    }

    #[test]
    fn set_refuses_a_grub_file_it_cannot_edit() {
        let t = Tree::new();
        let text = "GRUB_CMDLINE_LINUX=\"quiet\n  splash\"\n";
        t.write(bootcfg::GRUB_DEFAULT, text);
        let e = t.set("192M", false, BootloaderArg::Auto).expect_err("multi-line");
        assert!(e.to_string().contains("etc/default/grub:1:"), "{e}");
        assert_eq!(t.read(bootcfg::GRUB_DEFAULT), text);
        assert!(!t.root().join("etc/default/grub.kexdump-bak").exists());
    }

    #[test]
    fn bad_size_is_rejected_naming_the_token() {
        let e = parse_set_value("1G-4G:128M,4G-2G:192M").expect_err("bad range");
        assert_eq!((e.token.as_str(), e.problem), ("4G-2G", Problem::EndNotAboveStart));
        assert!(e.to_string().contains("`4G-2G`"), "{e}");
        let e = parse_set_value("256Mb").expect_err("suffix");
        assert!(e.to_string().contains("`b` is unexpected"), "{e}");
        // Through clap, as an operator would type it.
        use clap::Parser;
        let err = crate::cli::Cli::try_parse_from(["kexdump", "crashkernel", "set", "128"]).err().expect("rejected");
        let msg = err.to_string();
        assert!(msg.contains("`128` is less than 1 MiB"), "{msg}");
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
        let notes = set_notes(t.root(), &v, &format!("crashkernel={}", crashkernel::AUTO));
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[1].contains("kdump-tools.cfg:1") && notes[1].contains("may win"), "{notes:?}");
    }

    #[test]
    fn help_explains_the_auto_table() {
        use clap::CommandFactory;
        let mut cmd = crate::cli::Cli::command();
        let set = cmd.find_subcommand_mut("crashkernel").and_then(|c| c.find_subcommand_mut("set")).expect("set");
        let help = set.render_long_help().to_string();
        assert!(help.contains(&format!("`auto` writes crashkernel={}.", crashkernel::AUTO)), "{help}");
    }

    #[test]
    fn missing_update_grub_says_what_to_run() {
        let e = update_grub("kexdump-no-such-update-grub", Path::new("/etc/default/grub"), Path::new("/b"))
            .expect_err("missing");
        let msg = e.to_string();
        assert!(msg.contains("is not installed") && msg.contains("grub-mkconfig -o /boot/grub/grub.cfg"), "{msg}");
        assert!(msg.contains("backup: /b"), "{msg}");
        let e = update_grub("false", Path::new("g"), Path::new("b")).expect_err("fails");
        assert!(e.to_string().contains("`false` failed"), "{e}");
    }
}
