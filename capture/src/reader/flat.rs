//! Reading makedumpfile's flattened format (`-F`, what `kexdump save
//! --format flat` and Debian's kdump-tools write): a 4096-byte header, then
//! records `{i64 offset, i64 size}` (big-endian) each followed by `size`
//! bytes that belong at `offset` of the dump, then an end record `-1, -1`.
//!
//! Rather than rebuilding the file first (`makedumpfile -R`), one pass over
//! the record headers builds an index of extents, and the dump is read in
//! place through it (`Input::flattened`). Where records overlap, the later
//! one wins, as it would when `-R` writes them in order. `reassemble`
//! writes the rebuilt file, byte for byte what `-R` writes.

use crate::bytes::i64_be_at;
use crate::error::{Error, Result};
use crate::format::flat as format;
use crate::format::kdump::{flag, header as kdump_header};
use crate::input::{Extent, Input};
use crate::sink::Sink;
use std::collections::BTreeMap;

/// Size of a record header, for offset arithmetic.
const RECORD_HEADER: u64 = format::RECORD_HEADER_SIZE as u64;
/// Largest offset a record may target: 2^52 bytes is far beyond any dump
/// (52-bit physical addresses, compressed), and keeps every sum in range.
const MAX_DUMP_OFFSET: u64 = 1 << 52;

/// Whether `head` (the first bytes of a file) starts a flattened stream.
pub fn is_flattened(head: &[u8]) -> bool {
    head.len() >= format::SIGNATURE_FIELD_LEN
        && head.starts_with(format::SIGNATURE)
        && head[format::SIGNATURE.len()..format::SIGNATURE_FIELD_LEN].iter().all(|&b| b == 0)
}

fn malformed(offset: u64, what: impl Into<String>) -> Error {
    Error::Malformed { offset, what: what.into() }
}

/// Index the records of the flattened stream `input` and return the dump it
/// carries, readable in place. Errors name the stream offset. A stream cut
/// short (no end record, or a last record missing data) carries what its
/// whole records hold: the dump is read as INCOMPLETE.
pub fn open(input: Input) -> Result<Input> {
    let (extents, cut) = index_prefix(&input)?;
    Ok(Input::flattened(input, extents, cut))
}

/// The extents of the flattened stream `input`, sorted, overlaps resolved;
/// a stream cut short is an error naming where.
pub fn index(input: &Input) -> Result<Vec<Extent>> {
    match index_prefix(input)? {
        (_, Some(cut)) => Err(cut),
        (extents, None) => Ok(extents),
    }
}

/// Like [`index`], but a stream cut short gives the extents of its whole
/// records and the error that says where it ends.
pub fn index_prefix(input: &Input) -> Result<(Vec<Extent>, Option<Error>)> {
    let mut hdr = [0u8; format::HEADER_FIELDS_SIZE];
    input.read_exact_at(0, &mut hdr)?;
    if !is_flattened(&hdr) {
        return Err(malformed(0, "not a flattened dump (no \"makedumpfile\" signature)"));
    }
    let ty = i64_be_at(&hdr, format::header::TYPE).unwrap_or_default();
    let version = i64_be_at(&hdr, format::header::VERSION).unwrap_or_default();
    if ty != format::TYPE_FLAT {
        return Err(malformed(format::header::TYPE as u64, format!("flattened header type {ty}, expected 1")));
    }
    if version != format::VERSION {
        return Err(malformed(
            format::header::VERSION as u64,
            format!("flattened header version {version}, expected 1"),
        ));
    }
    let mut records: Vec<Extent> = Vec::new();
    let mut pos = format::HEADER_SIZE as u64;
    let mut overlaps = false;
    let mut last_end = 0u64;
    let mut buf = [0u8; RECORD_HEADER as usize];
    let mut cut = None;
    loop {
        if pos + RECORD_HEADER > input.size() {
            cut = Some(malformed(
                pos,
                format!(
                    "the flattened stream ends without its end record (file is {} bytes): cut short?",
                    input.size()
                ),
            ));
            break;
        }
        input.read_exact_at(pos, &mut buf)?;
        let offset = i64_be_at(&buf, format::record::OFFSET).unwrap_or_default();
        let size = i64_be_at(&buf, format::record::SIZE).unwrap_or_default();
        if offset == format::END_MARK && size == format::END_MARK {
            break;
        }
        if offset < 0 || size < 0 || offset as u64 > MAX_DUMP_OFFSET || size as u64 > MAX_DUMP_OFFSET {
            return Err(malformed(pos, format!("flattened record with offset {offset} and size {size}")));
        }
        let (offset, size) = (offset as u64, size as u64);
        let data = pos + RECORD_HEADER;
        if data + size > input.size() {
            cut = Some(Error::Truncated { offset: data, needed: size, file_size: input.size() });
            break;
        }
        if size > 0 {
            overlaps |= offset < last_end;
            last_end = offset + size;
            records.push(Extent { start: offset, len: size, source: data });
        }
        // Every record advances `pos` by at least 16 bytes: the loop ends.
        pos = data + size;
    }
    if !overlaps {
        // makedumpfile and kexdump write in ascending order with no overlap,
        // except that headers can be rewritten: then sort and resolve.
        return Ok((merge_adjacent(records), cut));
    }
    Ok((merge_adjacent(resolve_overlaps(records)), cut))
}

