//! `kexdump arm` and `kexdump rearm`: load the capture kernel and its
//! initramfs into the crashkernel= reservation (for `rearm`, after
//! unloading the one loaded before), then tell what was loaded.

use crate::arming::{preflight, report, sequence};
use crate::cli::ArmArgs;
use crate::exit;
use anyhow::Result;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn run_arm(a: ArmArgs) -> Result<ExitCode> {
    arm_command(Path::new("/"), &a, false, &mut std::io::stdout().lock())
}

/// Disarm (when armed), then arm with the same options. The image is
/// brought up to date and everything checked first, so a mistake in the
/// configuration leaves the capture kernel loaded before armed.
pub fn run_rearm(a: ArmArgs) -> Result<ExitCode> {
    arm_command(Path::new("/"), &a, true, &mut std::io::stdout().lock())
}

/// The command; `--json` objects go to `json_out` (stdout but in tests).
fn arm_command(root: &Path, a: &ArmArgs, rearm: bool, json_out: &mut dyn Write) -> Result<ExitCode> {
    let opts = a.options();
    // A dry run is the preflight checklist: every check, each with its fix.
    let checks = opts.dry_run.then(|| preflight::preflight(root, &opts));
    if let Some(failed) = checks.as_ref().filter(|c| c.iter().any(|c| !c.ok)) {
        if a.json {
            let j = serde_json::json!({ "dry_run": true, "ok": false, "armed": false, "checks": failed });
            writeln!(json_out, "{}", serde_json::to_string_pretty(&j)?)?;
        } else {
            preflight::print_text(failed);
        }
        let no_reservation = failed.iter().any(|c| c.name == preflight::RESERVATION && !c.ok);
        return Ok(exit::code(if no_reservation { exit::NOT_ARMED } else { exit::ERROR }));
    }
    let outcome = match sequence::arm(root, &opts, rearm, &mut |m| eprintln!("kexdump: WARNING: {m}")) {
        Ok(o) => o,
        Err(e) => {
            // Scripts reading --json get an object whatever happened.
            if a.json {
                let j = serde_json::json!({ "dry_run": opts.dry_run, "ok": false, "armed": false, "error": format!("{e:#}") });
                writeln!(json_out, "{}", serde_json::to_string_pretty(&j)?)?;
            }
            return Err(e);
        }
    };
    if a.json {
        let mut j = report::json(&outcome);
        j["ok"] = serde_json::json!(true);
        if let Some(c) = &checks {
            j["checks"] = serde_json::json!(c);
        }
        writeln!(json_out, "{}", serde_json::to_string_pretty(&j)?)?;
    } else {
        if let Some(c) = &checks {
            preflight::print_text(c);
        }
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
                let code = arm_command(sys.root(), &arm_args(&sys, extra), rearm, &mut Vec::new()).expect("dry run");
                // Every check passes on the fake machine but `root`, which is this process's.
                if crate::system::identity::effective_uid() == 0 {
                    assert_eq!(code, ExitCode::SUCCESS);
                }
            }
        }
        assert_eq!(sys.listing(), before);
    }

    #[test]
    fn json_is_an_object_whatever_happens() {
        let sys = System::new();
        sys.write(crate::arming::kernel_state::CRASH_SIZE, b"0\n");
        // A dry run: the failed checks.
        let mut out = Vec::new();
        let code = arm_command(sys.root(), &arm_args(&sys, &["--dry-run", "--json"]), false, &mut out).unwrap();
        assert_eq!(code, exit::code(exit::NOT_ARMED));
        let j: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!((j["ok"].as_bool(), j["dry_run"].as_bool()), (Some(false), Some(true)));
        assert!(j["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "crashkernel= reservation" && c["ok"] == false));
        // Arming for real fails (no reservation, or not root): the error as an object too.
        let mut out = Vec::new();
        let e = arm_command(sys.root(), &arm_args(&sys, &["--json"]), false, &mut out).unwrap_err();
        let j: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!((j["ok"].as_bool(), j["armed"].as_bool()), (Some(false), Some(false)));
        assert_eq!(j["error"].as_str(), Some(format!("{e:#}").as_str()));
    }
}
