//! Parsing an ELF64 x86_64 vmcore: its PT_LOADs and its notes.

use crate::bytes::{slice, u16_at, u32_at, u64_at};
use crate::error::{Error, Result};
use crate::format::elf::*;
use crate::input::Input;
use crate::page::PAGE_SIZE;

/// One PT_LOAD: `memsz` bytes of physical memory at `paddr`, the first
/// `filesz` of them stored at `offset` in the file (the rest are zeros).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    pub vaddr: u64,
    pub paddr: u64,
    pub offset: u64,
    pub filesz: u64,
    pub memsz: u64,
}

#[derive(Clone, Debug)]
pub struct Note {
    pub name: String,
    pub ntype: u32,
    /// File offset of the descriptor.
    pub desc_offset: u64,
    /// Offset of the descriptor in `VmcoreElf::note_bytes`.
    pub desc_pos: u64,
    pub desc: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct VmcoreElf {
    pub loads: Vec<Load>,
    /// File offset of each load's program header, for error messages.
    pub load_phdr_offsets: Vec<u64>,
    /// The PT_NOTE segments' bytes, concatenated, as copied into dumps.
    pub note_bytes: Vec<u8>,
    pub notes: Vec<Note>,
    /// The file ends before its PT_LOADs do (a copy or an ELF dump cut
    /// short): why. The loads were clamped to the whole pages present, so
    /// the missing memory reads as absent, never as zeros.
    pub cut: Option<String>,
}

/// Largest PT_NOTE we accept. Real ones are a few KB per CPU; this bounds the
/// allocation a corrupt header can cause.
const MAX_NOTES: u64 = 64 << 20;
/// x86_64 physical addresses have at most 52 bits (5-level paging).
const MAX_PHYS_ADDR: u64 = 1 << 52;
/// Largest program header table we read (PN_XNUM allows 2^32 entries).
const MAX_PHNUM: u64 = 1 << 22;

fn malformed(offset: u64, what: impl Into<String>) -> Error {
    Error::Malformed { offset, what: what.into() }
}

pub fn parse(input: &Input) -> Result<VmcoreElf> {
    let mut eh = [0u8; EHDR_SIZE];
    input.read_exact_at(0, &mut eh)?;
    if &eh[..4] != ELFMAG {
        return Err(malformed(0, "not an ELF file (bad magic)"));
    }
    if eh[ehdr::EI_CLASS] != ELFCLASS64 {
        return Err(malformed(ehdr::EI_CLASS as u64, format!("ELF class {} is not ELFCLASS64", eh[ehdr::EI_CLASS])));
    }
    if eh[ehdr::EI_DATA] != ELFDATA2LSB {
        return Err(malformed(ehdr::EI_DATA as u64, "only little-endian vmcores are supported"));
    }
    let field16 = |off| u16_at(&eh, off).unwrap_or(0);
    if field16(ehdr::E_TYPE) != ET_CORE {
        return Err(malformed(ehdr::E_TYPE as u64, format!("e_type {} is not ET_CORE", field16(ehdr::E_TYPE))));
    }
    if field16(ehdr::E_MACHINE) != EM_X86_64 {
        return Err(malformed(
            ehdr::E_MACHINE as u64,
            format!("e_machine {} is not EM_X86_64", field16(ehdr::E_MACHINE)),
        ));
    }
    let phoff = u64_at(&eh, ehdr::E_PHOFF).unwrap_or(0);
    let phentsize = field16(ehdr::E_PHENTSIZE) as usize;
    if phentsize != PHDR_SIZE {
        return Err(malformed(ehdr::E_PHENTSIZE as u64, format!("e_phentsize {phentsize} is not {PHDR_SIZE}")));
    }
    let mut phnum = field16(ehdr::E_PHNUM) as u64;
    if phnum == PN_XNUM as u64 {
        // The real count is in sh_info of section header 0.
        let shoff = u64_at(&eh, ehdr::E_SHOFF).unwrap_or(0);
        if shoff == 0 {
            return Err(malformed(ehdr::E_SHOFF as u64, "e_phnum is PN_XNUM but there is no section header"));
        }
        let mut sh = [0u8; SHDR_SIZE];
        input.read_exact_at(shoff, &mut sh)?;
        phnum = u32_at(&sh, SH_INFO).unwrap_or(0) as u64;
    }
    if phnum == 0 || phnum > MAX_PHNUM {
        return Err(malformed(ehdr::E_PHNUM as u64, format!("{phnum} program headers")));
    }
    let mut ph = vec![0u8; (phnum as usize) * PHDR_SIZE];
    input.read_exact_at(phoff, &mut ph)?;

    let mut loads = Vec::new();
    let mut load_phdr_offsets = Vec::new();
    let mut note_bytes = Vec::new();
    let mut notes = Vec::new();
    let mut first_cut = None;
    let mut missing_pages = 0u64;
    for i in 0..phnum as usize {
        let at = |f: usize| u64_at(&ph, i * PHDR_SIZE + f).unwrap_or(0);
        let hdr_off = phoff + (i * PHDR_SIZE) as u64;
        let p_type = u32_at(&ph, i * PHDR_SIZE + phdr::P_TYPE).unwrap_or(0);
        let (offset, filesz, memsz) = (at(phdr::P_OFFSET), at(phdr::P_FILESZ), at(phdr::P_MEMSZ));
        match p_type {
            PT_LOAD => {
                let load = Load { vaddr: at(phdr::P_VADDR), paddr: at(phdr::P_PADDR), offset, filesz, memsz };
                if filesz > memsz {
                    return Err(malformed(hdr_off, format!("PT_LOAD {i}: p_filesz {filesz:#x} > p_memsz {memsz:#x}")));
                }
                if load.paddr.checked_add(memsz).is_none_or(|end| end > MAX_PHYS_ADDR)
                    || offset.checked_add(filesz).is_none()
                {
                    return Err(malformed(
                        hdr_off,
                        format!("PT_LOAD {i}: physical range {:#x}+{memsz:#x} beyond 52 bits", load.paddr),
                    ));
                }
                let mut load = load;
                if offset + filesz > input.size() {
                    // Keep the whole pages the file holds; the rest of the
                    // segment (its zero-fill tail included) is unknown.
                    let present = input.size().saturating_sub(offset) & !(PAGE_SIZE - 1);
                    missing_pages += load.memsz.div_ceil(PAGE_SIZE) - present / PAGE_SIZE;
                    first_cut.get_or_insert((i, load, input.size()));
                    load.filesz = present;
                    load.memsz = present;
                }
                loads.push(load);
                load_phdr_offsets.push(hdr_off);
            }
            PT_NOTE => {
                if filesz > MAX_NOTES {
                    return Err(malformed(hdr_off, format!("PT_NOTE of {filesz} bytes")));
                }
                let mut buf = vec![0u8; filesz as usize];
                input.read_exact_at(offset, &mut buf)?;
                parse_notes(&buf, offset, note_bytes.len() as u64, &mut notes)?;
                note_bytes.extend_from_slice(&buf);
            }
            _ => {}
        }
    }
    if loads.is_empty() {
        return Err(malformed(phoff, "no PT_LOAD segment"));
    }
    let cut = first_cut.map(|(i, l, size): (usize, Load, u64)| {
        format!(
            "the file ends at offset {size:#x}, inside PT_LOAD {i} (physical {:#x}+{:#x}, stored at {:#x}+{:#x}): \
             {missing_pages} pages of memory are missing (cut short?)",
            l.paddr, l.memsz, l.offset, l.filesz
        )
    });
    Ok(VmcoreElf { loads, load_phdr_offsets, note_bytes, notes, cut })
}

/// Parse ELF notes from `buf`, which sits at `file_off` in the input.
/// Trailing zero padding (the kernel pads /proc/vmcore's PT_NOTE) ends the list.
pub fn parse_notes(buf: &[u8], file_off: u64, base_pos: u64, out: &mut Vec<Note>) -> Result<()> {
    let mut pos = 0usize;
    while pos + NHDR_SIZE <= buf.len() {
        let namesz = u32_at(buf, pos + nhdr::N_NAMESZ).unwrap_or(0) as usize;
        let descsz = u32_at(buf, pos + nhdr::N_DESCSZ).unwrap_or(0) as usize;
        let ntype = u32_at(buf, pos + nhdr::N_TYPE).unwrap_or(0);
        if namesz == 0 && descsz == 0 && ntype == 0 {
            break;
        }
        let name_off = pos + NHDR_SIZE;
        let desc_off = name_off.checked_add(namesz.div_ceil(4) * 4);
        let end = desc_off.and_then(|d| d.checked_add(descsz.div_ceil(4) * 4));
        let (Some(desc_off), Some(end)) = (desc_off, end) else {
            return Err(malformed(file_off + pos as u64, "note size overflows"));
        };
        let (Some(name), Some(desc)) = (slice(buf, name_off, namesz), slice(buf, desc_off, descsz)) else {
            return Err(malformed(
                file_off + pos as u64,
                format!("note (namesz {namesz}, descsz {descsz}) runs past the end of PT_NOTE"),
            ));
        };
        let name = String::from_utf8_lossy(name.strip_suffix(&[0]).unwrap_or(name)).into_owned();
        out.push(Note {
            name,
            ntype,
            desc_offset: file_off + desc_off as u64,
            desc_pos: base_pos + desc_off as u64,
            desc: desc.to_vec(),
        });
        pos = end.min(buf.len());
    }
    // Fewer bytes than a note header are left: zero padding, or a header
    // cut short, which would silently lose the note (VMCOREINFO is often
    // the last one). Refused like a note running past the end.
    let rest = buf.get(pos..).unwrap_or_default();
    if rest.len() < NHDR_SIZE && rest.iter().any(|&b| b != 0) {
        return Err(malformed(
            file_off + pos as u64,
            format!("a note header is cut short: PT_NOTE ends {} bytes into it", rest.len()),
        ));
    }
    Ok(())
}

impl VmcoreElf {
    pub fn vmcoreinfo_note(&self) -> Option<&Note> {
        self.notes.iter().find(|n| n.name == "VMCOREINFO")
    }

