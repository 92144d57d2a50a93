//! Write seed corpora for the fuzz targets from the synthetic generator:
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example make_seeds -- fuzz/corpus
//! ```
//!
//! * `vmcore_parse/`: vmcores of four variants (4-level, 5-level, indirect
//!   mem_section, 1 GiB direct map) cut down to
//!   headers, notes and the kernel-text data, RAM PT_LOADs left without
//!   file data (2–72 KiB each, all parse);
//! * `vmcoreinfo_parse/`: VMCOREINFO texts of the variants;
//! * `save_mutated/`: mutator inputs (see fuzz/src/lib.rs), one per
//!   operation and region, plus the unmodified sample in both formats.
//! * `dump_mutated/`: each base dump unmodified, and one input per base,
//!   operation and region.

use kexdump_engine::bytes::{u16_at, u32_at, u64_at};
use kexdump_fuzz::pt_note;
use kexdump_testgen::{PageKind, SynthVmcore};
use std::path::Path;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// A vmcore of 64 + 16 RAM pages with a few page kinds.
fn small() -> SynthVmcore {
    SynthVmcore::new()
        .ram(&[(0x100, 0x140), (0x200, 0x210)])
        .page(0x200, PageKind::Cache)
        .page(0x201, PageKind::Anon)
        .page(0x202, PageKind::Zero)
        .page(0x203, PageKind::HwPoison)
        .page(0x204, PageKind::Buddy { order: 2 })
        .page(0x208, PageKind::HugetlbHead { order: 2 })
        .page(0x20c, PageKind::Slab)
}

/// `bytes` with every RAM PT_LOAD (below the kernel-text mapping) made
/// data-less (p_offset = p_filesz = 0) and the file cut after the notes or,
/// with `keep_text`, after the kernel-text PT_LOAD's data.
fn without_ram(bytes: &[u8], keep_text: bool) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let rd = |b: &[u8], o: usize| u64_at(b, o).unwrap();
    let (_, note_off, note_len) = pt_note(&b).unwrap();
    let mut end = note_off + note_len;
    let phoff = rd(&b, 32) as usize;
    for i in 0..u16_at(&b, 56).unwrap() as usize {
        let p = phoff + i * 56;
        if u32_at(&b, p).unwrap() != 1 {
            continue;
        }
        if rd(&b, p + 16) >= 0xffff_ffff_8000_0000 && keep_text {
            end = end.max((rd(&b, p + 8) + rd(&b, p + 32)) as usize);
        } else {
            b[p + 8..p + 16].fill(0);
            b[p + 32..p + 40].fill(0);
        }
    }
    b.truncate(end);
    b
}

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "fuzz/corpus".into());
    let out = Path::new(&out);

    // vmcore_parse: headers, notes and the kernel-text PT_LOAD's data (the
    // kernel image with its page tables), RAM PT_LOADs kept but not stored
    // (p_filesz = 0), so seeds stay small (~72 KiB) and parse. The struct
    // page walk over real RAM is save_mutated's job.
    let parse = out.join("vmcore_parse");
    let variants: Vec<(&str, SynthVmcore)> = vec![
        ("small", small()),
        ("small-indirect", small().mem_section_indirect(true)),
        ("small-1g", small().direct_map_1g(true)),
        ("sample-5level", SynthVmcore::sample().five_level(true)),
    ];
    for (name, v) in &variants {
        let bytes = v.build();
        for (suffix, keep_text) in [("text", true), ("headers", false)] {
            let seed = without_ram(&bytes, keep_text);
            kexdump_engine::Vmcore::from_input(kexdump_engine::input::Input::from_bytes(seed.clone()))
                .unwrap_or_else(|e| panic!("seed {name}-{suffix} does not parse: {e}"));
            write(&parse, &format!("{name}-{suffix}.vmcore"), &seed);
        }
        write(&out.join("vmcoreinfo_parse"), &format!("{name}.txt"), v.vmcoreinfo().as_bytes());
    }
    write(&out.join("vmcoreinfo_parse"), "sample.txt", SynthVmcore::sample().vmcoreinfo().as_bytes());
    write(&out.join("vmcoreinfo_parse"), "tiny.txt", b"PAGESIZE=4096\nSIZE(page)=64\nNUMBER(phys_base)=-1\n");

    let save = out.join("save_mutated");
    write(&save, "kdump-31", &[0]);
    write(&save, "elf-31", &[1]);
    write(&save, "kdump-0", &[6]);
    write(&save, "elf-1", &[9]);
    let mut x: u32 = 0x9e37_79b9;
    for op in 0..8u8 {
        for region in 0..4u8 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let [a, bb, c, v] = x.to_le_bytes();
            write(&save, &format!("op{op}-region{region}"), &[(op & 1), op | region << 3, a, bb, c, v]);
        }
    }
    let dumps = out.join("dump_mutated");
    for base in 0..kexdump_fuzz::dump_bases().len() as u8 {
        write(&dumps, &format!("base{base}"), &[base]);
        for op in 0..8u8 {
            for region in 0..3u8 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let [a, bb, c, v] = x.to_le_bytes();
                write(&dumps, &format!("base{base}-op{op}-region{region}"), &[base, op | region << 3, a, bb, c, v]);
            }
        }
    }
    // Sanity: the unmodified sample saves in both formats, and how long one
    // execution of save_mutated takes on it.
    for ctl in [0u8, 1] {
        let (image, opts) = kexdump_fuzz::mutate(&[ctl]);
        let t = std::time::Instant::now();
        let vm = kexdump_engine::Vmcore::from_input(kexdump_engine::input::Input::from_bytes(image)).unwrap();
        let mut sink = kexdump_engine::sink::FlatSink::new(std::io::sink()).unwrap();
        let r = kexdump_engine::save(&vm, &mut sink, &opts, &mut kexdump_engine::writer::NoProgress, &mut |w| {
            eprintln!("warning: {w}")
        })
        .expect("the unmodified sample saves");
        println!("{:?} level {}: {} pages written in {:?}", opts.format, r.level, r.stats.pages_written, t.elapsed());
    }
    println!("seeds written under {}", out.display());
}
