//! `kexdump`: the operator's command. This file parses the command line,
//! hands it to [`cmd::run`] and reports an error.

mod arming;
mod cli;
mod cmd;
mod config;
mod crashkernel;
mod dump_input;
mod dump_target;
mod dumps;
mod dwarf_lines;
mod exit;
mod json_file;
mod kernel_cmdline;
mod known_hosts;
mod record_crc;
mod remote_target;
mod saving;
mod selftest;
mod status;
mod system;

use clap::FromArgMatches;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::from_arg_matches(&cli::command().get_matches()).unwrap_or_else(|e| e.exit());
    let result = cmd::run(args.command);
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kexdump: error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            // Nothing to arm without a reservation: as `status` says it.
            let no_reservation = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<arming::error::ArmError>(),
                    Some(arming::error::ArmError::NoReservation { .. })
                )
            });
            exit::code(if no_reservation { exit::NOT_ARMED } else { exit::ERROR })
        }
    }
}
