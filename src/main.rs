//! `kexdump`: the operator's command. This file only dispatches.

mod arm;
mod bootcfg;
mod bzimage;
mod capture_image;
mod cli;
mod cmdline;
mod config;
mod config_cmd;
mod convert;
mod crashkernel;
mod crashkernel_cmd;
mod dmesg;
mod dumps;
mod dwarf_lines;
mod estimate_cmd;
mod initramfs_cmd;
mod inspect_cmd;
mod inspect_json;
mod kexec;
mod list_cmd;
mod manual;
mod meminfo;
mod mounts;
mod progress;
mod save;
mod selftest;
mod status;
mod status_cmd;
mod target_check;
mod test_cmd;
mod verify_cmd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Save(a) => save::run(a),
        cli::Command::Dmesg(a) => dmesg::run(a),
        cli::Command::Inspect(a) => inspect_cmd::run(a),
        cli::Command::Convert(a) => convert::run(a),
        cli::Command::Verify(a) => verify_cmd::run(a),
        cli::Command::Arm(a) => arm::run_arm(a),
        cli::Command::Disarm(a) => arm::run_disarm(a),
        cli::Command::Rearm(a) => arm::run_rearm(a),
        cli::Command::Initramfs(a) => initramfs_cmd::run(a),
        cli::Command::Config(a) => config_cmd::run(a),
        cli::Command::List(a) => list_cmd::run(a),
        cli::Command::Crashkernel(a) => match a.command {
            cli::CrashkernelCommand::Show(a) => crashkernel_cmd::run_show(a),
            cli::CrashkernelCommand::Set(a) => crashkernel_cmd::run_set(a),
        },
        cli::Command::Status(a) => status_cmd::run(a),
        cli::Command::Estimate(a) => estimate_cmd::run(a),
        cli::Command::Test(a) => test_cmd::run(a),
        cli::Command::Completions(a) => manual::completions(a),
        cli::Command::Manpages(a) => manual::manpages(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kexdump: error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
