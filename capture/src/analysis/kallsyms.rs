//! The kernel's own symbol table (kallsyms), read from the dump through the
//! `SYMBOL(kallsyms_*)` entries of VMCOREINFO, so addresses can be named
//! without a vmlinux. Learned from kernel/kallsyms.c and scripts/kallsyms.c
//! (6.1); this is a reader of the format, not a port.
//!
//! The format, as 6.1 builds it:
//! - `kallsyms_num_syms`: u32, the number of symbols.
//! - `kallsyms_offsets`: one i32 per symbol, sorted by address. With
//!   `CONFIG_KALLSYMS_ABSOLUTE_PERCPU` (x86_64 SMP; Debian's 6.1 and 6.12) a value >= 0
//!   is an absolute address (per-CPU variables, which are offsets into the
//!   per-CPU area) and a negative one means `relative_base - 1 - value`;
//!   without it every value is an unsigned offset from `relative_base`.
//!   Kernel addresses lie within 2 GiB above `relative_base`, so a table
//!   with any negative value uses the absolute-percpu encoding.
//! - `kallsyms_relative_base`: u64, the lowest non-per-CPU address.
//! - Linux 7.0 and later (64-bit or relocatable) have no
//!   `kallsyms_relative_base` (nor its VMCOREINFO entry): each offset is
//!   place-relative, the signed distance from the entry's own address to
//!   the symbol, `&kallsyms_offsets[i] + kallsyms_offsets[i]` (the linker's
//!   PC32 relocation; kernel commit "kallsyms: Get rid of kallsyms relative
//!   base"). Debian's 7.3 is read this way (its configuration has no
//!   `KALLSYMS_ABSOLUTE_PERCPU` any more: per-CPU symbols are ordinary
//!   addresses).
//! - `kallsyms_names`: per symbol a length, then that many token numbers.
//!   The length is one byte, or (6.1+, "big" symbols) two when the first
//!   has bit 7 set: `(b0 & 0x7f) | b1 << 7`.
//! - `kallsyms_token_table`: 256 NUL-terminated strings;
//!   `kallsyms_token_index`: 256 u16 offsets of them. A name is the
//!   concatenation of its tokens; its first character is the `nm` type.
//!
//! VMCOREINFO has no `kallsyms_markers` (the every-256th-name index), so the
//! names are walked once to find where each starts; the strings themselves
//! are expanded only for the symbols asked about. Every count and size is
//! bounded before anything is allocated, and no input can panic.

use super::error::{AnalysisError, AnalysisResult};
use super::source::KernelMemory;
pub use super::symbols::Symbol;
use super::symbols::{locate, SymbolLookup};
use crate::bytes::{i32_at, u16_at, u32_at, u64_at};
use crate::page::{offset_in_page, PAGE_SIZE};
use crate::vmcoreinfo::VmcoreInfo;
use std::ops::Range;

/// More symbols than any kernel has (6.1 allmodconfig: ~250k); bounds the
/// offsets array (8 MiB) and the index built from it.
pub const MAX_SYMS: u32 = 1 << 21;
/// Largest compressed-names region we read (Debian 6.1: ~1.5 MiB).
pub const MAX_NAMES_BYTES: usize = 32 << 20;
/// Longest expanded name kept (the kernel's KSYM_NAME_LEN is 512).
const MAX_NAME_LEN: usize = 512;
/// Longest single token read from the token table.
const MAX_TOKEN_LEN: usize = 256;
/// Names are read from the dump in pieces of this size.
const NAMES_CHUNK: usize = 64 << 10;

/// How `kallsyms_offsets` encodes addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetEncoding {
    /// `CONFIG_KALLSYMS_ABSOLUTE_PERCPU` (x86_64 SMP; Debian's 6.1 and
    /// 6.12): >= 0 absolute (per-CPU), < 0 `base - 1 - value`.
    AbsolutePercpu { base: u64 },
    /// An unsigned offset from `kallsyms_relative_base`.
    BaseRelative { base: u64 },
    /// 7.0+: signed, from the entry's own address (`kallsyms_offsets` at
    /// `table`).
    PlaceRelative { table: u64 },
}

impl OffsetEncoding {
    /// The address entry `index` with value `o` stands for.
    pub fn address(self, index: usize, o: i32) -> u64 {
        match self {
            OffsetEncoding::BaseRelative { base } => base.wrapping_add(o as u32 as u64),
            OffsetEncoding::AbsolutePercpu { .. } if o >= 0 => o as u64,
            OffsetEncoding::AbsolutePercpu { base } => base.wrapping_sub(1).wrapping_sub(o as i64 as u64),
            OffsetEncoding::PlaceRelative { table } => {
                table.wrapping_add(4 * index as u64).wrapping_add(o as i64 as u64)
            }
        }
    }

