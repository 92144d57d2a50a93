//! Synthetic x86_64 vmcores for kexdump's tests: small ELF64 little-endian
//! core files shaped like Linux 6.1's `/proc/vmcore`, plus the page sets
//! makedumpfile 1.7.2 would keep from them at each dump level.
//!
//! This crate is the independent oracle of the dump engine: it depends on
//! nothing but std and shares no code with `capture/`.
//!
//! ```
//! use kexdump_testgen::{PageKind, SynthVmcore};
//!
//! let v = SynthVmcore::new()
//!     .ram(&[(0x100, 0x400), (0x8000, 0x8100)])
//!     .page(0x200, PageKind::Cache)
//!     .page(0x208, PageKind::Buddy { order: 3 });
//! let elf = v.build();
//! assert_eq!(&elf[..4], b"\x7fELF");
//! assert!(!v.expected_pfns(31).contains(&0x200));
//! assert!(v.expected_pfns(0).contains(&0x20f));
//! assert_eq!(v.page_content(0x200).len(), 4096);
//! ```
//!
//! # What the image holds
//!
//! * ELF: `ET_CORE`, `EM_X86_64`, `e_phoff = 64`; program headers: one
//!   `PT_NOTE` (at the first page boundary after the headers), one `PT_LOAD`
//!   for the kernel image (`p_vaddr = _stext = 0xffffffff81000000 +
//!   KERNELOFFSET`, `p_paddr` its physical address, 16 pages), one `PT_LOAD`
//!   per RAM range (`p_vaddr = page_offset_base + p_paddr`), data at
//!   page-aligned offsets. Notes: `NT_PRSTATUS` ("CORE", 336 bytes) for CPU 0
//!   (pid 1234, panicking) and CPU 1 (pid 0, idle), then "VMCOREINFO" (type 0).
//! * A kallsyms table and CPU 0's kernel stack of a sysrq crash, with call
//!   sites in the text ([`crash_stack`], [`kallsyms`]).
//! * VMCOREINFO in Linux 6.1 order and formats (SYMBOL hex without `0x`,
//!   others decimal; `NUMBER(phys_base)` may be negative). Change it with
//!   [`SynthVmcore::vmcoreinfo_edit`].
//! * `SYMBOL(mem_section)` is, as in every kernel since 4.15, the
//!   direct-map address of the root array (the *value* of the `mem_section`
//!   pointer). [`SynthVmcore::mem_section_indirect`] makes it the address of
//!   the pointer variable in kernel data instead (makedumpfile accepts both).
//! * Page tables rooted at `init_top_pgt` (4-level, or 5-level with
//!   [`SynthVmcore::five_level`]) map the kernel image (4K pages), the
//!   direct map (2M PSE pages for fully-RAM 2 MiB chunks, 4K pages
//!   elsewhere, or 1G pages with [`SynthVmcore::direct_map_1g`]) and the
//!   vmemmap (4K pages; struct pages of 64-pfn groups without RAM all map
//!   one shared page; [`SynthVmcore::vmemmap_2m`] maps the first section's
//!   mem_map with one 2M page).
//! * A struct page for every pfn of every section holding RAM, and a printk
//!   ring buffer with the kernel log ([`SynthVmcore::dmesg`]).
//!
//! # Which pfns are free
//!
//! The generator's metadata occupies the start of the first RAM range,
//! `[R, R + n)` (n = 0x34 with the defaults, 0x44 for the sample), and,
//! top-down at the end of that range, the 5-level mem_section root array
//! (512 pfns) and the `vmemmap_2m` block (the last 2 MiB-aligned 512 pfns).
//! [`SynthVmcore::reserved_pfns`] returns them and
//! [`SynthVmcore::free_pfns`] lists the pfns tests may give kinds to.
//! With the default RAM `[(0x100, 0x400), (0x8000, 0x8100)]`, 4-level
//! paging and no `vmemmap_2m`, pfns `0x180..0x400` and `0x8000..0x8100`
//! are free; the second range is free in every variant, and
//! [`SynthVmcore::sample`]'s pfns `0x240..0x400` too (see [`SAMPLE_RAM`]).
//! Setting a kind on a reserved pfn, a hole, or inside another block panics.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod crash_stack;
mod elf;
pub mod interesting;
pub mod kallsyms;
pub mod kernel;
pub use kernel::Scheme;
pub mod kmod;
pub mod large;
mod layout;
mod model;
mod printk;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use layout::{Config, Layout, RamRange};

