//! Mutation smoke test: "no panic, no hang on any input", on stable, in
//! plain `cargo test`. Deterministic pseudo-random (xorshift, fixed seeds)
//! corruptions of synthetic vmcores from `kexdump-testgen` — ELF header,
//! program headers, note headers, VMCOREINFO text (values replaced by huge,
//! negative, hex or empty ones, lines deleted, characters changed), page
//! table entries, struct pages, mem_section — plus crafted inputs. Each
//! case is parsed and, if it parses, saved at levels 0 and 31 to kdump and
//! ELF into a discarding flattened sink. Errors are fine; a panic or a case
//! that runs past its time budget fails the test, which then lists every
//! distinct panic site with the first case that hit it.
//!
//! Cost: the bulk runs on a small vmcore ("mini", every page kind, ~150
//! pages); a slice of every generator runs on `SynthVmcore::sample()` and
//! on a 5-level variant. ~3,500 cases, ~10 s on 2 CPUs in a debug build.
//! Deeper, coverage-guided runs: fuzz/ (docs/fuzzing.md).
//!
//! Cases whose program headers describe more than 16 GiB of physical
//! address space are only parsed: the engine's work grows with the pfns
//! the PT_LOADs describe (every one is visited in every pass, stored or
//! not), and `huge_address_space` checks that sparse or out-of-range ones
//! end in bounded time.

use kexdump_engine::compress::Compression;
use kexdump_engine::input::Input;
use kexdump_engine::mem_map;
use kexdump_engine::page_scheme::PageScheme;
use kexdump_engine::sink::FlatSink;
use kexdump_engine::translate::Translator;
use kexdump_engine::writer::Progress;
use kexdump_engine::{save, Format, SaveOptions, Vmcore};
use kexdump_testgen::interesting::{INTERESTING_STR, INTERESTING_U16, INTERESTING_U32, INTERESTING_U64};
use kexdump_testgen::{PageKind, SynthVmcore};
use std::backtrace::Backtrace;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Once, OnceLock};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- inputs

const PTE_ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

/// Values that always get tried on the keys the engine reads.
const ALWAYS_STR: [&str; 5] = ["18446744073709551615", "-1", "0", "-9223372036854775808", "ffffffffffffffff"];

/// The VMCOREINFO keys the engine reads (capture/src, dmesg.rs included),
/// tried with more values.
const USED_KEYS: [&str; 56] = [
    "OSRELEASE",
    "PAGESIZE",
    "CRASHTIME",
    "KERNELOFFSET",
    "SYMBOL(init_top_pgt)",
    "SYMBOL(init_uts_ns)",
    "OFFSET(uts_namespace.name)",
    "SYMBOL(mem_section)",
    "LENGTH(mem_section)",
    "SIZE(mem_section)",
    "OFFSET(mem_section.section_mem_map)",
    "NUMBER(SECTION_SIZE_BITS)",
    "NUMBER(MAX_PHYSMEM_BITS)",
    "NUMBER(phys_base)",
    "NUMBER(pgtable_l5_enabled)",
    "SIZE(page)",
    "OFFSET(page.flags)",
    "OFFSET(page.mapping)",
    "OFFSET(page._mapcount)",
    "OFFSET(page.private)",
    "OFFSET(page.compound_head)",
    "OFFSET(page.compound_order)",
    "OFFSET(page.compound_dtor)",
    "NUMBER(PG_lru)",
    "NUMBER(PG_private)",
    "NUMBER(PG_swapcache)",
    "NUMBER(PG_swapbacked)",
    "NUMBER(PG_slab)",
    "NUMBER(PG_hwpoison)",
    "NUMBER(PG_head_mask)",
    "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)",
    "NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)",
    "NUMBER(HUGETLB_PAGE_DTOR)",
    "LENGTH(zone.free_area)",
    "SYMBOL(_stext)",
    "NUMBER(KERNEL_IMAGE_SIZE)",
    "SYMBOL(prb)",
    "SIZE(printk_ringbuffer)",
    "OFFSET(printk_ringbuffer.desc_ring)",
    "OFFSET(printk_ringbuffer.text_data_ring)",
    "OFFSET(prb_desc_ring.count_bits)",
    "OFFSET(prb_desc_ring.descs)",
    "OFFSET(prb_desc_ring.infos)",
    "OFFSET(prb_desc_ring.head_id)",
    "OFFSET(prb_desc_ring.tail_id)",
    "SIZE(prb_desc)",
    "OFFSET(prb_desc.state_var)",
    "OFFSET(prb_desc.text_blk_lpos)",
    "OFFSET(prb_data_blk_lpos.begin)",
    "OFFSET(prb_data_blk_lpos.next)",
    "SIZE(printk_info)",
    "OFFSET(printk_info.ts_nsec)",
    "OFFSET(printk_info.text_len)",
    "OFFSET(prb_data_ring.size_bits)",
    "OFFSET(prb_data_ring.data)",
    "OFFSET(atomic_long_t.counter)",
];

/// xorshift64: deterministic, seeded per generator.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
    fn pick<T: Copy>(&mut self, s: &[T]) -> T {
        s[self.below(s.len())]
    }
    /// A position in `ranges` (concatenated).
    fn in_ranges(&mut self, ranges: &[Range<usize>]) -> usize {
        let total: usize = ranges.iter().map(|r| r.len()).sum();
        let mut i = self.below(total);
        for r in ranges {
            if i < r.len() {
                return r.start + i;
            }
            i -= r.len();
        }
        unreachable!("empty ranges")
    }
}

/// A running case: its done flag and, once started, (case index, start time).
type LiveCase = (Arc<AtomicBool>, Option<(usize, Instant)>);
fn rd_u16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap())
}
fn rd_u32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn rd_u64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// A base vmcore and the file offsets of its parts.
struct Base {
    name: &'static str,
    bytes: Vec<u8>,
    lines: Vec<String>,
    /// File offsets of the program headers.
    phdrs: Vec<usize>,
    /// PT_NOTE segment, and the file offset of each note header in it.
    note_seg: Range<usize>,
    note_hdrs: Vec<usize>,
    /// The VMCOREINFO descriptor (text).
    info_desc: Range<usize>,
    /// Every file copy of the generator's metadata pages.
    meta: Vec<Range<usize>>,
    /// Page-table entries met on walks: (what, every file copy).
    pt_entries: Vec<(String, Vec<usize>)>,
    /// Struct pages of selected pfns: (pfn, every file copy).
    struct_pages: Vec<(u64, Vec<usize>)>,
}

impl Base {
    /// (p_offset, p_paddr, p_filesz) of each PT_LOAD.
    fn loads(b: &[u8]) -> Vec<(u64, u64, u64)> {
        let phoff = rd_u64(b, 32) as usize;
        (0..rd_u16(b, 56) as usize)
            .map(|i| phoff + i * 56)
            .filter(|&p| rd_u32(b, p) == 1)
            .map(|p| (rd_u64(b, p + 8), rd_u64(b, p + 24), rd_u64(b, p + 32)))
            .collect()
    }

