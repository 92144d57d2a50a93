//! Page filtering by dump level: deciding, from each pfn's `struct page`,
//! whether it belongs in the dump. The rules follow makedumpfile's
//! (`__exclude_unnecessary_pages()`), which `crash` users expect and our
//! differential tests check against; every offset, flag bit and page type
//! comes from VMCOREINFO through [`PageScheme`], so the same code reads any
//! kernel from 5.10 to 7.x, and a rule the kernel gives no marks for keeps
//! its pages.

use crate::bitmap::Bitmap;
use crate::bytes::{i32_at, u64_at};
use crate::dump_level;
use crate::error::{Error, Result};
use crate::mem_map::SectionMap;
use crate::memory::PhysMem;
use crate::page_scheme::{HugetlbMark, OrderSource, PageScheme};
use crate::translate::Translator;

/// `PAGE_MAPPING_ANON`: the low bit of page->mapping marks anonymous pages.
const PAGE_MAPPING_ANON: u64 = 1;
/// Struct pages read at once: one 4 KiB page of a 64-byte-struct mem_map.
const BATCH: u64 = 64;
/// Bytes of struct pages read at once when they can be (`Filter::load`):
/// 4096 struct pages of 64 bytes. Bounds the filter's buffer.
const CHUNK_BYTES: u64 = 256 << 10;

/// Why a page was left out, for the summary operators see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Excluded {
    Cache,
    CachePrivate,
    User,
    Free,
    HwPoison,
    Offline,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilterStats {
    pub cache: u64,
    pub cache_private: u64,
    pub user: u64,
    pub free: u64,
    pub hwpoison: u64,
    pub offline: u64,
    /// Free-page heads with an order too large to be real, kept.
    pub bad_buddy_order: u64,
}

impl FilterStats {
    fn add(&mut self, why: Excluded, n: u64) {
        let c = match why {
            Excluded::Cache => &mut self.cache,
            Excluded::CachePrivate => &mut self.cache_private,
            Excluded::User => &mut self.user,
            Excluded::Free => &mut self.free,
            Excluded::HwPoison => &mut self.hwpoison,
            Excluded::Offline => &mut self.offline,
        };
        *c += n;
    }
}

/// The fields of one struct page that the rules look at.
struct PageInfo {
    flags: u64,
    mapping: u64,
    /// `_mapcount` / `page_type`; `None` when VMCOREINFO has no offset.
    mapcount: Option<i32>,
    private: u64,
    compound_head: u64,
    order: u32,
    hugetlb: bool,
}

fn test(flags: u64, bit: u32) -> bool {
    flags & (1u64 << bit) != 0
}

/// Decode the struct page at `cur`; `next` is the following struct page
/// (a compound head's order and hugetlb mark live in its first tail).
fn decode(s: &PageScheme, pfn: u64, cur: &[u8], next: Option<&[u8]>) -> PageInfo {
    let u64f = |b: &[u8], off: Option<u64>| off.and_then(|o| u64_at(b, o as usize)).unwrap_or(0);
    let flags = u64f(cur, Some(s.flags));
    let mapcount = s.mapcount.and_then(|o| i32_at(cur, o as usize));
    let (mut order, mut hugetlb) = (0u32, false);
    if let (Some(next), true) = (next, flags & s.head_mask != 0) {
        let byte = |off: u64| next.get(off as usize).copied().unwrap_or(0);
        let tail_flags = u64f(next, Some(s.flags));
        order = match s.order {
            OrderSource::TailFlagsLowByte => (tail_flags & 0xff) as u32,
            OrderSource::TailByte(o) => byte(o) as u32,
            OrderSource::Unknown => 0,
        };
        hugetlb = match s.hugetlb {
            HugetlbMark::HeadPageType(v) => mapcount == Some(v),
            HugetlbMark::TailFlag(b) => test(tail_flags, b),
            HugetlbMark::Dtor { offset, value } => byte(offset) == value,
            HugetlbMark::Unknown => false,
        };
        if order >= 64 || pfn & ((1u64 << order) - 1) != 0 {
            order = 0;
        }
    }
    PageInfo {
        flags,
        mapping: u64f(cur, Some(s.mapping)),
        mapcount,
        private: u64f(cur, s.private),
        compound_head: u64f(cur, Some(s.compound_head)),
        order,
        hugetlb,
    }
}

