//! Readers for every dump format makedumpfile and the kernel produce: ELF
//! vmcores (`crate::elf`), kdump-compressed files (`kdump`, split pieces
//! included) and the flattened stream (`flat`, read in place). `Vmcore`
//! opens any of them; this module says which one a file is and describes
//! the result.

pub mod flat;
pub mod kdump;
pub mod pages;

use crate::compress::flag_name;
use crate::error::{Error, Result};
use crate::input::Input;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An ELF core (/proc/vmcore, a copy, makedumpfile -E, kexdump --format elf).
    Elf,
    /// kdump-compressed ("KDUMP   ").
    Kdump,
}

/// What was opened: shown by `verify`, `dmesg` warnings and `convert`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpFormat {
    pub kind: Kind,
    /// The file was a flattened stream (makedumpfile -F), read in place.
    pub flattened: bool,
    /// kdump-compressed only: header_version (1-6).
    pub header_version: Option<i32>,
    /// kdump-compressed only: the compression the header names ("none"
    /// when pages are stored raw).
    pub compression: Option<&'static str>,
    /// kdump-compressed only: the dump level the sub-header records.
    pub dump_level: Option<i32>,
    /// The dump is a prefix of what was meant: a kdump-compressed header
    /// says INCOMPLETE (the writer stopped part-way; some dumped pages
    /// were never written), or a flattened stream or ELF file is cut short.
    pub incomplete: bool,
    /// A flattened stream or an ELF file cut short: why (what it carries
    /// is read as an INCOMPLETE dump; the memory past the cut is absent).
    pub cut_short: Option<String>,
    /// Files read together (split pieces); 1 otherwise.
    pub pieces: usize,
}

impl DumpFormat {
    pub fn elf() -> DumpFormat {
        DumpFormat {
            kind: Kind::Elf,
            flattened: false,
            header_version: None,
            compression: None,
            dump_level: None,
            incomplete: false,
            cut_short: None,
            pieces: 1,
        }
    }

    pub fn kdump(header: &kdump::KdumpHeader, flattened: bool, pieces: usize) -> DumpFormat {
        DumpFormat {
            kind: Kind::Kdump,
            flattened,
            header_version: Some(header.header_version),
            compression: Some(flag_name(header.status).ok().flatten().unwrap_or("none")),
            dump_level: Some(header.dump_level),
            incomplete: header.incomplete(),
            cut_short: None,
            pieces,
        }
    }
}

impl fmt::Display for DumpFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Elf => write!(f, "ELF core")?,
            Kind::Kdump => {
                write!(f, "kdump-compressed v{}", self.header_version.unwrap_or(0))?;
                write!(f, ", {}", self.compression.unwrap_or("none"))?;
                if let Some(l) = self.dump_level {
                    write!(f, ", dump level {l}")?;
                }
            }
        }
        if self.flattened {
            write!(f, ", flattened")?;
        }
        if self.pieces > 1 {
            write!(f, ", split in {} pieces", self.pieces)?;
        }
        if self.incomplete {
            write!(f, ", INCOMPLETE")?;
        }
        Ok(())
    }
}

/// Open the stream under `input` if it is flattened; say what it carries.
pub fn sniff(input: Input) -> Result<(Input, Kind, bool)> {
    if input.size() == 0 {
        return Err(Error::Malformed {
            offset: 0,
            what: "empty (a pipe? dumps are read with random access: save a stream to a file first)".into(),
        });
    }
    let mut head = [0u8; 16];
    let n = input.size().min(16) as usize;
    input.read_exact_at(0, &mut head[..n])?;
    let (input, flattened) = if flat::is_flattened(&head[..n]) {
        let inner = flat::open(input)?;
        inner.read_exact_at(0, &mut head[..inner.size().min(16) as usize])?;
        (inner, true)
    } else {
        (input, false)
    };
    if kdump::is_kdump(&head) {
        Ok((input, Kind::Kdump, flattened))
    } else if flattened {
        Err(Error::Malformed { offset: 0, what: "the flattened stream does not carry a kdump-compressed dump".into() })
    } else if head.starts_with(b"\x7fELF") || n < 4 {
        // The ELF parser names what is wrong from here on.
        Ok((input, Kind::Elf, false))
    } else {
        let shown: String = head[..n.min(8)].iter().map(|b| format!("{b:02x}")).collect();
        Err(Error::Malformed {
            offset: 0,
            what: format!(
                "not a dump: the file starts with {shown}, not ELF (7f454c46), kdump-compressed (\"KDUMP   \") \
                 or flattened (\"makedumpfile\")"
            ),
        })
    }
}
