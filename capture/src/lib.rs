//! kexdump's dump engine: reads an x86_64 ELF vmcore (`/proc/vmcore` or a
//! copy of one), selects pages by makedumpfile dump level using only what
//! VMCOREINFO says, and writes kdump-compressed, ELF or flattened dumps
//! that crash, gdb, drgn and makedumpfile read. Memory stays bounded: pages
//! are processed in windows of pfns.
//!
//! Any dump format is read back (`reader`: kdump-compressed, split,
//! flattened), so saved dumps can be converted, re-filtered and verified.
//!
//! Data flows one way: `input` → `elf` | `reader` (+ `vmcoreinfo`) → `memory` →
//! `translate` → `mem_map` → `page_scheme` → `page_walk` → `filter` → `select`
//! (+ `first_pages`) → `writer` (+ `utsname`) → `sink`.
//!
//! Under all of them, importing nothing from the crate: `format` (the on-disk
//! layouts that readers, writers, `sink` and `verify` share), `page` (page size
//! and shift), `dump_level` (makedumpfile's `-d` bits) and `bytes` (bounds-checked
//! field reads). No top-level module imports one that imports it back;
//! `capture/tests/module_graph.rs` keeps it so.

pub mod analysis;
pub mod bitmap;
pub mod bytes;
pub mod capture_config;
pub mod capture_dir;
pub mod compress;
pub mod dmesg;
pub mod dump_level;
pub mod elf;
pub mod error;
pub mod filter;
pub mod first_pages;
pub mod format;
pub mod input;
pub mod mem_map;
pub mod memory;
mod mmap;
pub mod net_config;
pub mod output;
pub mod page;
pub mod page_scheme;
pub mod page_walk;
pub mod reader;
pub mod save;
pub mod select;
pub mod sink;
pub mod translate;
pub mod utsname;
pub mod verify;
pub mod vmcore;
pub mod vmcoreinfo;
pub mod writer;

pub use error::{Error, Result};
pub use save::{save, Format, SaveOptions, SaveReport};
pub use vmcore::Vmcore;
