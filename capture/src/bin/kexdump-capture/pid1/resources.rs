//! What the capture kernel had to work with: its CPUs and its memory once
//! booted, said once after the banner. The serial console is often all an
//! operator has of a capture, and these are the two numbers `[kernel]
//! cpus` (nr_cpus=) and crashkernel= decide: a capture that ran out of
//! memory or compressed slowly is explained by this line.

use std::fs;
use std::path::Path;

/// Where the kernel reports memory.
const MEMINFO: &str = "proc/meminfo";

/// A `/proc/meminfo` value in KiB, by its key.
fn kib(meminfo: &str, key: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        if k.trim() != key {
            return None;
        }
        v.split_whitespace().next()?.parse().ok()
    })
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "?".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

/// The line for `cpus` CPUs online and the memory `meminfo` (the text of
/// /proc/meminfo) reports. Available is what the kernel could give the
/// capture without swapping (free, plus caches it can drop); free is
/// unused pages.
pub fn describe(cpus: usize, meminfo: &str) -> String {
    format!(
        "{cpus} CPU{} online; memory total {}, available {}, free {}",
        if cpus == 1 { "" } else { "s" },
        mib(kib(meminfo, "MemTotal")),
        mib(kib(meminfo, "MemAvailable")),
        mib(kib(meminfo, "MemFree"))
    )
}

/// [`describe`] of the running kernel, whose proc is mounted under `root`.
pub fn summary(root: &Path, cpus: usize) -> String {
    describe(cpus, &fs::read_to_string(root.join(MEMINFO)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_and_memory_from_meminfo() {
        let meminfo = "MemTotal:          63404 kB\nMemFree:           40960 kB\nMemAvailable:      38912 kB\n\
                       Buffers:               0 kB\n";
        assert_eq!(describe(2, meminfo), "2 CPUs online; memory total 61.9 MiB, available 38.0 MiB, free 40.0 MiB");
        // Unreadable or cut short: said so, never a failure.
        assert_eq!(describe(1, ""), "1 CPU online; memory total ?, available ?, free ?");
    }
}
