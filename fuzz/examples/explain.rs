//! Triage a `save_mutated` input: print what the mutator makes of it
//! (format, level, each record resolved to a file offset or a VMCOREINFO
//! line), the resulting program headers and changed VMCOREINFO lines, then
//! run the engine on it with a progress trace (stopping after
//! `EXPLAIN_SECONDS`, default 10).
//!
//! ```text
//! cargo run --release --manifest-path fuzz/Cargo.toml --example explain -- fuzz/artifacts/save_mutated/crash-...
//! ```

use kexdump_engine::bytes::{u16_at, u32_at, u64_at};
use kexdump_engine::input::Input;
use kexdump_engine::sink::FlatSink;
use kexdump_engine::writer::Progress;
use kexdump_engine::Vmcore;
use kexdump_fuzz::{base, mutate, vmcoreinfo_note};
use std::time::{Duration, Instant};

struct Trace {
    start: Instant,
    limit: Duration,
    calls: u64,
}

impl Progress for Trace {
    fn update(&mut self, done: u64, total: u64, bytes: u64) {
        self.calls += 1;
        if self.calls.is_power_of_two() {
            eprintln!("  {:>10.3?}: progress {done:#x}/{total:#x}, {bytes} bytes out", self.start.elapsed());
        }
        if self.start.elapsed() > self.limit {
            eprintln!("  stopped after {:?} ({} progress calls): would run on", self.start.elapsed(), self.calls);
            std::process::exit(3);
        }
    }
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: explain INPUT");
    let data = std::fs::read(&path).unwrap();
    let secs = std::env::var("EXPLAIN_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let b = base();
    let (image, opts) = mutate(&data);
    println!("{path}: {} bytes: {:?} level {}", data.len(), opts.format, opts.level);
    for (i, r) in data.get(1..).unwrap_or(&[]).chunks_exact(5).enumerate() {
        println!(
            "  record {i}: op {} region {} offset/line {:#x} value {:#x}",
            r[0] & 7,
            (r[0] >> 3) & 3,
            u32::from_le_bytes([r[1], r[2], r[3], 0]),
            r[4]
        );
    }
    // Changed bytes outside the VMCOREINFO note.
    let n = image.len().min(b.bytes.len());
    let changed: Vec<usize> = (0..n).filter(|&i| image[i] != b.bytes[i]).collect();
    for &i in changed.iter().take(32) {
        println!("  byte {i:#x}: {:#04x} -> {:#04x}", b.bytes[i], image[i]);
    }
    if let Some((_, desc)) = vmcoreinfo_note(&image) {
        let text = String::from_utf8_lossy(&image[desc]);
        for l in text.lines().filter(|l| !b.lines.iter().any(|o| o == l)) {
            println!("  VMCOREINFO line: {l:?}");
        }
        for l in b.lines.iter().filter(|o| !text.lines().any(|l| l == o.as_str())) {
            println!("  VMCOREINFO lost: {l:?}");
        }
    }
    let phoff = u64_at(&image, 32).unwrap() as usize;
    let phnum = u16_at(&image, 56).unwrap() as usize;
    for i in 0..phnum.min(8) {
        let p = phoff + i * 56;
        let Some(ph) = image.get(p..p + 56) else { break };
        let f = |o: usize| u64_at(ph, o).unwrap();
        println!(
            "  phdr {i}: type {} offset {:#x} vaddr {:#x} paddr {:#x} filesz {:#x} memsz {:#x}",
            u32_at(ph, 0).unwrap(),
            f(8),
            f(16),
            f(24),
            f(32),
            f(40)
        );
    }
    let vm = match Vmcore::from_input(Input::from_bytes(image)) {
        Ok(vm) => vm,
        Err(e) => return println!("parse error: {e}"),
    };
    println!("max_mapnr {:#x}", vm.max_mapnr);
    let mut sink = FlatSink::new(std::io::sink()).unwrap();
    let mut trace = Trace { start: Instant::now(), limit: Duration::from_secs(secs), calls: 0 };
    let r = kexdump_engine::save(&vm, &mut sink, &opts, &mut trace, &mut |w| println!("warning: {w}"));
    println!("after {:?}: {:?}", trace.start.elapsed(), r.map(|r| (r.level, r.stats.pages_written)));
}
