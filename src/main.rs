//! `kexdump`: the operator's command. This file only dispatches.

mod cli;
mod dmesg;
mod progress;
mod save;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Save(a) => save::run(a),
        cli::Command::Dmesg(a) => dmesg::run(a),
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
