//! Kernel symbols from files, for dumps whose VMCOREINFO does not lead to
//! the kernel's own kallsyms (Linux 5.10 has no `SYMBOL(kallsyms_*)`):
//! a `System.map` (`nm` text: `ffffffff81000000 T _stext`) or the symbol
//! table (`.symtab`) of a vmlinux ELF file.
//!
//! A file is used only when it belongs to the dump: every VMCOREINFO
//! `SYMBOL(x)` that points into the kernel image (`_stext`,
//! `init_uts_ns`, `prb`, `node_data`, ...) must sit, in the file, at its
//! dump address minus VMCOREINFO's `KERNELOFFSET` (KASLR), and at least
//! one besides `_stext`/`_text` (which every build links at the same
//! address) must be there. Addresses in the kernel image are then moved by
//! `KERNELOFFSET`; nothing else is kept (per-CPU offsets, absolute values).
//!
//! Where they are looked for, under a root directory (`/` normally), for
//! the dump's release: `boot/System.map-R`, `usr/lib/modules/R/System.map`
//! (Debian 7.x), `lib/modules/R/System.map`,
//! `usr/lib/debug/boot/System.map-R` (Debian's -dbg package), then the
//! debug vmlinux
//! `usr/lib/debug/boot/vmlinux-R` (Debian, Ubuntu) and
//! `usr/lib/debug/lib/modules/R/vmlinux` (Fedora, Debian 7.x). Debian's
//! 6.12 packages ship an 83-byte `/boot/System.map-R` that only says "The
//! real System.map is in the linux-image-R-dbg package": it is recognised
//! and skipped with that note.

use super::symbols::SymbolTable;
use crate::vmcoreinfo::VmcoreInfo;
use std::fmt;
use std::path::{Path, PathBuf};

/// Kernel image addresses (x86_64's `__START_KERNEL_map` and above): the
/// ones KASLR moves.
const KERNEL_IMAGE: u64 = 0xffff_ffff_8000_0000;
/// A System.map larger than this is not one (Debian 7.3's: 12 MB).
const MAX_MAP_BYTES: u64 = 256 << 20;
/// A System.map smaller than this holds no kernel (the placeholder: 83).
const MIN_MAP_BYTES: u64 = 1024;
/// Symbols whose address is the same in every build: they prove nothing.
const UNIVERSAL: [&str; 2] = ["_stext", "_text"];

/// What kind of file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    SystemMap,
    Vmlinux,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::SystemMap => "System.map",
            FileKind::Vmlinux => "vmlinux",
        })
    }
}

#[derive(Debug)]
pub enum SymbolFileError {
    /// The file cannot be read.
    Io { path: PathBuf, err: std::io::Error },
    /// Debian's placeholder System.map (or another tiny one): its text.
    Placeholder { path: PathBuf, text: String },
    /// A System.map line that is not `ADDRESS TYPE NAME`.
    BadMapLine { path: PathBuf, line: usize, why: &'static str },
    /// Not an ELF file, or its symbol table cannot be read.
    BadElf { path: PathBuf, why: String },
    /// The ELF file has no symbol table (stripped).
    NoSymtab { path: PathBuf },
    /// A VMCOREINFO symbol is elsewhere in the file: another build.
    Mismatch { path: PathBuf, symbol: String, in_file: u64, in_dump: u64, kernel_offset: u64 },
    /// No VMCOREINFO symbol (besides `_stext`) could be compared.
    NoEvidence { path: PathBuf },
}

impl fmt::Display for SymbolFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SymbolFileError::Io { path, err } => write!(f, "{}: {err}", path.display()),
            SymbolFileError::Placeholder { path, text } => {
                write!(f, "{}: a placeholder, not a symbol map: \"{}\"", path.display(), text.trim())
            }
            SymbolFileError::BadMapLine { path, line, why } => {
                write!(f, "{}: line {line}: {why} (expected \"ADDRESS TYPE NAME\")", path.display())
            }
            SymbolFileError::BadElf { path, why } => write!(f, "{}: {why}", path.display()),
            SymbolFileError::NoSymtab { path } => write!(f, "{}: no symbol table (stripped)", path.display()),
            SymbolFileError::Mismatch { path, symbol, in_file, in_dump, kernel_offset } => write!(
                f,
                "{}: not this dump's kernel: {symbol} is at {in_file:#x} + KERNELOFFSET {kernel_offset:#x} = {:#x}, \
                 VMCOREINFO says {in_dump:#x}",
                path.display(),
                in_file.wrapping_add(*kernel_offset)
            ),
            SymbolFileError::NoEvidence { path } => write!(
                f,
                "{}: none of VMCOREINFO's symbols (init_uts_ns, prb, ...) is in it: cannot tell it belongs to the dump",
                path.display()
            ),
        }
    }
}

