//! Building kexdump's capture initramfs. Today: the cpio "newc" writer.
//! The module dependency closure and the image assembly come with the
//! capture path (issue 3).

pub mod cpio;
