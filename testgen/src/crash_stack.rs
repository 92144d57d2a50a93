//! The synthetic kernel's symbols and the crashing CPU's stack, so that
//! `kexdump inspect` has something real-shaped to find: a kallsyms table
//! (see [`crate::kallsyms`]) in the kernel image's rodata page naming the
//! functions of a sysrq crash, and on CPU 0's kernel stack (in the image's
//! bss page) their return addresses, each right after a call instruction
//! written into the text pages, mixed with data and a function pointer
//! that follows no call.
//!
//! Expected probable chain ([`EXPECTED_CHAIN`]): CPU 0's RIP in
//! `__crash_kexec`, then `panic`, `sysrq_handle_crash`, `__handle_sysrq`
//! (an indirect `call *%rax`), `write_sysrq_trigger`, `vfs_write`,
//! `ksys_write`, `do_syscall_64`, `entry_SYSCALL_64_after_hwframe`.

use std::collections::HashMap;

use crate::kallsyms::{encode, Sym};
use crate::kernel::PAGE_SIZE;
use crate::layout::Layout;

/// Page of the kernel image holding CPU 0's stack (bss).
pub(crate) const STACK_PAGE: u64 = 14;
/// CPU 0's RSP: this offset in [`STACK_PAGE`]. The 16 KiB stack it is in
/// ends at the end of the 64 KiB image, so the scan reads pages 14-15.
pub(crate) const STACK_RSP_OFFSET: u64 = 0xe58;
/// CPU 0's RIP, as an offset from `_stext` (inside `__crash_kexec`).
pub(crate) const CPU0_RIP: u64 = 0x1a2b;
/// CPU 1's RIP (idle, inside `default_idle`).
pub(crate) const CPU1_RIP: u64 = 0x2f10;
/// Page of the image holding the kallsyms arrays (rodata).
const RODATA_PAGE: u64 = 4;
// Offsets of the kallsyms arrays in the rodata page.
pub(crate) const KS_NUM_SYMS: u64 = 0x000;
pub(crate) const KS_RELATIVE_BASE: u64 = 0x008;
pub(crate) const KS_OFFSETS: u64 = 0x010;
pub(crate) const KS_NAMES: u64 = 0x110;
pub(crate) const KS_TOKEN_TABLE: u64 = 0x800;
pub(crate) const KS_TOKEN_INDEX: u64 = 0xe00;

/// (name, nm type, offset from `_stext`) of the text symbols; `_etext`
/// closes the 16 KiB of text.
pub const TEXT_SYMBOLS: [(&str, char, u64); 15] = [
    ("_text", 'T', 0x0),
    ("_stext", 'T', 0x0),
    ("panic", 'T', 0x1000),
    ("sysrq_handle_crash", 't', 0x1200),
    ("__handle_sysrq", 't', 0x1300),
    ("write_sysrq_trigger", 't', 0x1400),
    ("vfs_write", 'T', 0x1500),
    ("ksys_write", 'T', 0x1600),
    ("do_syscall_64", 'T', 0x1700),
    ("entry_SYSCALL_64_after_hwframe", 'T', 0x1800),
    ("__crash_kexec", 'T', 0x1a00),
    // a name of more than 127 token numbers: the two-byte length
    ("", 't', 0x2000),
    ("default_idle", 'T', 0x2f00),
    ("native_safe_halt", 'T', 0x2f80),
    ("_etext", 'T', 0x4000),
];

/// The names of the probable call chain `kexdump inspect` should show.
pub const EXPECTED_CHAIN: [&str; 9] = [
    "__crash_kexec",
    "panic",
    "sysrq_handle_crash",
    "__handle_sysrq",
    "write_sysrq_trigger",
    "vfs_write",
    "ksys_write",
    "do_syscall_64",
    "entry_SYSCALL_64_after_hwframe",
];

/// The long symbol's name.
pub fn long_name() -> String {
    "z".repeat(140)
}

/// How a return address was reached.
#[derive(Clone, Copy)]
enum Site {
    /// `call rel32` (E8) right before it.
    Direct,
    /// `call *%rax` (FF D0) right before it.
    Indirect,
    /// NOPs before it: a function pointer, not a return address.
    NoCall,
}

