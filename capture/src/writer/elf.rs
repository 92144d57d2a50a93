//! The ELF writer (makedumpfile `-E`), for gdb and drgn. Every original
//! PT_LOAD stays covered end to end, keeping its virtual addresses (gdb
//! reads p_vaddr, crash p_paddr), so any address of the crashed kernel can
//! be read: excluded pages read as zeros. As in makedumpfile, a run of 256
//! or more excluded pages starts a new segment (its tail is `p_memsz` past
//! `p_filesz`, costing nothing); shorter gaps are stored, but as zeros, so
//! what the dump level excluded never reaches the file. The layout is
//! planned in a first pass, then the data is streamed.

use super::{out_err, Progress, WriteStats};
use crate::dump_level;
use crate::elf::vmcore::Load;
use crate::error::Result;
use crate::format::elf::*;
use crate::page::{PAGE_SHIFT, PAGE_SIZE};
use crate::select::{is_zero_page, Selector};
use crate::sink::{Cursor, Sink};

/// Excluded pages in a row that end a segment (makedumpfile's PFN_EXCLUDED).
const SPLIT_GAP: u64 = 256;

/// Kept pfns `[pfn, pfn + pages)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    pfn: u64,
    pages: u64,
}

/// One output PT_LOAD: `mem_pages` pages from `pfn`, the first
/// `file_pages` of them stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    vaddr: u64,
    pfn: u64,
    mem_pages: u64,
    file_pages: u64,
}

fn load_pfns(l: &Load) -> (u64, u64) {
    (l.paddr >> PAGE_SHIFT, (l.paddr + l.memsz).div_ceil(PAGE_SIZE))
}

/// Cut one original load into segments, given its kept runs in pfn order.
fn segments(l: &Load, runs: &[Run]) -> Vec<Segment> {
    let (first, end) = load_pfns(l);
    let vaddr_of = |pfn: u64| l.vaddr.wrapping_add((pfn << PAGE_SHIFT).wrapping_sub(l.paddr));
    let mut segs: Vec<Segment> = Vec::new();
    let mut cur = Segment { vaddr: vaddr_of(first), pfn: first, mem_pages: 0, file_pages: 0 };
    for r in runs {
        let stored_end = cur.pfn + cur.file_pages;
        if r.pfn - stored_end >= SPLIT_GAP && r.pfn > cur.pfn {
            cur.mem_pages = r.pfn - cur.pfn;
            segs.push(cur);
            cur = Segment { vaddr: vaddr_of(r.pfn), pfn: r.pfn, mem_pages: 0, file_pages: 0 };
        }
        cur.file_pages = r.pfn + r.pages - cur.pfn;
    }
    cur.mem_pages = end - cur.pfn;
    segs.push(cur);
    segs
}

