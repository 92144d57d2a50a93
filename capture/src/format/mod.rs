//! The on-disk layouts of every format the engine reads or writes, in one
//! place: what the bytes of a kdump-compressed file (`kdump`), an ELF core
//! (`elf`) and a makedumpfile flattened stream (`flat`) mean, as field
//! offsets, sizes, magic numbers and flag bits.
//!
//! Only definitions live here: no I/O, no parsing, and no import from the
//! rest of the crate, so readers, writers, `sink` and `verify` all share
//! these without depending on each other. Each layout is checked at compile
//! time against a `#[repr(C)]` mirror of the C declaration it comes from
//! (makedumpfile's diskdump_mod.h and makedumpfile.h, the kernel's
//! include/uapi/linux/elf.h): a wrong offset or size does not build.

pub mod elf;
pub mod flat;
pub mod kdump;
