//! Reading one kdump-compressed file ("KDUMP   ", header versions 1-6, as
//! makedumpfile and kexdump write it): the headers, both bitmaps, and where
//! the descriptor of each dumped page is. Page data is not read here (see
//! `reader::pages`); this module turns bytes into checked facts, and every
//! error names the byte offset at fault.
//!
//! What each header version added (crash's and makedumpfile's readers agree):
//! v1 phys_base and dump_level; v2 split, start_pfn, end_pfn; v3
//! offset/size_vmcoreinfo; v4 offset/size_note (the whole PT_NOTE); v5
//! offset/size_eraseinfo; v6 start_pfn_64, end_pfn_64, max_mapnr_64.

use crate::bytes::{i32_at, slice, u32_at, u64_at};
use crate::elf::vmcore::{parse_notes, Note};
use crate::error::{Error, Result};
use crate::format::kdump::{flag, header as dh, page_desc as pd, sub_header as kh, DISKDUMP_SIGNATURE, SIGNATURE};
use crate::input::Input;
use crate::page::PAGE_SIZE;

/// Largest note area accepted (real ones are a few KB per CPU).
const MAX_NOTES: u64 = 64 << 20;
/// Largest sub-header accepted, in blocks.
const MAX_SUB_HDR_BLOCKS: u64 = 1 << 16;
/// x86_64 physical addresses have at most 52 bits.
const MAX_MAPNR: u64 = 1 << 40;
/// Pfns per entry of the rank table (the count of dumped pages before it).
const RANK_BLOCK: u64 = 4096;

fn malformed(offset: u64, what: impl Into<String>) -> Error {
    Error::Malformed { offset, what: what.into() }
}

/// Whether `head` (a file's first bytes) is a kdump-compressed header.
pub fn is_kdump(head: &[u8]) -> bool {
    head.starts_with(SIGNATURE)
}

/// The header fields a reader needs, with the version's defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KdumpHeader {
    pub header_version: i32,
    /// utsname.release and utsname.machine.
    pub release: String,
    pub machine: String,
    pub status: u32,
    pub block_size: u64,
    pub sub_hdr_blocks: u64,
    pub bitmap_blocks: u64,
    pub max_mapnr: u64,
    pub nr_cpus: i32,
    pub phys_base: u64,
    pub dump_level: i32,
    pub split: bool,
    /// The pfns this file holds descriptors for: `[start_pfn, end_pfn)`
    /// (the whole `[0, max_mapnr)` unless split).
    pub start_pfn: u64,
    pub end_pfn: u64,
    pub offset_vmcoreinfo: u64,
    pub size_vmcoreinfo: u64,
    pub offset_note: u64,
    pub size_note: u64,
}

impl KdumpHeader {
    pub fn incomplete(&self) -> bool {
        self.status & flag::INCOMPLETE != 0
    }
}

/// A page descriptor (struct page_desc) and where it was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageDesc {
    pub offset: u64,
    pub size: u32,
    pub flags: u32,
    /// File offset of the descriptor itself.
    pub at: u64,
}

/// Where the bytes of one pfn are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageLoc {
    /// Not RAM (clear in the 1st bitmap) or beyond max_mapnr.
    Hole,
    /// RAM, but the dump level left it out (clear in the 2nd bitmap).
    Excluded,
    /// In the 2nd bitmap, but the dump is INCOMPLETE and this page's
    /// descriptor was never written (zero, or past the end of the file).
    NotSaved,
    /// Stored; the descriptor was checked against the file's layout.
    Stored(PageDesc),
}

pub struct KdumpFile {
    pub header: KdumpHeader,
    pub bitmap1_offset: u64,
    pub bitmap2_offset: u64,
    /// Bytes of each bitmap.
    pub bitmap_len: u64,
    pub descs_offset: u64,
    /// Descriptors in this file (dumped pfns in `[start_pfn, end_pfn)`).
    pub pages: u64,
    /// Where page data may start: after the descriptor table.
    pub data_offset: u64,
    pub file_size: u64,
    bitmap1: Vec<u8>,
    bitmap2: Vec<u8>,
    /// Dumped pfns in `[start_pfn, start_pfn + i * RANK_BLOCK)`.
    ranks: Vec<u64>,
    /// The PT_NOTE bytes copied into the sub-header (v4+), else empty.
    pub note_bytes: Vec<u8>,
    pub notes: Vec<Note>,
    /// The VMCOREINFO text (v3+), from offset/size_vmcoreinfo.
    pub vmcoreinfo: Option<Vec<u8>>,
}

