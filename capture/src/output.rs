//! Creating dump files safely: `NAME.incomplete` is created exclusively
//! (never following a symlink, mode 0600), written, fsynced, then renamed
//! to `NAME` and the directory fsynced, so a dump appears whole or is
//! visibly incomplete, and nobody else can read it meanwhile.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const INCOMPLETE_SUFFIX: &str = ".incomplete";

pub struct AtomicFile {
    pub file: File,
    tmp: PathBuf,
    dest: PathBuf,
    /// Whether `commit` may replace an existing `dest` (records such as
    /// kexdump.json are rewritten; dumps never are).
    replace: bool,
}

impl AtomicFile {
    /// Create `dest.incomplete`. Fails if `dest` already exists (we never
    /// overwrite a dump) or if the temporary name exists (a symlink planted
    /// there is not followed: O_EXCL|O_NOFOLLOW).
    pub fn create(dest: &Path) -> io::Result<AtomicFile> {
        if fs::symlink_metadata(dest).is_ok() {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} already exists", dest.display())));
        }
        Self::open_tmp(dest, false)
    }

    /// Like [`AtomicFile::create`], but `commit` atomically replaces an
    /// existing `dest` (the rename swaps the directory entry; a symlink at
    /// `dest` is replaced, not followed).
    /// A `dest.incomplete` left by an interrupted earlier run is removed
    /// first (unlink does not follow a symlink), or every later rebuild
    /// would fail.
    pub fn replacing(dest: &Path) -> io::Result<AtomicFile> {
        let mut tmp = dest.as_os_str().to_owned();
        tmp.push(INCOMPLETE_SUFFIX);
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("removing a stale {}: {e}", PathBuf::from(&tmp).display()),
                ))
            }
            _ => {}
        }
        Self::open_tmp(dest, true)
    }

    fn open_tmp(dest: &Path, replace: bool) -> io::Result<AtomicFile> {
        let mut tmp = dest.as_os_str().to_owned();
        tmp.push(INCOMPLETE_SUFFIX);
        let tmp = PathBuf::from(tmp);
        let file = OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", tmp.display())))?;
        // The name must be durable before the data: after a power cut a
        // file whose data reached the disk is then also in its directory.
        sync_dir(dest)
            .map_err(|e| io::Error::new(e.kind(), format!("syncing the directory of {}: {e}", tmp.display())))?;
        Ok(AtomicFile { file, tmp, dest: dest.to_owned(), replace })
    }

    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// fsync the data, rename into place, fsync the directory.
    pub fn commit(self) -> io::Result<PathBuf> {
        self.file.sync_all()?;
        if !self.replace && fs::symlink_metadata(&self.dest).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} appeared meanwhile", self.dest.display()),
            ));
        }
        fs::rename(&self.tmp, &self.dest)?;
        sync_dir(&self.dest)?;
        Ok(self.dest)
    }
}

/// fsync the directory holding `path`.
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn appears_whole_with_0600_and_refuses_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("dump");
        let mut f = AtomicFile::create(&dest).unwrap();
        f.file.write_all(b"x").unwrap();
        assert!(!dest.exists());
        assert!(d.path().join("dump.incomplete").exists());
        f.commit().unwrap();
        assert_eq!(fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(AtomicFile::create(&dest).is_err(), "never overwrites");

        let dest2 = d.path().join("other");
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("other.incomplete")).unwrap();
        assert!(AtomicFile::create(&dest2).is_err(), "a planted symlink is not followed");

        let mut r = AtomicFile::replacing(&dest).unwrap();
        r.file.write_all(b"y").unwrap();
        r.commit().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"y", "replacing swaps the record in");
        fs::write(d.path().join("dump.incomplete"), b"stale").unwrap();
        let mut r = AtomicFile::replacing(&dest).unwrap();
        r.file.write_all(b"z").unwrap();
        r.commit().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"z", "a stale temporary file does not block replacing");
    }
}
