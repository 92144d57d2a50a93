//! What the analysis needs from a dump, and the one adapter that gets it
//! from an opened `Vmcore`.
//!
//! The analysis (registers, kallsyms, stack scan, the inspect report) sees
//! only a `DumpView`: kernel virtual memory through `KernelMemory`,
//! VMCOREINFO, the NT_PRSTATUS descriptors in note order, the log, the
//! `utsname`, and the facts about the file (`DumpFacts`). Only
//! `view_of_vmcore` knows how a `Vmcore` is built (ELF loads, notes), so
//! when more dump formats open as a `Vmcore`, that function alone changes.

use crate::elf::vmcore::Load;
use crate::error::Result;
use crate::memory::PhysMem;
use crate::reader::Kind;
use crate::translate::Translator;
use crate::vmcore::Vmcore;
use crate::vmcoreinfo::VmcoreInfo;

/// Kernel virtual memory of the crashed kernel (KASLR already resolved).
pub trait KernelMemory {
    /// Fill `buf` from kernel virtual address `vaddr`, or fail (address not
    /// mapped, page not in the dump).
    fn read(&self, vaddr: u64, buf: &mut [u8]) -> Result<()>;
}

/// Reads a little-endian u64 from kernel memory.
pub fn read_u64(mem: &dyn KernelMemory, vaddr: u64) -> Result<u64> {
    let mut b = [0u8; 8];
    mem.read(vaddr, &mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// Facts about the dump file itself, which only its reader knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpFacts {
    /// "ELF vmcore", or what the reader says of the file, e.g.
    /// "kdump-compressed v6, zstd, dump level 31, flattened".
    pub format: String,
    /// "none", "zstd", "zlib", ...
    pub compression: String,
    /// makedumpfile dump level (0-31) when the file records it or it is
    /// certain (an unfiltered ELF vmcore is level 0); None when unknown.
    pub dump_level: Option<u8>,
    /// Whether a dump tool left pages out (makedumpfile and kexdump also
    /// drop hwpoisoned and offline pages at level 0); false for a copy of
    /// `/proc/vmcore`.
    pub filtered: bool,
    /// One line on the filtering, e.g. "unfiltered: every page stored".
    pub filtering: String,
    /// False when the file says it lacks pages (INCOMPLETE flag).
    pub complete: bool,
    /// Why it is (in)complete, in a few words.
    pub completeness: String,
    /// Size of the file in bytes.
    pub file_bytes: u64,
    /// The crashing CPU as the file's header records it (kdump-compressed
    /// `current_cpu`); ELF has no such field.
    pub header_cpu: Option<u32>,
}

/// Everything the analysis reads, format-independent.
pub struct DumpView<'a> {
    pub info: &'a VmcoreInfo,
    /// Kernel virtual memory, or why it cannot be read (no VMCOREINFO,
    /// no page-table root).
    pub mem: std::result::Result<Box<dyn KernelMemory + 'a>, String>,
    /// NT_PRSTATUS descriptors ("CORE" notes), in note order, which is CPU
    /// order as the kernel writes them (present CPUs only).
    pub prstatus: Vec<&'a [u8]>,
    /// The kernel log as `[seconds.micros] text` lines, or why not.
    pub log: std::result::Result<String, String>,
    /// sysname, nodename, release, version, machine, domainname.
    pub utsname: [String; 6],
    pub facts: DumpFacts,
}

/// Kernel virtual memory of an ELF vmcore: page-table walk, then the
/// PT_LOADs.
struct TranslatedMemory<'a> {
    tr: Translator,
    mem: PhysMem<'a>,
}

impl KernelMemory for TranslatedMemory<'_> {
    fn read(&self, vaddr: u64, buf: &mut [u8]) -> Result<()> {
        self.tr.read(&self.mem, vaddr, buf)
    }
}

