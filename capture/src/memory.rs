//! Physical memory as the dump describes it, whatever its format: for an
//! ELF vmcore, PT_LOADs mapped from physical addresses to file offsets
//! (`p_filesz < p_memsz` tails reading as zeros); for a kdump-compressed
//! dump, the page index (bitmaps and descriptors, `reader::pages`). The
//! same methods serve both, so translation, the page walk, dmesg and the
//! writers do not care which format they read.

use crate::elf::vmcore::Load;
use crate::error::{Error, Result};
use crate::input::Input;
use crate::page::{PAGE_SHIFT, PAGE_SIZE};
use crate::reader::kdump::PageLoc;
use crate::reader::pages::KdumpPages;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Where the bytes of one physical page come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageSource {
    /// All `PAGE_SIZE` bytes are at this file offset.
    File(u64),
    /// The page is described but not stored, or only partly: read it
    /// byte-range by byte-range (zeros where no file data exists).
    Partial,
    /// No PT_LOAD covers this page (ELF), or it is not RAM (kdump).
    Hole,
    /// A kdump-compressed dump's page: where it is (stored, excluded by
    /// the dump level, or never written in an INCOMPLETE dump).
    Kdump(PageLoc),
}

pub struct PhysMem<'a> {
    pub input: &'a Input,
    /// PT_LOADs sorted by physical address (for a kdump-compressed dump,
    /// the RAM ranges of its 1st bitmap).
    loads: Vec<Load>,
    kdump: Option<&'a KdumpPages>,
    /// The pfns `read` touched while [`PhysMem::traced`] runs.
    trace: Mutex<Option<BTreeSet<u64>>>,
    tracing: AtomicBool,
}

impl<'a> PhysMem<'a> {
    pub fn new(input: &'a Input, loads: &[Load]) -> PhysMem<'a> {
        let mut loads = loads.to_vec();
        loads.sort_by_key(|l| (l.paddr, std::cmp::Reverse(l.memsz)));
        PhysMem { input, loads, kdump: None, trace: Mutex::new(None), tracing: AtomicBool::new(false) }
    }

    /// The memory of a kdump-compressed dump whose first file is `input`.
    pub fn kdump(input: &'a Input, loads: &[Load], pages: &'a KdumpPages) -> PhysMem<'a> {
        PhysMem { kdump: Some(pages), ..PhysMem::new(input, loads) }
    }

    /// The load containing `paddr`, preferring the one that stores it in file.
    fn load_for(&self, paddr: u64) -> Option<&Load> {
        let idx = self.loads.partition_point(|l| l.paddr <= paddr);
        let mut best = None;
        // Loads may overlap (x86_64's kernel-text segment repeats part of
        // RAM); look back over every load that starts at or below paddr.
        for l in self.loads[..idx].iter().rev() {
            if paddr < l.paddr + l.memsz {
                if paddr < l.paddr + l.filesz {
                    return Some(l);
                }
                best.get_or_insert(l);
            }
        }
        best
    }

    pub fn page_source(&self, pfn: u64) -> PageSource {
        if let Some(k) = self.kdump {
            // An unusable descriptor reads as a hole here; reads say why.
            return k.locate(self.input, pfn).map_or(PageSource::Hole, |(_, loc)| match loc {
                PageLoc::Hole => PageSource::Hole,
                loc => PageSource::Kdump(loc),
            });
        }
        let paddr = pfn << PAGE_SHIFT;
        match self.load_for(paddr) {
            None => {
                // The page may still start in a hole and end inside a load.
                if self.loads.iter().any(|l| l.paddr < paddr + PAGE_SIZE && paddr < l.paddr + l.memsz) {
                    PageSource::Partial
                } else {
                    PageSource::Hole
                }
            }
            Some(l) => {
                let rel = paddr - l.paddr;
                if rel + PAGE_SIZE <= l.filesz {
                    PageSource::File(l.offset + rel)
                } else {
                    PageSource::Partial
                }
            }
        }
    }

    /// Run `f` and return, with its result, the pfns every `read` in it
    /// touched (page tables walked, structures read): what a reader needs
    /// to get that far. Not nested.
    pub fn traced<R>(&self, f: impl FnOnce() -> R) -> (R, BTreeSet<u64>) {
        *self.trace.lock().unwrap_or_else(|e| e.into_inner()) = Some(BTreeSet::new());
        self.tracing.store(true, Ordering::Relaxed);
        let r = f();
        self.tracing.store(false, Ordering::Relaxed);
        let set = self.trace.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default();
        (r, set)
    }

    /// Read physical memory into `buf`. Bytes described with no file data
    /// (past p_filesz) read as zero; bytes no load describes are an error.
    pub fn read(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        if self.tracing.load(Ordering::Relaxed) && !buf.is_empty() {
            let last = paddr.saturating_add(buf.len() as u64 - 1);
            if let Some(set) = self.trace.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                set.extend((paddr >> PAGE_SHIFT)..=(last >> PAGE_SHIFT));
            }
        }
        if let Some(k) = self.kdump {
            return k.read(self.input, paddr, buf);
        }
        let mut done = 0usize;
        while done < buf.len() {
            let pa = paddr + done as u64;
            let l = self.load_for(pa).ok_or(Error::NotInDump { paddr: pa })?;
            let rel = pa - l.paddr;
            let n = ((l.memsz - rel) as usize).min(buf.len() - done);
            let stored = l.filesz.saturating_sub(rel).min(n as u64) as usize;
            self.input.read_exact_at(l.offset + rel, &mut buf[done..done + stored])?;
            buf[done + stored..done + n].fill(0);
            done += n;
        }
        Ok(())
    }

    /// Like `read`, but bytes in holes read as zero (for pages that straddle
    /// a segment edge, as makedumpfile reads them).
    pub fn read_lenient(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        for (i, chunk) in buf.chunks_mut(1).enumerate() {
            if self.read(paddr + i as u64, chunk).is_err() {
                chunk[0] = 0;
            }
        }
        Ok(())
    }

    pub fn read_u64(&self, paddr: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read(paddr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Call `f` with the contents of page `pfn` (zero-copy when the page is
    /// stored whole in the file). `scratch` backs the other cases.
    pub fn with_page<R>(&self, pfn: u64, scratch: &mut Vec<u8>, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        if let Some(k) = self.kdump {
            return k.with_page(self.input, pfn, scratch, f);
        }
        match self.page_source(pfn) {
            PageSource::File(off) => self.input.with_bytes(off, PAGE_SIZE as usize, scratch, f),
            PageSource::Partial => {
                scratch.resize(PAGE_SIZE as usize, 0);
                self.read_lenient(pfn << PAGE_SHIFT, scratch)?;
                Ok(f(scratch))
            }
            PageSource::Hole | PageSource::Kdump(_) => Err(Error::NotInDump { paddr: pfn << PAGE_SHIFT }),
        }
    }

    pub fn loads(&self) -> &[Load] {
        &self.loads
    }
}
