//! `kexdump`: the operator's command. This file only dispatches.

mod arming;
mod cli;
mod cmd;
mod config;
mod crashkernel;
mod dump_target;
mod dumps;
mod dwarf_lines;
mod json_file;
mod kernel_cmdline;
mod saving;
mod selftest;
mod status;
mod system;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Save(a) => cmd::save::run(a),
        cli::Command::Dmesg(a) => cmd::dmesg::run(a),
        cli::Command::Inspect(a) => cmd::inspect::run(a),
        cli::Command::Convert(a) => cmd::convert::run(a),
        cli::Command::Verify(a) => cmd::verify::run(a),
        cli::Command::Arm(a) => cmd::arm::run_arm(a),
        cli::Command::Disarm(a) => cmd::disarm::run(a),
        cli::Command::Rearm(a) => cmd::arm::run_rearm(a),
        cli::Command::Initramfs(a) => cmd::initramfs::run(a),
        cli::Command::Config(a) => cmd::config::run(a),
        cli::Command::List(a) => cmd::list::run(a),
        cli::Command::Crashkernel(a) => match a.command {
            cli::CrashkernelCommand::Show(a) => cmd::crashkernel::run_show(a),
            cli::CrashkernelCommand::Set(a) => cmd::crashkernel::run_set(a),
        },
        cli::Command::Status(a) => cmd::status::run(a),
        cli::Command::Estimate(a) => cmd::estimate::run(a),
        cli::Command::Test(a) => cmd::test::run(a),
        cli::Command::Completions(a) => cmd::manual::completions(a),
        cli::Command::Manpages(a) => cmd::manual::manpages(a),
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
