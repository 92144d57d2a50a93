//! The analysis's typed errors. Each section of `kexdump inspect` fails on
//! its own, so these say which structure of the crashed kernel was unusable
//! and why; reading errors of the engine are wrapped, not retold.

use std::fmt;

#[derive(Debug)]
pub enum AnalysisError {
    /// Reading the dump failed (untranslatable address, page not in the
    /// dump, I/O, a VMCOREINFO key missing or malformed).
    Read(crate::Error),
    /// A kallsyms table field holds an impossible value.
    BadKallsyms { what: &'static str, why: String },
    /// An NT_PRSTATUS note is not an x86_64 `struct elf_prstatus`.
    BadPrstatus { cpu: usize, len: usize },
    /// The dump has no NT_PRSTATUS notes, so no CPU's registers.
    NoCpus,
    /// The crashing CPU's stack pointer is not a kernel address.
    NotKernelStack { rsp: u64 },
}

pub type AnalysisResult<T> = std::result::Result<T, AnalysisError>;

impl From<crate::Error> for AnalysisError {
    fn from(e: crate::Error) -> Self {
        AnalysisError::Read(e)
    }
}

impl fmt::Display for AnalysisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnalysisError::Read(e) => write!(f, "{e}"),
            AnalysisError::BadKallsyms { what, why } => write!(f, "kallsyms {what}: {why}"),
            AnalysisError::BadPrstatus { cpu, len } => {
                write!(f, "NT_PRSTATUS note {cpu} has {len} bytes, not an x86_64 elf_prstatus")
            }
            AnalysisError::NoCpus => write!(f, "the dump has no NT_PRSTATUS notes (no CPU registers)"),
            AnalysisError::NotKernelStack { rsp } => write!(f, "RSP {rsp:#x} is not a kernel stack address"),
        }
    }
}

impl std::error::Error for AnalysisError {}
