//! The readers on dumps our own writer makes from `kexdump-testgen`
//! vmcores: every compression, flattened, split pieces, header versions
//! 1-6, INCOMPLETE, convert (re-filter, to ELF), and `verify` naming the
//! first problem of each corruption kind. No VM, no root. (makedumpfile's
//! own output is read in the VM tier, tests/vm/engine-tests.sh.)

use kexdump_engine::compress::Compression;
use kexdump_engine::input::Input;
use kexdump_engine::reader::{flat, Kind};
use kexdump_engine::sink::{FileSink, FlatSink, Sink};
use kexdump_engine::verify::verify_inputs;
use kexdump_engine::writer::NoProgress;
use kexdump_engine::{dmesg, save, Error, Format, SaveOptions, Vmcore};
use kexdump_testgen::SynthVmcore;
use std::collections::BTreeSet;

const BS: usize = 4096;

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

fn open(bytes: Vec<u8>) -> Vmcore {
    Vmcore::from_input(Input::from_bytes(bytes)).expect("opens")
}

fn write(vm: &Vmcore, opts: SaveOptions, sink: &mut dyn Sink) {
    save(vm, sink, &opts, &mut NoProgress, &mut |_| {}).expect("save");
}

fn to_file(vm: &Vmcore, opts: SaveOptions) -> Vec<u8> {
    let file = tempfile::tempfile().unwrap();
    write(vm, opts, &mut FileSink::new(file.try_clone().unwrap()));
    std::fs::read(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file))).unwrap()
}

fn to_flat(vm: &Vmcore, opts: SaveOptions) -> Vec<u8> {
    let mut sink = FlatSink::new(Vec::new()).unwrap();
    write(vm, opts, &mut sink);
    sink.into_inner()
}

fn kdump(level: u8, compression: Compression) -> SaveOptions {
    SaveOptions { level, format: Format::Kdump, compression, threads: 1 }
}

fn sample() -> (SynthVmcore, Vmcore) {
    let v = SynthVmcore::sample().dmesg(&["reader test", "second line"]);
    let vm = open(v.build());
    (v, vm)
}

/// Every dumped page reads back as the generator wrote it; excluded and
/// absent pages give their own errors.
fn check_pages(v: &SynthVmcore, vm: &Vmcore, level: u8) {
    let mem = vm.mem();
    let expected = v.expected_pfns(level);
    let mut scratch = Vec::new();
    for pfn in v.ram_pfns() {
        let got = mem.with_page(pfn, &mut scratch, |p| p.to_vec());
        if expected.contains(&pfn) {
            assert_eq!(got.expect("dumped page reads"), v.page_content(pfn), "pfn {pfn:#x}");
            let mut b = [0u8; 16];
            mem.read((pfn << 12) + 100, &mut b).unwrap();
            assert_eq!(&b[..], &v.page_content(pfn)[100..116]);
        } else {
            assert!(matches!(got, Err(Error::Excluded { pfn: p }) if p == pfn), "pfn {pfn:#x}: {:?}", got.err());
        }
    }
    assert!(matches!(mem.read(v.max_mapnr() << 12, &mut [0u8; 8]), Err(Error::NotInDump { .. })));
}

#[test]
fn every_compression_reads_back_like_the_vmcore() {
    let (v, orig) = sample();
    let log = dmesg::read_log(&orig).unwrap();
    for c in [
        Compression::None,
        Compression::Zstd { level: 1 },
        Compression::Zlib { level: 1 },
        Compression::Snappy,
        Compression::Lzo,
    ] {
        let vm = open(to_file(&orig, kdump(31, c)));
        assert_eq!(vm.format.kind, Kind::Kdump);
        assert_eq!(vm.format.compression, Some(c.name()));
        assert_eq!((vm.format.header_version, vm.format.dump_level), (Some(6), Some(31)));
        assert_eq!(vm.max_mapnr, v.max_mapnr());
        check_pages(&v, &vm, 31);
        assert_eq!(dmesg::read_log(&vm).unwrap(), log, "{c:?}");
        // The notes and VMCOREINFO are the vmcore's.
        assert_eq!(vm.elf.note_bytes, orig.elf.note_bytes);
        assert_eq!(vm.nr_cpus(), 2);
        assert_eq!(vm.info.symbol("prb").unwrap(), orig.info.symbol("prb").unwrap());
        // Loads: the kernel image (from _stext), then RAM in the direct map.
        let text = vm.elf.loads[0];
        assert_eq!((text.vaddr, text.paddr), (v.stext(), v.kernel_phys()));
        let ram: BTreeSet<u64> = vm.elf.loads[1..]
            .iter()
            .inspect(|l| assert_eq!(l.vaddr, v.page_offset() + l.paddr))
            .flat_map(|l| (l.paddr >> 12)..((l.paddr + l.memsz) >> 12))
            .collect();
        assert_eq!(ram, v.ram_pfns());
    }
}

