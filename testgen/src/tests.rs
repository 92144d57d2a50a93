//! Tests of the generator: a small reader walks the built bytes the way a
//! dump tool would (ELF, notes, VMCOREINFO, page tables, mem_section,
//! struct pages, printk) and checks them against the builder's answers.

use std::collections::{BTreeSet, HashMap};

use crate::kernel::*;
use crate::{PageKind, SynthVmcore};

fn u16_at(d: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(d[o..o + 2].try_into().unwrap())
}
fn u32_at(d: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(d[o..o + 4].try_into().unwrap())
}
fn u64_at(d: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(d[o..o + 8].try_into().unwrap())
}

#[derive(Debug, Clone, Copy)]
struct Phdr {
    p_type: u32,
    offset: u64,
    vaddr: u64,
    paddr: u64,
    filesz: u64,
    memsz: u64,
}

/// A minimal vmcore reader used only to check the generator.
struct Image {
    data: Vec<u8>,
    phdrs: Vec<Phdr>,
    info: HashMap<String, String>,
    notes: Vec<(String, u32, Vec<u8>)>,
}

impl Image {
    fn new(data: Vec<u8>) -> Image {
        assert_eq!(&data[..4], b"\x7fELF");
        assert_eq!(data[4], 2, "ELFCLASS64");
        assert_eq!(data[5], 1, "little endian");
        assert_eq!(u16_at(&data, 16), ET_CORE);
        assert_eq!(u16_at(&data, 18), EM_X86_64);
        assert_eq!(u64_at(&data, 32), 64, "e_phoff");
        assert_eq!(u16_at(&data, 54), PHDR_SIZE as u16);
        let phnum = u16_at(&data, 56) as usize;
        let phdrs: Vec<Phdr> = (0..phnum)
            .map(|i| {
                let o = 64 + i * PHDR_SIZE;
                Phdr {
                    p_type: u32_at(&data, o),
                    offset: u64_at(&data, o + 8),
                    vaddr: u64_at(&data, o + 16),
                    paddr: u64_at(&data, o + 24),
                    filesz: u64_at(&data, o + 32),
                    memsz: u64_at(&data, o + 40),
                }
            })
            .collect();
        let n = phdrs[0];
        assert_eq!(n.p_type, PT_NOTE);
        let mut notes = Vec::new();
        let mut o = n.offset as usize;
        let end = (n.offset + n.filesz) as usize;
        while o < end {
            let namesz = u32_at(&data, o) as usize;
            let descsz = u32_at(&data, o + 4) as usize;
            let ntype = u32_at(&data, o + 8);
            let name = String::from_utf8(data[o + 12..o + 12 + namesz - 1].to_vec()).unwrap();
            assert_eq!(data[o + 12 + namesz - 1], 0, "name NUL-terminated");
            let d = o + 12 + namesz.div_ceil(4) * 4;
            notes.push((name, ntype, data[d..d + descsz].to_vec()));
            o = d + descsz.div_ceil(4) * 4;
        }
        assert_eq!(o, end, "PT_NOTE size");
        let text = notes.iter().find(|n| n.0 == "VMCOREINFO").map(|n| String::from_utf8(n.2.clone()).unwrap()).unwrap();
        let info = text
            .lines()
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        Image { data, phdrs, info, notes }
    }

    fn num(&self, key: &str) -> i64 {
        self.info[key].parse().unwrap()
    }

    fn sym(&self, name: &str) -> u64 {
        let v = &self.info[&format!("SYMBOL({name})")];
        assert!(!v.starts_with("0x"));
        u64::from_str_radix(v, 16).unwrap()
    }

    fn read_phys(&self, pa: u64, len: usize) -> Vec<u8> {
        for p in &self.phdrs[1..] {
            if p.paddr <= pa && pa + len as u64 <= p.paddr + p.memsz {
                let off = pa - p.paddr;
                if off + len as u64 <= p.filesz {
                    let o = (p.offset + off) as usize;
                    return self.data[o..o + len].to_vec();
                }
                assert!(off >= p.filesz, "read across p_filesz");
                return vec![0; len];
            }
        }
        panic!("physical {pa:#x} not in any PT_LOAD");
    }

