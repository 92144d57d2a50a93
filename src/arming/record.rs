//! `/var/lib/kexdump/armed.json`: what was armed, when and how. Written
//! after each load, removed by disarming, read by `kexdump status`.

use super::loader::Loader;
use super::prepare::Prepared;
use crate::json_file;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What is armed ([`Armed`]), written after each load, removed by disarm.
pub const ARMED_RECORD: &str = "var/lib/kexdump/armed.json";

/// `/var/lib/kexdump/armed.json`: what was loaded, when and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Armed {
    /// UTC, `2026-11-22T03:04:05Z`.
    pub time: String,
    pub time_unix: i64,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub initrd_bytes: u64,
    pub cmdline: String,
    /// `kexec_file_load` or `kexec-tools`.
    pub method: String,
    /// The capture initramfs's inputs digest; `None` for an `--initrd`.
    pub inputs_digest: Option<String>,
    pub kexdump_version: String,
}

impl Armed {
    pub fn new(p: &Prepared, loader: Loader, now: SystemTime) -> Armed {
        let t = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        Armed {
            time: kexdump_engine::capture_dir::time::iso8601(t),
            time_unix: t,
            kernel: p.plan.sizes.kernel.clone(),
            initrd: p.plan.sizes.initrd.clone(),
            initrd_bytes: p.plan.sizes.initrd_size,
            cmdline: p.plan.cmdline.clone(),
            method: loader.name().to_owned(),
            inputs_digest: p.image.as_ref().map(|i| i.digest.clone()),
            kexdump_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// Write `<root>/var/lib/kexdump/armed.json` (its directory made 0700 if
/// missing; the file 0600, replaced atomically).
pub fn write_armed(root: &Path, armed: &Armed) -> Result<PathBuf> {
    let path = root.join(ARMED_RECORD);
    if let Some(dir) = path.parent().filter(|d| !d.exists()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    json_file::write(&path, armed)?;
    Ok(path)
}

/// Remove the record of what is armed; whether there was one.
pub fn remove_armed(root: &Path) -> io::Result<bool> {
    match std::fs::remove_file(root.join(ARMED_RECORD)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The record of what is armed, if there is one: `Err` names the file when
/// it is unreadable.
pub fn read_armed(root: &Path) -> Result<Option<Armed>, String> {
    crate::json_file::read_optional(&root.join(ARMED_RECORD))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arming::capture_image::fixture::System;
    use crate::arming::plan::fixture::Tree;
    use crate::arming::prepare::fixture::arm_args;
    use crate::arming::prepare::prepare;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn armed_record_is_written_and_removed() {
        let sys = System::new();
        let p = prepare(sys.root(), &arm_args(&sys, &[])).expect("prepare");
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let armed = Armed::new(&p, Loader::Syscall, t);
        assert_eq!((armed.time.as_str(), armed.time_unix), ("2023-11-14T22:13:20Z", 1_700_000_000));
        assert_eq!(armed.inputs_digest.as_deref(), Some(p.image.as_ref().unwrap().digest.as_str()));
        assert_eq!((armed.initrd.clone(), armed.method.as_str()), (sys.image(), "kexec_file_load"));
        assert_eq!(armed.initrd_bytes, fs::metadata(sys.image()).unwrap().len());
        assert_eq!(armed.cmdline, p.plan.cmdline);

        let path = write_armed(sys.root(), &armed).expect("write");
        assert_eq!(path, sys.path(ARMED_RECORD));
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let back: Armed = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(back, armed);
        assert!(remove_armed(sys.root()).unwrap());
        assert!(!path.exists());
        assert!(!remove_armed(sys.root()).unwrap(), "not armed: nothing to remove, no error");

        // An --initrd arming has no inputs digest; the directory is made 0700.
        let t2 = Tree::new();
        let armed = Armed::new(&Prepared { plan: t2.plan().unwrap(), image: None }, Loader::KexecTools, t);
        assert_eq!((armed.inputs_digest, armed.method.as_str()), (None, "kexec-tools"));
        write_armed(t2.root(), &Armed::new(&Prepared { plan: t2.plan().unwrap(), image: None }, Loader::Syscall, t))
            .unwrap();
        let dir = fs::metadata(t2.root().join("var/lib/kexdump")).unwrap();
        assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    }
}