fn bit(bm: &[u8], pfn: u64) -> bool {
    bm.get((pfn >> 3) as usize).is_some_and(|b| b >> (pfn & 7) & 1 != 0)
}

/// Set bits of `bm` in `[from, to)`.
fn count_bits(bm: &[u8], from: u64, to: u64) -> u64 {
    let mut n = 0u64;
    let mut pfn = from;
    while pfn < to && !pfn.is_multiple_of(8) {
        n += bit(bm, pfn) as u64;
        pfn += 1;
    }
    let whole_end = to - to % 8;
    if pfn < whole_end {
        let bytes = slice(bm, (pfn / 8) as usize, ((whole_end - pfn) / 8) as usize).unwrap_or(&[]);
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            n += u64_at(w, 0).unwrap_or(0).count_ones() as u64;
        }
        n += words.remainder().iter().map(|b| b.count_ones() as u64).sum::<u64>();
        pfn = whole_end;
    }
    while pfn < to {
        n += bit(bm, pfn) as u64;
        pfn += 1;
    }
    n
}

fn read_vec(input: &Input, offset: u64, len: u64) -> Result<Vec<u8>> {
    if offset.checked_add(len).is_none_or(|end| end > input.size()) {
        return Err(Error::Truncated { offset, needed: len, file_size: input.size() });
    }
    let mut v = vec![0u8; len as usize];
    input.read_exact_at(offset, &mut v)?;
    Ok(v)
}

