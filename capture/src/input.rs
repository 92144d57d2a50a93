//! Random access to the vmcore being read: a file (pread, plus chunked mmap
//! for bulk page data) or an in-memory buffer (tests, fuzzing).

use crate::error::{Error, Result};
use crate::mmap::Chunk;
use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub struct Input {
    path: PathBuf,
    size: u64,
    backing: Backing,
}

enum Backing {
    File {
        file: File,
        chunk: RefCell<Option<Chunk>>,
        mmap_ok: bool,
    },
    Memory(Vec<u8>),
    /// A flattened stream read in place: the rebuilt file's bytes are the
    /// extents' bytes in `inner`; bytes no record wrote read as zero.
    Flattened {
        inner: Box<Input>,
        extents: Vec<Extent>,
        /// Why the stream is cut short (no end record, a record missing
        /// its data), if it is: it carries only what its whole records hold.
        cut: Option<String>,
    },
}

/// `len` bytes at offset `start` of the rebuilt file are at `source` in the
/// flattened stream. Extents are sorted and never overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    pub start: u64,
    pub len: u64,
    pub source: u64,
}

/// The stream offset holding byte `offset` of the rebuilt file, if a
/// record wrote it.
pub fn stream_offset(extents: &[Extent], offset: u64) -> Option<u64> {
    let e = extents.get(extents.partition_point(|e| e.start + e.len <= offset))?;
    (e.start <= offset).then(|| e.source + (offset - e.start))
}

impl Input {
    pub fn open(path: &Path) -> Result<Input> {
        let io = |op, source| Error::Io { path: path.to_owned(), op, source };
        let file = File::open(path).map_err(|e| io("opening", e))?;
        let size = file.metadata().map_err(|e| io("reading metadata of", e))?.len();
        Ok(Input {
            path: path.to_owned(),
            size,
            backing: Backing::File { file, chunk: RefCell::new(None), mmap_ok: true },
        })
    }

    /// Disable mmap and use pread only (the `read()` fallback path).
    pub fn without_mmap(mut self) -> Input {
        if let Backing::File { mmap_ok, .. } = &mut self.backing {
            *mmap_ok = false;
        }
        self
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Input {
        Input { path: PathBuf::from("<memory>"), size: bytes.len() as u64, backing: Backing::Memory(bytes) }
    }

    /// The file a flattened stream rebuilds, read in place through the
    /// stream's `extents` (see `reader::flat`). The size is the end of the
    /// last extent.
    pub fn flattened(inner: Input, extents: Vec<Extent>, cut: Option<Error>) -> Input {
        let size = extents.last().map_or(0, |e| e.start + e.len);
        let cut = cut.map(|e| e.to_string());
        Input { path: inner.path.clone(), size, backing: Backing::Flattened { inner: Box::new(inner), extents, cut } }
    }

    /// A flattened stream cut short: why (the dump it carries is a prefix).
    pub fn cut_short(&self) -> Option<&str> {
        match &self.backing {
            Backing::Flattened { cut, .. } => cut.as_deref(),
            _ => None,
        }
    }

    /// For a flattened stream, the stream offset holding byte `offset` of
    /// the rebuilt file (for error messages); `None` elsewhere.
    pub fn source_offset(&self, offset: u64) -> Option<u64> {
        match &self.backing {
            Backing::Flattened { extents, .. } => stream_offset(extents, offset),
            _ => None,
        }
    }

    pub fn is_flattened(&self) -> bool {
        matches!(self.backing, Backing::Flattened { .. })
    }

    /// The extents of a flattened input (empty for other inputs).
    pub fn extents(&self) -> &[Extent] {
        match &self.backing {
            Backing::Flattened { extents, .. } => extents,
            _ => &[],
        }
    }

    /// The stream under a flattened input, else the input itself.
    pub fn stream(&self) -> &Input {
        match &self.backing {
            Backing::Flattened { inner, .. } => inner,
            _ => self,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    fn check(&self, offset: u64, len: u64) -> Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(Error::Truncated { offset, needed: len, file_size: self.size }),
        }
    }

    /// Fill `buf` from `offset`; an error names the offset if the file is
    /// shorter than that.
    pub fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.check(offset, buf.len() as u64)?;
        match &self.backing {
            Backing::Memory(v) => {
                buf.copy_from_slice(&v[offset as usize..offset as usize + buf.len()]);
                Ok(())
            }
            Backing::File { file, .. } => file.read_exact_at(buf, offset).map_err(|source| Error::Io {
                path: self.path.clone(),
                op: "reading",
                source,
            }),
            Backing::Flattened { inner, extents, .. } => {
                let mut done = 0usize;
                let mut i = extents.partition_point(|e| e.start + e.len <= offset);
                while done < buf.len() {
                    let pos = offset + done as u64;
                    match extents.get(i) {
                        Some(e) if e.start <= pos => {
                            let n = ((e.start + e.len - pos) as usize).min(buf.len() - done);
                            inner.read_exact_at(e.source + (pos - e.start), &mut buf[done..done + n])?;
                            done += n;
                            i += 1;
                        }
                        next => {
                            // A gap no record wrote: zeros, as in the file
                            // `makedumpfile -R` rebuilds.
                            let gap_end = next.map_or(u64::MAX, |e| e.start);
                            let n = ((gap_end - pos).min((buf.len() - done) as u64)) as usize;
                            buf[done..done + n].fill(0);
                            done += n;
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Call `f` on `len` bytes at `offset`, without copying when they can be
    /// mapped. `scratch` is used for the pread fallback.
    pub fn with_bytes<R>(
        &self,
        offset: u64,
        len: usize,
        scratch: &mut Vec<u8>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        self.check(offset, len as u64)?;
        match &self.backing {
            Backing::Memory(v) => Ok(f(&v[offset as usize..offset as usize + len])),
            Backing::File { file, chunk, mmap_ok } => {
                if *mmap_ok {
                    let mut cur = chunk.borrow_mut();
                    if cur.as_ref().and_then(|c| c.get(offset, len)).is_none() {
                        // Unmap the old chunk first: mapped together, the
                        // two would count up to 2 x CHUNK in the RSS.
                        *cur = None;
                        *cur = Chunk::map(file, offset, self.size);
                    }
                    if let Some(bytes) = cur.as_ref().and_then(|c| c.get(offset, len)) {
                        return Ok(f(bytes));
                    }
                }
                scratch.resize(len, 0);
                self.read_exact_at(offset, scratch)?;
                Ok(f(scratch))
            }
            Backing::Flattened { inner, extents, .. } => {
                let i = extents.partition_point(|e| e.start + e.len <= offset);
                match extents.get(i) {
                    // Inside one record: straight from the stream (mapped).
                    Some(e) if e.start <= offset && offset + len as u64 <= e.start + e.len => {
                        inner.with_bytes(e.source + (offset - e.start), len, scratch, f)
                    }
                    _ => {
                        scratch.resize(len, 0);
                        self.read_exact_at(offset, scratch)?;
                        Ok(f(scratch))
                    }
                }
            }
        }
    }
}
