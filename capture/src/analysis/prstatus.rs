//! x86_64 `struct elf_prstatus` (include/linux/elfcore.h,
//! include/uapi/linux/elfcore.h) and `struct user_regs_struct`
//! (arch/x86/include/asm/user_64.h): one per CPU in a vmcore's notes, with
//! the registers the kernel saved when it crashed (the panicking CPU, in
//! `__crash_kexec`) or stopped the CPU (the others, from the NMI handler).
//! Definitions and one parser; nothing else.

use super::error::{AnalysisError, AnalysisResult};
use crate::bytes::{i32_at, u64_at};

/// `sizeof(struct elf_prstatus)` on x86_64: elf_siginfo (12) + pr_cursig
/// (2, padded to 16) + pr_sigpend, pr_sighold (8 each) + pr_pid, pr_ppid,
/// pr_pgrp, pr_sid (4 each) + four timevals (16 each) + pr_reg (27 x 8) +
/// pr_fpvalid (4, padded to 8).
pub const PRSTATUS_SIZE: usize = 336;
/// `elf_prstatus.pr_pid`: the task running on the CPU (0: idle).
pub const PR_PID: usize = 32;
/// `elf_prstatus.pr_reg`.
pub const PR_REG: usize = 112;
/// Number of registers in `user_regs_struct` (elf_gregset_t).
pub const NREGS: usize = 27;

/// `user_regs_struct` field names, in order.
pub const REG_NAMES: [&str; NREGS] = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi", "orig_ax",
    "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
];
pub const RIP: usize = 16;
pub const RSP: usize = 19;
pub const RBP: usize = 4;

const _: () = assert!(PR_REG + NREGS * 8 + 8 == PRSTATUS_SIZE);

/// One CPU's saved state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuRegs {
    /// Position of the note among the NT_PRSTATUS notes (the CPU number
    /// when every CPU is present, as in the kernel's own vmcore headers).
    pub note_index: usize,
    pub pid: i32,
    pub regs: [u64; NREGS],
}

impl CpuRegs {
    pub fn rip(&self) -> u64 {
        self.regs[RIP]
    }
    pub fn rsp(&self) -> u64 {
        self.regs[RSP]
    }
    /// (name, value) pairs in `user_regs_struct` order.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        REG_NAMES.iter().copied().zip(self.regs.iter().copied())
    }
}

/// Parse one NT_PRSTATUS descriptor. Longer descriptors are accepted (the
/// fields we read sit at the same offsets); shorter ones are an error.
pub fn parse(note_index: usize, desc: &[u8]) -> AnalysisResult<CpuRegs> {
    let bad = || AnalysisError::BadPrstatus { cpu: note_index, len: desc.len() };
    if desc.len() < PRSTATUS_SIZE {
        return Err(bad());
    }
    let pid = i32_at(desc, PR_PID).ok_or_else(bad)?;
    let mut regs = [0u64; NREGS];
    for (i, r) in regs.iter_mut().enumerate() {
        *r = u64_at(desc, PR_REG + i * 8).ok_or_else(bad)?;
    }
    Ok(CpuRegs { note_index, pid, regs })
}

/// Every CPU's registers, in note order; a malformed note is an error for
/// that note only.
pub fn parse_all(descs: &[&[u8]]) -> Vec<AnalysisResult<CpuRegs>> {
    descs.iter().enumerate().map(|(i, d)| parse(i, d)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_at_their_offsets() {
        let mut d = vec![0u8; PRSTATUS_SIZE];
        d[PR_PID..PR_PID + 4].copy_from_slice(&523i32.to_le_bytes());
        for i in 0..NREGS {
            d[PR_REG + i * 8..PR_REG + i * 8 + 8].copy_from_slice(&(0x1000 + i as u64).to_le_bytes());
        }
        let c = parse(1, &d).unwrap();
        assert_eq!(c.pid, 523);
        assert_eq!(c.rip(), 0x1000 + 16);
        assert_eq!(c.rsp(), 0x1000 + 19);
        assert_eq!(c.named().nth(RBP).unwrap(), ("rbp", 0x1004));
        assert_eq!(c.named().last().unwrap(), ("gs", 0x1000 + 26));
        match parse(3, &d[..PRSTATUS_SIZE - 1]) {
            Err(AnalysisError::BadPrstatus { cpu: 3, len: 335 }) => {}
            other => panic!("{other:?}"),
        }
    }
}
