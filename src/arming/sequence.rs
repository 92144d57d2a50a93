//! Arming and disarming, step by step: check and prepare, unload what a
//! re-arm replaces, load, check that the kernel took it, record it.
//! Warnings go to `warn`; the outcome is for [`super::report`] to tell.

use super::kernel_state::{check_loaded, check_unloaded, crash_loaded, crash_size, other_kdump_services};
use super::loader::{load, require_root, unload, Loader, Method};
use super::prepare::{prepare, Prepared};
use super::record::{read_armed, remove_armed, write_armed, Armed, ARMED_RECORD};
use super::sizes::{mib, tight};
use super::ArmOptions;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What an arming did, or in a dry run would do.
#[derive(Debug)]
pub struct Outcome {
    pub prepared: Prepared,
    /// How the capture kernel was (or would be) loaded.
    pub loader: Loader,
    pub dry_run: bool,
    /// A re-arm: the capture kernel loaded before is unloaded first.
    pub rearm: bool,
    /// A capture kernel is armed now (in a dry run: already was).
    pub armed: bool,
    /// The capture kernel loaded before was unloaded.
    pub disarmed: bool,
    /// Where the arming was recorded, when it was.
    pub record: Option<PathBuf>,
}

/// Arm (with `rearm`: disarm first, when armed) the machine under `root`.
/// The image is brought up to date and everything checked before anything
/// is unloaded, so a mistake in the configuration leaves the capture kernel
/// loaded before armed.
pub fn arm(root: &Path, a: &ArmOptions, rearm: bool, warn: &mut dyn FnMut(&str)) -> Result<Outcome> {
    if !a.dry_run {
        require_root()?;
    }
    let prepared = prepare(root, a)?;
    let plan = &prepared.plan;
    let s = &plan.sizes;
    if tight(s) {
        warn(&format!(
            "{s}; that leaves {} for the capture kernel to unpack the initramfs and run, \
             which is likely too little: {} is safer",
            mib(s.spare()),
            s.suggested_crashkernel()
        ));
    }
    if let Some(w) = plan.more_cpus_than_online() {
        warn(&w);
    }
    if let Some(r) = prepared.image.as_ref().and_then(|i| i.report.as_ref()) {
        for (m, sd) in &r.unresolved_softdeps {
            warn(&format!("{m} asks for {sd} (softdep), which no module provides: left out"));
        }
    }
    let was_armed = (a.dry_run || rearm) && crash_loaded(root)?;
    let mut disarmed = false;
    let mut record = None;
    let loader = if a.dry_run {
        if a.method == Method::KexecTools {
            Loader::KexecTools
        } else {
            Loader::Syscall
        }
    } else {
        if rearm {
            if was_armed {
                unload(root, a.method).and_then(|_| check_unloaded(root)).context("disarming before arming again")?;
                disarmed = true;
            }
            if let Err(e) = remove_armed(root) {
                warn(&format!("cannot remove {}: {e}", root.join(ARMED_RECORD).display()));
            }
        }
        if !rearm {
            refuse_another_services_kernel(root)?;
        }
        let loader = match load(root, plan, a.method) {
            Ok(l) => l,
            // A failed kexec_file_load has already unloaded the previous
            // capture kernel (the new one goes into the same memory); a
            // failed `kexec -p` may not have: say which.
            Err(e) => {
                let now = match crash_loaded(root) {
                    Ok(true) => "the capture kernel loaded before is still armed",
                    Ok(false) => "no capture kernel is armed now: a panic will not save a dump",
                    Err(_) => "whether a capture kernel is armed now is unknown",
                };
                return Err(anyhow::Error::new(e).context(format!("arming failed; {now}")));
            }
        };
        check_loaded(root)?;
        // Armed: failing to record it is worth a warning, not a failure.
        match write_armed(root, &Armed::new(&prepared, loader, SystemTime::now())) {
            Ok(p) => record = Some(p),
            Err(e) => warn(&format!("armed, but not recorded: {e:#}")),
        }
        loader
    };
    let armed = if a.dry_run { was_armed } else { true };
    Ok(Outcome { prepared, loader, dry_run: a.dry_run, rearm, armed, disarmed, record })
}