    fn read_phys_u64(&self, pa: u64) -> u64 {
        u64_at(&self.read_phys(pa, 8), 0)
    }

    /// Page-table walk from init_top_pgt; returns (pa, leaf size).
    fn walk(&self, va: u64) -> Option<(u64, u64)> {
        let phys_base = self.num("NUMBER(phys_base)") as u64;
        let root = self.sym("init_top_pgt").wrapping_sub(START_KERNEL_MAP).wrapping_add(phys_base);
        let five = self.num("NUMBER(pgtable_l5_enabled)") == 1;
        let mut table = root;
        let mut shift = if five { 48 } else { 39 };
        loop {
            let e = self.read_phys_u64(table + ((va >> shift) & 511) * 8);
            if e & PTE_PRESENT == 0 {
                return None;
            }
            let size = 1u64 << shift;
            if shift == 12 || ((shift == 21 || shift == 30) && e & PTE_PSE != 0) {
                return Some(((e & PTE_ADDR_MASK & !(size - 1)) + (va & (size - 1)), size));
            }
            table = e & PTE_ADDR_MASK;
            shift -= 9;
        }
    }

    fn read_virt(&self, va: u64, len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut va = va;
        while out.len() < len {
            let (pa, _) = self.walk(va).unwrap_or_else(|| panic!("{va:#x} unmapped"));
            let n = (4096 - (va & 4095) as usize).min(len - out.len());
            out.extend(self.read_phys(pa, n));
            va += n as u64;
        }
        out
    }

    /// mem_map virtual address of `pfn` from mem_section (None: no mem_map).
    fn mem_map(&self, pfn: u64, indirect: bool) -> Option<u64> {
        let mut root = self.sym("mem_section");
        if indirect {
            root = u64_at(&self.read_virt(root, 8), 0);
        }
        let sec = pfn >> (self.num("NUMBER(SECTION_SIZE_BITS)") - 12);
        let size = self.num("SIZE(mem_section)") as u64;
        let per_root = 4096 / size;
        assert!(sec / per_root < self.num("LENGTH(mem_section)") as u64);
        let arr = u64_at(&self.read_virt(root + sec / per_root * 8, 8), 0);
        if arr == 0 {
            return None;
        }
        let ms = u64_at(&self.read_virt(arr + (sec % per_root) * size, 8), 0);
        if ms & SECTION_MARKED_PRESENT == 0 {
            return None;
        }
        Some((ms & SECTION_MAP_MASK) + pfn * self.num("SIZE(page)") as u64)
    }
}

fn image(v: &SynthVmcore) -> Image {
    Image::new(v.build())
}

#[test]
fn elf_layout() {
    let v = SynthVmcore::sample();
    let img = image(&v);
    assert_eq!(img.phdrs.len(), 2 + crate::SAMPLE_RAM.len());
    let k = img.phdrs[1];
    assert_eq!(k.p_type, PT_LOAD);
    assert_eq!(k.vaddr, v.stext());
    assert_eq!(k.vaddr, START_KERNEL + crate::DEFAULT_KERNEL_OFFSET);
    assert_eq!(k.paddr, v.kernel_phys());
    assert_eq!(k.filesz, k.memsz);
    for (p, &(s, e)) in img.phdrs[2..].iter().zip(crate::SAMPLE_RAM.iter()) {
        assert_eq!(p.p_type, PT_LOAD);
        assert_eq!(p.paddr, s * 4096);
        assert_eq!(p.vaddr, v.page_offset() + p.paddr);
        assert_eq!(p.filesz, (e - s) * 4096);
        assert_eq!(p.memsz, p.filesz);
    }
    for p in &img.phdrs {
        assert_eq!(p.offset % 4096, 0, "{p:?}");
    }
    let last = img.phdrs.last().unwrap();
    assert_eq!(img.data.len() as u64, last.offset + last.filesz);
    assert!(img.data.len() < 9 << 20, "a few MB: {}", img.data.len());
    assert!(SynthVmcore::new().build().len() < 5 << 20);
    // the kernel PT_LOAD holds the same bytes as RAM
    let kb = &img.data[k.offset as usize..(k.offset + k.filesz) as usize];
    assert_eq!(kb, &img.read_phys(k.paddr, k.filesz as usize)[..]);
    // the metadata sits at the start of the first range
    assert_eq!(v.kernel_phys(), 0x100 * 4096);
    let r = v.reserved_pfns();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].start, 0x100);
    assert!(r[0].end <= 0x180, "{r:x?}");
}