    /// Every file offset holding physical address `pa`.
    fn copies(loads: &[(u64, u64, u64)], pa: u64) -> Vec<usize> {
        loads
            .iter()
            .filter(|&&(_, paddr, filesz)| paddr <= pa && pa < paddr + filesz)
            .map(|&(off, paddr, _)| (off + pa - paddr) as usize)
            .collect()
    }

    /// Walk the page tables for `va`; returns the entries visited (as
    /// physical addresses, with their level) and the physical address.
    fn walk(
        b: &[u8],
        loads: &[(u64, u64, u64)],
        top: u64,
        five: bool,
        va: u64,
    ) -> (Vec<(&'static str, u64)>, Option<u64>) {
        let levels: &[(&str, u32)] = if five {
            &[("pgd", 48), ("p4d", 39), ("pud", 30), ("pmd", 21), ("pte", 12)]
        } else {
            &[("pgd", 39), ("pud", 30), ("pmd", 21), ("pte", 12)]
        };
        let mut table = top;
        let mut seen = Vec::new();
        for &(name, shift) in levels {
            let entry_pa = table + ((va >> shift) & 511) * 8;
            seen.push((name, entry_pa));
            let Some(&off) = Self::copies(loads, entry_pa).first() else { return (seen, None) };
            let e = rd_u64(b, off);
            if e & 1 == 0 {
                return (seen, None);
            }
            if (shift == 30 || shift == 21) && e & 0x80 != 0 {
                let mask = (1u64 << shift) - 1;
                return (seen, Some((e & PTE_ADDR_MASK & !mask) | (va & mask)));
            }
            table = e & PTE_ADDR_MASK;
        }
        (seen, Some(table | (va & 0xfff)))
    }

    fn new(name: &'static str, v: &SynthVmcore, five: bool, pfns: &[u64]) -> Base {
        let bytes = v.build();
        let lines: Vec<String> = v.vmcoreinfo().lines().map(str::to_owned).collect();
        let phoff = rd_u64(&bytes, 32) as usize;
        let phdrs: Vec<usize> = (0..rd_u16(&bytes, 56) as usize).map(|i| phoff + i * 56).collect();
        let note_ph = *phdrs.iter().find(|&&p| rd_u32(&bytes, p) == 4).unwrap();
        let (noff, nlen) = (rd_u64(&bytes, note_ph + 8) as usize, rd_u64(&bytes, note_ph + 32) as usize);
        let mut note_hdrs = Vec::new();
        let mut info_desc = 0..0;
        let mut pos = noff;
        while pos + 12 <= noff + nlen {
            let (namesz, descsz) = (rd_u32(&bytes, pos) as usize, rd_u32(&bytes, pos + 4) as usize);
            if namesz == 0 && descsz == 0 {
                break;
            }
            note_hdrs.push(pos);
            let desc = pos + 12 + namesz.div_ceil(4) * 4;
            if &bytes[pos + 12..pos + 12 + namesz] == b"VMCOREINFO\0" {
                info_desc = desc..desc + descsz;
            }
            pos = desc + descsz.div_ceil(4) * 4;
        }
        assert!(!info_desc.is_empty(), "{name}: no VMCOREINFO note");

        let loads = Self::loads(&bytes);
        let mut meta = Vec::new();
        for r in v.reserved_pfns() {
            for &(off, paddr, filesz) in &loads {
                let (s, e) = ((r.start << 12).max(paddr), (r.end << 12).min(paddr + filesz));
                if s < e {
                    meta.push((off + s - paddr) as usize..(off + e - paddr) as usize);
                }
            }
        }

        let top = v.init_top_pgt_phys();
        let mut pt_entries: BTreeMap<u64, String> = BTreeMap::new();
        let mut struct_pages = Vec::new();
        let mut walk = |what: String, va: u64| {
            let (seen, pa) = Self::walk(&bytes, &loads, top, five, va);
            for (lvl, entry) in seen {
                pt_entries.entry(entry).or_insert_with(|| format!("{lvl} entry for {what} ({va:#x})"));
            }
            pa
        };
        walk("_stext".into(), v.stext());
        walk("the direct map".into(), v.page_offset() + 0x100000);
        walk("the direct map of pfn 0x8000".into(), v.page_offset() + 0x8000000);
        for &pfn in pfns {
            let pa = walk(format!("struct page {pfn:#x}"), v.vmemmap() + 64 * pfn).expect("struct page mapped");
            struct_pages.push((pfn, Self::copies(&loads, pa)));
        }
        let pt_entries = pt_entries.into_iter().map(|(pa, what)| (what, Self::copies(&loads, pa))).collect();
        Base {
            name,
            bytes,
            lines,
            phdrs,
            note_seg: noff..noff + nlen,
            note_hdrs,
            info_desc,
            meta,
            pt_entries,
            struct_pages,
        }
    }
}

/// Every page kind in a small vmcore: 0x80 + 0x20 RAM pages, the kinds in
/// the second range (always free).
fn mini() -> SynthVmcore {
    use PageKind::*;
    let mut v = SynthVmcore::new().ram(&[(0x100, 0x180), (0x8000, 0x8020)]);
    let kinds = [
        (0x8000, Zero),
        (0x8001, Cache),
        (0x8002, CachePrivate),
        (0x8003, SwapCache),
        (0x8004, SwapCacheAnon),
        (0x8005, Anon),
        (0x8006, HwPoison),
        (0x8007, Offline),
        (0x8008, Buddy { order: 2 }),
        (0x800c, HugetlbHead { order: 2 }),
        (0x8010, AnonThp { order: 1 }),
        (0x8012, FileThp { order: 1 }),
        (0x8014, Slab),
        (0x8015, Raw { flags: 0, mapping: 0, private: 11, mapcount: -129 }),
        (0x8018, Buddy { order: 3 }),
    ];
    for (pfn, k) in kinds {
        v = v.page(pfn, k);
    }
    v.zero_content(0x8005)
}

const MINI_PFNS: [u64; 16] = [
    0x100, 0x150, 0x8000, 0x8001, 0x8002, 0x8003, 0x8005, 0x8006, 0x8007, 0x8008, 0x8009, 0x800c, 0x800d, 0x8010,
    0x8014, 0x8018,
];
const SAMPLE_PFNS: [u64; 10] = [0x240, 0x242, 0x250, 0x254, 0x260, 0x280, 0x281, 0x290, 0x2a1, 0x8010];

fn bases() -> &'static [Base; 3] {
    static BASES: OnceLock<[Base; 3]> = OnceLock::new();
    BASES.get_or_init(|| {
        [
            Base::new("mini", &mini(), false, &MINI_PFNS),
            Base::new("sample", &SynthVmcore::sample(), false, &SAMPLE_PFNS),
            Base::new(
                "mini-5level",
                &mini().ram(&[(0x100, 0x400), (0x8000, 0x8020)]).five_level(true),
                true,
                &MINI_PFNS[2..8],
            ),
        ]
    })
}
const MINI: usize = 0;
const SAMPLE: usize = 1;
const MINI5: usize = 2;

// ---------------------------------------------------------------- cases

#[derive(Clone, Debug)]
enum Edit {
    /// Overwrite bytes at a file offset.
    Set(usize, Vec<u8>),
    /// Replace the VMCOREINFO text (rewritten at the end of the file).
    Info(Vec<String>),
    Truncate(usize),
    /// A whole vmcore instead of the base (a regression file).
    File(std::path::PathBuf),
}

