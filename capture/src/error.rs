//! The engine's typed errors: one variant per failure, so tests can match on
//! them and the binaries can print a message that names the file offset or
//! VMCOREINFO key at fault.

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum Error {
    /// An I/O error on a named file.
    Io { path: PathBuf, op: &'static str, source: io::Error },
    /// The input is not what we can parse; `offset` is the byte offset in the
    /// input file where the problem was found.
    Malformed { offset: u64, what: String },
    /// The input ends before a structure it declares.
    Truncated { offset: u64, needed: u64, file_size: u64 },
    /// The vmcore has no VMCOREINFO note.
    NoVmcoreinfo,
    /// A VMCOREINFO key the requested operation needs is absent.
    MissingKey(String),
    /// A VMCOREINFO key is present but its value cannot be used.
    BadValue { key: String, value: String, why: String },
    /// A kernel virtual address could not be translated.
    Translate { vaddr: u64, why: String },
    /// A physical address is not backed by any PT_LOAD.
    NotInDump { paddr: u64 },
    /// The page metadata (mem_section, struct page) is inconsistent.
    Inconsistent(String),
    /// Writing the dump failed.
    Output { path: PathBuf, source: io::Error },
    /// Writing stopped part-way (typically: the target is full). The dump
    /// holds `pages_written` of `pages_total` pages and its header is
    /// marked INCOMPLETE, so crash still opens it.
    Incomplete { pages_written: u64, pages_total: u64, source: io::Error },
    /// A compression backend failed.
    Compress(String),
    /// An option combination the engine cannot honour.
    Unsupported(String),
    /// A dumped page of a kdump-compressed file is unusable: its descriptor
    /// (at file `offset`) points outside the data, or its data does not
    /// decompress to exactly one page.
    Page { pfn: u64, offset: u64, what: String },
    /// The page is RAM, but the dump level left it out of the dump.
    Excluded { pfn: u64 },
    /// The dump is INCOMPLETE and this page was never written.
    NotSaved { pfn: u64 },
    /// An error in one of several files read together (split dumps).
    InFile { path: PathBuf, source: Box<Error> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, op, source } => write!(f, "{op} {}: {source}", path.display()),
            Error::Malformed { offset, what } => write!(f, "malformed input at offset {offset:#x}: {what}"),
            Error::Truncated { offset, needed, file_size } => write!(
                f,
                "input truncated: {needed} bytes needed at offset {offset:#x}, but the file is {file_size} bytes long"
            ),
            Error::NoVmcoreinfo => write!(f, "the vmcore has no VMCOREINFO note"),
            Error::MissingKey(k) => write!(f, "VMCOREINFO lacks {k}"),
            Error::BadValue { key, value, why } => write!(f, "VMCOREINFO {key}={value}: {why}"),
            Error::Translate { vaddr, why } => write!(f, "cannot translate kernel address {vaddr:#x}: {why}"),
            Error::NotInDump { paddr } => write!(f, "physical address {paddr:#x} is not in the vmcore"),
            Error::Inconsistent(why) => write!(f, "inconsistent page metadata: {why}"),
            Error::Output { path, source } => write!(f, "writing {}: {source}", path.display()),
            Error::Incomplete { pages_written, pages_total, source } => write!(
                f,
                "dump incomplete: {pages_written} of {pages_total} pages written, then: {source} (header marked INCOMPLETE)"
            ),
            Error::Compress(why) => write!(f, "compression failed: {why}"),
            Error::Unsupported(why) => write!(f, "unsupported: {why}"),
            Error::Page { pfn, offset, what } => {
                write!(f, "page pfn {pfn:#x} (descriptor at offset {offset:#x}): {what}")
            }
            Error::Excluded { pfn } => {
                write!(f, "page pfn {pfn:#x} is not in the dump: its dump level left it out")
            }
            Error::NotSaved { pfn } => {
                write!(f, "page pfn {pfn:#x} was never written: the dump is incomplete")
            }
            Error::InFile { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

// No `source()`: every variant's message already includes its I/O cause,
// so printing an error alone says everything and chains never repeat it.
impl std::error::Error for Error {}
