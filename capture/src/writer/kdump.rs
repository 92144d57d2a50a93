//! The kdump-compressed writer. It plans the layout (header, sub-header
//! with the ELF notes, both bitmaps, page descriptors, page data), then
//! streams in two passes over windows of pfns: the first writes the bitmaps
//! and counts the pages, which fixes where page data starts; the second
//! writes a descriptor and the (compressed) data of each page.
//!
//! A file is written to survive a power cut at any moment: the header says
//! INCOMPLETE from its first write, and the descriptor table is allocated
//! (zeros: "not saved") and made durable before any page data; then, every
//! time the descriptor buffer fills or [`DATA_PER_BARRIER`] of page data
//! has been written, the page data is written, a barrier (`fdatasync`)
//! makes it durable, and only then the descriptors that point at it are
//! written. Before that pfn-ordered stream come the pages a reader needs
//! to start (`Selector::first_pfns`: the kernel image, the page tables,
//! `mem_section`, the printk ring), their data and descriptors each behind
//! a barrier. Whatever reached the disk is a dump whose saved pages are
//! those first pages (or none) plus a prefix of the rest in pfn order, all
//! readable; the flag is cleared only after a final barrier. (A flattened
//! stream cannot rewrite its header: a cut stream has no end record
//! instead.)

use super::page_pipeline::{Outcome, Pipeline};
use super::{out_err, Progress, WriteStats};
use crate::bytes::{round_up, u32_at, u64_at};
use crate::compress::Compression;
use crate::dump_level;
use crate::error::{Error, Result};
use crate::format::kdump::{self as format, flag, header as dh, page_desc as pd, sub_header as kh, BLOCK_SIZE};
use crate::page::PAGE_SIZE;
use crate::select::Selector;
use crate::sink::{Cursor, Sink};
use crate::translate;
use crate::utsname::utsname;

/// The byte layout of one kdump-compressed file.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub sub_hdr_blocks: u64,
    /// Bytes of one bitmap (the 1st and the 2nd are the same size).
    pub bitmap_len: u64,
    pub bitmap1: u64,
    pub bitmap2: u64,
    pub descs: u64,
}

impl Layout {
    pub fn new(max_mapnr: u64, note_len: u64) -> Layout {
        let sub_hdr_blocks = (kh::SIZE as u64 + note_len).div_ceil(BLOCK_SIZE);
        let bitmap_len = round_up(max_mapnr.div_ceil(8), BLOCK_SIZE);
        let bitmap1 = (1 + sub_hdr_blocks) * BLOCK_SIZE;
        Layout { sub_hdr_blocks, bitmap_len, bitmap1, bitmap2: bitmap1 + bitmap_len, descs: bitmap1 + 2 * bitmap_len }
    }
}

/// Pages between progress reports (pass 1, the bitmaps, is not reported:
/// it reads only struct pages and takes a small share of the time).
const PROGRESS_EVERY: u64 = 4096;

/// Page data written between two barriers, at most. A batch of
/// descriptors becomes durable only at the barrier after the one that made
/// its data durable, so a cut loses the saved pages of up to two batches;
/// batches cut only by the 256 KiB descriptor buffer (10,922 pages, up to
/// 42 MiB of data) left a 35 MB dump cut at 55 % with no readable page
/// (docs/faults.md). 16 MiB bounds the loss to 32 MiB of page data for
/// one more `fdatasync` per 16 MiB (measured in docs/engine.md).
pub const DATA_PER_BARRIER: u64 = 16 << 20;

/// Largest 2nd bitmap kept in memory between the passes: 2 MiB covers
/// 64 GiB of pfns. The peak RSS is to stay at or below 16 MB whatever the
/// RAM (docs/engine.md, "Scaling"): without the bitmap a save peaks at
/// 12.0 MB with one thread and 13.5 MB with two, and a 65 GiB vmcore's
/// 2 MiB bitmap took those to 14.0 and 15.8 MB, so a larger cache would
/// cross the bound. Past it, pass 2 reads the struct pages again (1/64
/// of the RAM's size).
const BITMAP_CACHE_MAX: u64 = 2 << 20;

