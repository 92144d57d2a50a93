//! Definitions only: the Linux 6.1 x86_64 facts the generator reproduces.
//!
//! Values translate `include/linux/page-flags.h`, `include/linux/mm_types.h`,
//! `include/linux/mmzone.h`, `arch/x86/include/asm/pgtable_types.h`,
//! `arch/x86/include/asm/page_64_types.h`, `include/uapi/linux/elfcore.h`
//! and `include/linux/elf.h` for a Debian 6.1 (`6.1.0-56-amd64`) kernel:
//! `CONFIG_SPARSEMEM_EXTREME=y`, `CONFIG_SPARSEMEM_VMEMMAP=y`,
//! `CONFIG_NODES_SHIFT=10`, `CONFIG_NUMA_BALANCING=y`, `CONFIG_MEMORY_FAILURE=y`.

/// Page size of x86_64.
pub const PAGE_SIZE: u64 = 4096;
/// log2(PAGE_SIZE).
pub const PAGE_SHIFT: u32 = 12;

/// `__START_KERNEL_map`: kernel text/data virtual base, maps `phys_base`.
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// `__START_KERNEL` without KASLR (`_text` when `KERNELOFFSET=0`).
pub const START_KERNEL: u64 = 0xffff_ffff_8100_0000;
/// `KERNEL_IMAGE_SIZE` with `CONFIG_RANDOMIZE_BASE` (1 GiB).
pub const KERNEL_IMAGE_SIZE: u64 = 1 << 30;

// ---- sparsemem (include/linux/mmzone.h, arch/x86/include/asm/sparsemem.h)
/// `SECTION_SIZE_BITS`: 128 MiB sections.
pub const SECTION_SIZE_BITS: u32 = 27;
/// `PFN_SECTION_SHIFT` = SECTION_SIZE_BITS - PAGE_SHIFT.
pub const PFN_SECTION_SHIFT: u32 = SECTION_SIZE_BITS - PAGE_SHIFT;
/// `PAGES_PER_SECTION`.
pub const PAGES_PER_SECTION: u64 = 1 << PFN_SECTION_SHIFT;
/// `sizeof(struct mem_section)` with `CONFIG_PAGE_EXTENSION` (Debian 6.1):
/// `{ unsigned long section_mem_map; struct mem_section_usage *usage;
/// struct page_ext *page_ext; unsigned long pad; }`.
pub const SIZE_MEM_SECTION: u64 = 32;
/// `SECTIONS_PER_ROOT` = PAGE_SIZE / sizeof(struct mem_section).
pub const SECTIONS_PER_ROOT: u64 = PAGE_SIZE / SIZE_MEM_SECTION;
/// `MAX_PHYSMEM_BITS` with 4-level paging.
pub const MAX_PHYSMEM_BITS_L4: u32 = 46;
/// `MAX_PHYSMEM_BITS` with 5-level paging.
pub const MAX_PHYSMEM_BITS_L5: u32 = 52;
/// `SECTION_MARKED_PRESENT`.
pub const SECTION_MARKED_PRESENT: u64 = 1 << 0;
/// `SECTION_HAS_MEM_MAP`.
pub const SECTION_HAS_MEM_MAP: u64 = 1 << 1;
/// `SECTION_IS_ONLINE`.
pub const SECTION_IS_ONLINE: u64 = 1 << 2;
/// `SECTION_IS_EARLY`.
pub const SECTION_IS_EARLY: u64 = 1 << 3;
/// `SECTION_MAP_MASK` = ~((1 << SECTION_MAP_LAST_BIT) - 1), last bit 5.
pub const SECTION_MAP_MASK: u64 = !0x1f;
/// `MAX_ORDER` of 6.1 (= `LENGTH(zone.free_area)`): buddy orders 0..=10.
pub const MAX_ORDER: u32 = 11;