/// `OSRELEASE` / `utsname.release` of the synthetic kernel.
pub const OSRELEASE: &str = "6.1.0-56-amd64";
/// Default RAM ranges (pfn start, pfn end exclusive): two sections with a
/// hole between them; about 4 MiB.
pub const DEFAULT_RAM: [(u64, u64); 2] = [(0x100, 0x400), (0x8000, 0x8100)];
/// RAM of [`SynthVmcore::sample`]: room in the first range for the
/// five-level root array (0x400..0x600) and the `vmemmap_2m` block
/// (0x600..0x800) above the sample's pages; 8 MiB.
pub const SAMPLE_RAM: [(u64, u64); 2] = [(0x100, 0x800), (0x8000, 0x8100)];
/// Default `KERNELOFFSET` (2 MiB aligned, KASLR-like).
pub const DEFAULT_KERNEL_OFFSET: u64 = 0x2b60_0000;
/// Default `page_offset_base` with 4-level paging (1 GiB aligned, KASLR-like).
pub const DEFAULT_PAGE_OFFSET_L4: u64 = 0xffff_9a5c_0000_0000;
/// Default `vmemmap_base` with 4-level paging.
pub const DEFAULT_VMEMMAP_L4: u64 = 0xffff_d1e2_c000_0000;
/// Default `page_offset_base` with 5-level paging.
pub const DEFAULT_PAGE_OFFSET_L5: u64 = 0xff3a_7c5e_4000_0000;
/// Default `vmemmap_base` with 5-level paging.
pub const DEFAULT_VMEMMAP_L5: u64 = 0xffd6_a3b2_c000_0000;
/// `CRASHTIME` of every synthetic dump.
pub const CRASHTIME: u64 = elf::CRASHTIME;