struct Case {
    base: usize,
    name: String,
    edits: Vec<Edit>,
    /// Save even when the headers describe a huge physical address space.
    always_save: bool,
}

fn case(base: usize, name: String, edits: Vec<Edit>) -> Case {
    Case { base, name, edits, always_save: false }
}

fn set_u16(at: usize, v: u16) -> Edit {
    Edit::Set(at, v.to_le_bytes().to_vec())
}
fn set_u32(at: usize, v: u32) -> Edit {
    Edit::Set(at, v.to_le_bytes().to_vec())
}
fn set_u64(at: usize, v: u64) -> Edit {
    Edit::Set(at, v.to_le_bytes().to_vec())
}

/// Rewrite the PT_NOTE (other notes first, VMCOREINFO last, with `text`)
/// at the end of the file and point the program header at it.
fn set_vmcoreinfo(image: &mut Vec<u8>, b: &Base, text: &[u8]) {
    let mut seg = Vec::new();
    let info_hdr = *b.note_hdrs.last().unwrap();
    seg.extend_from_slice(&image[b.note_seg.start..info_hdr]);
    seg.extend_from_slice(&11u32.to_le_bytes());
    seg.extend_from_slice(&(text.len() as u32).to_le_bytes());
    seg.extend_from_slice(&0u32.to_le_bytes());
    seg.extend_from_slice(b"VMCOREINFO\0\0");
    seg.extend_from_slice(text);
    seg.resize(seg.len().div_ceil(4) * 4, 0);
    let off = image.len();
    image.extend_from_slice(&seg);
    let ph = b.phdrs[0];
    image[ph + 8..ph + 16].copy_from_slice(&(off as u64).to_le_bytes());
    image[ph + 32..ph + 40].copy_from_slice(&(seg.len() as u64).to_le_bytes());
    image[ph + 40..ph + 48].copy_from_slice(&(seg.len() as u64).to_le_bytes());
}

fn apply(b: &Base, edits: &[Edit]) -> Vec<u8> {
    let mut image = b.bytes.clone();
    for e in edits {
        match e {
            Edit::Set(at, bytes) => {
                let end = (at + bytes.len()).min(image.len());
                if *at < end {
                    image[*at..end].copy_from_slice(&bytes[..end - at]);
                }
            }
            Edit::Info(lines) => {
                let mut text = lines.join("\n");
                text.push('\n');
                set_vmcoreinfo(&mut image, b, text.as_bytes());
            }
            Edit::Truncate(n) => image.truncate(*n),
            Edit::File(path) => image = std::fs::read(path).unwrap(),
        }
    }
    image
}

fn key_of(line: &str) -> &str {
    line.split_once('=').map_or(line, |(k, _)| k)
}

fn with_value(b: &Base, i: usize, value: &str) -> Edit {
    let mut lines = b.lines.clone();
    lines[i] = format!("{}={value}", key_of(&lines[i]));
    Edit::Info(lines)
}

fn header_cases(base: usize, rng: &mut Rng, out: &mut Vec<Case>) {
    let b = &bases()[base];
    for off in 0..64 {
        let orig = b.bytes[off];
        for v in [rng.byte(), 0, 0xff, orig ^ 0x80] {
            if v != orig {
                out.push(case(base, format!("ELF header byte {off} = {v:#x}"), vec![Edit::Set(off, vec![v])]));
            }
        }
    }
    for (field, off) in [("e_phoff", 32), ("e_shoff", 40)] {
        for v in INTERESTING_U64 {
            out.push(case(base, format!("{field} = {v:#x}"), vec![set_u64(off, v)]));
        }
    }
    for (field, off) in [("e_phentsize", 54), ("e_phnum", 56), ("e_shentsize", 58), ("e_shnum", 60), ("e_shstrndx", 62)]
    {
        for v in INTERESTING_U16 {
            out.push(case(base, format!("{field} = {v:#x}"), vec![set_u16(off, v)]));
        }
    }
    // PN_XNUM with a section header (count in sh_info) at random places.
    for _ in 0..16 {
        let random = rng.next() % 0x3000;
        let shoff = rng.pick(&[0u64, 1, 64, 0x1000, u64::MAX - 8, b.bytes.len() as u64 - 32, random]);
        let count = rng.pick(&INTERESTING_U32);
        let mut edits = vec![set_u16(56, 0xffff), set_u64(40, shoff)];
        if (shoff as usize).checked_add(48).is_some_and(|e| e <= b.bytes.len()) {
            edits.push(set_u32(shoff as usize + 44, count));
        }
        out.push(case(base, format!("e_phnum = PN_XNUM, e_shoff = {shoff:#x}, sh_info = {count:#x}"), edits));
    }
}

fn phdr_cases(base: usize, rng: &mut Rng, per_field: usize, out: &mut Vec<Case>) {
    let b = &bases()[base];
    for (i, &ph) in b.phdrs.iter().enumerate() {
        for v in INTERESTING_U32 {
            out.push(case(base, format!("phdr {i} p_type = {v:#x}"), vec![set_u32(ph, v)]));
        }
        for (field, off) in
            [("p_offset", 8), ("p_vaddr", 16), ("p_paddr", 24), ("p_filesz", 32), ("p_memsz", 40), ("p_align", 48)]
        {
            let mut vals = INTERESTING_U64.to_vec();
            // Near the original: off by a page, by one, halved, doubled.
            let orig = rd_u64(&b.bytes, ph + off);
            vals.extend([
                orig.wrapping_add(1),
                orig.wrapping_sub(1),
                orig.wrapping_add(0x1000),
                orig / 2,
                orig.wrapping_mul(2),
            ]);
            for _ in 0..per_field.min(vals.len()) {
                let v = vals.swap_remove(rng.below(vals.len()));
                out.push(case(base, format!("phdr {i} {field} = {v:#x}"), vec![set_u64(ph + off, v)]));
            }
        }
        // filesz and memsz together (p_filesz <= p_memsz still holds).
        for _ in 0..4 {
            let v = rng.pick(&INTERESTING_U64);
            out.push(case(
                base,
                format!("phdr {i} p_filesz = p_memsz = {v:#x}"),
                vec![set_u64(ph + 32, v), set_u64(ph + 40, v)],
            ));
        }
    }
    let table = b.phdrs[0]..b.phdrs.last().unwrap() + 56;
    for _ in 0..48 {
        let at = rng.in_ranges(std::slice::from_ref(&table));
        let v = rng.byte();
        out.push(case(base, format!("program header byte {at:#x} = {v:#x}"), vec![Edit::Set(at, vec![v])]));
    }
}

