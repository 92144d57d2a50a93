//! The expected page sets: a model of upstream makedumpfile (commit
//! b7587f1, the oracle in `shared/oracles/`; for the 6.1 scheme the same
//! as Debian's 1.7.2) — `create_1st_bitmap`, `__exclude_unnecessary_pages`,
//! `exclude_zero_pages_cyclic` — run over the struct pages this generator
//! writes. It reads the same 64-byte records the image holds, knowing each
//! [`Scheme`] by itself (not through VMCOREINFO), so it shares nothing with
//! the engine.
//!
//! Semantics reproduced, in makedumpfile's order: the 2nd bitmap starts as
//! the 1st (pfns covered by a PT_LOAD's `p_memsz`); `exclude_nodata_pages`
//! removes the pfns of `[p_paddr + p_filesz, p_paddr + p_memsz)` at every
//! level (they stay in the 1st bitmap); then, for every pfn of every
//! section that has a mem_map (pfn < max_mapnr):
//! * pfns whose bytes are not in the file (`is_in_segs`) are skipped;
//! * the compound order and the hugetlb mark are read only when the page
//!   has `PG_head` and `pfn % 512 != 511` (makedumpfile's PGMM_CACHED
//!   window): 6.1/6.5 from the next struct page's order and destructor
//!   bytes; 6.8 from its flags (low byte, `PG_hugetlb`); 6.12/7.3 the order
//!   from its flags' low byte and hugetlb from the head's `page_type`; the
//!   order is dropped (0) when the pfn is not aligned to it;
//! * slab: `PG_slab` (6.1–6.8), `page_type == PGTY_slab << 24` (6.12+); a
//!   slab page is never anonymous, free or offline;
//! * a page with `compound_head & 1` (a tail) is kept as is;
//! * level & 16: `_mapcount == PAGE_BUDDY_MAPCOUNT_VALUE` and not slab
//!   excludes `1 << private` pfns (`private >= LENGTH(zone.free_area)`:
//!   warning, page kept); 7.3: `page_type == PGTY_unaccepted << 24`
//!   excludes `1 << (LENGTH(zone.free_area) - 1)` pfns;
//! * level & 2: cache (`PG_lru`, or `PG_swapbacked && PG_swapcache`), not
//!   `PG_private`, mapping not anonymous;
//! * level & 4: cache, mapping not anonymous;
//! * level & 8: mapping anonymous (and not slab) or hugetlb;
//! * always: `PG_hwpoison`; `_mapcount == PAGE_OFFLINE_MAPCOUNT_VALUE` and
//!   not slab;
//! * an excluded compound head takes `1 << compound_order` pfns with it.
//!
//! Level & 1 (zero pages) is a content check: for an ELF dump, pfns still
//! in the bitmap, in the file and all zero are removed; a kdump-compressed
//! dump keeps them in its 2nd bitmap (they share one zero-page record).

use std::collections::BTreeSet;

use crate::kernel::*;
use crate::layout::Layout;

fn u64_at(p: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(p[o..o + 8].try_into().unwrap())
}

fn i32_at(p: &[u8], o: usize) -> i32 {
    i32::from_le_bytes(p[o..o + 4].try_into().unwrap())
}

/// makedumpfile's PGMM_CACHED: struct pages read per batch.
const PGMM_CACHED: u64 = 512;

/// pfns covered by a PT_LOAD's `[p_paddr, p_paddr + p_memsz)` (the 1st
/// bitmap).
pub(crate) fn ram_pfns(l: &Layout) -> BTreeSet<u64> {
    let mut set = BTreeSet::new();
    for r in &l.cfg.ranges {
        set.extend(r.start..r.end);
    }
    // the kernel text PT_LOAD lies inside the first range
    set.extend(l.kernel_pfn..l.kernel_pfn + crate::layout::KERNEL_PAGES);
    set
}

/// The 2nd bitmap makedumpfile computes for `level` (0..=31).
pub(crate) fn expected(l: &Layout, level: u8, elf: bool) -> BTreeSet<u64> {
    let mut out = BTreeSet::new();
    for_each_kept(l, level, elf, |pfn| {
        out.insert(pfn);
    });
    out
}