    /// A few words for the report.
    pub fn describe(self) -> &'static str {
        match self {
            OffsetEncoding::AbsolutePercpu { .. } => "base-relative, per-CPU values absolute",
            OffsetEncoding::BaseRelative { .. } => "base-relative",
            OffsetEncoding::PlaceRelative { .. } => "place-relative, 7.0 and later",
        }
    }
}

/// Per symbol index: (start of its token numbers in the names, count).
type NameEntries = Vec<(u32, u16)>;

pub struct Kallsyms {
    /// (address, symbol index), ascending.
    sorted: Vec<(u64, u32)>,
    names: Vec<u8>,
    entries: NameEntries,
    tokens: Vec<u8>,
    /// Per token number, its bytes in `tokens` (NUL and bounds resolved
    /// once, at load, so expanding a name is a few slice copies).
    token_spans: [Range<u32>; 256],
    /// `[_stext, _etext)` and `[_sinittext, _einittext)` when known.
    text: Vec<Range<u64>>,
    pub absolute_percpu: bool,
    pub encoding: OffsetEncoding,
}

fn bad(what: &'static str, why: impl Into<String>) -> AnalysisError {
    AnalysisError::BadKallsyms { what, why: why.into() }
}

fn read_vec(mem: &dyn KernelMemory, vaddr: u64, len: usize) -> AnalysisResult<Vec<u8>> {
    let mut b = vec![0u8; len];
    mem.read(vaddr, &mut b)?;
    Ok(b)
}

impl Kallsyms {
    /// Read the table the VMCOREINFO entries point at.
    pub fn load(mem: &dyn KernelMemory, info: &VmcoreInfo) -> AnalysisResult<Kallsyms> {
        let names_addr = info.symbol("kallsyms_names")?;
        let num_addr = info.symbol("kallsyms_num_syms")?;
        let table_addr = info.symbol("kallsyms_token_table")?;
        let index_addr = info.symbol("kallsyms_token_index")?;
        let offsets_addr = info.symbol("kallsyms_offsets")?;
        // 7.0+ has no relative base: the offsets are place-relative.
        let base_addr = info.opt_symbol("kallsyms_relative_base")?;

        let num = u32_at(&read_vec(mem, num_addr, 4)?, 0).unwrap_or(0);
        if num == 0 || num > MAX_SYMS {
            return Err(bad("kallsyms_num_syms", format!("{num} symbols (expected 1..={MAX_SYMS})")));
        }
        let base = match base_addr {
            Some(a) => Some(u64_at(&read_vec(mem, a, 8)?, 0).unwrap_or(0)),
            None => None,
        };
        let raw_offsets = read_vec(mem, offsets_addr, num as usize * 4)?;
        let offsets: Vec<i32> = raw_offsets.chunks_exact(4).map(|c| i32_at(c, 0).unwrap_or(0)).collect();

        let raw_index = read_vec(mem, index_addr, 512)?;
        let mut token_index = [0u16; 256];
        for (i, t) in token_index.iter_mut().enumerate() {
            *t = u16_at(&raw_index, 2 * i).unwrap_or(0);
        }
        let table_len = *token_index.iter().max().unwrap_or(&0) as usize + MAX_TOKEN_LEN;
        let tokens = read_bounded(mem, table_addr, table_len)?;
        let token_spans = std::array::from_fn(|i| {
            let start = (token_index[i] as usize).min(tokens.len());
            let rest = &tokens[start..];
            let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len()).min(MAX_TOKEN_LEN);
            start as u32..(start + len) as u32
        });

        let (names, entries) = walk_names(mem, names_addr, num)?;

        let encoding = match base {
            None => OffsetEncoding::PlaceRelative { table: offsets_addr },
            Some(base) if offsets.iter().any(|&o| o < 0) => OffsetEncoding::AbsolutePercpu { base },
            Some(base) => OffsetEncoding::BaseRelative { base },
        };
        let absolute_percpu = matches!(encoding, OffsetEncoding::AbsolutePercpu { .. });
        let mut sorted: Vec<(u64, u32)> =
            offsets.iter().enumerate().map(|(i, &o)| (encoding.address(i, o), i as u32)).collect();
        sorted.sort_unstable();