    pub fn prstatus_notes(&self) -> impl Iterator<Item = &Note> {
        self.notes.iter().filter(|n| n.name == "CORE" && n.ntype == NT_PRSTATUS)
    }

    /// One past the highest physical address any PT_LOAD describes.
    pub fn max_paddr(&self) -> u64 {
        self.loads.iter().map(|l| l.paddr + l.memsz).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One note: name "CORE", type 1, 4 bytes of data.
    fn note() -> Vec<u8> {
        let mut n = Vec::new();
        for v in [5u32, 4, 1] {
            n.extend_from_slice(&v.to_le_bytes());
        }
        n.extend_from_slice(b"CORE\0\0\0\0");
        n.extend_from_slice(&[1, 2, 3, 4]);
        n
    }

    #[test]
    fn a_note_header_cut_by_the_end_of_pt_note_is_refused_zero_padding_is_not() {
        let mut padded = note();
        padded.extend_from_slice(&[0; 8]);
        let mut out = Vec::new();
        parse_notes(&padded, 0x100, 0, &mut out).unwrap();
        assert_eq!((out.len(), out[0].name.as_str(), &out[0].desc[..]), (1, "CORE", &[1, 2, 3, 4][..]));

        // The next note's header, cut 8 bytes in (its namesz and descsz).
        let mut cut = note();
        cut.extend_from_slice(&11u32.to_le_bytes());
        cut.extend_from_slice(&4096u32.to_le_bytes());
        let e = parse_notes(&cut, 0x100, 0, &mut Vec::new()).unwrap_err().to_string();
        assert!(e.contains("0x118") && e.contains("cut short"), "{e}");
    }
}
