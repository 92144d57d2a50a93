//! Page filtering by dump level: deciding, from each pfn's `struct page`,
//! whether it belongs in the dump. The rules follow makedumpfile's
//! (`__exclude_unnecessary_pages()`), which `crash` users expect and our
//! differential tests check against; every offset and flag bit comes from
//! VMCOREINFO so that the same code reads any kernel that exports them.

use crate::bitmap::Bitmap;
use crate::bytes::{i32_at, u64_at};
use crate::error::{Error, Result};
use crate::mem_map::SectionMap;
use crate::memory::PhysMem;
use crate::translate::Translator;
use crate::vmcoreinfo::VmcoreInfo;

/// makedumpfile's `-d` bits.
pub mod level {
    pub const ZERO: u8 = 1;
    pub const CACHE: u8 = 2;
    pub const CACHE_PRIVATE: u8 = 4;
    pub const USER: u8 = 8;
    pub const FREE: u8 = 16;
    /// The bits that need the struct page walk (all but ZERO).
    pub const NEEDS_PAGE_WALK: u8 = CACHE | CACHE_PRIVATE | USER | FREE;
}

/// `PAGE_MAPPING_ANON`: the low bit of page->mapping marks anonymous pages.
const PAGE_MAPPING_ANON: u64 = 1;
/// Struct pages read at once: one 4 KiB page of a 64-byte-struct mem_map.
const BATCH: u64 = 64;

/// Where the fields and flags of `struct page` are, from VMCOREINFO.
#[derive(Clone, Debug)]
pub struct PageLayout {
    pub size: u64,
    pub flags: u64,
    pub mapping: u64,
    pub mapcount: Option<u64>,
    pub private: Option<u64>,
    pub compound_head: Option<u64>,
    pub compound_order: Option<u64>,
    pub compound_dtor: Option<u64>,
    pub pg_lru: u32,
    pub pg_private: u32,
    pub pg_swapcache: u32,
    pub pg_swapbacked: Option<u32>,
    pub pg_slab: Option<u32>,
    pub pg_hwpoison: Option<u32>,
    pub head_mask: u64,
    pub buddy_mapcount: Option<i32>,
    pub offline_mapcount: Option<i32>,
    pub hugetlb_dtor: Option<u64>,
    /// MAX_ORDER (LENGTH(zone.free_area)): buddy orders at or above are invalid.
    pub free_area_len: Option<u64>,
}

fn bit(vi: &VmcoreInfo, name: &str) -> Result<Option<u32>> {
    match vi.opt_number(name)? {
        None => Ok(None),
        Some(v) if (0..64).contains(&v) => Ok(Some(v as u32)),
        Some(v) => Err(Error::BadValue {
            key: format!("NUMBER({name})"),
            value: v.to_string(),
            why: "not a bit number".into(),
        }),
    }
}

fn required_bit(vi: &VmcoreInfo, name: &str) -> Result<u32> {
    bit(vi, name)?.ok_or_else(|| Error::MissingKey(format!("NUMBER({name})")))
}

impl PageLayout {
    pub fn from_vmcoreinfo(vi: &VmcoreInfo) -> Result<PageLayout> {
        let size = vi.size("page")?;
        if !(16..=1024).contains(&size) {
            return Err(Error::BadValue {
                key: "SIZE(page)".into(),
                value: size.to_string(),
                why: "implausible".into(),
            });
        }
        let field = |name: &str| -> Result<Option<u64>> {
            match vi.opt_offset(name)? {
                Some(o) if o.checked_add(8).is_none_or(|end| end > size) => Err(Error::BadValue {
                    key: format!("OFFSET({name})"),
                    value: o.to_string(),
                    why: format!("outside SIZE(page)={size}"),
                }),
                o => Ok(o),
            }
        };
        let req = |name: &str| field(name)?.ok_or_else(|| Error::MissingKey(format!("OFFSET({name})")));
        let small = |v: Option<i64>| v.map(|v| v as i32);
        Ok(PageLayout {
            size,
            flags: req("page.flags")?,
            mapping: req("page.mapping")?,
            mapcount: field("page._mapcount")?,
            private: field("page.private")?,
            compound_head: field("page.compound_head")?,
            // An offset of 0 means "not exported" to makedumpfile too.
            compound_order: field("page.compound_order")?.filter(|&o| o != 0),
            compound_dtor: field("page.compound_dtor")?.filter(|&o| o != 0),
            pg_lru: required_bit(vi, "PG_lru")?,
            pg_private: required_bit(vi, "PG_private")?,
            pg_swapcache: required_bit(vi, "PG_swapcache")?,
            pg_swapbacked: bit(vi, "PG_swapbacked")?,
            pg_slab: bit(vi, "PG_slab")?,
            pg_hwpoison: bit(vi, "PG_hwpoison")?,
            head_mask: vi.opt_number("PG_head_mask")?.unwrap_or(0) as u64,
            buddy_mapcount: small(vi.opt_number("PAGE_BUDDY_MAPCOUNT_VALUE")?),
            offline_mapcount: small(vi.opt_number("PAGE_OFFLINE_MAPCOUNT_VALUE")?),
            hugetlb_dtor: vi.opt_number("HUGETLB_PAGE_DTOR")?.map(|v| v as u64),
            free_area_len: vi.opt_length("zone.free_area")?,
        })
    }
}

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
    mapcount: i32,
    private: u64,
    compound_head: u64,
    order: u32,
    dtor: u64,
}

