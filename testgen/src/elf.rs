//! The ELF64 core file of `/proc/vmcore` (fs/proc/vmcore.c after the merge
//! of the per-CPU note segments): ELF header, program headers (`PT_NOTE`,
//! kernel text `PT_LOAD`, one `PT_LOAD` per RAM range), the notes at the
//! next page boundary, then the memory of each `PT_LOAD` at page-aligned
//! offsets, in program-header order.

use crate::kernel::*;
use crate::layout::{Layout, KERNEL_PAGES};
use crate::printk;

/// Default `CRASHTIME` (2024-11-22 03:10:15 UTC).
pub(crate) const CRASHTIME: u64 = 1_732_245_015;
/// Default `BUILD-ID`.
pub(crate) const BUILD_ID: &str = "3f5c0a7be1d24d9a8c6e2b71f09d4a5e6b3c2d1f";

fn hex(v: u64) -> String {
    format!("{v:x}")
}

/// The VMCOREINFO entries, in the order Linux 6.1 x86_64 writes them
/// (kernel/crash_core.c, kernel/printk/printk.c,
/// arch/x86/kernel/machine_kexec_64.c, then CRASHTIME at panic time). Key
/// set, order and the structure sizes/offsets are those of the Debian
/// `6.1.0-56-amd64` note in `docs/vmcoreinfo-debian-6.1.txt`; addresses,
/// BUILD-ID, phys_base, KERNELOFFSET and CRASHTIME are the generator's.
pub(crate) fn vmcoreinfo_pairs(l: &Layout, mem_section_indirect: bool) -> Vec<(String, String)> {
    let s = &l.sym;
    let five = l.cfg.five_level;
    let mem_section = if mem_section_indirect { s.mem_section_var } else { l.mem_section_root };
    let mut v: Vec<(String, String)> = Vec::new();
    let mut add = |k: &str, val: String| v.push((k.to_string(), val));
    let scheme = l.cfg.scheme;
    add("OSRELEASE", scheme.release().to_string());
    add("BUILD-ID", BUILD_ID.to_string());
    add("PAGESIZE", PAGE_SIZE.to_string());
    add("SYMBOL(init_uts_ns)", hex(s.init_uts_ns));
    add("OFFSET(uts_namespace.name)", "0".into());
    add("SYMBOL(node_online_map)", hex(s.node_online_map));
    add("SYMBOL(swapper_pg_dir)", hex(s.init_top_pgt));
    add("SYMBOL(_stext)", hex(s.text));
    add("SYMBOL(vmap_area_list)", hex(s.vmap_area_list));
    add("SYMBOL(mem_section)", hex(mem_section));
    add("LENGTH(mem_section)", l.nr_section_roots.to_string());
    add("SIZE(mem_section)", SIZE_MEM_SECTION.to_string());
    add("OFFSET(mem_section.section_mem_map)", "0".into());
    add("NUMBER(SECTION_SIZE_BITS)", SECTION_SIZE_BITS.to_string());
    let bits = if five { MAX_PHYSMEM_BITS_L5 } else { MAX_PHYSMEM_BITS_L4 };
    add("NUMBER(MAX_PHYSMEM_BITS)", bits.to_string());
    add("SIZE(page)", SIZE_PAGE.to_string());
    add("SIZE(pglist_data)", "174208".into());
    add("SIZE(zone)", "1536".into());
    add("SIZE(free_area)", "88".into());
    add("SIZE(list_head)", "16".into());
    add("SIZE(nodemask_t)", "128".into());
    add("OFFSET(page.flags)", OFF_FLAGS.to_string());
    add("OFFSET(page._refcount)", OFF_REFCOUNT.to_string());
    add("OFFSET(page.mapping)", OFF_MAPPING.to_string());
    add("OFFSET(page.lru)", OFF_LRU.to_string());
    add("OFFSET(page._mapcount)", OFF_MAPCOUNT.to_string());
    add("OFFSET(page.private)", OFF_PRIVATE.to_string());
    match scheme {
        Scheme::Linux6_1 => {
            add("OFFSET(page.compound_dtor)", OFF_COMPOUND_DTOR.to_string());
            add("OFFSET(page.compound_order)", OFF_COMPOUND_ORDER.to_string());
        }
        Scheme::Linux6_5 => {
            // folio offsets: the first tail's bytes, one struct page further
            add("OFFSET(folio._folio_dtor)", (SIZE_PAGE as usize + OFF_COMPOUND_DTOR).to_string());
            add("OFFSET(folio._folio_order)", (SIZE_PAGE as usize + OFF_COMPOUND_ORDER).to_string());
        }
        _ => {}
    }
    let tail_key = if scheme == Scheme::Linux7_3 { "OFFSET(page.compound_info)" } else { "OFFSET(page.compound_head)" };
    add(tail_key, OFF_COMPOUND_HEAD.to_string());
    add("OFFSET(pglist_data.node_zones)", "0".into());
    add("OFFSET(pglist_data.nr_zones)", "171552".into());
    add("OFFSET(pglist_data.node_start_pfn)", "171560".into());
    add("OFFSET(pglist_data.node_spanned_pages)", "171576".into());
    add("OFFSET(pglist_data.node_id)", "171584".into());
    add("OFFSET(zone.free_area)", "256".into());
    add("OFFSET(zone.vm_stat)", "1344".into());
    add("OFFSET(zone.spanned_pages)", "144".into());
    add("OFFSET(free_area.free_list)", "0".into());
    add("OFFSET(list_head.next)", "0".into());
    add("OFFSET(list_head.prev)", "8".into());
    add("OFFSET(vmap_area.va_start)", "0".into());
    add("OFFSET(vmap_area.list)", "40".into());
    add("LENGTH(zone.free_area)", MAX_ORDER.to_string());
    add("SYMBOL(prb)", hex(s.prb));
    add("SYMBOL(printk_rb_static)", hex(s.printk_rb_static));
    add("SYMBOL(clear_seq)", hex(s.clear_seq));
    add("SIZE(printk_ringbuffer)", printk::SIZE_PRINTK_RINGBUFFER.to_string());
    add("OFFSET(printk_ringbuffer.desc_ring)", "0".into());
    add("OFFSET(printk_ringbuffer.text_data_ring)", "48".into());
    add("OFFSET(printk_ringbuffer.fail)", "80".into());
    add("SIZE(prb_desc_ring)", printk::SIZE_PRB_DESC_RING.to_string());
    add("OFFSET(prb_desc_ring.count_bits)", "0".into());
    add("OFFSET(prb_desc_ring.descs)", "8".into());
    add("OFFSET(prb_desc_ring.infos)", "16".into());
    add("OFFSET(prb_desc_ring.head_id)", "24".into());
    add("OFFSET(prb_desc_ring.tail_id)", "32".into());
    add("SIZE(prb_desc)", printk::SIZE_PRB_DESC.to_string());
    add("OFFSET(prb_desc.state_var)", "0".into());
    add("OFFSET(prb_desc.text_blk_lpos)", "8".into());
    add("SIZE(prb_data_blk_lpos)", "16".into());
    add("OFFSET(prb_data_blk_lpos.begin)", "0".into());
    add("OFFSET(prb_data_blk_lpos.next)", "8".into());
    add("SIZE(printk_info)", printk::SIZE_PRINTK_INFO.to_string());
    add("OFFSET(printk_info.seq)", "0".into());
    add("OFFSET(printk_info.ts_nsec)", "8".into());
    add("OFFSET(printk_info.text_len)", "16".into());
    add("OFFSET(printk_info.caller_id)", "20".into());
    add("OFFSET(printk_info.dev_info)", "24".into());
    add("SIZE(dev_printk_info)", "64".into());
    add("OFFSET(dev_printk_info.subsystem)", "0".into());
    add("LENGTH(printk_info_subsystem)", "16".into());
    add("OFFSET(dev_printk_info.device)", "16".into());
    add("LENGTH(printk_info_device)", "48".into());
    add("SIZE(prb_data_ring)", printk::SIZE_PRB_DATA_RING.to_string());
    add("OFFSET(prb_data_ring.size_bits)", "0".into());
    add("OFFSET(prb_data_ring.data)", "8".into());
    add("OFFSET(prb_data_ring.head_lpos)", "16".into());
    add("OFFSET(prb_data_ring.tail_lpos)", "24".into());
    add("SIZE(atomic_long_t)", "8".into());
    add("OFFSET(atomic_long_t.counter)", "0".into());
    add("SIZE(latched_seq)", "24".into());
    add("OFFSET(latched_seq.val)", "8".into());
    add("LENGTH(free_area.free_list)", "5".into());
    add("NUMBER(NR_FREE_PAGES)", "0".into());
    add("NUMBER(PG_lru)", PG_LRU.to_string());
    add("NUMBER(PG_private)", PG_PRIVATE.to_string());
    add("NUMBER(PG_swapcache)", PG_SWAPCACHE.to_string());
    add("NUMBER(PG_swapbacked)", PG_SWAPBACKED.to_string());
    if !scheme.typed() {
        add("NUMBER(PG_slab)", PG_SLAB.to_string());
    }
    add("NUMBER(PG_hwpoison)", PG_HWPOISON.to_string());
    add("NUMBER(PG_head_mask)", PG_HEAD_MASK.to_string());
    if scheme == Scheme::Linux6_8 {
        add("NUMBER(PG_hugetlb)", PG_HUGETLB_6_8.to_string());
    }
    add("NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)", scheme.buddy_type().to_string());
    if matches!(scheme, Scheme::Linux6_1 | Scheme::Linux6_5) {
        add("NUMBER(HUGETLB_PAGE_DTOR)", HUGETLB_PAGE_DTOR.to_string());
    }
    if scheme.typed() {
        add("NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)", pgty(PGTY_HUGETLB).to_string());
    }
    add("NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)", scheme.offline_type().to_string());
    if scheme.typed() {
        add("NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)", pgty(PGTY_SLAB).to_string());
    }
    if scheme == Scheme::Linux7_3 {
        add("NUMBER(PAGE_UNACCEPTED_MAPCOUNT_VALUE)", pgty(PGTY_UNACCEPTED).to_string());
    }
    add("SYMBOL(kallsyms_names)", hex(s.kallsyms_names));
    add("SYMBOL(kallsyms_num_syms)", hex(s.kallsyms_num_syms));
    add("SYMBOL(kallsyms_token_table)", hex(s.kallsyms_token_table));
    add("SYMBOL(kallsyms_token_index)", hex(s.kallsyms_token_index));
    add("SYMBOL(kallsyms_offsets)", hex(s.kallsyms_offsets));
    add("SYMBOL(kallsyms_relative_base)", hex(s.kallsyms_relative_base));
    // VMCOREINFO_NUMBER prints a long: phys_base may be negative
    add("NUMBER(phys_base)", (l.phys_base as i64).to_string());
    add("SYMBOL(init_top_pgt)", hex(s.init_top_pgt));
    add("NUMBER(pgtable_l5_enabled)", u8::from(five).to_string());
    add("SYMBOL(node_data)", hex(s.node_data));
    add("LENGTH(node_data)", "1024".into());
    add("KERNELOFFSET", hex(l.cfg.kernel_offset));
    add("NUMBER(KERNEL_IMAGE_SIZE)", KERNEL_IMAGE_SIZE.to_string());
    add("NUMBER(sme_mask)", "0".into());
    add("CRASHTIME", CRASHTIME.to_string());
    v
}

