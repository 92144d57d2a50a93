//! The physical memory image of a synthetic vmcore: where the generator puts
//! the kernel image, the page tables, the `mem_section` arrays and the
//! `struct page` array, and what every byte of RAM contains.
//!
//! Layout of the reserved ("metadata") pages, all inside the first RAM range
//! `[R, E)`:
//!
//! ```text
//! R + 0  .. R + 16   kernel image [_text, _end): PT_LOAD #1, mapped at
//!                    _text = 0xffffffff81000000 + KERNELOFFSET with 4K PTEs
//!     +0..+3   text (call sites of crash_stack)  +4 rodata (kallsyms_*)
//!     +5       data: phys_base, page_offset_base, vmemmap_base, mem_section
//!              (the pointer variable), vmap_area_list, node_online_map,
//!              init_uts_ns, printk ring buffer descriptors
//!     +6,+7    node_data[1024]
//!     +8       init_top_pgt (PGD)      +9  level4_kernel_pgt (P4D, 5-level)
//!     +10      level3_kernel_pgt (PUD) +11 level2_kernel_pgt (PMD)
//!     +12      level1 PTE page of the kernel image
//!     +13      more data (printk text ring) +14,+15 bss: CPU 0's kernel
//!              stack at +14 (crate::crash_stack), else zeros
//! R + 16 ..          bump-allocated ("memblock"), in this order:
//!     mem_section root array (LENGTH(mem_section) pointers: 8 pages with
//!     4-level paging), one section array page per root in use, the
//!     mem_section_usage page, a pglist_data stand-in, the shared
//!     struct-page page for holes, one struct-page page per 64 pfns that hold
//!     RAM, then page tables of the direct map and of the vmemmap.
//! top of [R, E)      top-down: with `vmemmap_2m`, the 2 MiB block (512 pfns,
//!                    2 MiB aligned) holding the whole mem_map of the first
//!                    section, mapped by one PMD with PSE; below it, with
//!                    5-level paging, the 2 MiB root array (262144 pointers).
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use crate::kernel::*;
use crate::PageKind;

/// Allocations larger than this come from the top of the first range.
const TOP_DOWN_PAGES: u64 = 64;

/// Pages of the fake kernel image.
pub(crate) const KERNEL_PAGES: u64 = 16;
const K_TEXT_PAGES: u64 = 4;
const K_RODATA: u64 = 4;
const K_DATA: u64 = 5;
const K_NODE_DATA: u64 = 6;
const K_PGD: u64 = 8;
const K_P4D: u64 = 9;
const K_PUD: u64 = 10;
const K_PTE: u64 = 12;
const K_DATA2: u64 = 13;

// Offsets inside the data page (K_DATA).
const D_PHYS_BASE: u64 = 0x000;
const D_PAGE_OFFSET_BASE: u64 = 0x008;
const D_VMEMMAP_BASE: u64 = 0x010;
const D_VMALLOC_BASE: u64 = 0x018;
const D_MEM_SECTION: u64 = 0x040;
const D_VMAP_AREA_LIST: u64 = 0x080;
const D_NODE_ONLINE_MAP: u64 = 0x0c0;
const D_INIT_UTS_NS: u64 = 0x1a0;
pub(crate) const D_PRB_PTR: u64 = 0x400;
pub(crate) const D_PRINTK_RB_STATIC: u64 = 0x420;
pub(crate) const D_CLEAR_SEQ: u64 = 0x480;
/// printk descriptors / infos live in the second half of the data page.
pub(crate) const D_PRB_DESCS: u64 = 0x600;
pub(crate) const D_PRB_INFOS: u64 = 0x800;
/// Log2 of the number of printk descriptors (16 records).
pub(crate) const PRB_DESC_BITS: u32 = 4;

/// A RAM range in pfns; pfns in `[file_end, end)` are not in the file
/// (`p_filesz < p_memsz`) and read as zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RamRange {
    pub start: u64,
    pub end: u64,
    pub file_end: u64,
}

/// What occupies a user pfn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Head(PageKind),
    /// Page `index` (>= 1) of the block whose head is `head`.
    Tail {
        head: u64,
        index: u64,
        kind: PageKind,
    },
}

/// Addresses of the kernel symbols the image holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Symbols {
    pub text: u64,
    pub init_uts_ns: u64,
    pub init_top_pgt: u64,
    pub mem_section_var: u64,
    pub node_online_map: u64,
    pub vmap_area_list: u64,
    pub node_data: u64,
    pub kallsyms_names: u64,
    pub kallsyms_num_syms: u64,
    pub kallsyms_token_table: u64,
    pub kallsyms_token_index: u64,
    pub kallsyms_offsets: u64,
    pub kallsyms_relative_base: u64,
    pub prb: u64,
    pub printk_rb_static: u64,
    pub clear_seq: u64,
}

/// Configuration the layout is computed from (a copy of the builder's).
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub ranges: Vec<RamRange>,
    pub kinds: BTreeMap<u64, PageKind>,
    pub zero: BTreeSet<u64>,
    pub five_level: bool,
    pub vmemmap_2m: bool,
    pub direct_map_1g: bool,
    pub kernel_offset: u64,
    pub page_offset_base: u64,
    pub vmemmap_base: u64,
    pub dmesg: Vec<String>,
    pub scheme: Scheme,
    /// Kinds of the pfns neither reserved nor given a kind, decided lazily
    /// per 1024-pfn block ([`Fill`]); `None`: they are all `Kernel`.
    pub fill: Option<Fill>,
}

