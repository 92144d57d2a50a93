//! `kexdump inspect` on corrupted synthetic vmcores: every byte of the
//! NT_PRSTATUS notes and the crash stack replaced by a few values, every
//! byte of the kallsyms arrays by one of them, one byte at a time, plus
//! VMCOREINFO kallsyms keys pointed elsewhere. Errors are fine; a panic
//! fails the test. ~5,000 cases, ~8 s in a debug build on 2 CPUs.

use kexdump_engine::analysis::{inspect, view_of_vmcore, InspectOptions};
use kexdump_engine::input::Input;
use kexdump_engine::Vmcore;
use kexdump_testgen::SynthVmcore;
use std::ops::Range;

fn run(bytes: Vec<u8>) {
    let Ok(vm) = Vmcore::from_input(Input::from_bytes(bytes)) else { return };
    let opts = InspectOptions {
        log_lines: 5,
        dump_path: "d".into(),
        vmlinux: None,
        symbol_files: Vec::new(),
        search_root: None,
    };
    let ins = inspect(&view_of_vmcore(&vm), &opts);
    if let (Ok(chain), Some(k)) = (&ins.chain, &ins.symbols) {
        let _ = chain.summary();
        for f in &chain.frames {
            let _ = k.symbolize(f.addr).map(|s| s.to_string());
        }
    }
}

/// Byte i gets `values[i % len]`, and with `all` every value.
fn mutate(base: &[u8], range: Range<usize>, values: &[u8], all: bool) -> usize {
    let mut n = 0;
    for i in range {
        let chosen = if all { values } else { std::slice::from_ref(&values[i % values.len()]) };
        for &v in chosen {
            if base[i] == v {
                continue;
            }
            let mut b = base.to_vec();
            b[i] = v;
            run(b);
            n += 1;
        }
    }
    n
}

#[test]
fn corrupt_notes_kallsyms_and_stack_never_panic() {
    let v = SynthVmcore::new();
    let base = v.build();
    let vm = Vmcore::from_input(Input::from_bytes(base.clone())).unwrap();
    let notes: Vec<_> =
        vm.elf.prstatus_notes().map(|n| n.desc_offset as usize..(n.desc_offset as usize + n.desc.len())).collect();
    let image = vm.elf.loads[0].offset as usize;
    drop(vm);
    let mut cases = 0;
    // every byte of both notes' pid and registers
    for r in notes {
        cases += mutate(&base, r.start + 32..r.start + 36, &[0x00, 0xff], true);
        cases += mutate(&base, r.start + 112..r.end - 8, &[0x00, 0x80, 0xff], true);
    }
    // kallsyms arrays (rodata page 4: 0x000..0x1000) and the stack (page 14)
    cases += mutate(&base, image + 0x4000..image + 0x5000, &[0x00, 0x80, 0xff], false);
    cases += mutate(&base, image + 0xee58..image + 0xeeb8, &[0x00, 0xff], true);
    assert!(cases > 4000, "{cases}");

    // kallsyms keys pointing at other places, huge or unmapped
    for key in [
        "kallsyms_names",
        "kallsyms_num_syms",
        "kallsyms_token_table",
        "kallsyms_token_index",
        "kallsyms_offsets",
        "kallsyms_relative_base",
    ] {
        for value in ["0", "ffffffffffffffff", "ffffffff81000000", "ffff888000000000", "fffffffffffff000"] {
            let k = format!("SYMBOL({key})");
            let bytes = SynthVmcore::new()
                .vmcoreinfo_edit(move |kv| {
                    for (kk, vv) in kv.iter_mut() {
                        if *kk == k {
                            *vv = value.to_owned();
                        }
                    }
                })
                .build();
            run(bytes);
        }
    }
}
