//! `verify`: is a saved dump whole and readable? Structural checks of every
//! format the readers open, stopping at the first problem, which names the
//! file, the byte offset and the pfn where they apply:
//!
//! - ELF: the header, program headers and notes parse; every PT_LOAD's
//!   data lies inside the file.
//! - kdump-compressed (each split piece, or the file a flattened stream
//!   carries): header fields, sub-header, notes and bitmaps inside the file;
//!   the 2nd bitmap within the 1st; one descriptor per dumped pfn, each
//!   pointing after the descriptor table and inside the file, at most one
//!   page long, with one known compression, not overlapping other pages'
//!   data (except the shared zero page); each page decompresses to exactly
//!   one page. An INCOMPLETE dump's never-written descriptors are counted,
//!   not reported as problems.
//! - split pieces: one dump, disjoint ranges, together covering every pfn.
//! - flattened: the stream's header and records (`reader::flat`).
//!
//! The CRC32 of a capture record (kexdump.json) is compared by the caller,
//! with `crc32_file`.

use crate::compress::PageDecoder;
use crate::error::{Error, Result};
use crate::format::kdump::sub_header as kh;
use crate::input::{stream_offset, Input};
use crate::page::PAGE_SIZE;
use crate::reader::flat;
use crate::reader::kdump::KdumpFile;
use crate::reader::{DumpFormat, Kind};
use crate::vmcore::Vmcore;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The first problem found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// Byte offset in `file` (for a flattened stream: in the dump it
    /// carries; `stream_offset` is where that byte is in the stream).
    pub offset: Option<u64>,
    pub stream_offset: Option<u64>,
    pub pfn: Option<u64>,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(o) = self.offset {
            write!(f, ": offset {o:#x}")?;
            if let Some(s) = self.stream_offset {
                write!(f, " (flattened stream offset {s:#x})")?;
            }
        }
        if let Some(p) = self.pfn {
            write!(f, ": pfn {p:#x}")?;
        }
        write!(f, ": {}", self.what)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageCounts {
    /// RAM pages (1st bitmap, or what the PT_LOADs describe).
    pub present: u64,
    /// Pages in the dump (2nd bitmap; ELF: stored in file).
    pub dumped: u64,
    /// Dumped pages whose data was checked (decompressed).
    pub checked: u64,
    /// Dumped pages of an INCOMPLETE dump that were never written.
    pub not_saved: u64,
}

#[derive(Clone, Debug)]
pub struct Verified {
    pub format: Option<DumpFormat>,
    pub pages: PageCounts,
    pub problem: Option<Problem>,
}

impl Verified {
    pub fn incomplete(&self) -> bool {
        self.format.as_ref().is_some_and(|f| f.incomplete)
    }
}

fn problem_from(e: Error, file: &Path, input: Option<&Input>) -> Problem {
    let (file, e) = match e {
        Error::InFile { path, source } => (path, *source),
        e => (file.to_owned(), e),
    };
    let (offset, pfn) = match &e {
        Error::Malformed { offset, .. } | Error::Truncated { offset, .. } => (Some(*offset), None),
        Error::Page { pfn, offset, .. } => (Some(*offset), Some(*pfn)),
        Error::Excluded { pfn } | Error::NotSaved { pfn } => (None, Some(*pfn)),
        _ => (None, None),
    };
    let stream_offset = input.filter(|i| i.path() == file).and_then(|i| offset.and_then(|o| i.source_offset(o)));
    let what = match &e {
        Error::Malformed { what, .. } => what.clone(),
        Error::Page { what, .. } => what.clone(),
        e => e.to_string(),
    };
    Problem { file, offset, stream_offset, pfn, what }
}

/// Check the dump in `paths` (one file, or every piece of a split dump).
pub fn verify(paths: &[PathBuf]) -> Verified {
    match paths.iter().map(|p| Input::open(p)).collect::<Result<Vec<_>>>() {
        Ok(inputs) => verify_inputs(inputs),
        Err(e) => Verified {
            format: None,
            pages: PageCounts::default(),
            problem: Some(problem_from(e, &paths.first().cloned().unwrap_or_default(), None)),
        },
    }
}