        let mut k =
            Kallsyms { sorted, names, entries, tokens, token_spans, text: Vec::new(), absolute_percpu, encoding };
        let found = k.addresses_of(&["_stext", "_etext", "_sinittext", "_einittext"]);
        let stext = info.opt_symbol("_stext").ok().flatten().or(found[0]);
        if let (Some(s), Some(e)) = (stext, found[1]) {
            if s < e {
                k.text.push(s..e);
            }
        }
        if let (Some(s), Some(e)) = (found[2], found[3]) {
            if s < e {
                k.text.push(s..e);
            }
        }
        Ok(k)
    }

    /// Expand symbol `index`: (type character, name). Unknown token bytes
    /// and a missing NUL end a token early; nothing here can fail.
    fn expand(&self, index: u32) -> (char, String) {
        let mut out = Vec::with_capacity(32);
        self.expand_into(index, &mut out);
        let kind = out.first().map_or('?', |&b| b as char);
        let name = String::from_utf8_lossy(out.get(1..).unwrap_or(&[])).into_owned();
        (kind, name)
    }

    /// The token numbers of symbol `index`.
    fn codes(&self, index: u32) -> &[u8] {
        let Some(&(pos, count)) = self.entries.get(index as usize) else { return &[] };
        self.names.get(pos as usize..pos as usize + count as usize).unwrap_or(&[])
    }

    fn token(&self, code: u8) -> &[u8] {
        let span = &self.token_spans[code as usize];
        &self.tokens[span.start as usize..span.end as usize]
    }

    /// Symbol `index`'s type character and name bytes into `out`
    /// (replacing what it held), at most `MAX_NAME_LEN` bytes.
    fn expand_into(&self, index: u32, out: &mut Vec<u8>) {
        out.clear();
        for &c in self.codes(index) {
            out.extend_from_slice(self.token(c));
            if out.len() > MAX_NAME_LEN {
                out.truncate(MAX_NAME_LEN);
                break;
            }
        }
    }

    /// The addresses of the given names (first match each), in one pass
    /// over the table. A save asks this of every symbol (about 150k on
    /// 6.1), so names are compared as bytes in one reused buffer, and only
    /// those whose length (the sum of their tokens') fits one wanted.
    pub fn addresses_of(&self, wanted: &[&str]) -> Vec<Option<u64>> {
        let mut found = vec![None; wanted.len()];
        // Expanded lengths include the type character.
        let lengths: Vec<usize> = wanted.iter().map(|w| w.len() + 1).collect();
        let mut buf = Vec::with_capacity(MAX_NAME_LEN + MAX_TOKEN_LEN);
        for &(addr, index) in &self.sorted {
            let len: usize = self.codes(index).iter().map(|&c| self.token_spans[c as usize].len()).sum();
            if !lengths.contains(&len.min(MAX_NAME_LEN)) {
                continue;
            }
            self.expand_into(index, &mut buf);
            let name = buf.get(1..).unwrap_or(&[]);
            if let Some(i) = wanted.iter().position(|w| w.as_bytes() == name) {
                found[i].get_or_insert(addr);
                if found.iter().all(Option::is_some) {
                    break;
                }
            }
        }
        found
    }
}

impl SymbolLookup for Kallsyms {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn symbolize(&self, addr: u64) -> Option<Symbol> {
        let (first, start, size) = locate(&self.sorted, addr)?;
        let (kind, name) = self.expand(self.sorted[first].1);
        Some(Symbol { name, kind, start, offset: addr - start, size })
    }

    fn text_ranges(&self) -> &[Range<u64>] {
        &self.text
    }
}

/// Read `len` bytes, or as many whole pages of them as can be read (a
/// table at the end of mapped memory), at least one byte.
fn read_bounded(mem: &dyn KernelMemory, vaddr: u64, len: usize) -> AnalysisResult<Vec<u8>> {
    match read_vec(mem, vaddr, len) {
        Ok(b) => Ok(b),
        Err(first) => {
            let to_page_end = (PAGE_SIZE - offset_in_page(vaddr)) as usize;
            let mut got = Vec::new();
            let mut at = 0usize;
            while at < len {
                let n = if at == 0 { to_page_end.min(len) } else { (PAGE_SIZE as usize).min(len - at) };
                let Ok(b) = read_vec(mem, vaddr + at as u64, n) else { break };
                got.extend_from_slice(&b);
                at += n;
            }
            if got.is_empty() {
                Err(first)
            } else {
                Ok(got)
            }
        }
    }
}

