//! `kexdump inspect`'s analysis on synthetic vmcores from kexdump-testgen,
//! whose kallsyms table, CPU notes and crash stack are known
//! (`kexdump_testgen::crash_stack`): the crashing CPU, the probable call
//! chain, symbolization of every symbol, and that a part that cannot be
//! read fails alone.

use kexdump_engine::analysis::symbol_files::FileKind;
use kexdump_engine::analysis::{inspect, view_of_vmcore, InspectOptions, Inspection};
use kexdump_engine::input::Input;
use kexdump_engine::Vmcore;
use kexdump_testgen::crash_stack::{long_name, EXPECTED_CHAIN};
use kexdump_testgen::{SynthVmcore, CRASHTIME, OSRELEASE};

fn opts() -> InspectOptions {
    InspectOptions {
        log_lines: 3,
        dump_path: "/var/crash/x/vmcore".into(),
        vmlinux: None,
        symbol_files: Vec::new(),
        search_root: None,
    }
}

fn inspect_bytes(bytes: Vec<u8>) -> Inspection {
    let vm = Vmcore::from_input(Input::from_bytes(bytes)).expect("synthetic vmcore opens");
    let view = view_of_vmcore(&vm);
    inspect(&view, &opts())
}

#[test]
fn synthetic_sysrq_crash() {
    let v = SynthVmcore::new();
    let ins = inspect_bytes(v.build());
    assert_eq!(ins.release.as_deref(), Some(OSRELEASE));
    assert_eq!(ins.machine, "x86_64");
    assert_eq!(ins.crash_time.as_ref().ok(), Some(&(CRASHTIME as i64)));
    assert_eq!(ins.panic_message.as_deref().ok(), Some("sysrq triggered crash"));
    assert_eq!(ins.log_tail.as_ref().unwrap().len(), 3);
    assert!(ins.uptime.is_ok(), "{:?}", ins.uptime);
    assert_eq!(ins.facts.format, "ELF vmcore");
    assert_eq!((ins.facts.dump_level, ins.facts.filtered, ins.facts.complete), (Some(0), false, true));
    assert_eq!(ins.excluded, Some(vec![]));

    let k = ins.kallsyms.as_ref().unwrap();
    assert_eq!(k.symbols, v.kallsyms().len());
    assert!(k.absolute_percpu);
    assert_eq!(k.text, vec![(v.stext(), v.stext() + 0x4000)]);

    assert_eq!(ins.cpus.len(), 2);
    let regs = v.cpu_regs();
    for (i, c) in ins.cpus.iter().enumerate() {
        let c = c.as_ref().unwrap();
        assert_eq!((c.pid, c.rip(), c.rsp()), regs[i]);
    }
    let crashing = ins.crashing.as_ref().unwrap();
    assert_eq!(crashing.note_index, 0);
    assert!(crashing.certain && crashing.reason.contains("__crash_kexec"), "{crashing:?}");

    let chain = ins.chain.as_ref().unwrap();
    let names: Vec<&str> = chain.frames.iter().map(|f| f.symbol.as_ref().unwrap().name.as_str()).collect();
    assert_eq!(names, EXPECTED_CHAIN);
    assert_eq!(chain.summary(), EXPECTED_CHAIN.join(" <- "));
    assert_eq!(chain.frames[0].symbol.as_ref().unwrap().to_string(), "__crash_kexec+0x2b/0x600");
    assert_eq!(chain.frames[2].symbol.as_ref().unwrap().to_string(), "sysrq_handle_crash+0x16/0x100");
    assert_eq!(chain.not_after_call, 1, "the vfs_write function pointer is left out");
    assert_eq!(chain.stack_top, v.stext() + 0x10000);
    assert_eq!(chain.bytes_scanned, chain.stack_top - chain.rsp);
    assert_eq!(chain.stopped, None);

    // every symbol of the table symbolizes to itself (or its first alias)
    let syms = ins.symbols.as_ref().unwrap();
    for (addr, kind, name) in v.kallsyms() {
        let s = syms.symbolize(addr).unwrap_or_else(|| panic!("{name} at {addr:#x}"));
        assert_eq!((s.start, s.offset), (addr, 0));
        if name != "_stext" {
            assert_eq!((s.kind, s.name.as_str()), (kind, name.as_str()));
        }
    }
    assert_eq!(syms.symbolize(v.stext() + 0x2000 + 5).unwrap().name, long_name());

    assert_eq!(ins.next.debug_package.as_deref(), Some("linux-image-6.1.0-56-amd64-dbg"));
    assert!(ins.next.gdb.contains("symbol-file -o 0x2b600000"), "{}", ins.next.gdb);
}