impl KdumpFile {
    pub fn parse(input: &Input) -> Result<KdumpFile> {
        let mut h = [0u8; dh::SIZE];
        input.read_exact_at(0, &mut h)?;
        if h.starts_with(DISKDUMP_SIGNATURE) {
            return Err(Error::Unsupported("the old diskdump format (signature DISKDUMP)".into()));
        }
        if !is_kdump(&h) {
            return Err(malformed(0, "not a kdump-compressed dump (no \"KDUMP   \" signature)"));
        }
        let i32f = |off| i32_at(&h, off).unwrap_or(0);
        let u32f = |off| u32_at(&h, off).unwrap_or(0);
        let header_version = i32f(dh::HEADER_VERSION);
        if !(1..=6).contains(&header_version) {
            return Err(malformed(
                dh::HEADER_VERSION as u64,
                format!("header_version {header_version} (known: 1 to 6)"),
            ));
        }
        let uts = |i: usize| {
            let f = &h[dh::UTSNAME + i * dh::UTS_FIELD_LEN..dh::UTSNAME + (i + 1) * dh::UTS_FIELD_LEN];
            String::from_utf8_lossy(&f[..f.iter().position(|&b| b == 0).unwrap_or(f.len())]).into_owned()
        };
        let machine = uts(dh::UTS_MACHINE);
        if machine != "x86_64" {
            return Err(Error::Unsupported(format!(
                "a dump of a {machine:?} machine (utsname.machine at offset {:#x}); only x86_64 is read",
                dh::UTSNAME + dh::UTS_MACHINE * dh::UTS_FIELD_LEN
            )));
        }
        let block_size = i32f(dh::BLOCK_SIZE) as i64 as u64;
        if block_size != PAGE_SIZE {
            return Err(malformed(dh::BLOCK_SIZE as u64, format!("block_size {} is not 4096", i32f(dh::BLOCK_SIZE))));
        }
        let sub_hdr_blocks = i32f(dh::SUB_HDR_SIZE) as i64;
        if !(1..=MAX_SUB_HDR_BLOCKS as i64).contains(&sub_hdr_blocks) {
            return Err(malformed(dh::SUB_HDR_SIZE as u64, format!("sub_hdr_size {sub_hdr_blocks} blocks")));
        }
        let sub_hdr_blocks = sub_hdr_blocks as u64;
        let bitmap_blocks = u32f(dh::BITMAP_BLOCKS) as u64;
        if bitmap_blocks == 0 || !bitmap_blocks.is_multiple_of(2) {
            return Err(malformed(
                dh::BITMAP_BLOCKS as u64,
                format!("bitmap_blocks {bitmap_blocks}: two bitmaps of whole blocks expected"),
            ));
        }

        // The sub-header: as many of its 104 bytes as this version defines.
        let sub_at = block_size;
        let mut s = [0u8; kh::SIZE];
        let sub_len = (kh::SIZE as u64).min(input.size().saturating_sub(sub_at));
        input.read_exact_at(sub_at, &mut s[..sub_len as usize])?;
        if sub_len < 16 {
            return Err(Error::Truncated { offset: sub_at, needed: 16, file_size: input.size() });
        }
        let su64 = |off| u64_at(&s, off).unwrap_or(0);
        let phys_base = su64(kh::PHYS_BASE);
        let dump_level = i32_at(&s, kh::DUMP_LEVEL).unwrap_or(0);
        let v = header_version;
        let max_mapnr = match su64(kh::MAX_MAPNR_64) {
            m if v >= 6 && m != 0 => m,
            _ => u32f(dh::MAX_MAPNR) as u64,
        };
        let max_mapnr_at = if v >= 6 { sub_at + kh::MAX_MAPNR_64 as u64 } else { dh::MAX_MAPNR as u64 };
        if max_mapnr == 0 || max_mapnr > MAX_MAPNR {
            return Err(malformed(max_mapnr_at, format!("max_mapnr {max_mapnr:#x}")));
        }
        let bitmap_len = bitmap_blocks / 2 * block_size;
        if bitmap_len * 8 < max_mapnr {
            return Err(malformed(
                dh::BITMAP_BLOCKS as u64,
                format!("bitmap_blocks {bitmap_blocks} cannot hold max_mapnr {max_mapnr:#x} pfns"),
            ));
        }
        let split = v >= 2 && i32_at(&s, kh::SPLIT).unwrap_or(0) != 0;
        let (start_pfn, end_pfn) = if !split {
            (0, max_mapnr)
        } else if v >= 6 {
            (su64(kh::START_PFN_64), su64(kh::END_PFN_64))
        } else {
            (su64(kh::START_PFN) & 0xffff_ffff, su64(kh::END_PFN) & 0xffff_ffff)
        };
        if start_pfn > end_pfn || end_pfn > max_mapnr {
            let at = sub_at + if v >= 6 { kh::START_PFN_64 } else { kh::START_PFN } as u64;
            return Err(malformed(
                at,
                format!("split piece pfns [{start_pfn:#x}, {end_pfn:#x}) outside [0, max_mapnr {max_mapnr:#x})"),
            ));
        }
        let sub_end = (1 + sub_hdr_blocks) * block_size;
        let region = |off_field: usize, size_field: usize, min_version: i32, limit: u64, what: &str| {
            if v < min_version {
                return Ok((0, 0));
            }
            let (off, size) = (su64(off_field), su64(size_field));
            if off == 0 || size == 0 {
                return Ok((0, 0));
            }
            if size > limit || off < sub_at + kh::SIZE as u64 || off.saturating_add(size) > sub_end {
                return Err(malformed(
                    sub_at + off_field as u64,
                    format!("{what} at {off:#x}+{size:#x} is not inside the sub-header blocks"),
                ));
            }
            Ok((off, size))
        };
        let (offset_note, size_note) = region(kh::OFFSET_NOTE, kh::SIZE_NOTE, 4, MAX_NOTES, "the ELF notes")?;
        let (offset_vmcoreinfo, size_vmcoreinfo) =
            region(kh::OFFSET_VMCOREINFO, kh::SIZE_VMCOREINFO, 3, MAX_NOTES, "VMCOREINFO")?;
        let header = KdumpHeader {
            header_version,
            release: uts(2),
            machine,
            // A flattened stream cut short carries a prefix of the dump:
            // read it as the INCOMPLETE dump it is (pages never written
            // are "not saved"), whatever its header said when written.
            status: u32f(dh::STATUS) | if input.cut_short().is_some() { flag::INCOMPLETE } else { 0 },
            block_size,
            sub_hdr_blocks,
            bitmap_blocks,
            max_mapnr,
            nr_cpus: i32f(dh::NR_CPUS),
            phys_base,
            dump_level,
            split,
            start_pfn,
            end_pfn,
            offset_vmcoreinfo,
            size_vmcoreinfo,
            offset_note,
            size_note,
        };

        let note_bytes = read_vec(input, offset_note, size_note)?;
        let mut notes = Vec::new();
        parse_notes(&note_bytes, offset_note, 0, &mut notes)?;
        let vmcoreinfo = match size_vmcoreinfo {
            0 => None,
            n => Some(read_vec(input, offset_vmcoreinfo, n)?),
        };

        let bitmap1_offset = sub_end;
        let bitmap2_offset = bitmap1_offset + bitmap_len;
        let bitmap1 = read_vec(input, bitmap1_offset, bitmap_len)?;
        let bitmap2 = read_vec(input, bitmap2_offset, bitmap_len)?;
        let descs_offset = bitmap1_offset + bitmap_blocks * block_size;

        let span = end_pfn - start_pfn;
        let mut ranks = Vec::with_capacity((span / RANK_BLOCK + 1) as usize);
        let mut total = 0u64;
        let mut pfn = start_pfn;
        while pfn < end_pfn {
            ranks.push(total);
            let next = (pfn + RANK_BLOCK).min(end_pfn);
            total += count_bits(&bitmap2, pfn, next);
            pfn = next;
        }
        ranks.push(total);
        let pages = total;
        let data_offset = descs_offset + pages * pd::SIZE as u64;
        if data_offset > input.size() && !header.incomplete() {
            return Err(Error::Truncated {
                offset: descs_offset,
                needed: pages * pd::SIZE as u64,
                file_size: input.size(),
            });
        }
        Ok(KdumpFile {
            header,
            bitmap1_offset,
            bitmap2_offset,
            bitmap_len,
            descs_offset,
            pages,
            data_offset,
            file_size: input.size(),
            bitmap1,
            bitmap2,
            ranks,
            note_bytes,
            notes,
            vmcoreinfo,
        })
    }

