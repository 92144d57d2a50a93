//! Vmcores of a whole server's RAM (64 GiB, 1 TiB) for measuring how the
//! engine scales: too large to build in memory, they are written straight
//! to a sparse file by [`LargeVmcore::write`], which leaves every all-zero
//! page a hole.
//!
//! The image is an ordinary [`SynthVmcore`] (same layout, page tables,
//! VMCOREINFO, struct pages, model) whose unreserved pfns are described by
//! a rule instead of a list (`layout::Fill`): RAM is cut in 4 MiB blocks
//! (1024 pfns, buddy order 10) that are, by a hash of their number,
//! * **kept** at level 31: kernel pages with data, one in four slab, one in
//!   sixteen all zero;
//! * **user**: an anonymous THP of order 9 and 512 page-cache / anonymous
//!   pages (struct pages say so; their data reads as zeros);
//! * **free**: one buddy block of order 10 (zeros).
//!
//! The metadata the generator always writes is kept too: kernel image,
//! page tables, `mem_section`, and the struct pages (64 bytes per 4 KiB
//! page: 1.5625 % of RAM, as on a real x86_64 kernel). The kept fraction
//! asked for counts them, so it cannot be below about 1.6 %; kept blocks
//! make up the rest. A 1 TiB image at 2 % is about 21 GB on disk.
//!
//! RAM: `[1 MiB, half)` then, after a 1 GiB hole (a PCI hole), the rest;
//! the first range holds the metadata.
//!
//! ```
//! use kexdump_testgen::large::LargeVmcore;
//!
//! let v = LargeVmcore::new(1 << 30, 20_000);
//! assert_eq!(v.ram_pages(), (1 << 18) - 0x100);
//! let kept = v.kept_pages(31);
//! assert!(kept > v.ram_pages() / 64 && kept < v.ram_pages() / 40, "{kept}");
//! ```

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::kernel::{PAGE_SHIFT, PAGE_SIZE, PFN_SECTION_SHIFT};
use crate::layout::Fill;
use crate::SynthVmcore;

/// Seed of the block hash (fixed: the same arguments give the same file).
pub const SEED: u64 = 0x6b65_7864_756d_7031;
/// User (cache, anon) blocks per million blocks that are not kept: an
/// idle server's page cache and a few processes.
pub const USER_PPM: u64 = 300_000;
/// pfns below the first RAM range (the first MiB, as on a PC).
const LOW_HOLE: u64 = 0x100;
/// The hole between the two RAM ranges: 1 GiB.
const MID_HOLE: u64 = 1 << (30 - PAGE_SHIFT);
/// Largest run of pages written at once.
const WRITE_CHUNK: usize = 1 << 20;

/// A synthetic vmcore of `ram_bytes` of RAM with `kept_ppm` pages per
/// million kept at dump level 31.
#[derive(Clone, Debug)]
pub struct LargeVmcore {
    synth: SynthVmcore,
    ram_pages: u64,
}

/// What [`LargeVmcore::write`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// Length of the file (its apparent size).
    pub file_len: u64,
    /// Bytes actually written (headers, notes, non-zero pages): about what
    /// the file occupies on disk.
    pub data_bytes: u64,
}

/// RAM ranges (pfn start, end) of a machine with `ram_bytes` of RAM
/// (rounded down to 256 MiB, at least 512 MiB; the first MiB is not RAM).
pub fn ram_ranges(ram_bytes: u64) -> Vec<(u64, u64)> {
    let section = 1u64 << PFN_SECTION_SHIFT;
    let total = (ram_bytes >> PAGE_SHIFT).max(4 * section) & !(2 * section - 1);
    let half = total / 2;
    vec![(LOW_HOLE, half), (half + MID_HOLE, total + MID_HOLE)]
}

impl LargeVmcore {
    /// `ram_bytes` of RAM (see [`ram_ranges`]), `kept_ppm` pages per
    /// million kept at level 31, metadata included (20,000 = 2 %).
    pub fn new(ram_bytes: u64, kept_ppm: u64) -> Self {
        let ranges = ram_ranges(ram_bytes);
        let ram_pages = ranges.iter().map(|r| r.1 - r.0).sum();
        let synth = SynthVmcore::new().ram(&ranges).fill(Fill {
            seed: SEED,
            kept_ppm: kept_ppm.min(1_000_000),
            user_ppm: USER_PPM,
        });
        LargeVmcore { synth, ram_pages }
    }