/// A lazily described population of the RAM the builder gave no kind to,
/// for vmcores too large to list their pages (crate::large). RAM is cut in
/// blocks of 1024 pfns (4 MiB, buddy order 10, aligned). A block that lies
/// in one RAM range and holds no reserved or explicitly given pfn is, by a
/// hash of its number and `seed`:
/// * kept (probability `kept_ppm` / 10^6 once the metadata is counted,
///   see [`FillRule`]): kernel pages with data, one in four slab, one in
///   sixteen all zero;
/// * user (`user_ppm` of the rest): an anonymous THP of order 9 in its first
///   half, page cache, cache with buffers and anonymous pages in the second;
/// * free: one buddy block of order 10.
///
/// Other pfns (blocks at a range's edge or next to metadata) are free
/// buddy pages of order 0. Pages of user and free blocks read as zeros, so
/// a sparse file holds only the kept ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fill {
    pub seed: u64,
    /// Pages kept at level 31, metadata included, per million RAM pages.
    pub kept_ppm: u64,
    /// User (cache, anon) blocks per million of the blocks not kept.
    pub user_ppm: u64,
}

/// A [`Fill`] resolved against a layout: thresholds out of 2^32.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FillRule {
    seed: u64,
    kept_below: u64,
    user_below: u64,
}

/// pfns per fill block.
pub(crate) const FILL_BLOCK: u64 = 1 << (MAX_ORDER - 1);

/// Struct-page pages of the 64-pfn groups that hold RAM (outside the
/// `vmemmap_2m` block): runs `(first group, end group, first pfn)` of
/// consecutive groups whose pages were allocated consecutively, sorted by
/// group and so by pfn.
#[derive(Debug, Default)]
pub(crate) struct GroupPages {
    runs: Vec<(u64, u64, u64)>,
}

impl GroupPages {
    /// pfn of the page holding group `g`'s struct pages.
    fn pfn_of(&self, g: u64) -> Option<u64> {
        let i = self.runs.partition_point(|r| r.1 <= g);
        let &(first, end, pfn) = self.runs.get(i)?;
        (first <= g && g < end).then(|| pfn + (g - first))
    }

    /// The group whose struct pages page `pfn` holds.
    pub(crate) fn group_at(&self, pfn: u64) -> Option<u64> {
        let i = self.runs.partition_point(|r| r.2 + (r.1 - r.0) <= pfn);
        let &(first, end, start) = self.runs.get(i)?;
        (start <= pfn && pfn < start + (end - first)).then(|| first + (pfn - start))
    }
}

/// The computed memory image.
#[derive(Debug)]
pub(crate) struct Layout {
    pub cfg: Config,
    pub kernel_pfn: u64,
    pub text_vaddr: u64,
    pub phys_base: u64,
    /// Reserved pfn ranges (metadata), sorted.
    pub reserved: Vec<Range<u64>>,
    pub slots: BTreeMap<u64, Slot>,
    /// Contents of the metadata pages that are not plain filler.
    pub meta: HashMap<u64, Box<[u8]>>,
    pub sym: Symbols,
    /// Direct-map address of the mem_section root array.
    pub mem_section_root: u64,
    /// `LENGTH(mem_section)`.
    pub nr_section_roots: u64,
    /// Sections that hold RAM (all have a mem_map).
    pub sections: Vec<u64>,
    pub max_pfn: u64,
    /// Where the struct pages of each 64-pfn group live (computed on
    /// demand, never stored: a 1 TiB image has 16 GiB of them).
    pub groups: GroupPages,
    /// [`Config::fill`] resolved.
    pub fill: Option<FillRule>,
}

/// Bump allocator of physical pages.
struct Alloc {
    next: u64,
    end: u64,
}

impl Alloc {
    fn pages(&mut self, n: u64, what: &str) -> u64 {
        let p = self.next;
        self.next += n;
        assert!(
            self.next <= self.end,
            "kexdump-testgen: the first RAM range is too small for the metadata \
             ({what}: need pfn {:#x}, range ends at {:#x})",
            self.next,
            self.end
        );
        p
    }
}

/// Size of a leaf mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaf {
    K4,
    M2,
    G1,
}

impl Leaf {
    fn shift(self) -> u32 {
        match self {
            Leaf::K4 => 12,
            Leaf::M2 => 21,
            Leaf::G1 => 30,
        }
    }
}

/// x86_64 page tables under construction.
struct PageTables {
    five_level: bool,
    root: u64,
    tables: BTreeMap<u64, Box<[u64; 512]>>,
}

impl PageTables {
    fn new(five_level: bool, root: u64) -> Self {
        let mut tables = BTreeMap::new();
        tables.insert(root, Box::new([0u64; 512]));
        PageTables { five_level, root, tables }
    }

    fn map(&mut self, alloc: &mut Alloc, va: u64, pa: u64, leaf: Leaf, flags: u64) {
        let top = if self.five_level { 48 } else { 39 };
        let mut table = self.root;
        let mut shift = top;
        while shift > leaf.shift() {
            let idx = ((va >> shift) & 511) as usize;
            let entry = self.tables[&table][idx];
            let next = if entry & PTE_PRESENT == 0 {
                let pfn = alloc.pages(1, "page table");
                self.tables.insert(pfn, Box::new([0u64; 512]));
                self.tables.get_mut(&table).unwrap()[idx] = (pfn << PAGE_SHIFT) | KERNPG_TABLE;
                pfn
            } else {
                assert!(entry & PTE_PSE == 0, "overlapping mappings at {va:#x}");
                (entry & PTE_ADDR_MASK) >> PAGE_SHIFT
            };
            table = next;
            shift -= 9;
        }
        let idx = ((va >> shift) & 511) as usize;
        let slot = &mut self.tables.get_mut(&table).unwrap()[idx];
        let mut e = pa | flags;
        if leaf != Leaf::K4 {
            e |= PTE_PSE;
        }
        assert!(*slot == 0 || *slot == e, "remapping {va:#x}");
        *slot = e;
    }
}