fn note_cases(base: usize, rng: &mut Rng, random: usize, out: &mut Vec<Case>) {
    let b = &bases()[base];
    for (i, &h) in b.note_hdrs.iter().enumerate() {
        for (field, off) in [("namesz", 0), ("descsz", 4), ("type", 8)] {
            for v in INTERESTING_U32 {
                out.push(case(base, format!("note {i} {field} = {v:#x}"), vec![set_u32(h + off, v)]));
            }
        }
    }
    for _ in 0..random {
        let at = rng.in_ranges(std::slice::from_ref(&b.note_seg));
        let v = rng.byte();
        out.push(case(base, format!("PT_NOTE byte {at:#x} = {v:#x}"), vec![Edit::Set(at, vec![v])]));
    }
    for _ in 0..random {
        let at = rng.in_ranges(std::slice::from_ref(&b.info_desc));
        let random = rng.byte();
        let v = rng.pick(&[random, b'\n', b'=', 0, 0xff, b'-', b'9', b'f', b' ']);
        out.push(case(base, format!("VMCOREINFO text byte {at:#x} = {v:#x}"), vec![Edit::Set(at, vec![v])]));
    }
}

fn vmcoreinfo_cases(base: usize, rng: &mut Rng, per_used_key: usize, out: &mut Vec<Case>) {
    let b = &bases()[base];
    for (i, line) in b.lines.iter().enumerate() {
        let key = key_of(line);
        let mut lines = b.lines.clone();
        lines.remove(i);
        out.push(case(base, format!("VMCOREINFO without {key}"), vec![Edit::Info(lines)]));
        let vals: Vec<&str> = if USED_KEYS.contains(&key) {
            let mut v = ALWAYS_STR.to_vec();
            v.extend((0..per_used_key).map(|_| rng.pick(&INTERESTING_STR)));
            v
        } else {
            vec![rng.pick(&INTERESTING_STR)]
        };
        for v in vals {
            out.push(case(base, format!("VMCOREINFO {key}={v:?}"), vec![with_value(b, i, v)]));
        }
        // One character of the value changed (a digit becomes another
        // character, or the value gets a sign or a space).
        if let Some((k, val)) = line.split_once('=') {
            if !val.is_empty() {
                let mut chars: Vec<char> = val.chars().collect();
                let at = rng.below(chars.len());
                chars[at] = rng.pick(&['0', '9', 'f', 'x', '-', ' ', 'g', '\u{0}', '+', '.']);
                let v: String = chars.into_iter().collect();
                let mut lines = b.lines.clone();
                lines[i] = format!("{k}={v}");
                out.push(case(base, format!("VMCOREINFO {k}={v:?} (one character)"), vec![Edit::Info(lines)]));
            }
        }
    }
    // A duplicate key before the real one (the first occurrence wins), an
    // empty note, a note of garbage lines.
    for _ in 0..8 {
        let i = rng.below(b.lines.len());
        let mut lines = b.lines.clone();
        lines.insert(0, format!("{}={}", key_of(&b.lines[i]), rng.pick(&INTERESTING_STR)));
        out.push(case(base, format!("VMCOREINFO duplicate {}", lines[0]), vec![Edit::Info(lines)]));
    }
    out.push(case(base, "VMCOREINFO empty".into(), vec![Edit::Info(vec![])]));
    out.push(case(
        base,
        "VMCOREINFO without '='".into(),
        vec![Edit::Info(b.lines.iter().map(|l| l.replace('=', " ")).collect())],
    ));
}

fn page_table_cases(base: usize, rng: &mut Rng, per_entry: usize, out: &mut Vec<Case>) {
    let b = &bases()[base];
    for (what, copies) in &b.pt_entries {
        let orig = rd_u64(&b.bytes, copies[0]);
        let mut vals = vec![orig & !1, orig | 0x80, orig ^ 0x80, orig.wrapping_add(0x1000), orig | (1 << 51)];
        vals.extend((0..per_entry).map(|_| rng.pick(&INTERESTING_U64)));
        for v in vals {
            let edits = copies.iter().map(|&at| set_u64(at, v)).collect();
            out.push(case(base, format!("{what} = {v:#x} (was {orig:#x})"), edits));
        }
    }
}

fn struct_page_cases(base: usize, rng: &mut Rng, n: usize, out: &mut Vec<Case>) {
    let b = &bases()[base];
    const FIELDS: [(&str, usize, usize); 8] = [
        ("flags", 0, 8),
        ("compound_head", 8, 8),
        ("compound_dtor", 16, 1),
        ("compound_order", 17, 1),
        ("mapping", 24, 8),
        ("private", 40, 8),
        ("_mapcount", 48, 4),
        ("_refcount", 52, 4),
    ];
    for _ in 0..n {
        let (pfn, copies) = &b.struct_pages[rng.below(b.struct_pages.len())];
        let (field, off, len) = rng.pick(&FIELDS);
        let v = match rng.below(4) {
            0 => rng.next(),
            1 => 1u64 << rng.below(64),
            2 => rng.pick(&[u64::MAX, 0, 10, 11, 63, 64, 65, 0xff, (-129i64) as u64, (-257i64) as u64]),
            _ => rng.pick(&INTERESTING_U64),
        };
        let bytes = v.to_le_bytes()[..len].to_vec();
        let edits = copies.iter().map(|&at| Edit::Set(at + off, bytes.clone())).collect();
        out.push(case(base, format!("struct page {pfn:#x} {field} = {v:#x}"), edits));
    }
}

fn metadata_cases(base: usize, rng: &mut Rng, n: usize, out: &mut Vec<Case>) {
    let b = &bases()[base];
    // Non-zero words of the metadata pages (live PTEs, mem_section
    // entries, struct page fields, kernel variables).
    let mut done = 0;
    while done < n {
        let at = rng.in_ranges(&b.meta) & !7;
        if rd_u64(&b.bytes, at) == 0 && rng.below(8) != 0 {
            continue;
        }
        let v =
            if rng.below(2) == 0 { rng.pick(&INTERESTING_U64) } else { rd_u64(&b.bytes, at) ^ (1 << rng.below(64)) };
        out.push(case(base, format!("metadata word {at:#x} = {v:#x}"), vec![set_u64(at, v)]));
        done += 1;
    }
}

fn multi_byte_cases(base: usize, rng: &mut Rng, n: usize, out: &mut Vec<Case>) {
    let b = &bases()[base];
    let mut regions = vec![0..0x1000, b.note_seg.clone(), b.info_desc.clone()];
    regions.extend(b.meta.iter().cloned());
    for _ in 0..n {
        let k = 2 + rng.below(31);
        let edits: Vec<Edit> = (0..k).map(|_| Edit::Set(rng.in_ranges(&regions), vec![rng.byte()])).collect();
        let name = format!(
            "{k} random bytes: {}",
            edits
                .iter()
                .map(|e| if let Edit::Set(a, v) = e { format!("{a:#x}={:#x}", v[0]) } else { String::new() })
                .collect::<Vec<_>>()
                .join(",")
        );
        out.push(case(base, name, edits));
    }
    for _ in 0..12 {
        let n = rng.below(b.bytes.len());
        out.push(case(base, format!("truncated to {n:#x} bytes"), vec![Edit::Truncate(n)]));
    }
    for n in [0, 1, 4, 63, 64, 65, 0x1000, b.note_seg.start + 20, b.note_seg.end - 1] {
        out.push(case(base, format!("truncated to {n:#x} bytes"), vec![Edit::Truncate(n)]));
    }
}

