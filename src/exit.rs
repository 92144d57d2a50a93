//! kexdump's exit codes, one table for every command. 2 is clap's, for a
//! command line it cannot parse, and means nothing else, so a script can
//! tell "I called it wrong" from "the dump is partial".

use std::process::ExitCode;

/// Done as asked.
pub const OK: u8 = 0;
/// An error: the message says what failed and what to do.
pub const ERROR: u8 = 1;
/// The command line could not be parsed (clap's own code; kexdump never
/// returns it itself).
#[allow(dead_code)]
pub const USAGE: u8 = 2;
/// No capture kernel is armed, or the crashkernel= reservation is missing
/// or too small (`status`, `estimate`, `arm`).
pub const NOT_ARMED: u8 = 3;
/// A dump was written or read, but it is incomplete, or it was saved at a
/// lower level or with a warning (`save`, `convert`, `verify`).
pub const INCOMPLETE: u8 = 4;

/// The table, for `--help` and the man pages.
pub const TABLE: &str = "\
Exit status:
  0  done as asked
  1  an error (the message says what failed and what to do)
  2  the command line could not be parsed
  3  not armed, or the crashkernel= reservation is missing or too small
  4  the dump is incomplete, or was saved at a lower level or with a warning";

pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_code_once() {
        for c in [OK, ERROR, USAGE, NOT_ARMED, INCOMPLETE] {
            assert_eq!(TABLE.matches(&format!("\n  {c}  ")).count(), 1, "{c}");
        }
    }

    #[test]
    fn every_commands_help_ends_with_the_table() {
        fn walk(cmd: &clap::Command, path: &str) {
            let help = cmd.get_after_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(help.ends_with(TABLE), "{path}: {help}");
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        let cmd = crate::cli::command();
        cmd.clone().debug_assert();
        walk(&cmd, "kexdump");
    }
}
