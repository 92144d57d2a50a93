//! Is a stack word a return address? A return address follows a call
//! instruction, so the bytes just before it must decode as one: `call rel32`
//! (E8 + 4 bytes), or an indirect `call r/m64` (FF /2, optionally REX-
//! prefixed, any ModRM addressing form). Retpoline thunks are reached by
//! `call rel32`; where the kernel patched them to `call *%reg` plus NOPs the
//! return address follows the 2- or 3-byte indirect call. This is what turns
//! a raw stack scan into a list of probable frames.

/// Longest call instruction checked: REX + FF + ModRM + SIB + disp32.
pub const MAX_CALL_LEN: usize = 8;

/// True when `before` (the bytes ending right at the candidate return
/// address; its last byte is the one just before it) ends with a call
/// instruction.
pub fn ends_with_call(before: &[u8]) -> bool {
    let n = before.len();
    if n >= 5 && before[n - 5] == 0xe8 {
        return true;
    }
    (2..=MAX_CALL_LEN.min(n)).any(|len| {
        let insn = &before[n - len..];
        let body = if (0x40..=0x4f).contains(&insn[0]) { &insn[1..] } else { insn };
        body.len() >= 2 && body[0] == 0xff && indirect_call_len(body) == Some(body.len())
    })
}

/// Length of the instruction `insn` starts with (`FF modrm [sib] [disp]`)
/// when ModRM's reg field is 2 (`call r/m64`), counting the opcode, ModRM,
/// SIB and displacement.
fn indirect_call_len(insn: &[u8]) -> Option<usize> {
    let modrm = *insn.get(1)?;
    if (modrm >> 3) & 7 != 2 {
        return None;
    }
    let (md, rm) = (modrm >> 6, modrm & 7);
    let has_sib = md != 3 && rm == 4;
    let sib_base = if has_sib { insn.get(2)? & 7 } else { 0 };
    let disp = match md {
        0 if rm == 5 => 4,                  // RIP-relative
        0 if has_sib && sib_base == 5 => 4, // no base register: disp32
        0 => 0,
        1 => 1,
        2 => 4,
        _ => 0,
    };
    Some(2 + usize::from(has_sib) + disp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends(tail: &[u8]) -> bool {
        let mut b = vec![0x90u8; 8];
        b.extend_from_slice(tail);
        ends_with_call(&b)
    }

    #[test]
    fn call_forms() {
        assert!(ends(&[0xe8, 1, 2, 3, 4])); // call rel32
        assert!(ends(&[0xff, 0xd0])); // call *%rax
        assert!(ends(&[0x41, 0xff, 0xd3])); // call *%r11
        assert!(ends(&[0xff, 0x50, 0x08])); // call *0x8(%rax)
        assert!(ends(&[0xff, 0x15, 1, 2, 3, 4])); // call *rel(%rip)
        assert!(ends(&[0xff, 0x14, 0x25, 1, 2, 3, 4])); // call *abs32
        assert!(ends(&[0x41, 0xff, 0x94, 0x24, 1, 2, 3, 4])); // call *disp32(%r12)
        assert!(!ends(&[0x90, 0x90, 0x90]));
        assert!(!ends(&[0xff, 0xe0])); // jmp *%rax
        assert!(!ends_with_call(&[]));
        assert!(!ends_with_call(&[0xff]));
    }
}
