//! The whole engine on corruptions of the synthetic sample vmcore: the
//! fuzzer's bytes are decoded by `kexdump_fuzz::mutate` (see src/lib.rs)
//! into byte overwrites of the ELF headers, notes, VMCOREINFO text, page
//! tables and struct pages, plus the output format and dump level; the
//! result is parsed and saved into a discarding flattened sink. Errors are
//! expected; panics, hangs (-timeout) and huge allocations (-rss_limit_mb)
//! are bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (image, opts) = kexdump_fuzz::mutate(data);
    kexdump_fuzz::parse_and_save(image, &opts);
});