impl PageLayout {
    fn test(flags: u64, bit: u32) -> bool {
        flags & (1u64 << bit) != 0
    }

    /// Decode the struct page at `cur`; `next` is the following struct page
    /// (a compound head's order and destructor live in its first tail).
    fn decode(&self, pfn: u64, cur: &[u8], next: Option<&[u8]>) -> PageInfo {
        let u64f = |b: &[u8], off: Option<u64>| off.and_then(|o| u64_at(b, o as usize)).unwrap_or(0);
        let flags = u64f(cur, Some(self.flags));
        let (mut order, mut dtor) = (0u32, 0u64);
        if let (Some(next), true) = (next, flags & self.head_mask != 0) {
            let byte = |off: Option<u64>| off.and_then(|o| next.get(o as usize)).copied().unwrap_or(0);
            order = byte(self.compound_order) as u32;
            dtor = byte(self.compound_dtor) as u64;
            if order >= 64 || pfn & ((1u64 << order) - 1) != 0 {
                order = 0;
            }
        }
        PageInfo {
            flags,
            mapping: u64f(cur, Some(self.mapping)),
            mapcount: self.mapcount.and_then(|o| i32_at(cur, o as usize)).unwrap_or(0),
            private: u64f(cur, self.private),
            compound_head: u64f(cur, self.compound_head),
            order,
            dtor,
        }
    }

    fn is_slab(&self, flags: u64) -> bool {
        self.pg_slab.is_some_and(|b| Self::test(flags, b))
    }

    fn is_cache(&self, flags: u64) -> bool {
        Self::test(flags, self.pg_lru)
            || (self.pg_swapbacked.is_none_or(|b| Self::test(flags, b)) && Self::test(flags, self.pg_swapcache))
    }

    /// The rule chain: the first matching rule decides. Returns the class
    /// and the number of pfns it covers, or `None` to keep the page.
    fn classify(&self, p: &PageInfo, level: u8, stats: &mut FilterStats) -> Option<(Excluded, u64)> {
        use level::*;
        let anon = p.mapping & PAGE_MAPPING_ANON != 0;
        let private = Self::test(p.flags, self.pg_private);
        let compound = 1u64 << p.order;
        if p.compound_head & 1 != 0 {
            // A tail page: its head decided for the whole compound page.
            None
        } else if level & FREE != 0
            && self.private.is_some()
            && !self.is_slab(p.flags)
            && self.buddy_mapcount.is_some_and(|v| p.mapcount == v)
        {
            if self.free_area_len.is_some_and(|n| p.private >= n) || p.private >= 64 {
                stats.bad_buddy_order += 1;
                return None;
            }
            Some((Excluded::Free, 1u64 << p.private))
        } else if level & CACHE != 0 && self.is_cache(p.flags) && !private && !anon {
            Some((Excluded::Cache, compound))
        } else if level & CACHE_PRIVATE != 0 && self.is_cache(p.flags) && !anon {
            Some((if private { Excluded::CachePrivate } else { Excluded::Cache }, compound))
        } else if level & USER != 0 && (anon || self.hugetlb_dtor.is_some_and(|d| d == p.dtor)) {
            Some((Excluded::User, compound))
        } else if self.pg_hwpoison.is_some_and(|b| Self::test(p.flags, b)) {
            Some((Excluded::HwPoison, compound))
        } else if !self.is_slab(p.flags) && self.offline_mapcount.is_some_and(|v| p.mapcount == v) {
            Some((Excluded::Offline, compound))
        } else {
            None
        }
    }
}

/// Applies the dump level to windows of pfns, in ascending order. A
/// multi-page exclusion that runs past a window's end is carried over.
pub struct Filter<'a> {
    mem: &'a PhysMem<'a>,
    tr: &'a Translator,
    layout: PageLayout,
    sections: Vec<SectionMap>,
    level: u8,
    /// Exclusion pending from the previous window: pfns below this are
    /// excluded and not evaluated.
    pending: Option<(u64, Excluded)>,
    pub stats: FilterStats,
    buf: Vec<u8>,
}

impl<'a> Filter<'a> {
    pub fn new(
        mem: &'a PhysMem<'a>,
        tr: &'a Translator,
        layout: PageLayout,
        sections: Vec<SectionMap>,
        level: u8,
    ) -> Self {
        Filter { mem, tr, layout, sections, level, pending: None, stats: FilterStats::default(), buf: Vec::new() }
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

    fn apply_section(&mut self, bm: &mut Bitmap, s: SectionMap, from: u64, to: u64) -> Result<()> {
        let size = self.layout.size;
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
            let vaddr = s.mem_map.wrapping_add((batch_start - s.start_pfn).wrapping_mul(size));
            let n = (batch_start + BATCH).min(s.end_pfn) - batch_start;
            self.buf.resize((n * size) as usize, 0);
            self.tr.read(self.mem, vaddr, &mut self.buf).map_err(|e| {
                Error::Inconsistent(format!("struct page of pfn {batch_start:#x} at {vaddr:#x} unreadable: {e}"))
            })?;
            while pfn < batch_end {
                if !bm.get(pfn) {
                    pfn += 1;
                    continue;
                }
                let i = ((pfn - batch_start) * size) as usize;
                let cur = &self.buf[i..i + size as usize];
                let next = self.buf.get(i + size as usize..i + 2 * size as usize);
                let info = self.layout.decode(pfn, cur, next);
                match self.layout.classify(&info, self.level, &mut self.stats) {
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
