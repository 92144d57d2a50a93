//! Building kexdump's capture initramfs: the cpio "newc" writer and the
//! kernel-module dependency closure. Assembling the image (static
//! `kexdump-capture` as /init, configuration, modules, zstd) comes with the
//! capture path (issue 3).

pub mod cpio;
pub mod modules;
