//! A 4 GiB machine's vmcore, written sparse (kexdump-testgen's `large`:
//! free and user memory are holes, about 2 % of the pages kept), saved at
//! level 31 with one thread and with four: the two dumps are the same
//! bytes, their 2nd bitmap is the page set the generator's model of
//! makedumpfile keeps, and the pages hold the generator's bytes. It walks
//! a million struct pages through the chunked reads of `filter.rs`, so a
//! struct page read from the wrong place changes the set.
//! `scripts/scale.sh` measures the same save at 64 GiB and 1 TiB.

use std::collections::BTreeSet;
use std::path::Path;

use kexdump_engine::compress::{self, Compression};
use kexdump_engine::sink::FileSink;
use kexdump_engine::writer::NoProgress;
use kexdump_engine::{save, Format, SaveOptions, Vmcore};
use kexdump_testgen::large::LargeVmcore;

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

fn save_to(vm: &Vmcore, path: &Path, threads: usize) -> u64 {
    let file = std::fs::File::create(path).unwrap();
    let mut sink = FileSink::new(file);
    let opts = SaveOptions { level: 31, format: Format::Kdump, compression: Compression::Zstd { level: 1 }, threads };
    let report = save(vm, &mut sink, &opts, &mut NoProgress, &mut |m| panic!("warning: {m}")).expect("save");
    assert_eq!(report.level, 31, "no fallback: {:?}", report.fallback);
    report.stats.pages_written
}

/// The 2nd bitmap of a kdump-compressed file, and the descriptor table's offset.
fn dumped(b: &[u8]) -> (Vec<u64>, usize, usize) {
    assert_eq!(&b[..8], b"KDUMP   ");
    let bs = u32_at(b, 428) as usize;
    let sub = u32_at(b, 432) as usize;
    let bitmap_blocks = u32_at(b, 436) as usize;
    let max_mapnr = u64_at(b, bs + 96);
    let half = bitmap_blocks * bs / 2;
    let bm2 = &b[(1 + sub) * bs + half..(1 + sub) * bs + 2 * half];
    let pfns = (0..max_mapnr).filter(|&p| bm2[(p >> 3) as usize] >> (p & 7) & 1 == 1).collect();
    (pfns, (1 + sub + bitmap_blocks) * bs, bs)
}

#[test]
fn a_4_gib_sparse_vmcore_saves_the_same_with_1_and_4_threads_and_keeps_the_expected_pages() {
    let dir = tempfile::tempdir().unwrap();
    let vmcore = dir.path().join("vmcore");
    let v = LargeVmcore::new(4 << 30, 20_000);
    let written = v.write(&vmcore).unwrap();
    assert_eq!(written.file_len, std::fs::metadata(&vmcore).unwrap().len());
    assert!(written.data_bytes < written.file_len / 20, "not sparse: {written:?}");

    let vm = Vmcore::open(&vmcore).expect("open the vmcore");
    let (one, four) = (dir.path().join("one"), dir.path().join("four"));
    let pages = save_to(&vm, &one, 1);
    assert_eq!(save_to(&vm, &four, 4), pages);
    let a = std::fs::read(&one).unwrap();
    let b = std::fs::read(&four).unwrap();
    assert!(a == b, "1 and 4 threads wrote different dumps ({} and {} bytes)", a.len(), b.len());

    let expected: BTreeSet<u64> = v.synth().expected_pfns(31);
    let (saved, descs, bs) = dumped(&a);
    assert_eq!(saved.len() as u64, pages);
    assert_eq!(v.kept_pages(31), expected.len() as u64);
    let saved_set: BTreeSet<u64> = saved.iter().copied().collect();
    let missing: Vec<_> = expected.difference(&saved_set).take(8).collect();
    let extra: Vec<_> = saved_set.difference(&expected).take(8).collect();
    assert!(missing.is_empty() && extra.is_empty(), "2nd bitmap differs: missing {missing:x?}, extra {extra:x?}");
    // about 2 % of 4 GiB, the struct pages (1/64) included
    let ram = v.ram_pages();
    assert!((ram / 64..ram * 3 / 100).contains(&pages), "{pages} of {ram} pages kept");

    // every 61st saved page holds the generator's bytes
    for (i, &pfn) in saved.iter().enumerate().step_by(61) {
        let d = descs + i * 24;
        let (off, size, flags) = (u64_at(&a, d) as usize, u32_at(&a, d + 8) as usize, u32_at(&a, d + 12));
        let page = compress::decompress(flags, &a[off..off + size], bs).expect("page decompresses");
        assert!(page == v.synth().page_content(pfn), "pfn {pfn:#x}: saved bytes differ");
    }
}
