//! A kernel symbol table in the kallsyms format of Linux 6.1
//! (scripts/kallsyms.c's output as kernel/kallsyms.c reads it), written
//! independently of the engine's reader: `kallsyms_num_syms` (u32),
//! `kallsyms_relative_base` (u64), `kallsyms_offsets` (i32 each),
//! `kallsyms_names` (length, 1 byte or 2 with bit 7 set for > 127 token
//! numbers, then the token numbers), `kallsyms_token_table` (256
//! NUL-terminated strings) and `kallsyms_token_index` (256 u16).
//!
//! Tokens: printable ASCII bytes stand for themselves; codes 0x80.. stand
//! for a few multi-character strings, so expansion is exercised; other
//! codes are empty strings. The first character of each encoded string is
//! the `nm` type.

/// One symbol: address, `nm` type, name.
pub type Sym = (u64, char, String);

/// Multi-character tokens, codes 0x80.. in this order.
pub const MULTI_TOKENS: [&str; 6] = ["sysrq_", "crash", "_handle", "__", "write", "kexec"];

/// The encoded arrays, ready to be placed in kernel rodata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// `kallsyms_num_syms`.
    pub num_syms: u32,
    /// `kallsyms_relative_base`.
    pub relative_base: u64,
    /// `kallsyms_offsets` bytes.
    pub offsets: Vec<u8>,
    /// `kallsyms_names` bytes.
    pub names: Vec<u8>,
    /// `kallsyms_token_table` bytes.
    pub token_table: Vec<u8>,
    /// `kallsyms_token_index` bytes (512).
    pub token_index: Vec<u8>,
}

fn token(code: usize) -> Vec<u8> {
    if (0x20..0x7f).contains(&code) {
        vec![code as u8]
    } else if (0x80..0x80 + MULTI_TOKENS.len()).contains(&code) {
        MULTI_TOKENS[code - 0x80].as_bytes().to_vec()
    } else {
        Vec::new()
    }
}

/// Greedy compression of `s` into token numbers (longest token first).
fn compress(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let multi = (0..MULTI_TOKENS.len())
            .filter(|&t| s[i..].starts_with(MULTI_TOKENS[t].as_bytes()))
            .max_by_key(|&t| MULTI_TOKENS[t].len());
        match multi {
            Some(t) => {
                out.push(0x80 + t as u8);
                i += MULTI_TOKENS[t].len();
            }
            None => {
                assert!((0x20..0x7f).contains(&s[i]), "kexdump-testgen: kallsyms names are printable ASCII");
                out.push(s[i]);
                i += 1;
            }
        }
    }
    out
}

/// Encode `syms` (sorted here by address, stable). With `absolute_percpu`
/// (x86_64 SMP in 6.1), symbols below 2^31 are per-CPU offsets stored as
/// non-negative absolute values and the others as `base - 1 - value`;
/// otherwise every value is `address - base`.
pub fn encode(syms: &[Sym], absolute_percpu: bool) -> Table {
    let mut syms = syms.to_vec();
    syms.sort_by_key(|s| s.0);
    let is_percpu = |a: u64| absolute_percpu && a < (1 << 31);
    let relative_base = syms.iter().map(|s| s.0).filter(|&a| !is_percpu(a)).min().unwrap_or(0);
    let mut offsets = Vec::new();
    let mut names = Vec::new();
    for (addr, kind, name) in &syms {
        let v: i32 = if is_percpu(*addr) {
            *addr as i32
        } else if absolute_percpu {
            let rel = addr - relative_base;
            assert!(rel < (1 << 31), "kexdump-testgen: symbol too far from the base");
            -(rel as i32) - 1
        } else {
            u32::try_from(addr - relative_base).expect("kexdump-testgen: symbol too far from the base") as i32
        };
        offsets.extend_from_slice(&v.to_le_bytes());
        let mut full = vec![*kind as u8];
        full.extend_from_slice(name.as_bytes());
        let codes = compress(&full);
        if codes.len() > 0x7f {
            assert!(codes.len() < 1 << 14, "kexdump-testgen: name too long");
            names.push(0x80 | (codes.len() & 0x7f) as u8);
            names.push((codes.len() >> 7) as u8);
        } else {
            names.push(codes.len() as u8);
        }
        names.extend_from_slice(&codes);
    }
    let mut token_table = Vec::new();
    let mut token_index = Vec::new();
    for code in 0..256 {
        token_index.extend_from_slice(&(token_table.len() as u16).to_le_bytes());
        token_table.extend_from_slice(&token(code));
        token_table.push(0);
    }
    Table { num_syms: syms.len() as u32, relative_base, offsets, names, token_table, token_index }
}

/// Encode `syms` as Linux 7.0 and later do on 64-bit or relocatable
/// kernels ("kallsyms: Get rid of kallsyms relative base"): no
/// `kallsyms_relative_base`; each `kallsyms_offsets` entry is the i32
/// distance from the entry's own address (the table is placed at
/// `offsets_at`) to the symbol. `relative_base` is 0 (absent).
pub fn encode_place_relative(syms: &[Sym], offsets_at: u64) -> Table {
    let mut t = encode(syms, false);
    let mut sorted = syms.to_vec();
    sorted.sort_by_key(|s| s.0);
    t.offsets.clear();
    for (i, (addr, _, _)) in sorted.iter().enumerate() {
        let place = offsets_at + 4 * i as u64;
        let d = addr.wrapping_sub(place) as i64;
        let v = i32::try_from(d).expect("kexdump-testgen: symbol more than 2 GiB from its offsets entry");
        t.offsets.extend_from_slice(&v.to_le_bytes());
    }
    t.relative_base = 0;
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_big_names_and_both_offset_forms() {
        let long = "z".repeat(140);
        let syms: Vec<Sym> = vec![
            (0xffff_ffff_8100_1000, 'T', "sysrq_handle_crash".into()),
            (0x1ad00, 'D', "current_task".into()),
            (0xffff_ffff_8100_0000, 'T', "_stext".into()),
            (0xffff_ffff_8100_2000, 't', long.clone()),
        ];
        let t = encode(&syms, true);
        assert_eq!(t.num_syms, 4);
        assert_eq!(t.relative_base, 0xffff_ffff_8100_0000);
        let off = |i: usize| i32::from_le_bytes(t.offsets[i * 4..i * 4 + 4].try_into().unwrap());
        assert_eq!((off(0), off(1), off(2)), (0x1ad00, -1, -0x1001));
        // sorted: "Dcurrent_task" (13 single-character codes) comes first
        assert_eq!(t.names[0], 13);
        assert_eq!(&t.names[1..3], b"Dc");
        assert_eq!(t.token_index.len(), 512);
        let r = encode(&syms[..1], false);
        assert_eq!(i32::from_le_bytes(r.offsets[..4].try_into().unwrap()), 0);
        // the 141-code name takes the two-byte length
        let big = encode(&[(0xffff_ffff_8100_0000, 't', long)], false);
        assert_eq!(&big.names[..2], &[0x80 | (141 & 0x7f) as u8, 1]);
        // 7.0+: each entry relative to its own place
        let at = 0xffff_ffff_8240_0000u64;
        let p = encode_place_relative(&syms[..1], at);
        assert_eq!(i32::from_le_bytes(p.offsets[..4].try_into().unwrap()), -0x13f_f000);
        assert_eq!((p.relative_base, p.names.clone()), (0, encode(&syms[..1], false).names));
    }
}
