//! The one place that memory-maps input files. `/proc/vmcore` supports mmap
//! of page-aligned ranges (the kernel added it for makedumpfile) and is
//! much faster mapped than read(), which remaps the crashed kernel's memory
//! one 4 KiB page at a time. But mapping a whole multi-GB vmcore would count
//! every touched page in our RSS; so we map one bounded chunk at a time
//! (docs/engine.md, "Data flow": 4 MiB chunks, pread when mmap is refused).

// One of the workspace's two modules allowed `unsafe` (docs/architecture.md):
// mapping a file is unsafe in Rust whatever the wrapper.
#![allow(unsafe_code)]

use memmap2::{Mmap, MmapOptions};
use std::fs::File;

/// Bytes mapped at once. Bounds the RSS that page data can add.
pub const CHUNK: u64 = 4 << 20;

/// A read-only mapping of `[start, start + len)` of a file.
pub struct Chunk {
    pub start: u64,
    map: Mmap,
}

impl Chunk {
    /// Map the `CHUNK`-aligned window of `file` that contains `offset`,
    /// clipped to `file_size`. Returns `None` when the kernel refuses
    /// (file systems or special files without mmap): callers fall back to
    /// pread.
    pub fn map(file: &File, offset: u64, file_size: u64) -> Option<Chunk> {
        let start = offset - offset % CHUNK;
        let len = CHUNK.min(file_size.checked_sub(start)?);
        if len == 0 {
            return None;
        }
        // SAFETY: the mapping is private to this struct and read-only. The
        // mapped file is a vmcore that nothing truncates while we read it
        // (/proc/vmcore cannot change; a dump file being converted is not
        // written by us). If another process truncated it anyway, access
        // would raise SIGBUS; that is the documented hazard of mmap and the
        // reason `Input` only maps files the operator pointed us at.
        let map = unsafe { MmapOptions::new().offset(start).len(len as usize).map(file) }.ok()?;
        Some(Chunk { start, map })
    }

    /// The bytes `[offset, offset + len)` if they lie inside this chunk.
    pub fn get(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let rel = usize::try_from(offset.checked_sub(self.start)?).ok()?;
        self.map.get(rel..rel.checked_add(len)?)
    }
}
