//! Arbitrary bytes as a VMCOREINFO note: the line parser and every typed
//! getter (hex symbols, signed numbers, sizes, offsets, lengths, PAGESIZE,
//! KERNELOFFSET, CRASHTIME) and the struct page layout built from them must
//! return errors, never panic.
#![no_main]

use kexdump_engine::vmcoreinfo::VmcoreInfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let vi = VmcoreInfo::parse(data);
    kexdump_fuzz::exercise_info(&vi);
    // Every key the input defines, through the getter of its kind.
    let keys: Vec<String> = String::from_utf8_lossy(data)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_owned()))
        .take(64)
        .collect();
    for k in keys {
        let _ = vi.get(&k);
        let inner = |p: &str| k.strip_prefix(p).and_then(|r| r.strip_suffix(')')).map(str::to_owned);
        if let Some(n) = inner("SYMBOL(") {
            let _ = vi.symbol(&n);
        } else if let Some(n) = inner("NUMBER(") {
            let _ = vi.number(&n);
        } else if let Some(n) = inner("SIZE(") {
            let _ = vi.size(&n);
        } else if let Some(n) = inner("OFFSET(") {
            let _ = vi.offset(&n);
        } else if let Some(n) = inner("LENGTH(") {
            let _ = vi.length(&n);
        }
    }
});