impl std::error::Error for SymbolFileError {}

pub type Result<T> = std::result::Result<T, SymbolFileError>;

/// One raw symbol as the file lists it (link-time address).
pub type RawSym = (u64, char, String);

/// Parse System.map text. Lines are `ADDRESS TYPE NAME` (16 hex digits on
/// 64-bit); `A`/`a` (absolute) and `U`/`w`/`v` without address lines are
/// kept as listed and filtered later.
pub fn parse_system_map(path: &Path, text: &str) -> Result<Vec<RawSym>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why| SymbolFileError::BadMapLine { path: path.to_owned(), line: i + 1, why };
        let mut w = line.split_whitespace();
        let (Some(addr), Some(kind), Some(name)) = (w.next(), w.next(), w.next()) else {
            return Err(bad("fewer than three fields"));
        };
        let addr = u64::from_str_radix(addr, 16).map_err(|_| bad("the address is not hexadecimal"))?;
        let mut k = kind.chars();
        let (Some(kind), None) = (k.next(), k.next()) else { return Err(bad("the type is not one character")) };
        out.push((addr, kind, name.to_owned()));
    }
    Ok(out)
}

/// Read a System.map file, recognising Debian's placeholder.
pub fn read_system_map(path: &Path) -> Result<Vec<RawSym>> {
    let io = |err| SymbolFileError::Io { path: path.to_owned(), err };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_MAP_BYTES {
        return Err(SymbolFileError::BadMapLine { path: path.to_owned(), line: 0, why: "the file is too large" });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let text = String::from_utf8_lossy(&bytes);
    if len < MIN_MAP_BYTES {
        // Debian's: "ffffffffffffffff B The real System.map is in the
        // linux-image-<version>-dbg package"
        return Err(SymbolFileError::Placeholder { path: path.to_owned(), text: text.into_owned() });
    }
    parse_system_map(path, &text)
}

/// Read the `.symtab` of a vmlinux: functions and labels in executable
/// sections are `t`/`T`, the rest `d`/`D`; section, file and undefined
/// symbols are left out.
pub fn read_vmlinux(path: &Path) -> Result<Vec<RawSym>> {
    use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind, SymbolSection};
    let file = std::fs::File::open(path).map_err(|err| SymbolFileError::Io { path: path.to_owned(), err })?;
    let cache = object::ReadCache::new(file);
    let bad = |why: String| SymbolFileError::BadElf { path: path.to_owned(), why };
    let obj = object::File::parse(&cache).map_err(|e| bad(format!("not an ELF file: {e}")))?;
    // Section index → executable, so labels (NOTYPE) get their nm type.
    let exec: Vec<bool> = std::iter::once(false).chain(obj.sections().map(|s| s.kind() == SectionKind::Text)).collect();
    let mut out = Vec::new();
    let mut any = false;
    for sym in obj.symbols() {
        any = true;
        if matches!(sym.kind(), SymbolKind::Section | SymbolKind::File) {
            continue;
        }
        let SymbolSection::Section(index) = sym.section() else { continue };
        let Ok(name) = sym.name() else { continue };
        if name.is_empty() {
            continue;
        }
        let text = sym.kind() == SymbolKind::Text || exec.get(index.0).copied().unwrap_or(false);
        let kind = match (text, sym.is_global()) {
            (true, true) => 'T',
            (true, false) => 't',
            (false, true) => 'D',
            (false, false) => 'd',
        };
        out.push((sym.address(), kind, name.to_owned()));
    }
    if !any {
        return Err(SymbolFileError::NoSymtab { path: path.to_owned() });
    }
    Ok(out)
}