pub fn write(
    sel: &Selector,
    sink: &mut dyn Sink,
    compression: Compression,
    threads: usize,
    progress: &mut dyn Progress,
) -> Result<WriteStats> {
    let vm = sel.vm;
    let layout = Layout::new(vm.max_mapnr, vm.elf.note_bytes.len() as u64);

    // Pass 1: bitmaps, and the number of pages in the dump. The 2nd bitmap
    // is kept for pass 2 when small (one bit per page: 2 MiB covers 64 GiB
    // of pfns); beyond that, pass 2 classifies again, so memory stays bounded.
    let keep_bitmaps = vm.max_mapnr / 8 <= BITMAP_CACHE_MAX;
    let mut cached = Vec::new();
    let mut pass = sel.pass();
    let mut kept = 0u64;
    let mut window_kept = Vec::new();
    for (start, len) in sel.windows() {
        let (present, keep) = pass.window(start, len)?;
        window_kept.push(keep.count());
        kept += keep.count();
        if keep_bitmaps {
            cached.push(keep.clone());
        }
        sink.write_at(layout.bitmap1 + start / 8, &present.to_bytes()).map_err(out_err)?;
        sink.write_at(layout.bitmap2 + start / 8, &keep.to_bytes()).map_err(out_err)?;
    }
    let filter_stats = pass.stats();
    // Pad the bitmaps to whole blocks, so the file has no holes.
    let bm_bytes = vm.max_mapnr.div_ceil(8);
    let pad = vec![0u8; (layout.bitmap_len - bm_bytes) as usize];
    sink.write_at(layout.bitmap1 + bm_bytes, &pad).map_err(out_err)?;
    sink.write_at(layout.bitmap2 + bm_bytes, &pad).map_err(out_err)?;

    // A file can rewrite its header at the end: until then it says
    // INCOMPLETE, whatever happens to the machine.
    let rewritable = sink.allocates_blocks();
    write_headers(sel, sink, &layout, compression, rewritable)?;
    // Allocate the whole descriptor table before any page data: each later
    // descriptor write then rewrites blocks the file already has, so a
    // disk that fills up can cut page data short but never leave a
    // descriptor half written (its offset on disk, its size not), which a
    // reader would take for a page. (Only for files: see Sink::allocates_blocks.)
    let table = if sink.allocates_blocks() { kept * pd::SIZE as u64 } else { 0 };
    let zeros = vec![0u8; (256 << 10).min(table) as usize];
    let mut at = 0u64;
    while at < table {
        let n = (table - at).min(zeros.len() as u64) as usize;
        sink.write_at(layout.descs + at, &zeros[..n]).map_err(out_err)?;
        at += n as u64;
    }
    // From here on the disk holds a readable dump with no page saved yet.
    sink.barrier().map_err(out_err)?;

    // Pass 2: descriptors and page data; first the pages a reader needs
    // to start, so that a cut early in a long dump still leaves a dump
    // crash, `dmesg` and `inspect` can start on.
    let exclude_zero = sel.level & dump_level::ZERO != 0;
    let mut descs = Cursor::new(layout.descs, 256 << 10);
    let mut data = Cursor::new(layout.descs + kept * pd::SIZE as u64, 1 << 20);
    let zero_desc = if exclude_zero {
        let d = desc(data.position(), PAGE_SIZE as u32, 0);
        data.push(sink, &[0u8; PAGE_SIZE as usize]).map_err(out_err)?;
        Some(d)
    } else {
        None
    };
    let firsts = first_pages(sel, &cached, &window_kept)?;
    let mut placed = Placed { compression, zero_desc, zero_pages: 0, raw_pages: 0 };
    let mut pass = sel.pass();
    let mut cached = cached.into_iter();
    let mut written_pages = 0u64;
    // End of the descriptors known to be on disk (written before a barrier
    // that succeeded): what a failed barrier (EIO) still leaves saved.
    let mut durable = layout.descs;
    // Whether the first pages' descriptors are on disk.
    let mut firsts_durable = false;
    // Set when a barrier fails. Linux reports a writeback error to an open
    // file once: a later fdatasync succeeds although what the failed one
    // covered (page data or descriptors) never reached the disk. From then
    // on no barrier proves anything, and no descriptor may be written.
    let barrier_failed = std::cell::Cell::new(false);
    let barrier = |sink: &mut dyn Sink| -> Result<()> {
        sink.barrier().map_err(|e| {
            barrier_failed.set(true);
            out_err(e)
        })
    };
    let mut stream = || -> Result<()> {
        std::thread::scope(|scope| -> Result<()> {
            // Pages are compressed in parallel but come back, and are
            // written, in the order they were submitted.
            let mut pipe = Pipeline::new(scope, threads, compression, exclude_zero)?;
            let mut first_descs = vec![[0u8; pd::SIZE]; firsts.len()];
            if !firsts.is_empty() {
                let mut retire = |tag: Tag, outcome: Outcome<'_>| -> Result<()> {
                    if let Tag::First(i) = tag {
                        first_descs[i] = placed.place(outcome, sink, &mut data)?;
                    }
                    Ok(())
                };
                for (i, &(pfn, _)) in firsts.iter().enumerate() {
                    pipe.page(sel.mem, pfn, Tag::First(i), &mut retire)?;
                }
                pipe.flush(&mut retire)?;
                data.flush(sink).map_err(out_err)?;
                barrier(sink)?;
                // Consecutive ranks share one write.
                let mut i = 0;
                while i < firsts.len() {
                    let mut j = i + 1;
                    while j < firsts.len() && firsts[j].1 == firsts[j - 1].1 + 1 {
                        j += 1;
                    }
                    let run: Vec<u8> = first_descs[i..j].concat();
                    sink.write_at(layout.descs + firsts[i].1 * pd::SIZE as u64, &run).map_err(out_err)?;
                    i = j;
                }
                barrier(sink)?;
                firsts_durable = true;
            }
            // Where page data stood at the last barrier.
            let mut data_at_barrier = data.position();
            let mut retire = |tag: Tag, outcome: Outcome<'_>| -> Result<()> {
                match tag {
                    // Saved already. A file rewrites its descriptor with the
                    // batch (the same bytes); a stream skips it, as crash
                    // does not read a flattened dump that writes a range twice.
                    Tag::Again(i) if rewritable => descs.buffer(&first_descs[i]),
                    Tag::Again(_) => descs.skip(sink, pd::SIZE as u64).map_err(out_err)?,
                    // A descriptor reaches the disk only after the data it
                    // points to, so a write failure never leaves one
                    // pointing at nothing.
                    Tag::Page | Tag::First(_) => descs.buffer(&placed.place(outcome, sink, &mut data)?),
                }
                if descs.is_full() || data.position() - data_at_barrier >= DATA_PER_BARRIER {
                    data.flush(sink).map_err(out_err)?;
                    barrier(sink)?;
                    durable = descs.offset;
                    data_at_barrier = data.position();
                    descs.flush(sink).map_err(out_err)?;
                }
                written_pages += 1;
                if written_pages.is_multiple_of(PROGRESS_EVERY) {
                    progress.update(written_pages, kept, data.position());
                }
                Ok(())
            };
            let mut next_first = 0;
            for (start, len) in sel.windows() {
                let keep = match cached.next() {
                    Some(bm) => bm,
                    None => pass.window(start, len)?.1,
                };
                for pfn in keep.iter() {
                    if firsts.get(next_first).is_some_and(|&(p, _)| p == pfn) {
                        pipe.marker(Tag::Again(next_first), &mut retire)?;
                        next_first += 1;
                    } else {
                        pipe.page(sel.mem, pfn, Tag::Page, &mut retire)?;
                    }
                }
            }
            pipe.flush(&mut retire)?;
            Ok(())
        })?;
        progress.update(written_pages, kept, data.position());
        data.flush(sink).map_err(out_err)?;
        barrier(sink)?;
        durable = descs.offset;
        descs.flush(sink).map_err(out_err)?;
        barrier(sink)?;
        durable = descs.offset;
        Ok(())
    };
    // Pages whose descriptors are on disk: the prefix up to `durable`,
    // and the first pages beyond it.
    let saved = |durable: u64, firsts_durable: bool| {
        let prefix = (durable - layout.descs) / pd::SIZE as u64;
        prefix + if firsts_durable { firsts.iter().filter(|&&(_, rank)| rank >= prefix).count() as u64 } else { 0 }
    };
    if let Err(e) = stream() {
        // Out of space (or another write error) mid-way: keep what was
        // written readable. Descriptors not written read as zero, which
        // crash and makedumpfile take as "not saved" in a dump whose header
        // says INCOMPLETE; the header block exists already, so setting the
        // flag needs no new space.
        if let Error::Output { source, .. } = e {
            // Keep the buffered descriptors whose data is on disk: a prefix.
            let on_disk = data.offset;
            let valid = descs
                .buffered()
                .chunks(pd::SIZE)
                .take_while(|d| {
                    let off = u64_at(d, pd::OFFSET).unwrap_or(0);
                    let size = u32_at(d, pd::SIZE_FIELD).unwrap_or(0);
                    off + size as u64 <= on_disk
                })
                .count();
            descs.truncate_buffer(valid * pd::SIZE);
            // Descriptors on disk = pages saved (the flush may fail too).
            // Those written after the last good barrier only count if a
            // barrier now succeeds. After a failed barrier nothing is
            // written: its data may be lost, and a barrier now would
            // succeed without making anything durable.
            if !barrier_failed.get() {
                let _ = descs.flush(sink);
                if sink.barrier().is_ok() {
                    durable = descs.offset;
                }
            }
            let saved = saved(durable, firsts_durable);
            let status = compression.flag() | flag::INCOMPLETE;
            let _ = sink.write_at(dh::STATUS as u64, &status.to_le_bytes());
            let _ = sink.finish();
            return Err(Error::Incomplete { pages_written: saved, pages_total: kept, source });
        }
        return Err(e);
    }
    if written_pages != kept {
        return Err(Error::Inconsistent(format!(
            "second pass selected {written_pages} pages, the first {kept}: the input changed while it was read"
        )));
    }
    // Everything is durable: only now may the header say complete.
    let mut complete = || -> std::io::Result<()> {
        if rewritable {
            sink.write_at(dh::STATUS as u64, &compression.flag().to_le_bytes())?;
        }
        sink.finish()
    };
    if let Err(source) = complete() {
        // The flag may not have reached the disk cleared; say INCOMPLETE
        // again, and report the error: a dump is never called complete
        // when its last fsync failed.
        let _ = sink.write_at(dh::STATUS as u64, &(compression.flag() | flag::INCOMPLETE).to_le_bytes());
        let _ = sink.finish();
        return Err(Error::Incomplete { pages_written: saved(durable, firsts_durable), pages_total: kept, source });
    }
    Ok(WriteStats {
        pages_present: 0,
        pages_written: kept,
        zero_pages: placed.zero_pages,
        raw_pages: placed.raw_pages,
        filter: filter_stats,
        bytes: data.offset,
    })
}

