//! An opened vmcore: its ELF structure, VMCOREINFO, and the derived facts
//! every pass needs (page count, which pfns exist).

use crate::bitmap::Bitmap;
use crate::elf::vmcore::{self as elfcore, VmcoreElf};
use crate::error::{Error, Result};
use crate::input::Input;
use crate::memory::{PhysMem, PAGE_SHIFT, PAGE_SIZE};
use crate::vmcoreinfo::VmcoreInfo;
use std::path::Path;

pub struct Vmcore {
    pub input: Input,
    pub elf: VmcoreElf,
    /// Empty when the vmcore has no VMCOREINFO note.
    pub info: VmcoreInfo,
    /// One past the highest pfn any PT_LOAD describes.
    pub max_mapnr: u64,
}

impl Vmcore {
    pub fn open(path: &Path) -> Result<Vmcore> {
        Vmcore::from_input(Input::open(path)?)
    }

    pub fn from_input(input: Input) -> Result<Vmcore> {
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
        Ok(Vmcore { input, elf, info, max_mapnr })
    }

    pub fn mem(&self) -> PhysMem<'_> {
        PhysMem::new(&self.input, &self.elf.loads)
    }

    /// The pfns of `[start, start + len)` that some PT_LOAD describes
    /// (makedumpfile's 1st bitmap: a partly described last page counts).
    pub fn present(&self, start: u64, len: u64) -> Bitmap {
        let mut bm = Bitmap::new(start, len);
        for l in &self.elf.loads {
            let end = l.paddr + l.memsz;
            bm.set_range(l.paddr >> PAGE_SHIFT, end.div_ceil(PAGE_SIZE).min(self.max_mapnr));
        }
        bm
    }

    /// The number of CPUs, from the NT_PRSTATUS notes.
    pub fn nr_cpus(&self) -> usize {
        self.elf.prstatus_notes().count()
    }
}
