//! The crashed kernel's name (`struct new_utsname`), which the kdump
//! writer copies into its header and `inspect` shows (`analysis::source`).
//! A module of its own so that neither of them depends on the other.

use crate::translate::Translator;
use crate::vmcore::Vmcore;

/// The crashed kernel's `struct new_utsname` strings (sysname, nodename,
/// release, version, machine, domainname), read from `init_uts_ns` when the
/// memory can be read, else what VMCOREINFO says.
pub fn utsname(vm: &Vmcore) -> [String; 6] {
    let release = vm.info.osrelease().unwrap_or("").to_owned();
    let fallback =
        ["Linux".to_owned(), String::new(), release.clone(), String::new(), "x86_64".to_owned(), String::new()];
    let (Ok(sym), Ok(tr)) = (vm.info.symbol("init_uts_ns"), Translator::new(&vm.info, &vm.elf.loads)) else {
        return fallback;
    };
    let mem = vm.mem();
    let exported = vm.info.opt_offset("uts_namespace.name").ok().flatten();
    // The name's offset in struct uts_namespace moved across versions
    // (after a kref before 5.11); accept the candidate whose sysname and
    // release match.
    for off in exported.into_iter().chain([0, 4, 8]) {
        let mut raw = [0u8; 6 * 65];
        if tr.read(&mem, sym.wrapping_add(off), &mut raw).is_err() {
            continue;
        }
        let fields: Vec<String> = raw
            .chunks(65)
            .map(|c| String::from_utf8_lossy(&c[..c.iter().position(|&b| b == 0).unwrap_or(65)]).into_owned())
            .collect();
        if fields[0] == "Linux" && (release.is_empty() || fields[2] == release) {
            return fields.try_into().unwrap_or(fallback);
        }
    }
    fallback
}
