//! The kdump-compressed and flattened readers on corrupted dumps of our
//! own writer (sample vmcore, level 31; zlib, LZO, snappy, zstd, raw, and
//! a flattened zstd stream). Every reader path must return an error, never
//! panic or hang: open (header, sub-header, notes, bitmaps, rank table,
//! the flattened index), `verify` (every descriptor and page), the printk
//! reader and page reads through the translator. (A save of a saved dump
//! runs the same writer and page walk as `save_mutated`; it is left out
//! here to keep executions fast.)
//!
//! Input: byte 0 picks the base dump; then records of 5 bytes
//! `[op, a, b, c, v]`: `op & 7` is 0 set byte, 1 flip bit `v & 7`, 2 write
//! an interesting u64, 3 an interesting u32, 4 truncate, 5/6 add a small
//! signed delta to a u64/u32, 7 zero a byte; `(op >> 3) & 3` is the region
//! (0 the header and sub-header, 1 the first 64 KiB: notes, bitmaps,
//! descriptors, 2-3 the whole file); `a | b << 8 | c << 16` the offset in
//! the region (modulo its length).
#![no_main]

use kexdump_engine::input::Input;
use kexdump_engine::Vmcore;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(img) = kexdump_fuzz::mutate_dump(data) else { return };
    let _ = kexdump_engine::verify::verify_inputs(vec![Input::from_bytes(img.clone())]);
    let Ok(vm) = Vmcore::from_input(Input::from_bytes(img)) else { return };
    let _ = vm.format.to_string();
    let mem = vm.mem();
    let mut scratch = Vec::new();
    for pfn in [0, 0x100, 0x101, 0x2ff, 0x8000, vm.max_mapnr.saturating_sub(1), vm.max_mapnr] {
        let _ = mem.page_source(pfn);
        let _ = mem.with_page(pfn, &mut scratch, |p| p.len());
    }
    let _ = kexdump_engine::dmesg::read_log(&vm);
    let _ = kexdump_engine::utsname::utsname(&vm);
});