#[test]
fn flattened_is_read_in_place_and_rebuilds_the_same_file() {
    let (v, orig) = sample();
    let opts = kdump(31, Compression::Zstd { level: 1 });
    let file = to_file(&orig, opts);
    let stream = to_flat(&orig, opts);
    let vm = open(stream.clone());
    assert!(vm.format.flattened);
    check_pages(&v, &vm, 31);
    let out = tempfile::tempfile().unwrap();
    flat::reassemble(&vm.input, &mut FileSink::new(out.try_clone().unwrap())).unwrap();
    let rebuilt = std::fs::read(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&out))).unwrap();
    assert_eq!(rebuilt, file);
    assert!(verify_inputs(vec![Input::from_bytes(stream)]).problem.is_none());
}

#[test]
fn convert_refilters_and_writes_elf() {
    let (v, orig) = sample();
    let level0 = open(to_file(&orig, kdump(0, Compression::Zlib { level: 1 })));
    // Re-filter 0 -> 31: exactly the pages a direct level-31 save keeps.
    let vm31 = open(to_file(&level0, kdump(31, Compression::Snappy)));
    check_pages(&v, &vm31, 31);
    let dumped: BTreeSet<u64> = v
        .ram_pfns()
        .into_iter()
        .filter(|&p| {
            vm31.mem().page_source(p)
                != kexdump_engine::memory::PageSource::Kdump(kexdump_engine::reader::kdump::PageLoc::Excluded)
        })
        .collect();
    assert_eq!(dumped, v.expected_pfns(31));
    // Down to level 0 again: what level 31 left out stays out.
    let back = open(to_file(&vm31, kdump(0, Compression::None)));
    check_pages(&v, &back, 31);
    // To ELF: the pages a level-31 ELF save keeps, at the vmcore's addresses.
    let elf = open(to_file(
        &level0,
        SaveOptions { level: 31, format: Format::Elf, compression: Compression::None, threads: 1 },
    ));
    assert_eq!(elf.format.kind, Kind::Elf);
    let mem = elf.mem();
    let mut scratch = Vec::new();
    for pfn in v.expected_pfns_elf(31) {
        assert_eq!(mem.with_page(pfn, &mut scratch, |p| p.to_vec()).unwrap(), v.page_content(pfn));
    }
    assert_eq!(dmesg::read_log(&elf).unwrap(), dmesg::read_log(&orig).unwrap());
    assert!(elf.elf.loads.iter().any(|l| l.vaddr == v.stext()), "kernel image segment");
}

/// Cut a kdump file into split pieces holding `[0, cut)` and `[cut, max)`,
/// as makedumpfile --split lays them out: full bitmaps, own descriptors.
fn split(file: &[u8], cut: u64) -> (Vec<u8>, Vec<u8>) {
    let sub = u32_at(file, 432) as usize;
    let bitmap_blocks = u32_at(file, 436) as usize;
    let max = u64_at(file, BS + 96);
    let half = bitmap_blocks * BS / 2;
    let bm2 = (1 + sub) * BS + half;
    let desc0 = (1 + sub + bitmap_blocks) * BS;
    let dumped: Vec<u64> = (0..max).filter(|&p| file[bm2 + (p >> 3) as usize] >> (p & 7) & 1 == 1).collect();
    let piece = |from: u64, to: u64| {
        let mut f = file.to_vec();
        f[BS + 12..BS + 16].copy_from_slice(&1i32.to_le_bytes());
        f[BS + 80..BS + 88].copy_from_slice(&from.to_le_bytes());
        f[BS + 88..BS + 96].copy_from_slice(&to.to_le_bytes());
        let idx: Vec<usize> = (0..dumped.len()).filter(|&i| (from..to).contains(&dumped[i])).collect();
        let descs: Vec<u8> = idx.iter().flat_map(|&i| file[desc0 + i * 24..desc0 + i * 24 + 24].to_vec()).collect();
        f[desc0..desc0 + descs.len()].copy_from_slice(&descs);
        f
    };
    (piece(0, cut), piece(cut, max))
}

