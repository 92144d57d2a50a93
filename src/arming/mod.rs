//! Arming: loading the capture kernel and its initramfs into the
//! crashkernel= reservation, and disarming: unloading them.
//!
//! The checks read files under a root directory (`/` in production, a fake
//! tree in tests) and are separate from the loading itself, which needs
//! root and a kernel: `kexec_file_load(2)` ([`kexec`]), or kexec-tools'
//! `kexec -p` where that system call does not exist ([`loader`]).
//!
//! Without an `--initrd`, [`prepare`] first brings the configuration's
//! capture initramfs up to date ([`capture_image`]). After a load, the
//! arming is recorded in `/var/lib/kexdump/armed.json` ([`record`]);
//! disarming removes it. [`sequence`] takes these steps in order and
//! [`report`] tells what they did.

pub mod bzimage;
pub mod capture_cmdline;
pub mod capture_image;
pub mod error;
pub mod kernel_state;
pub mod kexec;
pub mod loader;
pub mod plan;
pub mod preflight;
pub mod prepare;
pub mod record;
pub mod report;
pub mod sequence;
pub mod sizes;

use loader::Method;
use std::path::PathBuf;

/// What an arming is asked for: the options of `kexdump arm` and `rearm`
/// (and of the re-arm `kexdump test` does).
#[derive(Clone, Debug)]
pub struct ArmOptions {
    /// The capture kernel image [default: the configuration's, else the
    /// running kernel's /boot/vmlinuz-<release>].
    pub kernel: Option<PathBuf>,
    /// The capture kernel's modules [default: the configuration's, else
    /// /lib/modules/<the kernel's release>].
    pub modules_dir: Option<PathBuf>,
    /// A capture initramfs to load as it is; without it the configuration's
    /// is built, or rebuilt when an input changed.
    pub initrd: Option<PathBuf>,
    /// The configuration file [default: /etc/kexdump.toml].
    pub config: Option<PathBuf>,
    /// Rebuild the capture initramfs even when its inputs are unchanged.
    pub rebuild: bool,
    /// The static capture binary [default: where it is installed].
    pub capture_bin: Option<PathBuf>,
    /// Added at the end of the capture command line.
    pub cmdline_append: Vec<String>,
    /// Option names left out of the capture command line.
    pub cmdline_remove: Vec<String>,
    /// Exactly this capture command line.
    pub cmdline: Option<String>,
    /// The capture kernel's CPUs [default: the configuration's, else 1].
    pub cpus: Option<u32>,
    /// How to load (and, for a re-arm, unload).
    pub method: Method,
    /// Check everything; build, load and write nothing.
    pub dry_run: bool,
}
