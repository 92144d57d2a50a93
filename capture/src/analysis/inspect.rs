//! `kexdump inspect`'s findings, gathered from a `DumpView`. Every section
//! is computed on its own and holds either its result or why it failed, so
//! a dump with no log, no kallsyms or an unreadable stack still shows the
//! rest.

use super::crashing_cpu::{crashing_cpu, CrashingCpu};
use super::dump_level::excluded_classes;
use super::kallsyms::Kallsyms;
use super::next_steps::{next_steps, NextSteps};
use super::panic_log;
use super::prstatus::{self, CpuRegs};
use super::source::{DumpFacts, DumpView};
use super::stack::{probable_chain, CallChain};
use super::symbol_files::{candidates, first_usable, FileKind, FileSymbols, Skipped};
use super::symbols::SymbolLookup;
use std::path::PathBuf;

/// A section's content, or why it could not be produced.
pub type Section<T> = Result<T, String>;

#[derive(Clone, Debug)]
pub struct InspectOptions {
    /// How many of the log's last lines to keep.
    pub log_lines: usize,
    /// The dump's path as the user gave it (for the suggested commands).
    pub dump_path: String,
    /// A vmlinux given by the user (for the suggested commands).
    pub vmlinux: Option<String>,
    /// Symbol files the user named (`--system-map`, `--vmlinux`): tried
    /// first, in this order.
    pub symbol_files: Vec<(FileKind, PathBuf)>,
    /// Where to look for the release's System.map or debug vmlinux when
    /// the dump's kallsyms cannot be read (`/`); None: do not look.
    pub search_root: Option<PathBuf>,
}

/// Where the names in the report come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolSource {
    /// "kallsyms" (the dump's own), "System.map" or "vmlinux".
    pub kind: String,
    /// The file, for System.map and vmlinux.
    pub path: Option<String>,
    pub symbols: usize,
    /// How it was chosen and checked, in a few words.
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KallsymsSummary {
    pub symbols: usize,
    pub absolute_percpu: bool,
    /// How `kallsyms_offsets` encodes addresses (changes with the release).
    pub encoding: String,
    /// `[_stext, _etext)` (and init text) when found.
    pub text: Vec<(u64, u64)>,
}

pub struct Inspection {
    pub facts: DumpFacts,
    /// Page classes left out; None when the dump does not say.
    pub excluded: Option<Vec<&'static str>>,
    pub release: Option<String>,
    pub hostname: String,
    pub machine: String,
    /// `utsname.version` (`#1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1 ...`).
    pub version: String,
    /// VMCOREINFO CRASHTIME, seconds since the epoch.
    pub crash_time: Section<i64>,
    /// VMCOREINFO KERNELOFFSET (KASLR displacement of the kernel image).
    pub kernel_offset: Option<u64>,
    /// Seconds since boot of the last log record.
    pub uptime: Section<f64>,
    pub panic_message: Section<String>,
    pub log_tail: Section<Vec<String>>,
    /// Every CPU note, parsed or not.
    pub cpus: Vec<Section<CpuRegs>>,
    pub crashing: Section<CrashingCpu>,
    pub kallsyms: Section<KallsymsSummary>,
    /// Which symbols name addresses; the error says what to install.
    pub symbol_source: Section<SymbolSource>,
    /// Symbol files tried and not used, and why.
    pub symbol_notes: Vec<String>,
    /// Files given or found that belong to another kernel build: their
    /// DWARF must not be used for file:line either.
    pub foreign_files: Vec<PathBuf>,
    pub chain: Section<CallChain>,
    pub next: NextSteps,
    /// The symbol table, for further lookups by the caller.
    pub symbols: Option<Box<dyn SymbolLookup>>,
}

fn from_file(f: FileSymbols, given: bool) -> (Box<dyn SymbolLookup>, SymbolSource) {
    let source = SymbolSource {
        kind: f.kind.to_string(),
        path: Some(f.path.display().to_string()),
        symbols: f.table.len(),
        detail: format!(
            "{}; belongs to the dump: {} at their VMCOREINFO addresses (KERNELOFFSET {:#x})",
            if given { "given on the command line" } else { "found where the release's files go" },
            f.agreement.agreeing.join(", "),
            f.agreement.kernel_offset
        ),
    };
    (Box::new(f.table), source)
}

