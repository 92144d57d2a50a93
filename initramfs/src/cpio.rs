//! The cpio "newc" format (070701) the kernel unpacks as an initramfs
//! (Documentation/driver-api/early-userspace/buffer-format.rst):
//! a 110-byte ASCII header of thirteen 8-digit hex fields, the NUL-ended
//! name padded to 4 bytes, the data padded to 4 bytes, and a final
//! `TRAILER!!!` entry. Archives are deterministic: inode numbers count up
//! from 1, owner root, mtime fixed, entries in the order given.

use std::io::{self, Write};

const MAGIC: &[u8; 6] = b"070701";
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

pub struct Writer<W: Write> {
    out: W,
    next_ino: u32,
    mtime: u32,
    written: u64,
}

impl<W: Write> Writer<W> {
    /// `mtime` is stamped on every entry (e.g. SOURCE_DATE_EPOCH, or 0).
    pub fn new(out: W, mtime: u32) -> Writer<W> {
        Writer { out, next_ino: 1, mtime, written: 0 }
    }

    pub fn dir(&mut self, path: &str, perm: u32) -> io::Result<()> {
        self.entry(path, S_IFDIR | (perm & 0o7777), 2, (0, 0), &[])
    }

    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        self.entry(path, S_IFREG | (perm & 0o7777), 1, (0, 0), data)
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.entry(path, S_IFLNK | 0o777, 1, (0, 0), target.as_bytes())
    }

    /// A character device node, e.g. /dev/console (5, 1), needed before
    /// devtmpfs is mounted.
    pub fn char_dev(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> io::Result<()> {
        self.entry(path, S_IFCHR | (perm & 0o7777), 1, (major, minor), &[])
    }

    /// Write the trailer and return the sink and the archive size.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        self.header("TRAILER!!!", 0, 0, 1, (0, 0), 0)?;
        self.out.flush()?;
        Ok((self.out, self.written))
    }

    fn entry(&mut self, path: &str, mode: u32, nlink: u32, rdev: (u32, u32), data: &[u8]) -> io::Result<()> {
        let path = path.trim_start_matches('/');
        if path.is_empty() || path.contains('\0') || path.split('/').any(|c| c == "..") {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad archive path {path:?}")));
        }
        let size = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("{path}: over 4 GiB")))?;
        let ino = self.next_ino;
        self.next_ino += 1;
        self.header(path, ino, mode, nlink, rdev, size)?;
        self.put(data)?;
        self.pad()
    }

    fn header(&mut self, name: &str, ino: u32, mode: u32, nlink: u32, rdev: (u32, u32), size: u32) -> io::Result<()> {
        let fields = [ino, mode, 0, 0, nlink, self.mtime, size, 0, 0, rdev.0, rdev.1, name.len() as u32 + 1, 0];
        let mut h = Vec::with_capacity(110 + name.len() + 4);
        h.extend_from_slice(MAGIC);
        for f in fields {
            h.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        h.extend_from_slice(name.as_bytes());
        h.push(0);
        self.put(&h)?;
        self.pad()
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> io::Result<()> {
        let n = (4 - self.written % 4) % 4;
        self.put(&[0u8; 3][..n as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), 0);
        w.dir("dev", 0o755).unwrap();
        w.char_dev("dev/console", 0o600, 5, 1).unwrap();
        w.dir("/lib", 0o755).unwrap();
        w.file("init", 0o755, b"#!/bin/sh\necho hi\n").unwrap();
        w.symlink("bin", "lib").unwrap();
        w.file("lib/empty", 0o644, b"").unwrap();
        w.finish().unwrap().0
    }

    #[test]
    fn layout_is_newc_and_deterministic() {
        let a = sample();
        assert_eq!(a, sample(), "same inputs, same bytes");
        assert_eq!(a.len() % 4, 0);
        assert_eq!(&a[..6], b"070701");
        // First entry: ino 1, a directory 0755, name "dev" (namesize 4).
        assert_eq!(&a[6..14], b"00000001");
        assert_eq!(&a[14..22], b"000041ed");
        assert_eq!(&a[94..102], b"00000004");
        assert_eq!(&a[110..114], b"dev\0");
        assert!(a.windows(11).any(|w| w == b"TRAILER!!!\0"));
        assert!(Writer::new(Vec::new(), 0).file("../x", 0o644, b"").is_err());
    }

    /// The real peer: GNU cpio lists and extracts what we wrote.
    #[test]
    fn gnu_cpio_reads_it() {
        let Ok(cpio) = which("cpio") else {
            eprintln!("cpio not installed (scripts/deps.sh installs it): skipped");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let arch = dir.path().join("a.cpio");
        std::fs::write(&arch, sample()).unwrap();
        let out = std::process::Command::new(&cpio).args(["-t", "-v", "-F"]).arg(&arch).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let list = String::from_utf8_lossy(&out.stdout);
        for name in ["dev/console", "lib/empty", "init", "bin -> lib"] {
            assert!(list.contains(name), "{name} missing from:\n{list}");
        }
        let x = dir.path().join("x");
        std::fs::create_dir(&x).unwrap();
        let st = std::process::Command::new(&cpio)
            .args(["-i", "-d", "--no-absolute-filenames", "-F"])
            .arg(&arch)
            .current_dir(&x)
            .output()
            .unwrap();
        assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
        assert_eq!(std::fs::read(x.join("init")).unwrap(), b"#!/bin/sh\necho hi\n");
    }

    fn which(cmd: &str) -> Result<std::path::PathBuf, ()> {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|d| d.join(cmd))
            .find(|p| p.is_file())
            .ok_or(())
    }
}
