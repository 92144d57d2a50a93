//! Kernel virtual to physical address translation for x86_64: the kernel
//! image mapping (fixed offset from phys_base) and a 4- or 5-level walk of
//! the kernel page tables rooted at `init_top_pgt` (direct map, vmemmap,
//! vmalloc), which is what makes KASLR'd layouts readable.

use crate::elf::vmcore::Load;
use crate::error::{Error, Result};
use crate::memory::PhysMem;
use crate::page::{offset_in_page, PAGE_SHIFT, PAGE_SIZE};
use crate::vmcoreinfo::VmcoreInfo;
use std::cell::Cell;

/// Start of the kernel image mapping (arch/x86/include/asm/page_64_types.h).
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// The kernel image mapping is at most 1 GiB; modules follow it.
pub const KERNEL_IMAGE_END: u64 = 0xffff_ffff_c000_0000;

const PTE_PRESENT: u64 = 1;
const PTE_PSE: u64 = 1 << 7;
const PTE_ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

/// Where the kernel image sits in physical memory relative to its link
/// address: NUMBER(phys_base) (signed: KASLR makes it negative), else
/// derived from the kernel-text PT_LOAD.
pub fn phys_base(vi: &VmcoreInfo, loads: &[Load]) -> Result<u64> {
    match vi.opt_number("phys_base")? {
        Some(v) => Ok(v as u64),
        None => loads
            .iter()
            .find(|l| l.vaddr >= START_KERNEL_MAP)
            .map(|l| l.paddr.wrapping_sub(l.vaddr - START_KERNEL_MAP))
            .ok_or_else(|| Error::MissingKey("NUMBER(phys_base) (and no kernel-text PT_LOAD)".into())),
    }
}

pub struct Translator {
    phys_base: u64,
    /// Physical address of the top-level page table.
    top_table: u64,
    levels: u32,
    /// Lowest direct-map address: anything below is not a kernel address.
    pub page_offset: u64,
    /// Last 2 MiB region translated: (vaddr >> 21, physical base of the 2 MiB
    /// page, or of the PTE table when `is_table`).
    last: Cell<Option<(u64, u64, bool)>>,
}

impl Translator {
    pub fn new(vi: &VmcoreInfo, loads: &[Load]) -> Result<Translator> {
        let phys_base = phys_base(vi, loads)?;
        let pgt = vi.symbol("init_top_pgt")?;
        if !(START_KERNEL_MAP..KERNEL_IMAGE_END).contains(&pgt) {
            return Err(Error::BadValue {
                key: "SYMBOL(init_top_pgt)".into(),
                value: format!("{pgt:x}"),
                why: "not in the kernel image mapping".into(),
            });
        }
        let levels = match vi.opt_number("pgtable_l5_enabled")? {
            Some(1) => 5,
            Some(0) | None => 4,
            Some(v) => {
                return Err(Error::BadValue {
                    key: "NUMBER(pgtable_l5_enabled)".into(),
                    value: v.to_string(),
                    why: "expected 0 or 1".into(),
                })
            }
        };
        let page_offset = loads
            .iter()
            .filter(|l| l.vaddr < START_KERNEL_MAP && l.vaddr >= l.paddr && l.vaddr >= 0xff00_0000_0000_0000)
            .map(|l| l.vaddr - l.paddr)
            .min()
            .unwrap_or(if levels == 5 { 0xff11_0000_0000_0000 } else { 0xffff_8880_0000_0000 });
        Ok(Translator {
            phys_base,
            top_table: (pgt - START_KERNEL_MAP).wrapping_add(phys_base),
            levels,
            page_offset,
            last: Cell::new(None),
        })
    }

    pub fn is_kernel_addr(&self, vaddr: u64) -> bool {
        vaddr >= self.page_offset
    }

    pub fn to_phys(&self, mem: &PhysMem, vaddr: u64) -> Result<u64> {
        if (START_KERNEL_MAP..KERNEL_IMAGE_END).contains(&vaddr) {
            return Ok((vaddr - START_KERNEL_MAP).wrapping_add(self.phys_base));
        }
        let region = vaddr >> 21;
        if let Some((r, base, is_table)) = self.last.get() {
            if r == region {
                return if is_table { self.pte(mem, base, vaddr) } else { Ok(base | (vaddr & 0x1f_ffff)) };
            }
        }
        self.walk(mem, vaddr)
    }

    /// Translate by walking the page tables even in the kernel image
    /// mapping (which `to_phys` computes from phys_base): for finding how
    /// far that mapping really extends.
    pub fn walk_page_tables(&self, mem: &PhysMem, vaddr: u64) -> Result<u64> {
        self.walk(mem, vaddr)
    }

    fn entry(&self, mem: &PhysMem, table: u64, index: u64, vaddr: u64, level: &str) -> Result<u64> {
        let e = mem
            .read_u64(table + index * 8)
            .map_err(|e| Error::Translate { vaddr, why: format!("{level} table at {table:#x} unreadable: {e}") })?;
        if e & PTE_PRESENT == 0 {
            return Err(Error::Translate { vaddr, why: format!("{level} entry not present") });
        }
        Ok(e)
    }