/// The inputs the brief and the format facts single out.
fn crafted_cases(out: &mut Vec<Case>) {
    let b = &bases()[MINI];
    let note = b.phdrs[0];
    let ram = b.phdrs[2];
    let info = *b.note_hdrs.last().unwrap();
    let mut add = |name: &str, edits: Vec<Edit>| out.push(case(MINI, name.into(), edits));
    add("e_phnum = 0xffff, e_shoff bogus (u64::MAX)", vec![set_u16(56, 0xffff), set_u64(40, u64::MAX)]);
    add("e_phnum = 0xffff, e_shoff bogus (u64::MAX - 10)", vec![set_u16(56, 0xffff), set_u64(40, u64::MAX - 10)]);
    add("e_phnum = 0xffff, e_shoff = 0", vec![set_u16(56, 0xffff), set_u64(40, 0)]);
    add("e_phnum = 0xffff, e_shoff past the end", vec![set_u16(56, 0xffff), set_u64(40, b.bytes.len() as u64 + 1)]);
    add(
        "e_phnum = 0xffff, sh_info = u32::MAX",
        vec![set_u16(56, 0xffff), set_u64(40, 0x200), set_u32(0x200 + 44, u32::MAX)],
    );
    add(
        "e_phnum = 0xffff, sh_info = 1 << 22",
        vec![set_u16(56, 0xffff), set_u64(40, 0x200), set_u32(0x200 + 44, 1 << 22)],
    );
    add("e_phoff = u64::MAX - 8", vec![set_u64(32, u64::MAX - 8)]);
    add("PT_NOTE p_filesz = u64::MAX", vec![set_u64(note + 32, u64::MAX)]);
    add("PT_NOTE p_filesz = 64 MiB", vec![set_u64(note + 32, 64 << 20)]);
    add("PT_NOTE p_offset = u64::MAX", vec![set_u64(note + 8, u64::MAX)]);
    add("PT_NOTE p_offset + p_filesz overflows", vec![set_u64(note + 8, u64::MAX - 0x10), set_u64(note + 32, 0x100)]);
    add(
        "PT_LOAD p_offset + p_filesz overflows",
        vec![set_u64(ram + 8, u64::MAX - 0xfff), set_u64(ram + 32, 0x2000), set_u64(ram + 40, 0x2000)],
    );
    add("PT_LOAD p_offset = u64::MAX, p_filesz = 1", vec![set_u64(ram + 8, u64::MAX), set_u64(ram + 32, 1)]);
    add("PT_LOAD p_paddr + p_memsz overflows", vec![set_u64(ram + 24, u64::MAX - 0xfff), set_u64(ram + 40, 0x10000)]);
    add(
        "PT_LOAD p_paddr + p_memsz = u64::MAX",
        vec![set_u64(ram + 24, u64::MAX - 0x1000), set_u64(ram + 32, 0), set_u64(ram + 40, 0x1000)],
    );
    add("PT_LOAD p_filesz > p_memsz", vec![set_u64(ram + 40, 0x1000)]);
    add("namesz = 0xffffffff", vec![set_u32(b.note_hdrs[0], u32::MAX)]);
    add("VMCOREINFO namesz = 0xffffffff", vec![set_u32(info, u32::MAX)]);
    add("descsz = 0xffffffff", vec![set_u32(b.note_hdrs[0] + 4, u32::MAX)]);
    add(
        "namesz = descsz = 0xfffffffd",
        vec![set_u32(b.note_hdrs[0], 0xffff_fffd), set_u32(b.note_hdrs[0] + 4, 0xffff_fffd)],
    );
    add("no PT_LOAD", vec![set_u32(b.phdrs[1], 0), set_u32(b.phdrs[2], 0), set_u32(b.phdrs[3], 0)]);
    add("no PT_NOTE", vec![set_u32(note, 0)]);
    add("two PT_NOTEs", vec![set_u32(b.phdrs[1], 4)]);
    add(
        "every PT_LOAD p_filesz = 0",
        vec![set_u64(b.phdrs[1] + 32, 0), set_u64(ram + 32, 0), set_u64(b.phdrs[3] + 32, 0)],
    );
    add("overlapping PT_LOADs", vec![set_u64(b.phdrs[3] + 24, 0x100000)]);
    add("PT_LOAD not page aligned", vec![set_u64(ram + 24, 0x100123)]);
    add("PT_LOAD p_memsz = 1", vec![set_u64(ram + 32, 1), set_u64(ram + 40, 1)]);
    add("kernel text PT_LOAD at p_vaddr 0", vec![set_u64(b.phdrs[1] + 16, 0)]);
    let lines = |edit: &dyn Fn(&mut Vec<String>)| {
        let mut l = b.lines.clone();
        edit(&mut l);
        Edit::Info(l)
    };
    let replace = |key: &'static str, v: &'static str| {
        lines(&move |l: &mut Vec<String>| {
            for line in l.iter_mut().filter(|x| key_of(x) == key) {
                *line = format!("{key}={v}");
            }
        })
    };
    add("SYMBOL(init_uts_ns) = ffffffffffffffff", vec![replace("SYMBOL(init_uts_ns)", "ffffffffffffffff")]);
    add("SYMBOL(mem_section) = ffffffffffffffff", vec![replace("SYMBOL(mem_section)", "ffffffffffffffff")]);
    add("SYMBOL(init_top_pgt) = ffffffffbffffff8", vec![replace("SYMBOL(init_top_pgt)", "ffffffffbffffff8")]);
    add("NUMBER(phys_base) = -1", vec![replace("NUMBER(phys_base)", "-1")]);
    add(
        "NUMBER(phys_base) = -2147483648 with init_top_pgt at the top",
        vec![replace("NUMBER(phys_base)", "-1"), replace("SYMBOL(init_top_pgt)", "ffffffffbffff000")],
    );
    add("OFFSET(page.flags) = u64::MAX", vec![replace("OFFSET(page.flags)", "18446744073709551615")]);
    add("OFFSET(page.mapping) = u64::MAX - 7", vec![replace("OFFSET(page.mapping)", "18446744073709551608")]);
    add(
        "OFFSET(mem_section.section_mem_map) = u64::MAX",
        vec![replace("OFFSET(mem_section.section_mem_map)", "18446744073709551615")],
    );
    add("OFFSET(uts_namespace.name) = u64::MAX", vec![replace("OFFSET(uts_namespace.name)", "18446744073709551615")]);
    add("NUMBER(SECTION_SIZE_BITS) = 13", vec![replace("NUMBER(SECTION_SIZE_BITS)", "13")]);
    add(
        "NUMBER(SECTION_SIZE_BITS) = 13, plain SPARSEMEM",
        vec![replace("NUMBER(SECTION_SIZE_BITS)", "13"), replace("LENGTH(mem_section)", "1")],
    );
    add("NUMBER(MAX_PHYSMEM_BITS) = 64", vec![replace("NUMBER(MAX_PHYSMEM_BITS)", "64")]);
    add("NUMBER(MAX_PHYSMEM_BITS) = -1", vec![replace("NUMBER(MAX_PHYSMEM_BITS)", "-1")]);
    add("SIZE(mem_section) = 8", vec![replace("SIZE(mem_section)", "8")]);
    add("SIZE(page) = 1024", vec![replace("SIZE(page)", "1024")]);
    add("SIZE(page) = 16", vec![replace("SIZE(page)", "16")]);
    add("NUMBER(PG_head_mask) = -1", vec![replace("NUMBER(PG_head_mask)", "-1")]);
    add(
        "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE) = -1 (every page free)",
        vec![replace("NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)", "-1")],
    );
    add(
        "LENGTH(zone.free_area) = 18446744073709551615",
        vec![replace("LENGTH(zone.free_area)", "18446744073709551615")],
    );
    add("PAGESIZE = 65536", vec![replace("PAGESIZE", "65536")]);
    add("CRASHTIME = -9223372036854775808", vec![replace("CRASHTIME", "-9223372036854775808")]);
    add(
        "OSRELEASE of 1000 characters",
        vec![lines(&|l: &mut Vec<String>| l[0] = format!("OSRELEASE={}", "é".repeat(500)))],
    );
    add("VMCOREINFO not UTF-8", vec![lines(&|l: &mut Vec<String>| l[1] = "BUILD-ID=\u{fffd}\u{fffd}".into())]);

    // Sections smaller than the filter's 64-pfn batch of struct pages
    // (SECTION_SIZE_BITS < 18): one present section starting at a pfn that
    // is not a multiple of 64. With LENGTH(mem_section) no longer matching,
    // the table is plain SPARSEMEM, so the root array is read as struct
    // mem_section and one of its (zero) entries is made present.
    let sym = b.lines.iter().find_map(|l| l.strip_prefix("SYMBOL(mem_section)=")).unwrap();
    let root_off = va_to_off(&b.bytes, u64::from_str_radix(sym, 16).unwrap()).expect("mem_section root in the file");
    let root0 = rd_u64(&b.bytes, root_off);
    for bits in [13u32, 14, 17] {
        let pps = 1usize << (bits - 12);
        let nr = (0x100 + pps) / pps;
        let bits_line = lines(&move |l: &mut Vec<String>| {
            for line in l.iter_mut().filter(|x| key_of(x) == "NUMBER(SECTION_SIZE_BITS)") {
                *line = format!("NUMBER(SECTION_SIZE_BITS)={bits}");
            }
        });
        add(
            &format!("NUMBER(SECTION_SIZE_BITS)={bits}, section {nr:#x} (pfn {:#x}) present", nr * pps),
            vec![bits_line, set_u64(root_off + nr * 32, root0 | 1)],
        );
    }
    // What save_mutated found (fuzz/regressions/save_mutated/
    // filter-rs-307-section-size-bits-17): the same on the sample, through
    // a flipped bit in its metadata.
    let s = &bases()[SAMPLE];
    let mut l = s.lines.clone();
    for line in l.iter_mut().filter(|x| key_of(x) == "NUMBER(SECTION_SIZE_BITS)") {
        *line = "NUMBER(SECTION_SIZE_BITS)=17".into();
    }
    out.push(case(
        SAMPLE,
        "NUMBER(SECTION_SIZE_BITS)=17, bit 0 of byte 0x4b4fb set (fuzz: save_mutated)".into(),
        vec![Edit::Info(l), Edit::Set(0x4b4fb, vec![s.bytes[0x4b4fb] | 1])],
    ));
}

