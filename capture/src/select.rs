//! Choosing the pages of a dump: the present pfns (1st bitmap) minus what
//! the dump level excludes (2nd bitmap), window by window. When the page
//! metadata cannot be used, selection falls back to a level that needs no
//! struct page walk and says why.

use crate::bitmap::Bitmap;
use crate::dump_level;
use crate::error::{Error, Result};
use crate::filter::{Filter, FilterStats};
use crate::memory::PhysMem;
use crate::page::{PAGE_SHIFT, PAGE_SIZE};
use crate::page_walk::PageWalk;
use crate::vmcore::Vmcore;

/// Pfns handled per window: bounds the bitmap memory (32 KiB per bitmap)
/// whatever the RAM size. A multiple of 64 and of a 128 MiB section.
pub const WINDOW_PFNS: u64 = 1 << 18;

pub struct Selector<'a> {
    pub vm: &'a Vmcore,
    pub mem: &'a PhysMem<'a>,
    walk: Option<&'a PageWalk>,
    /// The dump level in force (the requested one, or a fallback).
    pub level: u8,
}

impl<'a> Selector<'a> {
    /// With a `walk`, struct pages are checked at every level (hwpoison and
    /// offline pages always go); without one, the level loses bits 2..16
    /// and pages are selected by presence and content only.
    pub fn new(vm: &'a Vmcore, mem: &'a PhysMem<'a>, walk: Option<&'a PageWalk>, level: u8) -> Self {
        let level = if walk.is_some() { level } else { level & !dump_level::NEEDS_PAGE_WALK };
        Selector { vm, mem, walk, level }
    }

    /// The pfns a writer saves before all others (`first_pages`).
    pub fn first_pfns(&self) -> Vec<u64> {
        crate::first_pages::first_pfns(self.vm, self.mem, self.walk)
    }

    /// Start a pass over all pfns, in ascending windows.
    pub fn pass(&self) -> Pass<'_> {
        let filter = self.walk.map(|w| Filter::new(self.mem, &w.tr, w.scheme.clone(), w.sections.clone(), self.level));
        Pass { sel: self, filter, next: 0, needed: self.walk.map_or(&[][..], |w| &w.needed) }
    }

    /// The windows `(start, len)` covering every pfn below max_mapnr that
    /// some PT_LOAD describes; windows with no memory at all are skipped, so
    /// a sparse physical map (or a corrupt one) costs nothing to walk.
    pub fn windows(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let max = self.vm.max_mapnr;
        let mut spans: Vec<(u64, u64)> = self
            .vm
            .elf
            .loads
            .iter()
            .filter(|l| l.memsz > 0)
            .map(|l| (l.paddr >> PAGE_SHIFT, (l.paddr + l.memsz).div_ceil(PAGE_SIZE)))
            .collect();
        spans.sort_unstable();
        let mut next = 0u64;
        spans.into_iter().flat_map(move |(from, to)| {
            let first = (from / WINDOW_PFNS).max(next);
            let last = to.div_ceil(WINDOW_PFNS);
            next = next.max(last);
            (first..last).map(move |w| (w * WINDOW_PFNS, WINDOW_PFNS.min(max - w * WINDOW_PFNS)))
        })
    }
}

pub struct Pass<'a> {
    sel: &'a Selector<'a>,
    filter: Option<Filter<'a>>,
    next: u64,
    needed: &'a [u64],
}

impl Pass<'_> {
    /// The window's present pfns and the subset the level keeps (before
    /// any zero-page check, which is the writer's). Windows come in order.
    pub fn window(&mut self, start: u64, len: u64) -> Result<(Bitmap, Bitmap)> {
        debug_assert!(start >= self.next, "windows must come in ascending order");
        self.next = start + len;
        let present = self.sel.vm.present(start, len);
        // Only pages whose data the input holds: not past a PT_LOAD's
        // p_filesz (makedumpfile's exclude_nodata_pages()), not left out
        // of a kdump-compressed input.
        let mut keep = self.sel.vm.stored(start, len);
        if let Some(f) = &mut self.filter {
            let needed = &self.needed[self.needed.partition_point(|&p| p < start)..];
            let needed: Vec<u64> =
                needed.iter().copied().take_while(|&p| p < start + len).filter(|&p| keep.get(p)).collect();
            let poisoned_before = f.stats.hwpoison;
            f.apply(&mut keep)?;
            if let Some(&pfn) = needed.iter().find(|&&p| !keep.get(p)) {
                return Err(Error::Inconsistent(format!(
                    "the page filter would drop pfn {pfn:#x}, which holds what a reader needs first (page tables, \
                     mem_section, init_uts_ns, the printk ring): the page metadata is not to be trusted"
                )));
            }
            // Poisoned pages are rare; a window mostly "poisoned" means the
            // flag bit or offset is wrong.
            let poisoned = f.stats.hwpoison - poisoned_before;
            if poisoned > 64 {
                let stored = self.sel.vm.stored(start, len).count();
                if poisoned * 2 > stored {
                    return Err(Error::Inconsistent(format!(
                        "{poisoned} of {stored} pages from pfn {start:#x} marked hwpoisoned: implausible"
                    )));
                }
            }
        }
        Ok((present, keep))
    }

    pub fn stats(&self) -> FilterStats {
        self.filter.as_ref().map(|f| f.stats).unwrap_or_default()
    }
}

pub fn is_zero_page(page: &[u8]) -> bool {
    // OR-fold 64-byte blocks (vectorizes) and stop at the first non-zero one.
    let mut blocks = page.chunks(64);
    blocks.all(|c| c.iter().fold(0u8, |acc, &b| acc | b) == 0)
}