#[test]
fn split_pieces_are_read_together_in_any_order() {
    let (v, orig) = sample();
    let file = to_file(&orig, kdump(31, Compression::Zlib { level: 1 }));
    let (a, b) = split(&file, 0x300);
    let vm = Vmcore::from_inputs(vec![Input::from_bytes(b.clone()), Input::from_bytes(a.clone())]).unwrap();
    assert_eq!(vm.format.pieces, 2);
    check_pages(&v, &vm, 31);
    assert_eq!(dmesg::read_log(&vm).unwrap(), dmesg::read_log(&orig).unwrap());
    let ok = verify_inputs(vec![Input::from_bytes(a.clone()), Input::from_bytes(b)]);
    assert!(ok.problem.is_none(), "{:?}", ok.problem);
    // One piece alone: verify names the pfns no piece holds.
    let alone = verify_inputs(vec![Input::from_bytes(a)]);
    let p = alone.problem.expect("missing piece");
    assert_eq!(p.pfn, Some(0x300));
    assert!(p.what.contains("no given split piece"), "{}", p.what);
}

#[test]
fn header_versions_1_to_6() {
    let (v, orig) = sample();
    let file = to_file(&orig, kdump(31, Compression::Zstd { level: 1 }));
    for version in 1..=6i32 {
        let mut f = file.clone();
        f[8..12].copy_from_slice(&version.to_le_bytes());
        if version < 6 {
            // Before v6 there is no max_mapnr_64: prove the 32-bit one is used.
            f[BS + 96..BS + 104].copy_from_slice(&u64::MAX.to_le_bytes());
        }
        let vm = open(f);
        assert_eq!(vm.format.header_version, Some(version));
        check_pages(&v, &vm, 31);
        match version {
            // v1 and v2 carry no VMCOREINFO.
            1 | 2 => assert!(matches!(dmesg::read_log(&vm), Err(Error::NoVmcoreinfo))),
            // v3 has VMCOREINFO but no notes: it becomes a note.
            3 => {
                assert_eq!(vm.nr_cpus(), 0);
                assert_eq!(dmesg::read_log(&vm).unwrap(), dmesg::read_log(&orig).unwrap());
            }
            _ => assert_eq!(dmesg::read_log(&vm).unwrap(), dmesg::read_log(&orig).unwrap()),
        }
    }
    for bad in [0i32, 7, -1] {
        let mut f = file.clone();
        f[8..12].copy_from_slice(&bad.to_le_bytes());
        assert!(matches!(Vmcore::from_input(Input::from_bytes(f)), Err(Error::Malformed { offset: 8, .. })));
    }
}

#[test]
fn incomplete_dump_reads_what_was_saved() {
    let (v, orig) = sample();
    let mut f = to_file(&orig, kdump(31, Compression::Zlib { level: 1 }));
    let status = u32_at(&f, 424) | 0x8;
    f[424..428].copy_from_slice(&status.to_le_bytes());
    let vm = open(f.clone());
    let pages = vm.kdump.as_ref().unwrap().files[0].pages as usize;
    let desc0 = vm.kdump.as_ref().unwrap().files[0].descs_offset as usize;
    // The last three descriptors were never written; of the one before,
    // only the offset reached the disk (a write cut at a full disk).
    f[desc0 + (pages - 3) * 24..desc0 + pages * 24].fill(0);
    f[desc0 + (pages - 4) * 24 + 8..desc0 + (pages - 3) * 24].fill(0);
    let vm = open(f.clone());
    assert!(vm.format.incomplete);
    let last: Vec<u64> = v.expected_pfns(31).into_iter().rev().take(4).collect();
    let mut scratch = Vec::new();
    for &pfn in &last {
        assert!(matches!(vm.mem().with_page(pfn, &mut scratch, |_| ()), Err(Error::NotSaved { pfn: p }) if p == pfn));
    }
    let r = verify_inputs(vec![Input::from_bytes(f.clone())]);
    assert!(r.problem.is_none(), "{:?}", r.problem);
    assert!(r.incomplete());
    assert_eq!(r.pages.not_saved, 4);
    // The same zero descriptors without the INCOMPLETE flag are a problem.
    f[424..428].copy_from_slice(&(status & !0x8).to_le_bytes());
    let p = verify_inputs(vec![Input::from_bytes(f.clone())]).problem.expect("problem");
    assert_eq!(p.pfn, Some(*last.last().unwrap()));
    assert!(p.what.contains("page data size 0"), "{}", p.what);
    f[desc0 + (pages - 4) * 24..desc0 + (pages - 3) * 24].fill(0);
    let p = first_problem(f);
    assert!(p.what.contains("not flagged INCOMPLETE"), "{}", p.what);
}

