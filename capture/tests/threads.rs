//! Parallel compression (`SaveOptions::threads`) changes nothing a reader
//! or a disk can see: for any thread count the dump is the same bytes, the
//! sink sees the same writes and barriers in the same order (so a power
//! cut leaves what it leaves with one thread), and a disk that fills up
//! leaves the same INCOMPLETE dump and the same count of saved pages.
//! No timing is measured here: `scripts/bench.sh` prints the speed.

use kexdump_engine::compress::Compression;
use kexdump_engine::input::Input;
use kexdump_engine::sink::FlatSink;
use kexdump_engine::writer::NoProgress;
use kexdump_engine::{save, Error, Format, SaveOptions, Vmcore};
use kexdump_testgen::SynthVmcore;

mod common;
use common::sinks::{FullDisk, PowerCut};

/// Thread counts to compare with 1: fewer pages than one batch per
/// thread, an odd count, more threads than this machine has CPUs.
const THREADS: [usize; 4] = [2, 3, 8, 64];

fn opts(level: u8, compression: Compression, threads: usize) -> SaveOptions {
    SaveOptions { level, format: Format::Kdump, compression, threads }
}

/// Every write and barrier the engine issues, in order.
fn ops(vm: &Vmcore, o: &SaveOptions) -> Vec<Option<(u64, Vec<u8>)>> {
    let mut sink = PowerCut::default();
    save(vm, &mut sink, o, &mut NoProgress, &mut |_| {}).expect("save");
    sink.ops
}

fn vmcores() -> Vec<(&'static str, SynthVmcore)> {
    vec![
        ("sample", SynthVmcore::sample()),
        // 16,384 pages of RAM: 256 batches, so many are in flight at once
        // and the descriptor buffer is flushed mid-way.
        ("64 MiB", SynthVmcore::new().ram(&[(0x100, 0x100 + 16_384)])),
        ("5-level", SynthVmcore::sample().five_level(true)),
    ]
}

const COMPRESSIONS: [Compression; 5] = [
    Compression::Zstd { level: 1 },
    Compression::Zlib { level: 1 },
    Compression::Lzo,
    Compression::Snappy,
    Compression::None,
];

#[test]
fn any_thread_count_issues_the_same_writes_and_barriers() {
    // Every compression at every level on the small vmcores; the 64 MiB
    // one (many batches in flight, the descriptor buffer flushed mid-way)
    // with one compressing and one storing scheme, levels 0 and 31.
    for (name, v) in vmcores() {
        let big = name == "64 MiB";
        let vm = Vmcore::from_input(Input::from_bytes(v.build())).unwrap();
        for c in COMPRESSIONS {
            if big && !matches!(c, Compression::Zstd { .. } | Compression::None) {
                continue;
            }
            let levels: &[u8] = if big { &[0, 31] } else { &[0, 1, 31] };
            for &level in levels {
                let one = ops(&vm, &opts(level, c, 1));
                assert!(one.iter().flatten().count() > 3, "{name}: the dump has writes");
                for n in THREADS {
                    let many = ops(&vm, &opts(level, c, n));
                    assert!(
                        one == many,
                        "{name} {} level {level}: {n} threads issue other writes or barriers than 1",
                        c.name()
                    );
                }
            }
        }
    }
}

#[test]
fn a_flattened_stream_is_the_same_bytes_for_any_thread_count() {
    let v = SynthVmcore::new().ram(&[(0x100, 0x100 + 16_384)]);
    let vm = Vmcore::from_input(Input::from_bytes(v.build())).unwrap();
    let stream = |n| {
        let mut sink = FlatSink::new(Vec::new()).unwrap();
        save(&vm, &mut sink, &opts(31, Compression::Zstd { level: 1 }, n), &mut NoProgress, &mut |_| {}).unwrap();
        sink.into_inner()
    };
    let one = stream(1);
    for n in THREADS {
        assert!(stream(n) == one, "{n} threads: another flattened stream");
    }
}

#[test]
fn a_disk_that_fills_leaves_the_same_incomplete_dump_for_any_thread_count() {
    let v = SynthVmcore::new().ram(&[(0x100, 0x100 + 16_384)]);
    let vm = Vmcore::from_input(Input::from_bytes(v.build())).unwrap();
    let o = |n| opts(0, Compression::None, n);
    let full_size: usize = ops(&vm, &o(1)).iter().flatten().map(|(off, d)| *off as usize + d.len()).max().unwrap();
    // Cuts in the bitmaps' neighbourhood, the first pages, mid-stream, and
    // near the end; whole-block and partial writes.
    for limit in [full_size / 50, full_size / 5, full_size / 2, full_size - 3 * 4096] {
        for partial in [false, true] {
            let run = |n| {
                let mut sink = FullDisk::new(limit, partial);
                let err = save(&vm, &mut sink, &o(n), &mut NoProgress, &mut |_| {}).unwrap_err();
                let Error::Incomplete { pages_written, pages_total, .. } = err else { panic!("wrong error {err}") };
                (sink.buf, pages_written, pages_total)
            };
            let (buf1, saved1, total1) = run(1);
            assert_eq!(buf1.get(424).map(|b| b & 0x8), Some(0x8), "limit {limit}: header says INCOMPLETE");
            for n in [2, 4] {
                let (buf, saved, total) = run(n);
                assert_eq!((saved, total), (saved1, total1), "limit {limit} partial {partial}: {n} threads");
                assert!(buf == buf1, "limit {limit} partial {partial}: {n} threads leave other bytes");
            }
        }
    }
}
