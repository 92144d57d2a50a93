//! Cross-check of the generator against real makedumpfile (Debian 1.7.2):
//! makedumpfile reads the synthetic vmcore with no vmlinux (VMCOREINFO only)
//! and its output must hold exactly the expected page sets and contents.
//!
//! Skipped (passes with a note on stderr) when makedumpfile is not in PATH;
//! `KEXDUMP_MAKEDUMPFILE=/path/to/makedumpfile` picks another binary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use kexdump_testgen::{PageKind, Scheme, SynthVmcore, SAMPLE_RAM};

fn makedumpfile() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KEXDUMP_MAKEDUMPFILE") {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join("makedumpfile")).find(|p| p.is_file())
}

fn u16_at(d: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(d[o..o + 2].try_into().unwrap())
}
fn u32_at(d: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(d[o..o + 4].try_into().unwrap())
}
fn u64_at(d: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(d[o..o + 8].try_into().unwrap())
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let d = std::env::temp_dir().join(format!(
            "kexdump-testgen-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(mdf: &Path, args: &[&str], input: &Path, out: &Path) -> Vec<u8> {
    let o = Command::new(mdf).args(args).arg(input).arg(out).output().expect("run makedumpfile");
    assert!(
        o.status.success(),
        "makedumpfile {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let data = std::fs::read(out).unwrap();
    std::fs::remove_file(out).unwrap();
    data
}

struct Kdump {
    bitmap1: BTreeSet<u64>,
    bitmap2: BTreeSet<u64>,
    /// (pfn, page bytes) of uncompressed page records
    pages: Vec<(u64, Vec<u8>)>,
    release: String,
    phys_base: u64,
}

fn parse_kdump(d: &[u8]) -> Kdump {
    assert_eq!(&d[..8], b"KDUMP   ");
    assert_eq!(u32_at(d, 8), 6, "header_version");
    let bs = u32_at(d, 428) as usize;
    assert_eq!(bs, 4096);
    let sub = u32_at(d, 432) as usize;
    let bitmap_blocks = u32_at(d, 436) as usize;
    let max_mapnr = u64_at(d, bs + 96);
    let bits = |start: usize| -> BTreeSet<u64> {
        let bytes = &d[start..start + max_mapnr.div_ceil(8) as usize];
        let mut set = BTreeSet::new();
        for (i, &b) in bytes.iter().enumerate().filter(|(_, &b)| b != 0) {
            for bit in 0..8 {
                let pfn = i as u64 * 8 + bit;
                if b >> bit & 1 == 1 && pfn < max_mapnr {
                    set.insert(pfn);
                }
            }
        }
        set
    };
    let b1 = (1 + sub) * bs;
    let half = bitmap_blocks * bs / 2;
    let bitmap1 = bits(b1);
    let bitmap2 = bits(b1 + half);
    let mut pages = Vec::new();
    let mut desc = (1 + sub + bitmap_blocks) * bs;
    for &pfn in &bitmap2 {
        let off = u64_at(d, desc) as usize;
        let size = u32_at(d, desc + 8) as usize;
        let flags = u32_at(d, desc + 12);
        if flags == 0 {
            assert_eq!(size, 4096);
            pages.push((pfn, d[off..off + size].to_vec()));
        }
        desc += 24;
    }
    let rel = &d[12 + 2 * 65..12 + 3 * 65];
    let release = String::from_utf8(rel[..rel.iter().position(|&b| b == 0).unwrap()].to_vec()).unwrap();
    Kdump { bitmap1, bitmap2, pages, release, phys_base: u64_at(d, bs) }
}

/// (p_paddr, p_filesz, p_memsz, p_offset) of an ELF file's PT_LOADs.
fn elf_loads(d: &[u8]) -> Vec<(u64, u64, u64, u64)> {
    assert_eq!(&d[..4], b"\x7fELF");
    let phoff = u64_at(d, 32) as usize;
    let phnum = u16_at(d, 56) as usize;
    (0..phnum)
        .map(|i| phoff + i * 56)
        .filter(|&o| u32_at(d, o) == 1)
        .map(|o| (u64_at(d, o + 24), u64_at(d, o + 32), u64_at(d, o + 40), u64_at(d, o + 8)))
        .collect()
}

/// pfns whose bytes makedumpfile's ELF writer puts in the file: dumpable
/// pfns plus runs of fewer than 256 excluded pfns followed by a dumpable pfn
/// of the same input PT_LOAD (write_elf_pages_cyclic, PFN_EXCLUDED).
fn mdf_elf_file_pfns(input: &[(u64, u64)], dumpable: &BTreeSet<u64>) -> BTreeSet<u64> {
    let mut out = BTreeSet::new();
    for &(start, end) in input {
        let mut pending = Vec::new();
        for pfn in start..end {
            if !dumpable.contains(&pfn) {
                pending.push(pfn);
                continue;
            }
            if pending.len() < 256 {
                out.extend(pending.iter().copied());
            }
            pending.clear();
            out.insert(pfn);
        }
    }
    out
}

fn check(mdf: &Path, name: &str, v: &SynthVmcore, kdump_levels: &[u8], elf_levels: &[u8]) {
    let dir = Scratch::new();
    let input = dir.0.join("vmcore");
    std::fs::write(&input, v.build()).unwrap();
    let out = dir.0.join("out");
    let content: std::collections::HashMap<u64, Vec<u8>> =
        v.ram_pfns().into_iter().map(|p| (p, v.page_content(p))).collect();
    for &level in kdump_levels {
        let lv = level.to_string();
        let d = run(mdf, &["-d", &lv], &input, &out);
        let k = parse_kdump(&d);
        assert_eq!(k.bitmap1, v.ram_pfns(), "{name}: 1st bitmap");
        let exp = v.expected_pfns(level);
        let extra: Vec<String> = k.bitmap2.difference(&exp).map(|p| format!("{p:#x}")).collect();
        let missing: Vec<String> = exp.difference(&k.bitmap2).map(|p| format!("{p:#x}")).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{name} level {level}: makedumpfile keeps extra {extra:?}, misses {missing:?}"
        );
        assert_eq!(k.pages.len(), exp.len(), "{name}: all pages stored raw");
        for (pfn, data) in &k.pages {
            assert!(*data == v.page_content(*pfn), "{name}: content of pfn {pfn:#x}");
        }
        assert_eq!(k.release, v.page_scheme().release());
        assert_eq!(k.phys_base, v.phys_base());
    }
    // the kernel text PT_LOAD and the RAM PT_LOADs, in pfns
    let mut input_loads = vec![(v.kernel_phys() >> 12, (v.kernel_phys() >> 12) + 16)];
    let ram = v.ram_pfns();
    let mut it = ram.iter().copied().peekable();
    while let Some(s) = it.next() {
        let mut e = s + 1;
        while it.peek() == Some(&e) {
            it.next();
            e += 1;
        }
        input_loads.push((s, e));
    }
    for &level in elf_levels {
        let lv = level.to_string();
        let d = run(mdf, &["-E", "-d", &lv], &input, &out);
        let exp = v.expected_pfns_elf(level);
        let mut got = BTreeSet::new();
        for (paddr, filesz, memsz, off) in elf_loads(&d) {
            assert!(filesz <= memsz);
            for i in 0..filesz / 4096 {
                let pfn = paddr / 4096 + i;
                got.insert(pfn);
                let o = (off + i * 4096) as usize;
                assert!(d[o..o + 4096] == content[&pfn][..], "{name}: ELF content of pfn {pfn:#x}");
            }
        }
        let want = mdf_elf_file_pfns(&input_loads, &exp);
        let extra: Vec<String> = got.difference(&want).map(|p| format!("{p:#x}")).collect();
        let missing: Vec<String> = want.difference(&got).map(|p| format!("{p:#x}")).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{name} ELF level {level}: extra {extra:?}, missing {missing:?}"
        );
        assert!(exp.is_subset(&got), "{name}: ELF holds every dumpable pfn");
    }
}

#[test]
fn makedumpfile_agrees() {
    let Some(mdf) = makedumpfile() else {
        eprintln!("makedumpfile not found: cross-check skipped");
        return;
    };
    let all: Vec<u8> = (0..=31).collect();
    let some = [0u8, 1, 2, 4, 8, 16, 31];
    let three = SynthVmcore::new()
        .ram(&[(0x8000, 0x8200), (0x48000, 0x48040), (0x90_0000, 0x90_0020)])
        .kernel_offset(0x600_0000)
        .page(0x8100, PageKind::Anon)
        .page(0x8140, PageKind::Buddy { order: 6 })
        .page(0x48000, PageKind::HugetlbHead { order: 5 })
        .page(0x48020, PageKind::Cache)
        .page(0x90_0010, PageKind::Buddy { order: 3 })
        .page(0x90_0018, PageKind::Zero);
    let cases: Vec<(&str, SynthVmcore, &[u8], &[u8])> = vec![
        ("sample", SynthVmcore::sample(), &all, &[0, 1, 3, 16, 31]),
        ("default", SynthVmcore::new(), &[0, 1, 31], &[1]),
        ("five-level", SynthVmcore::sample().five_level(true), &some, &[31]),
        ("vmemmap-2m", SynthVmcore::sample().vmemmap_2m(true), &some, &[31]),
        ("five-level+vmemmap-2m", SynthVmcore::sample().five_level(true).vmemmap_2m(true), &[0, 31], &[]),
        ("indirect", SynthVmcore::sample().mem_section_indirect(true), &some, &[31]),
        ("direct-map-1g", SynthVmcore::sample().direct_map_1g(true), &some, &[31]),
        ("short-filesz", SynthVmcore::sample().filesz_pages(1, 0xc0), &some, &[1, 31]),
        ("two-roots", three, &some, &[1, 31]),
    ];
    std::thread::scope(|s| {
        for (name, v, kd, elf) in &cases {
            let mdf = &mdf;
            s.spawn(move || check(mdf, name, v, kd, elf));
        }
    });
}

/// Upstream makedumpfile (the oracle built from `shared/oracles/` by
/// `scripts/deps.sh` into the cache): `KEXDUMP_MAKEDUMPFILE_UPSTREAM`, else
/// the cache's build. Missing: skipped with a note, unless
/// `KEXDUMP_REQUIRE_ORACLES=1` (the full suite sets it), where that fails.
fn upstream_makedumpfile() -> Option<PathBuf> {
    let p = match std::env::var_os("KEXDUMP_MAKEDUMPFILE_UPSTREAM") {
        Some(p) => PathBuf::from(p),
        None => {
            let cache = std::env::var_os("KEXDUMP_CACHE").map(PathBuf::from).or_else(|| {
                let home = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from);
                home.or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                    .map(|c| c.join("kexdump"))
            })?;
            cache.join("oracles/makedumpfile-b7587f1")
        }
    };
    if p.is_file() {
        return Some(p);
    }
    assert!(
        std::env::var_os("KEXDUMP_REQUIRE_ORACLES").is_none(),
        "upstream makedumpfile not at {} (run: bash scripts/deps.sh)",
        p.display()
    );
    eprintln!("upstream makedumpfile not at {}: cross-check skipped", p.display());
    None
}

