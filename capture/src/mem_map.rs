//! SPARSEMEM: finding the `struct page` array (mem_map) of each memory
//! section through the kernel's `mem_section` table, as VMCOREINFO
//! describes it (mm/sparse.c, include/linux/mmzone.h).

use crate::error::{Error, Result};
use crate::memory::PhysMem;
use crate::page::{PAGE_SHIFT, PAGE_SIZE};
use crate::translate::Translator;
use crate::vmcoreinfo::VmcoreInfo;

/// Low bits of `section_mem_map` are flags (SECTION_MAP_LAST_BIT = 1 << 5
/// since Linux 4.13); the rest encodes the mem_map.
const SECTION_MAP_MASK: u64 = !((1 << 5) - 1);
const SECTION_MARKED_PRESENT: u64 = 1;
/// Most sections we decode: 2^22 sections of 128 MiB cover 512 TiB.
const MAX_SECTIONS: u64 = 1 << 22;

/// The struct pages of pfns `[start_pfn, end_pfn)` start at virtual address
/// `mem_map` (the struct page of `start_pfn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionMap {
    pub start_pfn: u64,
    pub end_pfn: u64,
    pub mem_map: u64,
}

pub struct SparseLayout {
    pub pages_per_section: u64,
    pub sections: Vec<SectionMap>,
}

/// Decode every section below `max_mapnr`. Sections without a mem_map are
/// left out (their pages are kept unfiltered, as makedumpfile does).
pub fn sections(vi: &VmcoreInfo, mem: &PhysMem, tr: &Translator, max_mapnr: u64) -> Result<SparseLayout> {
    let section_bits = vi.number("SECTION_SIZE_BITS")?;
    let physmem_bits = vi.number("MAX_PHYSMEM_BITS")?;
    if !(PAGE_SHIFT as i64 + 1..=40).contains(&section_bits) || !(section_bits..=64).contains(&physmem_bits) {
        return Err(Error::BadValue {
            key: "NUMBER(SECTION_SIZE_BITS)/NUMBER(MAX_PHYSMEM_BITS)".into(),
            value: format!("{section_bits}/{physmem_bits}"),
            why: "implausible section geometry".into(),
        });
    }
    let ms_size = vi.size("mem_section")?;
    if !(8..=PAGE_SIZE).contains(&ms_size) {
        return Err(bad("SIZE(mem_section)", ms_size, "implausible size"));
    }
    let map_off = vi.opt_offset("mem_section.section_mem_map")?.unwrap_or(0);
    if map_off.checked_add(8).is_none_or(|end| end > ms_size) {
        return Err(bad("OFFSET(mem_section.section_mem_map)", map_off, "outside struct mem_section"));
    }
    let page_size = vi.size("page")?;
    let pages_per_section = 1u64 << (section_bits as u32 - PAGE_SHIFT);
    let nr_mem_sections = 1u64 << (physmem_bits - section_bits) as u32;
    let per_root = PAGE_SIZE / ms_size;
    let nr_roots = nr_mem_sections.div_ceil(per_root);
    // SPARSEMEM_EXTREME when mem_section is a table of roots (or its length
    // is not exported), plain SPARSEMEM when it is the array of sections.
    let extreme = match vi.opt_length("mem_section")? {
        None => true,
        Some(n) => n == nr_roots,
    };
    let num_sections = max_mapnr.div_ceil(pages_per_section);
    let sym = vi.symbol("mem_section")?;

    // Only sections holding dumped memory matter (pages elsewhere are not
    // in the dump), and skipping the rest bounds the work a corrupt table
    // or a sparse physical map can cause.
    let spans: Vec<(u64, u64)> = mem
        .loads()
        .iter()
        .map(|l| {
            let first = (l.paddr >> PAGE_SHIFT) / pages_per_section;
            let last = (l.paddr + l.memsz).div_ceil(1 << PAGE_SHIFT).div_ceil(pages_per_section);
            (first, last.min(num_sections))
        })
        .collect();
    let total: u64 = spans.iter().map(|(a, b)| b.saturating_sub(*a)).sum();
    if total > MAX_SECTIONS {
        return Err(Error::Inconsistent(format!(
            "{total} memory sections to decode (SECTION_SIZE_BITS={section_bits}): implausible"
        )));
    }
    let mut wanted: Vec<u64> = spans.into_iter().flat_map(|(a, b)| a..b).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let decode = |table: u64| -> Result<Option<Vec<SectionMap>>> {
        let mut out = Vec::new();
        let mut root_cache: Option<(u64, u64)> = None;
        for &nr in &wanted {
            let section_addr = if extreme {
                let root_idx = nr / per_root;
                let root = match root_cache {
                    Some((i, r)) if i == root_idx => r,
                    _ => {
                        let r = tr.read_u64(mem, table.wrapping_add(root_idx * 8)).unwrap_or(0);
                        root_cache = Some((root_idx, r));
                        r
                    }
                };
                if root == 0 || !tr.is_kernel_addr(root) {
                    continue;
                }
                root.wrapping_add((nr % per_root) * ms_size)
            } else {
                table.wrapping_add(nr * ms_size)
            };
            let Ok(coded) = tr.read_u64(mem, section_addr.wrapping_add(map_off)) else { continue };
            if coded & SECTION_MARKED_PRESENT == 0 {
                continue;
            }
            let start_pfn = nr * pages_per_section;
            let mem_map = (coded & SECTION_MAP_MASK).wrapping_add(start_pfn.wrapping_mul(page_size));
            if !tr.is_kernel_addr(mem_map) {
                return Ok(None);
            }
            out.push(SectionMap { start_pfn, end_pfn: (start_pfn + pages_per_section).min(max_mapnr), mem_map });
        }
        Ok((!out.is_empty()).then_some(out))
    };

    // Since 4.15 VMCOREINFO gives the address of the root table itself; a
    // symbol from a vmlinux would be the pointer to it. Try both, in that
    // order, and accept the first that decodes to kernel addresses.
    if let Some(sections) = decode(sym)? {
        return Ok(SparseLayout { pages_per_section, sections });
    }
    if extreme {
        if let Ok(table) = tr.read_u64(mem, sym) {
            if tr.is_kernel_addr(table) {
                if let Some(sections) = decode(table)? {
                    return Ok(SparseLayout { pages_per_section, sections });
                }
            }
        }
    }
    Err(Error::Inconsistent(format!("mem_section at {sym:#x} does not decode to any valid section")))
}

fn bad(key: &str, v: u64, why: &str) -> Error {
    Error::BadValue { key: key.into(), value: v.to_string(), why: why.into() }
}
