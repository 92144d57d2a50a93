//! Dump writers: kdump-compressed and ELF. Both take a `Selector` (which
//! pages) and a `Sink` (where to, file or flattened stream).

pub mod elf;
pub mod kdump;
pub mod page_pipeline;

use crate::filter::FilterStats;

/// A write to the dump failed. (The sink does not know the file's name;
/// the caller adds it.)
fn out_err(e: std::io::Error) -> crate::error::Error {
    crate::error::Error::Output { path: "<dump>".into(), source: e }
}

/// Progress of a write: `done` of `total` units, `bytes` written so far.
pub trait Progress {
    fn update(&mut self, done: u64, total: u64, bytes: u64);
}

/// Discards progress.
pub struct NoProgress;
impl Progress for NoProgress {
    fn update(&mut self, _: u64, _: u64, _: u64) {}
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub pages_present: u64,
    /// Pages in the dump (for kdump-compressed, zero pages included: they
    /// are in the bitmap and share one stored page).
    pub pages_written: u64,
    pub zero_pages: u64,
    /// Pages stored uncompressed because compression did not shrink them.
    pub raw_pages: u64,
    pub filter: FilterStats,
    /// Size of the output in bytes.
    pub bytes: u64,
}