/// What the struct page of a pfn says (and so what makedumpfile does with it).
///
/// Every kind but `Zero` has non-zero, deterministic content
/// ([`SynthVmcore::page_content`]). Every struct page also carries the
/// upper `page.flags` fields of a real kernel (zone, node 0, `last_cpupid`
/// all ones at bits 30..50), so readers must test single bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageKind {
    /// Plain kernel page: no flag bits, `_mapcount = -1`; kept at every level.
    Kernel,
    /// Like `Kernel`, content all zero (dropped by level bit 1 in ELF output).
    Zero,
    /// Page cache: `PG_lru`, file mapping (even pointer), not private.
    /// Excluded by level bits 2 and 4.
    Cache,
    /// Page cache with `PG_private` (buffer heads): excluded by level bit 4.
    CachePrivate,
    /// Swap cache: `PG_swapbacked | PG_swapcache`, no `PG_lru`, mapping NULL.
    /// Counts as cache: excluded by level bits 2 and 4.
    SwapCache,
    /// Swap cache of an anonymous page (mapping = anon_vma | 1): cache but
    /// anonymous, so excluded by level bit 8 only.
    SwapCacheAnon,
    /// Anonymous page: `PG_lru | PG_swapbacked`, mapping = anon_vma | 1
    /// (`PAGE_MAPPING_ANON`). Excluded by level bit 8.
    Anon,
    /// Head of a hugetlbfs page of `2^order` pfns (order 1..=10, pfn aligned):
    /// `PG_head`; `page[1]` has `compound_dtor = HUGETLB_PAGE_DTOR` and
    /// `compound_order`; tails have `compound_head = head | 1`. Level bit 8
    /// excludes all `2^order` pfns.
    HugetlbHead {
        /// log2 of the number of pfns.
        order: u8,
    },
    /// Anonymous transparent huge page (`PG_head | PG_lru`, anon mapping,
    /// `TRANSHUGE_PAGE_DTOR`): level bit 8 excludes all `2^order` pfns.
    AnonThp {
        /// log2 of the number of pfns (1..=10).
        order: u8,
    },
    /// Large page-cache folio (`PG_head | PG_lru`, file mapping,
    /// `COMPOUND_PAGE_DTOR`): level bits 2 and 4 exclude all `2^order` pfns.
    FileThp {
        /// log2 of the number of pfns (1..=10).
        order: u8,
    },
    /// Free buddy block of `2^order` pfns (order 0..=10, pfn aligned): the
    /// head has `_mapcount = PAGE_BUDDY_MAPCOUNT_VALUE (-129)` and
    /// `private = order`. Level bit 16 excludes the whole block.
    Buddy {
        /// log2 of the number of pfns.
        order: u8,
    },
    /// `PG_hwpoison`: excluded at every level.
    HwPoison,
    /// `_mapcount = PAGE_OFFLINE_MAPCOUNT_VALUE (-257)`: excluded at every level.
    Offline,
    /// A slab page, kept at every level. Up to 6.9: `PG_slab` with
    /// `_mapcount` (slab's `__unused`) = -129, which must not be taken for a
    /// buddy page. From 6.12 ([`Scheme::Linux6_12`]): `page_type` =
    /// `PGTY_slab << 24` and an odd word at the `mapping` offset (SLUB's
    /// counters), which must not be taken for an anonymous page.
    Slab,
    /// Unaccepted memory ([`Scheme::Linux7_3`] only): a block of
    /// `2^(MAX_ORDER - 1)` = 1024 pfns (aligned) whose head has `page_type`
    /// = `PGTY_unaccepted << 24`. Level bit 16 excludes the whole block.
    Unaccepted,
    /// A struct page with these exact fields (no zone bits added),
    /// `_refcount = 1`, `compound_head = 0`: for odd cases.
    Raw {
        /// `page.flags`.
        flags: u64,
        /// `page.mapping`.
        mapping: u64,
        /// `page.private`.
        private: u64,
        /// `page._mapcount`.
        mapcount: i32,
    },
}

type Edit = Arc<dyn Fn(&mut Vec<(String, String)>) + Send + Sync>;

/// Builder of a synthetic vmcore. Cheap to clone; the memory image is
/// computed once, on first use, and cached.
#[derive(Clone)]
pub struct SynthVmcore {
    ranges: Vec<(u64, u64)>,
    filesz: BTreeMap<usize, u64>,
    kinds: BTreeMap<u64, PageKind>,
    zero: BTreeSet<u64>,
    five_level: bool,
    vmemmap_2m: bool,
    direct_map_1g: bool,
    mem_section_indirect: bool,
    kernel_offset: u64,
    page_offset_base: Option<u64>,
    vmemmap_base: Option<u64>,
    dmesg: Vec<String>,
    scheme: Scheme,
    fill: Option<layout::Fill>,
    edits: Vec<Edit>,
    cache: OnceLock<Arc<Layout>>,
}

impl fmt::Debug for SynthVmcore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SynthVmcore")
            .field("ranges", &self.ranges)
            .field("filesz", &self.filesz)
            .field("kinds", &self.kinds)
            .field("five_level", &self.five_level)
            .field("vmemmap_2m", &self.vmemmap_2m)
            .field("direct_map_1g", &self.direct_map_1g)
            .field("mem_section_indirect", &self.mem_section_indirect)
            .field("kernel_offset", &self.kernel_offset)
            .field("edits", &self.edits.len())
            .finish_non_exhaustive()
    }
}

impl Default for SynthVmcore {
    fn default() -> Self {
        Self::new()
    }
}