#[test]
fn page_bytes_in_file_match_page_content() {
    let v = SynthVmcore::sample();
    let img = image(&v);
    for pfn in v.ram_pfns() {
        assert_eq!(img.read_phys(pfn * 4096, 4096), v.page_content(pfn), "pfn {pfn:#x}");
    }
    // deterministic
    assert_eq!(v.build(), SynthVmcore::sample().build());
}

#[test]
fn notes_prstatus_and_vmcoreinfo() {
    let v = SynthVmcore::sample();
    let img = image(&v);
    assert_eq!(img.notes.len(), 3);
    let regs = v.cpu_regs();
    for (i, n) in img.notes[..2].iter().enumerate() {
        assert_eq!(n.0, "CORE");
        assert_eq!(n.1, NT_PRSTATUS);
        assert_eq!(n.2.len(), PRSTATUS_SIZE);
        assert_eq!(u32_at(&n.2, PRSTATUS_PID) as i32, regs[i].0);
        assert_eq!(u64_at(&n.2, PRSTATUS_REG + REG_RIP * 8), regs[i].1);
        assert_eq!(u64_at(&n.2, PRSTATUS_REG + REG_RSP * 8), regs[i].2);
    }
    assert_eq!(regs[0].0, 1234);
    assert_eq!(regs[1].0, 0);
    let vi = &img.notes[2];
    assert_eq!((vi.0.as_str(), vi.1), ("VMCOREINFO", 0));
    assert_eq!(vi.2, v.vmcoreinfo().as_bytes());
    assert_eq!(v.notes(), img.data[4096..4096 + v.notes().len()]);
}