    /// RAM pfn (1st bitmap).
    pub fn is_present(&self, pfn: u64) -> bool {
        pfn < self.header.max_mapnr && bit(&self.bitmap1, pfn)
    }

    /// Dumped pfn (2nd bitmap), whichever piece holds it.
    pub fn is_dumped(&self, pfn: u64) -> bool {
        pfn < self.header.max_mapnr && bit(&self.bitmap2, pfn)
    }

    /// Whether this file holds the descriptors of `pfn`.
    pub fn holds(&self, pfn: u64) -> bool {
        (self.header.start_pfn..self.header.end_pfn).contains(&pfn)
    }

    /// The index of `pfn`'s descriptor (the dumped pfns before it in this
    /// file); `pfn` must be dumped and held here.
    pub fn desc_index(&self, pfn: u64) -> u64 {
        let rel = pfn - self.header.start_pfn;
        let block = (rel / RANK_BLOCK) as usize;
        let from = self.header.start_pfn + block as u64 * RANK_BLOCK;
        self.ranks.get(block).copied().unwrap_or(0) + count_bits(&self.bitmap2, from, pfn)
    }

    /// The bytes of bitmap `which` (1 or 2) covering `[start, start + len)`
    /// (`start` a multiple of 8), zero beyond the bitmap.
    pub fn bitmap_bytes(&self, which: u8, start: u64, len: u64) -> Vec<u8> {
        let bm = if which == 1 { &self.bitmap1 } else { &self.bitmap2 };
        let from = (start / 8) as usize;
        let n = len.div_ceil(8) as usize;
        let mut out = vec![0u8; n];
        if let Some(src) = bm.get(from..) {
            let k = src.len().min(n);
            out[..k].copy_from_slice(&src[..k]);
        }
        out
    }

    /// Runs `[first, end)` of consecutive RAM pfns (1st bitmap).
    pub fn present_runs(&self) -> Vec<(u64, u64)> {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        let max = self.header.max_mapnr;
        let mut pfn = 0u64;
        while pfn < max {
            let byte = self.bitmap1[(pfn / 8) as usize];
            if pfn.is_multiple_of(8) && (byte == 0 || byte == 0xff) && pfn + 8 <= max {
                if byte == 0xff {
                    match runs.last_mut() {
                        Some(r) if r.1 == pfn => r.1 += 8,
                        _ => runs.push((pfn, pfn + 8)),
                    }
                }
                pfn += 8;
                continue;
            }
            if bit(&self.bitmap1, pfn) {
                match runs.last_mut() {
                    Some(r) if r.1 == pfn => r.1 += 1,
                    _ => runs.push((pfn, pfn + 1)),
                }
            }
            pfn += 1;
        }
        runs
    }

