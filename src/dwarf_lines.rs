//! file:line for kernel addresses from a vmlinux with DWARF (`kexdump
//! inspect --vmlinux`), with gimli (DWARF) over object (ELF section
//! headers). The address minus KERNELOFFSET (KASLR) is looked up in
//! `.debug_aranges` to find its compile unit, whose line program is then
//! run to the row covering the address.
//!
//! No mmap (and no unsafe): the small sections are read whole (~27 MB for
//! Debian's 630 MB vmlinux: abbrev, line, str), and of `.debug_info`
//! (174 MB) only the one compile unit a lookup needs.

use anyhow::{anyhow, bail, Context, Result};
use gimli::{DebugInfoOffset, EndianSlice, LittleEndian, SectionId};
use object::{Object, ObjectSection};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// Sections read whole; `.debug_info` is read one unit at a time.
const WHOLE: [SectionId; 7] = [
    SectionId::DebugAbbrev,
    SectionId::DebugAranges,
    SectionId::DebugLine,
    SectionId::DebugLineStr,
    SectionId::DebugStr,
    SectionId::DebugStrOffsets,
    SectionId::DebugAddr,
];
/// Largest compile unit read (the biggest in Debian 6.1's vmlinux is a
/// few MB).
const MAX_UNIT: u64 = 256 << 20;

pub struct SourceLines {
    file: File,
    sections: HashMap<SectionId, Vec<u8>>,
    /// File offset and size of `.debug_info`.
    info: (u64, u64),
    kernel_offset: u64,
    /// (start, end, compile unit), sorted by start.
    ranges: Vec<(u64, u64, DebugInfoOffset)>,
}

impl SourceLines {
    /// `kernel_offset`: VMCOREINFO KERNELOFFSET, subtracted from every
    /// address to get the vmlinux's link-time address.
    pub fn open(path: &Path, kernel_offset: u64) -> Result<SourceLines> {
        let file = File::open(path).with_context(|| format!("opening vmlinux {}", path.display()))?;
        let file_len = file.metadata()?.len();
        let cache = object::ReadCache::new(file.try_clone()?);
        let obj = object::File::parse(&cache).map_err(|e| anyhow!("{} is not an ELF file: {e}", path.display()))?;
        let mut sections = HashMap::new();
        for id in WHOLE {
            // Read straight from the file: the cache would keep a second copy.
            if let Some((off, len)) = obj.section_by_name(id.name()).and_then(|s| s.file_range()) {
                if off.checked_add(len).is_none_or(|end| end > file_len) {
                    bail!("{} of {} runs past the end of the file", id.name(), path.display());
                }
                let mut data = vec![0u8; usize::try_from(len)?];
                file.read_exact_at(&mut data, off)
                    .with_context(|| format!("reading {} of {}", id.name(), path.display()))?;
                sections.insert(id, data);
            }
        }
        let info = obj
            .section_by_name(".debug_info")
            .and_then(|s| s.file_range())
            .ok_or_else(|| anyhow!("{} has no .debug_info (not a vmlinux with debug info?)", path.display()))?;
        drop(obj);
        drop(cache);
        let mut lines = SourceLines { file, sections, info, kernel_offset, ranges: Vec::new() };
        lines.ranges = lines.read_aranges().with_context(|| format!("reading .debug_aranges of {}", path.display()))?;
        if lines.ranges.is_empty() {
            bail!("{} has no .debug_aranges", path.display());
        }
        Ok(lines)
    }

