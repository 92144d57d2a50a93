//! The ELF writer (makedumpfile `-E`), for gdb and drgn. Each original
//! PT_LOAD is split into runs of kept pages, one output PT_LOAD per run,
//! keeping the original virtual addresses (gdb reads p_vaddr, crash
//! p_paddr). Zero pages are left out when the level says so. The layout is
//! planned in a first pass (the runs), then the data is streamed.

use super::{Progress, WriteStats};
use crate::elf::defs::*;
use crate::error::{Error, Result};
use crate::filter::level;
use crate::memory::{PAGE_SHIFT, PAGE_SIZE};
use crate::select::{is_zero_page, Selector};
use crate::sink::{Cursor, Sink};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    vaddr: u64,
    pfn: u64,
    pages: u64,
}

fn out_err(e: std::io::Error) -> Error {
    Error::Output { path: "<dump>".into(), source: e }
}

pub fn write(sel: &Selector, sink: &mut dyn Sink, progress: &mut dyn Progress) -> Result<WriteStats> {
    let vm = sel.vm;
    let exclude_zero = sel.level & level::ZERO != 0;
    let mut scratch = Vec::new();
    let total = vm.max_mapnr;

    // Pass 1: kept pfns, as runs per original PT_LOAD.
    let mut runs: Vec<Run> = Vec::new();
    let mut zero_pages = 0u64;
    let mut pass = sel.pass();
    for (start, len) in sel.windows() {
        let (_, keep) = pass.window(start, len)?;
        for pfn in keep.iter() {
            if exclude_zero && sel.mem.with_page(pfn, &mut scratch, is_zero_page)? {
                zero_pages += 1;
                continue;
            }
            for l in vm.elf.loads.iter() {
                let paddr = pfn << PAGE_SHIFT;
                if paddr < l.paddr || paddr >= l.paddr + l.memsz {
                    continue;
                }
                let vaddr = l.vaddr.wrapping_add(paddr - l.paddr);
                // Runs are appended in pfn order, so with overlapping loads
                // a run may continue anywhere among the open ones: look back
                // for the run this page extends.
                match runs.iter_mut().rev().take(8).find(|r| {
                    r.pfn + r.pages == pfn && r.vaddr.wrapping_add(r.pages << PAGE_SHIFT) == vaddr
                }) {
                    Some(r) => r.pages += 1,
                    None => runs.push(Run { vaddr, pfn, pages: 1 }),
                }
            }
        }
        progress.update(start + len, 2 * total, 0);
    }
    let filter = pass.stats();
    // Output segments in the order of their virtual addresses' loads: the
    // kernel-text alias first, as in /proc/vmcore.
    runs.sort_by_key(|r| (!crate::vmcore::Vmcore::is_text_load(r.vaddr), r.pfn));

    let notes = &vm.elf.note_bytes;
    let nphdr = runs.len() as u64 + 1;
    let xnum = nphdr >= PN_XNUM as u64;
    let phoff = EHDR_SIZE as u64;
    let shoff = phoff + nphdr * PHDR_SIZE as u64;
    let note_off = shoff + if xnum { SHDR_SIZE as u64 } else { 0 };
    let data_start = (note_off + notes.len() as u64).div_ceil(PAGE_SIZE) * PAGE_SIZE;

    let mut eh = [0u8; EHDR_SIZE];
    eh[..4].copy_from_slice(ELFMAG);
    eh[4] = ELFCLASS64;
    eh[5] = ELFDATA2LSB;
    eh[6] = EV_CURRENT;
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
    hdrs.push(sink, &phdr_bytes(PT_NOTE, 0, note_off, 0, 0, notes.len() as u64)).map_err(out_err)?;
    let mut off = data_start;
    for r in &runs {
        let size = r.pages << PAGE_SHIFT;
        hdrs.push(sink, &phdr_bytes(PT_LOAD, 7, off, r.vaddr, r.pfn << PAGE_SHIFT, size)).map_err(out_err)?;
        off += size;
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

    // Pass 2: the data of each run.
    let mut data = Cursor::new(data_start, 1 << 20);
    let mut pages = 0u64;
    for r in &runs {
        for pfn in r.pfn..r.pfn + r.pages {
            sel.mem.with_page(pfn, &mut scratch, |p| data.push(sink, p))?.map_err(out_err)?;
        }
        pages += r.pages;
        progress.update(total + r.pfn + r.pages, 2 * total, data.position());
    }
    data.flush(sink).map_err(out_err)?;
    sink.finish().map_err(out_err)?;
    Ok(WriteStats { pages_present: 0, pages_written: pages, zero_pages, raw_pages: pages, filter, bytes: data.offset })
}

fn phdr_bytes(p_type: u32, flags: u32, offset: u64, vaddr: u64, paddr: u64, size: u64) -> [u8; PHDR_SIZE] {
    let mut p = [0u8; PHDR_SIZE];
    p[phdr::P_TYPE..phdr::P_TYPE + 4].copy_from_slice(&p_type.to_le_bytes());
    p[phdr::P_FLAGS..phdr::P_FLAGS + 4].copy_from_slice(&flags.to_le_bytes());
    p[phdr::P_OFFSET..phdr::P_OFFSET + 8].copy_from_slice(&offset.to_le_bytes());
    p[phdr::P_VADDR..phdr::P_VADDR + 8].copy_from_slice(&vaddr.to_le_bytes());
    p[phdr::P_PADDR..phdr::P_PADDR + 8].copy_from_slice(&paddr.to_le_bytes());
    p[phdr::P_FILESZ..phdr::P_FILESZ + 8].copy_from_slice(&size.to_le_bytes());
    p[phdr::P_MEMSZ..phdr::P_MEMSZ + 8].copy_from_slice(&size.to_le_bytes());
    p[phdr::P_ALIGN..phdr::P_ALIGN + 8].copy_from_slice(&(if p_type == PT_LOAD { PAGE_SIZE } else { 0 }).to_le_bytes());
    p
}