#[test]
fn each_section_fails_alone() {
    // No kallsyms in VMCOREINFO: no symbols, so no chain; the rest stands.
    let v = SynthVmcore::new().vmcoreinfo_edit(|kv| kv.retain(|(k, _)| k != "SYMBOL(kallsyms_names)"));
    let ins = inspect_bytes(v.build());
    assert!(ins.kallsyms.as_ref().unwrap_err().contains("SYMBOL(kallsyms_names)"), "{:?}", ins.kallsyms);
    assert!(ins.chain.is_err());
    assert_eq!(ins.panic_message.as_deref().ok(), Some("sysrq triggered crash"));
    // without symbols, the crashing CPU comes from the log's PID line
    let c = ins.crashing.as_ref().unwrap();
    assert_eq!(c.note_index, 0);
    assert!(c.reason.contains("pid 1234"), "{c:?}");

    // No page-table root: no memory at all, but the notes still give registers.
    let v = SynthVmcore::new().vmcoreinfo_edit(|kv| kv.retain(|(k, _)| k != "SYMBOL(init_top_pgt)"));
    let ins = inspect_bytes(v.build());
    assert!(ins.log_tail.is_err() && ins.kallsyms.is_err() && ins.chain.is_err());
    assert_eq!(ins.cpus.len(), 2);
    assert!(ins.cpus[0].is_ok());
    assert_eq!(ins.crash_time.as_ref().ok(), Some(&(CRASHTIME as i64)));
    // No crashing-CPU evidence at all: the first note, said to be a guess.
    assert!(!ins.crashing.as_ref().unwrap().certain);
}

/// A 5.10-like dump (no `SYMBOL(kallsyms_*)` in VMCOREINFO): with the
/// release's System.map under the search root, the chain is named from it;
/// Debian's placeholder map is skipped with a note; with nothing, the error
/// says what to install.
#[test]
fn without_kallsyms_the_release_system_map_names_the_chain() {
    let v = SynthVmcore::new().vmcoreinfo_edit(|kv| kv.retain(|(k, _)| !k.starts_with("SYMBOL(kallsyms_")));
    let vm = Vmcore::from_input(Input::from_bytes(v.build())).unwrap();
    let view = view_of_vmcore(&vm);
    let offset = vm.info.kernel_offset().unwrap().unwrap();
    let image = |a: u64| a >= 0xffff_ffff_8000_0000;
    let mut map = String::new();
    let mut syms = v.kallsyms();
    syms.push((vm.info.symbol("init_uts_ns").unwrap(), 'D', "init_uts_ns".into()));
    syms.sort_by_key(|s| s.0);
    for (addr, kind, name) in syms.iter().filter(|s| image(s.0)) {
        map.push_str(&format!("{:016x} {kind} {name}\n", addr - offset));
    }
    while map.len() < 2048 {
        map.push_str("ffffffffa0000000 t padding_after_the_kernel\n");
    }

    let root = tempfile::tempdir().unwrap();
    let boot = root.path().join("boot");
    std::fs::create_dir_all(&boot).unwrap();
    let searching = InspectOptions { search_root: Some(root.path().to_owned()), ..opts() };

    // nothing installed: what to install
    let ins = inspect(&view, &searching);
    let e = ins.symbol_source.as_ref().unwrap_err();
    assert!(e.contains("apt-get install linux-image-6.1.0-56-amd64-dbg") && e.contains("--system-map"), "{e}");
    assert_eq!(ins.chain.as_ref().unwrap_err(), e);

    // Debian's placeholder in /boot, the real map in /lib/modules
    let placeholder = format!("ffffffffffffffff B The real System.map is in the linux-image-{OSRELEASE}-dbg package\n");
    std::fs::write(boot.join(format!("System.map-{OSRELEASE}")), placeholder).unwrap();
    let modules = root.path().join(format!("lib/modules/{OSRELEASE}"));
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::write(modules.join("System.map"), &map).unwrap();
    let ins = inspect(&view, &searching);
    let src = ins.symbol_source.as_ref().unwrap();
    assert_eq!(src.kind, "System.map");
    assert!(src.path.as_deref().unwrap().ends_with(&format!("lib/modules/{OSRELEASE}/System.map")));
    assert!(src.detail.contains("init_uts_ns") && src.detail.contains("found where the release's files go"), "{src:?}");
    assert_eq!(ins.symbol_notes.len(), 1);
    assert!(ins.symbol_notes[0].contains("placeholder"), "{:?}", ins.symbol_notes);
    assert!(ins.foreign_files.is_empty(), "a placeholder is no other build");
    let chain = ins.chain.as_ref().unwrap();
    let names: Vec<&str> = chain.frames.iter().map(|f| f.symbol.as_ref().unwrap().name.as_str()).collect();
    assert_eq!(names, EXPECTED_CHAIN);
    assert!(ins.crashing.as_ref().unwrap().reason.contains("__crash_kexec"));

    // the same map given on the command line, even with no search
    let given = InspectOptions {
        symbol_files: vec![(FileKind::SystemMap, modules.join("System.map"))],
        search_root: None,
        ..opts()
    };
    let ins = inspect(&view, &given);
    assert!(ins.symbol_source.as_ref().unwrap().detail.starts_with("given on the command line"));
    assert!(ins.chain.is_ok());

    // a map of another build (init_uts_ns elsewhere) is refused, by name
    let other = map.replacen(
        &format!("{:016x} D init_uts_ns", vm.info.symbol("init_uts_ns").unwrap() - offset),
        &format!("{:016x} D init_uts_ns", vm.info.symbol("init_uts_ns").unwrap() - offset + 0x40),
        1,
    );
    let p = root.path().join("other.map");
    std::fs::write(&p, other).unwrap();
    let ins = inspect(&view, &InspectOptions { symbol_files: vec![(FileKind::SystemMap, p.clone())], ..opts() });
    assert!(ins.symbol_source.is_err());
    assert_eq!(ins.foreign_files, vec![p], "its DWARF must not be used either");
    assert!(ins.symbol_notes[0].contains("not this dump's kernel: init_uts_ns"), "{:?}", ins.symbol_notes);
}