/// Where a page of pass 2 comes from, as the page pipeline carries it.
#[derive(Clone, Copy)]
enum Tag {
    /// The `i`th of the pages saved first, being saved.
    First(usize),
    /// The `i`th of the pages saved first, met again in pfn order: only
    /// its descriptor's place.
    Again(usize),
    /// Any other page.
    Page,
}

/// Places each page's data in the dump and makes its descriptor.
struct Placed {
    compression: Compression,
    /// The descriptor of the one stored zero page, when zero pages are
    /// excluded (level bit 1).
    zero_desc: Option<[u8; pd::SIZE]>,
    zero_pages: u64,
    raw_pages: u64,
}

impl Placed {
    fn place(&mut self, outcome: Outcome<'_>, sink: &mut dyn Sink, data: &mut Cursor) -> Result<[u8; pd::SIZE]> {
        let (bytes, flags) = match outcome {
            Outcome::Zero => {
                self.zero_pages += 1;
                return self.zero_desc.ok_or_else(|| Error::Compress("a zero page, but zero pages are kept".into()));
            }
            Outcome::Compressed(c) => (c, self.compression.flag()),
            Outcome::Raw(page) => {
                self.raw_pages += 1;
                (page, 0)
            }
            Outcome::Marker => return Err(Error::Compress("a page without data".into())),
        };
        let d = desc(data.position(), bytes.len() as u32, flags);
        data.push(sink, bytes).map_err(out_err)?;
        Ok(d)
    }
}

