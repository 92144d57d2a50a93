//! Everything `kexdump arm` does before loading: with an `--initrd`,
//! check what was given; else read the configuration, bring its capture
//! initramfs up to date and plan the load of it.

use super::capture_cmdline::DEFAULT_CPUS;
use super::capture_image::{self, Decision};
use super::kernel_state::crash_size;
use super::plan::{default_kernel, plan, CmdlineSource, Plan, Request};
use super::ArmOptions;
use crate::config::Config;
use crate::system::{capture_bin, identity};
use anyhow::Result;
use kexdump_initramfs::image::Report;
use std::path::{Path, PathBuf};

/// The capture command line's source: `--cmdline`, or /proc/cmdline with
/// the configuration's removals and additions, then the command line's
/// (which come last, so they win); `--cpus` over the configuration's
/// `cpus` (`None`: no configuration read, the default).
pub fn cmdline_source(a: &ArmOptions, remove: &[String], append: &[String], cpus: Option<u32>) -> CmdlineSource {
    match &a.cmdline {
        Some(full) => CmdlineSource::Full(full.clone()),
        None => CmdlineSource::Derived {
            remove: remove.iter().chain(&a.cmdline_remove).cloned().collect(),
            append: append.iter().chain(&a.cmdline_append).cloned().collect(),
            cpus: a.cpus.or(cpus).unwrap_or(DEFAULT_CPUS),
        },
    }
}

/// With `--initrd`: what to load, as given (no configuration is read).
fn request(root: &Path, a: &ArmOptions, initrd: &Path) -> Result<Request> {
    let kernel = match &a.kernel {
        Some(k) => k.clone(),
        None => {
            let release = identity::kernel_release().map_err(|e| anyhow::anyhow!("uname: {e}"))?;
            default_kernel(root, &release)
        }
    };
    Ok(Request { kernel, initrd: initrd.to_path_buf(), initrd_bytes: None, cmdline: cmdline_source(a, &[], &[], None) })
}

/// The configuration's capture initramfs, as [`prepare`] left it.
#[derive(Debug)]
pub struct ImageState {
    pub path: PathBuf,
    /// [`capture_image::Inputs::digest`] of its current inputs.
    pub digest: String,
    /// Why it was rebuilt (or, in a dry run, would be); empty: reused.
    pub rebuild: Vec<String>,
    /// What the builder wrote, when it ran.
    pub report: Option<Report>,
}

/// Everything `kexdump arm` does before loading.
#[derive(Debug)]
pub struct Prepared {
    pub plan: Plan,
    /// `None` with `--initrd`.
    pub image: Option<ImageState>,
}

/// What `kexdump arm` does before the load: with `--initrd`, check what
/// was given; else read the configuration, reuse its capture initramfs or
/// (unless `--dry-run`) rebuild it, and plan the load. Files are read
/// under `root`; in a dry run nothing is written.
pub fn prepare(root: &Path, a: &ArmOptions) -> Result<Prepared> {
    if let Some(initrd) = &a.initrd {
        return Ok(Prepared { plan: plan(root, &request(root, a, initrd)?)?, image: None });
    }
    // No reservation: say so before building anything.
    crash_size(root)?;
    let config = Config::load(root, a.config.as_deref())?;
    crate::dump_target::check::check(root, &config)?;
    let bin = match &a.capture_bin {
        Some(p) => p.clone(),
        None => capture_bin::find()?,
    };
    let sources = capture_image::sources(root, &config, a.kernel.as_deref(), a.modules_dir.as_deref(), bin)?;
    let inputs = capture_image::inputs(&sources)?;
    let (rebuild, report, initrd_bytes) = match capture_image::decide(&sources.image, &inputs, a.rebuild) {
        Decision::UpToDate(_) => (Vec::new(), None, None),
        // The current image's size stands in for the new one's, if there is one.
        Decision::Rebuild(why) if a.dry_run => (why, None, (!sources.image.is_file()).then_some(0)),
        Decision::Rebuild(why) => (why, Some(capture_image::build(&sources, &inputs)?.1), None),
    };
    let k = &config.kernel;
    let req = Request {
        kernel: sources.kernel.clone(),
        initrd: sources.image.clone(),
        initrd_bytes,
        cmdline: cmdline_source(a, &k.cmdline_remove, &k.cmdline_append, Some(k.cpus())),
    };
    let image = ImageState { path: sources.image, digest: inputs.digest(), rebuild, report };
    Ok(Prepared { plan: plan(root, &req)?, image: Some(image) })
}