/// Walk `num` compressed names from `addr`, reading as needed; returns the
/// bytes read and where each symbol's token numbers are.
fn walk_names(mem: &dyn KernelMemory, addr: u64, num: u32) -> AnalysisResult<(Vec<u8>, NameEntries)> {
    let mut names: Vec<u8> = Vec::new();
    let mut entries = Vec::with_capacity(num as usize);
    let mut pos = 0usize;
    // Make names[..need] readable, reading whole chunks where possible.
    let ensure = |names: &mut Vec<u8>, need: usize| -> AnalysisResult<()> {
        if need <= names.len() {
            return Ok(());
        }
        if need > MAX_NAMES_BYTES {
            return Err(bad("kallsyms_names", format!("names run past {MAX_NAMES_BYTES} bytes")));
        }
        let want = (need - names.len()).max(NAMES_CHUNK).min(MAX_NAMES_BYTES - names.len());
        let more = read_bounded(mem, addr + names.len() as u64, want)?;
        names.extend_from_slice(&more);
        if need > names.len() {
            return Err(bad("kallsyms_names", format!("unreadable at byte {}", names.len())));
        }
        Ok(())
    };
    for _ in 0..num {
        ensure(&mut names, pos + 1)?;
        let b0 = names[pos] as usize;
        let (count, header) = if b0 & 0x80 != 0 {
            ensure(&mut names, pos + 2)?;
            ((b0 & 0x7f) | (names[pos + 1] as usize) << 7, 2)
        } else {
            (b0, 1)
        };
        if count == 0 {
            // Every name holds at least its type character.
            return Err(bad("kallsyms_names", format!("symbol {} has an empty name", entries.len())));
        }
        let start = pos + header;
        ensure(&mut names, start + count)?;
        entries.push((start as u32, count as u16));
        pos = start + count;
    }
    names.truncate(pos);
    Ok((names, entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::symbols::LAST_SYMBOL_SPAN;
    use crate::analysis::test_memory::{
        kallsyms_info as info, kallsyms_info_v7, kallsyms_memory as memory, TestMemory,
    };
    use crate::analysis::test_memory::{BASE, INDEX, NAMES, NUM, OFFSETS, TOKENS};
    use kexdump_testgen::kallsyms::{encode, Sym};

    const TEXT: u64 = 0xffff_ffff_8100_0000;

    fn syms() -> Vec<Sym> {
        vec![
            (TEXT, 'T', "_text".into()),
            (TEXT, 'T', "_stext".into()),
            (TEXT + 0x100, 't', "sysrq_handle_crash".into()),
            (TEXT + 0x120, 'T', "__handle_sysrq".into()),
            (TEXT + 0x400, 't', "y".repeat(300)),
            (TEXT + 0x1000, 'T', "_etext".into()),
            (TEXT + 0x2000, 'D', "init_uts_ns".into()),
            (0x1ad00, 'D', "current_task".into()),
        ]
    }

    #[test]
    fn symbolizes_both_offset_encodings() {
        for absolute in [true, false] {
            let all = syms();
            // Without absolute per-CPU values there are no per-CPU symbols.
            let list = if absolute { all.clone() } else { all[..7].to_vec() };
            let k = Kallsyms::load(&memory(&encode(&list, absolute)), &info()).unwrap();
            assert_eq!((k.len(), k.absolute_percpu), (list.len(), absolute));
            assert_eq!(k.text_ranges().len(), 1);
            assert_eq!(k.text_ranges()[0], TEXT..TEXT + 0x1000);
            let s = k.symbolize(TEXT + 0x116).unwrap();
            assert_eq!(s.to_string(), "sysrq_handle_crash+0x16/0x20");
            assert_eq!(s.kind, 't');
            // aliases: the first listed wins, as in the kernel
            assert_eq!(k.symbolize(TEXT + 8).unwrap().name, "_text");
            assert_eq!(k.symbolize(TEXT + 0x404).unwrap().name, "y".repeat(300));
            assert!(k.text_symbol(TEXT + 0x2004).is_none(), "data is not text");
            assert_eq!(k.symbolize(TEXT + 0x2004).unwrap().to_string(), "init_uts_ns+0x4");
            assert!(k.symbolize(TEXT + 0x2000 + LAST_SYMBOL_SPAN).is_none());
            assert!(k.symbolize(TEXT - 1).is_none() || absolute);
            assert_eq!(k.addresses_of(&["__handle_sysrq", "nope"]), vec![Some(TEXT + 0x120), None]);
            if absolute {
                assert_eq!(
                    k.symbolize(0x1ad08).unwrap().to_string(),
                    format!("current_task+0x8/{:#x}", TEXT - 0x1ad00)
                );
            }
        }
    }

    /// 7.0+: no kallsyms_relative_base, offsets relative to their own
    /// place; symbols below and above the table both come out right.
    #[test]
    fn symbolizes_place_relative_offsets() {
        use kexdump_testgen::kallsyms::encode_place_relative;
        let list = syms()[..7].to_vec();
        let t = encode_place_relative(&list, OFFSETS);
        let v7 = kallsyms_info_v7();
        assert_eq!(v7.opt_symbol("kallsyms_relative_base").unwrap(), None);
        let k = Kallsyms::load(&memory(&t), &v7).unwrap();
        assert_eq!(k.encoding, OffsetEncoding::PlaceRelative { table: OFFSETS });
        assert!(!k.absolute_percpu);
        assert_eq!(k.symbolize(TEXT + 0x116).unwrap().to_string(), "sysrq_handle_crash+0x16/0x20");
        assert_eq!(k.text_ranges().len(), 1);
        assert_eq!(k.text_ranges()[0], TEXT..TEXT + 0x1000);
        assert_eq!(k.addresses_of(&["init_uts_ns"]), vec![Some(TEXT + 0x2000)]);
        // read with a relative base instead, the same table is wrong: the
        // encoding really is chosen by the key's absence
        let k6 = Kallsyms::load(&memory(&t), &info()).unwrap();
        assert_ne!(k6.addresses_of(&["init_uts_ns"]), vec![Some(TEXT + 0x2000)]);
    }

    #[test]
    fn impossible_counts_are_errors_not_allocations() {
        let t = encode(&syms(), true);
        for n in [0u32, MAX_SYMS + 1, u32::MAX] {
            let mut m = memory(&t);
            m.put(NUM, &n.to_le_bytes());
            match Kallsyms::load(&m, &info()) {
                Err(AnalysisError::BadKallsyms { what: "kallsyms_num_syms", .. }) => {}
                other => panic!("{n}: {:?}", other.map(|k| k.len())),
            }
        }
        // more symbols than names: the walk runs into the zeros after them
        let mut m = memory(&t);
        m.put(NUM, &1000u32.to_le_bytes());
        assert!(matches!(Kallsyms::load(&m, &info()), Err(AnalysisError::BadKallsyms { what: "kallsyms_names", .. })));
        // names that cannot be read
        let mut m = TestMemory::default();
        m.put(NUM, &t.num_syms.to_le_bytes()).put(TOKENS, &t.token_table).put(INDEX, &t.token_index);
        m.put(OFFSETS, &t.offsets).put(BASE, &t.relative_base.to_le_bytes());
        assert!(matches!(Kallsyms::load(&m, &info()), Err(AnalysisError::Read(_))));
        // a missing key names itself
        let no_names = VmcoreInfo::parse(format!("SYMBOL(kallsyms_num_syms)={NUM:x}\n").as_bytes());
        match Kallsyms::load(&memory(&t), &no_names) {
            Err(AnalysisError::Read(crate::Error::MissingKey(k))) => assert_eq!(k, "SYMBOL(kallsyms_names)"),
            other => panic!("{:?}", other.map(|k| k.len())),
        }
    }

    /// Every byte of every array changed, one at a time, to a few values:
    /// loading and symbolizing never panic.
    #[test]
    fn mutated_tables_never_panic() {
        let t = encode(&syms(), true);
        let base = memory(&t);
        let mut seen_ok = 0;
        let regions = [
            (NAMES, t.names.len()),
            (NUM, 4),
            (TOKENS, t.token_table.len()),
            (INDEX, t.token_index.len()),
            (OFFSETS, t.offsets.len()),
            (BASE, 8),
        ];
        for (region, len) in regions {
            for i in 0..len {
                for v in [0x00u8, 0x7f, 0x80, 0xff] {
                    let mut m = base.clone();
                    m.region_mut(region)[i] = v;
                    if let Ok(k) = Kallsyms::load(&m, &info()) {
                        seen_ok += 1;
                        for a in [0, 0x1ad00, TEXT, TEXT + 0x116, TEXT + 0x2004, u64::MAX] {
                            let _ = k.symbolize(a).map(|s| s.to_string());
                            let _ = k.text_symbol(a);
                        }
                    }
                }
            }
        }
        assert!(seen_ok > 0);
    }
}
