//! Which CPU crashed. VMCOREINFO names none, and an ELF vmcore records
//! none, so it is inferred from what each CPU was doing.
//!
//! On x86_64 the panicking CPU runs `__crash_kexec()`, which saves its own
//! registers right there (`crash_setup_regs` is inlined into it) before it
//! stops the other CPUs with an NMI; each of those saves the registers it
//! was interrupted at (idle, or whatever it ran). So, in order:
//! 1. the file's header says so (kdump-compressed `current_cpu`);
//! 2. the one CPU whose RIP is in the kexec-on-crash path itself
//!    (`__crash_kexec`, `crash_kexec`, `machine_crash_shutdown`,
//!    `native_machine_crash_shutdown`, `crash_save_cpu`);
//! 3. the one CPU whose task is the `PID: P` of the panic's `CPU: N PID: P`
//!    log line (unless P is 0: every idle CPU has pid 0);
//! 4. the one CPU whose RIP is in `panic` (another CPU that panicked at the
//!    same time also waits in `panic`, hence "the one");
//! 5. note N of the log line (notes are written in CPU order, present CPUs
//!    only, so this is right unless CPUs were offline);
//! 6. else the first parsed note, said to be a guess.
//!
//! Notes that could not be parsed are absent from `cpus`; indices are
//! always note indices (`CpuRegs::note_index`), never positions in `cpus`.

use super::prstatus::CpuRegs;
use super::symbols::SymbolLookup;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrashingCpu {
    /// Index into the NT_PRSTATUS notes.
    pub note_index: usize,
    /// Which rule decided, in words.
    pub reason: String,
    /// False for rule 6.
    pub certain: bool,
}

const KEXEC_PATH: [&str; 5] =
    ["__crash_kexec", "crash_kexec", "machine_crash_shutdown", "native_machine_crash_shutdown", "crash_save_cpu"];