    fn walk(&self, mem: &PhysMem, vaddr: u64) -> Result<u64> {
        let idx = |shift: u32| (vaddr >> shift) & 511;
        let mut table = self.top_table;
        if self.levels == 5 {
            table = self.entry(mem, table, idx(48), vaddr, "PGD")? & PTE_ADDR_MASK;
        }
        let e = self.entry(mem, table, idx(39), vaddr, if self.levels == 5 { "P4D" } else { "PGD" })?;
        let pud = self.entry(mem, e & PTE_ADDR_MASK, idx(30), vaddr, "PUD")?;
        if pud & PTE_PSE != 0 {
            return Ok((pud & PTE_ADDR_MASK & !0x3fff_ffff) | (vaddr & 0x3fff_ffff));
        }
        let pmd = self.entry(mem, pud & PTE_ADDR_MASK, idx(21), vaddr, "PMD")?;
        if pmd & PTE_PSE != 0 {
            let base = pmd & PTE_ADDR_MASK & !0x1f_ffff;
            self.last.set(Some((vaddr >> 21, base, false)));
            return Ok(base | (vaddr & 0x1f_ffff));
        }
        let table = pmd & PTE_ADDR_MASK;
        self.last.set(Some((vaddr >> 21, table, true)));
        self.pte(mem, table, vaddr)
    }

    fn pte(&self, mem: &PhysMem, table: u64, vaddr: u64) -> Result<u64> {
        let pte = self.entry(mem, table, (vaddr >> PAGE_SHIFT) & 511, vaddr, "PTE")?;
        Ok((pte & PTE_ADDR_MASK) | offset_in_page(vaddr))
    }

    /// The pfns of every page table of the kernel half of the address space
    /// (top table, P4D, PUD, PMD and PTE tables; not the pages they map),
    /// at most `limit` of them. Readers translate vmalloc'd stacks, per-CPU
    /// and module addresses through these before anything else.
    pub fn table_pfns(&self, mem: &PhysMem, limit: usize) -> Vec<u64> {
        let mut seen = std::collections::BTreeSet::new();
        // (table's physical address, its level: 5 = PGD of 5 levels ... 1 = PTE)
        let mut todo = vec![(self.top_table, self.levels)];
        while let Some((table, level)) = todo.pop() {
            if seen.len() >= limit || !seen.insert(table >> 12) {
                continue;
            }
            if level == 1 {
                continue;
            }
            // The top table's lower half maps user space (the kernel's own
            // top table has none, but a lying one must not cost a walk).
            let first = if level == self.levels { 256 } else { 0 };
            // One read per table, not per entry (a 2 GiB guest has ~1.5k
            // tables); a table the dump holds only part of is read entry
            // by entry up to the first it lacks.
            let mut page = [0u8; PAGE_SIZE as usize];
            let whole = mem.read(table & !(PAGE_SIZE - 1), &mut page).is_ok();
            for i in first..512u64 {
                let e = if whole {
                    crate::bytes::u64_at(&page, i as usize * 8).unwrap_or(0)
                } else {
                    let Ok(e) = mem.read_u64(table + i * 8) else { break };
                    e
                };
                // A large page (PSE, at PUD or PMD level) is a leaf.
                if e & PTE_PRESENT == 0 || (level <= 3 && e & PTE_PSE != 0) {
                    continue;
                }
                todo.push((e & PTE_ADDR_MASK, level - 1));
            }
        }
        seen.into_iter().collect()
    }

    /// Read kernel virtual memory, page by page.
    pub fn read(&self, mem: &PhysMem, vaddr: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let va = vaddr.wrapping_add(done as u64);
            let n = ((PAGE_SIZE - offset_in_page(va)) as usize).min(buf.len() - done);
            let pa = self.to_phys(mem, va)?;
            mem.read(pa, &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }

    /// Read kernel virtual memory like [`Self::read`], in fewer reads for
    /// long ranges: each PTE table is read once, whole (not one entry per
    /// page), and each physically contiguous run of pages in one read.
    /// The filter reads struct pages through it. It fails where `read`
    /// would, but its error may name another address.
    pub fn read_bulk(&self, mem: &PhysMem, vaddr: u64, buf: &mut [u8]) -> Result<()> {
        // the PTE table of the current 2 MiB region: (region, entries)
        let mut table: Option<(u64, Box<[u8]>)> = None;
        // the pending run: (physical address, start in buf, length)
        let mut run: Option<(u64, usize, usize)> = None;
        let mut done = 0usize;
        while done < buf.len() {
            let va = vaddr.wrapping_add(done as u64);
            let n = ((PAGE_SIZE - offset_in_page(va)) as usize).min(buf.len() - done);
            let region = va >> 21;
            let cached = match &table {
                Some((r, t)) if *r == region => {
                    let i = ((va >> PAGE_SHIFT) & 511) as usize * 8;
                    let e = crate::bytes::u64_at(t, i).unwrap_or(0);
                    if e & PTE_PRESENT == 0 {
                        return Err(Error::Translate { vaddr: va, why: "PTE entry not present".into() });
                    }
                    Some((e & PTE_ADDR_MASK) | offset_in_page(va))
                }
                _ => None,
            };
            let pa = match cached {
                Some(pa) => pa,
                None => {
                    let pa = self.to_phys(mem, va)?;
                    if let Some((r, base, true)) = self.last.get() {
                        if r == region {
                            let mut t = vec![0u8; PAGE_SIZE as usize].into_boxed_slice();
                            mem.read(base & !(PAGE_SIZE - 1), &mut t)?;
                            table = Some((region, t));
                        }
                    }
                    pa
                }
            };
            run = match run {
                Some((rpa, at, len)) if rpa.wrapping_add(len as u64) == pa => Some((rpa, at, len + n)),
                Some((rpa, at, len)) => {
                    mem.read(rpa, &mut buf[at..at + len])?;
                    Some((pa, done, n))
                }
                None => Some((pa, done, n)),
            };
            done += n;
        }
        if let Some((rpa, at, len)) = run {
            mem.read(rpa, &mut buf[at..at + len])?;
        }
        Ok(())
    }

    pub fn read_u64(&self, mem: &PhysMem, vaddr: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read(mem, vaddr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}