pub fn inspect(view: &DumpView, opts: &InspectOptions) -> Inspection {
    let info = view.info;
    let release =
        info.osrelease().map(str::to_owned).or_else(|| Some(view.utsname[2].clone()).filter(|r| !r.is_empty()));
    let log = view.log.as_deref().map_err(|e| e.clone());

    let loaded = match &view.mem {
        Ok(mem) => Kallsyms::load(mem.as_ref(), info).map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    let kallsyms = loaded.as_ref().map_err(|e| e.clone()).map(|k| KallsymsSummary {
        symbols: k.len(),
        absolute_percpu: k.absolute_percpu,
        encoding: k.encoding.describe().to_owned(),
        text: k.text_ranges().iter().map(|r| (r.start, r.end)).collect(),
    });
    let next = next_steps(
        release.as_deref().unwrap_or(""),
        &opts.dump_path,
        view.facts.format.starts_with("ELF"),
        info.kernel_offset().ok().flatten(),
        opts.vmlinux.as_deref(),
    );
    let (symbols, symbol_source, skipped) = choose_symbols(loaded, info, release.as_deref(), opts, &next);
    let symbol_notes = skipped.iter().map(|s| s.to_string()).collect();
    let foreign_files = skipped.iter().filter(|s| s.another_build()).map(|s| s.path.clone()).collect();
    let symbols = symbols.ok_or_else(|| symbol_source.clone().err().unwrap_or_default());
    let parsed = prstatus::parse_all(&view.prstatus);
    let cpus_ok: Vec<CpuRegs> = parsed.iter().filter_map(|c| c.as_ref().ok().cloned()).collect();
    let log_cpu_pid = log.as_ref().ok().and_then(|l| panic_log::panic_cpu_pid(l));
    let crashing = if view.prstatus.is_empty() {
        Err(super::error::AnalysisError::NoCpus.to_string())
    } else {
        crashing_cpu(&cpus_ok, symbols.as_ref().ok().map(|b| b.as_ref()), log_cpu_pid, view.facts.header_cpu)
            .ok_or_else(|| "no NT_PRSTATUS note could be parsed".to_owned())
    };
    let chain = match (&crashing, &view.mem, &symbols) {
        (Ok(c), Ok(mem), Ok(syms)) => match cpus_ok.iter().find(|r| r.note_index == c.note_index) {
            Some(regs) => probable_chain(mem.as_ref(), syms.as_ref(), regs).map_err(|e| e.to_string()),
            None => Err("the crashing CPU's note could not be parsed".into()),
        },
        (Err(e), _, _) => Err(format!("no crashing CPU: {e}")),
        (_, Err(e), _) => Err(e.clone()),
        (_, _, Err(e)) => Err(e.clone()),
    };
    let kernel_offset = info.kernel_offset().ok().flatten();
    Inspection {
        excluded: excluded_classes(view.facts.dump_level, view.facts.filtered),
        facts: view.facts.clone(),
        release,
        hostname: view.utsname[1].clone(),
        machine: view.utsname[4].clone(),
        version: view.utsname[3].clone(),
        crash_time: match info.crash_time() {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err("VMCOREINFO has no CRASHTIME".into()),
            Err(e) => Err(e.to_string()),
        },
        kernel_offset,
        uptime: log
            .as_ref()
            .map_err(|e| e.clone())
            .and_then(|l| panic_log::last_timestamp(l).ok_or_else(|| "the log has no timestamped record".to_owned())),
        panic_message: log
            .as_ref()
            .map_err(|e| e.clone())
            .and_then(|l| panic_log::panic_message(l).ok_or_else(|| "no panic or oops line in the log".to_owned())),
        log_tail: log.as_ref().map(|l| panic_log::tail(l, opts.log_lines)).map_err(|e| e.clone()),
        cpus: parsed.into_iter().map(|c| c.map_err(|e| e.to_string())).collect(),
        crashing,
        kallsyms,
        symbol_source,
        symbol_notes,
        foreign_files,
        chain,
        next,
        symbols: symbols.ok(),
    }
}

type Chosen = (Option<Box<dyn SymbolLookup>>, Section<SymbolSource>, Vec<Skipped>);

/// The symbols to name addresses with: files the user named (when one
/// belongs to the dump), else the dump's own kallsyms, else the release's
/// System.map or debug vmlinux found under `search_root`. With none, the
/// error says what to install.
fn choose_symbols(
    loaded: Result<Kallsyms, String>,
    info: &crate::vmcoreinfo::VmcoreInfo,
    release: Option<&str>,
    opts: &InspectOptions,
    next: &NextSteps,
) -> Chosen {
    let mut notes = Vec::new();
    if !opts.symbol_files.is_empty() {
        let (found, n) = first_usable(&opts.symbol_files, info, false);
        notes.extend(n);
        if let Some(f) = found {
            let (t, s) = from_file(f, true);
            return (Some(t), Ok(s), notes);
        }
    }
    let kallsyms_error = match loaded {
        Ok(k) => {
            let source = SymbolSource {
                kind: "kallsyms".into(),
                path: None,
                symbols: k.len(),
                detail: format!("the dump's own kallsyms (kallsyms_offsets {})", k.encoding.describe()),
            };
            return (Some(Box::new(k)), Ok(source), notes);
        }
        Err(e) => e,
    };
    let release = release.unwrap_or("");
    let mut looked = Vec::new();
    if let (Some(root), false) = (&opts.search_root, release.is_empty()) {
        let files = candidates(root, release);
        let (found, n) = first_usable(&files, info, true);
        notes.extend(n);
        if let Some(f) = found {
            let (t, s) = from_file(f, false);
            return (Some(t), Ok(s), notes);
        }
        looked = files.into_iter().map(|(_, p)| p.display().to_string()).collect();
    }
    let mut why = format!("no symbols: the dump's kallsyms cannot be read ({kallsyms_error})");
    if looked.is_empty() {
        why.push_str(", and no System.map or vmlinux was looked for");
    } else {
        why.push_str(&format!(
            ", and no usable System.map or debug vmlinux of {release} was found (looked for {})",
            looked.join(", ")
        ));
    }
    why.push_str(": ");
    if let (Some(p), Some(i)) = (&next.debug_package, &next.install) {
        why.push_str(&format!("install {p} ({i}), which holds the debug vmlinux, or "));
    }
    if let (Some(root), false) = (&opts.search_root, release.is_empty()) {
        why.push_str(&format!(
            "put the kernel's System.map at {}, or ",
            root.join(format!("boot/System.map-{release}")).display()
        ));
    }
    why.push_str("give --system-map FILE or --vmlinux FILE");
    (None, Err(why), notes)
}
