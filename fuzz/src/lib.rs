//! Shared code of kexdump's fuzz targets: the synthetic base vmcore (built
//! once), a structure-aware mutator that turns the fuzzer's bytes into
//! corruptions of that vmcore, and the engine calls every target makes.
//!
//! The mutator (`save_mutated`) reads its input as
//!
//! ```text
//! byte 0          control: bit 0 = ELF output (else kdump-compressed),
//!                 bits 1..4 = dump level (LEVELS table, mostly 31)
//! then records of 5 bytes [op, a, b, c, v]:
//!   op & 7        0 set byte, 1 flip bit, 2 write an interesting u64
//!                 (8-aligned), 3 write an interesting u32 (4-aligned),
//!                 4 replace a VMCOREINFO value, 5 delete a VMCOREINFO line,
//!                 6 overwrite one character of a VMCOREINFO value,
//!                 7 add a small signed delta to an aligned u64
//!   (op >> 3) & 3 region: 0 first 64 KiB (ELF header, program headers,
//!                 notes, kernel image with its page tables), 1 VMCOREINFO
//!                 descriptor, 2 metadata pages (page tables, mem_section,
//!                 struct pages), 3 the whole file
//!   a | b<<8 | c<<16   offset in the region (modulo its length) or, for
//!                 VMCOREINFO edits, line number / character position
//!   v             the value, or an index into a table of interesting ones
//! ```
//!
//! VMCOREINFO text edits are applied first; the edited note is written at the
//! end of the file and the PT_NOTE program header points at it, so values can
//! grow. Byte operations then apply to the result.

use kexdump_engine::bytes::{u16_at, u32_at, u64_at};
use kexdump_engine::compress::Compression;
use kexdump_engine::sink::FlatSink;
use kexdump_engine::writer::NoProgress;
use kexdump_engine::{Format, SaveOptions, Vmcore};
pub use kexdump_testgen::interesting::{INTERESTING_STR, INTERESTING_U32, INTERESTING_U64};
use std::ops::Range;
use std::sync::OnceLock;

/// Most records; bounds the work per input.
pub const MAX_RECORDS: usize = 64;

/// Dump levels picked by the control byte: 31 most often.
pub const LEVELS: [u8; 8] = [31, 31, 31, 0, 1, 2, 8, 16];

const TEXT_CHARS: &[u8] = b"0123456789abcdefx-+ \0=\n(";

/// The base vmcore and where its interesting parts are.
pub struct Base {
    pub bytes: Vec<u8>,
    /// The VMCOREINFO text split in lines (without the newline).
    pub lines: Vec<String>,
    /// File ranges of the generator's metadata pages (kernel image with its
    /// page tables, mem_section arrays, struct pages, other page tables).
    pub meta: Vec<Range<usize>>,
}

/// The sample vmcore (`SynthVmcore::sample()`), built once.
pub fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let v = kexdump_testgen::SynthVmcore::sample();
        let bytes = v.build();
        let lines = v.vmcoreinfo().lines().map(str::to_owned).collect();
        let loads = elf_loads(&bytes);
        let mut meta = Vec::new();
        for r in v.reserved_pfns() {
            let (pa, pend) = (r.start << 12, r.end << 12);
            for &(_, off, paddr, filesz) in &loads {
                let (s, e) = (pa.max(paddr), pend.min(paddr + filesz));
                if s < e {
                    meta.push((off + s - paddr) as usize..(off + e - paddr) as usize);
                }
            }
        }
        Base { bytes, lines, meta }
    })
}

fn wr_u64(b: &mut [u8], o: usize, v: u64) {
    if let Some(s) = b.get_mut(o..o + 8) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}
