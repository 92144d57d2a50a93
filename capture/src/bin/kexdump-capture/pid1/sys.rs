//! The system calls PID 1 makes that std does not offer: mount, umount,
//! finit_module, posix_fadvise, sync and reboot, through nix's safe
//! wrappers (no `unsafe` here). Each turns a failure into an `io::Error`
//! whose raw OS error tells callers why, naming what was attempted where
//! the caller does not.

use nix::errno::Errno;
use nix::fcntl::{posix_fadvise, PosixFadviseAdvice};
use nix::kmod::{finit_module as nix_finit_module, ModuleInitFlags};
use nix::mount::MntFlags;
use std::fs::File;
use std::io;
use std::path::Path;

pub use nix::mount::MsFlags;
pub use nix::sys::reboot::RebootMode;

/// mount(2). `fstype` such as "ext4"; `data` the file-system options.
/// The error is the bare OS error (its code tells why: callers explain it
/// and name the mount).
pub fn mount(source: &str, target: &Path, fstype: &str, flags: MsFlags, data: &str) -> io::Result<()> {
    nix::mount::mount(Some(source), target, Some(fstype), flags, Some(data)).map_err(io::Error::from)
}

/// umount2(2); `detach` makes it lazy (MNT_DETACH) for a busy mount.
pub fn umount(target: &Path, detach: bool) -> io::Result<()> {
    let flags = if detach { MntFlags::MNT_DETACH } else { MntFlags::empty() };
    nix::mount::umount2(target, flags).map_err(|e| named(e, format!("umount {}", target.display())))
}

/// What finit_module(2) did.
#[derive(Debug, PartialEq, Eq)]
pub enum Loaded {
    Now,
    /// EEXIST: already loaded (or built in under that name).
    Already,
}

/// Load the module in `file` with no parameters.
pub fn finit_module(file: &File, name: &str) -> io::Result<Loaded> {
    match nix_finit_module(file, c"", ModuleInitFlags::empty()) {
        Ok(()) => Ok(Loaded::Now),
        Err(Errno::EEXIST) => Ok(Loaded::Already),
        Err(e) => Err(named(e, format!("loading module {name}"))),
    }
}

/// Drop `file`'s clean pages from the page cache (posix_fadvise
/// DONTNEED), so that the next read comes from the disk: a CRC then covers
/// what the disk holds, not what was meant to reach it. The file must have
/// been fsynced (dirty pages are not dropped).
pub fn drop_cached(file: &File) -> io::Result<()> {
    posix_fadvise(file, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED).map_err(io::Error::from)
}

pub fn sync() {
    nix::unistd::sync()
}

/// reboot(2) (RB_AUTOBOOT, RB_POWER_OFF or RB_HALT_SYSTEM). Returns only
/// on failure.
pub fn reboot(how: RebootMode) -> io::Error {
    match nix::sys::reboot::reboot(how) {
        Ok(never) => match never {},
        Err(e) => io::Error::from(e),
    }
}

pub fn is_pid1() -> bool {
    std::process::id() == 1
}

/// An `io::Error` of errno `e` (its kind kept) saying what was attempted.
fn named(e: Errno, what: String) -> io::Error {
    io::Error::new(io::Error::from(e).kind(), format!("{what}: {e}"))
}