/// `arm` (not `rearm`) refuses to replace a capture kernel kexdump did not
/// load: another kdump service armed it, and the two would fight over the
/// reservation at every boot.
pub fn refuse_another_services_kernel(root: &Path) -> Result<()> {
    // An unreadable record is still kexdump's: only its absence says "not ours".
    if !crash_loaded(root)? || !matches!(read_armed(root), Ok(None)) {
        return Ok(());
    }
    let services = other_kdump_services(root);
    let who = if services.is_empty() {
        "another kdump service (kdump-tools, kdumpctl) or `kexec -p`".to_owned()
    } else {
        format!("{} (enabled)", services.join(" and "))
    };
    let stop = services.first().map_or("that service".to_owned(), |s| format!("`systemctl disable --now {s}`"));
    anyhow::bail!(
        "a capture kernel is already loaded, and not by kexdump (no {}): {who} armed it. Two kdump services \
         would fight over the reservation: stop the other one ({stop}), then `kexdump arm`; or replace it \
         once with `kexdump rearm`",
        root.join(ARMED_RECORD).display()
    )
}

/// What a disarming did.
#[derive(Debug)]
pub struct Disarmed {
    pub loader: Loader,
    /// The reservation, which stays set aside until reboot.
    pub crash_size: u64,
}

/// Unload the capture kernel of the machine under `root` and remove the
/// record of it.
pub fn disarm(root: &Path, method: Method, warn: &mut dyn FnMut(&str)) -> Result<Disarmed> {
    let crash_size = crash_size(root)?;
    require_root()?;
    let loader = unload(root, method)?;
    check_unloaded(root)?;
    if let Err(e) = remove_armed(root) {
        warn(&format!("disarmed, but cannot remove {}: {e}", root.join(ARMED_RECORD).display()));
    }
    Ok(Disarmed { loader, crash_size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arming::capture_image::fixture::System;
    use crate::arming::kernel_state::{CPUS_ONLINE, CRASH_LOADED};
    use crate::arming::plan::fixture::Tree;
    use crate::arming::prepare::fixture::arm_args;
    use crate::arming::report;

    #[test]
    fn cpus_reach_the_command_line_and_the_json_and_too_many_are_a_warning() {
        let sys = System::new();
        sys.write(CPUS_ONLINE, b"0-1\n");
        sys.config("[target]\ntarget = \"LABEL=crash\"\nfstype = \"ext4\"\n[kernel]\ncpus = 2\n");
        let dry = |extra: &[&str]| {
            let mut warnings = Vec::new();
            let o =
                arm(sys.root(), &arm_args(&sys, extra), false, &mut |m| warnings.push(m.to_owned())).expect("dry run");
            (report::json(&o), warnings)
        };
        // The configuration's cpus, within what is online: no warning.
        let (j, warnings) = dry(&["--dry-run", "--json"]);
        assert_eq!((j["nr_cpus"].as_u64(), j["online_cpus"].as_u64()), (Some(2), Some(2)));
        assert!(j["cmdline"].as_str().unwrap().contains(" nr_cpus=2 "), "{j}");
        assert!(!warnings.iter().any(|w| w.contains("nr_cpus")), "{warnings:?}");
        // --cpus wins over it; more than are online arms with a warning.
        let (j, warnings) = dry(&["--dry-run", "--cpus", "4"]);
        assert_eq!(j["nr_cpus"].as_u64(), Some(4));
        assert!(
            warnings.iter().any(|w| w.contains("nr_cpus=4") && w.contains("only 2 CPUs are online")),
            "{warnings:?}"
        );
        // Unknown online CPUs: null, and no warning.
        std::fs::remove_file(sys.path(CPUS_ONLINE)).unwrap();
        let (j, warnings) = dry(&["--dry-run", "--cpus", "4"]);
        assert!(j["online_cpus"].is_null() && !warnings.iter().any(|w| w.contains("nr_cpus")), "{j} {warnings:?}");
    }

    #[test]
    fn a_capture_kernel_another_service_loaded_is_not_replaced_by_arm() {
        let t = Tree::new();
        refuse_another_services_kernel(t.root()).expect("nothing loaded");
        t.write(CRASH_LOADED, "1\n");
        let e = refuse_another_services_kernel(t.root()).unwrap_err().to_string();
        assert!(e.contains("not by kexdump") && e.contains("or `kexec -p`") && e.contains("kexdump rearm"), "{e}");
        std::fs::create_dir_all(t.root().join("etc/systemd/system/multi-user.target.wants")).unwrap();
        std::os::unix::fs::symlink(
            "/lib/systemd/system/kdump-tools.service",
            t.root().join("etc/systemd/system/multi-user.target.wants/kdump-tools.service"),
        )
        .unwrap();
        let e = refuse_another_services_kernel(t.root()).unwrap_err().to_string();
        assert!(
            e.contains("kdump-tools.service (enabled) armed it") && e.contains("systemctl disable --now kdump-tools")
        );
        // Loaded by kexdump (its record is there, even unreadable): arm may replace it.
        t.write(ARMED_RECORD, "{}");
        refuse_another_services_kernel(t.root()).expect("ours");
    }
}