fn wr_u32(b: &mut [u8], o: usize, v: u32) {
    if let Some(s) = b.get_mut(o..o + 4) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

/// `(phdr file offset, p_offset, p_paddr, p_filesz)` of each PT_LOAD of a
/// well-formed image (the base only).
fn elf_loads(b: &[u8]) -> Vec<(usize, u64, u64, u64)> {
    let phoff = u64_at(b, 32).unwrap_or(0) as usize;
    (0..u16_at(b, 56).unwrap_or(0) as usize)
        .map(|i| phoff + i * 56)
        .filter(|&p| u32_at(b, p).unwrap_or(0) == 1)
        .map(|p| (p, u64_at(b, p + 8).unwrap_or(0), u64_at(b, p + 24).unwrap_or(0), u64_at(b, p + 32).unwrap_or(0)))
        .collect()
}

/// The first PT_NOTE's program header offset, p_offset and p_filesz.
pub fn pt_note(b: &[u8]) -> Option<(usize, usize, usize)> {
    let phoff = u64_at(b, 32).unwrap_or(0) as usize;
    (0..u16_at(b, 56).unwrap_or(0) as usize)
        .map(|i| phoff.saturating_add(i * 56))
        .find(|&p| u32_at(b, p).unwrap_or(0) == 4)
        .map(|p| (p, u64_at(b, p + 8).unwrap_or(0) as usize, u64_at(b, p + 32).unwrap_or(0) as usize))
}

/// Within the PT_NOTE of `b`: the byte range of the VMCOREINFO note (header
/// included) and of its descriptor, as file offsets.
pub fn vmcoreinfo_note(b: &[u8]) -> Option<(Range<usize>, Range<usize>)> {
    let (_, off, len) = pt_note(b)?;
    let notes = b.get(off..off.checked_add(len)?)?;
    let mut pos = 0usize;
    while pos + 12 <= notes.len() {
        let (namesz, descsz) = (u32_at(notes, pos).unwrap_or(0) as usize, u32_at(notes, pos + 4).unwrap_or(0) as usize);
        let desc = pos + 12 + namesz.div_ceil(4) * 4;
        let end = desc + descsz.div_ceil(4) * 4;
        if notes.get(pos + 12..pos + 12 + namesz)? == b"VMCOREINFO\0" {
            return Some((off + pos..off + end, off + desc..off + desc + descsz));
        }
        pos = end;
    }
    None
}

/// Replace the VMCOREINFO text: the PT_NOTE (other notes kept, VMCOREINFO
/// last) is rewritten at the end of the file and its program header
/// updated. Returns false when the image has no usable PT_NOTE.
pub fn set_vmcoreinfo(image: &mut Vec<u8>, text: &[u8]) -> bool {
    let (Some((ph, off, len)), Some((note, _))) = (pt_note(image), vmcoreinfo_note(image)) else {
        return false;
    };
    let mut seg = Vec::with_capacity(len + text.len());
    seg.extend_from_slice(&image[off..note.start]);
    seg.extend_from_slice(&image[note.end..off + len]);
    seg.extend_from_slice(&11u32.to_le_bytes());
    seg.extend_from_slice(&(text.len() as u32).to_le_bytes());
    seg.extend_from_slice(&0u32.to_le_bytes());
    seg.extend_from_slice(b"VMCOREINFO\0\0");
    seg.extend_from_slice(text);
    seg.resize(seg.len().div_ceil(4) * 4, 0);
    image.resize(image.len().div_ceil(8) * 8, 0);
    let new_off = image.len();
    image.extend_from_slice(&seg);
    wr_u64(image, ph + 8, new_off as u64);
    wr_u64(image, ph + 32, seg.len() as u64);
    wr_u64(image, ph + 40, seg.len() as u64);
    true
}

/// The text of `lines`, as the kernel writes it.
pub fn join_lines(lines: &[String]) -> Vec<u8> {
    let mut t = String::new();
    for l in lines {
        t.push_str(l);
        t.push('\n');
    }
    t.into_bytes()
}

/// Byte position `idx` (modulo the total) across `ranges`.
fn in_ranges(ranges: &[Range<usize>], idx: usize) -> Option<usize> {
    let total: usize = ranges.iter().map(|r| r.len()).sum();
    if total == 0 {
        return None;
    }
    let mut i = idx % total;
    for r in ranges {
        if i < r.len() {
            return Some(r.start + i);
        }
        i -= r.len();
    }
    None
}

/// Decode the fuzzer's bytes into a corrupted copy of the base vmcore and
/// the save options to run on it.
pub fn mutate(data: &[u8]) -> (Vec<u8>, SaveOptions) {
    let base = base();
    let ctl = data.first().copied().unwrap_or(0);
    let opts = SaveOptions {
        level: LEVELS[((ctl >> 1) & 7) as usize],
        format: if ctl & 1 != 0 { Format::Elf } else { Format::Kdump },
        compression: Compression::None,
        threads: 1,
    };
    let records: Vec<[u8; 5]> =
        data.get(1..).unwrap_or(&[]).chunks_exact(5).take(MAX_RECORDS).map(|c| c.try_into().unwrap()).collect();
    let mut image = base.bytes.clone();

    // VMCOREINFO text edits first.
    let mut lines = base.lines.clone();
    let mut edited = false;
    for &[op, a, b, c, v] in &records {
        let n = u16::from_le_bytes([a, b]) as usize;
        match op & 7 {
            4 if !lines.is_empty() => {
                let i = n % lines.len();
                let key = lines[i].split_once('=').map_or(lines[i].clone(), |(k, _)| k.to_owned());
                lines[i] = format!("{key}={}", INTERESTING_STR[v as usize % INTERESTING_STR.len()]);
                edited = true;
            }
            5 if !lines.is_empty() => {
                lines.remove(n % lines.len());
                edited = true;
            }
            6 if !lines.is_empty() => {
                let i = n % lines.len();
                let mut bytes = std::mem::take(&mut lines[i]).into_bytes();
                let start = bytes.iter().position(|&x| x == b'=').map_or(0, |p| p + 1);
                let ch = TEXT_CHARS[v as usize % TEXT_CHARS.len()];
                if start < bytes.len() {
                    let at = start + c as usize % (bytes.len() - start);
                    bytes[at] = ch;
                } else {
                    bytes.push(ch);
                }
                lines[i] = String::from_utf8_lossy(&bytes).into_owned();
                edited = true;
            }
            _ => {}
        }
    }
    if edited {
        set_vmcoreinfo(&mut image, &join_lines(&lines));
    }

    // Byte operations.
    let head = 0..image.len().min(64 << 10);
    let info: Vec<Range<usize>> = vmcoreinfo_note(&image).map(|(_, d)| d).into_iter().collect();
    let whole = 0..image.len();
    for &[op, a, b, c, v] in &records {
        let region: &[Range<usize>] = match (op >> 3) & 3 {
            0 => std::slice::from_ref(&head),
            1 => &info,
            2 => &base.meta,
            _ => std::slice::from_ref(&whole),
        };
        let Some(at) = in_ranges(region, u32::from_le_bytes([a, b, c, 0]) as usize) else { continue };
        match op & 7 {
            0 => image[at] = v,
            1 => image[at] ^= 1 << (v & 7),
            2 => wr_u64(&mut image, at & !7, INTERESTING_U64[v as usize % INTERESTING_U64.len()]),
            3 => wr_u32(&mut image, at & !3, INTERESTING_U32[v as usize % INTERESTING_U32.len()]),
            7 => {
                let o = at & !7;
                let x = u64_at(&image, o).unwrap_or(0).wrapping_add((v as i8 as i64 as u64).wrapping_mul(0x1000));
                wr_u64(&mut image, o, x);
            }
            _ => {}
        }
    }
    (image, opts)
}

/// Parse `image` and, if it parses, save it into a discarding flattened
/// sink. Errors are fine; panics, hangs and huge allocations are the bugs.
pub fn parse_and_save(image: Vec<u8>, opts: &SaveOptions) {
    let Ok(vm) = Vmcore::from_input(kexdump_engine::input::Input::from_bytes(image)) else { return };
    save(&vm, opts);
}

pub fn save(vm: &Vmcore, opts: &SaveOptions) {
    let _ = kexdump_engine::dmesg::read_log(vm);
    let mut sink = FlatSink::new(std::io::sink()).unwrap();
    let _ = kexdump_engine::save(vm, &mut sink, opts, &mut NoProgress, &mut |_| {});
}

/// Every getter the engine uses on VMCOREINFO, on a fixed set of keys.
pub fn exercise_info(vi: &kexdump_engine::vmcoreinfo::VmcoreInfo) {
    let _ = vi.page_size();
    let _ = vi.kernel_offset();
    let _ = vi.crash_time();
    let _ = vi.osrelease();
    let _ = vi.is_empty();
    for s in ["mem_section", "init_top_pgt", "init_uts_ns", "prb", "_stext", "x"] {
        let _ = vi.symbol(s);
        let _ = vi.opt_symbol(s);
    }
    for n in ["phys_base", "SECTION_SIZE_BITS", "MAX_PHYSMEM_BITS", "PG_lru", "PAGE_BUDDY_MAPCOUNT_VALUE", "x"] {
        let _ = vi.number(n);
        let _ = vi.opt_number(n);
    }
    for n in ["page", "mem_section", "printk_info", "x"] {
        let _ = vi.size(n);
        let _ = vi.opt_size(n);
    }
    for f in ["page.flags", "page.mapping", "mem_section.section_mem_map", "uts_namespace.name", "x"] {
        let _ = vi.offset(f);
        let _ = vi.opt_offset(f);
    }
    for n in ["mem_section", "zone.free_area", "x"] {
        let _ = vi.length(n);
        let _ = vi.opt_length(n);
    }
    let _ = kexdump_engine::page_scheme::PageScheme::from_vmcoreinfo(vi);
}

/// Base dumps of `dump_mutated`: our writer's outputs of the sample vmcore
/// at level 31, one per compression, plus a flattened stream (built once).
pub fn dump_bases() -> &'static [Vec<u8>] {
    static BASES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    BASES.get_or_init(|| {
        let vm = Vmcore::from_input(kexdump_engine::input::Input::from_bytes(base().bytes.clone())).expect("sample");
        let mut out = Vec::new();
        for c in [
            Compression::Zlib { level: 1 },
            Compression::Lzo,
            Compression::Snappy,
            Compression::Zstd { level: 1 },
            Compression::None,
        ] {
            let mut sink = FlatSink::new(Vec::new()).unwrap();
            let opts = SaveOptions { level: 31, format: Format::Kdump, compression: c, threads: 1 };
            kexdump_engine::save(&vm, &mut sink, &opts, &mut NoProgress, &mut |_| {}).expect("save");
            let stream = sink.into_inner();
            if matches!(c, Compression::Zstd { .. }) {
                out.push(stream.clone());
            }
            out.push(rebuild(&stream));
        }
        out
    })
}