impl SynthVmcore {
    /// Defaults: RAM [`DEFAULT_RAM`], 4-level paging, KASLR-looking fixed
    /// offsets ([`DEFAULT_KERNEL_OFFSET`], [`DEFAULT_PAGE_OFFSET_L4`],
    /// [`DEFAULT_VMEMMAP_L4`]), every pfn [`PageKind::Kernel`].
    pub fn new() -> Self {
        SynthVmcore {
            ranges: DEFAULT_RAM.to_vec(),
            filesz: BTreeMap::new(),
            kinds: BTreeMap::new(),
            zero: BTreeSet::new(),
            five_level: false,
            vmemmap_2m: false,
            direct_map_1g: false,
            mem_section_indirect: false,
            kernel_offset: DEFAULT_KERNEL_OFFSET,
            page_offset_base: None,
            vmemmap_base: None,
            dmesg: printk::default_log(),
            scheme: Scheme::default(),
            fill: None,
            edits: Vec::new(),
            cache: OnceLock::new(),
        }
    }

    /// A dump with every page kind, in both sections of [`SAMPLE_RAM`]
    /// (user kinds at pfns 0x240..0x400 and 0x8000..0x8100, free in every
    /// paging/vmemmap variant): the sample fed to real makedumpfile.
    pub fn sample() -> Self {
        use PageKind::*;
        let mut v = Self::new().ram(&SAMPLE_RAM);
        let singles = [
            Zero,
            Zero,
            Cache,
            Cache,
            CachePrivate,
            CachePrivate,
            SwapCache,
            SwapCacheAnon,
            Anon,
            Anon,
            HwPoison,
            Offline,
            Slab,
            Slab,
            Zero,
            Cache,
        ];
        for (i, kind) in singles.into_iter().enumerate() {
            v = v.page(0x240 + i as u64, kind);
        }
        let kinds = [
            (0x250, Buddy { order: 0 }),
            (0x254, Buddy { order: 2 }),
            (0x260, Buddy { order: 5 }),
            (0x280, HugetlbHead { order: 4 }),
            (0x290, AnonThp { order: 3 }),
            (0x298, FileThp { order: 2 }),
            (
                0x2a0,
                Raw {
                    flags: 1 << kernel::PG_LRU | 1 << kernel::PG_HWPOISON,
                    mapping: 0xffff_9a5c_0123_4560,
                    private: 0,
                    mapcount: -1,
                },
            ),
            (
                0x2a1,
                Raw {
                    flags: 0,
                    mapping: 0,
                    private: 11, // beyond MAX_ORDER: makedumpfile warns, keeps it
                    mapcount: kernel::PAGE_BUDDY_MAPCOUNT_VALUE,
                },
            ),
            (0x2a8, Anon),
            (0x300, HugetlbHead { order: 8 }),
            (0x8010, Buddy { order: 4 }),
            (0x8040, Anon),
            (0x8041, Cache),
            (0x8042, SwapCache),
            (0x8080, HugetlbHead { order: 1 }),
            (0x80f0, Zero),
        ];
        for (pfn, kind) in kinds {
            v = v.page(pfn, kind);
        }
        for pfn in 0x2b0..0x2c0 {
            v = v.page(pfn, Zero);
        }
        // an anonymous page whose content is zero
        v.zero_content(0x2a8)
    }

    /// Populate the pfns given no kind lazily (see [`large`]).
    pub(crate) fn fill(mut self, fill: layout::Fill) -> Self {
        self.fill = Some(fill);
        self.changed()
    }

    fn changed(mut self) -> Self {
        self.cache = OnceLock::new();
        self
    }

    /// RAM ranges as `(start pfn, end pfn exclusive)`; holes in between.
    /// The first range holds the kernel image and the generator's metadata.
    pub fn ram(mut self, ranges: &[(u64, u64)]) -> Self {
        self.ranges = ranges.to_vec();
        self.changed()
    }