/// The file offset of kernel virtual address `va` in a PT_LOAD's data.
fn va_to_off(b: &[u8], va: u64) -> Option<usize> {
    let phoff = rd_u64(b, 32) as usize;
    (0..rd_u16(b, 56) as usize).map(|i| phoff + i * 56).filter(|&p| rd_u32(b, p) == 1).find_map(|p| {
        let (off, vaddr, filesz) = (rd_u64(b, p + 8), rd_u64(b, p + 16), rd_u64(b, p + 32));
        (vaddr <= va && va - vaddr < filesz).then(|| (off + va - vaddr) as usize)
    })
}

// ---------------------------------------------------------------- running

/// How a case ended badly.
#[derive(Debug)]
enum Failure {
    Panic { site: String, message: String, backtrace: Option<Backtrace>, phase: String },
    Hang { phase: String, elapsed: Duration },
}

#[derive(Default)]
struct Tally {
    cases: usize,
    parsed: usize,
    saves_ok: usize,
    saves_err: usize,
    parse_only: usize,
}

/// Unwinds out of the engine when a case runs past its time budget (the
/// writers report progress at every window of pfns). `resume_unwind`, not
/// `panic!`: the panic hook is not involved.
struct Budget {
    start: Instant,
    limit: Duration,
}

struct OverBudget(Duration);

impl Progress for Budget {
    fn update(&mut self, _: u64, _: u64, _: u64) {
        let t = self.start.elapsed();
        if t > self.limit {
            panic::resume_unwind(Box::new(OverBudget(t)));
        }
    }
}

thread_local! {
    /// Set while a case runs: its panics are recorded, not printed.
    static IN_CASE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static LAST_PANIC: RefCell<Option<(String, String, Backtrace)>> = const { RefCell::new(None) };
}

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_CASE.with(|c| c.get()) {
                return default(info);
            }
            let site = info.location().map_or("?".into(), |l| format!("{}:{}", l.file(), l.line()));
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            // Captured here, symbolized only for the report.
            let bt = Backtrace::force_capture();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some((site, message, bt)));
        }));
    });
}

/// Physical address space the program headers describe, in pages (what
/// the engine's max_mapnr would be).
fn described_pfns(image: &[u8]) -> u64 {
    if image.len() < 64 {
        return 0;
    }
    let phoff = rd_u64(image, 32);
    let mut max = 0u64;
    for i in 0..rd_u16(image, 56) as u64 {
        let Some(p) = phoff.checked_add(i * 56).and_then(|p| usize::try_from(p).ok()) else { break };
        if p.checked_add(56).is_none_or(|e| e > image.len()) {
            break;
        }
        if rd_u32(image, p) == 1 {
            let (paddr, memsz) = (rd_u64(image, p + 24), rd_u64(image, p + 40));
            max = max.max(paddr.saturating_add(memsz));
        }
    }
    max.div_ceil(4096)
}

/// Cases describing more pfns than this (16 GiB) are only parsed.
const HUGE_PFNS: u64 = 1 << 22;