pub fn write(sel: &Selector, sink: &mut dyn Sink, progress: &mut dyn Progress) -> Result<WriteStats> {
    let vm = sel.vm;
    let loads = &vm.elf.loads;
    let exclude_zero = sel.level & dump_level::ZERO != 0;
    let mut scratch = Vec::new();
    let total = vm.max_mapnr;

    // Pass 1: the kept pfns of each original PT_LOAD, as runs.
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); loads.len()];
    let (mut zero_pages, mut kept) = (0u64, 0u64);
    let mut pass = sel.pass();
    for (start, len) in sel.windows() {
        let (_, keep) = pass.window(start, len)?;
        for pfn in keep.iter() {
            if exclude_zero && sel.mem.with_page(pfn, &mut scratch, is_zero_page)? {
                zero_pages += 1;
                continue;
            }
            kept += 1;
            for (i, l) in loads.iter().enumerate() {
                let (first, end) = load_pfns(l);
                if !(first..end).contains(&pfn) {
                    continue;
                }
                match runs[i].last_mut() {
                    Some(r) if r.pfn + r.pages == pfn => r.pages += 1,
                    _ => runs[i].push(Run { pfn, pages: 1 }),
                }
            }
        }
        progress.update(start + len, 2 * total, 0);
    }
    let filter = pass.stats();
    let mut plan: Vec<(Segment, &[Run])> = Vec::new();
    for (l, r) in loads.iter().zip(&runs) {
        plan.extend(segments(l, r).into_iter().map(|s| (s, &r[..])));
    }

    let notes = &vm.elf.note_bytes;
    let nphdr = plan.len() as u64 + 1;
    let xnum = nphdr >= PN_XNUM as u64;
    let phoff = EHDR_SIZE as u64;
    let shoff = phoff + nphdr * PHDR_SIZE as u64;
    let note_off = shoff + if xnum { SHDR_SIZE as u64 } else { 0 };
    let data_start = (note_off + notes.len() as u64).div_ceil(PAGE_SIZE) * PAGE_SIZE;

    let mut eh = [0u8; EHDR_SIZE];
    eh[..4].copy_from_slice(ELFMAG);
    eh[ehdr::EI_CLASS] = ELFCLASS64;
    eh[ehdr::EI_DATA] = ELFDATA2LSB;
    eh[ehdr::EI_VERSION] = EV_CURRENT;
    eh[ehdr::E_TYPE..ehdr::E_TYPE + 2].copy_from_slice(&ET_CORE.to_le_bytes());
    eh[ehdr::E_MACHINE..ehdr::E_MACHINE + 2].copy_from_slice(&EM_X86_64.to_le_bytes());
    eh[ehdr::E_VERSION..ehdr::E_VERSION + 4].copy_from_slice(&1u32.to_le_bytes());
    eh[ehdr::E_PHOFF..ehdr::E_PHOFF + 8].copy_from_slice(&phoff.to_le_bytes());
    eh[ehdr::E_EHSIZE..ehdr::E_EHSIZE + 2].copy_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
    eh[ehdr::E_PHENTSIZE..ehdr::E_PHENTSIZE + 2].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
    let phnum = if xnum { PN_XNUM } else { nphdr as u16 };
    eh[ehdr::E_PHNUM..ehdr::E_PHNUM + 2].copy_from_slice(&phnum.to_le_bytes());
    if xnum {
        eh[ehdr::E_SHOFF..ehdr::E_SHOFF + 8].copy_from_slice(&shoff.to_le_bytes());
        eh[ehdr::E_SHENTSIZE..ehdr::E_SHENTSIZE + 2].copy_from_slice(&(SHDR_SIZE as u16).to_le_bytes());
        eh[ehdr::E_SHNUM..ehdr::E_SHNUM + 2].copy_from_slice(&1u16.to_le_bytes());
    }
    let mut hdrs = Cursor::new(0, 1 << 20);
    hdrs.push(sink, &eh).map_err(out_err)?;
    hdrs.push(sink, &phdr_bytes(PT_NOTE, 0, note_off, 0, 0, notes.len() as u64, notes.len() as u64))
        .map_err(out_err)?;
    let mut off = data_start;
    for (s, _) in &plan {
        let (file, mem) = (s.file_pages << PAGE_SHIFT, s.mem_pages << PAGE_SHIFT);
        let at = if file == 0 { 0 } else { off };
        hdrs.push(sink, &phdr_bytes(PT_LOAD, 7, at, s.vaddr, s.pfn << PAGE_SHIFT, file, mem)).map_err(out_err)?;
        off += file;
    }
    if xnum {
        let mut sh = [0u8; SHDR_SIZE];
        sh[SH_INFO..SH_INFO + 4].copy_from_slice(&(nphdr as u32).to_le_bytes());
        hdrs.push(sink, &sh).map_err(out_err)?;
    }
    hdrs.push(sink, notes).map_err(out_err)?;
    let pad = data_start - hdrs.position();
    hdrs.push(sink, &vec![0u8; pad as usize]).map_err(out_err)?;
    hdrs.flush(sink).map_err(out_err)?;

    // Pass 2: the stored part of each segment; excluded pages as zeros.
    let zeros = [0u8; PAGE_SIZE as usize];
    let mut data = Cursor::new(data_start, 1 << 20);
    let mut stored = 0u64;
    for (s, runs) in &plan {
        let end = s.pfn + s.file_pages;
        let mut i = runs.partition_point(|r| r.pfn + r.pages <= s.pfn);
        for pfn in s.pfn..end {
            while i < runs.len() && runs[i].pfn + runs[i].pages <= pfn {
                i += 1;
            }
            if runs.get(i).is_some_and(|r| r.pfn <= pfn) {
                sel.mem.with_page(pfn, &mut scratch, |p| data.push(sink, p))?.map_err(out_err)?;
            } else {
                data.push(sink, &zeros).map_err(out_err)?;
            }
        }
        stored += s.file_pages;
        progress.update(total + end.min(total), 2 * total, data.position());
    }
    data.flush(sink).map_err(out_err)?;
    sink.finish().map_err(out_err)?;
    Ok(WriteStats { pages_present: 0, pages_written: kept, zero_pages, raw_pages: stored, filter, bytes: data.offset })
}

fn phdr_bytes(
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    paddr: u64,
    filesz: u64,
    memsz: u64,
) -> [u8; PHDR_SIZE] {
    let mut p = [0u8; PHDR_SIZE];
    p[phdr::P_TYPE..phdr::P_TYPE + 4].copy_from_slice(&p_type.to_le_bytes());
    p[phdr::P_FLAGS..phdr::P_FLAGS + 4].copy_from_slice(&flags.to_le_bytes());
    p[phdr::P_OFFSET..phdr::P_OFFSET + 8].copy_from_slice(&offset.to_le_bytes());
    p[phdr::P_VADDR..phdr::P_VADDR + 8].copy_from_slice(&vaddr.to_le_bytes());
    p[phdr::P_PADDR..phdr::P_PADDR + 8].copy_from_slice(&paddr.to_le_bytes());
    p[phdr::P_FILESZ..phdr::P_FILESZ + 8].copy_from_slice(&filesz.to_le_bytes());
    p[phdr::P_MEMSZ..phdr::P_MEMSZ + 8].copy_from_slice(&memsz.to_le_bytes());
    // p_align stays 0: crash takes a page-aligned first PT_LOAD with a
    // non-zero p_align for the old netdump format and then cannot read it.
    p
}
