//! `kexdump inspect` as text: one labelled line per fact, then the
//! registers, the call chain, the other CPUs, the log tail and the commands
//! to go further.

use kexdump_engine::analysis::inspect::{Inspection, Section};
use kexdump_engine::analysis::stack::Frame;
use kexdump_engine::capture_dir::time::iso8601;
use std::fmt::Write as _;

fn or_error<T>(s: &Section<T>, f: impl FnOnce(&T) -> String) -> String {
    match s {
        Ok(v) => f(v),
        Err(e) => format!("(unavailable: {e})"),
    }
}

fn megabytes(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

/// The text report: one labelled line per fact, then the registers, the
/// call chain, the other CPUs, the log tail and the commands to go further.
pub fn render_text(
    ins: &Inspection,
    dump_path: &str,
    source: &dyn Fn(&Frame) -> Option<String>,
    lines_error: Option<&str>,
) -> String {
    let mut o = String::new();
    let f = &ins.facts;
    let mut line = |k: &str, v: String| {
        let _ = writeln!(o, "{k:<14}{v}");
    };
    line("Dump", format!("{dump_path} ({}, compression {}, {})", f.format, f.compression, megabytes(f.file_bytes)));
    line(
        "Dump level",
        match f.dump_level {
            Some(l) => format!("{l} — {}", f.filtering),
            None => format!("unknown — {}", f.filtering),
        },
    );
    line(
        "Excluded",
        match &ins.excluded {
            Some(v) if v.is_empty() => "nothing".into(),
            Some(v) => v.join(", "),
            None => "unknown (the dump does not record its level)".into(),
        },
    );
    line("Complete", format!("{} — {}", if f.complete { "yes" } else { "NO" }, f.completeness));
    line(
        "Kernel",
        format!(
            "{} {} {}",
            ins.release.as_deref().unwrap_or("(unknown release)"),
            if ins.machine.is_empty() { "?" } else { &ins.machine },
            ins.version
        )
        .trim_end()
        .to_owned(),
    );
    line("Host", if ins.hostname.is_empty() { "(unknown)".into() } else { ins.hostname.clone() });
    line(
        "KASLR offset",
        ins.kernel_offset.map_or("none (VMCOREINFO has no KERNELOFFSET)".into(), |k| format!("{k:#x}")),
    );
    line("Crash time", or_error(&ins.crash_time, |t| format!("{} ({t})", iso8601(*t))));
    line("Uptime", or_error(&ins.uptime, |u| format!("{u:.3} s (time of the last log record)")));
    line("Panic", or_error(&ins.panic_message, |m| m.clone()));
    line(
        "Symbols",
        or_error(&ins.symbol_source, |s| match &s.path {
            Some(p) => format!("{} from {} {p} ({})", s.symbols, s.kind, s.detail),
            None => format!("{} from {}", s.symbols, s.detail),
        }),
    );
    for n in &ins.symbol_notes {
        line("", n.clone());
    }

    let crashing = ins.crashing.as_ref().ok().map(|c| c.note_index);
    let _ = writeln!(o);
    match &ins.crashing {
        Ok(c) => {
            let pid = ins.cpus.get(c.note_index).and_then(|r| r.as_ref().ok()).map_or(-1, |r| r.pid);
            let _ = writeln!(
                o,
                "Crashing CPU: note {} (pid {pid}){}\n  why: {}",
                c.note_index,
                if c.certain { "" } else { ", a guess" },
                c.reason
            );
            if let Some(Ok(r)) = ins.cpus.get(c.note_index) {
                let regs: Vec<(&str, u64)> = r.named().collect();
                for row in regs.chunks(3) {
                    let cells: Vec<String> = row.iter().map(|(n, v)| format!("{n:>8}: {v:016x}")).collect();
                    let _ = writeln!(o, " {}", cells.join(" "));
                }
            }
        }
        Err(e) => {
            let _ = writeln!(o, "Crashing CPU: (unavailable: {e})");
        }
    }

    let _ = writeln!(o, "\nProbable call chain (a scan of the crashing CPU's stack, not an unwinder):");
    if let Some(e) = lines_error {
        let _ = writeln!(o, "  (no file:line: {e})");
    }
    match &ins.chain {
        Ok(c) => {
            for (i, fr) in c.frames.iter().enumerate() {
                let sym = fr.symbol.as_ref().map_or_else(|| format!("{:#x}", fr.addr), |s| s.to_string());
                let at = fr.stack_addr.map_or("RIP".to_owned(), |a| format!("[{a:x}]"));
                let src = source(fr).map(|s| format!("  {s}")).unwrap_or_default();
                let _ = writeln!(o, "  #{i:<2} {sym:<48} {at}{src}");
            }
            let _ = writeln!(o, "  {}", c.summary());
            let _ = writeln!(
                o,
                "  (scanned {} bytes from RSP {:#x} to {:#x}; {} text addresses not after a call left out{})",
                c.bytes_scanned,
                c.rsp,
                c.stack_top,
                c.not_after_call,
                c.stopped.as_ref().map(|s| format!("; {s}")).unwrap_or_default()
            );
        }
        Err(e) => {
            let _ = writeln!(o, "  (unavailable: {e})");
        }
    }

    let others: Vec<String> = ins
        .cpus
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != crashing)
        .map(|(i, c)| match c {
            Ok(r) => {
                let sym = ins.symbols.as_ref().and_then(|k| k.symbolize(r.rip())).map(|s| s.to_string());
                format!("  note {i} (pid {}): RIP {:#x} {}", r.pid, r.rip(), sym.unwrap_or_default())
            }
            Err(e) => format!("  note {i}: {e}"),
        })
        .collect();
    if !others.is_empty() {
        let _ = writeln!(o, "\nOther CPUs (stopped by NMI when the crash kernel started):\n{}", others.join("\n"));
    }

    match &ins.log_tail {
        Ok(l) => {
            let _ = writeln!(o, "\nEnd of the kernel log ({} lines):", l.len());
            for x in l {
                let _ = writeln!(o, "  {x}");
            }
        }
        Err(e) => {
            let _ = writeln!(o, "\nKernel log: (unavailable: {e})");
        }
    }

    let n = &ins.next;
    let _ = writeln!(o, "\nGoing further:");
    match (&n.debug_package, &n.install) {
        (Some(p), Some(i)) => {
            let _ = writeln!(o, "  debug vmlinux ({}): package {p} ({i}) → {}", n.distribution, n.vmlinux);
        }
        _ => {
            let _ = writeln!(o, "  debug vmlinux: the crashed kernel's vmlinux with debug info ({})", n.vmlinux);
        }
    }
    let _ = writeln!(o, "  {}\n  {}\n  {}", n.crash, n.gdb, n.drgn);
    o
}
