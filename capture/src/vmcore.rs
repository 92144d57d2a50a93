//! An opened dump, whatever its format (ELF vmcore, kdump-compressed, its
//! split pieces, or a flattened stream): its notes, VMCOREINFO, and the
//! derived facts every pass needs (page count, which pfns exist, which are
//! stored). Everything downstream reads memory through `mem()`.
//!
//! For a kdump-compressed dump, `elf` is what an ELF vmcore of the same
//! memory would say: the notes come from the sub-header, the PT_LOADs are
//! the RAM ranges of the 1st bitmap (direct-map virtual addresses) plus
//! the kernel image mapping, found by walking the page tables. So the
//! translator, the printk reader and the ELF writer work unchanged.

use crate::bitmap::Bitmap;
use crate::elf::vmcore::{self as elfcore, parse_notes, Load, VmcoreElf};
use crate::error::{Error, Result};
use crate::input::Input;
use crate::memory::PhysMem;
use crate::page::{PAGE_SHIFT, PAGE_SIZE};
use crate::reader::kdump::KdumpFile;
use crate::reader::pages::KdumpPages;
use crate::reader::{self, DumpFormat, Kind};
use crate::translate::{Translator, KERNEL_IMAGE_END, START_KERNEL_MAP};
use crate::vmcoreinfo::VmcoreInfo;
use std::path::{Path, PathBuf};

pub struct Vmcore {
    /// The (first) file read; for a flattened stream, the dump it carries.
    pub input: Input,
    pub elf: VmcoreElf,
    /// Empty when the dump has no VMCOREINFO.
    pub info: VmcoreInfo,
    /// One past the highest pfn the dump describes.
    pub max_mapnr: u64,
    /// What was opened.
    pub format: DumpFormat,
    /// The page index of a kdump-compressed dump.
    pub kdump: Option<KdumpPages>,
}

impl Vmcore {
    pub fn open(path: &Path) -> Result<Vmcore> {
        Vmcore::from_input(Input::open(path)?)
    }

    /// Open the pieces of a split dump together (or one file).
    pub fn open_pieces(paths: &[PathBuf]) -> Result<Vmcore> {
        let inputs = paths.iter().map(|p| Input::open(p)).collect::<Result<Vec<_>>>()?;
        Vmcore::from_inputs(inputs)
    }

    pub fn from_input(input: Input) -> Result<Vmcore> {
        Vmcore::from_inputs(vec![input])
    }

    /// Open one dump file, or the pieces of a split kdump-compressed dump.
    pub fn from_inputs(inputs: Vec<Input>) -> Result<Vmcore> {
        let many = inputs.len() > 1;
        let mut sniffed = Vec::new();
        for input in inputs {
            let path = input.path().to_owned();
            let wrap = |e| if many { Error::InFile { path: path.clone(), source: Box::new(e) } } else { e };
            let (input, kind, flattened) = reader::sniff(input).map_err(wrap)?;
            if many && kind == Kind::Elf {
                return Err(wrap(Error::Unsupported(
                    "several files given, but this one is not a kdump-compressed split piece".into(),
                )));
            }
            sniffed.push((input, kind, flattened));
        }
        if sniffed.is_empty() {
            return Err(Error::Unsupported("no dump file given".into()));
        }
        if sniffed[0].1 == Kind::Elf {
            let (input, _, _) = sniffed.remove(0);
            return Vmcore::from_elf(input);
        }
        let flattened = sniffed.iter().any(|s| s.2);
        Vmcore::from_kdump(sniffed.into_iter().map(|s| s.0).collect(), flattened)
    }

    fn from_elf(input: Input) -> Result<Vmcore> {
        let elf = elfcore::parse(&input)?;
        let info = elf.vmcoreinfo_note().map(|n| VmcoreInfo::parse(&n.desc)).unwrap_or_default();
        // Memory beyond what the kernel can address is a corrupt header, and
        // would make every pass walk (and every bitmap cover) a vast range.
        if let Ok(Some(bits)) = info.opt_number("MAX_PHYSMEM_BITS") {
            if (12..=52).contains(&bits) {
                if let Some((i, l)) = elf.loads.iter().enumerate().find(|(_, l)| l.paddr + l.memsz > 1u64 << bits) {
                    return Err(Error::Malformed {
                        offset: elf.load_phdr_offsets.get(i).copied().unwrap_or(0),
                        what: format!(
                            "PT_LOAD at physical {:#x}+{:#x} ends beyond NUMBER(MAX_PHYSMEM_BITS)={bits}",
                            l.paddr, l.memsz
                        ),
                    });
                }
            }
        }
        let max_mapnr = elf.max_paddr().div_ceil(PAGE_SIZE);
        let mut format = DumpFormat::elf();
        if let Some(why) = &elf.cut {
            format.incomplete = true;
            format.cut_short = Some(why.clone());
        }
        Ok(Vmcore { input, elf, info, max_mapnr, format, kdump: None })
    }

