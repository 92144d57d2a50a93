//! Kernel modules for the capture initramfs: find a module by name under
//! `lib/modules/<release>/`, and its dependency closure, in load order
//! (dependencies first).
//!
//! - Hard dependencies come from `modules.dep` when the tree has one, else
//!   from each module's `.modinfo` section (`depends=`), which Debian's
//!   kernel package needs: it ships no `modules.dep`.
//! - Soft dependencies (`softdep=pre: a b post: c`) come from
//!   `modules.softdep` next to a `modules.dep`, else from `.modinfo`. They
//!   matter in a capture kernel, which has no modprobe to load them on
//!   demand: ext4 and jbd2 ask for `crypto-crc32c`, and without a crc32c
//!   module jbd2 refuses to load. A softdep name that is no module file is
//!   looked up among aliases: the built-in modules' first
//!   (`modules.builtin.modinfo`), then `modules.alias`, or, when the tree
//!   has none, a module named after the alias that declares it
//!   (`crc32c_generic`, 7.x's `crc32c-cryptoapi`), else an index of every
//!   module's `alias=` entries, built once and only when a softdep needs
//!   it (Debian 12's 3,900 `.ko` in the page cache: about 70 ms; 7.x's
//!   4,225 `.ko.xz`: tens of seconds, the whole tree unpacked).
//! - Modules listed in `modules.builtin` are in the kernel image: never
//!   loaded, reported as built in.
//! - Modules may be stored as `.ko`, `.ko.gz`, `.ko.xz` or `.ko.zst`;
//!   [`read_module`] unpacks them.
//!
//! Functions take the modules directory, so tests run on a fake tree.

use kexdump_engine::bytes;
use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The most we unpack from one module file: a bound against a corrupt or
/// hostile file (the largest in-tree modules are tens of MB even with
/// debug information).
pub const MAX_MODULE_BYTES: u64 = 1 << 30;

#[derive(Debug)]
pub enum Error {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    /// No module of that name in the tree.
    NotFound {
        name: String,
        needed_by: Option<String>,
    },
    /// The module file is not an ELF object with a readable `.modinfo`.
    BadModule {
        path: PathBuf,
        why: String,
    },
    /// A compressed module in a format we do not unpack (the kernel itself
    /// knows only gzip, xz and zstd).
    Compressed {
        path: PathBuf,
    },
    /// A `.ko.gz`, `.ko.xz` or `.ko.zst` that does not unpack.
    Decompress {
        path: PathBuf,
        why: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::NotFound { name, needed_by: None } => write!(f, "module {name} not found"),
            Error::NotFound { name, needed_by: Some(by) } => write!(f, "module {name} (needed by {by}) not found"),
            Error::BadModule { path, why } => write!(f, "{}: {why}", path.display()),
            Error::Compressed { path } => {
                write!(f, "{}: unknown module compression (expected .ko, .ko.gz, .ko.xz or .ko.zst)", path.display())
            }
            Error::Decompress { path, why } => write!(f, "{}: cannot decompress: {why}", path.display()),
        }
    }
}

impl std::error::Error for Error {}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_owned(), source }
}

/// Module names compare with `-` and `_` equal, as the kernel does.
pub fn canonical(name: &str) -> String {
    name.replace('-', "_")
}

fn module_name(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    let stem = file.split(".ko").next()?;
    (file.contains(".ko")).then(|| canonical(stem))
}

/// How a module file is stored, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Packing {
    Plain,
    Gzip,
    Xz,
    Zstd,
    Unknown,
}

fn packing(path: &Path) -> Packing {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(".ko") {
        Packing::Plain
    } else if name.ends_with(".ko.gz") {
        Packing::Gzip
    } else if name.ends_with(".ko.xz") {
        Packing::Xz
    } else if name.ends_with(".ko.zst") {
        Packing::Zstd
    } else {
        Packing::Unknown
    }
}

/// A `Write` that refuses more than [`MAX_MODULE_BYTES`].
struct Bounded(Vec<u8>);

impl Write for Bounded {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if self.0.len() as u64 + b.len() as u64 > MAX_MODULE_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("over {MAX_MODULE_BYTES} bytes unpacked")));
        }
        self.0.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The module's ELF object, unpacked from `.ko.gz`/`.ko.xz`/`.ko.zst` if