/// How a file was found to belong to the dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agreement {
    /// The VMCOREINFO symbols found at their dump address in the file.
    pub agreeing: Vec<String>,
    pub kernel_offset: u64,
}

/// Check `syms` (link-time addresses) against VMCOREINFO: see the module
/// comment.
pub fn check_belongs(path: &Path, syms: &[RawSym], info: &VmcoreInfo) -> Result<Agreement> {
    let kernel_offset = info.kernel_offset().ok().flatten().unwrap_or(0);
    let mut wanted: Vec<(String, u64)> = info
        .keys()
        .filter_map(|k| k.strip_prefix("SYMBOL(")?.strip_suffix(')'))
        .filter_map(|n| Some((n.to_owned(), info.opt_symbol(n).ok()??)))
        // Array symbols hold a value, not their address (mem_section).
        .filter(|&(_, a)| a >= KERNEL_IMAGE)
        .collect();
    wanted.sort();
    let mut agreeing = Vec::new();
    for (name, in_dump) in wanted {
        let Some(&(in_file, _, _)) = syms.iter().find(|s| s.2 == name) else { continue };
        if in_file.wrapping_add(kernel_offset) != in_dump {
            return Err(SymbolFileError::Mismatch {
                path: path.to_owned(),
                symbol: name,
                in_file,
                in_dump,
                kernel_offset,
            });
        }
        agreeing.push(name);
    }
    if agreeing.iter().all(|n| UNIVERSAL.contains(&n.as_str())) {
        return Err(SymbolFileError::NoEvidence { path: path.to_owned() });
    }
    Ok(Agreement { agreeing, kernel_offset })
}

/// The kernel-image symbols moved by KERNELOFFSET, as a table.
pub fn relocate(syms: Vec<RawSym>, kernel_offset: u64) -> SymbolTable {
    SymbolTable::new(
        syms.into_iter()
            .filter(|&(a, kind, _)| a >= KERNEL_IMAGE && a != u64::MAX && !matches!(kind, 'A' | 'a' | 'U' | 'u'))
            .map(|(a, kind, name)| (a.wrapping_add(kernel_offset), kind, name))
            .collect(),
    )
}

/// A symbol table from a file that belongs to the dump.
pub struct FileSymbols {
    pub kind: FileKind,
    pub path: PathBuf,
    pub agreement: Agreement,
    pub table: SymbolTable,
}

/// Read `path` as `kind`, check it belongs to the dump, relocate it.
pub fn load(kind: FileKind, path: &Path, info: &VmcoreInfo) -> Result<FileSymbols> {
    let raw = match kind {
        FileKind::SystemMap => read_system_map(path)?,
        FileKind::Vmlinux => read_vmlinux(path)?,
    };
    let agreement = check_belongs(path, &raw, info)?;
    let table = relocate(raw, agreement.kernel_offset);
    Ok(FileSymbols { kind, path: path.to_owned(), agreement, table })
}

/// Where a distribution puts them, under `root`, in the order tried.
pub fn candidates(root: &Path, release: &str) -> Vec<(FileKind, PathBuf)> {
    let r = release;
    [
        (FileKind::SystemMap, format!("boot/System.map-{r}")),
        (FileKind::SystemMap, format!("usr/lib/modules/{r}/System.map")),
        (FileKind::SystemMap, format!("lib/modules/{r}/System.map")),
        (FileKind::SystemMap, format!("usr/lib/debug/boot/System.map-{r}")),
        (FileKind::Vmlinux, format!("usr/lib/debug/boot/vmlinux-{r}")),
        (FileKind::Vmlinux, format!("usr/lib/debug/lib/modules/{r}/vmlinux")),
    ]
    .into_iter()
    .map(|(k, p)| (k, root.join(p)))
    .collect()
}

/// A file tried and not used.
#[derive(Debug)]
pub struct Skipped {
    pub kind: FileKind,
    pub path: PathBuf,
    pub error: SymbolFileError,
}

impl Skipped {
    /// The file is of another kernel build (not merely unreadable): its
    /// DWARF must not be used for this dump either.
    pub fn another_build(&self) -> bool {
        matches!(self.error, SymbolFileError::Mismatch { .. })
    }
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} skipped: {}", self.kind, self.error)
    }
}

