//! `kexdump arm` and `kexdump disarm`: load the capture kernel and its
//! initramfs into the crashkernel= reservation, or unload them.
//!
//! The checks read files under a root directory (`/` in production, a fake
//! tree in tests) and are separate from the loading itself, which needs
//! root and a kernel: `kexec_file_load(2)` (kexec.rs), or kexec-tools'
//! `kexec -p` where that system call does not exist.
//!
//! Without `--initrd`, [`prepare`] first brings the configuration's
//! capture initramfs up to date (capture_image.rs). After a load, the
//! arming is recorded in `/var/lib/kexdump/armed.json` ([`Armed`]);
//! `disarm` removes it.

pub mod bzimage;
pub mod capture_cmdline;
pub mod capture_image;
pub mod kexec;

use crate::cli::{ArmArgs, DisarmArgs, KexecMethod};
use crate::cmd::initramfs as initramfs_cmd;
use crate::config::Config;
use anyhow::{Context, Result};
use capture_cmdline::Dropped;
use capture_image::Decision;
use kexdump_initramfs::image::Report;
use serde::{Deserialize, Serialize};
use std::ffi::{CString, OsString};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::SystemTime;

const MIB: u64 = 1 << 20;

/// Memory the capture kernel needs beyond its loaded images, to run and to
/// unpack the initramfs: a fixed part plus a multiple of the (compressed)
/// initramfs. Fitted to what design.md §4 measured with Debian's 6.1 kernel
/// (its bzImage asks for 63.6 MiB once loaded): with kexdump's 2 MB
/// initramfs crashkernel=96M captured (30 MiB to spare) and 80M ran out of
/// memory while unpacking (14 MiB to spare); Debian's own 7.7 MB initramfs
/// (22 MB unpacked, about 3x) needed 116M. 16 MiB + 4x the initramfs
/// asks for 24 MiB and 47 MiB of spare memory there.
pub const RUNTIME_FIXED: u64 = 16 * MIB;
pub const RUNTIME_PER_INITRD_BYTE: u64 = 4;

/// On x86 the kernel writes `elfcorehdr=0x<address> ` into the capture
/// kernel's command line and reserves this many bytes for it
/// (`MAX_ELFCOREHDR_STR_LEN` in arch/x86/kernel/kexec-bzimage64.c).
const ELFCOREHDR_RESERVE: usize = 30;

/// The size of the crashkernel= reservation, in bytes.
pub const CRASH_SIZE: &str = "sys/kernel/kexec_crash_size";
/// `1` while a crash kernel is loaded.
pub const CRASH_LOADED: &str = "sys/kernel/kexec_crash_loaded";
/// The primary kernel's command line.
pub const PROC_CMDLINE: &str = "proc/cmdline";
/// `1` once `sysctl kernel.kexec_load_disabled=1` ran (until reboot).
const LOAD_DISABLED: &str = "proc/sys/kernel/kexec_load_disabled";
/// The kernel lockdown mode, the active one in brackets.
const LOCKDOWN: &str = "sys/kernel/security/lockdown";
/// What is armed ([`Armed`]), written after each load, removed by disarm.
pub const ARMED_RECORD: &str = "var/lib/kexdump/armed.json";

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

/// The memory figures of one arming: the reservation and the two images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// The crashkernel= reservation.
    pub crash_size: u64,
    pub kernel: PathBuf,
    /// The kernel image file.
    pub kernel_file: u64,
    /// Memory the kernel needs once loaded: the bzImage's `init_size`
    /// (decompression room included), else the file size.
    pub kernel_load: u64,
    pub initrd: PathBuf,
    pub initrd_size: u64,
}

impl Sizes {
    /// The least the reservation must hold for the images to load at all.
    pub fn needed_to_load(&self) -> u64 {
        self.kernel_load.saturating_add(self.initrd_size)
    }

    /// What the capture kernel needs beyond its images (see `RUNTIME_FIXED`).
    pub fn runtime_headroom(&self) -> u64 {
        RUNTIME_FIXED.saturating_add(self.initrd_size.saturating_mul(RUNTIME_PER_INITRD_BYTE))
    }

    /// The reservation left once the images are loaded.
    pub fn spare(&self) -> u64 {
        self.crash_size.saturating_sub(self.needed_to_load())
    }

    /// A reservation that leaves the capture kernel room to run, rounded up
    /// to 16 MiB, in crashkernel= form.
    pub fn suggested_crashkernel(&self) -> String {
        let want = self.needed_to_load().saturating_add(self.runtime_headroom());
        format!("crashkernel={}M", want.div_ceil(16 * MIB).saturating_mul(16))
    }
}

impl fmt::Display for Sizes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the reservation is {}; kernel {} is {}",
            mib(self.crash_size),
            self.kernel.display(),
            mib(self.kernel_file)
        )?;
        if self.kernel_load != self.kernel_file {
            write!(f, " ({} once loaded, per its boot header)", mib(self.kernel_load))?;
        }
        write!(f, ", initrd {} is {}", self.initrd.display(), mib(self.initrd_size))
    }
}

