//! makedumpfile's dump level (`-d`, bits OR-ed, 0-31) in words: which
//! classes of pages a dump left out. Same bits as `kexdump save -d`.

/// (bit, the pages that bit excludes).
pub const LEVEL_BITS: [(u8, &str); 5] = [
    (1, "zero pages"),
    (2, "page cache pages without private data"),
    (4, "all page cache pages"),
    (8, "user pages (anonymous and hugetlb)"),
    (16, "free pages (buddy allocator)"),
];

/// Excluded whenever a dump tool filters, at every level: makedumpfile
/// and kexdump never store these.
pub const ALWAYS_EXCLUDED: &str = "hwpoisoned and offline pages";

/// The page classes a dump left out. `level` None (the file does not say)
/// gives None; an unfiltered dump (`filtered` false) excluded nothing.
pub fn excluded_classes(level: Option<u8>, filtered: bool) -> Option<Vec<&'static str>> {
    if !filtered {
        return Some(Vec::new());
    }
    let level = level?;
    let mut out: Vec<&str> = LEVEL_BITS.iter().filter(|(b, _)| level & b != 0).map(|&(_, s)| s).collect();
    // Bit 4 subsumes bit 2: name the wider class only.
    if level & 4 != 0 {
        out.retain(|s| *s != LEVEL_BITS[1].1);
    }
    out.push(ALWAYS_EXCLUDED);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(excluded_classes(Some(0), false), Some(vec![]));
        assert_eq!(excluded_classes(None, true), None);
        assert_eq!(excluded_classes(Some(0), true), Some(vec![ALWAYS_EXCLUDED]));
        let all = excluded_classes(Some(31), true).unwrap();
        assert_eq!(all.len(), 5);
        assert!(all.contains(&"all page cache pages") && !all.contains(&"page cache pages without private data"));
        assert_eq!(excluded_classes(Some(2), true).unwrap()[0], "page cache pages without private data");
    }
}