/// The words on CPU 0's stack from RSP up: Ok(offset from `_stext`) is a
/// text address reached as `Site`, Err(v) a plain value.
fn stack_words() -> Vec<Result<(u64, Site), u64>> {
    use Site::*;
    vec![
        Err(0xdead_beef),
        Ok((0x1000 + 0x13d, Direct)), // panic
        Err(0),
        Ok((0x1500 + 0x10, NoCall)),   // vfs_write as a function pointer
        Ok((0x1200 + 0x16, Direct)),   // sysrq_handle_crash
        Ok((0x1300 + 0x44, Indirect)), // __handle_sysrq
        Ok((0x1400 + 0x24, Direct)),   // write_sysrq_trigger
        Err(0x1234),
        Ok((0x1500 + 0xc7, Direct)), // vfs_write
        Ok((0x1600 + 0x6b, Direct)), // ksys_write
        Ok((0x1700 + 0x5d, Direct)), // do_syscall_64
        Ok((0x1800 + 0x6e, Direct)), // entry_SYSCALL_64_after_hwframe
    ]
}

/// Every symbol of the table, with absolute addresses: the text symbols,
/// two data symbols, and two per-CPU variables (absolute, below 2^31).
pub(crate) fn symbols(l: &Layout) -> Vec<Sym> {
    let mut v: Vec<Sym> = TEXT_SYMBOLS
        .iter()
        .map(|&(n, t, off)| (l.text_vaddr + off, t, if n.is_empty() { long_name() } else { n.to_owned() }))
        .collect();
    v.push((l.sym.init_uts_ns, 'D', "init_uts_ns".into()));
    v.push((l.sym.prb, 'd', "prb".into()));
    v.push((0, 'D', "fixed_percpu_data".into()));
    v.push((0x1ad00, 'D', "current_task".into()));
    v
}

/// CPU 0's RSP.
pub(crate) fn cpu0_rsp(l: &Layout) -> u64 {
    l.text_vaddr + STACK_PAGE * PAGE_SIZE + STACK_RSP_OFFSET
}

fn put(meta: &mut HashMap<u64, Box<[u8]>>, kernel_pfn: u64, image_off: u64, bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        let o = image_off + i as u64;
        let page = meta.get_mut(&(kernel_pfn + o / PAGE_SIZE)).expect("kexdump-testgen: kernel image page");
        page[(o % PAGE_SIZE) as usize] = b;
    }
}

/// Write the kallsyms arrays, the stack and the call sites into the image.
pub(crate) fn write(l: &Layout, meta: &mut HashMap<u64, Box<[u8]>>) {
    let k = l.kernel_pfn;
    let t = encode(&symbols(l), true);
    let ro = RODATA_PAGE * PAGE_SIZE;
    assert!(KS_OFFSETS + t.offsets.len() as u64 <= KS_NAMES, "kexdump-testgen: kallsyms offsets overflow");
    assert!(KS_NAMES + t.names.len() as u64 <= KS_TOKEN_TABLE, "kexdump-testgen: kallsyms names overflow");
    assert!(KS_TOKEN_TABLE + t.token_table.len() as u64 <= KS_TOKEN_INDEX, "kexdump-testgen: token table overflow");
    put(meta, k, ro + KS_NUM_SYMS, &t.num_syms.to_le_bytes());
    put(meta, k, ro + KS_RELATIVE_BASE, &t.relative_base.to_le_bytes());
    put(meta, k, ro + KS_OFFSETS, &t.offsets);
    put(meta, k, ro + KS_NAMES, &t.names);
    put(meta, k, ro + KS_TOKEN_TABLE, &t.token_table);
    put(meta, k, ro + KS_TOKEN_INDEX, &t.token_index);

    let stack = STACK_PAGE * PAGE_SIZE + STACK_RSP_OFFSET;
    for (i, w) in stack_words().into_iter().enumerate() {
        let value = match w {
            Err(v) => v,
            Ok((off, site)) => {
                let before: &[u8] = match site {
                    Site::Direct => &[0x90, 0x90, 0x90, 0xe8, 0x10, 0x20, 0x30, 0x40],
                    Site::Indirect => &[0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0xff, 0xd0],
                    Site::NoCall => &[0x90; 8],
                };
                put(meta, k, off - 8, before);
                l.text_vaddr + off
            }
        };
        put(meta, k, stack + i as u64 * 8, &value.to_le_bytes());
    }
}