/// need be (the capture kernel then needs no decompressor).
pub fn read_module(path: &Path) -> Result<Vec<u8>, Error> {
    let kind = packing(path);
    if kind == Packing::Unknown {
        return Err(Error::Compressed { path: path.to_owned() });
    }
    let file = File::open(path).map_err(io_err(path))?;
    let mut out = Bounded(Vec::new());
    let unpack = |e: String| Error::Decompress { path: path.to_owned(), why: e };
    match kind {
        Packing::Plain => {
            let mut r = file.take(MAX_MODULE_BYTES + 1);
            io::copy(&mut r, &mut out).map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData => Error::BadModule { path: path.to_owned(), why: e.to_string() },
                _ => Error::Io { path: path.to_owned(), source: e },
            })?;
        }
        Packing::Gzip => {
            let mut r = flate2::read::MultiGzDecoder::new(BufReader::new(file));
            io::copy(&mut r, &mut out).map_err(|e| unpack(e.to_string()))?;
        }
        Packing::Zstd => {
            let mut r = zstd::stream::read::Decoder::new(file).map_err(|e| unpack(e.to_string()))?;
            io::copy(&mut r, &mut out).map_err(|e| unpack(e.to_string()))?;
        }
        Packing::Xz => {
            lzma_rs::xz_decompress(&mut BufReader::new(file), &mut out).map_err(|e| unpack(e.to_string()))?;
        }
        Packing::Unknown => unreachable!("refused above"),
    }
    Ok(out.0)
}

/// Where a name (a module name or an alias) is found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provider {
    /// A module file of the tree (canonical name).
    Module(String),
    /// Built into the kernel image (canonical name).
    Builtin(String),
    Missing,
}

/// Soft dependencies: modules to load before (`pre`) and after (`post`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SoftDeps {
    pub pre: Vec<String>,
    pub post: Vec<String>,
}

/// Parse one `softdep=` value (`pre: a b post: c`). Names before any
/// `pre:`/`post:` count as `pre`: a capture kernel has no modprobe to load
/// them later, so loading them early is the safe reading.
pub fn parse_softdep(value: &str, into: &mut SoftDeps) {
    let mut post = false;
    for tok in value.split_whitespace() {
        let name = if let Some(rest) = tok.strip_prefix("pre:") {
            post = false;
            rest
        } else if let Some(rest) = tok.strip_prefix("post:") {
            post = true;
            rest
        } else {
            tok
        };
        if !name.is_empty() {
            if post { &mut into.post } else { &mut into.pre }.push(name.to_owned());
        }
    }
}

/// The result of [`ModuleTree::resolve`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Closure {
    /// Module files to load, in order: each after its dependencies and
    /// `pre` softdeps, before its `post` softdeps.
    pub modules: Vec<(String, PathBuf)>,
    /// Names asked for or needed that the kernel has built in (sorted).
    pub builtin: Vec<String>,
    /// Softdeps that neither a module nor a built-in provides:
    /// (module, softdep name). The kernel loads without them, maybe slower
    /// or with less function; the caller decides whether to warn.
    pub unresolved: Vec<(String, String)>,
}

pub struct ModuleTree {
    root: PathBuf,
    /// canonical name -> path relative to root
    paths: BTreeMap<String, PathBuf>,
    /// from modules.dep, when present: canonical name -> dependencies
    dep_file: Option<BTreeMap<String, Vec<String>>>,
    /// from modules.softdep, when present next to modules.dep
    softdep_file: Option<BTreeMap<String, SoftDeps>>,
    /// canonical names from modules.builtin
    builtin: BTreeSet<String>,
    /// canonical alias -> built-in modules (modules.builtin.modinfo)
    builtin_aliases: BTreeMap<String, BTreeSet<String>>,
    /// canonical alias -> modules: modules.alias, or a scan of every
    /// module's `.modinfo`, made on first need
    aliases: OnceCell<BTreeMap<String, BTreeSet<String>>>,
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { path: path.to_owned(), source }),
    }
}