// ---- struct page (include/linux/mm_types.h), 64 bytes
/// `sizeof(struct page)`.
pub const SIZE_PAGE: u64 = 64;
/// `page.flags` (unsigned long).
pub const OFF_FLAGS: usize = 0;
/// `page.lru` (struct list_head) and `page.compound_head` (unsigned long).
pub const OFF_LRU: usize = 8;
/// `page.compound_head`: tail pages hold `head | 1`.
pub const OFF_COMPOUND_HEAD: usize = 8;
/// `page.compound_dtor` (unsigned char, valid in the first tail page).
pub const OFF_COMPOUND_DTOR: usize = 16;
/// `page.compound_order` (unsigned char, valid in the first tail page).
pub const OFF_COMPOUND_ORDER: usize = 17;
/// `page.compound_mapcount` (atomic_t, first tail page).
pub const OFF_COMPOUND_MAPCOUNT: usize = 20;
/// `page.compound_nr` (unsigned int, first tail page).
pub const OFF_COMPOUND_NR: usize = 28;
/// `page.mapping` (struct address_space *; bit 0 = PAGE_MAPPING_ANON).
pub const OFF_MAPPING: usize = 24;
/// `page.index` (pgoff_t).
pub const OFF_INDEX: usize = 32;
/// `page.private` (unsigned long; buddy order of a free block).
pub const OFF_PRIVATE: usize = 40;
/// `page._mapcount` (atomic_t, shares storage with `page_type`).
pub const OFF_MAPCOUNT: usize = 48;
/// `page._refcount` (atomic_t).
pub const OFF_REFCOUNT: usize = 52;
/// `page.memcg_data` (unsigned long).
pub const OFF_MEMCG_DATA: usize = 56;

// ---- page flags (enum pageflags, include/linux/page-flags.h)
/// `PG_referenced`.
pub const PG_REFERENCED: u32 = 1;
/// `PG_uptodate`.
pub const PG_UPTODATE: u32 = 2;
/// `PG_dirty`.
pub const PG_DIRTY: u32 = 3;
/// `PG_lru`.
pub const PG_LRU: u32 = 4;
/// `PG_active`.
pub const PG_ACTIVE: u32 = 5;
/// `PG_slab`.
pub const PG_SLAB: u32 = 9;
/// `PG_swapcache` (= `PG_owner_priv_1`).
pub const PG_SWAPCACHE: u32 = 10;
/// `PG_reserved`.
pub const PG_RESERVED: u32 = 12;
/// `PG_private`.
pub const PG_PRIVATE: u32 = 13;
/// `PG_head`.
pub const PG_HEAD: u32 = 16;
/// `PG_swapbacked`.
pub const PG_SWAPBACKED: u32 = 19;
/// `PG_hwpoison`.
pub const PG_HWPOISON: u32 = 23;
/// `PG_head_mask` as exported in VMCOREINFO.
pub const PG_HEAD_MASK: u64 = 1 << PG_HEAD;
/// `PAGE_MAPPING_ANON`.
pub const PAGE_MAPPING_ANON: u64 = 1;
/// `PAGE_BUDDY_MAPCOUNT_VALUE` = ~PG_buddy (0x80).
pub const PAGE_BUDDY_MAPCOUNT_VALUE: i32 = -129;
/// `PAGE_OFFLINE_MAPCOUNT_VALUE` = ~PG_offline (0x100).
pub const PAGE_OFFLINE_MAPCOUNT_VALUE: i32 = -257;
/// `COMPOUND_PAGE_DTOR` (enum compound_dtor_id).
pub const COMPOUND_PAGE_DTOR: u8 = 1;
/// `HUGETLB_PAGE_DTOR`.
pub const HUGETLB_PAGE_DTOR: u8 = 2;
/// `TRANSHUGE_PAGE_DTOR`.
pub const TRANSHUGE_PAGE_DTOR: u8 = 3;
/// `TAIL_MAPPING` = 0x400 + POISON_POINTER_DELTA: `mapping` of tail pages
/// beyond the first.
pub const TAIL_MAPPING: u64 = 0xdead_0000_0000_0400;

/// Upper `page.flags` fields (include/linux/page-flags-layout.h): node at
/// 54..63 (10 bits, always node 0 here), zone at 51..53, last_cpupid at
/// 30..50 (21 bits, all ones after `page_cpupid_reset_last()`).
pub const ZONES_PGSHIFT: u32 = 51;
/// Shift of the `last_cpupid` field in `page.flags`.
pub const LAST_CPUPID_PGSHIFT: u32 = 30;
/// Mask of the `last_cpupid` field (before shifting).
pub const LAST_CPUPID_MASK: u64 = (1 << 21) - 1;
/// `ZONE_DMA` ends at 16 MiB (pfn 0x1000).
pub const ZONE_DMA_END_PFN: u64 = 0x1000;
/// `ZONE_DMA32` ends at 4 GiB (pfn 0x100000).
pub const ZONE_DMA32_END_PFN: u64 = 0x10_0000;