/// Each kernel generation's page-type scheme, as upstream makedumpfile
/// reads it: the generator's model of its rules must give its page sets.
#[test]
fn upstream_makedumpfile_agrees_on_every_page_type_scheme() {
    let Some(mdf) = upstream_makedumpfile() else { return };
    let all: Vec<u8> = (0..=31).collect();
    let cases: Vec<(String, SynthVmcore)> = Scheme::ALL
        .into_iter()
        .map(|s| {
            let mut v = SynthVmcore::sample().scheme(s);
            if s == Scheme::Linux7_3 {
                v = v.ram(&[SAMPLE_RAM[0], SAMPLE_RAM[1], (0x10000, 0x10400)]).page(0x10000, PageKind::Unaccepted);
            }
            (format!("{s:?}"), v)
        })
        .collect();
    std::thread::scope(|sc| {
        for (name, v) in &cases {
            let (mdf, all) = (&mdf, &all);
            sc.spawn(move || check(mdf, name, v, all, &[1, 31]));
        }
    });
}

#[test]
fn makedumpfile_dump_dmesg() {
    let Some(mdf) = makedumpfile() else {
        eprintln!("makedumpfile not found: cross-check skipped");
        return;
    };
    let dir = Scratch::new();
    let input = dir.0.join("vmcore");
    let v = SynthVmcore::sample();
    std::fs::write(&input, v.build()).unwrap();
    let out = dir.0.join("dmesg");
    let text = String::from_utf8(run(&mdf, &["--dump-dmesg"], &input, &out)).unwrap();
    let lines: Vec<&str> = text.lines().map(|l| l.split_once("] ").expect("[timestamp] text").1).collect();
    assert_eq!(lines, v.dmesg_lines());
}
