//! What the running kernel says about kexec, read under the root
//! directory: the size of the crashkernel= reservation, whether a crash
//! kernel is loaded, the primary kernel's command line, and what may
//! refuse a load (kexec switched off, lockdown).

use super::error::ArmError;
use std::io;
use std::path::{Path, PathBuf};

/// The size of the crashkernel= reservation, in bytes.
pub const CRASH_SIZE: &str = "sys/kernel/kexec_crash_size";
/// `1` while a crash kernel is loaded.
pub const CRASH_LOADED: &str = "sys/kernel/kexec_crash_loaded";
/// The primary kernel's command line.
pub const PROC_CMDLINE: &str = "proc/cmdline";
/// The CPUs online now, as a list of ranges (`0-3,6`).
pub const CPUS_ONLINE: &str = "sys/devices/system/cpu/online";
/// `1` once `sysctl kernel.kexec_load_disabled=1` ran (until reboot).
pub const LOAD_DISABLED: &str = "proc/sys/kernel/kexec_load_disabled";
/// The kernel lockdown mode, the active one in brackets.
pub const LOCKDOWN: &str = "sys/kernel/security/lockdown";

fn read_text(root: &Path, rel: &str) -> Result<(PathBuf, String), ArmError> {
    let path = root.join(rel);
    match std::fs::read(&path) {
        Ok(b) => Ok((path, String::from_utf8_lossy(&b).into_owned())),
        Err(source) => Err(ArmError::Read { path, source }),
    }
}

/// The primary kernel's command line.
pub fn primary_cmdline(root: &Path) -> Result<String, ArmError> {
    read_text(root, PROC_CMDLINE).map(|(_, text)| text)
}

/// How many CPUs are online in the running kernel, from the kernel's list
/// of ranges; `None` when it cannot be read or parsed (a fake root, a
/// container without sysfs): only a warning depends on it.
pub fn online_cpus(root: &Path) -> Option<u32> {
    let (_, text) = read_text(root, CPUS_ONLINE).ok()?;
    let mut n = 0u32;
    for part in text.trim().split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b) = (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?);
        n = n.checked_add(b.checked_sub(a)?.checked_add(1)?)?;
    }
    Some(n)
}

/// The size of the crashkernel= reservation, which must not be 0.
pub fn crash_size(root: &Path) -> Result<u64, ArmError> {
    let (path, text) = match read_text(root, CRASH_SIZE) {
        Err(ArmError::Read { path, source }) if source.kind() == io::ErrorKind::NotFound => {
            return Err(ArmError::NoCrashSupport { path })
        }
        r => r?,
    };
    match text.trim().parse::<u64>() {
        Ok(0) => Err(ArmError::NoReservation { path }),
        Ok(n) => Ok(n),
        Err(_) => Err(ArmError::Malformed { path, content: text }),
    }
}

/// Whether a crash kernel is loaded.
pub fn crash_loaded(root: &Path) -> Result<bool, ArmError> {
    let (path, text) = read_text(root, CRASH_LOADED)?;
    match text.trim() {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(ArmError::Malformed { path, content: text }),
    }
}

/// Other kdump services' units that are enabled on the machine under
/// `root` (they load their own capture kernel into the same reservation).
pub fn other_kdump_services(root: &Path) -> Vec<&'static str> {
    ["kdump-tools.service", "kdump.service"]
        .into_iter()
        .filter(|u| {
            ["etc/systemd/system/multi-user.target.wants", "etc/systemd/system/basic.target.wants"]
                .iter()
                .any(|d| root.join(d).join(u).symlink_metadata().is_ok())
        })
        .collect()
}

/// After a load: the kernel must report the crash kernel as loaded.
pub fn check_loaded(root: &Path) -> Result<(), ArmError> {
    let (path, text) = read_text(root, CRASH_LOADED)?;
    if text.trim() == "1" {
        Ok(())
    } else {
        Err(ArmError::NotLoaded { path, content: text })
    }
}

/// After an unload: the kernel must report no crash kernel.
pub fn check_unloaded(root: &Path) -> Result<(), ArmError> {
    if crash_loaded(root)? {
        Err(ArmError::StillLoaded { path: root.join(CRASH_LOADED) })
    } else {
        Ok(())
    }
}

/// Whether kexec is switched off until reboot (`kernel.kexec_load_disabled`).
pub fn load_disabled(root: &Path) -> bool {
    read_text(root, LOAD_DISABLED).is_ok_and(|(_, t)| t.trim() == "1")
}

/// Whether a lockdown mode other than `none` is active. Unknown (no
/// securityfs, or no lockdown LSM) counts as active when the kernel was
/// built to check signatures: we cannot tell, so the signature
/// explanation, which names the file to check, is the safer one.
pub fn lockdown_active(root: &Path) -> bool {
    match lockdown(root) {
        Some((_, mode)) => !mode.contains("[none]"),
        None => true,
    }
}

/// The lockdown state, when the kernel reports one.
pub fn lockdown(root: &Path) -> Option<(PathBuf, String)> {
    read_text(root, LOCKDOWN).ok().map(|(p, t)| (p, t.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arming::plan::fixture::Tree;

    #[test]
    fn online_cpus_counts_the_ranges() {
        let t = Tree::new();
        for (text, n) in [("0\n", Some(1)), ("0-1\n", Some(2)), ("0-3,6,8-9\n", Some(7)), ("", None), ("3-1", None)] {
            t.write(CPUS_ONLINE, text);
            assert_eq!(online_cpus(t.root()), n, "{text:?}");
        }
        t.remove(CPUS_ONLINE);
        assert_eq!(online_cpus(t.root()), None);
    }

    #[test]
    fn loaded_flag() {
        let t = Tree::new();
        assert!(!crash_loaded(t.root()).expect("read"));
        let e = check_loaded(t.root()).expect_err("not loaded");
        assert!(matches!(&e, ArmError::NotLoaded { path, .. } if path == &t.root().join(CRASH_LOADED)), "{e:?}");
        assert!(e.to_string().contains("reads \"0\""), "{e}");
        check_unloaded(t.root()).expect("unloaded");

        t.write(CRASH_LOADED, "1\n");
        check_loaded(t.root()).expect("loaded");
        assert!(matches!(check_unloaded(t.root()), Err(ArmError::StillLoaded { .. })));

        t.write(CRASH_LOADED, "yes");
        assert!(matches!(crash_loaded(t.root()), Err(ArmError::Malformed { .. })));
        assert!(matches!(check_loaded(t.root()), Err(ArmError::NotLoaded { .. })));

        t.remove(CRASH_LOADED);
        assert!(
            matches!(check_loaded(t.root()), Err(ArmError::Read { path, .. }) if path == t.root().join(CRASH_LOADED))
        );
    }
}
