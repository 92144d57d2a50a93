//! Dump writers: kdump-compressed and ELF. Both take a `Selector` (which
//! pages) and a `Sink` (where to, file or flattened stream).

pub mod elf;
pub mod kdump;

use crate::filter::FilterStats;
use crate::translate::Translator;
use crate::vmcore::Vmcore;

/// A write to the dump failed. (The sink does not know the file's name;
/// the caller adds it.)
fn out_err(e: std::io::Error) -> crate::error::Error {
    crate::error::Error::Output { path: "<dump>".into(), source: e }
}

/// Progress of a write: `done` of `total` units, `bytes` written so far.
pub trait Progress {
    fn update(&mut self, done: u64, total: u64, bytes: u64);
}

/// Discards progress.
pub struct NoProgress;
impl Progress for NoProgress {
    fn update(&mut self, _: u64, _: u64, _: u64) {}
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub pages_present: u64,
    /// Pages in the dump (for kdump-compressed, zero pages included: they
    /// are in the bitmap and share one stored page).
    pub pages_written: u64,
    pub zero_pages: u64,
    /// Pages stored uncompressed because compression did not shrink them.
    pub raw_pages: u64,
    pub filter: FilterStats,
    /// Size of the output in bytes.
    pub bytes: u64,
}

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