/// Check the dump in `inputs` (files or memory).
pub fn verify_inputs(inputs: Vec<Input>) -> Verified {
    let mut out = Verified { format: None, pages: PageCounts::default(), problem: None };
    let first = inputs.first().map(|i| i.path().to_owned()).unwrap_or_default();
    // A problem in the dump a flattened stream carries is also named at
    // its stream offset: index the stream here too (cheap: headers only).
    let first_extents = inputs.first().and_then(|i| {
        let mut head = [0u8; 16];
        i.read_exact_at(0, &mut head).ok()?;
        flat::is_flattened(&head).then(|| flat::index(i).ok()).flatten()
    });
    let vm = match Vmcore::from_inputs(inputs) {
        Ok(vm) => vm,
        Err(e) => {
            let mut p = problem_from(e, &first, None);
            if let (Some(ext), Some(o), true) = (&first_extents, p.offset, p.file == first) {
                p.stream_offset = stream_offset(ext, o);
            }
            out.problem = Some(p);
            return out;
        }
    };
    out.format = Some(vm.format.clone());
    match vm.format.kind {
        Kind::Elf => {
            for l in &vm.elf.loads {
                out.pages.present += l.memsz.div_ceil(PAGE_SIZE);
                out.pages.dumped += l.filesz / PAGE_SIZE;
            }
        }
        Kind::Kdump => {
            if let Err(p) = check_kdump(&vm, &mut out.pages) {
                out.problem = Some(p);
            }
        }
    }
    out
}

fn check_kdump(vm: &Vmcore, counts: &mut PageCounts) -> std::result::Result<(), Problem> {
    let Some(pages) = &vm.kdump else { return Ok(()) };
    let max = pages.max_mapnr();
    // Split pieces must together hold every pfn.
    let mut covered = 0u64;
    for (i, f) in pages.files.iter().enumerate() {
        let input = pages.input(&vm.input, i);
        if f.header.start_pfn > covered {
            return Err(Problem {
                file: input.path().to_owned(),
                offset: None,
                stream_offset: None,
                pfn: Some(covered),
                what: format!("pfns [{covered:#x}, {:#x}) are in no given split piece", f.header.start_pfn),
            });
        }
        covered = covered.max(f.header.end_pfn);
    }
    if covered < max {
        return Err(Problem {
            file: vm.input.path().to_owned(),
            offset: None,
            stream_offset: None,
            pfn: Some(covered),
            what: format!("pfns [{covered:#x}, {max:#x}) are in no given split piece"),
        });
    }
    for (i, f) in pages.files.iter().enumerate() {
        let input = pages.input(&vm.input, i);
        check_file(input, f, counts).map_err(|mut p| {
            p.stream_offset = p.offset.and_then(|o| input.source_offset(o));
            p
        })?;
    }
    counts.present = (0..max).filter(|&p| pages.files[0].is_present(p)).count() as u64;
    Ok(())
}

