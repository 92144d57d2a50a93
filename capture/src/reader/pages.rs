//! Random access to the pages of a kdump-compressed dump, one file or the
//! pieces of a split one: pfn → bitmaps → descriptor → (decompressed) page.
//! Raw pages are handed out straight from the mapped file; compressed ones
//! are decompressed into a small cache, since translation and the printk
//! reader read a few bytes at a time from the same pages.

use super::kdump::{KdumpFile, PageLoc};
use crate::bitmap::Bitmap;
use crate::compress::{flag_name, PageDecoder};
use crate::error::{Error, Result};
use crate::input::Input;
use crate::page::{offset_in_page, PAGE_SHIFT, PAGE_SIZE};
use std::cell::RefCell;

/// Decompressed pages kept for small reads.
const CACHED_PAGES: usize = 16;

pub struct KdumpPages {
    /// The files, sorted by the first pfn they hold (one unless split).
    pub files: Vec<KdumpFile>,
    /// The inputs of `files[1..]` (the first file's is `Vmcore::input`).
    pub more_inputs: Vec<Input>,
    state: RefCell<DecodeState>,
}

struct DecodeState {
    decoder: PageDecoder,
    /// (pfn, page) pairs, replaced round-robin.
    cache: Vec<(u64, Vec<u8>)>,
    next: usize,
}

impl KdumpPages {
    pub fn new(files: Vec<KdumpFile>, more_inputs: Vec<Input>) -> KdumpPages {
        let state = DecodeState { decoder: PageDecoder::default(), cache: Vec::new(), next: 0 };
        KdumpPages { files, more_inputs, state: RefCell::new(state) }
    }

    pub fn max_mapnr(&self) -> u64 {
        self.files[0].header.max_mapnr
    }

    /// The input of file `i`, given the first file's.
    pub fn input<'a>(&'a self, first: &'a Input, i: usize) -> &'a Input {
        if i == 0 {
            first
        } else {
            &self.more_inputs[i - 1]
        }
    }

    /// Which file holds the descriptor of `pfn`.
    pub fn piece_for(&self, pfn: u64) -> Option<usize> {
        let i = self.files.partition_point(|f| f.header.end_pfn <= pfn);
        self.files.get(i).filter(|f| f.holds(pfn)).map(|_| i)
    }

    fn in_file(&self, first: &Input, i: usize, e: Error) -> Error {
        if self.files.len() > 1 {
            Error::InFile { path: self.input(first, i).path().to_owned(), source: Box::new(e) }
        } else {
            e
        }
    }

    /// Where `pfn`'s bytes are, and in which file.
    pub fn locate(&self, first: &Input, pfn: u64) -> Result<(usize, PageLoc)> {
        let f0 = &self.files[0];
        if !f0.is_present(pfn) {
            return Ok((0, PageLoc::Hole));
        }
        if !f0.is_dumped(pfn) {
            return Ok((0, PageLoc::Excluded));
        }
        let Some(i) = self.piece_for(pfn) else {
            return Err(Error::Page {
                pfn,
                offset: 0,
                what: "no split piece given holds it (are all the pieces given?)".into(),
            });
        };
        let loc = self.files[i].locate(self.input(first, i), pfn).map_err(|e| self.in_file(first, i, e))?;
        Ok((i, loc))
    }

    fn missing(pfn: u64, loc: PageLoc) -> Error {
        match loc {
            PageLoc::Excluded => Error::Excluded { pfn },
            PageLoc::NotSaved => Error::NotSaved { pfn },
            _ => Error::NotInDump { paddr: pfn << PAGE_SHIFT },
        }
    }

    /// Decompress `pfn` into `dst` (one page).
    fn decode_into(&self, first: &Input, pfn: u64, dst: &mut [u8], st: &mut DecodeState) -> Result<()> {
        let (i, loc) = self.locate(first, pfn)?;
        let PageLoc::Stored(d) = loc else { return Err(Self::missing(pfn, loc)) };
        let input = self.input(first, i);
        let mut scratch = Vec::new();
        input.with_bytes(d.offset, d.size as usize, &mut scratch, |src| st.decoder.decode(d.flags, src, dst))?.map_err(
            |why| {
                let e =
                    Error::Page { pfn, offset: d.at, what: format!("data at {:#x}+{:#x}: {why}", d.offset, d.size) };
                self.in_file(first, i, e)
            },
        )
    }

    /// Call `f` with page `pfn`: raw pages straight from the file (mapped
    /// when possible), compressed ones decompressed into `scratch`.
    pub fn with_page<R>(
        &self,
        first: &Input,
        pfn: u64,
        scratch: &mut Vec<u8>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        let (i, loc) = self.locate(first, pfn)?;
        let PageLoc::Stored(d) = loc else { return Err(Self::missing(pfn, loc)) };
        if flag_name(d.flags).ok().flatten().is_none() {
            return self.input(first, i).with_bytes(d.offset, PAGE_SIZE as usize, scratch, f);
        }
        scratch.resize(PAGE_SIZE as usize, 0);
        let mut st = self.state.borrow_mut();
        self.decode_into(first, pfn, scratch, &mut st)?;
        drop(st);
        Ok(f(scratch))
    }

    /// Read physical memory through the page cache.
    pub fn read(&self, first: &Input, paddr: u64, buf: &mut [u8]) -> Result<()> {
        let mut st = self.state.borrow_mut();
        let mut done = 0usize;
        while done < buf.len() {
            let pa = paddr + done as u64;
            let pfn = pa >> PAGE_SHIFT;
            let in_page = offset_in_page(pa) as usize;
            let n = (PAGE_SIZE as usize - in_page).min(buf.len() - done);
            let slot = match st.cache.iter().position(|(p, _)| *p == pfn) {
                Some(s) => s,
                None => {
                    let mut page = vec![0u8; PAGE_SIZE as usize];
                    self.decode_into(first, pfn, &mut page, &mut st)?;
                    if st.cache.len() < CACHED_PAGES {
                        st.cache.push((pfn, page));
                        st.cache.len() - 1
                    } else {
                        let s = st.next;
                        st.next = (s + 1) % CACHED_PAGES;
                        st.cache[s] = (pfn, page);
                        s
                    }
                }
            };
            buf[done..done + n].copy_from_slice(&st.cache[slot].1[in_page..in_page + n]);
            done += n;
        }
        Ok(())
    }

    /// RAM pfns of the window (1st bitmap).
    pub fn present(&self, start: u64, len: u64) -> Bitmap {
        let mut bm = Bitmap::from_bytes(start, len, &self.files[0].bitmap_bytes(1, start, len));
        bm.clear_range(self.max_mapnr(), u64::MAX);
        bm
    }

    /// Dumped pfns of the window: the 2nd bitmap, within the pfns some
    /// given file holds, and never outside the 1st.
    pub fn dumped(&self, start: u64, len: u64) -> Bitmap {
        let mut out = Bitmap::new(start, len);
        for f in &self.files {
            let mut bm = Bitmap::from_bytes(start, len, &f.bitmap_bytes(2, start, len));
            bm.clear_range(0, f.header.start_pfn);
            bm.clear_range(f.header.end_pfn, u64::MAX);
            for pfn in bm.iter() {
                out.set(pfn);
            }
        }
        let present = self.present(start, len);
        for pfn in out.clone().iter() {
            if !present.get(pfn) {
                out.clear(pfn);
            }
        }
        out
    }
}