/// The pages to save before all others (`Selector::first_pfns` that the
/// level keeps), each with its descriptor's index (its rank among the
/// dump's pages), ascending. `cached` holds pass 1's 2nd bitmaps when they
/// were kept, `window_kept` each window's page count.
fn first_pages(sel: &Selector, cached: &[crate::bitmap::Bitmap], window_kept: &[u64]) -> Result<Vec<(u64, u64)>> {
    let wanted = sel.first_pfns();
    let mut out = Vec::new();
    let mut pass = sel.pass();
    let mut base = 0u64;
    for (i, (start, len)) in sel.windows().enumerate() {
        let from = wanted.partition_point(|&p| p < start);
        let to = wanted.partition_point(|&p| p < start + len);
        if from < to {
            let classified;
            let keep = match cached.get(i) {
                Some(bm) => bm,
                None => {
                    classified = pass.window(start, len)?.1;
                    &classified
                }
            };
            out.extend(keep.ranks_of_set(&wanted[from..to]).into_iter().map(|(p, rank)| (p, base + rank)));
        }
        base += window_kept.get(i).copied().unwrap_or(0);
    }
    Ok(out)
}

fn desc(offset: u64, size: u32, flags: u32) -> [u8; pd::SIZE] {
    let mut d = [0u8; pd::SIZE];
    d[pd::OFFSET..pd::OFFSET + 8].copy_from_slice(&offset.to_le_bytes());
    d[pd::SIZE_FIELD..pd::SIZE_FIELD + 4].copy_from_slice(&size.to_le_bytes());
    d[pd::FLAGS..pd::FLAGS + 4].copy_from_slice(&flags.to_le_bytes());
    d
}