/// One kdump-compressed file: bitmaps, then every descriptor and page.
fn check_file(input: &Input, f: &KdumpFile, counts: &mut PageCounts) -> std::result::Result<(), Problem> {
    let file = input.path().to_owned();
    let problem = |offset: Option<u64>, pfn: Option<u64>, what: String| Problem {
        file: file.clone(),
        offset,
        stream_offset: None,
        pfn,
        what,
    };
    let max = f.header.max_mapnr;
    // The dump level is a mask of makedumpfile's five page classes: any
    // other value is a damaged sub-header.
    if !(0..=31).contains(&f.header.dump_level) {
        return Err(problem(
            Some(f.header.block_size + kh::DUMP_LEVEL as u64),
            None,
            format!("the sub-header's dump_level is {}, not 0-31", f.header.dump_level),
        ));
    }
    // Bitmap bytes past max_mapnr are padding, written as zeros.
    for which in [1u8, 2] {
        let at = if which == 1 { f.bitmap1_offset } else { f.bitmap2_offset };
        let tail = f.bitmap_bytes(which, max - max % 8, f.bitmap_len * 8 - (max - max % 8));
        let first_bit = tail.iter().enumerate().find_map(|(i, &b)| {
            let mask = if i == 0 { 0xffu8.checked_shl((max % 8) as u32).unwrap_or(0) } else { 0xff };
            (b & mask != 0).then_some(i)
        });
        if let Some(i) = first_bit {
            return Err(problem(
                Some(at + max / 8 + i as u64),
                None,
                format!("bitmap {which} has bits set beyond max_mapnr {max:#x}"),
            ));
        }
    }
    for pfn in 0..max {
        if f.is_dumped(pfn) && !f.is_present(pfn) {
            return Err(problem(
                Some(f.bitmap2_offset + pfn / 8),
                Some(pfn),
                "page is in the 2nd bitmap (dumped) but not in the 1st (not RAM)".into(),
            ));
        }
    }

    let mut decoder = PageDecoder::default();
    let mut page = vec![0u8; PAGE_SIZE as usize];
    let mut scratch = Vec::new();
    let mut index = 0u64;
    // Every page's data record, to check that no two overlap. Writers put
    // most pages in pfn order, but not all (kexdump writes the pages readers
    // need first, makedumpfile's split pieces their zero page), so the
    // records are sorted by offset at the end: 8 bytes per page, offset and
    // size packed (a size is at most a block, 16 bits; an offset below 2^48).
    let mut records: Vec<u64> = Vec::new();
    let mut zero_record: Option<(u64, u32)> = None;
    for pfn in f.header.start_pfn..f.header.end_pfn {
        if !f.is_dumped(pfn) {
            continue;
        }
        counts.dumped += 1;
        let desc = f.descriptor(input, index).map_err(|e| problem_from(e, &file, None)).map_err(|mut p| {
            p.pfn = Some(pfn);
            p
        })?;
        index += 1;
        let Some(d) = desc else {
            counts.not_saved += 1;
            continue;
        };
        let Some(d) = f.check_desc(pfn, d).map_err(|e| problem_from(e, &file, None))? else {
            counts.not_saved += 1;
            continue;
        };
        let decoded = input
            .with_bytes(d.offset, d.size as usize, &mut scratch, |src| decoder.decode(d.flags, src, &mut page))
            .map_err(|e| problem_from(e, &file, None))?;
        if let Err(why) = decoded {
            return Err(problem(Some(d.offset), Some(pfn), format!("page data does not decompress: {why}")));
        }
        // Zero pages may all point at one record (level bit 1).
        let record = (d.offset, d.size);
        if zero_record == Some(record) {
            counts.checked += 1;
            continue;
        }
        if zero_record.is_none() && crate::select::is_zero_page(&page) {
            zero_record = Some(record);
        }
        if d.offset >= 1 << 48 || d.size >= 1 << 16 {
            return Err(problem(
                Some(d.at),
                Some(pfn),
                format!("page data at {:#x}+{:#x}: out of range", d.offset, d.size),
            ));
        }
        records.push(d.offset << 16 | d.size as u64);
        counts.checked += 1;
    }
    records.sort_unstable();
    if let Some(w) = records.windows(2).find(|w| (w[0] >> 16) + (w[0] & 0xffff) > w[1] >> 16) {
        let (offset, size) = (w[1] >> 16, w[1] & 0xffff);
        let (o0, s0) = (w[0] >> 16, w[0] & 0xffff);
        let pfn = pfn_of_record(f, input, offset);
        return Err(problem(
            Some(offset),
            pfn,
            format!("page data at {offset:#x}+{size:#x} overlaps another page's data at {o0:#x}+{s0:#x}"),
        ));
    }
    if index != f.pages {
        return Err(problem(Some(f.descs_offset), None, format!("{} descriptors expected, {index} walked", f.pages)));
    }
    Ok(())
}

/// The pfn whose descriptor points at `offset` (for naming a problem
/// found after the walk).
fn pfn_of_record(f: &KdumpFile, input: &Input, offset: u64) -> Option<u64> {
    let mut index = 0u64;
    for pfn in f.header.start_pfn..f.header.end_pfn {
        if !f.is_dumped(pfn) {
            continue;
        }
        if let Ok(Some(d)) = f.descriptor(input, index) {
            if d.offset == offset {
                return Some(pfn);
            }
        }
        index += 1;
    }
    None
}

/// The CRC32 (IEEE, as crc32fast and the capture record use) of a file.
pub fn crc32_file(path: &Path) -> Result<u32> {
    let io = |source| Error::Io { path: path.to_owned(), op: "reading", source };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize())
}