/// A kdump file and facts about its layout, for corrupting it.
struct Layout {
    file: Vec<u8>,
    desc0: usize,
    dumped: Vec<u64>,
}

fn layout(c: Compression) -> Layout {
    let (_, orig) = sample();
    let file = to_file(&orig, kdump(31, c));
    let vm = open(file.clone());
    let f = &vm.kdump.as_ref().unwrap().files[0];
    let dumped = (0..f.header.max_mapnr).filter(|&p| f.is_dumped(p)).collect();
    Layout { desc0: f.descs_offset as usize, dumped, file }
}

fn first_problem(bytes: Vec<u8>) -> kexdump_engine::verify::Problem {
    verify_inputs(vec![Input::from_bytes(bytes)]).problem.expect("verify finds a problem")
}

#[test]
fn verify_names_file_offset_and_pfn_of_the_first_problem() {
    let l = layout(Compression::Zlib { level: 1 });
    assert!(verify_inputs(vec![Input::from_bytes(l.file.clone())]).problem.is_none());

    // A flipped byte in the signature: named as not a dump at all.
    let mut f = l.file.clone();
    f[4] ^= 0x01;
    let p = first_problem(f);
    assert_eq!(p.offset, Some(0), "{p}");
    assert!(p.what.contains("not a dump: the file starts with 4b44554d51202020"), "{p}");

    // A flipped byte in the header: block_size.
    let mut f = l.file.clone();
    f[429] ^= 0x01;
    let p = first_problem(f);
    assert_eq!((p.offset, p.pfn), (Some(428), None), "{p}");
    assert_eq!(p.file.to_str(), Some("<memory>"));

    // A flipped byte in the sub-header's dump_level (block 1, offset 8).
    let mut f = l.file.clone();
    f[BS + 11] ^= 0x40;
    let p = first_problem(f);
    assert_eq!((p.offset, p.pfn), (Some(BS as u64 + 8), None), "{p}");
    assert!(p.what.contains("dump_level"), "{p}");

    // A descriptor pointing past the end of the file.
    let k = 7;
    let mut f = l.file.clone();
    let at = l.desc0 + k * 24;
    f[at..at + 8].copy_from_slice(&(l.file.len() as u64).to_le_bytes());
    let p = first_problem(f);
    assert_eq!((p.offset, p.pfn), (Some(at as u64), Some(l.dumped[k])), "{p}");
    assert!(p.what.contains("past the end of the file"), "{p}");

    // A descriptor pointing into the bitmaps.
    let mut f = l.file.clone();
    f[at..at + 8].copy_from_slice(&(2 * BS as u64).to_le_bytes());
    let p = first_problem(f);
    assert!(p.what.contains("overlaps the headers, bitmaps or descriptors"), "{p}");

    // A page that does not decompress: garbage over a zlib page's data.
    let mut f = l.file.clone();
    let i = l.desc0 + 24 * (k + 3);
    let (off, size) = (u64_at(&f, i) as usize, u32_at(&f, i + 8) as usize);
    assert_eq!(u32_at(&f, i + 12), 1, "a zlib page");
    f[off..off + size].fill(0xa5);
    let p = first_problem(f);
    assert_eq!((p.offset, p.pfn), (Some(off as u64), Some(l.dumped[k + 3])), "{p}");
    assert!(p.what.contains("does not decompress"), "{p}");

    // Two pages sharing one page's data (not the zero page's): named by
    // the data's offset and one of the two pfns.
    let mut f = l.file.clone();
    let (a, b) = (l.desc0 + 24 * (k + 4), l.desc0 + 24 * (k + 5));
    assert!(u32_at(&f, a + 12) == 1 && u32_at(&f, b + 12) == 1, "two zlib pages");
    let rec: Vec<u8> = f[a..a + 16].to_vec();
    f[b..b + 16].copy_from_slice(&rec);
    let p = first_problem(f);
    assert_eq!(p.offset, Some(u64_at(&rec, 0)), "{p}");
    assert!([Some(l.dumped[k + 4]), Some(l.dumped[k + 5])].contains(&p.pfn), "{p}");
    assert!(p.what.contains("overlaps another page's data"), "{p}");

    // A truncated file: the last page's data is cut.
    let mut f = l.file.clone();
    f.truncate(f.len() - 10);
    let p = first_problem(f);
    assert_eq!(p.pfn, Some(*l.dumped.last().unwrap()), "{p}");

    // A page dumped but not RAM.
    let mut f = l.file.clone();
    let sub = u32_at(&f, 432) as usize;
    let half = u32_at(&f, 436) as usize * BS / 2;
    f[(1 + sub) * BS + half] |= 1; // pfn 0 in the 2nd bitmap; RAM starts at 0x100
    let p = first_problem(f);
    assert_eq!((p.pfn, p.offset), (Some(0), Some(((1 + sub) * BS + half) as u64)), "{p}");

    // Truncated inside the bitmaps.
    let mut f = l.file.clone();
    f.truncate((1 + sub) * BS + 10);
    assert!(matches!(
        Vmcore::from_input(Input::from_bytes(f)),
        Err(Error::Truncated { offset, .. }) if offset == ((1 + sub) * BS) as u64
    ));
}