/// VMCOREINFO text: `KEY=VALUE\n` lines.
pub(crate) fn vmcoreinfo_text(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

fn note(out: &mut Vec<u8>, name: &str, ntype: u32, desc: &[u8]) {
    let namesz = name.len() as u32 + 1;
    out.extend_from_slice(&namesz.to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&ntype.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(out.len().div_ceil(4) * 4, 0);
    out.extend_from_slice(desc);
    out.resize(out.len().div_ceil(4) * 4, 0);
}

/// Registers (pid, rip, rsp) of the two CPUs: CPU 0 panicked in a sysrq
/// handler on behalf of pid 1234 and saved its registers in
/// `__crash_kexec`, its stack in the image (crate::crash_stack); CPU 1 was
/// idle (pid 0).
pub(crate) fn cpu_regs(l: &Layout) -> [(i32, u64, u64); 2] {
    use crate::crash_stack::{cpu0_rsp, CPU0_RIP, CPU1_RIP};
    [(1234, l.text_vaddr + CPU0_RIP, cpu0_rsp(l)), (0, l.text_vaddr + CPU1_RIP, 0xffff_b1c2_c008_7ea8)]
}

fn prstatus(pid: i32, rip: u64, rsp: u64, cpu: u64, gs_base: u64) -> Vec<u8> {
    let mut d = vec![0u8; PRSTATUS_SIZE];
    d[PRSTATUS_PID..PRSTATUS_PID + 4].copy_from_slice(&pid.to_le_bytes());
    let mut regs = [0u64; 27];
    for (i, r) in regs.iter_mut().enumerate() {
        *r = crate::layout::mix(cpu * 100 + i as u64) & 0xffff_ffff;
    }
    regs[REG_RIP] = rip;
    regs[REG_RSP] = rsp;
    regs[4] = rsp + 0x30; // rbp
    regs[15] = u64::MAX; // orig_ax
    regs[17] = 0x10; // cs
    regs[18] = 0x10046; // eflags
    regs[20] = 0x18; // ss
    regs[21] = 0; // fs_base
    regs[22] = gs_base; // per-cpu area
    for (i, r) in regs.iter().enumerate() {
        let o = PRSTATUS_REG + i * 8;
        d[o..o + 8].copy_from_slice(&r.to_le_bytes());
    }
    d
}

/// The PT_NOTE contents.
pub(crate) fn notes(l: &Layout, vmcoreinfo: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (cpu, (pid, rip, rsp)) in cpu_regs(l).into_iter().enumerate() {
        note(
            &mut out,
            "CORE",
            NT_PRSTATUS,
            &prstatus(pid, rip, rsp, cpu as u64, l.direct(0x3bc0_0000 + cpu as u64 * 0x4_0000)),
        );
    }
    note(&mut out, "VMCOREINFO", 0, vmcoreinfo.as_bytes());
    out
}

fn round_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a) * a
}

