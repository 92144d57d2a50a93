//! A Linux 6.1 lockless printk ring buffer (`kernel/printk/printk_ringbuffer.h`)
//! holding the dump's kernel log, as `SYMBOL(prb)` and the `printk_*` /
//! `prb_*` VMCOREINFO entries describe it.
//!
//! Shape: `prb` is a pointer variable to `printk_rb_static`; 16 descriptors
//! (`count_bits = 4`) and 16 `printk_info` records in the kernel data page;
//! a 4096-byte text data ring (`size_bits = 12`) in its own kernel page. The
//! ring is filled from its initial state without wrapping: record k has
//! descriptor id `DESC0_ID + 1 + k` (index k), state `desc_finalized`, and a
//! data block at `BLK0_LPOS + offset` = `{unsigned long id; char text[]}`
//! padded to 8 bytes.

use std::collections::HashMap;

use crate::layout::{Layout, D_PRB_DESCS, D_PRB_INFOS, D_PRB_PTR, D_PRINTK_RB_STATIC, PRB_DESC_BITS};

/// `SIZE(printk_ringbuffer)`.
pub(crate) const SIZE_PRINTK_RINGBUFFER: u64 = 88;
/// `SIZE(prb_desc_ring)`.
pub(crate) const SIZE_PRB_DESC_RING: u64 = 48;
/// `SIZE(prb_desc)`.
pub(crate) const SIZE_PRB_DESC: u64 = 24;
/// `SIZE(printk_info)`.
pub(crate) const SIZE_PRINTK_INFO: u64 = 88;
/// `SIZE(prb_data_ring)`.
pub(crate) const SIZE_PRB_DATA_RING: u64 = 32;
/// log2 of the text data ring size.
pub(crate) const DATA_BITS: u32 = 12;

const DESC_FLAGS_SHIFT: u32 = 62;
const DESC_ID_MASK: u64 = (1 << DESC_FLAGS_SHIFT) - 1;
const DESC_FINALIZED: u64 = 2;
const DESC_REUSABLE: u64 = 3;

