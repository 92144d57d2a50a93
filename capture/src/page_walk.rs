//! What the struct page walk needs, computed once per dump before any
//! page is selected: the page tables (`Translator`), how this kernel marks
//! its pages (`PageScheme`), where each section's struct pages are, and the
//! pfns a reader needs to start, which the filter must keep. The selector
//! walks with it; the writers save those pfns first (`first_pages`).

use crate::dmesg;
use crate::error::Result;
use crate::mem_map::{self, SectionMap};
use crate::memory::PhysMem;
use crate::page_scheme::PageScheme;
use crate::translate::Translator;
use crate::vmcore::Vmcore;

/// What the struct page walk needs, computed once per dump.
pub struct PageWalk {
    pub tr: Translator,
    pub scheme: PageScheme,
    pub sections: Vec<SectionMap>,
    /// The pfns a reader needs to start (page tables to the kernel image,
    /// to `mem_section` and to each section's struct pages, `mem_section`
    /// itself, `init_uts_ns`, the printk ring), sorted: the filter must
    /// keep them at every level, or it is not trusted.
    pub needed: Vec<u64>,
}

impl PageWalk {
    pub fn new(vm: &Vmcore, mem: &PhysMem) -> Result<PageWalk> {
        if vm.info.is_empty() {
            return Err(crate::error::Error::NoVmcoreinfo);
        }
        vm.info.page_size()?;
        let tr = Translator::new(&vm.info, &vm.elf.loads)?;
        let scheme = PageScheme::from_vmcoreinfo(&vm.info)?;
        let (sections, needed) = mem.traced(|| -> Result<Vec<SectionMap>> {
            let sections = mem_map::sections(&vm.info, mem, &tr, vm.max_mapnr)?.sections;
            for s in &sections {
                // the page tables down to the first struct page of each section
                let _ = tr.to_phys(mem, s.mem_map);
            }
            if let Some(uts) = vm.info.opt_symbol("init_uts_ns")? {
                let _ = tr.read(mem, uts, &mut [0u8; 390]);
            }
            // A kernel whose log cannot be read still gets a dump; the
            // pages read up to the failure are still needed.
            let _ = dmesg::read_log_from(&vm.info, mem, &tr);
            Ok(sections)
        });
        Ok(PageWalk { tr, scheme, sections: sections?, needed: needed.into_iter().collect() })
    }
}
