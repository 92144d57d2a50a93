//! Kernel modules for the capture initramfs: find a module by name under
//! `lib/modules/<release>/`, and its dependency closure, in load order
//! (dependencies first). Dependencies come from `modules.dep` when the tree
//! has one, else from each module's `.modinfo` section (`depends=`), which
//! Debian's kernel package needs: it ships no `modules.dep`.
//! Functions take the modules directory, so tests run on a fake tree.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub enum Error {
    Io {
        path: PathBuf,
        source: std::io::Error,
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
    /// A compressed module in a format we do not unpack.
    Compressed {
        path: PathBuf,
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
                write!(f, "{}: compressed modules (.ko.xz/.ko.zst/.ko.gz) are not supported yet", path.display())
            }
        }
    }
}

impl std::error::Error for Error {}

/// Module names compare with `-` and `_` equal, as the kernel does.
pub fn canonical(name: &str) -> String {
    name.replace('-', "_")
}

fn module_name(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    let stem = file.split(".ko").next()?;
    (file.contains(".ko")).then(|| canonical(stem))
}

pub struct ModuleTree {
    root: PathBuf,
    /// canonical name -> path relative to root
    paths: BTreeMap<String, PathBuf>,
    /// from modules.dep, when present: canonical name -> dependencies
    dep_file: Option<BTreeMap<String, Vec<String>>>,
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
        let dep_path = root.join("modules.dep");
        let dep_file = match fs::read_to_string(&dep_path) {
            Ok(text) => Some(parse_modules_dep(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(Error::Io { path: dep_path, source }),
        };
        Ok(ModuleTree { root: root.to_path_buf(), paths, dep_file })
    }

    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.paths.get(&canonical(name)).map(|p| self.root.join(p))
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

    /// `names` and everything they need, each once, dependencies first.
    pub fn closure(&self, names: &[&str]) -> Result<Vec<(String, PathBuf)>, Error> {
        let mut order = Vec::new();
        let mut done = BTreeSet::new();
        for n in names {
            self.visit(&canonical(n), None, &mut done, &mut BTreeSet::new(), &mut order)?;
        }
        Ok(order)
    }

    fn visit(
        &self,
        name: &str,
        needed_by: Option<&str>,
        done: &mut BTreeSet<String>,
        on_path: &mut BTreeSet<String>,
        order: &mut Vec<(String, PathBuf)>,
    ) -> Result<(), Error> {
        if done.contains(name) || !on_path.insert(name.to_owned()) {
            return Ok(()); // already placed, or a dependency cycle (the kernel refuses those; so do not loop)
        }
        let path = self
            .path(name)
            .ok_or_else(|| Error::NotFound { name: name.to_owned(), needed_by: needed_by.map(str::to_owned) })?;
        for dep in self.depends(name)? {
            self.visit(&dep, Some(name), done, on_path, order)?;
        }
        on_path.remove(name);
        done.insert(name.to_owned());
        order.push((name.to_owned(), path));
        Ok(())
    }
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

/// The NUL-separated `key=value` strings of a module's `.modinfo` section.
pub fn modinfo(path: &Path) -> Result<Vec<String>, Error> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !name.ends_with(".ko") {
        return Err(Error::Compressed { path: path.to_owned() });
    }
    let data = fs::read(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    let bad = |why: &str| Error::BadModule { path: path.to_owned(), why: why.into() };
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| data.get(o..o + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()));
    let u64_at = |o: usize| data.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
    if data.get(..5) != Some(b"\x7fELF\x02") {
        return Err(bad("not an ELF64 object"));
    }
    let shoff = u64_at(40).ok_or_else(|| bad("truncated ELF header"))? as usize;
    let shentsize = u16_at(58).unwrap_or(0) as usize;
    let shnum = u16_at(60).unwrap_or(0) as usize;
    let shstrndx = u16_at(62).unwrap_or(0) as usize;
    if shentsize != 64 || shstrndx >= shnum {
        return Err(bad("unexpected section header table"));
    }
    let section = |i: usize| -> Option<(u32, usize, usize)> {
        let h = shoff.checked_add(i.checked_mul(64)?)?;
        Some((u32_at(h)?, u64_at(h + 24)? as usize, u64_at(h + 32)? as usize))
    };
    let (_, str_off, str_size) = section(shstrndx).ok_or_else(|| bad("section headers past the end"))?;
    let strtab = data.get(str_off..str_off.saturating_add(str_size)).ok_or_else(|| bad("bad .shstrtab"))?;
    for i in 0..shnum {
        let (name_off, off, size) = section(i).ok_or_else(|| bad("section headers past the end"))?;
        let sname = strtab.get(name_off as usize..).and_then(|s| s.split(|&b| b == 0).next()).unwrap_or(b"");
        if sname == b".modinfo" {
            let body = data.get(off..off.saturating_add(size)).ok_or_else(|| bad(".modinfo past the end"))?;
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

    /// A minimal ELF64 relocatable with a `.modinfo` section.
    fn fake_ko(modinfo: &[&str]) -> Vec<u8> {
        let mut info: Vec<u8> = Vec::new();
        for kv in modinfo {
            info.extend_from_slice(kv.as_bytes());
            info.push(0);
        }
        let shstr = b"\0.modinfo\0.shstrtab\0";
        let info_off = 64;
        let str_off = info_off + info.len();
        let shoff = (str_off + shstr.len()).div_ceil(8) * 8;
        let mut f = vec![0u8; shoff + 3 * 64];
        f[..5].copy_from_slice(b"\x7fELF\x02");
        f[5] = 1;
        f[40..48].copy_from_slice(&(shoff as u64).to_le_bytes());
        f[58..60].copy_from_slice(&64u16.to_le_bytes());
        f[60..62].copy_from_slice(&3u16.to_le_bytes());
        f[62..64].copy_from_slice(&2u16.to_le_bytes());
        f[info_off..str_off].copy_from_slice(&info);
        f[str_off..str_off + shstr.len()].copy_from_slice(shstr);
        let mut sh = |i: usize, name: u32, off: usize, size: usize| {
            let h = shoff + i * 64;
            f[h..h + 4].copy_from_slice(&name.to_le_bytes());
            f[h + 24..h + 32].copy_from_slice(&(off as u64).to_le_bytes());
            f[h + 32..h + 40].copy_from_slice(&(size as u64).to_le_bytes());
        };
        sh(1, 1, info_off, info.len());
        sh(2, 10, str_off, shstr.len());
        f
    }

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
        let names: Vec<String> = t.closure(&["virtio-blk", "ext4"]).unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["virtio", "virtio_ring", "virtio_blk", "mbcache", "jbd2", "crc16", "ext4"]);
    }

    #[test]
    fn modules_dep_wins_and_missing_modules_are_named() {
        let d = tree(&[("kernel/a.ko", "b"), ("kernel/b.ko", ""), ("kernel/c.ko", "")]);
        fs::write(d.path().join("modules.dep"), "kernel/a.ko: kernel/c.ko\nkernel/b.ko:\nkernel/c.ko:\n").unwrap();
        let t = ModuleTree::open(d.path()).unwrap();
        let names: Vec<String> = t.closure(&["a"]).unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["c", "a"]);

        let d = tree(&[("kernel/a.ko", "gone")]);
        let t = ModuleTree::open(d.path()).unwrap();
        match t.closure(&["a"]) {
            Err(e @ Error::NotFound { .. }) => assert_eq!(e.to_string(), "module gone (needed by a) not found"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cycle_does_not_loop_and_garbage_is_an_error() {
        let d = tree(&[("kernel/a.ko", "b"), ("kernel/b.ko", "a")]);
        let t = ModuleTree::open(d.path()).unwrap();
        assert_eq!(t.closure(&["a"]).unwrap().len(), 2);
        fs::write(d.path().join("kernel/a.ko"), b"not elf").unwrap();
        assert!(matches!(modinfo(&d.path().join("kernel/a.ko")), Err(Error::BadModule { .. })));
        fs::write(d.path().join("kernel/x.ko.xz"), b"").unwrap();
        let t = ModuleTree::open(d.path()).unwrap();
        assert!(matches!(t.depends("x"), Err(Error::Compressed { .. })));
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
        let names: Vec<String> = t.closure(&["virtio_blk", "ext4"]).unwrap().into_iter().map(|(n, _)| n).collect();
        for m in ["virtio_ring", "virtio", "virtio_blk", "crc16", "mbcache", "jbd2", "ext4"] {
            assert!(names.contains(&m.to_string()), "{m} missing from {names:?}");
        }
        let pos = |m: &str| names.iter().position(|n| n == m).unwrap();
        assert!(pos("jbd2") < pos("ext4") && pos("virtio_ring") < pos("virtio_blk"));
    }
}
