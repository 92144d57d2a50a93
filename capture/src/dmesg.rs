//! The crashed kernel's log, from the lockless printk ring buffer (Linux
//! 5.10+, kernel/printk/printk_ringbuffer.h) as VMCOREINFO describes it,
//! formatted exactly as `makedumpfile --dump-dmesg` prints it, so the two
//! can be compared byte for byte. Small and read first: the capture saves
//! it before the dump.
//!
//! Every 5.10+ kernel records who printed each record in
//! `printk_info.caller_id` (a task id, or a CPU number with bit 31 set),
//! whatever `CONFIG_PRINTK_CALLER` says (that option only changes the
//! console). makedumpfile 1.7.5 and later print it as a column after the
//! time stamp, right-aligned in 8 characters: `[   12.345678] [    T123] `
//! (`C` for a CPU). makedumpfile 1.7.4 and earlier (Debian 12 has 1.7.2)
//! print no such column: [`DmesgFormat::caller_id`] false gives that.

use crate::bytes::{u16_at, u32_at, u64_at};
use crate::error::{Error, Result};
use crate::memory::PhysMem;
use crate::translate::Translator;
use crate::vmcore::Vmcore;
use crate::vmcoreinfo::VmcoreInfo;
use std::fmt::Write as _;

/// Descriptor state lives in the top two bits of `state_var`.
const DESC_FLAGS_SHIFT: u32 = 62;
const DESC_ID_MASK: u64 = !(3u64 << DESC_FLAGS_SHIFT);
const DESC_COMMITTED: u64 = 1;
const DESC_FINALIZED: u64 = 2;
/// Bounds on the ring sizes we accept (the kernel's log_buf_len maximum is
/// 2^25 bytes); a corrupt count cannot make us allocate more.
const MAX_COUNT_BITS: u32 = 22;
const MAX_DATA_BITS: u32 = 26;
/// Largest field offset accepted in the printk structures.
const MAX_FIELD_OFFSET: u64 = 4096;
/// Largest descriptor or info array we read.
const MAX_ARRAY_BYTES: u64 = 64 << 20;

fn bad(key: &str, value: u64, why: &str) -> Error {
    Error::BadValue { key: key.into(), value: value.to_string(), why: why.into() }
}

/// Bit 31 of `printk_info.caller_id`: the id is a CPU number, not a task.
const CALLER_IS_CPU: u32 = 0x8000_0000;
/// Width of the caller-id column, as makedumpfile prints it.
const CALLER_WIDTH: usize = 8;

/// How the log is written out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmesgFormat {
    /// The `[    T123]` column when the kernel records caller ids (current
    /// makedumpfile); false for makedumpfile 1.7.4 and earlier's text.
    pub caller_id: bool,
}

impl Default for DmesgFormat {
    fn default() -> Self {
        DmesgFormat { caller_id: true }
    }
}

/// The log as text lines `[seconds.micros] [  callerid] message`, as
/// current makedumpfile writes it.
pub fn read_log(vm: &Vmcore) -> Result<Vec<u8>> {
    read_log_as(vm, DmesgFormat::default())
}

/// [`read_log`] in a chosen format.
pub fn read_log_as(vm: &Vmcore, fmt: DmesgFormat) -> Result<Vec<u8>> {
    if vm.info.is_empty() {
        return Err(Error::NoVmcoreinfo);
    }
    let tr = Translator::new(&vm.info, &vm.elf.loads)?;
    read_log_from_as(&vm.info, &vm.mem(), &tr, fmt)
}

/// [`read_log`] through a given memory and translator (the page walk
/// traces which pages the log lives in).
pub fn read_log_from(vi: &VmcoreInfo, mem: &PhysMem, tr: &Translator) -> Result<Vec<u8>> {
    read_log_from_as(vi, mem, tr, DmesgFormat::default())
}

