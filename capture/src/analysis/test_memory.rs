//! Kernel memory for unit tests: byte regions at virtual addresses, each
//! padded with zeros to the end of its last page (memory is mapped in
//! pages); everything else is unreadable.

use super::source::KernelMemory;
use crate::error::{Error, Result};
use crate::vmcoreinfo::VmcoreInfo;
use kexdump_testgen::kallsyms::Table;
use std::collections::BTreeMap;

#[derive(Default, Clone)]
pub struct TestMemory {
    regions: BTreeMap<u64, Vec<u8>>,
}

impl TestMemory {
    pub fn put(&mut self, vaddr: u64, bytes: &[u8]) -> &mut Self {
        let mut v = bytes.to_vec();
        let end = (vaddr + v.len() as u64).div_ceil(4096) * 4096;
        v.resize((end - vaddr) as usize, 0);
        self.regions.insert(vaddr, v);
        self
    }

    pub fn region_mut(&mut self, vaddr: u64) -> &mut Vec<u8> {
        self.regions.get_mut(&vaddr).expect("region")
    }
}

impl KernelMemory for TestMemory {
    fn read(&self, vaddr: u64, buf: &mut [u8]) -> Result<()> {
        let unreadable = || Error::Translate { vaddr, why: "not in the test memory".into() };
        let (start, bytes) = self.regions.range(..=vaddr).next_back().ok_or_else(unreadable)?;
        let off = (vaddr - start) as usize;
        let src = bytes.get(off..off.checked_add(buf.len()).ok_or_else(unreadable)?).ok_or_else(unreadable)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

// Where kallsyms_memory puts the arrays of a kallsyms table.
pub const NAMES: u64 = 0xffff_ffff_8200_0000;
pub const NUM: u64 = 0xffff_ffff_8210_0000;
pub const TOKENS: u64 = 0xffff_ffff_8220_0000;
pub const INDEX: u64 = 0xffff_ffff_8230_0000;
pub const OFFSETS: u64 = 0xffff_ffff_8240_0000;
pub const BASE: u64 = 0xffff_ffff_8250_0000;

/// VMCOREINFO pointing at the arrays of `kallsyms_memory`.
pub fn kallsyms_info() -> VmcoreInfo {
    VmcoreInfo::parse(
        format!(
            "SYMBOL(kallsyms_names)={NAMES:x}\nSYMBOL(kallsyms_num_syms)={NUM:x}\n\
             SYMBOL(kallsyms_token_table)={TOKENS:x}\nSYMBOL(kallsyms_token_index)={INDEX:x}\n\
             SYMBOL(kallsyms_offsets)={OFFSETS:x}\nSYMBOL(kallsyms_relative_base)={BASE:x}\n"
        )
        .as_bytes(),
    )
}

/// VMCOREINFO as 7.0+ writes it: no `kallsyms_relative_base`.
pub fn kallsyms_info_v7() -> VmcoreInfo {
    VmcoreInfo::parse(
        format!(
            "SYMBOL(kallsyms_names)={NAMES:x}\nSYMBOL(kallsyms_num_syms)={NUM:x}\n\
             SYMBOL(kallsyms_token_table)={TOKENS:x}\nSYMBOL(kallsyms_token_index)={INDEX:x}\n\
             SYMBOL(kallsyms_offsets)={OFFSETS:x}\n"
        )
        .as_bytes(),
    )
}

/// Memory holding an encoded kallsyms table.
pub fn kallsyms_memory(t: &Table) -> TestMemory {
    let mut m = TestMemory::default();
    m.put(NAMES, &t.names)
        .put(NUM, &t.num_syms.to_le_bytes())
        .put(TOKENS, &t.token_table)
        .put(INDEX, &t.token_index)
        .put(OFFSETS, &t.offsets)
        .put(BASE, &t.relative_base.to_le_bytes());
    m
}