/// splitmix64: the deterministic source of every "random" byte.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Content of a page that is not all zero. The pattern depends on the pfn:
/// most pages are random; pfn % 16 == 5 has only its last byte non-zero,
/// pfn % 16 == 9 only its first byte (to catch sloppy zero-page checks);
/// pfn % 16 == 13 is repetitive text (compresses well).
pub(crate) fn pattern_page(pfn: u64, salt: u64) -> Vec<u8> {
    let mut page = vec![0u8; PAGE_SIZE as usize];
    match pfn % 16 {
        5 => page[PAGE_SIZE as usize - 1] = (pfn as u8) | 1,
        9 => page[0] = (pfn as u8) | 0x80,
        13 => {
            let line = format!("kexdump synthetic page pfn={pfn:#x} salt={salt}\n");
            for (i, b) in page.iter_mut().enumerate() {
                *b = line.as_bytes()[i % line.len()];
            }
        }
        _ => {
            for (i, chunk) in page.chunks_mut(8).enumerate() {
                let w = mix(mix(pfn ^ salt.rotate_left(32)) ^ i as u64);
                chunk.copy_from_slice(&w.to_le_bytes());
            }
        }
    }
    page
}

fn put_u64(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Number of pfns a kind covers (head included).
pub(crate) fn kind_span(kind: PageKind) -> u64 {
    match kind {
        PageKind::HugetlbHead { order }
        | PageKind::AnonThp { order }
        | PageKind::FileThp { order }
        | PageKind::Buddy { order } => 1 << order,
        PageKind::Unaccepted => 1 << (MAX_ORDER - 1),
        _ => 1,
    }
}

impl Layout {
    pub(crate) fn compute(cfg: Config) -> Layout {
        let ranges = cfg.ranges.clone();
        assert!(!ranges.is_empty(), "kexdump-testgen: no RAM ranges");
        let first = ranges[0];
        let max_pfn = ranges.iter().map(|r| r.end).max().unwrap();
        let r0 = first.start;
        let text_vaddr = START_KERNEL + cfg.kernel_offset;
        let kernel_pa = r0 << PAGE_SHIFT;
        let phys_base = kernel_pa.wrapping_sub(text_vaddr - START_KERNEL_MAP);

        // ---- sections and mem_map groups
        let mut sections = BTreeSet::new();
        // runs of groups [first, end), sorted and merged
        let mut group_runs: Vec<(u64, u64)> = Vec::new();
        let mut sorted = ranges.clone();
        sorted.sort_by_key(|r| r.start);
        for r in &sorted {
            for s in (r.start >> PFN_SECTION_SHIFT)..=((r.end - 1) >> PFN_SECTION_SHIFT) {
                sections.insert(s);
            }
            let (first, end) = (r.start >> 6, ((r.end - 1) >> 6) + 1);
            match group_runs.last_mut() {
                Some(last) if first <= last.1 => last.1 = last.1.max(end),
                _ => group_runs.push((first, end)),
            }
        }
        let sections: Vec<u64> = sections.into_iter().collect();
        let max_physmem_bits = if cfg.five_level { MAX_PHYSMEM_BITS_L5 } else { MAX_PHYSMEM_BITS_L4 };
        let nr_sections = 1u64 << (max_physmem_bits - SECTION_SIZE_BITS);
        let nr_section_roots = nr_sections.div_ceil(SECTIONS_PER_ROOT);
        assert!(sections.last().unwrap() / SECTIONS_PER_ROOT < nr_section_roots, "RAM beyond MAX_PHYSMEM_BITS");

        // ---- allocation
        let mut alloc = Alloc { next: r0 + KERNEL_PAGES, end: first.end };
        assert!(
            first.end - first.start > KERNEL_PAGES,
            "kexdump-testgen: the first RAM range must hold the kernel image"
        );
        // 2 MiB vmemmap block at the top of the first range
        let huge_section = if cfg.vmemmap_2m { Some(sections[0]) } else { None };
        let huge_block = huge_section.map(|_| {
            let top = first.end & !511;
            assert!(
                top >= 512 && top - 512 >= alloc.next,
                "kexdump-testgen: vmemmap_2m needs a 2 MiB aligned block inside the first RAM range"
            );
            alloc.end = top - 512;
            top - 512
        });
        let root_pages = (nr_section_roots * 8).div_ceil(PAGE_SIZE);
        // large allocations come from the top, like memblock's top-down ones
        let root_pfn = if root_pages > TOP_DOWN_PAGES {
            assert!(
                alloc.end >= alloc.next + root_pages,
                "kexdump-testgen: the first RAM range is too small for the metadata \
                 (mem_section root array of {root_pages} pages)"
            );
            alloc.end -= root_pages;
            alloc.end
        } else {
            alloc.pages(root_pages, "mem_section root array")
        };
        let mut section_array: BTreeMap<u64, u64> = BTreeMap::new();
        for &s in &sections {
            let root = s / SECTIONS_PER_ROOT;
            if let std::collections::btree_map::Entry::Vacant(e) = section_array.entry(root) {
                e.insert(alloc.pages(1, "mem_section array"));
            }
        }
        let usage_pfn = alloc.pages(1, "mem_section_usage");
        let pgdat_pfn = alloc.pages(1, "pglist_data");
        let hole_pfn = alloc.pages(1, "struct pages of holes");
        // one page per group, in group order; the vmemmap_2m section's
        // groups live in the huge block instead
        let huge_groups = huge_section.map_or(0..0, |s| {
            let g = s << (PFN_SECTION_SHIFT - 6);
            g..g + 512
        });
        let mut groups = GroupPages::default();
        for (first, end) in group_runs {
            let parts = [(first, end.min(huge_groups.start).max(first)), (first.max(huge_groups.end).min(end), end)];
            for (a, b) in parts {
                if a < b {
                    groups.runs.push((a, b, alloc.pages(b - a, "struct page array")));
                }
            }
        }
        let group_pfn = |g: u64| {
            if huge_groups.contains(&g) {
                Some(huge_block.unwrap() + (g - huge_groups.start))
            } else {
                groups.pfn_of(g)
            }
        };

        let page_offset = cfg.page_offset_base;
        let vmemmap = cfg.vmemmap_base;
        let direct = |pfn: u64| page_offset + (pfn << PAGE_SHIFT);

        // ---- page tables
        let mut pt = PageTables::new(cfg.five_level, r0 + K_PGD);
        {
            // kernel image: its tables live in the image itself
            let mut kalloc = Alloc { next: r0 + if cfg.five_level { K_P4D } else { K_PUD }, end: r0 + K_PTE + 1 };
            for i in 0..KERNEL_PAGES {
                let flags = if i < K_TEXT_PAGES {
                    PAGE_KERNEL_ROX
                } else if i == K_RODATA {
                    PAGE_KERNEL_ROX | PTE_NX
                } else {
                    PAGE_KERNEL
                };
                pt.map(&mut kalloc, text_vaddr + (i << PAGE_SHIFT), (r0 + i) << PAGE_SHIFT, Leaf::K4, flags);
            }
        }
        let is_ram = |pfn: u64| ranges.iter().any(|r| r.start <= pfn && pfn < r.end);
        if cfg.direct_map_1g {
            let mut gigs = BTreeSet::new();
            for r in &ranges {
                for g in (r.start >> 18)..=((r.end - 1) >> 18) {
                    gigs.insert(g);
                }
            }
            for g in gigs {
                pt.map(&mut alloc, page_offset + (g << 30), g << 30, Leaf::G1, PAGE_KERNEL);
            }
        } else {
            let mut chunks = BTreeSet::new();
            for r in &ranges {
                for c in (r.start >> 9)..=((r.end - 1) >> 9) {
                    chunks.insert(c);
                }
            }
            for c in chunks {
                let pfns = (c << 9)..((c + 1) << 9);
                if pfns.clone().all(is_ram) {
                    pt.map(&mut alloc, direct(c << 9), c << 21, Leaf::M2, PAGE_KERNEL);
                } else {
                    for pfn in pfns.filter(|&p| is_ram(p)) {
                        pt.map(&mut alloc, direct(pfn), pfn << PAGE_SHIFT, Leaf::K4, PAGE_KERNEL);
                    }
                }
            }
        }
        for &s in &sections {
            let va = vmemmap + (s << PFN_SECTION_SHIFT) * SIZE_PAGE;
            if Some(s) == huge_section {
                pt.map(&mut alloc, va, huge_block.unwrap() << PAGE_SHIFT, Leaf::M2, PAGE_KERNEL);
            } else {
                for j in 0..512u64 {
                    let g = (s << (PFN_SECTION_SHIFT - 6)) + j;
                    let pfn = group_pfn(g).unwrap_or(hole_pfn);
                    pt.map(&mut alloc, va + (j << PAGE_SHIFT), pfn << PAGE_SHIFT, Leaf::K4, PAGE_KERNEL);
                }
            }
        }

        let mut reserved = Vec::new();
        reserved.push(r0..alloc.next);
        if root_pages > TOP_DOWN_PAGES {
            reserved.push(root_pfn..root_pfn + root_pages);
        }
        if let Some(b) = huge_block {
            reserved.push(b..b + 512);
        }

        // ---- symbols
        let kva = |page: u64, off: u64| text_vaddr + (page << PAGE_SHIFT) + off;
        let sym = Symbols {
            text: text_vaddr,
            init_uts_ns: kva(K_DATA, D_INIT_UTS_NS),
            init_top_pgt: kva(K_PGD, 0),
            mem_section_var: kva(K_DATA, D_MEM_SECTION),
            node_online_map: kva(K_DATA, D_NODE_ONLINE_MAP),
            vmap_area_list: kva(K_DATA, D_VMAP_AREA_LIST),
            node_data: kva(K_NODE_DATA, 0),
            kallsyms_num_syms: kva(K_RODATA, crate::crash_stack::KS_NUM_SYMS),
            kallsyms_relative_base: kva(K_RODATA, crate::crash_stack::KS_RELATIVE_BASE),
            kallsyms_names: kva(K_RODATA, crate::crash_stack::KS_NAMES),
            kallsyms_offsets: kva(K_RODATA, crate::crash_stack::KS_OFFSETS),
            kallsyms_token_table: kva(K_RODATA, crate::crash_stack::KS_TOKEN_TABLE),
            kallsyms_token_index: kva(K_RODATA, crate::crash_stack::KS_TOKEN_INDEX),
            prb: kva(K_DATA, D_PRB_PTR),
            printk_rb_static: kva(K_DATA, D_PRINTK_RB_STATIC),
            clear_seq: kva(K_DATA, D_CLEAR_SEQ),
        };

        let mut layout = Layout {
            kernel_pfn: r0,
            text_vaddr,
            phys_base,
            reserved,
            slots: BTreeMap::new(),
            meta: HashMap::new(),
            sym,
            mem_section_root: direct(root_pfn),
            nr_section_roots,
            sections: sections.clone(),
            max_pfn,
            groups,
            fill: None,
            cfg,
        };
        layout.resolve_slots();
        layout.fill = layout.cfg.fill.map(|f| layout.fill_rule(f));

        // ---- contents
        let mut meta: HashMap<u64, Box<[u8]>> = HashMap::new();
        let zero_page = || vec![0u8; PAGE_SIZE as usize].into_boxed_slice();
        // kernel image
        for i in 0..KERNEL_PAGES {
            let page = if i < K_TEXT_PAGES || i == K_DATA2 {
                pattern_page(r0 + i, 0x7e47).into_boxed_slice()
            } else {
                zero_page()
            };
            meta.insert(r0 + i, page);
        }
        {
            let d = meta.get_mut(&(r0 + K_DATA)).unwrap();
            put_u64(d, D_PHYS_BASE as usize, phys_base);
            put_u64(d, D_PAGE_OFFSET_BASE as usize, page_offset);
            put_u64(d, D_VMEMMAP_BASE as usize, vmemmap);
            put_u64(
                d,
                D_VMALLOC_BASE as usize,
                if layout.cfg.five_level { 0xffa0_0000_0000_0000 } else { 0xffff_b3c1_4000_0000 },
            );
            put_u64(d, D_MEM_SECTION as usize, layout.mem_section_root);
            let val = layout.sym.vmap_area_list;
            put_u64(d, D_VMAP_AREA_LIST as usize, val);
            put_u64(d, D_VMAP_AREA_LIST as usize + 8, val);
            d[D_NODE_ONLINE_MAP as usize] = 1;
            let uts = utsname(layout.cfg.scheme.release());
            let o = D_INIT_UTS_NS as usize;
            d[o..o + uts.len()].copy_from_slice(&uts);
        }
        {
            let nd = meta.get_mut(&(r0 + K_NODE_DATA)).unwrap();
            put_u64(nd, 0, direct(pgdat_pfn));
        }
        crate::crash_stack::write(&layout, &mut meta);
        crate::printk::write_ring(&mut layout, &mut meta, r0 + K_DATA, r0 + K_DATA2);
        for (&pfn, table) in &pt.tables {
            let mut page = zero_page();
            for (i, e) in table.iter().enumerate() {
                put_u64(&mut page, i * 8, *e);
            }
            meta.insert(pfn, page);
        }
        // 5-level P4D slot of the kernel image stays a zero page with 4-level
        meta.entry(r0 + K_P4D).or_insert_with(zero_page);
        // mem_section root array and section arrays
        for i in 0..root_pages {
            meta.insert(root_pfn + i, zero_page());
        }
        for (&root, &arr) in &section_array {
            let rp = root_pfn + root * 8 / PAGE_SIZE;
            let off = (root * 8 % PAGE_SIZE) as usize;
            put_u64(meta.get_mut(&rp).unwrap(), off, direct(arr));
            meta.insert(arr, zero_page());
        }
        for &s in &sections {
            let arr = section_array[&(s / SECTIONS_PER_ROOT)];
            let page = meta.get_mut(&arr).unwrap();
            let off = ((s % SECTIONS_PER_ROOT) * SIZE_MEM_SECTION) as usize;
            // encoded mem_map: mem_map(first pfn) - first pfn * sizeof(page)
            let coded = vmemmap | SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP | SECTION_IS_ONLINE | SECTION_IS_EARLY;
            put_u64(page, off, coded);
            put_u64(page, off + 8, direct(usage_pfn) + (s % 32) * 128);
            // page_ext (NULL: no page_ext client enabled) and pad stay 0
        }
        {
            let mut usage = zero_page();
            for i in 0..32 {
                // subsection_map: all 64 subsections present
                put_u64(&mut usage, i * 128, u64::MAX);
            }
            meta.insert(usage_pfn, usage);
            meta.insert(pgdat_pfn, zero_page());
        }
        // struct pages
        let hole = layout.hole_struct_page();
        let mut hp = zero_page();
        for i in 0..64 {
            hp[i * 64..i * 64 + 64].copy_from_slice(&hole);
        }
        meta.insert(hole_pfn, hp);
        if let Some(b) = huge_block {
            let s = huge_section.unwrap();
            for j in 0..512u64 {
                let g = (s << (PFN_SECTION_SHIFT - 6)) + j;
                meta.insert(b + j, layout.struct_page_group(g));
            }
        }
        // the other groups' pages are computed when read (page_content)
        layout.meta = meta;
        layout
    }

    /// Validate the user's page kinds and expand blocks into head/tail slots.
    fn resolve_slots(&mut self) {
        let mut slots = BTreeMap::new();
        for (&pfn, &kind) in &self.cfg.kinds {
            match kind {
                PageKind::Buddy { order } => {
                    assert!(u32::from(order) < MAX_ORDER, "buddy order {order} at pfn {pfn:#x} is not below MAX_ORDER")
                }
                PageKind::HugetlbHead { order } | PageKind::AnonThp { order } | PageKind::FileThp { order } => assert!(
                    (1..MAX_ORDER).contains(&u32::from(order)),
                    "compound order {order} at pfn {pfn:#x} must be 1..=10"
                ),
                _ => {}
            }
            let span = kind_span(kind);
            let order = span.trailing_zeros();
            assert!(pfn & (span - 1) == 0, "block of order {order} at pfn {pfn:#x} is not aligned");
            let range = self
                .cfg
                .ranges
                .iter()
                .find(|r| r.start <= pfn && pfn < r.end)
                .unwrap_or_else(|| panic!("page kind set on pfn {pfn:#x}, which is not RAM"));
            assert!(pfn + span <= range.end, "block at pfn {pfn:#x} runs past the end of its RAM range");
            for p in pfn..pfn + span {
                assert!(
                    !self.is_reserved(p),
                    "pfn {p:#x} is reserved for the generator's metadata \
                     (reserved: {:x?})",
                    self.reserved
                );
                let slot = if p == pfn { Slot::Head(kind) } else { Slot::Tail { head: pfn, index: p - pfn, kind } };
                assert!(slots.insert(p, slot).is_none(), "pfn {p:#x} is covered by two page kinds");
            }
        }
        self.slots = slots;
    }

    /// Thresholds of `f`: kept blocks make up what the metadata (always
    /// kept) leaves of `kept_ppm`.
    fn fill_rule(&self, f: Fill) -> FillRule {
        let ram: u64 = self.cfg.ranges.iter().map(|r| r.end - r.start).sum();
        let reserved: u64 = self.reserved.iter().map(|r| r.end - r.start).sum();
        let target = ram as u128 * u128::from(f.kept_ppm) / 1_000_000;
        let extra = (target as u64).saturating_sub(reserved);
        let blocks = (ram / FILL_BLOCK).max(1);
        let kept = (extra.div_ceil(FILL_BLOCK)).min(blocks);
        // probabilities out of 2^32
        let kept_below = ((u128::from(kept) << 32) / u128::from(blocks)) as u64;
        let user_below = (u128::from(f.user_ppm.min(1_000_000)) << 32) as u64 / 1_000_000;
        FillRule { seed: f.seed, kept_below, user_below }
    }

    /// The slot of an unreserved RAM pfn: given by the builder, else by
    /// the [`Fill`] (with whether its content reads as zeros), else none
    /// (a `Kernel` page).
    pub(crate) fn slot(&self, pfn: u64) -> Option<Slot> {
        match self.slots.get(&pfn) {
            Some(s) => Some(*s),
            None => self.fill_slot(pfn).map(|(s, _)| s),
        }
    }

    fn fill_slot(&self, pfn: u64) -> Option<(Slot, bool)> {
        let rule = self.fill?;
        let head = |kind| Some((Slot::Head(kind), true));
        let b0 = pfn & !(FILL_BLOCK - 1);
        let b1 = b0 + FILL_BLOCK;
        let whole = self.cfg.ranges.iter().any(|r| r.start <= b0 && b1 <= r.end)
            && !self.reserved.iter().any(|r| r.start < b1 && b0 < r.end)
            && self.slots.range(b0..b1).next().is_none();
        if !whole {
            return head(PageKind::Buddy { order: 0 });
        }
        let h = mix(b0 ^ rule.seed);
        let lo = h & 0xffff_ffff;
        let hi = h >> 32;
        let off = pfn - b0;
        let tail = |kind, head, index| Some((Slot::Tail { head, index, kind }, true));
        if lo < rule.kept_below {
            let kind = match mix(pfn ^ rule.seed.rotate_left(17)) % 16 {
                0..=10 => PageKind::Kernel,
                11..=14 => PageKind::Slab,
                _ => PageKind::Zero,
            };
            Some((Slot::Head(kind), kind == PageKind::Zero))
        } else if hi < rule.user_below {
            let thp = PageKind::AnonThp { order: 9 };
            match off {
                0 => head(thp),
                1..=511 => tail(thp, b0, off),
                _ => head(match mix(pfn ^ rule.seed) % 4 {
                    0 | 1 => PageKind::Cache,
                    2 => PageKind::CachePrivate,
                    _ => PageKind::Anon,
                }),
            }
        } else {
            let free = PageKind::Buddy { order: (MAX_ORDER - 1) as u8 };
            if off == 0 {
                head(free)
            } else {
                tail(free, b0, off)
            }
        }
    }

    pub(crate) fn is_reserved(&self, pfn: u64) -> bool {
        self.reserved.iter().any(|r| r.contains(&pfn))
    }

    pub(crate) fn is_ram(&self, pfn: u64) -> bool {
        self.cfg.ranges.iter().any(|r| r.start <= pfn && pfn < r.end)
    }

    /// pfn is RAM and its bytes are in the file (below p_filesz).
    pub(crate) fn in_file(&self, pfn: u64) -> bool {
        self.cfg.ranges.iter().any(|r| r.start <= pfn && pfn < r.file_end)
    }

    /// Direct-map virtual address of a physical address.
    pub(crate) fn direct(&self, pa: u64) -> u64 {
        self.cfg.page_offset_base + pa
    }

    /// Virtual address of the struct page of `pfn`.
    pub(crate) fn page_va(&self, pfn: u64) -> u64 {
        self.cfg.vmemmap_base + pfn * SIZE_PAGE
    }

    /// flags bits every struct page carries: zone, node 0, last_cpupid = -1.
    fn base_flags(pfn: u64) -> u64 {
        let zone = if pfn < ZONE_DMA_END_PFN {
            0
        } else if pfn < ZONE_DMA32_END_PFN {
            1
        } else {
            2
        };
        (zone << ZONES_PGSHIFT) | (LAST_CPUPID_MASK << LAST_CPUPID_PGSHIFT)
    }

    fn hole_struct_page(&self) -> [u8; 64] {
        let mut p = [0u8; 64];
        let flags = Self::base_flags(self.kernel_pfn) | (1 << PG_RESERVED);
        put_u64(&mut p, OFF_FLAGS, flags);
        put_u32(&mut p, OFF_MAPCOUNT, u32::MAX);
        put_u32(&mut p, OFF_REFCOUNT, 1);
        p
    }

    fn struct_page_group(&self, g: u64) -> Box<[u8]> {
        let mut page = vec![0u8; PAGE_SIZE as usize].into_boxed_slice();
        for i in 0..64u64 {
            let sp = self.struct_page(g * 64 + i);
            page[(i * 64) as usize..(i * 64 + 64) as usize].copy_from_slice(&sp);
        }
        page
    }

    /// The 64-byte struct page of `pfn` as the image holds it.
    pub(crate) fn struct_page(&self, pfn: u64) -> [u8; 64] {
        if !self.is_ram(pfn) {
            return self.hole_struct_page();
        }
        let mut p = [0u8; 64];
        let base = Self::base_flags(pfn);
        let bit = |b: u32| 1u64 << b;
        let po = self.cfg.page_offset_base;
        // plausible kernel pointers (even, in the direct map)
        let file_mapping = po + 0x3e1c_0000 + (pfn % 7) * 0x2c0;
        let anon_vma = po + 0x3a98_1000 + (pfn % 5) * 0x68;
        let neighbour = |d: i64| self.page_va(pfn.wrapping_add_signed(d)) + OFF_LRU as u64;
        let mut flags = base;
        let mut mapping = 0u64;
        let mut index = 0u64;
        let mut private = 0u64;
        let mut lru = (0u64, 0u64);
        let mut mapcount: i32 = -1;
        let mut refcount: u32 = 1;
        let scheme = self.cfg.scheme;
        if self.is_reserved(pfn) {
            flags |= bit(PG_RESERVED);
        } else {
            match self.slot(pfn).as_ref() {
                None | Some(Slot::Head(PageKind::Kernel)) | Some(Slot::Head(PageKind::Zero)) => {}
                Some(Slot::Head(kind)) => match *kind {
                    PageKind::Kernel | PageKind::Zero => unreachable!(),
                    PageKind::Cache | PageKind::CachePrivate => {
                        flags |= bit(PG_LRU) | bit(PG_UPTODATE) | bit(PG_REFERENCED);
                        mapping = file_mapping;
                        index = pfn & 0xfff;
                        lru = (neighbour(1), neighbour(-1));
                        if *kind == PageKind::CachePrivate {
                            flags |= bit(PG_PRIVATE) | bit(PG_DIRTY);
                            private = po + 0x3b00_0000 + (pfn % 64) * 0x68; // buffer_head
                        }
                    }
                    PageKind::SwapCache | PageKind::SwapCacheAnon => {
                        flags |= bit(PG_SWAPBACKED) | bit(PG_SWAPCACHE) | bit(PG_UPTODATE);
                        private = 0x0400_0000_0000_0000 | (pfn & 0xffff); // swp_entry_t
                        if *kind == PageKind::SwapCacheAnon {
                            mapping = anon_vma | PAGE_MAPPING_ANON;
                            index = 0x7f3c_0000 + (pfn & 0xff);
                        }
                    }
                    PageKind::Anon => {
                        flags |= bit(PG_LRU) | bit(PG_SWAPBACKED) | bit(PG_UPTODATE) | bit(PG_ACTIVE);
                        mapping = anon_vma | PAGE_MAPPING_ANON;
                        index = 0x7f3c_0000 + (pfn & 0xff);
                        lru = (neighbour(1), neighbour(-1));
                        mapcount = 0;
                    }
                    PageKind::HugetlbHead { .. } => {
                        flags |= bit(PG_HEAD) | bit(PG_UPTODATE);
                        mapping = file_mapping;
                        index = pfn >> 9;
                        if scheme.typed() {
                            mapcount = pgty(PGTY_HUGETLB);
                        }
                    }
                    PageKind::AnonThp { .. } => {
                        flags |= bit(PG_HEAD) | bit(PG_LRU) | bit(PG_SWAPBACKED) | bit(PG_UPTODATE);
                        mapping = anon_vma | PAGE_MAPPING_ANON;
                        lru = (neighbour(1), neighbour(-1));
                    }
                    PageKind::FileThp { .. } => {
                        flags |= bit(PG_HEAD) | bit(PG_LRU) | bit(PG_UPTODATE);
                        mapping = file_mapping;
                        lru = (neighbour(1), neighbour(-1));
                    }
                    PageKind::Buddy { order } => {
                        mapcount = scheme.buddy_type();
                        private = u64::from(order);
                        refcount = 0;
                        lru = (neighbour(1 << order), neighbour(-(1 << order)));
                    }
                    PageKind::HwPoison => flags |= bit(PG_HWPOISON),
                    PageKind::Offline => mapcount = scheme.offline_type(),
                    PageKind::Slab if scheme.typed() => {
                        // 6.12's struct slab: slab_cache @8, freelist and
                        // counters @16.., and at the mapping offset a word
                        // whose low bit is set (it must not read as anon)
                        mapping = 0x0000_0020_0040_0013 + ((pfn % 3) << 32);
                        private = 0x8020_0010;
                        mapcount = pgty(PGTY_SLAB);
                    }
                    PageKind::Slab => {
                        flags |= bit(PG_SLAB);
                        // struct slab: slab_cache @24, counters @40,
                        // __unused @48 (made to look like a buddy page)
                        mapping = po + 0x0100_0a00 + (pfn % 3) * 0x100;
                        private = 0x8020_0010;
                        mapcount = PAGE_BUDDY_MAPCOUNT_VALUE;
                    }
                    PageKind::Unaccepted => {
                        assert_eq!(scheme, Scheme::Linux7_3, "unaccepted pages need Scheme::Linux7_3");
                        mapcount = pgty(PGTY_UNACCEPTED);
                        refcount = 0;
                    }
                    PageKind::Raw { flags: f, mapping: m, private: pv, mapcount: mc } => {
                        flags = f;
                        mapping = m;
                        private = pv;
                        mapcount = mc;
                    }
                },
                Some(Slot::Tail { head, index: i, kind }) => {
                    refcount = 0;
                    match *kind {
                        PageKind::Buddy { .. } | PageKind::Unaccepted => {}
                        PageKind::HugetlbHead { .. } | PageKind::AnonThp { .. } | PageKind::FileThp { .. } => {
                            let order = kind_span(*kind).trailing_zeros();
                            lru.0 = if scheme == Scheme::Linux7_3 {
                                // compound_info: a mask that finds the head, bit 0 set
                                (!0u64 << (order + 6)) | 1
                            } else {
                                self.page_va(*head) | 1 // compound_head
                            };
                            if *i == 1 && scheme.order_in_tail_flags() {
                                // folio._flags_1: the order in the low byte
                                flags |= u64::from(order);
                                if scheme == Scheme::Linux6_8 && matches!(kind, PageKind::HugetlbHead { .. }) {
                                    flags |= bit(PG_HUGETLB_6_8);
                                }
                                // _large_mapcount/_entire_mapcount (-1), so
                                // 6.1's order byte here reads 0xff
                                lru.1 = u64::MAX;
                                mapping = (1u64 << order) << 32;
                            } else if *i == 1 {
                                let dtor = match kind {
                                    PageKind::HugetlbHead { .. } => HUGETLB_PAGE_DTOR,
                                    PageKind::AnonThp { .. } => TRANSHUGE_PAGE_DTOR,
                                    _ => COMPOUND_PAGE_DTOR,
                                };
                                // lru.prev bytes: dtor, order, pad, compound_mapcount
                                lru.1 = u64::from(dtor) | (u64::from(order) << 8) | (u64::from(u32::MAX) << 32);
                                // compound_pincount = 0, compound_nr
                                mapping = (1u64 << order) << 32;
                            } else {
                                mapping = TAIL_MAPPING;
                            }
                        }
                        _ => unreachable!("only blocks have tails"),
                    }
                }
            }
        }
        put_u64(&mut p, OFF_FLAGS, flags);
        put_u64(&mut p, OFF_LRU, lru.0);
        put_u64(&mut p, OFF_LRU + 8, lru.1);
        put_u64(&mut p, OFF_MAPPING, mapping);
        put_u64(&mut p, OFF_INDEX, index);
        put_u64(&mut p, OFF_PRIVATE, private);
        put_u32(&mut p, OFF_MAPCOUNT, mapcount as u32);
        put_u32(&mut p, OFF_REFCOUNT, refcount);
        put_u64(&mut p, OFF_MEMCG_DATA, 0);
        debug_assert_eq!(OFF_COMPOUND_DTOR, OFF_LRU + 8);
        debug_assert_eq!(OFF_COMPOUND_ORDER, OFF_LRU + 9);
        debug_assert_eq!(OFF_COMPOUND_MAPCOUNT, OFF_LRU + 12);
        debug_assert_eq!(OFF_COMPOUND_NR, OFF_MAPPING + 4);
        debug_assert_eq!(OFF_COMPOUND_HEAD, OFF_LRU);
        p
    }

    /// The 4096 bytes of RAM page `pfn` (zeros beyond p_filesz).
    pub(crate) fn page_content(&self, pfn: u64) -> Vec<u8> {
        self.page_data(pfn).unwrap_or_else(|| vec![0; PAGE_SIZE as usize])
    }

    /// Like [`Self::page_content`], but `None` for most pages known to be
    /// all zeros without building them (a `Some` page may still be zeros).
    pub(crate) fn page_data(&self, pfn: u64) -> Option<Vec<u8>> {
        assert!(self.is_ram(pfn), "pfn {pfn:#x} is not RAM");
        if !self.in_file(pfn) {
            return None;
        }
        if let Some(m) = self.meta.get(&pfn) {
            return Some(m.to_vec());
        }
        if let Some(g) = self.groups.group_at(pfn) {
            return Some(self.struct_page_group(g).into_vec());
        }
        if self.is_reserved(pfn) {
            return Some(pattern_page(pfn, 0x3e7a));
        }
        if self.cfg.zero.contains(&pfn) {
            return None;
        }
        let zero = match self.slots.get(&pfn) {
            Some(s) => matches!(s, Slot::Head(PageKind::Zero)),
            None => self.fill_slot(pfn).is_some_and(|(_, zero)| zero),
        };
        (!zero).then(|| pattern_page(pfn, 0))
    }
}

/// `struct new_utsname` of the dumped kernel.
pub(crate) fn utsname(release: &str) -> Vec<u8> {
    let fields =
        ["Linux", "kexdump-synth", release, "#1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1 (2025-11-09)", "x86_64", "(none)"];
    let mut out = vec![0u8; UTSNAME_SIZE];
    for (i, f) in fields.iter().enumerate() {
        out[i * 65..i * 65 + f.len()].copy_from_slice(f.as_bytes());
    }
    out
}