    /// Read descriptor `index`. `None` when it lies past the end of the
    /// file (possible only in an INCOMPLETE dump).
    pub fn descriptor(&self, input: &Input, index: u64) -> Result<Option<PageDesc>> {
        let at = self.descs_offset + index * pd::SIZE as u64;
        if at + pd::SIZE as u64 > input.size() {
            if self.header.incomplete() {
                return Ok(None);
            }
            return Err(Error::Truncated { offset: at, needed: pd::SIZE as u64, file_size: input.size() });
        }
        let mut d = [0u8; pd::SIZE];
        input.read_exact_at(at, &mut d)?;
        Ok(Some(PageDesc {
            offset: u64_at(&d, pd::OFFSET).unwrap_or(0),
            size: u32_at(&d, pd::SIZE_FIELD).unwrap_or(0),
            flags: u32_at(&d, pd::FLAGS).unwrap_or(0),
            at,
        }))
    }

    /// Check a descriptor of `pfn` against the layout: `Ok(None)` for a
    /// never-written one in an INCOMPLETE dump.
    pub fn check_desc(&self, pfn: u64, d: PageDesc) -> Result<Option<PageDesc>> {
        let bad = |what: String| Error::Page { pfn, offset: d.at, what };
        if self.header.incomplete()
            && (d.offset == 0 || d.size == 0 || d.offset.saturating_add(d.size as u64) > self.file_size)
        {
            // Never written, or cut short: the writer stopped at a full
            // disk, whose last write can leave part of a descriptor (its
            // offset without its size) or of the data.
            return Ok(None);
        }
        if d.offset == 0 && d.size == 0 {
            return Err(bad("descriptor is zero (never written) in a dump not flagged INCOMPLETE".into()));
        }
        if d.size == 0 || d.size as u64 > self.header.block_size {
            return Err(bad(format!("page data size {} (must be 1 to {})", d.size, self.header.block_size)));
        }
        if d.offset < self.data_offset {
            return Err(bad(format!(
                "page data at {:#x} overlaps the headers, bitmaps or descriptors (data starts at {:#x})",
                d.offset, self.data_offset
            )));
        }
        if d.offset.saturating_add(d.size as u64) > self.file_size {
            return Err(bad(format!(
                "page data at {:#x}+{:#x} runs past the end of the file ({} bytes)",
                d.offset, d.size, self.file_size
            )));
        }
        if let Err(why) = crate::compress::flag_name(d.flags) {
            return Err(bad(why));
        }
        if crate::compress::flag_name(d.flags).ok().flatten().is_none() && d.size as u64 != self.header.block_size {
            return Err(bad(format!("uncompressed page of {} bytes", d.size)));
        }
        Ok(Some(d))
    }

    /// Where `pfn`'s bytes are, checked. `pfn` must be held by this file
    /// for a `Stored` answer.
    pub fn locate(&self, input: &Input, pfn: u64) -> Result<PageLoc> {
        if !self.is_present(pfn) {
            return Ok(PageLoc::Hole);
        }
        if !self.is_dumped(pfn) {
            return Ok(PageLoc::Excluded);
        }
        if !self.holds(pfn) {
            return Err(Error::Page {
                pfn,
                offset: 0,
                what: format!(
                    "this split piece holds pfns [{:#x}, {:#x}) only",
                    self.header.start_pfn, self.header.end_pfn
                ),
            });
        }
        let Some(d) = self.descriptor(input, self.desc_index(pfn))? else { return Ok(PageLoc::NotSaved) };
        Ok(match self.check_desc(pfn, d)? {
            Some(d) => PageLoc::Stored(d),
            None => PageLoc::NotSaved,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_counting_over_unaligned_ranges() {
        let bm = [0b1010_1010u8, 0xff, 0x0f, 0x01, 0, 0, 0, 0, 0xff, 0x80];
        let slow = |from: u64, to: u64| (from..to).filter(|&p| bit(&bm, p)).count() as u64;
        for from in 0..80 {
            for to in from..80 {
                assert_eq!(count_bits(&bm, from, to), slow(from, to), "{from}..{to}");
            }
        }
    }
}
