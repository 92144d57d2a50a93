//! What an operator may name where a dump is read (`save`, `convert`,
//! `dmesg`, `inspect`, `verify`): a dump file, a capture directory as
//! `kexdump list` prints it (its dump is read), `latest` (the newest capture
//! on the configured dump target), or /proc/vmcore. Checked before the
//! engine opens anything, so that a slip gets an error that says what to do
//! instead of "No such file" or "empty".

use crate::config::Config;
use crate::dump_target::location::{config_dump_root, under_root};
use crate::dumps::{self, is_whole_dump, DUMP, DUMP_NAMES};
use anyhow::{bail, Context, Result};
use std::fs;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// The word that names the newest capture.
pub const LATEST: &str = "latest";
const PROC_VMCORE: &str = "/proc/vmcore";

/// [`resolve`] for each argument.
pub fn resolve_all(root: &Path, args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    args.iter().map(|a| resolve(root, a)).collect()
}

/// The file to read for `arg` on the machine under `root` (`/` but in
/// tests): `arg` itself when it is a file, else what it names.
pub fn resolve(root: &Path, arg: &Path) -> Result<PathBuf> {
    let md = match fs::metadata(arg) {
        Ok(md) => md,
        Err(e) if e.kind() == io::ErrorKind::NotFound && arg == Path::new(LATEST) => return latest(root),
        Err(e) if e.kind() == io::ErrorKind::NotFound && arg == Path::new(PROC_VMCORE) => bail!(
            "{PROC_VMCORE} does not exist: this kernel was not booted by a crash. It exists only in the \
             capture kernel, where kexdump-capture saves it by itself; here, read a saved dump (kexdump list \
             shows them, `kexdump inspect latest` reads the newest) or a copy of a vmcore"
        ),
        // The engine's error names the file and the OS error.
        Err(_) => return Ok(arg.to_owned()),
    };
    let ft = md.file_type();
    if md.is_dir() {
        return dump_in(arg);
    }
    if ft.is_char_device() {
        bail!(
            "{} is a character device, not a dump: name a vmcore (/proc/vmcore in the capture kernel, or a \
             copy), a saved dump or a capture directory",
            arg.display()
        );
    }
    if ft.is_fifo() || ft.is_socket() {
        bail!(
            "{} is a {}: dumps are read at random offsets, so a stream must be saved to a file first \
             (`cat STREAM > vmcore.flat`, then `kexdump convert vmcore.flat vmcore`)",
            arg.display(),
            if ft.is_fifo() { "FIFO (a pipe)" } else { "socket" }
        );
    }
    Ok(arg.to_owned())
}

/// The dump of a capture directory: `vmcore` or `vmcore.flat`, else a
/// partial one.
fn dump_in(dir: &Path) -> Result<PathBuf> {
    for name in DUMP_NAMES {
        let p = dir.join(name);
        if fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) {
            if !is_whole_dump(name) {
                eprintln!("kexdump: note: {} holds only a partial dump: reading {name}", dir.display());
            }
            return Ok(p);
        }
    }
    bail!("{} is a directory without a dump ({}): name a dump file", dir.display(), DUMP_NAMES.join(", "))
}

