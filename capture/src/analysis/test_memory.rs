//! Kernel memory for unit tests: byte regions at virtual addresses, each
//! padded with zeros to the end of its last page (memory is mapped in
//! pages); everything else is unreadable.

use super::source::KernelMemory;
use crate::error::{Error, Result};
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
