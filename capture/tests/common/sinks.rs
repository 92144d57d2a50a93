//! Sinks that misbehave like real disks, shared by the engine's tests.

use kexdump_engine::sink::Sink;
use std::collections::BTreeSet;

/// A sink on a device with room for `limit` bytes of 4 KiB blocks, like a
/// file system: rewriting a block the file has needs no space, while
/// writing into a hole or past the end allocates blocks. A write that runs
/// out fails ENOSPC, after writing the blocks that fit when `partial` (as
/// write(2) does).
pub struct FullDisk {
    pub buf: Vec<u8>,
    limit: usize,
    partial: bool,
    blocks: BTreeSet<usize>,
}

impl FullDisk {
    pub fn new(limit: usize, partial: bool) -> FullDisk {
        FullDisk { buf: Vec::new(), limit, partial, blocks: Default::default() }
    }
}

impl Sink for FullDisk {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let (start, end) = (offset as usize, offset as usize + data.len());
        let room = self.limit / 4096;
        let new: Vec<usize> = (start / 4096..end.div_ceil(4096)).filter(|b| !self.blocks.contains(b)).collect();
        let (fits, ok) = if self.blocks.len() + new.len() <= room {
            (end, true)
        } else if self.partial {
            // Up to the first block there is no room for.
            let first_missing = new[room.saturating_sub(self.blocks.len())];
            ((first_missing * 4096).max(start), false)
        } else {
            (start, false)
        };
        if fits > start {
            for b in start / 4096..fits.div_ceil(4096) {
                self.blocks.insert(b);
            }
            if self.buf.len() < fits {
                self.buf.resize(fits, 0);
            }
            self.buf[start..fits].copy_from_slice(&data[..fits - start]);
        }
        if ok {
            Ok(())
        } else {
            Err(std::io::Error::from_raw_os_error(28))
        }
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn written(&self) -> u64 {
        self.buf.len() as u64
    }
    fn allocates_blocks(&self) -> bool {
        true
    }
}

/// A file on a disk that loses power: it records every write and barrier,
/// so a test can rebuild what the disk may hold after a cut at any point
/// (everything before the last barrier, plus any subset of what came after).
#[derive(Default)]
pub struct PowerCut {
    pub ops: Vec<Option<(u64, Vec<u8>)>>, // None = barrier
}

impl Sink for PowerCut {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.ops.push(Some((offset, data.to_vec())));
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        self.ops.push(None);
        Ok(())
    }
    fn written(&self) -> u64 {
        self.ops.iter().flatten().map(|(_, d)| d.len() as u64).sum()
    }
    fn allocates_blocks(&self) -> bool {
        true
    }
    fn barrier(&mut self) -> std::io::Result<()> {
        self.ops.push(None);
        Ok(())
    }
}

impl PowerCut {
    /// The disk after a cut once `cut` ops were issued: ops before the last
    /// barrier all there, later ones kept where `keep(i)` says.
    pub fn image(&self, cut: usize, keep: impl Fn(usize) -> bool) -> Vec<u8> {
        let last_barrier = self.ops[..cut].iter().rposition(Option::is_none).map_or(0, |i| i + 1);
        let mut img = Vec::new();
        for (i, op) in self.ops[..cut].iter().enumerate() {
            if let Some((off, data)) = op {
                if i < last_barrier || keep(i) {
                    let end = *off as usize + data.len();
                    if img.len() < end {
                        img.resize(end, 0);
                    }
                    img[*off as usize..end].copy_from_slice(data);
                }
            }
        }
        img
    }
}