/// Pick the crashing CPU among `cpus` (in note order). `syms` may be
/// absent (no kallsyms, no System.map or vmlinux): the RIP rules are then
/// skipped.
pub fn crashing_cpu(
    cpus: &[CpuRegs],
    syms: Option<&dyn SymbolLookup>,
    log_cpu_pid: Option<(u32, i32)>,
    header_cpu: Option<u32>,
) -> Option<CrashingCpu> {
    let found = |i: usize, reason: String| Some(CrashingCpu { note_index: i, reason, certain: true });
    let by_note = |i: usize| cpus.iter().find(|c| c.note_index == i);
    let first = cpus.first()?;
    if let Some(c) = header_cpu.filter(|&c| by_note(c as usize).is_some()) {
        return found(c as usize, "the dump header's current_cpu".into());
    }
    let rip_in = |names: &[&str]| -> Vec<usize> {
        let Some(syms) = syms else { return Vec::new() };
        cpus.iter()
            .filter(|c| syms.symbolize(c.rip()).is_some_and(|s| names.contains(&s.name.as_str())))
            .map(|c| c.note_index)
            .collect()
    };
    if let [i] = rip_in(&KEXEC_PATH)[..] {
        let name = syms.zip(by_note(i)).and_then(|(s, c)| s.symbolize(c.rip())).map(|s| s.name).unwrap_or_default();
        return found(i, format!("its RIP is in {name}, where the crashing CPU saves its registers"));
    }
    if let Some((_, pid)) = log_cpu_pid.filter(|&(_, pid)| pid != 0) {
        if let [c] = cpus.iter().filter(|c| c.pid == pid).collect::<Vec<_>>()[..] {
            return found(
                c.note_index,
                format!("its task (pid {pid}) is the one the panic's \"CPU: N PID: {pid}\" line names"),
            );
        }
    }
    if let [i] = rip_in(&["panic"])[..] {
        return found(i, "its RIP is in panic".into());
    }
    if let Some((n, _)) = log_cpu_pid.filter(|&(n, _)| by_note(n as usize).is_some()) {
        return found(n as usize, format!("the panic's \"CPU: {n}\" log line (notes are in CPU order)"));
    }
    Some(CrashingCpu {
        note_index: first.note_index,
        reason: "no evidence: the first CPU note (a guess)".into(),
        certain: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::prstatus::NREGS;

    fn cpu(i: usize, pid: i32) -> CpuRegs {
        CpuRegs { note_index: i, pid, regs: [0; NREGS] }
    }

    #[test]
    fn rules_without_symbols() {
        let cpus = [cpu(0, 0), cpu(1, 523), cpu(2, 0)];
        let pick = |log, hdr| crashing_cpu(&cpus, None, log, hdr).map(|c| (c.note_index, c.certain));
        assert_eq!(pick(None, Some(2)), Some((2, true)), "the header wins");
        assert_eq!(pick(Some((1, 523)), None), Some((1, true)), "the panic's PID");
        assert_eq!(pick(Some((2, 0)), None), Some((2, true)), "pid 0 is every idle CPU: use N");
        assert_eq!(pick(Some((7, 0)), None), Some((0, false)), "N out of range: a guess");
        assert_eq!(pick(None, Some(9)), Some((0, false)));
        assert_eq!(crashing_cpu(&[], None, Some((0, 1)), None), None);
        // note 0 unparsable: indices stay note indices
        let gap = [cpu(1, 0), cpu(2, 9)];
        assert_eq!(crashing_cpu(&gap, None, Some((0, 0)), None).map(|c| (c.note_index, c.certain)), Some((1, false)));
        assert_eq!(crashing_cpu(&gap, None, Some((2, 9)), Some(0)).map(|c| c.note_index), Some(2));
        // two CPUs with the panic's pid: ambiguous, fall back to N
        let twins = [cpu(0, 5), cpu(1, 5)];
        assert_eq!(crashing_cpu(&twins, None, Some((1, 5)), None).map(|c| c.note_index), Some(1));
    }

    #[test]
    fn rip_rules() {
        use crate::analysis::kallsyms::Kallsyms;
        use crate::analysis::test_memory::{kallsyms_info, kallsyms_memory};
        use kexdump_testgen::kallsyms::encode;
        const T: u64 = 0xffff_ffff_8100_0000;
        let table = encode(
            &[
                (T, 'T', "_stext".into()),
                (T + 0x100, 'T', "panic".into()),
                (T + 0x200, 'T', "__crash_kexec".into()),
                (T + 0x300, 'T', "default_idle".into()),
                (T + 0x400, 'T', "_etext".into()),
            ],
            true,
        );
        let k = Kallsyms::load(&kallsyms_memory(&table), &kallsyms_info()).unwrap();
        let at = |i: usize, pid: i32, rip: u64| {
            let mut c = cpu(i, pid);
            c.regs[crate::analysis::prstatus::RIP] = rip;
            c
        };
        // note 0 unparsable; note 2 in __crash_kexec beats the log's PID
        let cpus = [at(1, 7, T + 0x310), at(2, 0, T + 0x2a0)];
        let c = crashing_cpu(&cpus, Some(&k as &dyn SymbolLookup), Some((1, 7)), None).unwrap();
        assert_eq!(c.note_index, 2);
        assert!(c.reason.contains("__crash_kexec"), "{c:?}");
        // two CPUs in panic, none in kexec: the log's PID decides; without it, N
        let both = [at(0, 3, T + 0x110), at(1, 4, T + 0x120)];
        assert_eq!(crashing_cpu(&both, Some(&k as &dyn SymbolLookup), Some((0, 4)), None).unwrap().note_index, 1);
        let one = [at(0, 0, T + 0x310), at(1, 0, T + 0x120)];
        let c = crashing_cpu(&one, Some(&k as &dyn SymbolLookup), None, None).unwrap();
        assert_eq!((c.note_index, c.reason.as_str()), (1, "its RIP is in panic"));
    }
}