/// The file a flattened stream (of our writer: no overlaps) rebuilds.
fn rebuild(stream: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pos = 4096;
    loop {
        let off = i64::from_be_bytes(stream[pos..pos + 8].try_into().unwrap());
        let size = i64::from_be_bytes(stream[pos + 8..pos + 16].try_into().unwrap());
        if off < 0 {
            return out;
        }
        let (off, size) = (off as usize, size as usize);
        if out.len() < off + size {
            out.resize(off + size, 0);
        }
        out[off..off + size].copy_from_slice(&stream[pos + 16..pos + 16 + size]);
        pos += 16 + size;
    }
}

/// Apply `dump_mutated`'s edits (format at the top of
/// fuzz_targets/dump_mutated.rs) to a copy of a base dump.
pub fn mutate_dump(data: &[u8]) -> Option<Vec<u8>> {
    let (&control, records) = data.split_first()?;
    let bases = dump_bases();
    let mut img = bases[control as usize % bases.len()].clone();
    for r in records.chunks_exact(5).take(MAX_RECORDS) {
        let (op, v) = (r[0], r[4]);
        let off = r[1] as usize | (r[2] as usize) << 8 | (r[3] as usize) << 16;
        // Headers and sub-header; the first 64 KiB (notes, bitmaps,
        // descriptors); the whole file. Bounded by the current length,
        // which a truncation shortens.
        let len = img.len();
        let region = match (op >> 3) & 3 {
            0 => 0..4608.min(len),
            1 => 4096.min(len)..(64 * 1024).min(len),
            _ => 0..len,
        };
        if region.is_empty() {
            continue;
        }
        let at = region.start + off % region.len();
        match op & 7 {
            0 => img[at] = v,
            1 => img[at] ^= 1 << (v & 7),
            2 => wr_u64(&mut img, at & !7, INTERESTING_U64[v as usize % INTERESTING_U64.len()]),
            3 => wr_u32(&mut img, at & !3, INTERESTING_U32[v as usize % INTERESTING_U32.len()]),
            4 => img.truncate(at),
            5 => {
                let old = u64_at(&img, at & !7).unwrap_or(0);
                wr_u64(&mut img, at & !7, old.wrapping_add(v as i8 as i64 as u64))
            }
            6 => {
                let old = u32_at(&img, at & !3).unwrap_or(0);
                wr_u32(&mut img, at & !3, old.wrapping_add(v as i8 as i32 as u32))
            }
            _ => img[at] = 0,
        }
    }
    Some(img)
}