impl ModuleTree {
    /// Index `root` (e.g. `/lib/modules/6.1.0-56-amd64`).
    pub fn open(root: &Path) -> Result<ModuleTree, Error> {
        let mut paths = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let rd = fs::read_dir(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
            let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
            entries.sort();
            for p in entries {
                let ft = fs::symlink_metadata(&p).map_err(|source| Error::Io { path: p.clone(), source })?;
                if ft.is_dir() {
                    stack.push(p);
                } else if let Some(name) = module_name(&p) {
                    let rel = p.strip_prefix(root).unwrap_or(&p).to_path_buf();
                    paths.entry(name).or_insert(rel);
                }
            }
        }
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        let dep_file = read_optional(&root.join("modules.dep"))?.map(|b| parse_modules_dep(&text(b)));
        let softdep_file = match dep_file {
            Some(_) => read_optional(&root.join("modules.softdep"))?.map(|b| parse_modules_softdep(&text(b))),
            None => None,
        };
        let builtin = read_optional(&root.join("modules.builtin"))?
            .map(|b| text(b).lines().filter_map(|l| module_name(Path::new(l.trim()))).collect())
            .unwrap_or_default();
        let builtin_aliases = read_optional(&root.join("modules.builtin.modinfo"))?
            .map(|b| parse_builtin_modinfo(&b))
            .unwrap_or_default();
        let aliases = OnceCell::new();
        if let Some(b) = read_optional(&root.join("modules.alias"))? {
            let _ = aliases.set(parse_modules_alias(&text(b)));
        }
        Ok(ModuleTree { root: root.to_path_buf(), paths, dep_file, softdep_file, builtin, builtin_aliases, aliases })
    }

    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.paths.get(&canonical(name)).map(|p| self.root.join(p))
    }

    /// Listed in `modules.builtin`: part of the kernel image.
    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtin.contains(&canonical(name))
    }

    /// Direct dependencies of one module.
    pub fn depends(&self, name: &str) -> Result<Vec<String>, Error> {
        let name = canonical(name);
        if let Some(dep) = &self.dep_file {
            return Ok(dep.get(&name).cloned().unwrap_or_default());
        }
        let path = self.path(&name).ok_or(Error::NotFound { name: name.clone(), needed_by: None })?;
        let info = modinfo(&path)?;
        Ok(info
            .iter()
            .filter_map(|kv| kv.strip_prefix("depends="))
            .flat_map(|d| d.split(','))
            .filter(|d| !d.is_empty())
            .map(canonical)
            .collect())
    }

    /// Soft dependencies of one module, as named (module names or aliases).
    pub fn softdeps(&self, name: &str) -> Result<SoftDeps, Error> {
        let name = canonical(name);
        if let Some(file) = &self.softdep_file {
            return Ok(file.get(&name).cloned().unwrap_or_default());
        }
        let path = self.path(&name).ok_or(Error::NotFound { name: name.clone(), needed_by: None })?;
        let mut s = SoftDeps::default();
        for v in modinfo(&path)?.iter().filter_map(|kv| kv.strip_prefix("softdep=")) {
            parse_softdep(v, &mut s);
        }
        Ok(s)
    }

    /// What provides `name`: a module or built-in of that name, else one
    /// whose `alias=` is `name`. Among several modules with the alias, a
    /// `*_generic` one wins (it runs on every CPU of the architecture),
    /// else the first by name.
    pub fn provider(&self, name: &str) -> Provider {
        let c = canonical(name);
        if self.builtin.contains(&c) {
            return Provider::Builtin(c);
        }
        if self.paths.contains_key(&c) {
            return Provider::Module(c);
        }
        if let Some(b) = self.builtin_aliases.get(&c).and_then(|s| s.iter().next()) {
            return Provider::Builtin(b.clone());
        }
        if let Some(m) = self.named_provider(&c) {
            return Provider::Module(m);
        }
        let Some(mods) = self.aliases().get(&c) else { return Provider::Missing };
        match mods.iter().find(|m| m.ends_with("_generic")).or_else(|| mods.iter().next()) {
            Some(m) if self.builtin.contains(m) => Provider::Builtin(m.clone()),
            Some(m) if self.paths.contains_key(m) => Provider::Module(m.clone()),
            _ => Provider::Missing,
        }
    }

    /// The shortcut that spares trees without modules.alias the scan of
    /// every module (Debian's 7.x tree: 4,225 `.ko.xz`, 600 MB unpacked,
    /// 10 s of CPU even with C liblzma): an alias such as `crypto-crc32c`
    /// is nearly always declared by a module named after it — 6.1's
    /// `crc32c_generic`, 7.x's `crc32c-cryptoapi`, `crc32c_intel`. Those
    /// modules (the name, or the name with `crypto-` dropped, followed by
    /// `_`; `*_generic` first, then by name) are asked before the scan,
    /// and the first that declares the alias answers. It agrees with the
    /// scan's choice except where another module, not named after the
    /// alias, also declares it: both provide what the softdep asks for.
    fn named_provider(&self, alias: &str) -> Option<String> {
        if self.aliases.get().is_some() {
            return None;
        }
        let base = alias.strip_prefix("crypto_").unwrap_or(alias);
        let prefix = format!("{base}_");
        let mut named: Vec<&String> = self.paths.keys().filter(|m| m.starts_with(&prefix)).collect();
        named.sort_by_key(|m| (!m.ends_with("_generic"), m.as_str()));
        named.into_iter().find(|m| self.declares_alias(m, alias)).cloned()
    }

    /// Whether module `name`'s `.modinfo` has `alias=<alias>`.
    fn declares_alias(&self, name: &str, alias: &str) -> bool {
        self.paths.get(name).is_some_and(|rel| {
            modinfo(&self.root.join(rel))
                .is_ok_and(|info| info.iter().filter_map(|kv| kv.strip_prefix("alias=")).any(|a| canonical(a) == alias))
        })
    }

    /// The alias index: modules.alias, or every module's `alias=` entries.
    /// Modules whose `.modinfo` cannot be read are left out of it (they
    /// fail loudly if the closure itself needs them).
    fn aliases(&self) -> &BTreeMap<String, BTreeSet<String>> {
        self.aliases.get_or_init(|| {
            let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (name, rel) in &self.paths {
                let Ok(info) = modinfo(&self.root.join(rel)) else { continue };
                for a in info.iter().filter_map(|kv| kv.strip_prefix("alias=")) {
                    map.entry(canonical(a)).or_default().insert(name.clone());
                }
            }
            map
        })
    }

    /// `names` and everything they need, each once, dependencies first.
    pub fn closure(&self, names: &[&str]) -> Result<Vec<(String, PathBuf)>, Error> {
        Ok(self.resolve(names)?.modules)
    }

    /// `names` (module names or aliases) and everything they need: hard
    /// dependencies (which must exist) and soft dependencies (which may
    /// not), built-in modules set aside.
    pub fn resolve(&self, names: &[&str]) -> Result<Closure, Error> {
        let mut st = Walk::default();
        for n in names {
            match self.provider(n) {
                Provider::Module(m) => self.visit(&m, None, &mut st)?,
                Provider::Builtin(b) => {
                    st.builtin.insert(b);
                }
                Provider::Missing => return Err(Error::NotFound { name: canonical(n), needed_by: None }),
            }
        }
        Ok(Closure { modules: st.order, builtin: st.builtin.into_iter().collect(), unresolved: st.unresolved })
    }

    fn visit(&self, name: &str, needed_by: Option<&str>, st: &mut Walk) -> Result<(), Error> {
        if st.done.contains(name) || !st.on_path.insert(name.to_owned()) {
            return Ok(()); // already placed, or a dependency cycle (the kernel refuses those; so do not loop)
        }
        if self.builtin.contains(name) {
            st.on_path.remove(name);
            st.done.insert(name.to_owned());
            st.builtin.insert(name.to_owned());
            return Ok(());
        }
        let path = self
            .path(name)
            .ok_or_else(|| Error::NotFound { name: name.to_owned(), needed_by: needed_by.map(str::to_owned) })?;
        let soft = self.softdeps(name)?;
        for dep in self.depends(name)? {
            self.visit(&dep, Some(name), st)?;
        }
        for s in &soft.pre {
            self.visit_soft(name, s, st)?;
        }
        st.on_path.remove(name);
        st.done.insert(name.to_owned());
        st.order.push((name.to_owned(), path));
        for s in &soft.post {
            self.visit_soft(name, s, st)?;
        }
        Ok(())
    }

    fn visit_soft(&self, by: &str, soft: &str, st: &mut Walk) -> Result<(), Error> {
        match self.provider(soft) {
            Provider::Module(m) => self.visit(&m, Some(by), st),
            Provider::Builtin(b) => {
                st.builtin.insert(b);
                Ok(())
            }
            Provider::Missing => {
                st.unresolved.push((by.to_owned(), soft.to_owned()));
                Ok(())
            }
        }
    }
}