/// Arm options from a command line, for the tests of arming.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;
    use crate::arming::capture_image::fixture::System;
    use crate::cli::{Cli, Command as Cmd};
    use clap::Parser;

    /// `kexdump arm --capture-bin <the fake one> EXTRA...`, parsed.
    pub fn arm_args(sys: &System, extra: &[&str]) -> ArmOptions {
        let bin = sys.path("usr/lib/kexdump/capture").display().to_string();
        let argv = ["kexdump", "arm", "--capture-bin", &bin].into_iter().chain(extra.iter().copied());
        match Cli::try_parse_from(argv).expect("arguments").command {
            Cmd::Arm(a) => a.options(),
            _ => unreachable!(),
        }
    }

    pub fn reasons(p: &Prepared) -> &[String] {
        &p.image.as_ref().expect("an image").rebuild
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{arm_args, reasons};
    use super::*;
    use crate::arming::capture_image::fixture::{fake_exe, System, RELEASE};
    use crate::arming::error::ArmError;
    use crate::arming::kernel_state::CRASH_SIZE;
    use crate::cli::{Cli, Command as Cmd};
    use clap::Parser;
    use std::fs;

    #[test]
    fn arm_from_the_configuration_builds_then_reuses() {
        let sys = System::new();
        sys.config(
            "[target]\ntarget = \"LABEL=crash\"\nfstype = \"ext4\"\n\
             [kernel]\ncmdline_remove = [\"numa\"]\ncmdline_append = [\"console=ttyS1\"]\n",
        );
        let a = arm_args(&sys, &["--cmdline-append", "loglevel=7", "--cmdline-remove", "irqpoll"]);
        let p = prepare(sys.root(), &a).expect("prepare");
        let img = p.image.as_ref().expect("image");
        assert_eq!(img.rebuild, ["it does not exist yet"]);
        assert_eq!(img.report.as_ref().expect("built").modules.len(), 6);
        assert_eq!(p.plan.sizes.kernel, sys.path(&format!("boot/vmlinuz-{RELEASE}")));
        assert_eq!(p.plan.sizes.initrd, sys.image());
        assert_eq!(p.plan.sizes.initrd_size, fs::metadata(sys.image()).unwrap().len());
        // The configuration's options, then the command line's.
        let c = &p.plan.cmdline;
        assert!(c.starts_with("console=ttyS0 nr_cpus=1 reset_devices "), "{c}");
        assert!(c.ends_with(" console=ttyS1 loglevel=7") && !c.contains("numa=") && !c.contains("irqpoll"), "{c}");

        let again = prepare(sys.root(), &a).expect("prepare");
        assert!(reasons(&again).is_empty(), "reused");
        assert!(again.image.as_ref().unwrap().report.is_none());
        assert_eq!(again.image.as_ref().unwrap().digest, img.digest);

        // Command-line keys are no input of the image; the dump level is.
        sys.config("[target]\ntarget = \"LABEL=crash\"\nfstype = \"ext4\"\n[kernel]\ncmdline_append = [\"x=1\"]\n");
        let p = prepare(sys.root(), &a).expect("prepare");
        assert!(reasons(&p).is_empty());
        assert!(p.plan.cmdline.ends_with(" x=1 loglevel=7"), "{}", p.plan.cmdline);
        sys.config("[target]\ntarget = \"LABEL=crash\"\nfstype = \"ext4\"\n[dump]\nlevel = 1\n");
        assert_eq!(reasons(&prepare(sys.root(), &a).unwrap()), ["the capture configuration changed (level)"]);

        // --rebuild forces; --kernel names another kernel (same release, same modules).
        let p = prepare(sys.root(), &arm_args(&sys, &["--rebuild"])).unwrap();
        assert_eq!(reasons(&p), ["--rebuild was given"]);
        assert!(p.image.as_ref().unwrap().report.is_some());
        let (kernel, other) = (sys.path(&format!("boot/vmlinuz-{RELEASE}")), sys.path("boot/vmlinuz-other"));
        fs::copy(&kernel, &other).unwrap();
        let p = prepare(sys.root(), &arm_args(&sys, &["--kernel", other.to_str().unwrap()])).unwrap();
        assert_eq!(p.plan.sizes.kernel, other);
        assert_eq!(reasons(&p), [format!("the kernel is now {} (was {})", other.display(), kernel.display())]);
    }

    #[test]
    fn a_missing_target_stops_arming_before_any_build() {
        let sys = System::new();
        sys.config("[target]\ntarget = \"LABEL=elsewhere\"\nfstype = \"ext4\"\n");
        let before = sys.listing();
        let e = prepare(sys.root(), &arm_args(&sys, &[])).unwrap_err().to_string();
        assert!(e.starts_with("the dump target LABEL=elsewhere is missing"), "{e}");
        assert_eq!(sys.listing(), before, "nothing built");
    }

    #[test]
    fn dry_run_writes_nothing() {
        let sys = System::new();
        let before = sys.listing();
        let p = prepare(sys.root(), &arm_args(&sys, &["--dry-run"])).expect("dry run");
        assert_eq!(reasons(&p), ["it does not exist yet"]);
        assert!(p.image.as_ref().unwrap().report.is_none());
        assert_eq!(p.plan.sizes.initrd_size, 0, "not built: the kernel alone is checked");
        assert_eq!(sys.listing(), before, "no image, no record, no directory");

        prepare(sys.root(), &arm_args(&sys, &[])).expect("build");
        sys.write("usr/lib/kexdump/capture", &fake_exe(b"capture two"));
        let before = sys.listing();
        let p = prepare(sys.root(), &arm_args(&sys, &["--dry-run"])).expect("dry run");
        let bin = sys.path("usr/lib/kexdump/capture");
        assert_eq!(reasons(&p), [format!("the capture binary {} changed", bin.display())]);
        assert_eq!(p.plan.sizes.initrd_size, fs::metadata(sys.image()).unwrap().len(), "the current image's size");
        assert_eq!(sys.listing(), before);
        // --rebuild in a dry run says so and still builds nothing.
        prepare(sys.root(), &arm_args(&sys, &[])).expect("build");
        let before = sys.listing();
        let p = prepare(sys.root(), &arm_args(&sys, &["--dry-run", "--rebuild"])).unwrap();
        assert_eq!(reasons(&p), ["--rebuild was given"]);
        assert_eq!(sys.listing(), before);
    }

    #[test]
    fn no_reservation_builds_nothing() {
        let sys = System::new();
        sys.write(CRASH_SIZE, b"0\n");
        let before = sys.listing();
        let e = prepare(sys.root(), &arm_args(&sys, &[])).unwrap_err();
        assert!(matches!(e.downcast_ref::<ArmError>(), Some(ArmError::NoReservation { .. })), "{e:?}");
        assert_eq!(sys.listing(), before);
    }

    #[test]
    fn explicit_initrd_reads_no_configuration() {
        let sys = System::new();
        sys.config("[dump]\nlevel = 40\n");
        sys.write("capture.img", &[0u8; 4096]);
        let kernel = sys.path(&format!("boot/vmlinuz-{RELEASE}"));
        let a = arm_args(&sys, &[]);
        let e = prepare(sys.root(), &a).unwrap_err();
        assert!(e.to_string().ends_with("etc/kexdump.toml:2: key dump.level: 40 is not a dump level (0-31)"), "{e}");

        let initrd = sys.path("capture.img");
        let argv = ["kexdump", "arm", "--initrd", initrd.to_str().unwrap(), "--kernel", kernel.to_str().unwrap()];
        let Cmd::Arm(a) = Cli::try_parse_from(argv).unwrap().command else { unreachable!() };
        let p = prepare(sys.root(), &a.options()).expect("no configuration read");
        assert!(p.image.is_none());
        assert_eq!(p.plan.sizes.initrd_size, 4096);
        // The image's options make no sense with --initrd.
        for extra in [["--rebuild", ""], ["--config", "/x.toml"], ["--capture-bin", "/x"]] {
            let argv =
                ["kexdump", "arm", "--initrd", "x.img"].into_iter().chain(extra.into_iter().filter(|s| !s.is_empty()));
            assert!(Cli::try_parse_from(argv).is_err(), "{extra:?}");
        }
        assert!(matches!(Cli::try_parse_from(["kexdump", "rearm", "--dry-run"]).unwrap().command, Cmd::Rearm(_)));
    }
}
