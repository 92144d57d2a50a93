//! Arbitrary bytes as a vmcore: the ELF parser, the note parser and
//! VMCOREINFO must reject anything malformed with an error, never a panic.
//! What parses is also put through the derived views (present pfns, page
//! sources, translator, section table, utsname, the printk ring, the whole
//! `kexdump inspect` analysis: kallsyms, notes, stack scan) and, when
//! small, a save.
#![no_main]

use kexdump_engine::input::Input;
use kexdump_engine::{Format, SaveOptions, Vmcore};
use libfuzzer_sys::fuzz_target;

/// Inputs describing more pfns than this are not saved here (a save walks
/// every pfn); `save_mutated` and capture/tests/mutation.rs cover large
/// `max_mapnr`s.
const SAVE_MAX_MAPNR: u64 = 1 << 15;

fuzz_target!(|data: &[u8]| {
    let Ok(vm) = Vmcore::from_input(Input::from_bytes(data.to_vec())) else { return };
    kexdump_fuzz::exercise_info(&vm.info);
    let _ = vm.nr_cpus();
    let _ = vm.elf.vmcoreinfo_note();
    let _ = vm.elf.max_paddr();
    let _ = vm.present(0, vm.max_mapnr.min(1 << 16));
    let mem = vm.mem();
    for pfn in [0, 1, 0x100, vm.max_mapnr.saturating_sub(1), vm.max_mapnr] {
        let _ = mem.page_source(pfn);
        let mut scratch = Vec::new();
        let _ = mem.with_page(pfn, &mut scratch, |p| p.len());
    }
    let _ = kexdump_engine::utsname::utsname(&vm);
    let _ = kexdump_engine::dmesg::read_log(&vm);
    {
        use kexdump_engine::analysis::{inspect, view_of_vmcore, InspectOptions};
        let view = view_of_vmcore(&vm);
        let opts = InspectOptions {
            log_lines: 20,
            dump_path: "fuzz".into(),
            vmlinux: None,
            symbol_files: Vec::new(),
            search_root: None,
        };
        let ins = inspect(&view, &opts);
        if let (Ok(chain), Some(k)) = (&ins.chain, &ins.symbols) {
            let _ = chain.summary();
            let _ = chain.frames.iter().map(|f| k.symbolize(f.addr).map(|s| s.to_string())).count();
        }
    }
    if let Ok(tr) = kexdump_engine::translate::Translator::new(&vm.info, &vm.elf.loads) {
        let _ = kexdump_engine::mem_map::sections(&vm.info, &mem, &tr, vm.max_mapnr.min(SAVE_MAX_MAPNR));
    }
    if vm.max_mapnr <= SAVE_MAX_MAPNR {
        let format = if data.len() % 2 == 0 { Format::Kdump } else { Format::Elf };
        let opts = SaveOptions { level: 31, format, compression: kexdump_engine::compress::Compression::None };
        kexdump_fuzz::save(&vm, &opts);
    }
});