#[test]
fn verify_reports_flattened_records_at_their_stream_offset() {
    let (_, orig) = sample();
    let stream = to_flat(&orig, kdump(31, Compression::Zstd { level: 1 }));
    let mut cut = stream.clone();
    cut.truncate(cut.len() - 16); // the end record
                                  // Cut short: read as the INCOMPLETE dump it is, not as damage.
    let v = verify_inputs(vec![Input::from_bytes(cut.clone())]);
    assert!(v.problem.is_none() && v.incomplete(), "{:?}", v.problem);
    let why = v.format.as_ref().and_then(|f| f.cut_short.clone()).unwrap();
    assert!(why.contains("end record") && why.contains(&format!("{:#x}", cut.len())), "{why}");
    // Cut anywhere after the carried headers: a readable prefix.
    for keep in [cut.len() * 3 / 4, cut.len() / 2] {
        let v = verify_inputs(vec![Input::from_bytes(stream[..keep].to_vec())]);
        assert!(v.problem.is_none() && v.incomplete(), "cut at {keep}: {:?}", v.problem);
        assert!(v.pages.not_saved > 0, "cut at {keep}: {:?}", v.pages);
        // Rebuilt (makedumpfile -R's job), the prefix says INCOMPLETE.
        let input = flat::open(Input::from_bytes(stream[..keep].to_vec())).unwrap();
        let file = tempfile::tempfile().unwrap();
        let mut sink = FileSink::new(file.try_clone().unwrap());
        flat::reassemble(&input, &mut sink).unwrap();
        let rebuilt = std::fs::read(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file))).unwrap();
        let v = verify_inputs(vec![Input::from_bytes(rebuilt)]);
        assert!(v.problem.is_none() && v.incomplete(), "rebuilt cut at {keep}: {:?}", v.problem);
    }
    // A flipped byte in the carried header is named in both files. (Our
    // writer sends the bitmaps first: find the record that holds offset 0.)
    let mut pos = 4096;
    let header_record = loop {
        let off = i64::from_be_bytes(stream[pos..pos + 8].try_into().unwrap());
        let size = i64::from_be_bytes(stream[pos + 8..pos + 16].try_into().unwrap()) as usize;
        if off == 0 {
            break pos + 16;
        }
        pos += 16 + size;
    };
    let mut f = stream;
    f[header_record + 429] ^= 1;
    let p = first_problem(f);
    assert_eq!((p.offset, p.stream_offset), (Some(428), Some(header_record as u64 + 428)), "{p}");
}

/// Single-byte corruptions anywhere in the headers, bitmaps and
/// descriptors, and coarse ones in the page data: errors, never a panic.
#[test]
fn corrupt_dumps_never_panic() {
    for (c, step) in [(Compression::Zstd { level: 1 }, 173), (Compression::Lzo, 401), (Compression::Snappy, 809)] {
        let l = layout(c);
        let end = (l.desc0 + l.dumped.len() * 24 + 4096).min(l.file.len());
        let mut offsets: Vec<usize> = (0..end).step_by(step).collect();
        offsets.extend((end..l.file.len()).step_by((l.file.len() - end) / 40 + 1));
        for (n, off) in offsets.into_iter().enumerate() {
            let mut f = l.file.clone();
            f[off] ^= [0x01, 0x80, 0xff, 0x10][n % 4];
            let r = verify_inputs(vec![Input::from_bytes(f.clone())]);
            if let Ok(vm) = Vmcore::from_input(Input::from_bytes(f)) {
                let _ = dmesg::read_log(&vm);
                let mut scratch = Vec::new();
                for &pfn in l.dumped.iter().step_by(17) {
                    let _ = vm.mem().with_page(pfn, &mut scratch, |p| p.len());
                }
            }
            let _ = r;
        }
    }
}