    /// Give `pfn` a kind (default [`PageKind::Kernel`]). Blocks (buddy,
    /// hugetlb, THP) cover `2^order` pfns starting at `pfn`.
    pub fn page(mut self, pfn: u64, kind: PageKind) -> Self {
        self.kinds.insert(pfn, kind);
        self.changed()
    }

    /// Make the content of `pfn` all zero whatever its kind.
    pub fn zero_content(mut self, pfn: u64) -> Self {
        self.zero.insert(pfn);
        self.changed()
    }

    /// Write struct pages and VMCOREINFO in the page-type scheme of another
    /// kernel generation (default [`Scheme::Linux6_1`]).
    pub fn scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self.changed()
    }

    /// The page-type scheme in use.
    pub fn page_scheme(&self) -> Scheme {
        self.scheme
    }

    /// 5-level paging (`NUMBER(pgtable_l5_enabled)=1`, `MAX_PHYSMEM_BITS=52`,
    /// 57-bit virtual addresses).
    pub fn five_level(mut self, on: bool) -> Self {
        self.five_level = on;
        self.changed()
    }

    /// Map the mem_map of the first section with one 2 MiB page (the
    /// struct pages then live in the last 512 pfns of the first RAM range,
    /// which must hold a 2 MiB-aligned block above the other metadata).
    pub fn vmemmap_2m(mut self, on: bool) -> Self {
        self.vmemmap_2m = on;
        self.changed()
    }

    /// Map the direct map with 1 GiB pages (PUD entries with PSE) instead
    /// of 2 MiB/4 KiB pages.
    pub fn direct_map_1g(mut self, on: bool) -> Self {
        self.direct_map_1g = on;
        self.changed()
    }

    /// Make `SYMBOL(mem_section)` the address of the kernel's `mem_section`
    /// pointer variable (in the kernel image) instead of the root array.
    pub fn mem_section_indirect(mut self, on: bool) -> Self {
        self.mem_section_indirect = on;
        self.changed()
    }

    /// `KERNELOFFSET` (KASLR virtual offset of the kernel; keep it 2 MiB
    /// aligned and below 1 GiB). `phys_base` follows from it.
    pub fn kernel_offset(mut self, offset: u64) -> Self {
        self.kernel_offset = offset;
        self.changed()
    }

    /// Override `page_offset_base` (direct map base).
    pub fn page_offset_base(mut self, va: u64) -> Self {
        self.page_offset_base = Some(va);
        self.changed()
    }

    /// Override `vmemmap_base`.
    pub fn vmemmap_base(mut self, va: u64) -> Self {
        self.vmemmap_base = Some(va);
        self.changed()
    }

    /// Store only the first `pages` pages of RAM range `index` in the file
    /// (`p_filesz < p_memsz`): the rest reads as zeros, is in the 1st bitmap
    /// and never in the 2nd (makedumpfile's `exclude_nodata_pages`). The
    /// metadata must stay in the file part.
    pub fn filesz_pages(mut self, index: usize, pages: u64) -> Self {
        self.filesz.insert(index, pages);
        self.changed()
    }

    /// Replace the kernel log (at most 15 lines, 4 KiB in all).
    pub fn dmesg(mut self, lines: &[&str]) -> Self {
        self.dmesg = lines.iter().map(|s| s.to_string()).collect();
        self.changed()
    }

    /// Edit the VMCOREINFO `(key, value)` list before it is written (remove
    /// or corrupt keys). Edits apply in order; expected sets ignore them.
    pub fn vmcoreinfo_edit(mut self, f: impl Fn(&mut Vec<(String, String)>) + Send + Sync + 'static) -> Self {
        self.edits.push(Arc::new(f));
        self.changed()
    }

    fn layout(&self) -> &Layout {
        self.cache.get_or_init(|| {
            let mut ranges: Vec<(u64, u64)> = self.ranges.clone();
            assert!(!ranges.is_empty(), "kexdump-testgen: no RAM");
            let first = ranges[0];
            ranges.sort();
            for w in ranges.windows(2) {
                assert!(w[0].1 <= w[1].0, "overlapping RAM ranges {w:x?}");
            }
            assert_eq!(ranges[0], first, "the first RAM range must be the lowest (it holds the kernel)");
            let ranges: Vec<RamRange> = ranges
                .iter()
                .enumerate()
                .map(|(i, &(start, end))| {
                    assert!(start < end, "empty RAM range {start:#x}..{end:#x}");
                    let file_end = match self.filesz.get(&i) {
                        Some(&p) => {
                            assert!(p <= end - start, "filesz beyond memsz");
                            start + p
                        }
                        None => end,
                    };
                    RamRange { start, end, file_end }
                })
                .collect();
            let cfg = Config {
                ranges,
                kinds: self.kinds.clone(),
                zero: self.zero.clone(),
                five_level: self.five_level,
                vmemmap_2m: self.vmemmap_2m,
                direct_map_1g: self.direct_map_1g,
                kernel_offset: self.kernel_offset,
                page_offset_base: self.page_offset_base.unwrap_or(if self.five_level {
                    DEFAULT_PAGE_OFFSET_L5
                } else {
                    DEFAULT_PAGE_OFFSET_L4
                }),
                vmemmap_base: self.vmemmap_base.unwrap_or(if self.five_level {
                    DEFAULT_VMEMMAP_L5
                } else {
                    DEFAULT_VMEMMAP_L4
                }),
                dmesg: self.dmesg.clone(),
                scheme: self.scheme,
                fill: self.fill,
            };
            let l = Layout::compute(cfg);
            for r in &l.reserved {
                for pfn in r.clone() {
                    assert!(l.in_file(pfn), "metadata pfn {pfn:#x} lies beyond p_filesz of the first range");
                }
            }
            Arc::new(l)
        })
    }

    /// The VMCOREINFO `(key, value)` list, edits applied.
    pub fn vmcoreinfo_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = elf::vmcoreinfo_pairs(self.layout(), self.mem_section_indirect);
        for e in &self.edits {
            e(&mut pairs);
        }
        pairs
    }

    /// The VMCOREINFO note's text (`KEY=VALUE\n` lines), edits applied.
    pub fn vmcoreinfo(&self) -> String {
        elf::vmcoreinfo_text(&self.vmcoreinfo_pairs())
    }

    /// The whole ELF file.
    pub fn build(&self) -> Vec<u8> {
        elf::build(self.layout(), &self.vmcoreinfo())
    }

    /// Where [`Self::build`] puts things: the file's first bytes (headers
    /// and notes) and the file offset of each RAM page.
    pub(crate) fn file_plan(&self) -> elf::Plan {
        elf::plan(self.layout(), &self.vmcoreinfo())
    }

    pub(crate) fn layout_ref(&self) -> &Layout {
        self.layout()
    }

    /// The PT_NOTE segment's bytes (as in the file).
    pub fn notes(&self) -> Vec<u8> {
        elf::notes(self.layout(), &self.vmcoreinfo())
    }

    /// pfns makedumpfile keeps in the 2nd bitmap of a kdump-compressed dump
    /// at `level` (0..=31). Zero pages stay (they point at the shared zero
    /// page record when `level & 1`).
    pub fn expected_pfns(&self, level: u8) -> BTreeSet<u64> {
        model::expected(self.layout(), level, false)
    }

    /// pfns makedumpfile keeps in an ELF dump (`-E`) at `level`: like
    /// [`Self::expected_pfns`], minus zero pages when `level & 1`.
    ///
    /// This is makedumpfile's 2nd bitmap. Its ELF writer also stores runs
    /// of fewer than 256 excluded pfns that lie between kept pfns of the
    /// same input PT_LOAD (with their original bytes), so its PT_LOADs cover
    /// a superset (`mdf_elf_file_pfns` in `tests/makedumpfile.rs`).
    pub fn expected_pfns_elf(&self, level: u8) -> BTreeSet<u64> {
        model::expected(self.layout(), level, true)
    }

    /// The 1st bitmap: pfns covered by some PT_LOAD's `p_memsz`.
    pub fn ram_pfns(&self) -> BTreeSet<u64> {
        model::ram_pfns(self.layout())
    }

    /// `max_mapnr`: one past the highest pfn covered by a PT_LOAD.
    pub fn max_mapnr(&self) -> u64 {
        self.layout().max_pfn
    }

    /// The 4096 bytes of RAM page `pfn` as a reader of the dump sees them
    /// (zeros beyond `p_filesz`). Panics if `pfn` is not RAM.
    pub fn page_content(&self, pfn: u64) -> Vec<u8> {
        self.layout().page_content(pfn)
    }

    /// The 64-byte struct page of `pfn` (holes get the reserved struct page
    /// the vmemmap maps for them).
    pub fn struct_page(&self, pfn: u64) -> [u8; 64] {
        self.layout().struct_page(pfn)
    }

    /// pfn ranges that hold the generator's metadata (kernel image, page
    /// tables, mem_section, struct pages): always kept, kinds not allowed.
    pub fn reserved_pfns(&self) -> Vec<Range<u64>> {
        self.layout().reserved.clone()
    }

    /// RAM pfns that are neither reserved nor given a kind (nor inside a
    /// block): free for tests to use.
    pub fn free_pfns(&self) -> Vec<u64> {
        let l = self.layout();
        l.cfg
            .ranges
            .iter()
            .flat_map(|r| r.start..r.end)
            .filter(|&p| !l.is_reserved(p) && !l.slots.contains_key(&p))
            .collect()
    }

    /// `page_offset_base`: the direct map's base.
    pub fn page_offset(&self) -> u64 {
        self.layout().cfg.page_offset_base
    }

    /// `vmemmap_base`: struct page of pfn N at `vmemmap + 64 * N`.
    pub fn vmemmap(&self) -> u64 {
        self.layout().cfg.vmemmap_base
    }

    /// `phys_base` (kernel virtual `v` is at physical
    /// `v - 0xffffffff80000000 + phys_base`, wrapping).
    pub fn phys_base(&self) -> u64 {
        self.layout().phys_base
    }

    /// `_stext` (= `_text`) virtual address.
    pub fn stext(&self) -> u64 {
        self.layout().text_vaddr
    }

    /// Physical address of `_stext`.
    pub fn kernel_phys(&self) -> u64 {
        self.layout().kernel_pfn << kernel::PAGE_SHIFT
    }

    /// The kernel image's pfns (the text `PT_LOAD` at `__START_KERNEL_map`).
    pub fn kernel_pfns(&self) -> Range<u64> {
        let k = self.layout().kernel_pfn;
        k..k + layout::KERNEL_PAGES
    }

    /// Physical address of `init_top_pgt` (the page-table root, CR3).
    pub fn init_top_pgt_phys(&self) -> u64 {
        let l = self.layout();
        l.sym.init_top_pgt.wrapping_sub(kernel::START_KERNEL_MAP).wrapping_add(l.phys_base)
    }

    /// The kernel log lines in the printk ring buffer.
    pub fn dmesg_lines(&self) -> Vec<String> {
        self.layout().cfg.dmesg.clone()
    }

    /// The kallsyms table in the image: (address, nm type, name) of every
    /// symbol (see [`crash_stack`]).
    pub fn kallsyms(&self) -> Vec<kallsyms::Sym> {
        crash_stack::symbols(self.layout())
    }

    /// `(pr_pid, rip, rsp)` of CPU 0 and CPU 1 as the NT_PRSTATUS notes
    /// hold them.
    pub fn cpu_regs(&self) -> [(i32, u64, u64); 2] {
        elf::cpu_regs(self.layout())
    }
}

#[cfg(test)]
mod tests;