/// Try `files` in order: the first that loads and belongs wins; the ones
/// before it that did not say why (a missing file does not, when
/// `quiet_missing`).
pub fn first_usable(
    files: &[(FileKind, PathBuf)],
    info: &VmcoreInfo,
    quiet_missing: bool,
) -> (Option<FileSymbols>, Vec<Skipped>) {
    let mut skipped = Vec::new();
    for (kind, path) in files {
        // Symlinks are followed (Debian 7.x's debug vmlinux is one).
        if quiet_missing && !path.exists() {
            continue;
        }
        match load(*kind, path, info) {
            Ok(f) => return (Some(f), skipped),
            Err(error) => skipped.push(Skipped { kind: *kind, path: path.clone(), error }),
        }
    }
    (None, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::symbols::SymbolLookup;

    const OFF: u64 = 0x1d20_0000;

    const MAP: &str = "\
0000000000000000 D __per_cpu_start
0000000000001000 A text_size
ffffffff81000000 T _text
ffffffff81000000 T _stext
ffffffff81000100 t sysrq_handle_crash
ffffffff81000120 T __handle_sysrq
ffffffff81001000 T _etext
ffffffff82000000 D init_uts_ns
ffffffff82001000 d prb
";

    fn info(offset: u64) -> VmcoreInfo {
        info_moved(offset, 0)
    }

    /// The symbols `moved` away from where the map and KERNELOFFSET put
    /// them: another build of the same release.
    fn info_moved(offset: u64, moved: u64) -> VmcoreInfo {
        VmcoreInfo::parse(
            format!(
                "OSRELEASE=6.1.0-56-amd64\nSYMBOL(init_uts_ns)={:x}\nSYMBOL(_stext)={:x}\n\
                 SYMBOL(mem_section)=ffff9b557f5b7000\nSYMBOL(swapper_pg_dir)=ffffffff8a000000\n\
                 KERNELOFFSET={offset:x}\n",
                0xffff_ffff_8200_0000u64 + offset + moved,
                0xffff_ffff_8100_0000u64 + offset
            )
            .as_bytes(),
        )
    }

    fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Padded past the placeholder size, as a real map is.
    fn big(map: &str) -> String {
        let mut s = map.to_owned();
        for i in 0..40 {
            s.push_str(&format!("ffffffff83{i:06x} t filler_{i}\n"));
        }
        s
    }

    #[test]
    fn a_matching_map_is_relocated() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "System.map", &big(MAP));
        let f = load(FileKind::SystemMap, &p, &info(OFF)).unwrap();
        // mem_section holds a value, swapper_pg_dir is not in the map
        assert_eq!(f.agreement.agreeing, ["_stext", "init_uts_ns"]);
        let t = &f.table;
        assert_eq!(t.symbolize(0xffff_ffff_8100_0116 + OFF).unwrap().to_string(), "sysrq_handle_crash+0x16/0x20");
        assert_eq!(t.text_ranges().len(), 1);
        assert_eq!(t.text_ranges()[0], 0xffff_ffff_8100_0000 + OFF..0xffff_ffff_8100_1000 + OFF);
        assert!(t.symbolize(0x10).is_none(), "per-CPU and absolute symbols are left out");
        assert_eq!(t.len(), 7 + 40);
    }

    #[test]
    fn a_map_of_another_build_or_kaslr_offset_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "System.map", &big(MAP));
        match load(FileKind::SystemMap, &p, &info_moved(OFF, 0x40)) {
            Err(e @ SymbolFileError::Mismatch { .. }) => assert_eq!(
                e.to_string(),
                format!(
                    "{}: not this dump's kernel: init_uts_ns is at 0xffffffff82000000 + KERNELOFFSET 0x1d200000 = \
                     0xffffffff9f200000, VMCOREINFO says 0xffffffff9f200040",
                    p.display()
                )
            ),
            other => panic!("{:?}", other.map(|f| f.agreement)),
        }
        // only _stext agrees: every build has it there, so no evidence
        let only_stext = big("ffffffff81000000 T _stext\n");
        let p = write(dir.path(), "only", &only_stext);
        let e = load(FileKind::SystemMap, &p, &info(OFF)).err().unwrap();
        assert!(matches!(e, SymbolFileError::NoEvidence { .. }), "{e}");
        assert!(e.to_string().contains("cannot tell it belongs"), "{e}");
    }

    #[test]
    fn debians_placeholder_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let text = "ffffffffffffffff B The real System.map is in the linux-image-6.12.118+deb13-amd64-dbg package\n";
        let p = write(dir.path(), "boot/System.map-6.12.118+deb13-amd64", text);
        let e = read_system_map(&p).err().unwrap();
        assert!(matches!(e, SymbolFileError::Placeholder { .. }));
        assert!(e.to_string().contains("placeholder") && e.to_string().contains("-dbg package"), "{e}");
        let bad = format!("{}ffffffff8100zzzz T broken\n", big(MAP));
        let p = write(dir.path(), "bad", &bad);
        let e = read_system_map(&p).err().unwrap();
        assert!(
            e.to_string().contains(&format!("bad: line {}: the address is not hexadecimal", bad.lines().count())),
            "{e}"
        );
        let p = write(dir.path(), "short", &format!("{}ffffffff81000000 T\n", big(MAP)));
        assert!(read_system_map(&p).err().unwrap().to_string().contains("fewer than three fields"));
        assert!(matches!(read_system_map(&dir.path().join("none")), Err(SymbolFileError::Io { .. })));
    }

    #[test]
    fn the_search_skips_the_placeholder_and_takes_the_modules_map() {
        let dir = tempfile::tempdir().unwrap();
        let rel = "7.3.4+deb13-amd64";
        write(dir.path(), &format!("boot/System.map-{rel}"), "ffffffffffffffff B The real System.map is elsewhere\n");
        write(dir.path(), &format!("usr/lib/modules/{rel}/System.map"), &big(MAP));
        let c = candidates(dir.path(), rel);
        assert_eq!(c.len(), 6);
        let (found, notes) = first_usable(&c, &info(OFF), true);
        let found = found.unwrap();
        assert!(found.path.ends_with(format!("usr/lib/modules/{rel}/System.map")), "{:?}", found.path);
        assert_eq!(notes.len(), 1, "{notes:?}");
        let note = notes[0].to_string();
        assert!(note.starts_with("System.map skipped: ") && note.contains("placeholder"), "{note}");
        assert!(!notes[0].another_build());
        // nothing there at all: no file, no notes
        let empty = tempfile::tempdir().unwrap();
        let (none, notes) = first_usable(&candidates(empty.path(), rel), &info(OFF), true);
        assert!(none.is_none() && notes.is_empty());
    }

    /// Every byte of a map changed, one at a time, to a few values:
    /// parsing, checking and symbolizing never panic.
    #[test]
    fn mutated_maps_never_panic() {
        let path = Path::new("System.map");
        let base = big(MAP).into_bytes();
        let mut parsed = 0;
        for i in 0..base.len() {
            for v in [b' ', b'\n', b'f', b'0', b'x', 0xff] {
                let mut m = base.clone();
                m[i] = v;
                let Ok(raw) = parse_system_map(path, &String::from_utf8_lossy(&m)) else { continue };
                parsed += 1;
                let off = check_belongs(path, &raw, &info(OFF)).map_or(OFF, |a| a.kernel_offset);
                let t = relocate(raw, off);
                for a in [0, u64::MAX, 0xffff_ffff_8100_0116 + OFF, 0xffff_ffff_8200_0000 + OFF] {
                    let _ = t.symbolize(a).map(|s| s.to_string());
                    let _ = t.text_symbol(a);
                }
            }
        }
        assert!(parsed > 0);
    }

    #[test]
    fn a_non_elf_vmlinux_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "vmlinux", "not an ELF file at all");
        let e = read_vmlinux(&p).err().unwrap();
        assert!(e.to_string().starts_with(&format!("{}: not an ELF file", p.display())), "{e}");
    }

    /// The test binary is an ELF file with a symbol table: read it, find
    /// this very function at the address the loader's symbols give.
    #[test]
    fn reads_an_elf_symbol_table() {
        let exe = std::env::current_exe().unwrap();
        let syms = read_vmlinux(&exe).unwrap();
        let main = syms.iter().find(|s| s.2 == "main").expect("main in the test binary");
        assert!(matches!(main.1, 'T' | 't'), "{main:?}");
    }
}