struct Phdr {
    p_type: u32,
    p_flags: u32,
    offset: u64,
    vaddr: u64,
    paddr: u64,
    filesz: u64,
    memsz: u64,
}

/// The file's layout: its head (ELF header, program headers, notes,
/// padding) and, in file order, each PT_LOAD's `(first pfn, pages in the
/// file, file offset)`; the pages' bytes follow the head.
pub(crate) struct Plan {
    pub head: Vec<u8>,
    pub loads: Vec<(u64, u64, u64)>,
    pub len: u64,
}

/// The whole ELF file.
pub(crate) fn build(l: &Layout, vmcoreinfo: &str) -> Vec<u8> {
    let plan = plan(l, vmcoreinfo);
    let mut out = Vec::with_capacity(plan.len as usize);
    out.extend_from_slice(&plan.head);
    for (start, pages, _) in plan.loads {
        for pfn in start..start + pages {
            out.extend_from_slice(&l.page_content(pfn));
        }
    }
    debug_assert_eq!(out.len() as u64, plan.len);
    out
}

/// Plans the file (see [`Plan`]).
pub(crate) fn plan(l: &Layout, vmcoreinfo: &str) -> Plan {
    let notes = notes(l, vmcoreinfo);
    let ranges = &l.cfg.ranges;
    let phnum = 2 + ranges.len();
    let headers = (EHDR_SIZE + phnum * PHDR_SIZE) as u64;
    let note_off = round_up(headers, PAGE_SIZE);
    let mut off = round_up(note_off + notes.len() as u64, PAGE_SIZE);
    let mut phdrs = vec![Phdr {
        p_type: PT_NOTE,
        p_flags: 0,
        offset: note_off,
        vaddr: 0,
        paddr: 0,
        filesz: notes.len() as u64,
        memsz: notes.len() as u64,
    }];
    // (first pfn, pages in file) of each PT_LOAD, in file order
    let mut loads = Vec::new();
    let ksize = KERNEL_PAGES * PAGE_SIZE;
    phdrs.push(Phdr {
        p_type: PT_LOAD,
        p_flags: 7,
        offset: off,
        vaddr: l.text_vaddr,
        paddr: l.kernel_pfn * PAGE_SIZE,
        filesz: ksize,
        memsz: ksize,
    });
    loads.push((l.kernel_pfn, KERNEL_PAGES, off));
    off += ksize;
    for r in ranges {
        let pa = r.start * PAGE_SIZE;
        let filesz = (r.file_end - r.start) * PAGE_SIZE;
        phdrs.push(Phdr {
            p_type: PT_LOAD,
            p_flags: 7,
            offset: off,
            vaddr: l.direct(pa),
            paddr: pa,
            filesz,
            memsz: (r.end - r.start) * PAGE_SIZE,
        });
        loads.push((r.start, r.file_end - r.start, off));
        off += filesz;
    }

    let mut out = Vec::with_capacity(phdrs[1].offset as usize);
    // Elf64_Ehdr
    out.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(&ET_CORE.to_le_bytes());
    out.extend_from_slice(&EM_X86_64.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // e_version
    out.extend_from_slice(&0u64.to_le_bytes()); // e_entry
    out.extend_from_slice(&(EHDR_SIZE as u64).to_le_bytes()); // e_phoff
    out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    out.extend_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
    out.extend_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
    out.extend_from_slice(&(phnum as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shentsize
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
    debug_assert_eq!(out.len(), EHDR_SIZE);
    for p in &phdrs {
        out.extend_from_slice(&p.p_type.to_le_bytes());
        out.extend_from_slice(&p.p_flags.to_le_bytes());
        out.extend_from_slice(&p.offset.to_le_bytes());
        out.extend_from_slice(&p.vaddr.to_le_bytes());
        out.extend_from_slice(&p.paddr.to_le_bytes());
        out.extend_from_slice(&p.filesz.to_le_bytes());
        out.extend_from_slice(&p.memsz.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // p_align
    }
    out.resize(note_off as usize, 0);
    out.extend_from_slice(&notes);
    out.resize(phdrs[1].offset as usize, 0);
    Plan { head: out, loads, len: off }
}