/// Everything that can stop arming or disarming. Each message names the
/// file involved and what to do.
#[derive(Debug)]
pub enum ArmError {
    /// `/sys/kernel/kexec_crash_size` does not exist.
    NoCrashSupport { path: PathBuf },
    /// The reservation is 0 bytes.
    NoReservation { path: PathBuf },
    /// A file could not be read.
    Read { path: PathBuf, source: io::Error },
    /// A sysfs file held something unexpected.
    Malformed { path: PathBuf, content: String },
    /// An image is not a regular file.
    NotAFile { path: PathBuf },
    /// The images cannot fit in the reservation.
    TooSmall(Sizes),
    /// The command line is longer than the kernel image accepts.
    CmdlineTooLong { len: usize, max: usize, kernel: PathBuf },
    /// The command line holds a NUL byte.
    CmdlineNul,
    /// Not running as root.
    NotRoot { euid: u32 },
    /// After loading, the kernel does not report a crash kernel.
    NotLoaded { path: PathBuf, content: String },
    /// After unloading, the kernel still reports a crash kernel.
    StillLoaded { path: PathBuf },
    /// kexec is switched off until reboot (`kernel.kexec_load_disabled`).
    LoadDisabled { path: PathBuf, op: &'static str, source: io::Error },
    /// EPERM with no lockdown in force: the process lacks CAP_SYS_BOOT
    /// (a container, or a unit with a capability bounding set).
    NoCapability { op: &'static str, source: io::Error },
    /// The kernel refused the image: lockdown / Secure Boot signature check.
    Refused { kernel: PathBuf, source: io::Error, lockdown: Option<(PathBuf, String)> },
    /// ENOMEM, EADDRNOTAVAIL, EINVAL: no room, or an image the kernel rejects.
    NoRoom { sizes: Sizes, cmdline_len: usize, source: io::Error },
    /// ENOEXEC: not an image format `kexec_file_load` knows.
    BadImage { kernel: PathBuf, source: io::Error },
    /// ENOSYS with `--method syscall`.
    NoSyscall { source: io::Error },
    /// Any other failure of the system call.
    Syscall { op: &'static str, source: io::Error },
    /// The `kexec` program could not be started.
    KexecToolsMissing { after_enosys: bool, source: io::Error },
    /// The `kexec` program failed.
    KexecTools { command: String, status: String, stderr: String },
}

impl fmt::Display for ArmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArmError::NoCrashSupport { path } => write!(
                f,
                "{} does not exist: this kernel lacks CONFIG_KEXEC_FILE/CONFIG_CRASH_DUMP, so it cannot load a capture kernel",
                path.display()
            ),
            ArmError::NoReservation { path } => write!(
                f,
                "{} is 0: no crashkernel= reservation: add crashkernel=256M (or run `kexdump crashkernel set auto`) \
                 to the kernel command line and reboot",
                path.display()
            ),
            ArmError::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            ArmError::Malformed { path, content } => {
                write!(f, "{} holds {content:?}, not what the kernel writes there", path.display())
            }
            ArmError::NotAFile { path } => write!(f, "{} is not a regular file", path.display()),
            ArmError::TooSmall(s) => write!(
                f,
                "the crashkernel= reservation is too small: {s}; loading them needs at least {}, and the capture \
                 kernel needs more to run: reserve {} (or shrink the initramfs) and reboot",
                mib(s.needed_to_load()),
                s.suggested_crashkernel()
            ),
            ArmError::CmdlineTooLong { len, max, kernel } => write!(
                f,
                "the capture command line is {len} bytes but {} takes at most {max} (the kernel adds elfcorehdr= \
                 to it): remove options with --cmdline-remove or give a shorter --cmdline",
                kernel.display()
            ),
            ArmError::CmdlineNul => write!(f, "the capture command line contains a NUL byte"),
            ArmError::NotRoot { euid } => write!(
                f,
                "loading or unloading a capture kernel needs root (CAP_SYS_BOOT), and this runs as uid {euid}: \
                 run it with sudo, or use --dry-run to see what would be loaded"
            ),
            ArmError::NotLoaded { path, content } => write!(
                f,
                "the kernel accepted the capture kernel but {} reads {:?}, not 1: nothing is armed",
                path.display(),
                content.trim()
            ),
            ArmError::StillLoaded { path } => {
                write!(f, "the unload succeeded but {} still reads 1: a capture kernel is still armed", path.display())
            }
            ArmError::LoadDisabled { path, op, source } => write!(
                f,
                "{op} refused ({source}): {} is 1 (sysctl kernel.kexec_load_disabled), which stays set until the \
                 next reboot; arm at boot, before that sysctl is applied",
                path.display()
            ),
            ArmError::NoCapability { op, source } => write!(
                f,
                "{op} refused ({source}) although running as root and with no kernel lockdown in force: this \
                 process lacks CAP_SYS_BOOT (a container, or a systemd unit with CapabilityBoundingSet= or \
                 NoNewPrivileges restrictions); run kexdump on the host with full root capabilities"
            ),
            ArmError::Refused { kernel, source, lockdown } => {
                write!(
                    f,
                    "kexec_file_load refused {} ({source}): the running kernel only loads kernel images signed with \
                     a key it trusts (kernel lockdown / Secure Boot, KEXEC_SIG)",
                    kernel.display()
                )?;
                if let Some((path, mode)) = lockdown {
                    write!(f, "; {} reads {mode:?}", path.display())?;
                }
                write!(
                    f,
                    ". Use a signed kernel image (normally the distribution's own /boot/vmlinuz-*). kexdump does not \
                     fall back to kexec-tools: the older kexec_load call is refused in lockdown as well, and it must \
                     not be used to get around the signature check"
                )
            }
            ArmError::NoRoom { sizes, cmdline_len, source } => write!(
                f,
                "kexec_file_load failed ({source}): the reservation is too small or an image is invalid: {sizes}; \
                 loading them needs at least {} and running more ({} suggested); the command line is {cmdline_len} \
                 bytes. The kernel log (dmesg) names the exact cause",
                mib(sizes.needed_to_load()),
                sizes.suggested_crashkernel()
            ),
            ArmError::BadImage { kernel, source } => write!(
                f,
                "kexec_file_load does not recognise {} as a kernel image ({source}): on x86_64 it takes a bzImage \
                 such as /boot/vmlinuz-*, not a vmlinux ELF file; --method kexec-tools loads more formats",
                kernel.display()
            ),
            ArmError::NoSyscall { source } => write!(
                f,
                "kexec_file_load is not available ({source}): this kernel lacks CONFIG_KEXEC_FILE; \
                 use --method kexec-tools (or auto)"
            ),
            ArmError::Syscall { op, source } => write!(f, "{op} failed: {source}"),
            ArmError::KexecToolsMissing { after_enosys, source } => {
                if *after_enosys {
                    write!(f, "kexec_file_load is not available (this kernel lacks CONFIG_KEXEC_FILE) and ")?;
                }
                write!(f, "the `kexec` program of kexec-tools could not be run ({source}): install kexec-tools")
            }
            ArmError::KexecTools { command, status, stderr } => {
                write!(f, "`{command}` failed ({status})")?;
                if !stderr.trim().is_empty() {
                    write!(f, ": {}", stderr.trim())?;
                }
                Ok(())
            }
        }
    }
}

/// The messages above carry their errno text, so no variant has a source.
impl std::error::Error for ArmError {}

fn read_text(root: &Path, rel: &str) -> Result<(PathBuf, String), ArmError> {
    let path = root.join(rel);
    match std::fs::read(&path) {
        Ok(b) => Ok((path, String::from_utf8_lossy(&b).into_owned())),
        Err(source) => Err(ArmError::Read { path, source }),
    }
}

/// The size of the crashkernel= reservation, which must not be 0.
pub fn crash_size(root: &Path) -> Result<u64, ArmError> {
    let (path, text) = match read_text(root, CRASH_SIZE) {
        Err(ArmError::Read { path, source }) if source.kind() == io::ErrorKind::NotFound => {
            return Err(ArmError::NoCrashSupport { path })
        }
        r => r?,
    };
    match text.trim().parse::<u64>() {
        Ok(0) => Err(ArmError::NoReservation { path }),
        Ok(n) => Ok(n),
        Err(_) => Err(ArmError::Malformed { path, content: text }),
    }
}

/// Whether a crash kernel is loaded.
pub fn crash_loaded(root: &Path) -> Result<bool, ArmError> {
    let (path, text) = read_text(root, CRASH_LOADED)?;
    match text.trim() {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(ArmError::Malformed { path, content: text }),
    }
}

/// After a load: the kernel must report the crash kernel as loaded.
pub fn check_loaded(root: &Path) -> Result<(), ArmError> {
    let (path, text) = read_text(root, CRASH_LOADED)?;
    if text.trim() == "1" {
        Ok(())
    } else {
        Err(ArmError::NotLoaded { path, content: text })
    }
}

/// After an unload: the kernel must report no crash kernel.
pub fn check_unloaded(root: &Path) -> Result<(), ArmError> {
    if crash_loaded(root)? {
        Err(ArmError::StillLoaded { path: root.join(CRASH_LOADED) })
    } else {
        Ok(())
    }
}

/// The running kernel's own image, `/boot/vmlinuz-<release>`.
pub fn default_kernel(root: &Path, release: &str) -> PathBuf {
    root.join("boot").join(format!("vmlinuz-{release}"))
}

/// The size of a regular file.
fn file_size(path: &Path) -> Result<u64, ArmError> {
    let meta = std::fs::metadata(path).map_err(|source| ArmError::Read { path: path.to_path_buf(), source })?;
    if !meta.is_file() {
        return Err(ArmError::NotAFile { path: path.to_path_buf() });
    }
    Ok(meta.len())
}

/// A kernel image's size and, for an x86 bzImage, its setup header. An
/// image only root may read (as some distributions install them) has no
/// header here: the size alone is then the estimate.
fn kernel_image(path: &Path) -> Result<(u64, Option<bzimage::SetupHeader>), ArmError> {
    let size = file_size(path)?;
    let read_err = |source| ArmError::Read { path: path.to_path_buf(), source };
    let mut prefix = Vec::with_capacity(bzimage::PREFIX_LEN);
    match File::open(path) {
        Ok(f) => {
            f.take(bzimage::PREFIX_LEN as u64).read_to_end(&mut prefix).map_err(read_err)?;
        }
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Ok((size, None)),
        Err(e) => return Err(read_err(e)),
    }
    Ok((size, bzimage::parse(&prefix)))
}