#[test]
fn vmcoreinfo_keys_and_formats() {
    let v = SynthVmcore::new();
    let img = image(&v);
    let text = v.vmcoreinfo();
    assert!(text.starts_with("OSRELEASE=6.1.0-56-amd64\nBUILD-ID="));
    assert!(text.ends_with(&format!("CRASHTIME={}\n", crate::CRASHTIME)));
    for (k, val) in &img.info {
        if k.starts_with("SYMBOL(") || k == "KERNELOFFSET" {
            assert!(u64::from_str_radix(val, 16).is_ok(), "{k}={val}");
            assert!(!val.starts_with("0x"));
        } else if k.starts_with("NUMBER(")
            || k.starts_with("SIZE(")
            || k.starts_with("OFFSET(")
            || k.starts_with("LENGTH(")
        {
            assert!(val.parse::<i64>().is_ok(), "{k}={val}");
        }
    }
    let expect = [
        ("PAGESIZE", "4096"),
        ("LENGTH(mem_section)", "4096"),
        ("SIZE(mem_section)", "32"),
        ("OFFSET(mem_section.section_mem_map)", "0"),
        ("NUMBER(SECTION_SIZE_BITS)", "27"),
        ("NUMBER(MAX_PHYSMEM_BITS)", "46"),
        ("SIZE(page)", "64"),
        ("OFFSET(page.flags)", "0"),
        ("OFFSET(page._refcount)", "52"),
        ("OFFSET(page.mapping)", "24"),
        ("OFFSET(page.lru)", "8"),
        ("OFFSET(page._mapcount)", "48"),
        ("OFFSET(page.private)", "40"),
        ("OFFSET(page.compound_dtor)", "16"),
        ("OFFSET(page.compound_order)", "17"),
        ("OFFSET(page.compound_head)", "8"),
        ("NUMBER(PG_lru)", "4"),
        ("NUMBER(PG_private)", "13"),
        ("NUMBER(PG_swapcache)", "10"),
        ("NUMBER(PG_swapbacked)", "19"),
        ("NUMBER(PG_slab)", "9"),
        ("NUMBER(PG_hwpoison)", "23"),
        ("NUMBER(PG_head_mask)", "65536"),
        ("NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)", "-129"),
        ("NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)", "-257"),
        ("NUMBER(HUGETLB_PAGE_DTOR)", "2"),
        ("NUMBER(pgtable_l5_enabled)", "0"),
        ("KERNELOFFSET", "2b600000"),
        ("LENGTH(zone.free_area)", "11"),
    ];
    for (k, val) in expect {
        assert_eq!(img.info.get(k).map(String::as_str), Some(val), "{k}");
    }
    // phys_base: kernel at 1 MiB, linked 16 MiB + KASLR offset above
    // __START_KERNEL_map: negative, printed as a long
    assert_eq!(img.num("NUMBER(phys_base)") as u64, v.phys_base());
    assert!(img.num("NUMBER(phys_base)") < 0);
    assert_eq!(v.stext().wrapping_sub(START_KERNEL_MAP).wrapping_add(v.phys_base()), v.kernel_phys());
    assert_eq!(img.sym("_stext"), v.stext());
    assert_eq!(img.sym("swapper_pg_dir"), img.sym("init_top_pgt"));
    // mem_section is the root array, in the direct map
    let ms = img.sym("mem_section");
    assert!(ms >= v.page_offset() && ms < v.page_offset() + (1 << 40));
}

#[test]
fn vmcoreinfo_edit_applies() {
    let v =
        SynthVmcore::new().vmcoreinfo_edit(|kv| kv.retain(|(k, _)| k != "SYMBOL(mem_section)")).vmcoreinfo_edit(|kv| {
            for (k, val) in kv.iter_mut() {
                if k == "PAGESIZE" {
                    *val = "65536".into();
                }
            }
        });
    let img = image(&v);
    assert!(!img.info.contains_key("SYMBOL(mem_section)"));
    assert_eq!(img.info["PAGESIZE"], "65536");
    // expected sets ignore edits
    assert_eq!(v.expected_pfns(31), SynthVmcore::new().expected_pfns(31));
}

fn check_translation(v: &SynthVmcore, indirect: bool) -> (u64, u64, u64) {
    let img = image(v);
    // kernel symbols: formula and walk agree
    let phys_base = v.phys_base();
    for s in ["init_uts_ns", "init_top_pgt", "prb", "node_data", "_stext"] {
        let va = img.sym(s);
        let (pa, _) = img.walk(va).unwrap();
        assert_eq!(pa, va.wrapping_sub(START_KERNEL_MAP).wrapping_add(phys_base), "{s}");
    }
    assert_eq!(img.sym("init_top_pgt").wrapping_sub(START_KERNEL_MAP).wrapping_add(phys_base), v.init_top_pgt_phys());
    // utsname
    let uts = img.read_virt(img.sym("init_uts_ns"), UTSNAME_SIZE);
    assert_eq!(&uts[..6], b"Linux\0");
    assert_eq!(&uts[130..130 + 15], b"6.1.0-56-amd64\0");
    assert_eq!(&uts[4 * 65..4 * 65 + 7], b"x86_64\0");
    // direct map of every RAM pfn, and nothing in holes
    let mut sizes = BTreeSet::new();
    for pfn in v.ram_pfns() {
        let (pa, size) = img.walk(v.page_offset() + pfn * 4096).unwrap();
        assert_eq!(pa, pfn * 4096);
        sizes.insert(size);
    }
    if !v.direct_map_1g {
        assert!(img.walk(v.page_offset() + 0x7000 * 4096).is_none());
        assert!(img.walk(v.page_offset() + 0x10 * 4096).is_none());
    }
    // struct pages through mem_section and the vmemmap
    let mut vm_sizes = BTreeSet::new();
    for pfn in v.ram_pfns() {
        let mm = img.mem_map(pfn, indirect).unwrap();
        assert_eq!(mm, v.vmemmap() + 64 * pfn);
        vm_sizes.insert(img.walk(mm).unwrap().1);
        assert_eq!(img.read_virt(mm, 64), v.struct_page(pfn), "pfn {pfn:#x}");
    }
    // holes of present sections have readable (reserved) struct pages
    let ram = v.ram_pfns();
    let sec = ram.first().unwrap() >> 15;
    let hole_pfn = (sec << 15..(sec + 1) << 15).find(|p| !ram.contains(p)).unwrap();
    let hole = img.read_virt(img.mem_map(hole_pfn, indirect).unwrap(), 64);
    assert_ne!(u64_at(&hole, 0) & (1 << PG_RESERVED), 0);
    (sizes.iter().copied().fold(0, |a, b| a | b), vm_sizes.iter().copied().fold(0, |a, b| a | b), v.max_mapnr())
}

