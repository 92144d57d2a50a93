//! The system calls PID 1 needs that std does not offer: mount, umount,
//! finit_module, sync and reboot. The only unsafe code of the capture
//! init; each wrapper turns a failure into an `io::Error` naming what was
//! attempted.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cstr(s: &[u8], what: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("{what} contains a NUL byte")))
}

fn last_error(what: String) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// mount(2). `fstype` such as "ext4"; `data` the file-system options.
/// The error is the bare OS error (its code tells why: callers explain it
/// and name the mount).
pub fn mount(source: &str, target: &Path, fstype: &str, flags: libc::c_ulong, data: &str) -> io::Result<()> {
    let src = cstr(source.as_bytes(), "the mount source")?;
    let tgt = cstr(target.as_os_str().as_bytes(), "the mount point")?;
    let fst = cstr(fstype.as_bytes(), "the file system type")?;
    let dat = cstr(data.as_bytes(), "the mount options")?;
    // SAFETY: every pointer is a valid NUL-terminated string owned by this
    // frame and outliving the call; the kernel copies them.
    let rc = unsafe { libc::mount(src.as_ptr(), tgt.as_ptr(), fst.as_ptr(), flags, dat.as_ptr().cast()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// umount2(2); `detach` makes it lazy (MNT_DETACH) for a busy mount.
pub fn umount(target: &Path, detach: bool) -> io::Result<()> {
    let tgt = cstr(target.as_os_str().as_bytes(), "the mount point")?;
    let flags = if detach { libc::MNT_DETACH } else { 0 };
    // SAFETY: `tgt` is a valid NUL-terminated string living across the call.
    let rc = unsafe { libc::umount2(tgt.as_ptr(), flags) };
    if rc == 0 {
        Ok(())
    } else {
        Err(last_error(format!("umount {}", target.display())))
    }
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
    let params = c"";
    // SAFETY: the fd is open for the duration of the call (borrowed from
    // `file`); `params` is a static NUL-terminated string.
    let rc = unsafe { libc::syscall(libc::SYS_finit_module, file.as_raw_fd(), params.as_ptr(), 0) };
    if rc == 0 {
        return Ok(Loaded::Now);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EEXIST) {
        return Ok(Loaded::Already);
    }
    Err(io::Error::new(e.kind(), format!("loading module {name}: {e}")))
}

/// Drop `file`'s clean pages from the page cache (posix_fadvise
/// DONTNEED), so that the next read comes from the disk: a CRC then covers
/// what the disk holds, not what was meant to reach it. The file must have
/// been fsynced (dirty pages are not dropped).
pub fn drop_cached(file: &File) -> io::Result<()> {
    // SAFETY: posix_fadvise(2) on an open descriptor with offset 0 and
    // length 0 (to the end) reads no memory of ours.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    // posix_fadvise returns the error number instead of setting errno.
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

pub fn sync() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() }
}

/// reboot(2) with RB_AUTOBOOT, RB_POWER_OFF or RB_HALT_SYSTEM. Returns only
/// on failure.
pub fn reboot(cmd: libc::c_int) -> io::Error {
    // SAFETY: reboot(2) takes a plain integer command; as PID 1 we hold
    // CAP_SYS_BOOT. On success it does not return.
    unsafe { libc::reboot(cmd) };
    io::Error::last_os_error()
}

/// Bytes available to root on the file system holding `path` (statvfs:
/// f_bfree, which counts root's reserved blocks, as the capture runs as root).
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let p = cstr(path.as_os_str().as_bytes(), "the path")?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `p` is a valid NUL-terminated string; `st` points to writable
    // memory of the right type, which the kernel fills on success.
    let rc = unsafe { libc::statvfs(p.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(last_error(format!("statvfs {}", path.display())));
    }
    // SAFETY: statvfs returned 0, so it initialised the whole struct.
    let st = unsafe { st.assume_init() };
    Ok(st.f_bfree.saturating_mul(st.f_frsize))
}

pub fn is_pid1() -> bool {
    std::process::id() == 1
}