fn put<const N: usize>(buf: &mut [u8], off: usize, v: [u8; N]) {
    buf[off..off + N].copy_from_slice(&v);
}

fn write_headers(
    sel: &Selector,
    sink: &mut dyn Sink,
    layout: &Layout,
    compression: Compression,
    incomplete: bool,
) -> Result<()> {
    let vm = sel.vm;
    let mut h = vec![0u8; BLOCK_SIZE as usize];
    h[dh::SIGNATURE..dh::SIGNATURE + 8].copy_from_slice(format::SIGNATURE);
    put(&mut h, dh::HEADER_VERSION, format::HEADER_VERSION.to_le_bytes());
    let uts = utsname(vm);
    for (i, field) in uts.iter().enumerate() {
        let at = dh::UTSNAME + i * dh::UTS_FIELD_LEN;
        let n = field.len().min(dh::UTS_FIELD_LEN - 1);
        h[at..at + n].copy_from_slice(&field.as_bytes()[..n]);
    }
    let crash_time = vm.info.crash_time().ok().flatten().unwrap_or(0);
    put(&mut h, dh::TIMESTAMP, crash_time.to_le_bytes());
    let status = compression.flag() | if incomplete { flag::INCOMPLETE } else { 0 };
    put(&mut h, dh::STATUS, status.to_le_bytes());
    put(&mut h, dh::BLOCK_SIZE, (BLOCK_SIZE as i32).to_le_bytes());
    put(&mut h, dh::SUB_HDR_SIZE, (layout.sub_hdr_blocks as i32).to_le_bytes());
    put(&mut h, dh::BITMAP_BLOCKS, ((2 * layout.bitmap_len / BLOCK_SIZE) as u32).to_le_bytes());
    put(&mut h, dh::MAX_MAPNR, (vm.max_mapnr.min(u32::MAX as u64) as u32).to_le_bytes());
    put(&mut h, dh::NR_CPUS, (vm.nr_cpus() as i32).to_le_bytes());
    sink.write_at(0, &h).map_err(out_err)?;

    let notes = &vm.elf.note_bytes;
    let mut s = vec![0u8; (layout.sub_hdr_blocks * BLOCK_SIZE) as usize];
    let phys_base = translate::phys_base(&vm.info, &vm.elf.loads).unwrap_or(0);
    put(&mut s, kh::PHYS_BASE, phys_base.to_le_bytes());
    put(&mut s, kh::DUMP_LEVEL, (sel.level as i32).to_le_bytes());
    let offset_note = BLOCK_SIZE + kh::SIZE as u64;
    if let Some(n) = vm.elf.vmcoreinfo_note() {
        put(&mut s, kh::OFFSET_VMCOREINFO, (offset_note + n.desc_pos).to_le_bytes());
        put(&mut s, kh::SIZE_VMCOREINFO, (n.desc.len() as u64).to_le_bytes());
    }
    if !notes.is_empty() {
        put(&mut s, kh::OFFSET_NOTE, offset_note.to_le_bytes());
        put(&mut s, kh::SIZE_NOTE, (notes.len() as u64).to_le_bytes());
    }
    put(&mut s, kh::MAX_MAPNR_64, vm.max_mapnr.to_le_bytes());
    s[kh::SIZE..kh::SIZE + notes.len()].copy_from_slice(notes);
    sink.write_at(BLOCK_SIZE, &s).map_err(out_err)?;
    Ok(())
}