/// Calls `f` with each pfn of the 2nd bitmap for `level`, in increasing
/// order, in constant memory (for images too large for a set).
///
/// makedumpfile starts from the 1st bitmap (the pfns of the PT_LOADs:
/// every RAM pfn, the kernel text PT_LOAD lying inside the first range),
/// removes the no-data pfns and then, walking the sections in order, the
/// excluded ones. Every RAM pfn lies in a section, so walking the sections
/// alone visits each candidate; an exclusion can run past its section, so
/// its end is carried (`excluded_to`).
pub(crate) fn for_each_kept(l: &Layout, level: u8, elf: bool, mut f: impl FnMut(u64)) {
    assert!(level <= 31, "dump level {level} is not in 0..=31");
    let max_mapnr = l.max_pfn;
    let mut excluded_to = 0u64;
    let mut keep = |pfn: u64, excluded_to: u64| {
        if pfn >= excluded_to && (!elf || level & 1 == 0 || l.page_data(pfn).is_some_and(|p| p.iter().any(|&b| b != 0)))
        {
            f(pfn);
        }
    };
    let bit = |b: u32| 1u64 << b;
    for &s in &l.sections {
        let start = s << PFN_SECTION_SHIFT;
        let end = ((s + 1) << PFN_SECTION_SHIFT).min(max_mapnr);
        let mut pfn = start;
        while pfn < end {
            if !l.in_file(pfn) {
                pfn += 1;
                continue;
            }
            let page = l.struct_page(pfn);
            let flags = u64_at(&page, OFF_FLAGS);
            let mapping = u64_at(&page, OFF_MAPPING);
            let compound_head = u64_at(&page, OFF_COMPOUND_HEAD);
            let mapcount = i32_at(&page, OFF_MAPCOUNT);
            let private = u64_at(&page, OFF_PRIVATE);
            let scheme = l.cfg.scheme;
            let mut order = 0u32;
            let mut hugetlb = false;
            if pfn % PGMM_CACHED < PGMM_CACHED - 1 && flags & PG_HEAD_MASK != 0 {
                let next = l.struct_page(pfn + 1);
                let next_flags = u64_at(&next, OFF_FLAGS);
                match scheme {
                    Scheme::Linux6_1 | Scheme::Linux6_5 => {
                        order = u32::from(next[OFF_COMPOUND_ORDER]);
                        hugetlb = next[OFF_COMPOUND_DTOR] == HUGETLB_PAGE_DTOR;
                    }
                    Scheme::Linux6_8 => {
                        order = (next_flags & 0xff) as u32;
                        hugetlb = next_flags & bit(PG_HUGETLB_6_8) != 0;
                    }
                    Scheme::Linux6_12 | Scheme::Linux7_3 => {
                        order = (next_flags & 0xff) as u32;
                        hugetlb = mapcount == pgty(PGTY_HUGETLB);
                    }
                }
                if order >= 64 || pfn & ((1u64 << order) - 1) != 0 {
                    order = 0;
                }
            }
            let mut nr_pages = 1u64 << order;
            if compound_head & 1 != 0 {
                keep(pfn, excluded_to);
                pfn += 1;
                continue;
            }
            let slab = if scheme.typed() { mapcount == pgty(PGTY_SLAB) } else { flags & bit(PG_SLAB) != 0 };
            let anon = mapping & PAGE_MAPPING_ANON != 0 && !slab;
            let cache = flags & bit(PG_LRU) != 0 || (flags & bit(PG_SWAPBACKED) != 0 && flags & bit(PG_SWAPCACHE) != 0);
            let private_flag = flags & bit(PG_PRIVATE) != 0;
            // makedumpfile's counters: pfn_free, pfn_cache, pfn_cache_private,
            // pfn_user, pfn_hwpoison, pfn_offline
            let reason = if level & 16 != 0 && !slab && mapcount == scheme.buddy_type() {
                if private >= u64::from(MAX_ORDER) {
                    // "WARNING: Invalid free page order": page kept
                    keep(pfn, excluded_to);
                    pfn += 1;
                    continue;
                }
                nr_pages = 1 << private;
                Some("free")
            } else if level & 16 != 0 && scheme == Scheme::Linux7_3 && mapcount == pgty(PGTY_UNACCEPTED) {
                nr_pages = 1 << (MAX_ORDER - 1);
                Some("free (unaccepted)")
            } else if level & 2 != 0 && cache && !private_flag && !anon {
                Some("cache")
            } else if level & 4 != 0 && cache && !anon {
                Some("cache or cache_private")
            } else if level & 8 != 0 && (anon || hugetlb) {
                Some("user")
            } else if flags & bit(PG_HWPOISON) != 0 {
                Some("hwpoison")
            } else if !slab && mapcount == scheme.offline_type() {
                Some("offline")
            } else {
                None
            };
            if reason.is_some() {
                excluded_to = excluded_to.max((pfn + nr_pages).min(max_mapnr));
                pfn += nr_pages;
            } else {
                keep(pfn, excluded_to);
                pfn += 1;
            }
        }
    }
}