#[derive(Default)]
struct Walk {
    order: Vec<(String, PathBuf)>,
    done: BTreeSet<String>,
    on_path: BTreeSet<String>,
    builtin: BTreeSet<String>,
    unresolved: Vec<(String, String)>,
}

fn parse_modules_dep(text: &str) -> BTreeMap<String, Vec<String>> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .filter_map(|(m, deps)| {
            let name = module_name(Path::new(m.trim()))?;
            let deps = deps.split_whitespace().filter_map(|d| module_name(Path::new(d))).collect();
            Some((name, deps))
        })
        .collect()
}

/// `softdep <module> pre: a b post: c` lines (depmod's modules.softdep).
fn parse_modules_softdep(text: &str) -> BTreeMap<String, SoftDeps> {
    let mut map: BTreeMap<String, SoftDeps> = BTreeMap::new();
    for l in text.lines() {
        let mut w = l.trim().splitn(3, char::is_whitespace);
        if let (Some("softdep"), Some(m), Some(rest)) = (w.next(), w.next(), w.next()) {
            parse_softdep(rest, map.entry(canonical(m)).or_default());
        }
    }
    map
}

/// `alias <alias> <module>` lines (depmod's modules.alias).
fn parse_modules_alias(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for l in text.lines() {
        let mut w = l.split_whitespace();
        if let (Some("alias"), Some(a), Some(m)) = (w.next(), w.next(), w.next()) {
            map.entry(canonical(a)).or_default().insert(canonical(m));
        }
    }
    map
}

