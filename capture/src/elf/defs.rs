//! ELF64 definitions used by vmcores (translating <uapi/linux/elf.h>): only
//! what the engine reads and writes. Offsets are those of the C structs.

pub const EHDR_SIZE: usize = 64;
pub const PHDR_SIZE: usize = 56;
pub const SHDR_SIZE: usize = 64;

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

/// Field offsets in Elf64_Ehdr.
pub mod ehdr {
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

/// struct elf_prstatus (x86_64): where pr_pid and the register set live.
pub mod prstatus {
    pub const PR_PID: usize = 32;
    pub const PR_REG: usize = 112;
    /// Register order of struct user_regs_struct.
    pub const REG_NAMES: [&str; 27] = [
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi",
        "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
    ];
}