#[test]
fn translation_4level() {
    let (dm, vm, _) = check_translation(&SynthVmcore::sample(), false);
    assert_eq!(dm, 4096 | (2 << 20), "direct map uses 4K and 2M pages");
    assert_eq!(vm, 4096);
}

#[test]
fn translation_5level() {
    let v = SynthVmcore::sample().five_level(true);
    let img = image(&v);
    assert_eq!(img.info["NUMBER(pgtable_l5_enabled)"], "1");
    assert_eq!(img.info["NUMBER(MAX_PHYSMEM_BITS)"], "52");
    assert_eq!(img.info["LENGTH(mem_section)"], "262144");
    assert_eq!(v.reserved_pfns()[1], 0x600..0x800, "root array top-down");
    assert!(v.page_offset() >> 56 == 0xff && v.page_offset() < 0xffff_0000_0000_0000);
    let (dm, _, _) = check_translation(&v, false);
    assert_eq!(dm, 4096 | (2 << 20));
}

#[test]
fn translation_variants() {
    let (_, vm, _) = check_translation(&SynthVmcore::sample().vmemmap_2m(true), false);
    assert_eq!(vm, (2 << 20) | 4096, "first section's mem_map in one 2M page, second in 4K");
    let v = SynthVmcore::sample().vmemmap_2m(true);
    assert_eq!(v.reserved_pfns()[1], 0x600..0x800);
    let both = SynthVmcore::sample().vmemmap_2m(true).five_level(true);
    assert_eq!(both.reserved_pfns()[1..], [0x400..0x600, 0x600..0x800]);
    check_translation(&both, false);
    let (dm, _, _) = check_translation(&SynthVmcore::new().direct_map_1g(true), false);
    assert_eq!(dm, 1 << 30);
    check_translation(&SynthVmcore::sample().mem_section_indirect(true), true);
    // three sections over two roots, positive phys_base
    let v = SynthVmcore::new()
        .ram(&[(0x8000, 0x8200), (0x48000, 0x48040), (0x90_0000, 0x90_0020)])
        .kernel_offset(0x600_0000)
        .page(0x8100, PageKind::Anon);
    assert_eq!(v.phys_base(), 0x100_0000);
    assert_eq!(v.max_mapnr(), 0x90_0020);
    let img = image(&v);
    assert_eq!(img.num("NUMBER(phys_base)"), 0x100_0000);
    check_translation(&v, false);
    // no mem_map for a section without RAM
    assert!(img.mem_map(0x10_0000, false).is_none());
    assert!(img.mem_map(0x20_0000 * 8, false).is_none());
}

