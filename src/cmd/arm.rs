//! `kexdump arm` and `kexdump rearm`: load the capture kernel and its
//! initramfs into the crashkernel= reservation (for `rearm`, after
//! unloading the one loaded before), then tell what was loaded.

use crate::arming::{report, sequence};
use crate::cli::ArmArgs;
use anyhow::Result;
use std::path::Path;
use std::process::ExitCode;

pub fn run_arm(a: ArmArgs) -> Result<ExitCode> {
    arm_command(Path::new("/"), &a, false)
}

/// Disarm (when armed), then arm with the same options. The image is
/// brought up to date and everything checked first, so a mistake in the
/// configuration leaves the capture kernel loaded before armed.
pub fn run_rearm(a: ArmArgs) -> Result<ExitCode> {
    arm_command(Path::new("/"), &a, true)
}

fn arm_command(root: &Path, a: &ArmArgs, rearm: bool) -> Result<ExitCode> {
    let outcome = sequence::arm(root, &a.options(), rearm, &mut |m| eprintln!("kexdump: WARNING: {m}"))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report::json(&outcome))?);
    } else {
        report::print_text(&outcome);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arming::capture_image::fixture::System;
    use crate::cli::{Cli, Command as Cmd};
    use clap::Parser;

    /// `kexdump arm --capture-bin <the fake one> EXTRA...`, parsed.
    fn arm_args(sys: &System, extra: &[&str]) -> ArmArgs {
        let bin = sys.path("usr/lib/kexdump/capture").display().to_string();
        let argv = ["kexdump", "arm", "--capture-bin", &bin].into_iter().chain(extra.iter().copied());
        match Cli::try_parse_from(argv).expect("arguments").command {
            Cmd::Arm(a) => a,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_dry_run_command_prints_and_writes_nothing() {
        let sys = System::new();
        let before = sys.listing();
        for rearm in [false, true] {
            for extra in [&["--dry-run"][..], &["--dry-run", "--json"]] {
                let code = arm_command(sys.root(), &arm_args(&sys, extra), rearm).expect("dry run");
                assert_eq!(code, ExitCode::SUCCESS);
            }
        }
        assert_eq!(sys.listing(), before);
    }
}