/// [`read_log_from`] in a chosen format.
pub fn read_log_from_as(vi: &VmcoreInfo, mem: &PhysMem, tr: &Translator, fmt: DmesgFormat) -> Result<Vec<u8>> {
    let read = |vaddr: u64, len: usize| -> Result<Vec<u8>> {
        let mut b = vec![0u8; len];
        tr.read(mem, vaddr, &mut b)?;
        Ok(b)
    };
    let field = |buf: &[u8], off: u64, key: &str| -> Result<u64> {
        u64_at(buf, off as usize).ok_or_else(|| bad(key, off, "outside its structure"))
    };
    // Every field offset is inside a small struct: reject absurd ones up
    // front, so no sum below can overflow.
    let off = |field: &str| -> Result<u64> {
        let o = vi.offset(field)?;
        if o > MAX_FIELD_OFFSET {
            return Err(bad(&format!("OFFSET({field})"), o, "implausible"));
        }
        Ok(o)
    };
    let atomic = match vi.opt_offset("atomic_long_t.counter")? {
        Some(_) => off("atomic_long_t.counter")?,
        None => 0,
    };

    let prb_addr = tr.read_u64(mem, vi.symbol("prb")?)?;
    let prb_size = vi.size("printk_ringbuffer")?;
    if prb_size > 4096 {
        return Err(bad("SIZE(printk_ringbuffer)", prb_size, "implausible"));
    }
    let prb = read(prb_addr, prb_size as usize)?;
    let desc_ring = off("printk_ringbuffer.desc_ring")?;
    let text_ring = off("printk_ringbuffer.text_data_ring")?;

    let count_bits = u32_at(&prb, (desc_ring + off("prb_desc_ring.count_bits")?) as usize)
        .ok_or_else(|| bad("OFFSET(prb_desc_ring.count_bits)", 0, "outside printk_ringbuffer"))?;
    if count_bits > MAX_COUNT_BITS {
        return Err(bad("prb_desc_ring.count_bits", count_bits as u64, "implausible"));
    }
    let count = 1u64 << count_bits;
    let desc_size = vi.size("prb_desc")?;
    let info_size = vi.size("printk_info")?;
    if desc_size > 256 || info_size > 1024 {
        return Err(bad("SIZE(prb_desc)/SIZE(printk_info)", desc_size.max(info_size), "implausible"));
    }
    let descs_addr = field(&prb, desc_ring + off("prb_desc_ring.descs")?, "OFFSET(prb_desc_ring.descs)")?;
    let infos_addr = field(&prb, desc_ring + off("prb_desc_ring.infos")?, "OFFSET(prb_desc_ring.infos)")?;
    if count * desc_size.max(info_size) > MAX_ARRAY_BYTES {
        return Err(bad("prb_desc_ring.count_bits", count_bits as u64, "descriptor arrays too large"));
    }
    let descs = read(descs_addr, (count * desc_size) as usize)?;
    let infos = read(infos_addr, (count * info_size) as usize)?;

    let size_bits = u32_at(&prb, (text_ring + off("prb_data_ring.size_bits")?) as usize)
        .ok_or_else(|| bad("OFFSET(prb_data_ring.size_bits)", 0, "outside printk_ringbuffer"))?;
    if size_bits > MAX_DATA_BITS {
        return Err(bad("prb_data_ring.size_bits", size_bits as u64, "implausible"));
    }
    let data_size = 1u64 << size_bits;
    let data_addr = field(&prb, text_ring + off("prb_data_ring.data")?, "OFFSET(prb_data_ring.data)")?;
    let data = read(data_addr, data_size as usize)?;

    let tail = field(&prb, desc_ring + off("prb_desc_ring.tail_id")? + atomic, "OFFSET(prb_desc_ring.tail_id)")?;
    let head = field(&prb, desc_ring + off("prb_desc_ring.head_id")? + atomic, "OFFSET(prb_desc_ring.head_id)")?;

    let rec = Record {
        descs: &descs,
        infos: &infos,
        data: &data,
        count,
        desc_size,
        info_size,
        state_off: off("prb_desc.state_var")? + atomic,
        lpos_off: off("prb_desc.text_blk_lpos")?,
        begin_off: off("prb_data_blk_lpos.begin")?,
        next_off: off("prb_data_blk_lpos.next")?,
        ts_off: off("printk_info.ts_nsec")?,
        len_off: off("printk_info.text_len")?,
        caller_off: match vi.opt_offset("printk_info.caller_id")? {
            Some(_) if fmt.caller_id => Some(off("printk_info.caller_id")?),
            _ => None,
        },
    };
    let mut out = String::new();
    // Every id from tail to head, the head included; at most one lap.
    let mut id = tail & DESC_ID_MASK;
    for _ in 0..=count {
        rec.format(id, &mut out);
        if id == head & DESC_ID_MASK {
            break;
        }
        id = (id + 1) & DESC_ID_MASK;
    }
    Ok(out.into_bytes())
}

