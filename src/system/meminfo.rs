//! `/proc/meminfo`, and what it says of the size of a dump: the pages a
//! dump level leaves out are (mostly) the free, page-cache and user pages
//! that meminfo counts.

use std::collections::BTreeMap;
use std::path::Path;

pub const MEMINFO: &str = "proc/meminfo";

/// Values in bytes, by name (`MemTotal`, `MemFree`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemInfo(BTreeMap<String, u64>);

impl MemInfo {
    pub fn parse(text: &str) -> MemInfo {
        let mut m = BTreeMap::new();
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else { continue };
            let mut words = v.split_whitespace();
            let Some(n) = words.next().and_then(|n| n.parse::<u64>().ok()) else { continue };
            let bytes = match words.next() {
                Some("kB") => n.saturating_mul(1024),
                _ => n,
            };
            m.insert(k.trim().to_owned(), bytes);
        }
        MemInfo(m)
    }

    pub fn read(root: &Path) -> Result<MemInfo, String> {
        let p = root.join(MEMINFO);
        let text = std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        Ok(MemInfo::parse(&text))
    }

    pub fn get(&self, key: &str) -> u64 {
        self.0.get(key).copied().unwrap_or(0)
    }
}

/// An upper bound of the memory a dump at `level` keeps, uncompressed:
/// RAM less what each excluded class held now (free pages for 16, user
/// pages for 8, page cache for 2 and 4). Zero pages (1) are not counted
/// out: meminfo does not know them. Compression shrinks the file further
/// (to a tenth or less for kernel memory), so free space of this size is
/// always enough, and a quarter of it nearly always.
pub fn dump_upper_bound(m: &MemInfo, level: u8) -> u64 {
    let mut out = 0u64;
    if level & 16 != 0 {
        out = out.saturating_add(m.get("MemFree"));
    }
    if level & 8 != 0 {
        // Anonymous memory and shared memory (tmpfs, SysV shm) are both
        // swap-backed user pages.
        out = out.saturating_add(m.get("AnonPages")).saturating_add(m.get("Shmem"));
    }
    if level & (2 | 4) != 0 {
        // Cached includes Shmem, which is counted with the user pages.
        out = out.saturating_add(m.get("Cached").saturating_sub(m.get("Shmem"))).saturating_add(m.get("Buffers"));
    }
    m.get("MemTotal").saturating_sub(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "MemTotal:        2014524 kB\nMemFree:         1500000 kB\nBuffers:           10000 kB\n\
Cached:           300000 kB\nAnonPages:         50000 kB\nShmem:              2000 kB\nHugePages_Total:       0\n";

    #[test]
    fn parses_kilobytes_and_counts() {
        let m = MemInfo::parse(SAMPLE);
        assert_eq!(m.get("MemTotal"), 2_014_524 * 1024);
        assert_eq!(m.get("HugePages_Total"), 0);
        assert_eq!(m.get("Nope"), 0);
    }

    #[test]
    fn levels_exclude_their_classes() {
        let m = MemInfo::parse(SAMPLE);
        let k = |n: u64| n * 1024;
        assert_eq!(dump_upper_bound(&m, 0), k(2_014_524));
        assert_eq!(dump_upper_bound(&m, 1), k(2_014_524));
        assert_eq!(dump_upper_bound(&m, 16), k(2_014_524 - 1_500_000));
        assert_eq!(dump_upper_bound(&m, 31), k(2_014_524 - 1_500_000 - 52_000 - 298_000 - 10_000));
        // Nonsense figures never underflow.
        let odd = MemInfo::parse("MemTotal: 10 kB\nMemFree: 99 kB\n");
        assert_eq!(dump_upper_bound(&odd, 31), 0);
    }
}
