//! Write the sample synthetic vmcore (every page kind) to a file, with the
//! expected page sets next to it, so real tools can be run on it:
//!
//! ```text
//! KEXDUMP_SYNTH_VMCORE=/tmp/synth.vmcore cargo run -p kexdump-testgen --example write_sample
//! makedumpfile -d 31 /tmp/synth.vmcore /tmp/synth.kdump
//! ```
//!
//! The path is taken from `KEXDUMP_SYNTH_VMCORE`, else from the first
//! argument. Options (env): `KEXDUMP_SYNTH_FIVE_LEVEL=1`,
//! `KEXDUMP_SYNTH_VMEMMAP_2M=1`, `KEXDUMP_SYNTH_INDIRECT=1`. Next to the
//! vmcore, `<path>.expected-<level>` (kdump-compressed 2nd bitmap) and
//! `<path>.expected-elf-<level>` list the pfns (hex, one a line) for levels
//! 0, 1 and 31.

use std::io::Write;

use kexdump_testgen::SynthVmcore;

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

fn main() -> std::io::Result<()> {
    let path = std::env::var("KEXDUMP_SYNTH_VMCORE").ok().or_else(|| std::env::args().nth(1)).unwrap_or_else(|| {
        eprintln!("usage: KEXDUMP_SYNTH_VMCORE=PATH write_sample  (or: write_sample PATH)");
        std::process::exit(2)
    });
    let mut v = SynthVmcore::sample()
        .five_level(flag("KEXDUMP_SYNTH_FIVE_LEVEL"))
        .mem_section_indirect(flag("KEXDUMP_SYNTH_INDIRECT"));
    if flag("KEXDUMP_SYNTH_VMEMMAP_2M") {
        v = v.vmemmap_2m(true);
    }
    std::fs::write(&path, v.build())?;
    for level in [0u8, 1, 31] {
        for (suffix, set) in [
            (format!("expected-{level}"), v.expected_pfns(level)),
            (format!("expected-elf-{level}"), v.expected_pfns_elf(level)),
        ] {
            let mut f = std::fs::File::create(format!("{path}.{suffix}"))?;
            for pfn in set {
                writeln!(f, "{pfn:x}")?;
            }
        }
    }
    println!(
        "wrote {path}: max_mapnr {:#x}, {} RAM pages, level 31 keeps {}",
        v.max_mapnr(),
        v.ram_pfns().len(),
        v.expected_pfns(31).len()
    );
    Ok(())
}