#[test]
fn printk_ring_reads_back() {
    let v = SynthVmcore::new().dmesg(&["first line", "second, longer line of text", "x"]);
    let img = image(&v);
    let n = |k: &str| img.num(k) as u64;
    let prb = u64_at(&img.read_virt(img.sym("prb"), 8), 0);
    assert_eq!(prb, img.sym("printk_rb_static"));
    let rb = img.read_virt(prb, n("SIZE(printk_ringbuffer)") as usize);
    let dr = n("OFFSET(printk_ringbuffer.desc_ring)") as usize;
    let count_bits = u32_at(&rb, dr + n("OFFSET(prb_desc_ring.count_bits)") as usize);
    let descs = u64_at(&rb, dr + n("OFFSET(prb_desc_ring.descs)") as usize);
    let infos = u64_at(&rb, dr + n("OFFSET(prb_desc_ring.infos)") as usize);
    let head = u64_at(&rb, dr + n("OFFSET(prb_desc_ring.head_id)") as usize);
    let tail = u64_at(&rb, dr + n("OFFSET(prb_desc_ring.tail_id)") as usize);
    let tr = n("OFFSET(printk_ringbuffer.text_data_ring)") as usize;
    let size_bits = u32_at(&rb, tr + n("OFFSET(prb_data_ring.size_bits)") as usize);
    let data = u64_at(&rb, tr + n("OFFSET(prb_data_ring.data)") as usize);
    let count = 1u64 << count_bits;
    let dsize = 1u64 << size_bits;
    let mut lines = Vec::new();
    let mut id = tail;
    loop {
        let d = img.read_virt(descs + (id % count) * n("SIZE(prb_desc)"), 24);
        let sv = u64_at(&d, 0);
        assert_eq!(sv >> 62, 2, "finalized");
        assert_eq!(sv & ((1 << 62) - 1), id);
        let begin = u64_at(&d, 8) % dsize;
        let info = img.read_virt(infos + (id % count) * n("SIZE(printk_info)"), 24);
        let len = u16_at(&info, n("OFFSET(printk_info.text_len)") as usize) as usize;
        let blk = img.read_virt(data + begin, 8 + len);
        assert_eq!(u64_at(&blk, 0), id);
        lines.push(String::from_utf8(blk[8..].to_vec()).unwrap());
        if id == head {
            break;
        }
        id = (id + 1) & ((1 << 62) - 1);
    }
    assert_eq!(lines, v.dmesg_lines());
}

/// The brief's table, independent of the model: which levels keep a kind.
fn kept(kind: PageKind, level: u8) -> bool {
    use PageKind::*;
    match kind {
        Kernel | Zero | Slab => true,
        Cache | SwapCache | FileThp { .. } => level & 6 == 0,
        CachePrivate => level & 4 == 0,
        Anon | SwapCacheAnon | HugetlbHead { .. } | AnonThp { .. } => level & 8 == 0,
        Buddy { .. } | Unaccepted => level & 16 == 0,
        HwPoison | Offline => false,
        Raw { .. } => unreachable!(),
    }
}

#[test]
fn expected_sets_follow_the_kinds() {
    use PageKind::*;
    let kinds = [
        (0x180, Kernel),
        (0x181, Zero),
        (0x182, Cache),
        (0x183, CachePrivate),
        (0x184, SwapCache),
        (0x185, SwapCacheAnon),
        (0x186, Anon),
        (0x187, HwPoison),
        (0x188, Offline),
        (0x189, Slab),
        (0x18c, Buddy { order: 2 }),
        (0x190, Buddy { order: 4 }),
        (0x1a0, HugetlbHead { order: 5 }),
        (0x1c0, AnonThp { order: 3 }),
        (0x1c8, FileThp { order: 3 }),
        (0x8020, Buddy { order: 5 }),
        (0x8040, Cache),
    ];
    for scheme in crate::Scheme::ALL {
        expected_sets_follow_the_kinds_in(scheme, &kinds);
    }
}