    fn from_kdump(inputs: Vec<Input>, flattened: bool) -> Result<Vmcore> {
        let many = inputs.len() > 1;
        let mut pieces = Vec::new();
        for input in inputs {
            match KdumpFile::parse(&input) {
                Ok(f) => pieces.push((input, f)),
                Err(e) if many => return Err(Error::InFile { path: input.path().to_owned(), source: Box::new(e) }),
                Err(e) => return Err(e),
            }
        }
        pieces.sort_by_key(|(_, f)| f.header.start_pfn);
        if many {
            check_pieces(&pieces)?;
        }
        let count = pieces.len();
        let (mut ins, files): (Vec<Input>, Vec<KdumpFile>) = pieces.into_iter().unzip();
        let input = ins.remove(0);
        let f0 = &files[0];
        let mut format = DumpFormat::kdump(&f0.header, flattened, count);
        format.cut_short = input.cut_short().map(str::to_owned);

        // Notes: the PT_NOTE copy (v4+); a v3 dump has only VMCOREINFO,
        // which becomes a note so that writers can copy it.
        let mut note_bytes = f0.note_bytes.clone();
        let mut notes = f0.notes.clone();
        if !notes.iter().any(|n| n.name == "VMCOREINFO") {
            if let Some(text) = &f0.vmcoreinfo {
                let start = note_bytes.len();
                note_bytes.extend_from_slice(&vmcoreinfo_note(text));
                parse_notes(&note_bytes[start..], 0, start as u64, &mut notes)?;
            }
        }
        let mut info =
            notes.iter().find(|n| n.name == "VMCOREINFO").map(|n| VmcoreInfo::parse(&n.desc)).unwrap_or_default();
        if !info.is_empty() {
            // Kernels before 4.x do not export phys_base; the sub-header has it.
            info.set_if_absent("NUMBER(phys_base)", (f0.header.phys_base as i64).to_string());
        }
        let loads: Vec<Load> = f0
            .present_runs()
            .into_iter()
            .map(|(a, b)| Load {
                vaddr: 0,
                paddr: a << PAGE_SHIFT,
                offset: 0,
                filesz: (b - a) << PAGE_SHIFT,
                memsz: (b - a) << PAGE_SHIFT,
            })
            .collect();
        let max_mapnr = f0.header.max_mapnr;
        let elf = VmcoreElf { load_phdr_offsets: vec![0; loads.len()], loads, note_bytes, notes, cut: None };
        let kdump = Some(KdumpPages::new(files, ins));
        let mut vm = Vmcore { input, elf, info, max_mapnr, format, kdump };
        vm.add_virtual_addresses();
        Ok(vm)
    }

    /// Give the synthesized loads of a kdump-compressed dump the virtual
    /// addresses an ELF vmcore has: RAM in the direct map, and a first
    /// load for the kernel image. Without VMCOREINFO (or page tables) the
    /// loads keep vaddr 0: physical reads still work.
    fn add_virtual_addresses(&mut self) {
        let Ok(tr) = Translator::new(&self.info, &self.elf.loads) else { return };
        let (page_offset, text) = {
            let mem = self.mem();
            // mem_section is allocated in the direct map: its virtual minus
            // its physical address is the (KASLR-randomized, 1 GiB-aligned)
            // page_offset_base.
            let from_mem_section = self.info.opt_symbol("mem_section").ok().flatten().and_then(|va| {
                let pa = tr.walk_page_tables(&mem, va).ok()?;
                let po = va.wrapping_sub(pa);
                (po % (1 << 30) == 0 && (0xff00_0000_0000_0000..START_KERNEL_MAP).contains(&po)).then_some(po)
            });
            (from_mem_section.unwrap_or(tr.page_offset), self.kernel_image_load(&tr, &mem))
        };
        for l in &mut self.elf.loads {
            l.vaddr = page_offset.wrapping_add(l.paddr);
        }
        if let Some(t) = text {
            self.elf.loads.insert(0, t);
            self.elf.load_phdr_offsets.insert(0, 0);
        }
    }