// ---- page table entries (arch/x86/include/asm/pgtable_types.h)
/// `_PAGE_PRESENT`.
pub const PTE_PRESENT: u64 = 1 << 0;
/// `_PAGE_RW`.
pub const PTE_RW: u64 = 1 << 1;
/// `_PAGE_ACCESSED`.
pub const PTE_ACCESSED: u64 = 1 << 5;
/// `_PAGE_DIRTY`.
pub const PTE_DIRTY: u64 = 1 << 6;
/// `_PAGE_PSE`: large page at PUD (1 GiB) or PMD (2 MiB) level.
pub const PTE_PSE: u64 = 1 << 7;
/// `_PAGE_GLOBAL`.
pub const PTE_GLOBAL: u64 = 1 << 8;
/// `_PAGE_NX`.
pub const PTE_NX: u64 = 1 << 63;
/// Physical address bits of an entry (`PTE_PFN_MASK`, 52-bit physical).
pub const PTE_ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
/// `_KERNPG_TABLE`: entry pointing at a lower-level table.
pub const KERNPG_TABLE: u64 = PTE_PRESENT | PTE_RW | PTE_ACCESSED | PTE_DIRTY;
/// `__PAGE_KERNEL`: data leaf (global, not executable).
pub const PAGE_KERNEL: u64 = PTE_PRESENT | PTE_RW | PTE_ACCESSED | PTE_DIRTY | PTE_GLOBAL | PTE_NX;
/// `__PAGE_KERNEL_LARGE`: data leaf at PMD/PUD level.
pub const PAGE_KERNEL_LARGE: u64 = PAGE_KERNEL | PTE_PSE;
/// `__PAGE_KERNEL_EXEC` without RW: kernel text leaf.
pub const PAGE_KERNEL_ROX: u64 = PTE_PRESENT | PTE_ACCESSED | PTE_GLOBAL;

// ---- ELF (include/uapi/linux/elf.h, elfcore.h)
/// `ET_CORE`.
pub const ET_CORE: u16 = 4;
/// `EM_X86_64`.
pub const EM_X86_64: u16 = 62;
/// `PT_LOAD`.
pub const PT_LOAD: u32 = 1;
/// `PT_NOTE`.
pub const PT_NOTE: u32 = 4;
/// `NT_PRSTATUS`.
pub const NT_PRSTATUS: u32 = 1;
/// `sizeof(Elf64_Ehdr)`.
pub const EHDR_SIZE: usize = 64;
/// `sizeof(Elf64_Phdr)`.
pub const PHDR_SIZE: usize = 56;
/// `sizeof(struct elf_prstatus)` on x86_64.
pub const PRSTATUS_SIZE: usize = 336;
/// `elf_prstatus.pr_pid`.
pub const PRSTATUS_PID: usize = 32;
/// `elf_prstatus.pr_reg` (27 u64, `struct user_regs_struct` order).
pub const PRSTATUS_REG: usize = 112;
/// Index of `rip` in `pr_reg`.
pub const REG_RIP: usize = 16;
/// Index of `rsp` in `pr_reg`.
pub const REG_RSP: usize = 19;
/// `sizeof(struct new_utsname)`: six fields of 65 bytes.
pub const UTSNAME_SIZE: usize = 6 * 65;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_constants() {
        assert_eq!(PAGES_PER_SECTION, 32768);
        assert_eq!(SECTIONS_PER_ROOT, 128);
        // one section's mem_map is exactly one 2 MiB page
        assert_eq!(PAGES_PER_SECTION * SIZE_PAGE, 2 << 20);
        assert_eq!(PG_HEAD_MASK, 65536);
        assert_eq!(PRSTATUS_REG + 27 * 8 + 8, PRSTATUS_SIZE);
        // last_cpupid ends right below the zone field
        assert_eq!(LAST_CPUPID_PGSHIFT + 21, ZONES_PGSHIFT);
    }
}

