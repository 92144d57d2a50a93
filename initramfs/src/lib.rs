//! Building kexdump's capture initramfs: the image the capture kernel
//! boots with. [`image::build`] puts the static `kexdump-capture` binary
//! at `/init`, its configuration at `/etc/kexdump-capture.conf`, and the
//! kernel modules the dump target needs (disk driver, file system, and
//! everything they need, soft dependencies included) unpacked under
//! `/lib/modules/<name>.ko` in load order, into a deterministic cpio
//! "newc" archive ([`cpio`]), zstd-compressed with a small window.
//! [`modules`] finds the modules and their closure in a kernel's modules
//! directory.

pub mod cpio;
pub mod image;
pub mod modules;