fn run_case(c: &Case, limit: Duration, tally: &mut Tally) -> Result<(), Failure> {
    let b = &bases()[c.base];
    let image = apply(b, &c.edits);
    let parse_only = described_pfns(&image) > HUGE_PFNS && !c.always_save;
    let start = Instant::now();
    let mut phase = "parse".to_string();
    IN_CASE.with(|f| f.set(true));
    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        let Ok(vm) = Vmcore::from_input(Input::from_bytes(image)) else { return };
        tally.parsed += 1;
        // The derived views on their own (a save reaches some of them only
        // when others succeed first).
        phase = "VMCOREINFO views, dmesg".into();
        let _ = vm.info.page_size();
        let _ = vm.info.kernel_offset();
        let _ = vm.info.crash_time();
        let _ = PageScheme::from_vmcoreinfo(&vm.info).map(|s| s.limits(31));
        let _ = kexdump_engine::utsname::utsname(&vm);
        let _ = kexdump_engine::dmesg::read_log(&vm);
        if let Ok(tr) = Translator::new(&vm.info, &vm.elf.loads) {
            let _ = mem_map::sections(&vm.info, &vm.mem(), &tr, vm.max_mapnr.min(HUGE_PFNS));
        }
        if parse_only {
            tally.parse_only += 1;
            return;
        }
        for format in [Format::Kdump, Format::Elf] {
            for level in [0u8, 31] {
                phase = format!("save {format:?} level {level}");
                let opts = SaveOptions { level, format, compression: Compression::None, threads: 1 };
                let mut sink = FlatSink::new(std::io::sink()).unwrap();
                match save(&vm, &mut sink, &opts, &mut Budget { start, limit }, &mut |_| {}) {
                    Ok(_) => tally.saves_ok += 1,
                    Err(_) => tally.saves_err += 1,
                }
            }
        }
    }));
    IN_CASE.with(|f| f.set(false));
    match r {
        Ok(()) if start.elapsed() > limit => {
            Err(Failure::Hang { phase: format!("{phase} (no progress report)"), elapsed: start.elapsed() })
        }
        Ok(()) => Ok(()),
        Err(p) => match p.downcast::<OverBudget>() {
            Ok(o) => Err(Failure::Hang { phase, elapsed: o.0 }),
            Err(_) => {
                let (site, message, backtrace) = LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .map_or(("?".into(), "?".into(), None), |(s, m, b)| (s, m, Some(b)));
                Err(Failure::Panic { site, message, backtrace, phase })
            }
        },
    }
}

enum Msg {
    Start(usize, usize),
    Done(usize, usize, Tally, Result<(), Failure>),
    Finished(usize),
}

/// Run `cases` on `workers` threads under a watchdog: a case that does not
/// return within 3 × `limit` (stuck where no progress report comes) is a
/// hang; its thread is abandoned and a fresh one takes over (after three
/// such hangs the run stops: the stuck threads keep a CPU busy until the
/// test process exits). Panics with one entry per distinct failure site.
fn run(title: &str, cases: Vec<Case>, workers: usize, limit: Duration) {
    install_hook();
    let started = Instant::now();
    let cases = Arc::new(cases);
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<Msg>();
    let spawn = |id: usize, retired: Arc<AtomicBool>| {
        let (cases, next, tx) = (cases.clone(), next.clone(), tx.clone());
        std::thread::Builder::new()
            .name(format!("{title}-{id}"))
            .stack_size(16 << 20)
            .spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= cases.len() || retired.load(Ordering::SeqCst) {
                    let _ = tx.send(Msg::Finished(id));
                    return;
                }
                let _ = tx.send(Msg::Start(id, i));
                let mut tally = Tally::default();
                let r = run_case(&cases[i], limit, &mut tally);
                let _ = tx.send(Msg::Done(id, i, tally, r));
            })
            .unwrap();
    };
    // Live workers: id -> (retire flag, current case and its start).
    let mut live: BTreeMap<usize, LiveCase> = BTreeMap::new();
    let mut next_id = 0;
    for _ in 0..workers.max(1) {
        let flag = Arc::new(AtomicBool::new(false));
        spawn(next_id, flag.clone());
        live.insert(next_id, (flag, None));
        next_id += 1;
    }
    let mut total = Tally::default();
    let mut failures: Vec<(usize, Failure)> = Vec::new();
    let mut hangs = 0;
    while !live.is_empty() {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Msg::Start(id, i)) => {
                if let Some(w) = live.get_mut(&id) {
                    w.1 = Some((i, Instant::now()));
                }
            }
            Ok(Msg::Done(id, i, t, r)) => {
                if let Some(w) = live.get_mut(&id) {
                    w.1 = None;
                    total.cases += 1;
                    total.parsed += t.parsed;
                    total.saves_ok += t.saves_ok;
                    total.saves_err += t.saves_err;
                    total.parse_only += t.parse_only;
                    if let Err(f) = r {
                        failures.push((i, f));
                    }
                }
            }
            Ok(Msg::Finished(id)) => {
                live.remove(&id);
            }
            Err(_) => {
                let stuck: Vec<(usize, usize, Duration)> = live
                    .iter()
                    .filter_map(|(&id, (_, cur))| cur.map(|(i, t)| (id, i, t.elapsed())))
                    .filter(|&(_, _, e)| e > 3 * limit)
                    .collect();
                for (id, i, elapsed) in stuck {
                    let (flag, _) = live.remove(&id).unwrap();
                    flag.store(true, Ordering::SeqCst);
                    failures.push((i, Failure::Hang { phase: "unknown (no progress report)".into(), elapsed }));
                    total.cases += 1;
                    hangs += 1;
                    if hangs >= 3 {
                        live.values().for_each(|(f, _)| f.store(true, Ordering::SeqCst));
                    } else {
                        let flag = Arc::new(AtomicBool::new(false));
                        spawn(next_id, flag.clone());
                        live.insert(next_id, (flag, None));
                        next_id += 1;
                    }
                }
            }
        }
    }
    eprintln!(
        "{title}: {} of {} cases in {:.1?}: {} parsed ({} of them only parsed: > 16 GiB described), \
         {} saves ok, {} saves with an error",
        total.cases,
        cases.len(),
        started.elapsed(),
        total.parsed,
        total.parse_only,
        total.saves_ok,
        total.saves_err,
    );
    if failures.is_empty() {
        return;
    }
    // One entry per distinct site (panic location, or hang phase).
    let mut by_site: BTreeMap<String, (usize, &Case, Failure)> = BTreeMap::new();
    let mut others: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, f) in failures {
        let key = match &f {
            Failure::Panic { site, .. } => format!("panic at {site}"),
            Failure::Hang { phase, .. } => format!("hang in {phase}"),
        };
        let e = by_site.entry(key.clone()).or_insert((0, &cases[i], f));
        e.0 += 1;
        if e.0 > 1 {
            others.entry(key).or_default().push(format!("[{}] {}", bases()[cases[i].base].name, cases[i].name));
        }
    }
    let mut report = format!("{title}: {} distinct failure site(s)\n", by_site.len());
    for (key, (n, c, f)) in &by_site {
        report += &format!("\n== {key}: {n} case(s); first: [{}] {}\n", bases()[c.base].name, c.name);
        for other in others.get(key).into_iter().flatten().take(4) {
            report += &format!("   also: {other}\n");
        }
        match f {
            Failure::Panic { message, backtrace, phase, .. } => {
                report += &format!("   during {phase}: {message}\n");
                let bt = backtrace.as_ref().map(|b| b.to_string()).unwrap_or_default();
                // The engine's frames: function names and their source lines.
                let mut lines = bt.lines().peekable();
                let mut shown = 0;
                while let Some(l) = lines.next() {
                    if l.contains("kexdump_engine::") && shown < 12 {
                        let at = lines.peek().filter(|n| n.trim_start().starts_with("at ")).map_or("", |n| n.trim());
                        report += &format!("   {}  {at}\n", l.trim());
                        shown += 1;
                    }
                }
            }
            Failure::Hang { elapsed, .. } => report += &format!("   still running after {elapsed:.1?}\n"),
        }
    }
    panic!("{report}");
}

