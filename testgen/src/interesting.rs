//! Boundary values for mutation tests and fuzzers: the numbers and strings
//! that break parsers of headers, page tables and VMCOREINFO. Shared by
//! `capture/tests/mutation.rs` and `fuzz/`.

#![allow(missing_docs)]

pub const INTERESTING_U64: [u64; 24] = [
    0,
    1,
    u64::MAX,
    i64::MAX as u64,
    1 << 63,
    0xffff_ffff,
    0x1_0000_0000,
    0xfff,
    0x1000,
    0xffff_ffff_ffff_f000,
    0x8000_0000_0000_00e3, // NX | present | PSE | ...
    0x000f_ffff_ffff_f001, // highest PTE address, present
    0x000f_ffff_c000_0083, // 1 GiB page at the top of physical memory
    0xffff_ffff_8000_0000,
    0xffff_ffff_c000_0000,
    1 << 52,
    1 << 46,
    0xffff_8880_0000_0000,
    0x0000_0000_0010_0063, // PTE -> 0x100000, present
    0x0000_0000_0010_00e3, // PMD PSE -> 0x100000
    0x0000_0000_0810_0063, // PTE -> 0x8100000 (the hole above RAM)
    0xffff_ffff_ffff_fff0,
    0x7fff_ffff_ffff_f000,
    64,
];

pub const INTERESTING_U32: [u32; 14] =
    [0, 1, 4, 11, 0xffff, 0x1_0000, 0xffff_ffff, 0xffff_fffe, 0x7fff_ffff, 0x8000_0000, 0x1000, 0xfff, 12, 56];

pub const INTERESTING_U16: [u16; 10] = [0, 1, 2, 4, 5, 56, 64, 0x8000, 0xfffe, 0xffff];

pub const INTERESTING_STR: [&str; 44] = [
    "18446744073709551615",
    "18446744073709551616",
    "-1",
    "-9223372036854775808",
    "9223372036854775807",
    "0",
    "1",
    "63",
    "64",
    "65",
    "4095",
    "4097",
    "ffffffffffffffff",
    "0xffffffffffffffff",
    "fffffffffffffff8",
    "ffffffff80000000",
    "ffffffffbffff000",
    "",
    " ",
    "x",
    "12",
    "13",
    "40",
    "52",
    "27",
    "46",
    "1024",
    "1025",
    "4096",
    "8",
    "16",
    "-129",
    "-257",
    "4294967296",
    "2147483648",
    "-2147483649",
    "+5",
    "1e3",
    "0x10",
    "ffff888000000000",
    "ff11000000000000",
    "100000000",
    "-0",
    "99999999999999999999999999",
];