// ---- page-type schemes of later kernels (include/linux/page-flags.h,
// kernel/vmcore_info.c of each release)
/// `PG_hugetlb` in the first tail's flags, 6.6–6.8 (a bit no other kind
/// here sets).
pub const PG_HUGETLB_6_8: u32 = 22;
/// 6.12+: a page type is `PGTY_<kind> << 24` in `page_type` (shared with
/// `_mapcount`).
pub const fn pgty(kind: u32) -> i32 {
    (kind << 24) as i32
}
/// `PGTY_buddy`.
pub const PGTY_BUDDY: u32 = 0xf0;
/// `PGTY_offline`.
pub const PGTY_OFFLINE: u32 = 0xf1;
/// `PGTY_hugetlb`.
pub const PGTY_HUGETLB: u32 = 0xf4;
/// `PGTY_slab`.
pub const PGTY_SLAB: u32 = 0xf5;
/// `PGTY_unaccepted`.
pub const PGTY_UNACCEPTED: u32 = 0xf7;

/// How a kernel generation marks the kinds of page the dump levels care
/// about. The generator writes struct pages and VMCOREINFO in the chosen
/// scheme; flag bit numbers stay 6.1's (the engine reads them from
/// VMCOREINFO either way).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// 4.16–6.2 (Debian 11's 5.10, Debian 12's 6.1): `PG_slab`;
    /// `page.compound_order`/`compound_dtor` bytes in the first tail;
    /// `HUGETLB_PAGE_DTOR`; buddy `_mapcount` -129, offline -257.
    #[default]
    Linux6_1,
    /// 6.3–6.5: the same bytes, exported as `folio._folio_order` and
    /// `folio._folio_dtor` (offsets from the folio, one struct page before).
    Linux6_5,
    /// 6.6–6.8: the order in the low byte of the first tail's flags,
    /// hugetlb as `PG_hugetlb` there; no compound_order/dtor keys.
    Linux6_8,
    /// 6.12–7.0 (Debian 13): no `PG_slab`; `page_type` = `PGTY_* << 24` for
    /// buddy, offline, slab and hugetlb (on the head); order as 6.8. SLUB's
    /// counters lie at the `mapping` offset and may be odd.
    Linux6_12,
    /// 7.1+ (trixie-backports' 7.3): as 6.12, with `page.compound_head`
    /// exported as `page.compound_info` (a tail holds a mask with bit 0
    /// set) and unaccepted memory (`PGTY_unaccepted`, blocks of the largest
    /// order).
    Linux7_3,
}

impl Scheme {
    /// Every scheme, oldest first.
    pub const ALL: [Scheme; 5] =
        [Scheme::Linux6_1, Scheme::Linux6_5, Scheme::Linux6_8, Scheme::Linux6_12, Scheme::Linux7_3];

    /// A 6.12-style scheme (page types in the top byte).
    pub fn typed(self) -> bool {
        matches!(self, Scheme::Linux6_12 | Scheme::Linux7_3)
    }
    /// The order sits in the low byte of the first tail's flags.
    pub fn order_in_tail_flags(self) -> bool {
        !matches!(self, Scheme::Linux6_1 | Scheme::Linux6_5)
    }
    /// `_mapcount` of a free buddy head.
    pub fn buddy_type(self) -> i32 {
        if self.typed() {
            pgty(PGTY_BUDDY)
        } else {
            PAGE_BUDDY_MAPCOUNT_VALUE
        }
    }
    /// `_mapcount` of an offline page.
    pub fn offline_type(self) -> i32 {
        if self.typed() {
            pgty(PGTY_OFFLINE)
        } else {
            PAGE_OFFLINE_MAPCOUNT_VALUE
        }
    }
    /// `OSRELEASE` of a kernel of this scheme.
    pub fn release(self) -> &'static str {
        match self {
            Scheme::Linux6_1 => crate::OSRELEASE,
            Scheme::Linux6_5 => "6.5.0-35-generic",
            Scheme::Linux6_8 => "6.8.12-amd64",
            Scheme::Linux6_12 => "6.12.57+deb13-amd64",
            Scheme::Linux7_3 => "7.3.4+bpo-amd64",
        }
    }
}