/// modules.builtin.modinfo: NUL-separated `<module>.alias=<alias>` strings.
fn parse_builtin_modinfo(data: &[u8]) -> BTreeMap<String, BTreeSet<String>> {
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in data.split(|&b| b == 0) {
        let s = String::from_utf8_lossy(s);
        if let Some((m, a)) = s.split_once(".alias=") {
            map.entry(canonical(a)).or_default().insert(canonical(m));
        }
    }
    map
}

/// The NUL-separated `key=value` strings of a module's `.modinfo` section.
/// A plain `.ko` is read in pieces (headers, section names, `.modinfo`),
/// so indexing a whole tree stays fast; a compressed one is unpacked.
pub fn modinfo(path: &Path) -> Result<Vec<String>, Error> {
    if packing(path) != Packing::Plain {
        let data = read_module(path)?;
        return modinfo_of(path, &data);
    }
    let f = File::open(path).map_err(io_err(path))?;
    let len = f.metadata().map_err(io_err(path))?.len();
    modinfo_in(path, len, &|off, buf| f.read_exact_at(buf, off))
}

/// [`modinfo`] of a module already in memory; `path` names it in errors.
pub fn modinfo_of(path: &Path, data: &[u8]) -> Result<Vec<String>, Error> {
    modinfo_in(path, data.len() as u64, &|off, buf| {
        let src = usize::try_from(off).ok().and_then(|o| data.get(o..o.checked_add(buf.len())?));
        buf.copy_from_slice(src.ok_or(io::ErrorKind::UnexpectedEof)?);
        Ok(())
    })
}

type ReadAt<'a> = &'a dyn Fn(u64, &mut [u8]) -> io::Result<()>;