    /// The underlying builder (its model, struct pages, contents).
    /// Do not call [`SynthVmcore::build`] on a large one.
    pub fn synth(&self) -> &SynthVmcore {
        &self.synth
    }

    /// Pages of RAM.
    pub fn ram_pages(&self) -> u64 {
        self.ram_pages
    }

    /// How many pfns makedumpfile keeps at `level` in a kdump-compressed
    /// dump ([`SynthVmcore::expected_pfns`] without the set: constant
    /// memory, one pass over the struct pages).
    pub fn kept_pages(&self, level: u8) -> u64 {
        let mut n = 0;
        self.for_each_kept(level, |_| n += 1);
        n
    }

    /// Calls `f` with each pfn kept at `level` (kdump-compressed 2nd
    /// bitmap), in increasing order.
    pub fn for_each_kept(&self, level: u8, f: impl FnMut(u64)) {
        crate::model::for_each_kept(self.synth.layout_ref(), level, false, f)
    }

    /// Writes the ELF vmcore to `path` (created or truncated) as a sparse
    /// file: the length is set first and only non-zero pages are written.
    /// The bytes are those [`SynthVmcore::build`] would return.
    pub fn write(&self, path: &Path) -> io::Result<Written> {
        let plan = self.synth.file_plan();
        let l = self.synth.layout_ref();
        let file = File::create(path)?;
        file.set_len(plan.len)?;
        file.write_all_at(&plan.head, 0)?;
        let mut data_bytes = plan.head.len() as u64;
        let mut buf: Vec<u8> = Vec::with_capacity(WRITE_CHUNK);
        let mut buf_at = 0u64;
        let mut flush = |buf: &mut Vec<u8>, at: u64| -> io::Result<()> {
            file.write_all_at(buf, at)?;
            data_bytes += buf.len() as u64;
            buf.clear();
            Ok(())
        };
        for (start, pages, off) in plan.loads {
            for i in 0..pages {
                let Some(page) = l.page_data(start + i) else { continue };
                if page.iter().all(|&b| b == 0) {
                    continue;
                }
                let at = off + i * PAGE_SIZE;
                if !buf.is_empty() && (buf_at + buf.len() as u64 != at || buf.len() >= WRITE_CHUNK) {
                    flush(&mut buf, buf_at)?;
                }
                if buf.is_empty() {
                    buf_at = at;
                }
                buf.extend_from_slice(&page);
            }
        }
        if !buf.is_empty() {
            flush(&mut buf, buf_at)?;
        }
        file.sync_all()?;
        Ok(Written { file_len: plan.len, data_bytes })
    }
}

/// Parses a size: bytes, or a number with `K`, `M`, `G` or `T` (powers of
/// 1024, an optional `i`/`iB`/`B` after it): `64G`, `1T`, `4GiB`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..digits].parse().ok()?;
    let shift = match s[digits..].trim_end_matches("iB").trim_end_matches('B').trim_end_matches('i') {
        "" => 0,
        "K" | "k" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("64G"), Some(64 << 30));
        assert_eq!(parse_size("1T"), Some(1 << 40));
        assert_eq!(parse_size("4GiB"), Some(4 << 30));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("4X"), None);
        assert_eq!(parse_size("G"), None);
    }

    #[test]
    fn the_sparse_file_is_the_built_file_and_the_count_is_the_set() {
        let v = LargeVmcore::new(512 << 20, 30_000);
        let dir = std::env::temp_dir().join(format!("kexdump-testgen-large-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("vmcore");
        let w = v.write(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(bytes.len() as u64, w.file_len);
        assert!(w.data_bytes < w.file_len / 10, "{w:?}");
        assert!(bytes == v.synth().build(), "the sparse file differs from build()");
        let set = v.synth().expected_pfns(31);
        assert_eq!(v.kept_pages(31), set.len() as u64);
        let mut listed = Vec::new();
        v.for_each_kept(31, |p| listed.push(p));
        assert!(listed.iter().copied().eq(set.iter().copied()));
        // about 3 % kept, and some of every kind of block
        let ram = v.ram_pages();
        assert!((ram * 25 / 1000..ram * 35 / 1000).contains(&(set.len() as u64)), "{} of {ram}", set.len());
        assert!(v.kept_pages(0) > ram / 2, "free and user pages are kept at level 0");
    }
}