    /// The DWARF sections, with `unit` (one compile unit's bytes) as
    /// `.debug_info`.
    fn dwarf<'a>(&'a self, unit: &'a [u8]) -> gimli::Dwarf<Slice<'a>> {
        let load = |id: SectionId| -> Result<Slice<'a>, gimli::Error> {
            let data = if id == SectionId::DebugInfo { unit } else { self.sections.get(&id).map_or(&[][..], |v| v) };
            Ok(EndianSlice::new(data, LittleEndian))
        };
        gimli::Dwarf::load(load).unwrap_or_else(|_: gimli::Error| unreachable!("the loader never fails"))
    }

    fn read_aranges(&self) -> Result<Vec<(u64, u64, DebugInfoOffset)>> {
        let dwarf = self.dwarf(&[]);
        let mut out = Vec::new();
        let mut headers = dwarf.debug_aranges.headers();
        while let Some(h) = headers.next()? {
            let cu = h.debug_info_offset();
            let mut entries = h.entries();
            while let Some(e) = entries.next()? {
                if e.length() > 0 {
                    out.push((e.address(), e.address().saturating_add(e.length()), cu));
                }
            }
        }
        out.sort_unstable_by_key(|r| r.0);
        Ok(out)
    }

    /// The bytes of the compile unit at `.debug_info` offset `cu`.
    fn read_unit(&self, cu: DebugInfoOffset) -> Result<Vec<u8>> {
        let (start, size) = self.info;
        if cu.0 as u64 >= size {
            bail!("compile unit offset {:#x} past .debug_info", cu.0);
        }
        let at = start + cu.0 as u64;
        let mut len = [0u8; 12];
        self.file.read_exact_at(&mut len, at)?;
        let short = u32::from_le_bytes(len[..4].try_into()?) as u64;
        let total = if short == 0xffff_ffff { 12 + u64::from_le_bytes(len[4..].try_into()?) } else { 4 + short };
        if total > MAX_UNIT || cu.0 as u64 + total > size {
            bail!("compile unit at {:#x} claims {total} bytes", cu.0);
        }
        let mut buf = vec![0u8; total as usize];
        self.file.read_exact_at(&mut buf, at)?;
        Ok(buf)
    }

    /// `file:line` of the instruction at `addr` (a crashed-kernel address),
    /// or None when the vmlinux does not cover it.
    pub fn lookup(&self, addr: u64) -> Option<String> {
        self.try_lookup(addr.wrapping_sub(self.kernel_offset)).ok().flatten()
    }

    fn try_lookup(&self, addr: u64) -> Result<Option<String>> {
        let at = self.ranges.partition_point(|r| r.0 <= addr);
        let Some(&(_, end, cu)) = at.checked_sub(1).and_then(|i| self.ranges.get(i)) else { return Ok(None) };
        if addr >= end {
            return Ok(None);
        }
        let bytes = self.read_unit(cu)?;
        let dwarf = self.dwarf(&bytes);
        let unit = dwarf.unit(dwarf.debug_info.header_from_offset(DebugInfoOffset(0))?)?;
        let Some(program) = unit.line_program.clone() else { return Ok(None) };
        let mut rows = program.rows();
        // The row covering addr: a row at or below it whose next row in the
        // same sequence is above it.
        let mut best: Option<(u64, u64, u64)> = None; // (row address, file, line)
        let mut prev: Option<(u64, u64, u64)> = None;
        while let Some((_, row)) = rows.next_row()? {
            if let Some(p) = prev {
                if p.0 <= addr && addr < row.address() && best.is_none_or(|b| p.0 >= b.0) {
                    best = Some(p);
                }
            }
            prev = if row.end_sequence() {
                None
            } else {
                Some((row.address(), row.file_index(), row.line().map_or(0, |l| l.get())))
            };
        }
        let Some((_, file_index, line)) = best else { return Ok(None) };
        let header = rows.header();
        let Some(file) = header.file(file_index) else { return Ok(None) };
        let name = dwarf.attr_string(&unit, file.path_name())?.to_string_lossy().into_owned();
        let dir = match file.directory(header) {
            Some(d) => dwarf.attr_string(&unit, d)?.to_string_lossy().into_owned(),
            None => String::new(),
        };
        let path = if name.starts_with('/') || dir.is_empty() {
            name
        } else {
            format!("{}/{name}", dir.trim_end_matches('/'))
        };
        Ok(Some(format!("{path}:{line}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A function whose address and line the test looks up in this very
    /// test binary's DWARF. `no_mangle` counts as unsafe code (a symbol
    /// name could collide); this one is test-only and uniquely named.
    #[allow(unsafe_code)]
    #[no_mangle]
    #[inline(never)]
    pub extern "C" fn kexdump_dwarf_lines_probe(x: u64) -> u64 {
        std::hint::black_box(x).wrapping_mul(3) // the line the probe's code is on
    }

    #[test]
    fn finds_file_and_line_in_this_binary() {
        assert_eq!(kexdump_dwarf_lines_probe(2), 6);
        let exe = std::env::current_exe().unwrap();
        let data = std::fs::read(&exe).unwrap();
        let obj = object::File::parse(&*data).unwrap();
        use object::ObjectSymbol;
        let sym = obj.symbols().find(|s| s.name() == Ok("kexdump_dwarf_lines_probe")).expect("probe symbol");
        // a made-up "KASLR" offset: lookups subtract it
        let lines = SourceLines::open(&exe, 0x1000).unwrap();
        let found = lines.lookup(sym.address() + 0x1000).expect("the probe's line");
        assert!(found.contains("src/dwarf_lines.rs:"), "{found}");
        let line: usize = found.rsplit(':').next().unwrap().parse().unwrap();
        let src = include_str!("dwarf_lines.rs");
        let probe_fn =
            src.lines().position(|l| l.contains("pub extern \"C\" fn kexdump_dwarf_lines_probe")).unwrap() + 1;
        assert!((probe_fn..probe_fn + 3).contains(&line), "{found}, probe at line {probe_fn}");
        assert_eq!(lines.lookup(0x10), None);
    }

    #[test]
    fn not_a_vmlinux() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"not an ELF file").unwrap();
        let e = SourceLines::open(&p, 0).err().unwrap();
        assert!(format!("{e:#}").contains("is not an ELF file"), "{e:#}");
        assert!(SourceLines::open(&dir.path().join("missing"), 0).is_err());
    }
}