fn modinfo_in(path: &Path, len: u64, read: ReadAt) -> Result<Vec<String>, Error> {
    let bad = |why: &str| Error::BadModule { path: path.to_owned(), why: why.into() };
    // Bytes [off, off + n), or `what` is past the end of the file.
    let get = |off: u64, n: u64, what: &str| -> Result<Vec<u8>, Error> {
        if off.checked_add(n).is_none_or(|end| end > len) {
            return Err(bad(what));
        }
        let mut b = vec![0u8; n as usize];
        read(off, &mut b).map_err(io_err(path))?;
        Ok(b)
    };
    let ident = get(0, 6.min(len), "not an ELF64 object")?;
    if ident.get(..5) != Some(b"\x7fELF\x02") {
        return Err(bad("not an ELF64 object"));
    }
    if ident.get(5) != Some(&1) {
        return Err(bad("not a little-endian ELF object"));
    }
    let eh = get(0, 64, "truncated ELF header")?;
    // `eh` is 64 bytes and `sh` shnum * 64, so every field below is inside
    // them; a 0 read would fail the checks that follow anyway.
    let u16_at = |b: &[u8], o: usize| bytes::u16_at(b, o).unwrap_or(0);
    let u32_at = |b: &[u8], o: usize| bytes::u32_at(b, o).unwrap_or(0);
    let u64_at = |b: &[u8], o: usize| bytes::u64_at(b, o).unwrap_or(0);
    let shoff = u64_at(&eh, 40);
    let shentsize = u16_at(&eh, 58) as usize;
    let shnum = u16_at(&eh, 60) as usize;
    let shstrndx = u16_at(&eh, 62) as usize;
    if shentsize != 64 || shstrndx >= shnum {
        return Err(bad("unexpected section header table"));
    }
    let sh = get(shoff, shnum as u64 * 64, "section headers past the end")?;
    // (sh_name, sh_offset, sh_size) of section i < shnum.
    let section = |i: usize| (u32_at(&sh, i * 64), u64_at(&sh, i * 64 + 24), u64_at(&sh, i * 64 + 32));
    let (_, str_off, str_size) = section(shstrndx);
    let strtab = get(str_off, str_size, "bad .shstrtab")?;
    for i in 0..shnum {
        let (name_off, off, size) = section(i);
        let sname = strtab.get(name_off as usize..).and_then(|s| s.split(|&b| b == 0).next()).unwrap_or(b"");
        if sname == b".modinfo" {
            let body = get(off, size, ".modinfo past the end")?;
            return Ok(body
                .split(|&b| b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect());
        }
    }
    Err(bad("no .modinfo section"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kexdump_testgen::kmod::fake_ko;

    fn tree(mods: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (rel, deps) in mods {
            let p = d.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            let dep = format!("depends={deps}");
            fs::write(&p, fake_ko(&["license=GPL", &dep, "intree=Y"])).unwrap();
        }
        d
    }

    fn names(c: &[(String, PathBuf)]) -> Vec<&str> {
        c.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn closure_from_modinfo_puts_dependencies_first() {
        let d = tree(&[
            ("kernel/drivers/block/virtio_blk.ko", "virtio,virtio_ring"),
            ("kernel/drivers/virtio/virtio.ko", ""),
            ("kernel/drivers/virtio/virtio_ring.ko", ""),
            ("kernel/fs/ext4/ext4.ko", "mbcache,jbd2,crc16"),
            ("kernel/fs/jbd2/jbd2.ko", ""),
            ("kernel/fs/mbcache.ko", ""),
            ("kernel/lib/crc16.ko", ""),
        ]);
        let t = ModuleTree::open(d.path()).unwrap();
        let c = t.closure(&["virtio-blk", "ext4"]).unwrap();
        assert_eq!(names(&c), ["virtio", "virtio_ring", "virtio_blk", "mbcache", "jbd2", "crc16", "ext4"]);
    }

    #[test]
    fn modules_dep_wins_and_missing_modules_are_named() {
        let d = tree(&[("kernel/a.ko", "b"), ("kernel/b.ko", ""), ("kernel/c.ko", "")]);
        fs::write(d.path().join("modules.dep"), "kernel/a.ko: kernel/c.ko\nkernel/b.ko:\nkernel/c.ko:\n").unwrap();
        let t = ModuleTree::open(d.path()).unwrap();
        assert_eq!(names(&t.closure(&["a"]).unwrap()), ["c", "a"]);

        let d = tree(&[("kernel/a.ko", "gone")]);
        let t = ModuleTree::open(d.path()).unwrap();
        match t.closure(&["a"]) {
            Err(e @ Error::NotFound { .. }) => assert_eq!(e.to_string(), "module gone (needed by a) not found"),
            other => panic!("{other:?}"),
        }
        match t.closure(&["nosuch"]) {
            Err(e @ Error::NotFound { .. }) => assert_eq!(e.to_string(), "module nosuch not found"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cycle_does_not_loop_and_garbage_is_an_error() {
        let d = tree(&[("kernel/a.ko", "b"), ("kernel/b.ko", "a")]);
        let t = ModuleTree::open(d.path()).unwrap();
        assert_eq!(t.closure(&["a"]).unwrap().len(), 2);
        let a = d.path().join("kernel/a.ko");
        fs::write(&a, b"not elf").unwrap();
        match modinfo(&a) {
            Err(e @ Error::BadModule { .. }) => {
                assert_eq!(e.to_string(), format!("{}: not an ELF64 object", a.display()))
            }
            other => panic!("{other:?}"),
        }
        // A section header table pointing past the end, in a file and in memory.
        let mut ko = fake_ko(&["depends="]);
        ko[40..48].copy_from_slice(&u64::MAX.to_le_bytes());
        fs::write(&a, &ko).unwrap();
        assert!(modinfo(&a).unwrap_err().to_string().ends_with("section headers past the end"));
        assert!(modinfo_of(&a, &ko).unwrap_err().to_string().ends_with("section headers past the end"));
        let x = d.path().join("kernel/x.ko.xz");
        fs::write(&x, b"").unwrap();
        let t = ModuleTree::open(d.path()).unwrap();
        match t.depends("x") {
            Err(e @ Error::Decompress { .. }) => {
                assert!(e.to_string().starts_with(&format!("{}: cannot", x.display())))
            }
            other => panic!("{other:?}"),
        }
        let bz = d.path().join("kernel/y.ko.bz2");
        fs::write(&bz, b"").unwrap();
        assert!(matches!(read_module(&bz), Err(Error::Compressed { .. })));
    }

    #[test]
    fn softdeps_parse_pre_and_post() {
        let mut s = SoftDeps::default();
        parse_softdep("pre: crypto-crc32c post:x y", &mut s);
        parse_softdep("sha512", &mut s);
        assert_eq!(s.pre, ["crypto-crc32c", "sha512"]);
        assert_eq!(s.post, ["x", "y"]);
    }

    /// 7.x has no crc32c_generic: `crc32c-cryptoapi` declares the alias,
    /// and it is found among the modules named after the alias, without
    /// unpacking the rest of the tree; an alias no such module declares
    /// still falls back to the scan.
    #[test]
    fn an_alias_is_found_in_the_modules_named_after_it_without_a_scan() {
        let d = tempfile::tempdir().unwrap();
        let put = |rel: &str, info: &[&str]| {
            let p = d.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, fake_ko(info)).unwrap();
        };
        put("kernel/fs/jbd2/jbd2.ko", &["depends=", "softdep=pre: crypto-crc32c"]);
        put("kernel/arch/x86/crypto/crc32c-intel.ko", &["alias=crypto-crc32c-intel", "depends="]);
        put("kernel/crypto/crc32c-cryptoapi.ko", &["alias=crypto-crc32c", "alias=crc32c", "depends="]);
        put("kernel/crypto/other.ko", &["alias=crypto-sha1", "depends="]);
        let t = ModuleTree::open(d.path()).unwrap();
        assert_eq!(names(&t.closure(&["jbd2"]).unwrap()), ["crc32c_cryptoapi", "jbd2"]);
        assert!(t.aliases.get().is_none(), "answered by the named modules, no scan");
        assert_eq!(t.provider("crypto-sha1"), Provider::Module("other".into()), "found by the scan");
        assert!(t.aliases.get().is_some());
    }

    /// softdep names resolve through aliases (the generic implementation
    /// preferred), through modules.alias when depmod wrote one, and
    /// built-ins are set aside.
    #[test]
    fn softdeps_resolve_through_aliases_and_builtins() {
        let d = tempfile::tempdir().unwrap();
        let put = |rel: &str, info: &[&str]| {
            let p = d.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, fake_ko(info)).unwrap();
        };
        put("kernel/fs/ext4/ext4.ko", &["depends=jbd2", "softdep=pre: crypto-crc32c post: gone"]);
        put("kernel/fs/jbd2/jbd2.ko", &["depends=", "softdep=pre: crypto-crc32c"]);
        put("kernel/arch/x86/crypto/crc32c-intel.ko", &["alias=crypto-crc32c", "alias=crc32c", "depends="]);
        put("kernel/crypto/crc32c_generic.ko", &["alias=crypto-crc32c", "alias=crc32c", "depends="]);
        put("kernel/lib/libcrc32c.ko", &["depends=", "softdep=pre: crc32c"]);
        put("kernel/fs/xfs/xfs.ko", &["depends=libcrc32c"]);
        let t = ModuleTree::open(d.path()).unwrap();
        assert_eq!(names(&t.closure(&["xfs"]).unwrap()), ["crc32c_generic", "libcrc32c", "xfs"]);
        assert_eq!(t.provider("crc32c-intel"), Provider::Module("crc32c_intel".into()));
        assert!(t.aliases.get().is_none(), "crc32c_generic answered without a scan");
        let c = t.resolve(&["ext4"]).unwrap();
        assert_eq!(names(&c.modules), ["crc32c_generic", "jbd2", "ext4"]);
        assert_eq!(c.unresolved, [("ext4".to_string(), "gone".to_string())]);
        put("kernel/arch/x86/crypto/aesni-intel.ko", &["alias=crypto-aes", "depends="]);
        let t = ModuleTree::open(d.path()).unwrap();
        assert_eq!(t.provider("crypto-aes"), Provider::Module("aesni_intel".into()), "found by the scan");
        assert_eq!(t.provider("crypto-nosuch"), Provider::Missing);

        // depmod's files take over: modules.dep + modules.softdep + modules.alias.
        fs::write(d.path().join("modules.dep"), "kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko\n").unwrap();
        fs::write(d.path().join("modules.softdep"), "# comment\nsoftdep ext4 pre: crc32c\n").unwrap();
        fs::write(d.path().join("modules.alias"), "alias crc32c crc32c_intel\n").unwrap();
        let t = ModuleTree::open(d.path()).unwrap();
        let c = t.resolve(&["ext4"]).unwrap();
        assert_eq!(names(&c.modules), ["jbd2", "crc32c_intel", "ext4"]);
        assert!(c.unresolved.is_empty());

        // Built-ins: by name, and by alias from modules.builtin.modinfo.
        fs::remove_file(d.path().join("modules.alias")).unwrap();
        fs::write(d.path().join("modules.builtin"), "kernel/fs/jbd2/jbd2.ko\n").unwrap();
        fs::write(
            d.path().join("modules.builtin.modinfo"),
            b"crc32c_generic.alias=crc32c\0crc32c_generic.license=GPL\0",
        )
        .unwrap();
        let t = ModuleTree::open(d.path()).unwrap();
        let c = t.resolve(&["ext4", "jbd2"]).unwrap();
        assert_eq!(names(&c.modules), ["ext4"]);
        assert_eq!(c.builtin, ["crc32c_generic", "jbd2"]);
    }

    #[test]
    fn compressed_modules_unpack() {
        let d = tempfile::tempdir().unwrap();
        let ko = fake_ko(&["depends=", "alias=zz"]);
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&ko).unwrap();
            e.finish().unwrap()
        };
        let zst = zstd::encode_all(&ko[..], 3).unwrap();
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut &ko[..], &mut xz).unwrap();
        for (name, bytes) in [("a.ko.gz", &gz), ("b.ko.zst", &zst), ("c.ko.xz", &xz)] {
            let p = d.path().join(name);
            fs::write(&p, bytes).unwrap();
            assert_eq!(read_module(&p).unwrap(), ko, "{name}");
            assert_eq!(modinfo(&p).unwrap(), ["depends=", "alias=zz"], "{name}");
            let mut broken = bytes.clone();
            broken.truncate(bytes.len() / 2);
            fs::write(&p, &broken).unwrap();
            assert!(matches!(read_module(&p), Err(Error::Decompress { .. })), "{name}");
        }
    }

    /// Debian's real kernel package, when the cache has it (scripts/deps.sh).
    #[test]
    fn debian_kernel_virtio_blk_and_ext4() {
        let cache = std::env::var_os("KEXDUMP_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/kexdump"));
        let root = cache.join("linux-6.1.0-56-amd64/lib/modules/6.1.0-56-amd64");
        if !root.is_dir() {
            eprintln!("{} absent: skipped", root.display());
            return;
        }
        let t = ModuleTree::open(&root).unwrap();
        let c = t.resolve(&["virtio_pci", "virtio_blk", "ext4"]).unwrap();
        let names = names(&c.modules);
        for m in
            ["virtio_ring", "virtio", "virtio_pci", "virtio_blk", "crc16", "mbcache", "jbd2", "ext4", "crc32c_generic"]
        {
            assert!(names.contains(&m), "{m} missing from {names:?}");
        }
        let pos = |m: &str| names.iter().position(|n| *n == m).unwrap();
        assert!(pos("jbd2") < pos("ext4") && pos("virtio_ring") < pos("virtio_blk"));
        assert!(pos("crc32c_generic") < pos("jbd2"), "softdep pre: crypto-crc32c loads first");
        assert!(c.unresolved.is_empty(), "{:?}", c.unresolved);
    }
}