/// The memory figures of loading `kernel` and an initramfs of
/// `initrd_size` bytes into a reservation of `crash_size`, and the
/// kernel's boot header when it has one.
pub fn sizes(
    crash_size: u64,
    kernel: &Path,
    initrd: &Path,
    initrd_size: u64,
) -> Result<(Sizes, Option<bzimage::SetupHeader>), ArmError> {
    let (kernel_file, header) = kernel_image(kernel)?;
    let kernel_load = header.and_then(|h| h.init_size).map_or(kernel_file, |s| kernel_file.max(u64::from(s)));
    let sizes = Sizes {
        crash_size,
        kernel: kernel.to_path_buf(),
        kernel_file,
        kernel_load,
        initrd: initrd.to_path_buf(),
        initrd_size,
    };
    Ok((sizes, header))
}

/// Whether the images can fit in the reservation at all.
pub fn check_fits(sizes: &Sizes) -> Result<(), ArmError> {
    if sizes.needed_to_load() > sizes.crash_size {
        Err(ArmError::TooSmall(sizes.clone()))
    } else {
        Ok(())
    }
}

/// Whether the reservation leaves the capture kernel too little room to run.
pub fn tight(sizes: &Sizes) -> bool {
    sizes.spare() < sizes.runtime_headroom()
}

/// Whether a command line fits what the kernel image accepts.
pub fn check_cmdline(cmdline: &str, cmdline_size: Option<u32>, kernel: &Path) -> Result<(), ArmError> {
    if cmdline.contains('\0') {
        return Err(ArmError::CmdlineNul);
    }
    if let Some(size) = cmdline_size {
        // The kernel wants length + NUL + the elfcorehdr= room <= cmdline_size.
        let max = (size as usize).saturating_sub(ELFCOREHDR_RESERVE + 1);
        if cmdline.len() > max {
            return Err(ArmError::CmdlineTooLong { len: cmdline.len(), max, kernel: kernel.to_path_buf() });
        }
    }
    Ok(())
}

/// Where the capture command line comes from.
#[derive(Clone, Debug)]
pub enum CmdlineSource {
    /// Exactly this line (`--cmdline`).
    Full(String),
    /// Derived from /proc/cmdline (see cmdline.rs).
    Derived { remove: Vec<String>, append: Vec<String> },
}

/// What to load.
#[derive(Clone, Debug)]
pub struct Request {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// The initrd's size when `initrd` is not there yet (a dry run before
    /// the image's first build); `None`: the file's size.
    pub initrd_bytes: Option<u64>,
    pub cmdline: CmdlineSource,
}

/// What will be loaded, checked against the running system.
#[derive(Clone, Debug)]
pub struct Plan {
    pub sizes: Sizes,
    pub cmdline: String,
    /// Options of /proc/cmdline left out, with the reason.
    pub dropped: Vec<Dropped>,
}

/// Reads the system's state under `root` and checks the request against
/// it, without loading anything.
pub fn plan(root: &Path, req: &Request) -> Result<Plan, ArmError> {
    let crash_size = crash_size(root)?;
    let (cmdline, dropped) = match &req.cmdline {
        CmdlineSource::Full(line) => (line.trim().to_string(), Vec::new()),
        CmdlineSource::Derived { remove, append } => {
            let (_, primary) = read_text(root, PROC_CMDLINE)?;
            let c = capture_cmdline::capture_cmdline(&primary, remove, append);
            (c.line, c.dropped)
        }
    };
    let initrd_size = match req.initrd_bytes {
        Some(n) => n,
        None => file_size(&req.initrd)?,
    };
    let (sizes, header) = sizes(crash_size, &req.kernel, &req.initrd, initrd_size)?;
    check_fits(&sizes)?;
    check_cmdline(&cmdline, header.and_then(|h| h.cmdline_size), &req.kernel)?;
    Ok(Plan { sizes, cmdline, dropped })
}

/// What a failed `kexec_file_load` means for `--method auto`.
#[derive(Debug)]
pub enum Failure {
    /// The call does not exist here (ENOSYS): kexec-tools may be tried.
    Unsupported(io::Error),
    /// A final error.
    Fatal(ArmError),
}

/// Explains a failed load. Signature and lockdown refusals are final:
/// falling back to the older `kexec_load` would be refused as well, and
/// must not be used to get around them.
pub fn explain_load_error(root: &Path, err: io::Error, plan: &Plan) -> Failure {
    let kernel = plan.sizes.kernel.clone();
    let errno = err.raw_os_error().unwrap_or(0);
    match errno {
        libc::ENOSYS => Failure::Unsupported(err),
        libc::EPERM if load_disabled(root) => Failure::Fatal(ArmError::LoadDisabled {
            path: root.join(LOAD_DISABLED),
            op: "kexec_file_load",
            source: err,
        }),
        libc::EPERM if !lockdown_active(root) => {
            Failure::Fatal(ArmError::NoCapability { op: "kexec_file_load", source: err })
        }
        libc::EPERM | libc::EKEYREJECTED | libc::EBADMSG | libc::ENOKEY | libc::ENODATA => {
            Failure::Fatal(ArmError::Refused { kernel, source: err, lockdown: lockdown(root) })
        }
        libc::ENOMEM | libc::EADDRNOTAVAIL | libc::EINVAL => {
            Failure::Fatal(ArmError::NoRoom { sizes: plan.sizes.clone(), cmdline_len: plan.cmdline.len(), source: err })
        }
        libc::ENOEXEC => Failure::Fatal(ArmError::BadImage { kernel, source: err }),
        _ => Failure::Fatal(ArmError::Syscall { op: "kexec_file_load", source: err }),
    }
}

/// Explains a failed unload.
pub fn explain_unload_error(root: &Path, err: io::Error) -> Failure {
    match err.raw_os_error() {
        Some(libc::ENOSYS) => Failure::Unsupported(err),
        Some(libc::EPERM) if load_disabled(root) => Failure::Fatal(ArmError::LoadDisabled {
            path: root.join(LOAD_DISABLED),
            op: "unloading with kexec_file_load",
            source: err,
        }),
        Some(libc::EPERM) => {
            Failure::Fatal(ArmError::NoCapability { op: "unloading with kexec_file_load", source: err })
        }
        _ => Failure::Fatal(ArmError::Syscall { op: "unloading with kexec_file_load", source: err }),
    }
}

fn load_disabled(root: &Path) -> bool {
    read_text(root, LOAD_DISABLED).is_ok_and(|(_, t)| t.trim() == "1")
}

/// Whether a lockdown mode other than `none` is active. Unknown (no
/// securityfs, or no lockdown LSM) counts as active when the kernel was
/// built to check signatures: we cannot tell, so the signature
/// explanation, which names the file to check, is the safer one.
fn lockdown_active(root: &Path) -> bool {
    match lockdown(root) {
        Some((_, mode)) => !mode.contains("[none]"),
        None => true,
    }
}

/// The lockdown state, when the kernel reports one.
fn lockdown(root: &Path) -> Option<(PathBuf, String)> {
    read_text(root, LOCKDOWN).ok().map(|(p, t)| (p, t.trim().to_string()))
}

/// How the capture kernel was (or would be) loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loader {
    Syscall,
    KexecTools,
}

impl Loader {
    pub fn name(self) -> &'static str {
        match self {
            Loader::Syscall => "kexec_file_load",
            Loader::KexecTools => "kexec-tools",
        }
    }
}

/// The argv of kexec-tools' load command (no shell involved).
pub fn kexec_tools_load_args(plan: &Plan) -> Vec<OsString> {
    let mut initrd = OsString::from("--initrd=");
    initrd.push(&plan.sizes.initrd);
    vec!["-p".into(), plan.sizes.kernel.clone().into_os_string(), initrd, format!("--append={}", plan.cmdline).into()]
}