fn expected_sets_follow_the_kinds_in(scheme: crate::Scheme, kinds: &[(u64, PageKind)]) {
    let mut kinds = kinds.to_vec();
    let mut v = SynthVmcore::new().scheme(scheme);
    if scheme == crate::Scheme::Linux7_3 {
        v = v.ram(&[(0x100, 0x400), (0x8000, 0x8100), (0x10000, 0x10400)]);
        kinds.push((0x10000, PageKind::Unaccepted));
    }
    for &(pfn, k) in &kinds {
        v = v.page(pfn, k);
    }
    let ram = v.ram_pfns();
    for level in 0..=31u8 {
        let kd = v.expected_pfns(level);
        let elf = v.expected_pfns_elf(level);
        assert!(kd.is_subset(&ram));
        for &(pfn, k) in &kinds {
            let span = crate::layout::kind_span(k);
            for p in pfn..pfn + span {
                assert_eq!(kd.contains(&p), kept(k, level), "{scheme:?}: {k:?} pfn {p:#x} level {level}");
                let elf_kept = kept(k, level) && !(level & 1 != 0 && k == PageKind::Zero);
                assert_eq!(elf.contains(&p), elf_kept, "ELF {k:?} {p:#x} level {level}");
            }
        }
        // metadata and plain pages are always kept (unless zero, in ELF)
        for r in v.reserved_pfns() {
            for p in r {
                assert!(kd.contains(&p));
            }
        }
        assert!(kd.contains(&0x3ff) && kd.contains(&0x80ff));
        assert!(!kd.contains(&0x400) && !kd.contains(&0x7fff));
        let zero_meta = v.reserved_pfns().into_iter().flatten().any(|p| !elf.contains(&p));
        assert_eq!(zero_meta, level & 1 != 0, "zero metadata pages at level {level}");
    }
    // level 0 drops only the hwpoisoned and the offline page
    assert_eq!(v.expected_pfns(0).len() as u64, ram.len() as u64 - 2);
}

#[test]
fn odd_struct_pages() {
    // a buddy order makedumpfile rejects, hwpoison beating cache, a slab
    // page with the offline value, a misaligned compound head
    let v = SynthVmcore::new()
        .page(0x200, PageKind::Raw { flags: 0, mapping: 0, private: 11, mapcount: PAGE_BUDDY_MAPCOUNT_VALUE })
        .page(
            0x201,
            PageKind::Raw {
                flags: 1 << PG_LRU | 1 << PG_HWPOISON,
                mapping: 0xffff_9a5c_0000_1000,
                private: 0,
                mapcount: -1,
            },
        )
        .page(
            0x202,
            PageKind::Raw { flags: 1 << PG_SLAB, mapping: 0, private: 0, mapcount: PAGE_OFFLINE_MAPCOUNT_VALUE },
        )
        .page(
            0x203,
            PageKind::Raw {
                flags: PG_HEAD_MASK | 1 << PG_LRU | 1 << 20,
                mapping: 0xffff_9a5c_0000_2001,
                private: 0,
                mapcount: -1,
            },
        );
    let l31 = v.expected_pfns(31);
    assert!(l31.contains(&0x200));
    assert!(!v.expected_pfns(0).contains(&0x201));
    assert!(!v.expected_pfns(2).contains(&0x201));
    assert!(l31.contains(&0x202));
    // anon head whose next page has order 0: just itself
    assert!(!v.expected_pfns(8).contains(&0x203));
    assert!(v.expected_pfns(8).contains(&0x204));
}

#[test]
fn short_filesz() {
    let v = SynthVmcore::sample().filesz_pages(1, 0xc0);
    let img = image(&v);
    let p = img.phdrs[3];
    assert_eq!(p.filesz, 0xc0 * 4096);
    assert_eq!(p.memsz, 0x100 * 4096);
    assert_eq!(img.data.len() as u64, p.offset + p.filesz);
    assert_eq!(v.page_content(0x80c0), vec![0; 4096]);
    assert_eq!(v.page_content(0x80f0), vec![0; 4096]);
    assert!(v.ram_pfns().contains(&0x80ff));
    // pfns without data in the file: in the 1st bitmap, never in the 2nd
    for level in [0u8, 1, 31] {
        assert!(!v.expected_pfns_elf(level).contains(&0x80c5));
        assert!(!v.expected_pfns(level).contains(&0x80ff));
        assert!(v.expected_pfns(level).contains(&0x80bf));
    }
    check_translation(&v, false);
}