// ---------------------------------------------------------------- tests

/// Per-case time budget (debug build; a healthy case takes milliseconds,
/// the sample's four saves about 0.2 s).
const LIMIT: Duration = Duration::from_secs(5);

fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(4)
}

#[test]
fn elf_structure_mutations() {
    let mut cases = Vec::new();
    let mut rng = Rng::new(1);
    header_cases(MINI, &mut rng, &mut cases);
    phdr_cases(MINI, &mut rng, 16, &mut cases);
    note_cases(MINI, &mut rng, 100, &mut cases);
    multi_byte_cases(MINI, &mut rng, 100, &mut cases);
    run("elf_structure_mutations", cases, workers(), LIMIT);
}

#[test]
fn vmcoreinfo_mutations() {
    let mut cases = Vec::new();
    let mut rng = Rng::new(2);
    vmcoreinfo_cases(MINI, &mut rng, 8, &mut cases);
    run("vmcoreinfo_mutations", cases, workers(), LIMIT);
}

#[test]
fn page_metadata_mutations() {
    let mut cases = Vec::new();
    let mut rng = Rng::new(3);
    page_table_cases(MINI, &mut rng, 6, &mut cases);
    struct_page_cases(MINI, &mut rng, 300, &mut cases);
    metadata_cases(MINI, &mut rng, 250, &mut cases);
    multi_byte_cases(MINI, &mut rng, 120, &mut cases);
    run("page_metadata_mutations", cases, workers(), LIMIT);
}

#[test]
fn sample_and_five_level_mutations() {
    let mut rng = Rng::new(4);
    let mut cases = Vec::new();
    // Random slices of every generator: these bases cost more per case.
    let mut some = |n: usize, rng: &mut Rng, gen: &dyn Fn(&mut Rng, &mut Vec<Case>)| {
        let mut all = Vec::new();
        gen(rng, &mut all);
        for _ in 0..n.min(all.len()) {
            cases.push(all.swap_remove(rng.below(all.len())));
        }
    };
    for (base, n) in [(SAMPLE, 15), (MINI5, 25)] {
        some(n, &mut rng, &|r, out| vmcoreinfo_cases(base, r, 0, out));
        some(n, &mut rng, &|r, out| page_table_cases(base, r, 2, out));
        some(n, &mut rng, &|r, out| struct_page_cases(base, r, n, out));
        some(n, &mut rng, &|r, out| metadata_cases(base, r, n, out));
        some(n / 3, &mut rng, &|r, out| phdr_cases(base, r, 2, out));
    }
    run("sample_and_five_level_mutations", cases, workers(), LIMIT);
}

#[test]
fn crafted_inputs() {
    let mut cases = Vec::new();
    crafted_cases(&mut cases);
    run("crafted_inputs", cases, workers(), LIMIT);
}

/// The fuzzers' regression inputs that are plain files: vmcores
/// (`fuzz/regressions/vmcore_parse/`) as they are, VMCOREINFO texts
/// (`fuzz/regressions/vmcoreinfo_parse/`) as the note of the mini vmcore.
/// (`save_mutated` inputs need the fuzz crate's decoder; their findings
/// are among `crafted_inputs`.)
#[test]
fn fuzz_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let files = |sub: &str| -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(dir.join(sub))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    let mut cases = Vec::new();
    for f in files("vmcore_parse") {
        let mut c = case(MINI, format!("vmcore {}", f.display()), vec![Edit::File(f)]);
        c.always_save = true;
        cases.push(c);
    }
    for f in files("vmcoreinfo_parse") {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        let lines = text.lines().map(str::to_owned).collect();
        cases.push(case(MINI, format!("VMCOREINFO of {}", f.display()), vec![Edit::Info(lines)]));
    }
    run("fuzz_regressions", cases, 1, LIMIT);
}

/// Inputs that make the engine ask for absurd amounts of memory. An
/// allocation failure aborts the process (it does not unwind), so they run
/// in a child process of this test binary (`bounded_memory_child`) under
/// `ulimit -v` (4 GiB) and `timeout` (60 s); this test fails if the child
/// does.
#[test]
fn bounded_memory() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4194304 && exec timeout 60 \"$0\" \"$@\"")
        .arg(&exe)
        .args(["bounded_memory_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run the test binary again");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim_start().starts_with("at ")).take(40).collect();
    assert!(
        out.status.success(),
        "bounded_memory_child failed ({}; 124 = still running after 60 s):\n{}",
        out.status,
        tail.join("\n")
    );
}

const CHILD_ENV: &str = "KEXDUMP_MUTATION_CHILD";

/// Run by `bounded_memory` only (`--ignored`, with the environment set).
#[test]
#[ignore = "run by bounded_memory in a child process with a memory limit"]
fn bounded_memory_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let b = &bases()[MINI];
    let last = *b.phdrs.last().unwrap();
    // One PT_LOAD of 64 TiB (p_filesz unchanged) with 8 KiB sections
    // (NUMBER(SECTION_SIZE_BITS)=13, which the engine accepts): 2^33
    // sections of dumped memory.
    let mut lines = b.lines.clone();
    for l in lines.iter_mut() {
        match key_of(l) {
            "NUMBER(SECTION_SIZE_BITS)" => *l = "NUMBER(SECTION_SIZE_BITS)=13".into(),
            // So that the engine's MAX_PHYSMEM_BITS check lets it parse.
            "NUMBER(MAX_PHYSMEM_BITS)" => *l = "NUMBER(MAX_PHYSMEM_BITS)=52".into(),
            _ => {}
        }
    }
    let image = apply(b, &[Edit::Info(lines), set_u64(last + 40, 1 << 46)]);
    let vm = Vmcore::from_input(Input::from_bytes(image)).expect("parses");
    let mem = vm.mem();
    eprintln!("bounded_memory_child: PageWalk::new, 64 TiB PT_LOAD, SECTION_SIZE_BITS=13");
    let t = Instant::now();
    let r = kexdump_engine::page_walk::PageWalk::new(&vm, &mem);
    eprintln!("bounded_memory_child: {} after {:.1?}", if r.is_ok() { "ok" } else { "error" }, t.elapsed());
}

/// A PT_LOAD ending high in the physical address space makes max_mapnr
/// huge; the engine must reject it or finish in bounded time (it visits
/// every mem_section and every window of pfns below max_mapnr).
#[test]
fn huge_address_space() {
    let b = &bases()[MINI];
    let last = *b.phdrs.last().unwrap();
    let mut cases = Vec::new();
    for (what, end) in [("2^52 (MAX_PHYSMEM_BITS of 5-level paging)", 1u64 << 52), ("u64::MAX", u64::MAX)] {
        let paddr = (end - 0x1000) & !0xfff;
        let mut c = case(
            MINI,
            format!("empty PT_LOAD [{paddr:#x}, +0x1000) ending at {what}"),
            vec![set_u64(last + 24, paddr), set_u64(last + 32, 0), set_u64(last + 40, 0x1000)],
        );
        c.always_save = true;
        cases.push(c);
    }
    run("huge_address_space", cases, 1, LIMIT);
}
