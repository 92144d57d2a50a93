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
    File { file: File, chunk: RefCell<Option<Chunk>>, mmap_ok: bool },
    Memory(Vec<u8>),
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
        }
    }
}