fn run_kexec(args: &[OsString], after_enosys: bool) -> Result<(), ArmError> {
    let out = Command::new("kexec")
        .args(args)
        .output()
        .map_err(|source| ArmError::KexecToolsMissing { after_enosys, source })?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        if !stderr.trim().is_empty() {
            eprintln!("kexec: {}", stderr.trim());
        }
        return Ok(());
    }
    let command = std::iter::once("kexec".to_string())
        .chain(args.iter().map(|a| shell_quoted(&a.to_string_lossy())))
        .collect::<Vec<_>>()
        .join(" ");
    Err(ArmError::KexecTools { command, status: out.status.to_string(), stderr })
}

/// An argument as a shell would need it, for messages only (kexec runs
/// without a shell).
fn shell_quoted(arg: &str) -> String {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_=/.,:+@%".contains(&b);
    if !arg.is_empty() && arg.bytes().all(plain) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

pub fn require_root() -> Result<(), ArmError> {
    match kexec::effective_uid() {
        0 => Ok(()),
        euid => Err(ArmError::NotRoot { euid }),
    }
}

fn open(path: &Path) -> Result<File, ArmError> {
    File::open(path).map_err(|source| ArmError::Read { path: path.to_path_buf(), source })
}

/// Loads the plan; returns how.
fn load(root: &Path, plan: &Plan, method: KexecMethod) -> Result<Loader, ArmError> {
    if method != KexecMethod::KexecTools {
        let kernel = open(&plan.sizes.kernel)?;
        let initrd = open(&plan.sizes.initrd)?;
        let cmdline = CString::new(plan.cmdline.as_str()).map_err(|_| ArmError::CmdlineNul)?;
        let err = match kexec::load_crash_kernel(&kernel, &initrd, &cmdline) {
            Ok(()) => return Ok(Loader::Syscall),
            Err(e) => e,
        };
        match explain_load_error(root, err, plan) {
            Failure::Unsupported(source) if method == KexecMethod::Syscall => {
                return Err(ArmError::NoSyscall { source })
            }
            Failure::Unsupported(_) => eprintln!("kexdump: kexec_file_load is not available; loading with kexec-tools"),
            Failure::Fatal(e) => return Err(e),
        }
    }
    run_kexec(&kexec_tools_load_args(plan), method == KexecMethod::Auto)?;
    Ok(Loader::KexecTools)
}

/// Unloads the crash kernel; returns how.
fn unload(root: &Path, method: KexecMethod) -> Result<Loader, ArmError> {
    if method != KexecMethod::KexecTools {
        let err = match kexec::unload_crash_kernel() {
            Ok(()) => return Ok(Loader::Syscall),
            Err(e) => e,
        };
        match explain_unload_error(root, err) {
            Failure::Unsupported(source) if method == KexecMethod::Syscall => {
                return Err(ArmError::NoSyscall { source })
            }
            Failure::Unsupported(_) => {
                eprintln!("kexdump: kexec_file_load is not available; unloading with kexec-tools")
            }
            Failure::Fatal(e) => return Err(e),
        }
    }
    run_kexec(&["-p".into(), "-u".into()], method == KexecMethod::Auto)?;
    Ok(Loader::KexecTools)
}

/// The capture command line's source: `--cmdline`, or /proc/cmdline with
/// the configuration's removals and additions, then the command line's
/// (which come last, so they win).
fn cmdline_source(a: &ArmArgs, remove: &[String], append: &[String]) -> CmdlineSource {
    match &a.cmdline {
        Some(full) => CmdlineSource::Full(full.clone()),
        None => CmdlineSource::Derived {
            remove: remove.iter().chain(&a.cmdline_remove).cloned().collect(),
            append: append.iter().chain(&a.cmdline_append).cloned().collect(),
        },
    }
}

/// With `--initrd`: what to load, as given (no configuration is read).
fn request(root: &Path, a: &ArmArgs, initrd: &Path) -> Result<Request> {
    let kernel = match &a.kernel {
        Some(k) => k.clone(),
        None => {
            let release = kexec::kernel_release().map_err(|e| anyhow::anyhow!("uname: {e}"))?;
            default_kernel(root, &release)
        }
    };
    Ok(Request { kernel, initrd: initrd.to_path_buf(), initrd_bytes: None, cmdline: cmdline_source(a, &[], &[]) })
}

/// The configuration's capture initramfs, as [`prepare`] left it.
#[derive(Debug)]
pub struct ImageState {
    pub path: PathBuf,
    /// [`capture_image::Inputs::digest`] of its current inputs.
    pub digest: String,
    /// Why it was rebuilt (or, in a dry run, would be); empty: reused.
    pub rebuild: Vec<String>,
    /// What the builder wrote, when it ran.
    pub report: Option<Report>,
}

/// Everything `kexdump arm` does before loading.
#[derive(Debug)]
pub struct Prepared {
    pub plan: Plan,
    /// `None` with `--initrd`.
    pub image: Option<ImageState>,
}

/// What `kexdump arm` does before the load: with `--initrd`, check what
/// was given; else read the configuration, reuse its capture initramfs or
/// (unless `--dry-run`) rebuild it, and plan the load. Files are read
/// under `root`; in a dry run nothing is written.
pub fn prepare(root: &Path, a: &ArmArgs) -> Result<Prepared> {
    if let Some(initrd) = &a.initrd {
        return Ok(Prepared { plan: plan(root, &request(root, a, initrd)?)?, image: None });
    }
    // No reservation: say so before building anything.
    crash_size(root)?;
    let config = Config::load(root, a.config.as_deref())?;
    crate::dump_target::check::check(root, &config)?;
    let bin = match &a.capture_bin {
        Some(p) => p.clone(),
        None => initramfs_cmd::find_capture_bin()?,
    };
    let sources = capture_image::sources(root, &config, a.kernel.as_deref(), bin)?;
    let inputs = capture_image::inputs(&sources)?;
    let (rebuild, report, initrd_bytes) = match capture_image::decide(&sources.image, &inputs, a.rebuild) {
        Decision::UpToDate(_) => (Vec::new(), None, None),
        // The current image's size stands in for the new one's, if there is one.
        Decision::Rebuild(why) if a.dry_run => (why, None, (!sources.image.is_file()).then_some(0)),
        Decision::Rebuild(why) => (why, Some(capture_image::build(&sources, &inputs)?.1), None),
    };
    let k = &config.kernel;
    let req = Request {
        kernel: sources.kernel.clone(),
        initrd: sources.image.clone(),
        initrd_bytes,
        cmdline: cmdline_source(a, &k.cmdline_remove, &k.cmdline_append),
    };
    let image = ImageState { path: sources.image, digest: inputs.digest(), rebuild, report };
    Ok(Prepared { plan: plan(root, &req)?, image: Some(image) })
}

/// `/var/lib/kexdump/armed.json`: what was loaded, when and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Armed {
    /// UTC, `2026-11-22T03:04:05Z`.
    pub time: String,
    pub time_unix: i64,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub initrd_bytes: u64,
    pub cmdline: String,
    /// `kexec_file_load` or `kexec-tools`.
    pub method: String,
    /// The capture initramfs's inputs digest; `None` for an `--initrd`.
    pub inputs_digest: Option<String>,
    pub kexdump_version: String,
}