/// Default kernel log of a synthetic dump (a sysrq crash).
pub(crate) fn default_log() -> Vec<String> {
    [
        "Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1 (2025-11-09)",
        "Command line: BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 root=/dev/vda1 ro crashkernel=256M",
        "x86/fpu: x87 FPU will use FXSAVE",
        "Memory: 4096K/5120K available (kexdump synthetic vmcore)",
        "sysrq: Trigger a crash",
        "Kernel panic - not syncing: sysrq triggered crash",
        "CPU: 0 PID: 1234 Comm: bash Kdump: loaded Not tainted 6.1.0-56-amd64 #1  Debian 6.1.158-1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn put(buf: &mut [u8], off: u64, v: u64) {
    let o = off as usize;
    buf[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

/// Write the ring buffer into the kernel data page `data_pfn` and the text
/// page `text_pfn` (both already present in `meta`).
pub(crate) fn write_ring(layout: &mut Layout, meta: &mut HashMap<u64, Box<[u8]>>, data_pfn: u64, text_pfn: u64) {
    let lines = layout.cfg.dmesg.clone();
    let count = 1u64 << PRB_DESC_BITS;
    let data_size = 1u64 << DATA_BITS;
    assert!((lines.len() as u64) < count, "kexdump-testgen: at most {} dmesg records", count - 1);
    let data_va = layout.text_vaddr + ((data_pfn - layout.kernel_pfn) << 12);
    let text_va = layout.text_vaddr + ((text_pfn - layout.kernel_pfn) << 12);
    let desc0_id = 0u64.wrapping_sub(count + 1) & DESC_ID_MASK;
    let blk0_lpos = 0u64.wrapping_sub(data_size);

    let mut text = vec![0u8; data_size as usize];
    let mut descs = vec![0u8; (count * SIZE_PRB_DESC) as usize];
    let mut infos = vec![0u8; (count * SIZE_PRINTK_INFO) as usize];
    let mut lpos = blk0_lpos;
    let mut head_id = desc0_id;
    if lines.is_empty() {
        // initial state: the last descriptor is reusable with DESC0_ID
        put(&mut descs, (count - 1) * SIZE_PRB_DESC, (DESC_REUSABLE << DESC_FLAGS_SHIFT) | desc0_id);
        put(&mut descs, (count - 1) * SIZE_PRB_DESC + 8, 1); // FAILED_LPOS
        put(&mut descs, (count - 1) * SIZE_PRB_DESC + 16, 1);
    }
    for (k, line) in lines.iter().enumerate() {
        let k = k as u64;
        let id = (desc0_id + 1 + k) & DESC_ID_MASK;
        let idx = id % count;
        let len = line.len() as u64;
        let size = (8 + len).div_ceil(8) * 8;
        let begin = lpos;
        let next = begin.wrapping_add(size);
        let off = begin.wrapping_sub(blk0_lpos);
        assert!(off + size <= data_size, "kexdump-testgen: dmesg text does not fit the 4 KiB ring");
        put(&mut text, off, id);
        text[(off + 8) as usize..(off + 8 + len) as usize].copy_from_slice(line.as_bytes());
        let d = idx * SIZE_PRB_DESC;
        put(&mut descs, d, (DESC_FINALIZED << DESC_FLAGS_SHIFT) | id);
        put(&mut descs, d + 8, begin);
        put(&mut descs, d + 16, next);
        let i = (idx * SIZE_PRINTK_INFO) as usize;
        infos[i..i + 8].copy_from_slice(&k.to_le_bytes()); // seq
        let ts = 1_000_000 * (k * k * 97 + k * 3 + 1) + 123_456;
        infos[i + 8..i + 16].copy_from_slice(&ts.to_le_bytes()); // ts_nsec
        infos[i + 16..i + 18].copy_from_slice(&(len as u16).to_le_bytes()); // text_len
        infos[i + 18] = 0; // facility
        infos[i + 19] = 6 << 5; // level (3 high bits) | flags (5 low bits)
        let caller: u32 = if k + 2 >= lines.len() as u64 { 1234 } else { 0x8000_0000 };
        infos[i + 20..i + 24].copy_from_slice(&caller.to_le_bytes());
        lpos = next;
        head_id = id;
    }
    let tail_id = if lines.is_empty() { desc0_id } else { (desc0_id + 1) & DESC_ID_MASK };

    let d = meta.get_mut(&data_pfn).unwrap();
    let rb = D_PRINTK_RB_STATIC;
    put(d, D_PRB_PTR, data_va + rb);
    // desc_ring @0
    d[rb as usize..rb as usize + 4].copy_from_slice(&PRB_DESC_BITS.to_le_bytes());
    put(d, rb + 8, data_va + D_PRB_DESCS);
    put(d, rb + 16, data_va + D_PRB_INFOS);
    put(d, rb + 24, head_id);
    put(d, rb + 32, tail_id);
    put(d, rb + 40, head_id); // last_finalized_id
                              // text_data_ring @48
    let tr = rb + SIZE_PRB_DESC_RING;
    d[tr as usize..tr as usize + 4].copy_from_slice(&DATA_BITS.to_le_bytes());
    put(d, tr + 8, text_va);
    put(d, tr + 16, lpos); // head_lpos
    put(d, tr + 24, blk0_lpos); // tail_lpos
    put(d, rb + 80, 0); // fail
                        // clear_seq: latched_seq { seqcount_latch_t; u64 val[2]; } = 0
    let o = D_PRB_DESCS as usize;
    d[o..o + descs.len()].copy_from_slice(&descs);
    let o = D_PRB_INFOS as usize;
    d[o..o + infos.len()].copy_from_slice(&infos);
    meta.insert(text_pfn, text.into_boxed_slice());
}