struct Record<'a> {
    descs: &'a [u8],
    infos: &'a [u8],
    data: &'a [u8],
    count: u64,
    desc_size: u64,
    info_size: u64,
    state_off: u64,
    lpos_off: u64,
    begin_off: u64,
    next_off: u64,
    ts_off: u64,
    len_off: u64,
    /// Where `printk_info.caller_id` is, when it is to be printed.
    caller_off: Option<u64>,
}

impl Record<'_> {
    /// Append record `id` if it is committed and has text; malformed
    /// records are skipped, never fatal.
    fn format(&self, id: u64, out: &mut String) {
        let slot = id % self.count;
        let d = (slot * self.desc_size) as usize;
        let i = (slot * self.info_size) as usize;
        let Some(state_var) = u64_at(self.descs, d + self.state_off as usize) else { return };
        let state = state_var >> DESC_FLAGS_SHIFT;
        if state_var & DESC_ID_MASK != id || (state != DESC_COMMITTED && state != DESC_FINALIZED) {
            return;
        }
        let size = self.data.len() as u64;
        let lpos = d + self.lpos_off as usize;
        let (Some(begin), Some(next)) =
            (u64_at(self.descs, lpos + self.begin_off as usize), u64_at(self.descs, lpos + self.next_off as usize))
        else {
            return;
        };
        let (mut begin, next) = (begin % size, next % size);
        if begin == next {
            return; // a data-less record
        }
        let Some(mut text_len) = u16_at(self.infos, i + self.len_off as usize).map(u64::from) else { return };
        if begin > next {
            begin = 0; // the block wrapped: its text starts the data ring
        }
        begin += 8; // skip the block's descriptor id
        text_len = text_len.min(next.saturating_sub(begin));
        let Some(text) = self.data.get(begin as usize..(begin + text_len) as usize) else { return };
        let ts = u64_at(self.infos, i + self.ts_off as usize).unwrap_or(0);
        let mut prefix = format!("[{:5}.{:06}] ", ts / 1_000_000_000, ts % 1_000_000_000 / 1000);
        if let Some(off) = self.caller_off {
            let Some(cid) = u32_at(self.infos, i + off as usize) else { return };
            let kind = if cid & CALLER_IS_CPU != 0 { 'C' } else { 'T' };
            let id = format!("{kind}{}", cid & !CALLER_IS_CPU);
            let _ = write!(prefix, "[{id:>CALLER_WIDTH$}] ");
        }
        out.push_str(&prefix);
        for &b in text {
            match b {
                b'\n' => {
                    out.push('\n');
                    out.extend(std::iter::repeat_n(' ', prefix.len()));
                }
                // What C's isprint() || isspace() accept in the C locale.
                0x20..=0x7e | b'\t' | 0x0b | 0x0c | b'\r' => out.push(b as char),
                // makedumpfile formats a signed char: bytes >= 0x80 print
                // sign-extended (\xffffffc3); keep its output byte for byte.
                _ => {
                    let _ = write!(out, "\\x{:02x}", b as i8 as i32);
                }
            }
        }
        out.push('\n');
    }
}