impl Armed {
    pub fn new(p: &Prepared, loader: Loader, now: SystemTime) -> Armed {
        let t = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        Armed {
            time: kexdump_engine::pid1::record::iso8601(t),
            time_unix: t,
            kernel: p.plan.sizes.kernel.clone(),
            initrd: p.plan.sizes.initrd.clone(),
            initrd_bytes: p.plan.sizes.initrd_size,
            cmdline: p.plan.cmdline.clone(),
            method: loader.name().to_owned(),
            inputs_digest: p.image.as_ref().map(|i| i.digest.clone()),
            kexdump_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// Write `<root>/var/lib/kexdump/armed.json` (its directory made 0700 if
/// missing; the file 0600, replaced atomically).
pub fn write_armed(root: &Path, armed: &Armed) -> Result<PathBuf> {
    let path = root.join(ARMED_RECORD);
    if let Some(dir) = path.parent().filter(|d| !d.exists()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    capture_image::write_json(&path, armed)?;
    Ok(path)
}

/// Remove the record of what is armed; whether there was one.
pub fn remove_armed(root: &Path) -> io::Result<bool> {
    match std::fs::remove_file(root.join(ARMED_RECORD)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn run_arm(a: ArmArgs) -> Result<ExitCode> {
    arm_command(Path::new("/"), &a, false)
}

/// Disarm (when armed), then arm with the same options. The image is
/// brought up to date and everything checked first, so a mistake in the
/// configuration leaves the capture kernel loaded before armed.
pub fn run_rearm(a: ArmArgs) -> Result<ExitCode> {
    arm_command(Path::new("/"), &a, true)
}

pub fn arm_command(root: &Path, a: &ArmArgs, rearm: bool) -> Result<ExitCode> {
    if !a.dry_run {
        require_root()?;
    }
    let prepared = prepare(root, a)?;
    let plan = &prepared.plan;
    let s = &plan.sizes;
    if tight(s) {
        eprintln!(
            "kexdump: WARNING: {s}; that leaves {} for the capture kernel to unpack the initramfs and run, \
             which is likely too little: {} is safer",
            mib(s.spare()),
            s.suggested_crashkernel()
        );
    }
    if let Some(r) = prepared.image.as_ref().and_then(|i| i.report.as_ref()) {
        for (m, sd) in &r.unresolved_softdeps {
            eprintln!("kexdump: WARNING: {m} asks for {sd} (softdep), which no module provides: left out");
        }
    }
    let was_armed = (a.dry_run || rearm) && crash_loaded(root)?;
    let mut disarmed = false;
    let mut record = None;
    let loader = if a.dry_run {
        if a.method == KexecMethod::KexecTools {
            Loader::KexecTools
        } else {
            Loader::Syscall
        }
    } else {
        if rearm {
            if was_armed {
                unload(root, a.method).and_then(|_| check_unloaded(root)).context("disarming before arming again")?;
                disarmed = true;
            }
            if let Err(e) = remove_armed(root) {
                eprintln!("kexdump: WARNING: cannot remove {}: {e}", root.join(ARMED_RECORD).display());
            }
        }
        let loader = match load(root, plan, a.method) {
            Ok(l) => l,
            // A failed kexec_file_load has already unloaded the previous
            // capture kernel (the new one goes into the same memory); a
            // failed `kexec -p` may not have: say which.
            Err(e) => {
                let now = match crash_loaded(root) {
                    Ok(true) => "the capture kernel loaded before is still armed",
                    Ok(false) => "no capture kernel is armed now: a panic will not save a dump",
                    Err(_) => "whether a capture kernel is armed now is unknown",
                };
                return Err(anyhow::Error::new(e).context(format!("arming failed; {now}")));
            }
        };
        check_loaded(root)?;
        // Armed: failing to record it is worth a warning, not a failure.
        match write_armed(root, &Armed::new(&prepared, loader, SystemTime::now())) {
            Ok(p) => record = Some(p),
            Err(e) => eprintln!("kexdump: WARNING: armed, but not recorded: {e:#}"),
        }
        loader
    };
    let armed = if a.dry_run { was_armed } else { true };
    if a.json {
        let image = prepared.image.as_ref().map(|i| {
            serde_json::json!({
                "path": i.path,
                "up_to_date": i.rebuild.is_empty(),
                "rebuilt": i.report.is_some(),
                "reasons": i.rebuild,
                "inputs_digest": i.digest,
            })
        });
        let mut j = serde_json::json!({
            "armed": armed,
            "dry_run": a.dry_run,
            "method": loader.name(),
            "kernel": s.kernel.display().to_string(),
            "initrd": s.initrd.display().to_string(),
            "cmdline": plan.cmdline,
            "crash_size": s.crash_size,
            "initramfs": image,
            "record": record,
        });
        if rearm {
            j["disarmed_first"] = serde_json::json!(disarmed);
        }
        println!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(i) = &prepared.image {
        let p = i.path.display();
        match (&i.report, i.rebuild.is_empty()) {
            (_, true) => println!("kexdump: capture initramfs up to date: {p}"),
            (None, false) => println!("kexdump: would rebuild the capture initramfs {p}: {}", i.rebuild.join("; ")),
            (Some(r), false) => println!(
                "kexdump: rebuilt the capture initramfs {p} ({}, {} modules): {}",
                mib(r.compressed_bytes),
                r.modules.len(),
                i.rebuild.join("; ")
            ),
        }
    }
    if a.dry_run {
        println!(
            "kexdump: dry run, nothing {} (a capture kernel is {}armed now); would {}load with {}:",
            if prepared.image.is_some() { "built or loaded" } else { "loaded" },
            if armed { "" } else { "not " },
            if rearm && armed { "unload it, then " } else { "" },
            loader.name()
        );
    } else {
        if disarmed {
            println!("kexdump: disarmed the capture kernel loaded before");
        }
        println!("kexdump: armed with {}: a panic now boots the capture kernel, which saves the dump", loader.name());
    }
    println!("  kernel:      {} ({}, {} once loaded)", s.kernel.display(), mib(s.kernel_file), mib(s.kernel_load));
    let pending = prepared.image.as_ref().is_some_and(|i| i.report.is_none() && !i.rebuild.is_empty());
    match (pending, s.initrd.is_file()) {
        (false, _) => println!("  initrd:      {} ({})", s.initrd.display(), mib(s.initrd_size)),
        (true, true) => println!(
            "  initrd:      {} ({} before the rebuild; the reservation check counts that)",
            s.initrd.display(),
            mib(s.initrd_size)
        ),
        (true, false) => println!(
            "  initrd:      {} (not built yet: the reservation check counts the kernel only)",
            s.initrd.display()
        ),
    }
    println!("  reservation: {} ({} free after loading)", mib(s.crash_size), mib(s.spare()));
    println!("  cmdline:     {}", plan.cmdline);
    if a.dry_run {
        for d in &plan.dropped {
            println!("  dropped:     {}  ({})", d.option, d.why);
        }
    }
    if let Some(p) = &record {
        println!("  recorded in: {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_disarm(a: DisarmArgs) -> Result<ExitCode> {
    let root = Path::new("/");
    let crash_size = crash_size(root)?;
    require_root()?;
    let loader = unload(root, a.method)?;
    check_unloaded(root)?;
    if let Err(e) = remove_armed(root) {
        eprintln!("kexdump: WARNING: disarmed, but cannot remove {}: {e}", root.join(ARMED_RECORD).display());
    }
    if a.json {
        let j = serde_json::json!({
            "armed": false,
            "method": loader.name(),
            "kernel": null,
            "initrd": null,
            "cmdline": null,
            "crash_size": crash_size,
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        println!(
            "kexdump: disarmed with {}: a panic no longer saves a dump; the {} reservation stays set aside until reboot",
            loader.name(),
            mib(crash_size)
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A fake root: proc/ and sys/ files, a kernel and an initrd.
    struct Tree {
        dir: tempfile::TempDir,
    }

    impl Tree {
        fn new() -> Tree {
            let t = Tree { dir: tempfile::tempdir().expect("tempdir") };
            t.write(CRASH_SIZE, "268435456\n");
            t.write(CRASH_LOADED, "0\n");
            t.write(
                PROC_CMDLINE,
                "BOOT_IMAGE=/boot/vmlinuz-6.1.0 root=/dev/vda1 ro quiet crashkernel=256M console=ttyS0\n",
            );
            t.write_bytes("boot/vmlinuz-6.1.0", &bzimage::fake(0x020f, 2047, 0x3f98000));
            t.write_bytes("capture.img", &vec![0u8; 2 << 20]);
            t
        }

        fn root(&self) -> &Path {
            self.dir.path()
        }

        fn write(&self, rel: &str, text: &str) {
            self.write_bytes(rel, text.as_bytes());
        }

        fn write_bytes(&self, rel: &str, b: &[u8]) {
            let p = self.root().join(rel);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(p, b).expect("write");
        }

        fn remove(&self, rel: &str) {
            fs::remove_file(self.root().join(rel)).expect("remove");
        }

        fn request(&self) -> Request {
            Request {
                kernel: default_kernel(self.root(), "6.1.0"),
                initrd: self.root().join("capture.img"),
                initrd_bytes: None,
                cmdline: CmdlineSource::Derived { remove: vec![], append: vec![] },
            }
        }

        fn plan(&self) -> Result<Plan, ArmError> {
            plan(self.root(), &self.request())
        }
    }

    #[test]
    fn plans_on_a_good_tree() {
        let t = Tree::new();
        let p = t.plan().expect("plan");
        assert_eq!(p.sizes.crash_size, 256 * MIB);
        assert_eq!(p.sizes.kernel_load, 0x3f98000);
        assert_eq!(p.sizes.initrd_size, 2 * MIB);
        assert!(p.cmdline.starts_with("console=ttyS0 nr_cpus=1 "), "{}", p.cmdline);
        assert_eq!(p.dropped.len(), 5);
        assert!(!tight(&p.sizes));
        assert_eq!(p.sizes.suggested_crashkernel(), "crashkernel=96M");
    }

    #[test]
    fn full_cmdline_skips_proc() {
        let t = Tree::new();
        t.remove(PROC_CMDLINE);
        let mut req = t.request();
        req.cmdline = CmdlineSource::Full(" console=ttyS0 quiet \n".into());
        let p = plan(t.root(), &req).expect("plan");
        assert_eq!(p.cmdline, "console=ttyS0 quiet");
        assert!(p.dropped.is_empty());
    }

    #[test]
    fn no_reservation() {
        let t = Tree::new();
        t.write(CRASH_SIZE, "0\n");
        let e = t.plan().expect_err("no reservation");
        assert!(matches!(&e, ArmError::NoReservation { path } if path == &t.root().join(CRASH_SIZE)), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("no crashkernel= reservation: add crashkernel=256M"), "{msg}");
        assert!(msg.contains("sys/kernel/kexec_crash_size"), "{msg}");
    }

    #[test]
    fn missing_crash_size_means_no_kernel_support() {
        let t = Tree::new();
        t.remove(CRASH_SIZE);
        let e = t.plan().expect_err("no support");
        assert!(matches!(&e, ArmError::NoCrashSupport { path } if path == &t.root().join(CRASH_SIZE)), "{e:?}");
        assert!(e.to_string().contains("CONFIG_KEXEC_FILE/CONFIG_CRASH_DUMP"));
    }

    #[test]
    fn malformed_crash_size() {
        let t = Tree::new();
        t.write(CRASH_SIZE, "lots\n");
        assert!(matches!(t.plan(), Err(ArmError::Malformed { content, .. }) if content == "lots\n"));
    }

    #[test]
    fn missing_proc_cmdline() {
        let t = Tree::new();
        t.remove(PROC_CMDLINE);
        let e = t.plan().expect_err("no cmdline");
        assert!(matches!(&e, ArmError::Read { path, .. } if path == &t.root().join(PROC_CMDLINE)), "{e:?}");
    }

    #[test]
    fn missing_images_are_named() {
        let t = Tree::new();
        let mut req = t.request();
        req.initrd = t.root().join("nope.img");
        let e = plan(t.root(), &req).expect_err("no initrd");
        assert!(matches!(&e, ArmError::Read { path, .. } if path == &req.initrd), "{e:?}");
        assert!(e.to_string().contains("nope.img"));

        let mut req = t.request();
        req.kernel = default_kernel(t.root(), "9.9.9");
        let e = plan(t.root(), &req).expect_err("no kernel");
        assert!(e.to_string().contains("boot/vmlinuz-9.9.9"), "{e}");

        let mut req = t.request();
        req.initrd = t.root().join("boot");
        assert!(matches!(plan(t.root(), &req), Err(ArmError::NotAFile { .. })));
    }

    #[test]
    fn tiny_reservation() {
        let t = Tree::new();
        // 64M cannot hold a 63.6 MiB kernel and a 2 MiB initrd.
        t.write(CRASH_SIZE, &(64 * MIB).to_string());
        let e = t.plan().expect_err("too small");
        let ArmError::TooSmall(s) = &e else { panic!("{e:?}") };
        assert_eq!(s.needed_to_load(), 0x3f98000 + 2 * MIB);
        let msg = e.to_string();
        assert!(msg.contains("65.6 MiB") && msg.contains("crashkernel=96M"), "{msg}");
        assert!(msg.contains("vmlinuz-6.1.0") && msg.contains("capture.img"), "{msg}");
    }

    #[test]
    fn tight_reservation_loads_with_a_warning() {
        let t = Tree::new();
        t.write(CRASH_SIZE, &(80 * MIB).to_string());
        let p = t.plan().expect("fits");
        assert!(tight(&p.sizes));
        // 96M captured in the measurements: no warning.
        t.write(CRASH_SIZE, &(96 * MIB).to_string());
        assert!(!tight(&t.plan().expect("fits").sizes));
    }

    #[test]
    fn file_size_counts_without_a_boot_header() {
        let t = Tree::new();
        t.write_bytes("boot/vmlinuz-6.1.0", &vec![1u8; 3 << 20]);
        t.write(CRASH_SIZE, &(4 * MIB).to_string());
        let ArmError::TooSmall(s) = t.plan().expect_err("too small") else { panic!() };
        assert_eq!((s.kernel_load, s.kernel_file), (3 * MIB, 3 * MIB));
    }

    #[test]
    fn command_line_length_follows_the_boot_header() {
        let t = Tree::new();
        let mut req = t.request();
        req.cmdline = CmdlineSource::Full("x".repeat(2016));
        plan(t.root(), &req).expect("2016 bytes fit");
        req.cmdline = CmdlineSource::Full("x".repeat(2017));
        let e = plan(t.root(), &req).expect_err("too long");
        assert!(matches!(e, ArmError::CmdlineTooLong { len: 2017, max: 2016, .. }), "{e:?}");
        assert!(matches!(check_cmdline("a\0b", None, Path::new("k")), Err(ArmError::CmdlineNul)));
    }

    #[test]
    fn loaded_flag() {
        let t = Tree::new();
        assert!(!crash_loaded(t.root()).expect("read"));
        let e = check_loaded(t.root()).expect_err("not loaded");
        assert!(matches!(&e, ArmError::NotLoaded { path, .. } if path == &t.root().join(CRASH_LOADED)), "{e:?}");
        assert!(e.to_string().contains("reads \"0\""), "{e}");
        check_unloaded(t.root()).expect("unloaded");

        t.write(CRASH_LOADED, "1\n");
        check_loaded(t.root()).expect("loaded");
        assert!(matches!(check_unloaded(t.root()), Err(ArmError::StillLoaded { .. })));

        t.write(CRASH_LOADED, "yes");
        assert!(matches!(crash_loaded(t.root()), Err(ArmError::Malformed { .. })));
        assert!(matches!(check_loaded(t.root()), Err(ArmError::NotLoaded { .. })));

        t.remove(CRASH_LOADED);
        assert!(
            matches!(check_loaded(t.root()), Err(ArmError::Read { path, .. }) if path == t.root().join(CRASH_LOADED))
        );
    }

    fn errno(e: i32) -> io::Error {
        io::Error::from_raw_os_error(e)
    }

    /// The errors of the operator's checklist (issue 4), each with its fix.
    #[test]
    fn operator_errors_say_the_fix() {
        let p = PathBuf::from("/sys/kernel/kexec_crash_size");
        let cases: Vec<(ArmError, &str)> = vec![
            (ArmError::NoReservation { path: p.clone() }, "kexdump crashkernel set auto"),
            (ArmError::NoCrashSupport { path: p }, "CONFIG_KEXEC_FILE/CONFIG_CRASH_DUMP"),
            (ArmError::NoSyscall { source: errno(libc::ENOSYS) }, "--method kexec-tools"),
            (ArmError::NotRoot { euid: 1000 }, "run it with sudo"),
            (
                ArmError::Refused { kernel: "/boot/vmlinuz".into(), source: errno(libc::EKEYREJECTED), lockdown: None },
                "Use a signed kernel image",
            ),
        ];
        for (e, fix) in cases {
            let msg = e.to_string();
            assert!(msg.contains(fix), "{msg}");
        }
    }

    #[test]
    fn load_errors_are_explained() {
        let t = Tree::new();
        let p = t.plan().expect("plan");
        let explain = |e| explain_load_error(t.root(), errno(e), &p);
        assert!(matches!(explain(libc::ENOSYS), Failure::Unsupported(_)));
        for e in [libc::EPERM, libc::EKEYREJECTED, libc::EBADMSG, libc::ENOKEY, libc::ENODATA] {
            let Failure::Fatal(err) = explain(e) else { panic!("{e} must not fall back") };
            assert!(matches!(err, ArmError::Refused { .. }), "{err:?}");
            let msg = err.to_string();
            assert!(msg.contains("signed") && msg.contains("does not fall back"), "{msg}");
            assert!(msg.contains("vmlinuz-6.1.0"), "{msg}");
        }
        for e in [libc::ENOMEM, libc::EADDRNOTAVAIL, libc::EINVAL] {
            let Failure::Fatal(err) = explain(e) else { panic!() };
            let msg = err.to_string();
            assert!(matches!(err, ArmError::NoRoom { .. }), "{err:?}");
            assert!(
                msg.contains("256.0 MiB") && msg.contains("63.6 MiB once loaded") && msg.contains("2.0 MiB"),
                "{msg}"
            );
        }
        assert!(matches!(explain(libc::ENOEXEC), Failure::Fatal(ArmError::BadImage { .. })));
        assert!(matches!(explain(libc::EBUSY), Failure::Fatal(ArmError::Syscall { .. })));
    }

    #[test]
    fn lockdown_and_disabled_kexec_are_told_apart() {
        let t = Tree::new();
        let p = t.plan().expect("plan");
        t.write(LOCKDOWN, "none [integrity] confidentiality\n");
        let Failure::Fatal(e) = explain_load_error(t.root(), errno(libc::EPERM), &p) else { panic!() };
        assert!(e.to_string().contains("reads \"none [integrity] confidentiality\""), "{e}");
        t.write(LOAD_DISABLED, "1\n");
        let Failure::Fatal(e) = explain_load_error(t.root(), errno(libc::EPERM), &p) else { panic!() };
        assert!(matches!(&e, ArmError::LoadDisabled { path, .. } if path == &t.root().join(LOAD_DISABLED)), "{e:?}");
        let Failure::Fatal(e) = explain_unload_error(t.root(), errno(libc::EPERM)) else { panic!() };
        assert!(matches!(e, ArmError::LoadDisabled { .. }));
        assert!(matches!(explain_unload_error(t.root(), errno(libc::ENOSYS)), Failure::Unsupported(_)));
    }

    #[test]
    fn eperm_without_lockdown_is_a_missing_capability() {
        let t = Tree::new();
        let p = t.plan().expect("plan");
        t.write(LOCKDOWN, "[none] integrity confidentiality\n");
        let Failure::Fatal(e) = explain_load_error(t.root(), errno(libc::EPERM), &p) else { panic!() };
        assert!(matches!(e, ArmError::NoCapability { .. }), "{e:?}");
        assert!(e.to_string().contains("CAP_SYS_BOOT"), "{e}");
        let Failure::Fatal(e) = explain_load_error(t.root(), errno(libc::EKEYREJECTED), &p) else { panic!() };
        assert!(matches!(e, ArmError::Refused { .. }), "a rejected key is a signature refusal whatever the mode");
        let Failure::Fatal(e) = explain_unload_error(t.root(), errno(libc::EPERM)) else { panic!() };
        assert!(matches!(e, ArmError::NoCapability { .. }), "{e:?}");
    }

    #[test]
    fn kexec_tools_argv() {
        let t = Tree::new();
        let mut req = t.request();
        req.cmdline = CmdlineSource::Full("console=ttyS0 a=\"b c\"".into());
        let p = plan(t.root(), &req).expect("plan");
        let args = kexec_tools_load_args(&p);
        assert_eq!(args.len(), 4);
        assert_eq!(args[0], "-p");
        assert_eq!(args[1], t.root().join("boot/vmlinuz-6.1.0").into_os_string());
        assert_eq!(args[2], OsString::from(format!("--initrd={}", t.root().join("capture.img").display())));
        assert_eq!(args[3], "--append=console=ttyS0 a=\"b c\"");
        assert_eq!(shell_quoted("--initrd=/boot/x.img"), "--initrd=/boot/x.img");
        assert_eq!(shell_quoted("--append=a b"), "'--append=a b'");
        assert_eq!(shell_quoted("it's"), "'it'\\''s'");
        assert_eq!(shell_quoted(""), "''");
    }

    use crate::arming::capture_image::fixture::{fake_exe, System, RELEASE};
    use crate::cli::{Cli, Command as Cmd};
    use clap::Parser;
    use std::os::unix::fs::PermissionsExt;

    /// `kexdump arm --capture-bin <the fake one> EXTRA...`, parsed.
    fn arm_args(sys: &System, extra: &[&str]) -> ArmArgs {
        let bin = sys.path("usr/lib/kexdump/capture").display().to_string();
        let argv = ["kexdump", "arm", "--capture-bin", &bin].into_iter().chain(extra.iter().copied());
        match Cli::try_parse_from(argv).expect("arguments").command {
            Cmd::Arm(a) => a,
            _ => unreachable!(),
        }
    }

    fn reasons(p: &Prepared) -> &[String] {
        &p.image.as_ref().expect("an image").rebuild
    }

    #[test]
    fn arm_from_the_configuration_builds_then_reuses() {
        let sys = System::new();
        sys.config(
            "[target]\ntarget = \"LABEL=crash\"\nfstype = \"ext4\"\n\
             [kernel]\ncmdline_remove = [\"numa\"]\ncmdline_append = [\"console=ttyS1\"]\n",
        );
        let a = arm_args(&sys, &["--cmdline-append", "loglevel=7", "--cmdline-remove", "irqpoll"]);
        let p = prepare(sys.root(), &a).expect("prepare");
        let img = p.image.as_ref().expect("image");
        assert_eq!(img.rebuild, ["it does not exist yet"]);
        assert_eq!(img.report.as_ref().expect("built").modules.len(), 6);
        assert_eq!(p.plan.sizes.kernel, sys.path(&format!("boot/vmlinuz-{RELEASE}")));
        assert_eq!(p.plan.sizes.initrd, sys.image());
        assert_eq!(p.plan.sizes.initrd_size, fs::metadata(sys.image()).unwrap().len());
        // The configuration's options, then the command line's.
        let c = &p.plan.cmdline;
        assert!(c.starts_with("console=ttyS0 nr_cpus=1 reset_devices "), "{c}");
        assert!(c.ends_with(" console=ttyS1 loglevel=7") && !c.contains("numa=") && !c.contains("irqpoll"), "{c}");

        let again = prepare(sys.root(), &a).expect("prepare");
        assert!(reasons(&again).is_empty(), "reused");
        assert!(again.image.as_ref().unwrap().report.is_none());
        assert_eq!(again.image.as_ref().unwrap().digest, img.digest);

        // Command-line keys are no input of the image; the dump level is.
        sys.config("[target]\ntarget = \"LABEL=crash\"\nfstype = \"ext4\"\n[kernel]\ncmdline_append = [\"x=1\"]\n");
        let p = prepare(sys.root(), &a).expect("prepare");
        assert!(reasons(&p).is_empty());
        assert!(p.plan.cmdline.ends_with(" x=1 loglevel=7"), "{}", p.plan.cmdline);
        sys.config("[target]\ntarget = \"LABEL=crash\"\nfstype = \"ext4\"\n[dump]\nlevel = 1\n");
        assert_eq!(reasons(&prepare(sys.root(), &a).unwrap()), ["the capture configuration changed (level)"]);

        // --rebuild forces; --kernel names another kernel (same release, same modules).
        let p = prepare(sys.root(), &arm_args(&sys, &["--rebuild"])).unwrap();
        assert_eq!(reasons(&p), ["--rebuild was given"]);
        assert!(p.image.as_ref().unwrap().report.is_some());
        let (kernel, other) = (sys.path(&format!("boot/vmlinuz-{RELEASE}")), sys.path("boot/vmlinuz-other"));
        fs::copy(&kernel, &other).unwrap();
        let p = prepare(sys.root(), &arm_args(&sys, &["--kernel", other.to_str().unwrap()])).unwrap();
        assert_eq!(p.plan.sizes.kernel, other);
        assert_eq!(reasons(&p), [format!("the kernel is now {} (was {})", other.display(), kernel.display())]);
    }

    #[test]
    fn a_missing_target_stops_arming_before_any_build() {
        let sys = System::new();
        sys.config("[target]\ntarget = \"LABEL=elsewhere\"\nfstype = \"ext4\"\n");
        let before = sys.listing();
        let e = prepare(sys.root(), &arm_args(&sys, &[])).unwrap_err().to_string();
        assert!(e.starts_with("the dump target LABEL=elsewhere is missing"), "{e}");
        assert_eq!(sys.listing(), before, "nothing built");
    }

    #[test]
    fn dry_run_writes_nothing() {
        let sys = System::new();
        let before = sys.listing();
        let p = prepare(sys.root(), &arm_args(&sys, &["--dry-run"])).expect("dry run");
        assert_eq!(reasons(&p), ["it does not exist yet"]);
        assert!(p.image.as_ref().unwrap().report.is_none());
        assert_eq!(p.plan.sizes.initrd_size, 0, "not built: the kernel alone is checked");
        assert_eq!(sys.listing(), before, "no image, no record, no directory");

        prepare(sys.root(), &arm_args(&sys, &[])).expect("build");
        sys.write("usr/lib/kexdump/capture", &fake_exe(b"capture two"));
        let before = sys.listing();
        let p = prepare(sys.root(), &arm_args(&sys, &["--dry-run"])).expect("dry run");
        let bin = sys.path("usr/lib/kexdump/capture");
        assert_eq!(reasons(&p), [format!("the capture binary {} changed", bin.display())]);
        assert_eq!(p.plan.sizes.initrd_size, fs::metadata(sys.image()).unwrap().len(), "the current image's size");
        assert_eq!(sys.listing(), before);
        // --rebuild in a dry run says so and still builds nothing.
        prepare(sys.root(), &arm_args(&sys, &[])).expect("build");
        let before = sys.listing();
        let p = prepare(sys.root(), &arm_args(&sys, &["--dry-run", "--rebuild"])).unwrap();
        assert_eq!(reasons(&p), ["--rebuild was given"]);
        assert_eq!(sys.listing(), before);
    }

    #[test]
    fn the_dry_run_command_prints_and_writes_nothing() {
        let sys = System::new();
        let before = sys.listing();
        for rearm in [false, true] {
            for extra in [&["--dry-run"][..], &["--dry-run", "--json"]] {
                let code = arm_command(sys.root(), &arm_args(&sys, extra), rearm).expect("dry run");
                assert_eq!(code, ExitCode::SUCCESS);
            }
        }
        assert_eq!(sys.listing(), before);
    }

    #[test]
    fn no_reservation_builds_nothing() {
        let sys = System::new();
        sys.write(CRASH_SIZE, b"0\n");
        let before = sys.listing();
        let e = prepare(sys.root(), &arm_args(&sys, &[])).unwrap_err();
        assert!(matches!(e.downcast_ref::<ArmError>(), Some(ArmError::NoReservation { .. })), "{e:?}");
        assert_eq!(sys.listing(), before);
    }

    #[test]
    fn explicit_initrd_reads_no_configuration() {
        let sys = System::new();
        sys.config("[dump]\nlevel = 40\n");
        sys.write("capture.img", &[0u8; 4096]);
        let kernel = sys.path(&format!("boot/vmlinuz-{RELEASE}"));
        let a = arm_args(&sys, &[]);
        let e = prepare(sys.root(), &a).unwrap_err();
        assert!(e.to_string().ends_with("etc/kexdump.toml:2: key dump.level: 40 is not a dump level (0-31)"), "{e}");

        let initrd = sys.path("capture.img");
        let argv = ["kexdump", "arm", "--initrd", initrd.to_str().unwrap(), "--kernel", kernel.to_str().unwrap()];
        let Cmd::Arm(a) = Cli::try_parse_from(argv).unwrap().command else { unreachable!() };
        let p = prepare(sys.root(), &a).expect("no configuration read");
        assert!(p.image.is_none());
        assert_eq!(p.plan.sizes.initrd_size, 4096);
        // The image's options make no sense with --initrd.
        for extra in [["--rebuild", ""], ["--config", "/x.toml"], ["--capture-bin", "/x"]] {
            let argv =
                ["kexdump", "arm", "--initrd", "x.img"].into_iter().chain(extra.into_iter().filter(|s| !s.is_empty()));
            assert!(Cli::try_parse_from(argv).is_err(), "{extra:?}");
        }
        assert!(matches!(Cli::try_parse_from(["kexdump", "rearm", "--dry-run"]).unwrap().command, Cmd::Rearm(_)));
    }

    #[test]
    fn armed_record_is_written_and_removed() {
        let sys = System::new();
        let p = prepare(sys.root(), &arm_args(&sys, &[])).expect("prepare");
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let armed = Armed::new(&p, Loader::Syscall, t);
        assert_eq!((armed.time.as_str(), armed.time_unix), ("2023-11-14T22:13:20Z", 1_700_000_000));
        assert_eq!(armed.inputs_digest.as_deref(), Some(p.image.as_ref().unwrap().digest.as_str()));
        assert_eq!((armed.initrd.clone(), armed.method.as_str()), (sys.image(), "kexec_file_load"));
        assert_eq!(armed.initrd_bytes, fs::metadata(sys.image()).unwrap().len());
        assert_eq!(armed.cmdline, p.plan.cmdline);

        let path = write_armed(sys.root(), &armed).expect("write");
        assert_eq!(path, sys.path(ARMED_RECORD));
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let back: Armed = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(back, armed);
        assert!(remove_armed(sys.root()).unwrap());
        assert!(!path.exists());
        assert!(!remove_armed(sys.root()).unwrap(), "not armed: nothing to remove, no error");

        // An --initrd arming has no inputs digest; the directory is made 0700.
        let t2 = Tree::new();
        let armed = Armed::new(&Prepared { plan: t2.plan().unwrap(), image: None }, Loader::KexecTools, t);
        assert_eq!((armed.inputs_digest, armed.method.as_str()), (None, "kexec-tools"));
        write_armed(t2.root(), &Armed::new(&Prepared { plan: t2.plan().unwrap(), image: None }, Loader::Syscall, t))
            .unwrap();
        let dir = fs::metadata(t2.root().join("var/lib/kexdump")).unwrap();
        assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    }
}