    /// The kernel image mapping as one load, from `_stext` for as long as
    /// the page tables map it where phys_base says (crash and gdb find the
    /// kernel's data through it).
    fn kernel_image_load(&self, tr: &Translator, mem: &PhysMem) -> Option<Load> {
        let stext = self.info.opt_symbol("_stext").ok().flatten()?;
        if !(START_KERNEL_MAP..KERNEL_IMAGE_END).contains(&stext) || stext % PAGE_SIZE != 0 {
            return None;
        }
        let paddr = tr.to_phys(mem, stext).ok()?;
        let kdump = self.kdump.as_ref()?;
        let mut len = 0u64;
        while stext + len < KERNEL_IMAGE_END {
            let va = stext + len;
            match tr.walk_page_tables(mem, va) {
                Ok(pa) if pa == paddr.wrapping_add(len) && kdump.files[0].is_present(pa >> PAGE_SHIFT) => {}
                _ => break,
            }
            len += PAGE_SIZE;
        }
        (len > 0).then_some(Load { vaddr: stext, paddr, offset: 0, filesz: len, memsz: len })
    }

    pub fn mem(&self) -> PhysMem<'_> {
        match &self.kdump {
            Some(k) => PhysMem::kdump(&self.input, &self.elf.loads, k),
            None => PhysMem::new(&self.input, &self.elf.loads),
        }
    }

    /// The pfns of `[start, start + len)` that exist: RAM some PT_LOAD
    /// describes (makedumpfile's 1st bitmap: a partly described last page
    /// counts), or a kdump-compressed dump's 1st bitmap.
    pub fn present(&self, start: u64, len: u64) -> Bitmap {
        if let Some(k) = &self.kdump {
            return k.present(start, len);
        }
        let mut bm = Bitmap::new(start, len);
        for l in &self.elf.loads {
            let end = l.paddr + l.memsz;
            bm.set_range(l.paddr >> PAGE_SHIFT, end.div_ceil(PAGE_SIZE).min(self.max_mapnr));
        }
        bm
    }

    /// The present pfns whose data the dump holds: for an ELF vmcore, all
    /// but pages past a PT_LOAD's p_filesz (the partial last one included,
    /// as makedumpfile's exclude_nodata_pages()); for a kdump-compressed
    /// dump, its 2nd bitmap (pages it excluded cannot come back).
    pub fn stored(&self, start: u64, len: u64) -> Bitmap {
        if let Some(k) = &self.kdump {
            return k.dumped(start, len);
        }
        let mut keep = self.present(start, len);
        for l in &self.elf.loads {
            let from = (l.paddr + l.filesz) >> PAGE_SHIFT;
            let to = (l.paddr + l.memsz).div_ceil(PAGE_SIZE);
            keep.clear_range(from, to);
        }
        keep
    }

    /// The number of CPUs, from the NT_PRSTATUS notes.
    pub fn nr_cpus(&self) -> usize {
        self.elf.prstatus_notes().count()
    }
}

/// An ELF note named VMCOREINFO holding `text`.
fn vmcoreinfo_note(text: &[u8]) -> Vec<u8> {
    let name = b"VMCOREINFO\0";
    let mut n = Vec::new();
    n.extend_from_slice(&(name.len() as u32).to_le_bytes());
    n.extend_from_slice(&(text.len() as u32).to_le_bytes());
    n.extend_from_slice(&0u32.to_le_bytes());
    n.extend_from_slice(name);
    n.resize(n.len().div_ceil(4) * 4, 0);
    n.extend_from_slice(text);
    n.resize(n.len().div_ceil(4) * 4, 0);
    n
}

/// Split pieces read together must be pieces of one dump, each holding its
/// own range of pfns.
fn check_pieces(pieces: &[(Input, KdumpFile)]) -> Result<()> {
    let first = &pieces[0].1.header;
    for (i, (input, f)) in pieces.iter().enumerate() {
        let h = &f.header;
        let fail = |what: String| {
            Err(Error::InFile { path: input.path().to_owned(), source: Box::new(Error::Malformed { offset: 0, what }) })
        };
        if !h.split {
            return fail("several files given, but this one is not a split piece (split flag clear)".into());
        }
        if h.max_mapnr != first.max_mapnr || h.release != first.release {
            return fail(format!(
                "not a piece of the same dump as {} (max_mapnr or kernel release differ)",
                pieces[0].0.path().display()
            ));
        }
        if let Some((prev_in, prev)) = i.checked_sub(1).map(|j| &pieces[j]) {
            if h.start_pfn < prev.header.end_pfn {
                return fail(format!(
                    "its pfns [{:#x}, {:#x}) overlap those of {}",
                    h.start_pfn,
                    h.end_pfn,
                    prev_in.path().display()
                ));
            }
        }
    }
    Ok(())
}
