//! Before arming: is the dump target there and writable? A capture kernel
//! whose target is missing waits `wait_seconds` and saves nothing; one
//! whose file system is read-only cannot write. Both are found now, on the
//! running system, where the operator can still fix them.

use crate::config::{Config, TargetSpec};
use crate::system::mounts::{self, FindError};
use std::fmt;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// No attached disk holds the target.
    Missing { target: String, why: String },
    /// Mounted read-only, or the block device is read-only.
    ReadOnly { target: String, what: String },
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Missing { target, why } => write!(
                f,
                "the dump target {target} is missing: {why}. Attach the disk, or set target.target in \
                 /etc/kexdump.toml to a file system this machine has (`lsblk -f` lists them)"
            ),
            TargetError::ReadOnly { target, what } => write!(
                f,
                "the dump target {target} is read-only ({what}): the capture kernel could not write the dump. \
                 Make it writable or choose another target in /etc/kexdump.toml"
            ),
        }
    }
}

impl std::error::Error for TargetError {}

/// Check the configuration's target on the machine under `root`.
/// For a remote target only its fallback (if any) is checked here: the
/// server is `remote_target`'s.
pub fn check(root: &Path, config: &Config) -> anyhow::Result<()> {
    let spec = config.target_spec()?;
    if let TargetSpec::Remote(_) = spec {
        return match config.fallback_spec()? {
            Some(fb) => Ok(check_spec(root, config.target.fallback.clone(), fb, &config.target.path)?),
            None => Ok(()),
        };
    }
    check_spec(root, config.target.target.clone(), spec, &config.target.path)?;
    Ok(())
}

fn check_spec(root: &Path, written: String, spec: TargetSpec, path: &str) -> Result<(), TargetError> {
    match spec {
        TargetSpec::Directory(dir) => {
            let found = mounts::locate_directory(root, &dir)
                .map_err(|why| TargetError::Missing { target: written.clone(), why })?;
            if found.mount.read_only {
                return Err(read_only(&written, &found.mount));
            }
        }
        TargetSpec::FileSystem(t) => {
            let link =
                mounts::device_link(root, &t).map_err(|why| TargetError::Missing { target: written.clone(), why })?;
            let dev = root.join(&link);
            if std::fs::metadata(&dev).is_err() {
                return Err(TargetError::Missing {
                    target: written,
                    why: format!("/{} does not exist", link.display()),
                });
            }
            if let Some(name) = std::fs::canonicalize(&dev).ok().and_then(|p| p.file_name().map(|n| n.to_owned())) {
                let ro = root.join("sys/class/block").join(&name).join("ro");
                if std::fs::read_to_string(&ro).is_ok_and(|v| v.trim() == "1") {
                    return Err(TargetError::ReadOnly {
                        target: written,
                        what: format!(
                            "the disk {} is read-only: /sys/class/block/{}/ro is 1",
                            name.to_string_lossy(),
                            name.to_string_lossy()
                        ),
                    });
                }
            }
            match mounts::find_mounted(root, &t, path) {
                Ok(m) if m.mount.read_only => return Err(read_only(&written, &m.mount))?,
                // Not mounted is fine: the capture kernel mounts it itself.
                Ok(_) | Err(FindError::NotMounted(_)) | Err(FindError::Unreadable(_)) => {}
            }
        }
        // `config.target_spec()` above: the remote target returned early.
        TargetSpec::Remote(_) => {}
    }
    Ok(())
}

fn read_only(target: &str, m: &mounts::Mount) -> TargetError {
    TargetError::ReadOnly {
        target: target.to_owned(),
        what: format!("{} on {} is mounted read-only", m.source, m.mount_point),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn tree(mountinfo: &str, config: &str) -> (tempfile::TempDir, Config) {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("proc/self")).unwrap();
        fs::write(r.join("proc/self/mountinfo"), mountinfo).unwrap();
        fs::create_dir_all(r.join("dev/disk/by-uuid")).unwrap();
        fs::create_dir_all(r.join("dev/disk/by-label")).unwrap();
        fs::create_dir_all(r.join("sys/class/block/vdb1")).unwrap();
        fs::write(r.join("sys/class/block/vdb1/ro"), "0\n").unwrap();
        for d in ["vda1", "vdb1"] {
            fs::write(r.join("dev").join(d), "").unwrap();
        }
        symlink("../../vda1", r.join("dev/disk/by-uuid/11111111-2222-3333-4444-555555555555")).unwrap();
        symlink("../../vdb1", r.join("dev/disk/by-label/crash")).unwrap();
        fs::create_dir_all(r.join("var/crash")).unwrap();
        let c = Config::parse(config, Path::new("/etc/kexdump.toml")).unwrap();
        (t, c)
    }

    const RW: &str =
        "22 1 254:1 / / rw,relatime - ext4 /dev/vda1 rw\n25 22 254:17 / /var/dumps rw - ext4 /dev/vdb1 rw\n";

    #[test]
    fn attached_and_writable_targets_pass() {
        for cfg in [
            "[target]\ntarget = \"LABEL=crash\"\n",
            "[target]\ntarget = \"/var/crash\"\n",
            "[target]\ntarget = \"/dev/vdb1\"\n",
        ] {
            let (t, c) = tree(RW, cfg);
            assert!(check(t.path(), &c).is_ok(), "{cfg}: {:?}", check(t.path(), &c).err());
        }
        // Attached but not mounted: the capture kernel mounts it.
        let (t, c) = tree("22 1 254:1 / / rw - ext4 /dev/vda1 rw\n", "[target]\ntarget = \"LABEL=crash\"\n");
        assert!(check(t.path(), &c).is_ok());
    }

    #[test]
    fn missing_targets_are_named() {
        let (t, c) = tree(RW, "[target]\ntarget = \"LABEL=nope\"\n");
        let e = check(t.path(), &c).unwrap_err().to_string();
        assert!(e.starts_with("the dump target LABEL=nope is missing: no disk holding it is attached"), "{e}");
        let (t, c) = tree(RW, "[target]\ntarget = \"/dev/sdz1\"\n");
        let e = check(t.path(), &c).unwrap_err().to_string();
        assert!(e.contains("/dev/sdz1 does not exist"), "{e}");
    }

    #[test]
    fn read_only_targets_are_refused() {
        let ro = "22 1 254:1 / / ro,relatime - ext4 /dev/vda1 rw\n25 22 254:17 / /var/dumps rw - ext4 /dev/vdb1 ro\n";
        let (t, c) = tree(ro, "[target]\ntarget = \"/var/crash\"\n");
        let e = check(t.path(), &c).unwrap_err().to_string();
        assert!(e.contains("/dev/vda1 on / is mounted read-only"), "{e}");
        let (t, c) = tree(ro, "[target]\ntarget = \"LABEL=crash\"\n");
        let e = check(t.path(), &c).unwrap_err().to_string();
        assert!(e.contains("/dev/vdb1 on /var/dumps is mounted read-only"), "{e}");
        let (t, c) = tree(RW, "[target]\ntarget = \"LABEL=crash\"\n");
        fs::write(t.path().join("sys/class/block/vdb1/ro"), "1\n").unwrap();
        let e = check(t.path(), &c).unwrap_err().to_string();
        assert!(e.contains("/sys/class/block/vdb1/ro is 1"), "{e}");
    }
}
