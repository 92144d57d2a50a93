//! kexdump's dump engine: reads an x86_64 ELF vmcore (`/proc/vmcore` or a
//! copy of one), selects pages by makedumpfile dump level using only what
//! VMCOREINFO says, and writes kdump-compressed, ELF or flattened dumps
//! that crash, gdb, drgn and makedumpfile read. Memory stays bounded: pages
//! are processed in windows of pfns.
//!
//! Data flows one way: `input` → `elf` (+ `vmcoreinfo`) → `memory` →
//! `translate` → `mem_map` → `filter` → `select` → `writer` → `sink`.

pub mod analysis;
pub mod bitmap;
pub mod bytes;
pub mod capture_config;
pub mod compress;
pub mod dmesg;
pub mod elf;
pub mod error;
pub mod filter;
pub mod input;
pub mod mem_map;
pub mod memory;
mod mmap;
pub mod output;
pub mod pid1;
pub mod save;
pub mod select;
pub mod sink;
pub mod translate;
pub mod vmcore;
pub mod vmcoreinfo;
pub mod writer;

pub use error::{Error, Result};
pub use save::{save, Format, SaveOptions, SaveReport};
pub use vmcore::Vmcore;