/// Later records win where they overlap earlier ones.
fn resolve_overlaps(records: Vec<Extent>) -> Vec<Extent> {
    let mut map: BTreeMap<u64, Extent> = BTreeMap::new();
    for r in records {
        let end = r.start + r.len;
        // Existing extents that intersect [r.start, end).
        let hit: Vec<Extent> =
            map.range(..end).rev().take_while(|(_, e)| e.start + e.len > r.start).map(|(_, e)| *e).collect();
        for e in hit {
            map.remove(&e.start);
            if e.start < r.start {
                map.insert(e.start, Extent { start: e.start, len: r.start - e.start, source: e.source });
            }
            let e_end = e.start + e.len;
            if e_end > end {
                let skip = end - e.start;
                map.insert(end, Extent { start: end, len: e_end - end, source: e.source + skip });
            }
        }
        map.insert(r.start, r);
    }
    map.into_values().collect()
}

/// Join extents that continue each other in both files (fewer lookups).
fn merge_adjacent(mut records: Vec<Extent>) -> Vec<Extent> {
    records.sort_by_key(|e| e.start);
    let mut out: Vec<Extent> = Vec::with_capacity(records.len());
    for r in records {
        match out.last_mut() {
            Some(l) if l.start + l.len == r.start && l.source + l.len == r.source => l.len += r.len,
            _ => out.push(r),
        }
    }
    out
}

/// Write the dump a flattened `input` carries to `sink`, as `makedumpfile
/// -R` rebuilds it: each extent at its offset, gaps left as holes (zeros).
pub fn reassemble(input: &Input, sink: &mut dyn Sink) -> Result<u64> {
    let out_err = |e| Error::Output { path: "<dump>".into(), source: e };
    let stream = input.stream();
    let mut buf = Vec::new();
    for e in input.extents() {
        let mut done = 0u64;
        while done < e.len {
            let n = (e.len - done).min(1 << 20) as usize;
            buf.resize(n, 0);
            stream.read_exact_at(e.source + done, &mut buf)?;
            sink.write_at(e.start + done, &buf).map_err(out_err)?;
            done += n as u64;
        }
    }
    // A stream cut short rebuilds a prefix: its header must say so, or a
    // reader would take the pages never written for damage.
    if input.cut_short().is_some() {
        let status = kdump_header::STATUS as u64;
        let mut word = [0u8; 4];
        input.read_exact_at(status, &mut word)?;
        let flagged = u32::from_le_bytes(word) | flag::INCOMPLETE;
        sink.write_at(status, &flagged.to_le_bytes()).map_err(out_err)?;
    }
    sink.finish().map_err(out_err)?;
    Ok(input.size())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(records: &[(i64, &[u8])], end: bool) -> Vec<u8> {
        let mut s = vec![0u8; format::HEADER_SIZE];
        s[..12].copy_from_slice(format::SIGNATURE);
        s[16..24].copy_from_slice(&1i64.to_be_bytes());
        s[24..32].copy_from_slice(&1i64.to_be_bytes());
        for (off, data) in records {
            s.extend_from_slice(&off.to_be_bytes());
            s.extend_from_slice(&(data.len() as i64).to_be_bytes());
            s.extend_from_slice(data);
        }
        if end {
            s.extend_from_slice(&(-1i64).to_be_bytes());
            s.extend_from_slice(&(-1i64).to_be_bytes());
        }
        s
    }

    #[test]
    fn reads_in_place_later_records_win_gaps_are_zero() {
        let s = stream(&[(0, b"hello"), (10, b"world"), (3, b"XY"), (12, b"RLD!!")], true);
        let input = open(Input::from_bytes(s)).unwrap();
        assert_eq!(input.size(), 17);
        let mut buf = [0u8; 17];
        input.read_exact_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"helXY\0\0\0\0\0woRLD!!");
        let mut scratch = Vec::new();
        assert_eq!(input.with_bytes(12, 3, &mut scratch, |b| b.to_vec()).unwrap(), b"RLD");
        assert_eq!(input.with_bytes(4, 3, &mut scratch, |b| b.to_vec()).unwrap(), b"Y\0\0");
        assert!(input.source_offset(0).is_some() && input.source_offset(6).is_none());
    }

    #[test]
    fn errors_name_the_stream_offset() {
        let cut = stream(&[(0, b"hello")], false);
        match index(&Input::from_bytes(cut.clone())) {
            Err(Error::Malformed { offset, what }) => {
                assert_eq!(offset, 4096 + 16 + 5);
                assert!(what.contains("end record"), "{what}");
            }
            other => panic!("{:?}", other.err()),
        }
        // Opened, a stream cut short carries its whole records.
        let input = open(Input::from_bytes(cut)).unwrap();
        assert!(input.cut_short().unwrap().contains("offset 0x1015"), "{:?}", input.cut_short());
        let mut buf = [0u8; 5];
        input.read_exact_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        let mut past = stream(&[(0, b"hello"), (5, b"world")], true);
        past[4096 + 21 + 15] = 200; // the 2nd record's size 200: past the end
        assert!(matches!(
            index(&Input::from_bytes(past.clone())),
            Err(Error::Truncated { offset: 4133, needed: 200, .. })
        ));
        let input = open(Input::from_bytes(past)).unwrap();
        assert_eq!(input.size(), 5, "only the whole first record");
        assert!(input.cut_short().is_some());
        let mut neg = stream(&[(0, b"hello")], true);
        neg[4096] = 0x80;
        assert!(matches!(open(Input::from_bytes(neg)), Err(Error::Malformed { offset: 4096, .. })));
        let mut ver = stream(&[], true);
        ver[31] = 2;
        assert!(matches!(open(Input::from_bytes(ver)), Err(Error::Malformed { offset: 24, .. })));
    }
}
