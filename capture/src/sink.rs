//! Where a dump goes: a seekable file (positioned writes) or a stream in
//! makedumpfile's flattened format (each write becomes an offset/size
//! record), so one writer serves disks, pipes and ssh.

use crate::format::flat;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

pub trait Sink {
    /// Write `data` at byte `offset` of the dump being produced.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Everything is written: flush and, for files, fsync.
    fn finish(&mut self) -> io::Result<()>;
    /// Bytes written so far.
    fn written(&self) -> u64;
    /// Whether the output is a file on a file system, where writing a range
    /// ahead allocates its blocks so that rewriting it later needs no space.
    /// A stream (the flattened format) repeats the bytes instead, and crash
    /// does not read a flattened dump that writes a range twice.
    fn allocates_blocks(&self) -> bool {
        false
    }
    /// Make everything written so far durable before anything written
    /// after (for files, `fdatasync`), so that a power cut leaves a prefix
    /// in the order the writer chose. A stream has no such barrier.
    fn barrier(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub struct FileSink {
    file: File,
    written: u64,
}

impl FileSink {
    pub fn new(file: File) -> FileSink {
        FileSink { file, written: 0 }
    }
}

impl Sink for FileSink {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file.write_all_at(data, offset)?;
        self.written += data.len() as u64;
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        self.file.sync_all()
    }
    fn written(&self) -> u64 {
        self.written
    }
    fn allocates_blocks(&self) -> bool {
        true
    }
    fn barrier(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// makedumpfile's flattened format (`-F`, laid out in `format::flat`): a
/// 4096-byte header, then `{i64 offset, i64 size}` big-endian records each
/// followed by its data, then an end record of `-1, -1`.
pub struct FlatSink<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> FlatSink<W> {
    pub fn new(mut out: W) -> io::Result<FlatSink<W>> {
        let mut hdr = [0u8; flat::HEADER_SIZE];
        hdr[flat::header::SIGNATURE..flat::header::SIGNATURE + flat::SIGNATURE.len()].copy_from_slice(flat::SIGNATURE);
        hdr[flat::header::TYPE..flat::header::TYPE + 8].copy_from_slice(&flat::TYPE_FLAT.to_be_bytes());
        hdr[flat::header::VERSION..flat::header::VERSION + 8].copy_from_slice(&flat::VERSION.to_be_bytes());
        out.write_all(&hdr)?;
        Ok(FlatSink { out, written: flat::HEADER_SIZE as u64 })
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Sink for FlatSink<W> {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        // A zero-length record would read as the end of the stream.
        if data.is_empty() {
            return Ok(());
        }
        self.out.write_all(&(offset as i64).to_be_bytes())?;
        self.out.write_all(&(data.len() as i64).to_be_bytes())?;
        self.out.write_all(data)?;
        self.written += (flat::RECORD_HEADER_SIZE + data.len()) as u64;
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.write_all(&flat::END_MARK.to_be_bytes())?;
        self.out.write_all(&flat::END_MARK.to_be_bytes())?;
        self.written += flat::RECORD_HEADER_SIZE as u64;
        self.out.flush()
    }
    fn written(&self) -> u64 {
        self.written
    }
}

/// Buffers sequential writes to one region of the dump and hands them to
/// the sink in large pieces.
pub struct Cursor {
    pub offset: u64,
    buf: Vec<u8>,
    cap: usize,
}

impl Cursor {
    pub fn new(offset: u64, cap: usize) -> Cursor {
        Cursor { offset, buf: Vec::with_capacity(cap), cap }
    }

    /// The dump offset the next byte will land at.
    pub fn position(&self) -> u64 {
        self.offset + self.buf.len() as u64
    }

    pub fn push(&mut self, sink: &mut dyn Sink, data: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= self.cap {
            self.flush(sink)?;
        }
        Ok(())
    }

    /// Append without flushing; `is_full` says when to flush.
    pub fn buffer(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    pub fn is_full(&self) -> bool {
        self.buf.len() >= self.cap
    }

    /// The bytes not yet handed to the sink.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Drop buffered bytes past `len` (they will never be written).
    pub fn truncate_buffer(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// Leave the next `n` bytes as they are: flush, then move past them.
    pub fn skip(&mut self, sink: &mut dyn Sink, n: u64) -> io::Result<()> {
        self.flush(sink)?;
        self.offset += n;
        Ok(())
    }

    pub fn flush(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        if !self.buf.is_empty() {
            sink.write_at(self.offset, &self.buf)?;
            self.offset += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }
}
