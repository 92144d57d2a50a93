//! The `kexec_file_load(2)` system call for the crash kernel slot. Neither
//! libc nor nix wraps it, so this is the host's one module allowed `unsafe`
//! (docs/architecture.md); everything it returns is an `io::Error` carrying
//! the raw errno, for the caller to explain.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// `KEXEC_FILE_UNLOAD` (include/uapi/linux/kexec.h): unload, do not load.
pub const KEXEC_FILE_UNLOAD: libc::c_ulong = 0x1;
/// `KEXEC_FILE_ON_CRASH`: the crash kernel slot (booted on panic), not the
/// one `reboot(LINUX_REBOOT_CMD_KEXEC)` boots.
pub const KEXEC_FILE_ON_CRASH: libc::c_ulong = 0x2;

/// `kexec_file_load(kernel_fd, initrd_fd, cmdline_len, cmdline, flags)`;
/// `cmdline_len` counts the NUL, and is 0 with a null pointer when there is
/// no command line.
#[cfg(any(target_arch = "x86_64", all(target_arch = "aarch64", target_env = "gnu")))]
fn kexec_file_load(
    kernel_fd: libc::c_int,
    initrd_fd: libc::c_int,
    cmdline: Option<&CStr>,
    flags: libc::c_ulong,
) -> io::Result<()> {
    let (len, ptr) = match cmdline {
        Some(c) => (c.to_bytes_with_nul().len() as libc::c_ulong, c.as_ptr()),
        None => (0, std::ptr::null()),
    };
    // SAFETY: the arguments have the types the system call takes (two int
    // fds, an unsigned long length, a const char pointer, unsigned long
    // flags). `ptr` is null with `len` 0, or points to `len` readable bytes
    // ending in NUL that `cmdline` keeps alive for the whole call; the kernel
    // only reads them and the fds. Nothing in this process's memory changes.
    let r = unsafe { libc::syscall(libc::SYS_kexec_file_load, kernel_fd, initrd_fd, len, ptr, flags) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Architectures whose libc binding lacks the call: report it as missing,
/// so that `--method auto` uses kexec-tools.
#[cfg(not(any(target_arch = "x86_64", all(target_arch = "aarch64", target_env = "gnu"))))]
fn kexec_file_load(_: libc::c_int, _: libc::c_int, _: Option<&CStr>, _: libc::c_ulong) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// Loads `kernel` and `initrd` as the crash kernel, replacing any loaded one.
pub fn load_crash_kernel(kernel: &File, initrd: &File, cmdline: &CStr) -> io::Result<()> {
    kexec_file_load(kernel.as_raw_fd(), initrd.as_raw_fd(), Some(cmdline), KEXEC_FILE_ON_CRASH)
}

/// Unloads the crash kernel (succeeds when none is loaded).
pub fn unload_crash_kernel() -> io::Result<()> {
    kexec_file_load(-1, -1, None, KEXEC_FILE_UNLOAD | KEXEC_FILE_ON_CRASH)
}