/// The dump of the newest capture on the configured target.
fn latest(root: &Path) -> Result<PathBuf> {
    let config = Config::load(root, None).context("finding the latest capture: reading the configuration")?;
    let dir = config_dump_root(root, &config, "").context("finding the latest capture")?;
    let on_disk = under_root(root, &dir);
    let scan = dumps::scan(&on_disk).with_context(|| format!("finding the latest capture in {}", dir.display()))?;
    let Some(newest) = scan.dumps.iter().rev().find(|d| d.dump_file.is_some()) else {
        bail!("no capture with a dump in {} (kexdump list shows what is there)", dir.display());
    };
    let file = newest.dump_file.as_deref().unwrap_or(DUMP);
    eprintln!("kexdump: latest: {}", dir.join(&newest.dir).join(file).display());
    Ok(on_disk.join(&newest.dir).join(file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dumps::tests::{capture, record_json};
    use crate::dumps::DUMP_INCOMPLETE;
    use std::os::unix::net::UnixListener;

    fn err(root: &Path, arg: &str) -> String {
        format!("{:#}", resolve(root, Path::new(arg)).unwrap_err())
    }

    #[test]
    fn files_pass_devices_and_streams_are_named() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("vmcore");
        fs::write(&f, b"x").unwrap();
        assert_eq!(resolve(t.path(), &f).unwrap(), f);
        let missing = t.path().join("nope");
        assert_eq!(resolve(t.path(), &missing).unwrap(), missing, "the engine names a missing file");
        assert!(err(t.path(), "/dev/zero").contains("/dev/zero is a character device, not a dump"));
        let fifo = t.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(err(t.path(), fifo.to_str().unwrap()).contains("is a FIFO (a pipe): dumps are read at random"));
        let sock = t.path().join("sock");
        let _l = UnixListener::bind(&sock).unwrap();
        assert!(err(t.path(), sock.to_str().unwrap()).contains("is a socket"));
    }

    #[test]
    fn proc_vmcore_outside_a_capture_kernel_says_where_it_exists() {
        if Path::new(PROC_VMCORE).exists() {
            return; // running in a capture kernel: nothing to say
        }
        let e = err(Path::new("/"), PROC_VMCORE);
        assert!(e.contains("this kernel was not booted by a crash") && e.contains("kexdump inspect latest"), "{e}");
    }

    #[test]
    fn a_capture_directory_reads_its_dump() {
        let t = tempfile::tempdir().unwrap();
        let json = record_json("complete", DUMP, 1, 1_795_316_645, "h");
        capture(t.path(), "20261122-030405-h", &[(DUMP, b"1"), (dumps::RECORD, json.as_bytes())]);
        capture(t.path(), "20261122-040405-h", &[(DUMP_INCOMPLETE, b"1")]);
        capture(t.path(), "20261122-050405-h", &[(dumps::DMESG, b"log")]);
        let d = t.path().join("20261122-030405-h");
        assert_eq!(resolve(t.path(), &d).unwrap(), d.join(DUMP));
        let d = t.path().join("20261122-040405-h");
        assert_eq!(resolve(t.path(), &d).unwrap(), d.join(DUMP_INCOMPLETE));
        let d = t.path().join("20261122-050405-h");
        assert!(err(t.path(), d.to_str().unwrap()).contains("is a directory without a dump (vmcore, vmcore.flat,"));
        // What an ssh target received: the stream, whole or cut short.
        capture(t.path(), "20261122-060405-h", &[(dumps::DUMP_FLAT, b"1")]);
        let d = t.path().join("20261122-060405-h");
        assert_eq!(resolve(t.path(), &d).unwrap(), d.join(dumps::DUMP_FLAT));
        capture(t.path(), "20261122-070405-h", &[(dumps::DUMP_FLAT_INCOMPLETE, b"1")]);
        let d = t.path().join("20261122-070405-h");
        assert_eq!(resolve(t.path(), &d).unwrap(), d.join(dumps::DUMP_FLAT_INCOMPLETE));
    }

    #[test]
    fn latest_is_the_newest_capture_holding_a_dump() {
        let root = tempfile::tempdir().unwrap();
        let crash = root.path().join("var/crash");
        fs::create_dir_all(root.path().join("etc")).unwrap();
        fs::write(root.path().join("etc/kexdump.toml"), "[target]\ntarget = \"/var/crash\"\n").unwrap();
        // Only `latest` in the working directory would shadow the word;
        // the tests do not run where one exists.
        assert!(!Path::new(LATEST).exists());
        fs::create_dir_all(&crash).unwrap();
        let e = err(root.path(), LATEST);
        assert!(e.contains("no capture with a dump in /var/crash"), "{e}");
        capture(&crash, "20261122-030405-h", &[(DUMP, b"1")]);
        capture(&crash, "20261122-040405-h", &[(DUMP_INCOMPLETE, b"1")]);
        capture(&crash, "20261122-050405-h", &[(dumps::DMESG, b"log only")]);
        assert_eq!(
            resolve(root.path(), Path::new(LATEST)).unwrap(),
            crash.join("20261122-040405-h").join(DUMP_INCOMPLETE)
        );
    }
}