/// The adapter: a `DumpView` of an opened vmcore. Uses `vm.info`,
/// `vm.elf.loads` (translation, filtering), `vm.elf.prstatus_notes()`,
/// `vm.mem()`, `vm.input.size()`, `dmesg::read_log` and `utsname::utsname`.
pub fn view_of_vmcore(vm: &Vmcore) -> DumpView<'_> {
    let mem: std::result::Result<Box<dyn KernelMemory + '_>, String> = if vm.info.is_empty() {
        Err(crate::Error::NoVmcoreinfo.to_string())
    } else {
        Translator::new(&vm.info, &vm.elf.loads)
            .map(|tr| Box::new(TranslatedMemory { tr, mem: vm.mem() }) as Box<dyn KernelMemory>)
            .map_err(|e| e.to_string())
    };
    let log = crate::dmesg::read_log(vm).map(|b| String::from_utf8_lossy(&b).into_owned()).map_err(|e| e.to_string());
    DumpView {
        info: &vm.info,
        mem,
        prstatus: vm.elf.prstatus_notes().map(|n| n.desc.as_slice()).collect(),
        log,
        utsname: crate::utsname::utsname(vm),
        facts: dump_facts(vm),
    }
}

/// What the file says of itself, whatever its format.
fn dump_facts(vm: &Vmcore) -> DumpFacts {
    let f = &vm.format;
    // Every piece of a split dump counts.
    let more: u64 = vm.kdump.as_ref().map_or(0, |k| k.more_inputs.iter().map(|i| i.size()).sum());
    let file_bytes = vm.input.size().saturating_add(more);
    let mut facts = match f.kind {
        Kind::Elf => elf_facts(&vm.elf.loads, vm.elf.cut.as_deref(), file_bytes),
        Kind::Kdump => {
            let level = f.dump_level.and_then(|l| u8::try_from(l).ok()).filter(|l| *l <= 31);
            let filtering = match level {
                Some(0) => "dump level 0: every page kept (hwpoisoned and offline pages aside)".to_owned(),
                Some(l) => format!("dump level {l}, as recorded in the header"),
                None => format!("the header's dump level {:?} is not 0-31", f.dump_level),
            };
            let (complete, completeness) = if f.incomplete {
                (false, "the header says INCOMPLETE: the writer stopped part-way, some pages are missing".to_owned())
            } else {
                (true, "the header does not say INCOMPLETE".to_owned())
            };
            DumpFacts {
                format: "kdump-compressed".into(),
                compression: f.compression.unwrap_or("none").to_owned(),
                dump_level: level,
                filtered: level != Some(0),
                filtering,
                complete,
                completeness,
                file_bytes,
                header_cpu: None,
            }
        }
    };
    // "kdump-compressed v6, flattened, split in 2 pieces"; compression and
    // level have their own fields.
    if let Some(v) = f.header_version {
        facts.format = format!("{} v{v}", facts.format);
    }
    if f.flattened {
        facts.format.push_str(", flattened");
    }
    if f.pieces > 1 {
        facts.format.push_str(&format!(", split in {} pieces", f.pieces));
    }
    facts
}

/// An ELF vmcore records no dump level: `/proc/vmcore` (and a copy of it)
/// stores every page of every PT_LOAD; a filtered ELF (`makedumpfile -E`,
/// `kexdump save -f elf`) leaves excluded ranges out of `p_filesz`.
/// A file cut short was clamped to its whole pages when opened: `cut` says
/// where it ends.
fn elf_facts(loads: &[Load], cut: Option<&str>, file_bytes: u64) -> DumpFacts {
    let unstored: u64 = loads.iter().map(|l| l.memsz - l.filesz).sum();
    let (dump_level, filtered, filtering) = if unstored == 0 {
        (Some(0), false, "unfiltered: every page of every PT_LOAD is stored".to_owned())
    } else {
        (
            None,
            true,
            format!(
                "filtered ELF: {} MiB described but not stored (ELF does not record the dump level)",
                unstored >> 20
            ),
        )
    };
    DumpFacts {
        format: "ELF vmcore".into(),
        compression: "none".into(),
        dump_level,
        filtered,
        filtering,
        complete: cut.is_none(),
        completeness: match cut {
            Some(why) => format!("cut short: {why}"),
            None => "every PT_LOAD's stored bytes are in the file".into(),
        },
        file_bytes,
        header_cpu: None,
    }
}