fn is_slab(s: &PageScheme, p: &PageInfo) -> bool {
    s.slab_flag.is_some_and(|b| test(p.flags, b)) || s.slab_type.is_some_and(|v| p.mapcount == Some(v))
}

fn is_cache(s: &PageScheme, flags: u64) -> bool {
    test(flags, s.pg_lru) || (s.pg_swapbacked.is_none_or(|b| test(flags, b)) && test(flags, s.pg_swapcache))
}

/// The rule chain, in makedumpfile's order: the first matching rule decides.
/// Returns the class and the number of pfns it covers, or `None` to keep
/// the page. A rule whose marks the kernel does not export never matches
/// (see [`PageScheme::limits`]).
fn classify(s: &PageScheme, p: &PageInfo, level: u8, stats: &mut FilterStats) -> Option<(Excluded, u64)> {
    use dump_level::*;
    if p.compound_head & 1 != 0 {
        // A tail page: its head decided for the whole compound page.
        return None;
    }
    let slab = is_slab(s, p);
    let anon = p.mapping & PAGE_MAPPING_ANON != 0 && !slab;
    let private = test(p.flags, s.pg_private);
    let compound = 1u64 << p.order;
    let typed = |v: Option<i32>| v.is_some() && p.mapcount == v;
    if level & FREE != 0 && s.knows_buddy() && !slab && typed(s.buddy_type) {
        if s.free_area_len.is_some_and(|n| p.private >= n) || p.private >= 64 {
            stats.bad_buddy_order += 1;
            return None;
        }
        Some((Excluded::Free, 1u64 << p.private))
    } else if level & FREE != 0 && s.knows_unaccepted() && typed(s.unaccepted_type) {
        // Only blocks of the largest order go on the unaccepted list.
        let largest = s.free_area_len.unwrap_or(1) - 1;
        Some((Excluded::Free, 1u64 << largest))
    } else if level & CACHE != 0 && is_cache(s, p.flags) && !private && !anon {
        Some((Excluded::Cache, compound))
    } else if level & CACHE_PRIVATE != 0 && is_cache(s, p.flags) && !anon {
        Some((if private { Excluded::CachePrivate } else { Excluded::Cache }, compound))
    } else if level & USER != 0 && ((anon && s.knows_slab()) || p.hugetlb) {
        Some((Excluded::User, compound))
    } else if s.pg_hwpoison.is_some_and(|b| test(p.flags, b)) {
        Some((Excluded::HwPoison, compound))
    } else if s.knows_slab() && !slab && typed(s.offline_type) {
        Some((Excluded::Offline, compound))
    } else {
        None
    }
}

/// Applies the dump level to windows of pfns, in ascending order. A
/// multi-page exclusion that runs past a window's end is carried over.
pub struct Filter<'a> {
    mem: &'a PhysMem<'a>,
    tr: &'a Translator,
    scheme: PageScheme,
    sections: Vec<SectionMap>,
    level: u8,
    /// Exclusion pending from the previous window: pfns below this are
    /// excluded and not evaluated.
    pending: Option<(u64, Excluded)>,
    pub stats: FilterStats,
    buf: Vec<u8>,
    /// What `buf` holds: the struct pages of pfns `[.1, .2)` of section `.0`.
    chunk: Option<(SectionMap, u64, u64)>,
}

impl<'a> Filter<'a> {
    pub fn new(
        mem: &'a PhysMem<'a>,
        tr: &'a Translator,
        scheme: PageScheme,
        sections: Vec<SectionMap>,
        level: u8,
    ) -> Self {
        Filter {
            mem,
            tr,
            scheme,
            sections,
            level,
            pending: None,
            stats: FilterStats::default(),
            buf: Vec::new(),
            chunk: None,
        }
    }

