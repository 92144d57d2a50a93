//! Retention on the dump target, applied by the capture kernel after a
//! capture succeeded: keep at most `keep` dumps and leave `min_free` bytes
//! free, deleting the oldest first. The dump just written is never deleted,
//! and only directories that are captures (`YYYYMMDD-HHMMSS-...` holding a
//! kexdump.json, a vmcore or a dmesg.txt) are candidates: whatever else an
//! operator keeps beside them is never touched.

use kexdump_engine::capture_dir::{is_capture_name, CAPTURE_FILES};
use std::fs;
use std::io;
use std::path::Path;

/// A capture directory on the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    pub name: String,
    pub bytes: u64,
}

/// The capture directories under `base`, oldest first (names start with the
/// UTC crash time). Symlinks are never entries.
pub fn scan(base: &Path) -> io::Result<Vec<Saved>> {
    let mut out = Vec::new();
    for e in fs::read_dir(base)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !is_capture_name(&name) || !e.file_type()?.is_dir() {
            continue;
        }
        let dir = e.path();
        if !CAPTURE_FILES.iter().any(|f| fs::symlink_metadata(dir.join(f)).is_ok()) {
            continue;
        }
        let bytes = fs::read_dir(&dir)?
            .filter_map(|f| f.ok())
            .filter_map(|f| f.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum();
        out.push(Saved { name, bytes });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Which captures to delete, oldest first: while more than `keep` remain
/// (`keep` 0: no limit) or less than `min_free` bytes are free. `current`
/// is never chosen, so a target too small for the policy keeps at least
/// the newest dump.
pub fn plan(saved: &[Saved], keep: u32, min_free: u64, free: u64, current: &str) -> Vec<String> {
    let mut remaining = saved.len();
    let mut free = free;
    let mut doomed = Vec::new();
    for s in saved.iter().filter(|s| s.name != current) {
        let too_many = keep > 0 && remaining > keep as usize;
        let too_full = free < min_free;
        if !too_many && !too_full {
            break;
        }
        doomed.push(s.name.clone());
        remaining -= 1;
        free = free.saturating_add(s.bytes);
    }
    doomed
}

/// Delete one capture directory: its regular files and the directory. A
/// symlink or subdirectory inside stops the deletion (we did not make it).
pub fn remove(base: &Path, name: &str) -> io::Result<()> {
    let dir = base.join(name);
    let mut files = Vec::new();
    for e in fs::read_dir(&dir)? {
        let e = e?;
        if !e.file_type()?.is_file() {
            return Err(io::Error::other(format!("{} is not a regular file; left in place", e.path().display())));
        }
        files.push(e.path());
    }
    for f in files {
        fs::remove_file(f)?;
    }
    fs::remove_dir(&dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str, bytes: u64) -> Saved {
        Saved { name: name.into(), bytes }
    }

    #[test]
    fn keeps_the_newest_and_never_the_current() {
        let all = [s("20260101-000000-a", 10), s("20260102-000000-a", 10), s("20260103-000000-a", 10)];
        assert_eq!(plan(&all, 2, 0, 1000, "20260103-000000-a"), ["20260101-000000-a"]);
        assert_eq!(plan(&all, 0, 0, 0, "20260103-000000-a"), Vec::<String>::new(), "no policy, nothing goes");
        assert_eq!(plan(&all, 3, 0, 0, "x"), Vec::<String>::new());
        // Free space: delete until 25 bytes are free.
        assert_eq!(plan(&all, 0, 25, 5, "20260103-000000-a"), ["20260101-000000-a", "20260102-000000-a"]);
        // Never the current one, even when the policy cannot be met.
        assert_eq!(plan(&all, 1, 1 << 40, 0, "20260101-000000-a"), ["20260102-000000-a", "20260103-000000-a"]);
    }

    #[test]
    fn scans_only_captures_and_removes_only_regular_files() {
        let d = tempfile::tempdir().unwrap();
        let b = d.path();
        for n in ["20260102-000000-h", "20260101-000000-h", "20260103-000000-h"] {
            fs::create_dir(b.join(n)).unwrap();
            fs::write(b.join(n).join("vmcore"), [0u8; 100]).unwrap();
            fs::write(b.join(n).join("kexdump.json"), b"{}").unwrap();
        }
        fs::create_dir(b.join("notes")).unwrap();
        fs::create_dir(b.join("20260104-000000-empty")).unwrap();
        std::os::unix::fs::symlink(b.join("20260101-000000-h"), b.join("20260105-000000-link")).unwrap();
        let found = scan(b).unwrap();
        let names: Vec<_> = found.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["20260101-000000-h", "20260102-000000-h", "20260103-000000-h"]);
        assert_eq!(found[0].bytes, 102);

        remove(b, "20260101-000000-h").unwrap();
        assert!(!b.join("20260101-000000-h").exists());
        std::os::unix::fs::symlink("/etc/passwd", b.join("20260102-000000-h/evil")).unwrap();
        assert!(remove(b, "20260102-000000-h").unwrap_err().to_string().contains("not a regular file"));
        assert!(b.join("20260102-000000-h/vmcore").exists(), "nothing deleted when something is foreign");
        assert!(Path::new("/etc/passwd").exists());
        assert!(!is_capture_name("2026010-000000-x") && !is_capture_name("20260101-000000"));
    }
}
