//! Everything that can stop arming or disarming.

use super::sizes::{mib, Sizes};
use std::fmt;
use std::io;
use std::path::PathBuf;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