    /// Clear, in `bm` (which holds the window's present pfns on entry), the
    /// pfns the dump level excludes. Windows must be passed in order.
    pub fn apply(&mut self, bm: &mut Bitmap) -> Result<()> {
        let (start, end) = (bm.start(), bm.end());
        let mut skip_until = start;
        if let Some((until, why)) = self.pending.take() {
            let n = (start..until.min(end)).filter(|&p| bm.clear(p)).count() as u64;
            self.stats.add(why, n);
            if until > end {
                self.pending = Some((until, why));
                return Ok(());
            }
            skip_until = until;
        }
        let first = self.sections.partition_point(|s| s.end_pfn <= start);
        for si in first..self.sections.len() {
            let s = self.sections[si];
            if s.start_pfn >= end {
                break;
            }
            let (from, to) = (s.start_pfn.max(start).max(skip_until), s.end_pfn.min(end));
            self.apply_section(bm, s, from, to)?;
            skip_until = start;
        }
        Ok(())
    }

    /// Make `self.buf` hold the struct pages of pfns `[first, first + n)`
    /// of section `s` and return where they start in it. Reads
    /// [`CHUNK_BYTES`] at once when it can (one read per PTE table
    /// and per physically contiguous run instead of two per batch), else
    /// the batch alone, as before.
    fn load(&mut self, s: SectionMap, first: u64, n: u64) -> Result<usize> {
        let size = self.scheme.size;
        if let Some((cs, c0, c1)) = self.chunk {
            if cs == s && c0 <= first && first + n <= c1 {
                return Ok(((first - c0) * size) as usize);
            }
        }
        self.chunk = None;
        let vaddr = s.mem_map.wrapping_add((first - s.start_pfn).wrapping_mul(size));
        let end = (first + (CHUNK_BYTES / size.max(1)).max(n)).min(s.end_pfn);
        if end > first + n {
            self.buf.resize(((end - first) * size) as usize, 0);
            if self.tr.read_bulk(self.mem, vaddr, &mut self.buf).is_ok() {
                self.chunk = Some((s, first, end));
                return Ok(0);
            }
        }
        self.buf.resize((n * size) as usize, 0);
        self.tr
            .read(self.mem, vaddr, &mut self.buf)
            .map_err(|e| Error::Inconsistent(format!("struct page of pfn {first:#x} at {vaddr:#x} unreadable: {e}")))?;
        Ok(0)
    }

    fn apply_section(&mut self, bm: &mut Bitmap, s: SectionMap, from: u64, to: u64) -> Result<()> {
        let size = self.scheme.size;
        let mut pfn = from;
        while pfn < to {
            // Read the batch of struct pages holding `pfn`, unless none of
            // its pfns is present in the dump.
            // (Batches never start before the section: with small sections
            // a 64-pfn boundary can lie outside it.)
            let batch_start = (pfn - pfn % BATCH).max(s.start_pfn);
            let batch_end = (batch_start + BATCH).min(to);
            if !(pfn..batch_end).any(|p| bm.get(p)) {
                pfn = batch_end;
                continue;
            }
            let n = (batch_start + BATCH).min(s.end_pfn) - batch_start;
            let at = self.load(s, batch_start, n)?;
            // the batch's struct pages: `next` stays inside the batch
            let batch = &self.buf[at..at + (n * size) as usize];
            while pfn < batch_end {
                if !bm.get(pfn) {
                    pfn += 1;
                    continue;
                }
                let i = ((pfn - batch_start) * size) as usize;
                let cur = &batch[i..i + size as usize];
                let next = batch.get(i + size as usize..i + 2 * size as usize);
                let info = decode(&self.scheme, pfn, cur, next);
                match classify(&self.scheme, &info, self.level, &mut self.stats) {
                    None => pfn += 1,
                    Some((why, n)) => {
                        let stop = pfn.saturating_add(n);
                        let cleared = (pfn..stop.min(bm.end())).filter(|&p| bm.clear(p)).count() as u64;
                        self.stats.add(why, cleared);
                        if stop > bm.end() {
                            self.pending = Some((stop, why));
                        }
                        if stop >= to {
                            return Ok(());
                        }
                        pfn = stop;
                    }
                }
            }
        }
        Ok(())
    }
}
