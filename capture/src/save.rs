//! `save`: one vmcore in, one dump out, at the requested level when the
//! page metadata allows it and at a lower one (said loudly) when not. The
//! capture binary and `kexdump save`/`convert` all come through here.

use crate::compress::Compression;
use crate::dump_level;
use crate::error::{Error, Result};
use crate::page_scheme;
use crate::page_walk::PageWalk;
use crate::select::Selector;
use crate::sink::Sink;
use crate::vmcore::Vmcore;
use crate::writer::{self, Progress, WriteStats};
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// kdump-compressed (crash, makedumpfile, drgn).
    Kdump,
    /// ELF core (gdb, crash, drgn).
    Elf,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "kdump" => Ok(Format::Kdump),
            "elf" => Ok(Format::Elf),
            _ => Err(format!("unknown format {s:?} (expected kdump or elf)")),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct SaveOptions {
    pub level: u8,
    pub format: Format,
    pub compression: Compression,
    /// Threads compressing pages (kdump-compressed output): 1 compresses
    /// on the caller's thread. The output is the same bytes for any count.
    pub threads: usize,
}

#[derive(Clone, Debug)]
pub struct SaveReport {
    pub requested_level: u8,
    /// The level actually applied (lower when the page walk was impossible).
    pub level: u8,
    /// Why the level was lowered, if it was.
    pub fallback: Option<String>,
    /// What the engine could not decide and so kept (rules this kernel's
    /// VMCOREINFO gives no marks for, a kernel outside the tested range),
    /// each already passed to `warn`. Like a fallback, a reason to check
    /// the dump: callers exit 2.
    pub warnings: Vec<String>,
    pub stats: WriteStats,
}

/// The CPUs this process may run on (its affinity and cgroup quota; in a
/// capture kernel, its `nr_cpus=`), at least 1: the default number of
/// compression threads.
pub fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Write `vm` to `sink`. `warn` receives the messages an operator must see.
pub fn save(
    vm: &Vmcore,
    sink: &mut dyn Sink,
    opts: &SaveOptions,
    progress: &mut dyn Progress,
    warn: &mut dyn FnMut(&str),
) -> Result<SaveReport> {
    if opts.level > 31 {
        return Err(Error::Unsupported(format!("dump level {} (valid: 0-31)", opts.level)));
    }
    let mem = vm.mem();
    // makedumpfile walks the struct pages even at levels 0 and 1 when the
    // kernel exports PG_hwpoison, to leave out poisoned and offline pages
    // (reading them can machine-check); so do we.
    let wants_walk = opts.level & dump_level::NEEDS_PAGE_WALK != 0 || vm.info.get("NUMBER(PG_hwpoison)").is_some();
    let fallback_level = opts.level & dump_level::ZERO;
    let lowered = |why: String| {
        if opts.level & dump_level::NEEDS_PAGE_WALK != 0 {
            format!("cannot classify pages ({why}); saving at dump level {fallback_level} instead of {}", opts.level)
        } else {
            format!("cannot read page metadata ({why}); hwpoisoned and offline pages are not left out")
        }
    };
    let mut fallback = None;
    let walk = if wants_walk {
        match PageWalk::new(vm, &mem) {
            Ok(w) => Some(w),
            Err(e) => {
                fallback = Some(lowered(e.to_string()));
                None
            }
        }
    } else {
        None
    };
    if let Some(msg) = &fallback {
        warn(msg);
    }
    let mut warnings = Vec::new();
    if vm.format.incomplete {
        let why = vm.format.cut_short.as_deref().unwrap_or("its header says INCOMPLETE");
        warnings.push(format!("the input is incomplete ({why}): the memory it lacks is missing from the output too"));
    }
    if let Some(w) = vm.info.osrelease().and_then(page_scheme::release_warning) {
        warnings.push(w);
    }
    // Level bits whose rules cannot run at all are dropped from the level
    // in force, so the dump's header says what was really filtered.
    let mut level_in_force = opts.level;
    if let Some(w) = &walk {
        warnings.extend(w.scheme.limits(opts.level));
        level_in_force &= !w.scheme.lost_bits(opts.level);
    }
    for w in &warnings {
        warn(w);
    }
    let run = |sel: &Selector, sink: &mut dyn Sink, progress: &mut dyn Progress| match opts.format {
        Format::Kdump => writer::kdump::write(sel, sink, opts.compression, opts.threads, progress),
        Format::Elf => writer::elf::write(sel, sink, progress),
    };
    let sel = Selector::new(vm, &mem, walk.as_ref(), level_in_force);
    // The struct page walk happens in the first pass, before the page data
    // is written, so a metadata failure there can still be retried at the
    // fallback level on the same sink (every byte gets rewritten).
    let stats = match run(&sel, sink, progress) {
        Err(e @ (Error::Inconsistent(_) | Error::Translate { .. })) if walk.is_some() => {
            let msg = lowered(e.to_string());
            warn(&msg);
            fallback = Some(msg);
            let sel = Selector::new(vm, &mem, None, opts.level);
            run(&sel, sink, progress)?
        }
        other => other?,
    };
    let mut stats = stats;
    stats.pages_present = Selector::new(vm, &mem, None, 0).windows().map(|(s, n)| vm.present(s, n).count()).sum();
    let applied =
        if fallback.is_some() { fallback_level | (opts.level & !dump_level::NEEDS_PAGE_WALK) } else { level_in_force };
    Ok(SaveReport { requested_level: opts.level, level: applied, fallback, warnings, stats })
}
