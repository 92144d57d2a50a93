//! ELF64 as vmcores use it (the kernel's include/uapi/linux/elf.h): the
//! constants and field offsets the engine reads (`elf::vmcore`) and writes
//! (`writer::elf`), no more. Little-endian, x86_64.

use std::mem::{offset_of, size_of};

pub const EHDR_SIZE: usize = 64;
pub const PHDR_SIZE: usize = 56;
pub const SHDR_SIZE: usize = 64;
pub const NHDR_SIZE: usize = 12;

pub const ELFMAG: &[u8; 4] = b"\x7fELF";
pub const ELFCLASS64: u8 = 2;
pub const ELFDATA2LSB: u8 = 1;
pub const EV_CURRENT: u8 = 1;
pub const ET_CORE: u16 = 4;
pub const EM_X86_64: u16 = 62;

pub const PT_LOAD: u32 = 1;
pub const PT_NOTE: u32 = 4;
/// e_phnum value meaning "the real count is in section header 0's sh_info".
pub const PN_XNUM: u16 = 0xffff;

pub const NT_PRSTATUS: u32 = 1;

/// Field offsets in Elf64_Ehdr (the `EI_*` ones index `e_ident`).
pub mod ehdr {
    pub const EI_CLASS: usize = 4;
    pub const EI_DATA: usize = 5;
    pub const EI_VERSION: usize = 6;
    pub const E_TYPE: usize = 16;
    pub const E_MACHINE: usize = 18;
    pub const E_VERSION: usize = 20;
    pub const E_PHOFF: usize = 32;
    pub const E_SHOFF: usize = 40;
    pub const E_EHSIZE: usize = 52;
    pub const E_PHENTSIZE: usize = 54;
    pub const E_PHNUM: usize = 56;
    pub const E_SHENTSIZE: usize = 58;
    pub const E_SHNUM: usize = 60;
    pub const E_SHSTRNDX: usize = 62;
}

/// Field offsets in Elf64_Phdr.
pub mod phdr {
    pub const P_TYPE: usize = 0;
    pub const P_FLAGS: usize = 4;
    pub const P_OFFSET: usize = 8;
    pub const P_VADDR: usize = 16;
    pub const P_PADDR: usize = 24;
    pub const P_FILESZ: usize = 32;
    pub const P_MEMSZ: usize = 40;
    pub const P_ALIGN: usize = 48;
}

/// Offset of sh_info in Elf64_Shdr.
pub const SH_INFO: usize = 44;

/// Field offsets in Elf64_Nhdr; the name follows it, then the descriptor,
/// each padded to 4 bytes.
pub mod nhdr {
    pub const N_NAMESZ: usize = 0;
    pub const N_DESCSZ: usize = 4;
    pub const N_TYPE: usize = 8;
}

// Mirrors of the C declarations, never built: the compiler lays them out
// by C's rules, and the assertions below hold the offsets above to them.

#[allow(dead_code)]
#[repr(C)]
struct Elf64Ehdr {
    e_ident: [u8; 16],
    e_type: u16,
    e_machine: u16,
    e_version: u32,
    e_entry: u64,
    e_phoff: u64,
    e_shoff: u64,
    e_flags: u32,
    e_ehsize: u16,
    e_phentsize: u16,
    e_phnum: u16,
    e_shentsize: u16,
    e_shnum: u16,
    e_shstrndx: u16,
}

#[allow(dead_code)]
#[repr(C)]
struct Elf64Phdr {
    p_type: u32,
    p_flags: u32,
    p_offset: u64,
    p_vaddr: u64,
    p_paddr: u64,
    p_filesz: u64,
    p_memsz: u64,
    p_align: u64,
}

#[allow(dead_code)]
#[repr(C)]
struct Elf64Shdr {
    sh_name: u32,
    sh_type: u32,
    sh_flags: u64,
    sh_addr: u64,
    sh_offset: u64,
    sh_size: u64,
    sh_link: u32,
    sh_info: u32,
    sh_addralign: u64,
    sh_entsize: u64,
}

#[allow(dead_code)]
#[repr(C)]
struct Elf64Nhdr {
    n_namesz: u32,
    n_descsz: u32,
    n_type: u32,
}

const _: () = assert!(size_of::<Elf64Ehdr>() == EHDR_SIZE && EHDR_SIZE == 64);
// e_ident: the magic, then class, data and version bytes.
const _: () = assert!(ELFMAG.len() == ehdr::EI_CLASS && ehdr::EI_DATA == ehdr::EI_CLASS + 1);
const _: () = assert!(ehdr::EI_VERSION == ehdr::EI_DATA + 1 && ehdr::EI_VERSION < ehdr::E_TYPE);
const _: () = assert!(offset_of!(Elf64Ehdr, e_type) == ehdr::E_TYPE);
const _: () = assert!(offset_of!(Elf64Ehdr, e_machine) == ehdr::E_MACHINE);
const _: () = assert!(offset_of!(Elf64Ehdr, e_version) == ehdr::E_VERSION);
const _: () = assert!(offset_of!(Elf64Ehdr, e_phoff) == ehdr::E_PHOFF);
const _: () = assert!(offset_of!(Elf64Ehdr, e_shoff) == ehdr::E_SHOFF);
const _: () = assert!(offset_of!(Elf64Ehdr, e_ehsize) == ehdr::E_EHSIZE);
const _: () = assert!(offset_of!(Elf64Ehdr, e_phentsize) == ehdr::E_PHENTSIZE);
const _: () = assert!(offset_of!(Elf64Ehdr, e_phnum) == ehdr::E_PHNUM);
const _: () = assert!(offset_of!(Elf64Ehdr, e_shentsize) == ehdr::E_SHENTSIZE);
const _: () = assert!(offset_of!(Elf64Ehdr, e_shnum) == ehdr::E_SHNUM);
const _: () = assert!(offset_of!(Elf64Ehdr, e_shstrndx) == ehdr::E_SHSTRNDX);

const _: () = assert!(size_of::<Elf64Phdr>() == PHDR_SIZE && PHDR_SIZE == 56);
const _: () = assert!(offset_of!(Elf64Phdr, p_type) == phdr::P_TYPE);
const _: () = assert!(offset_of!(Elf64Phdr, p_flags) == phdr::P_FLAGS);
const _: () = assert!(offset_of!(Elf64Phdr, p_offset) == phdr::P_OFFSET);
const _: () = assert!(offset_of!(Elf64Phdr, p_vaddr) == phdr::P_VADDR);
const _: () = assert!(offset_of!(Elf64Phdr, p_paddr) == phdr::P_PADDR);
const _: () = assert!(offset_of!(Elf64Phdr, p_filesz) == phdr::P_FILESZ);
const _: () = assert!(offset_of!(Elf64Phdr, p_memsz) == phdr::P_MEMSZ);
const _: () = assert!(offset_of!(Elf64Phdr, p_align) == phdr::P_ALIGN);

const _: () = assert!(size_of::<Elf64Shdr>() == SHDR_SIZE && SHDR_SIZE == 64);
const _: () = assert!(offset_of!(Elf64Shdr, sh_info) == SH_INFO);

const _: () = assert!(size_of::<Elf64Nhdr>() == NHDR_SIZE && NHDR_SIZE == 12);
const _: () = assert!(offset_of!(Elf64Nhdr, n_namesz) == nhdr::N_NAMESZ);
const _: () = assert!(offset_of!(Elf64Nhdr, n_descsz) == nhdr::N_DESCSZ);
const _: () = assert!(offset_of!(Elf64Nhdr, n_type) == nhdr::N_TYPE);