#[test]
fn page_content_patterns() {
    let v = SynthVmcore::sample();
    assert_eq!(v.page_content(0x240), vec![0; 4096]); // Zero
    assert_eq!(v.page_content(0x2a8), vec![0; 4096]); // zero_content
    let p5 = v.page_content(0x205);
    assert!(p5[..4095].iter().all(|&b| b == 0) && p5[4095] != 0);
    let p9 = v.page_content(0x209);
    assert!(p9[0] != 0 && p9[1..].iter().all(|&b| b == 0));
    for pfn in v.free_pfns() {
        assert!(v.page_content(pfn).iter().any(|&b| b != 0), "{pfn:#x}");
    }
    assert_ne!(v.page_content(0x202), v.page_content(0x203));
}

#[test]
fn free_pfns_exclude_metadata_and_kinds() {
    let v = SynthVmcore::sample();
    let free: BTreeSet<u64> = v.free_pfns().into_iter().collect();
    assert!(!free.contains(&0x100));
    assert!(!free.contains(&0x265), "inside a buddy block");
    assert!(free.contains(&0x2d0));
    assert!((0x8000..0x8010).all(|p| free.contains(&p)));
    let five: BTreeSet<u64> = SynthVmcore::new().five_level(true).free_pfns().into_iter().collect();
    assert!(five.contains(&0x1ff) && !five.contains(&0x200) && !five.contains(&0x3ff));
}

#[test]
#[should_panic(expected = "reserved")]
fn kind_on_metadata_panics() {
    SynthVmcore::new().page(0x101, PageKind::Cache).build();
}

#[test]
#[should_panic(expected = "not RAM")]
fn kind_on_hole_panics() {
    SynthVmcore::new().page(0x500, PageKind::Cache).build();
}

#[test]
#[should_panic(expected = "two page kinds")]
fn overlapping_blocks_panic() {
    SynthVmcore::new().page(0x200, PageKind::Buddy { order: 3 }).page(0x204, PageKind::Anon).build();
}

#[test]
#[should_panic(expected = "not aligned")]
fn misaligned_block_panics() {
    SynthVmcore::new().page(0x202, PageKind::HugetlbHead { order: 2 }).build();
}

#[test]
#[should_panic(expected = "too small")]
fn tiny_first_range_panics() {
    SynthVmcore::new().ram(&[(0x100, 0x118)]).build();
}

/// Key set, order and non-address values match the real Debian 6.1 note
/// (`docs/vmcoreinfo-debian-6.1.txt`, when present).
#[test]
fn vmcoreinfo_matches_debian_reference() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/vmcoreinfo-debian-6.1.txt");
    let Ok(real) = std::fs::read_to_string(path) else {
        eprintln!("{path} absent: skipped");
        return;
    };
    let real: Vec<(String, String)> = real
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let mine = SynthVmcore::new().vmcoreinfo_pairs();
    let keys = |v: &[(String, String)]| v.iter().map(|p| p.0.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&mine), keys(&real));
    for ((k, a), (_, b)) in mine.iter().zip(&real) {
        let ours = matches!(k.as_str(), "BUILD-ID" | "KERNELOFFSET" | "CRASHTIME" | "NUMBER(phys_base)")
            || k.starts_with("SYMBOL(");
        if !ours {
            assert_eq!(a, b, "{k}");
        }
    }
}

#[test]
#[should_panic(expected = "must be 1..=10")]
fn huge_order_panics() {
    SynthVmcore::new().page(0x200, PageKind::AnonThp { order: 200 }).build();
}
