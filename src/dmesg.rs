//! `kexdump dmesg`: the crashed kernel's log from a vmcore.

use crate::cli::DmesgArgs;
use anyhow::{Context, Result};
use kexdump_engine::Vmcore;
use std::io::Write;
use std::process::ExitCode;

pub fn run(a: DmesgArgs) -> Result<ExitCode> {
    let vm = Vmcore::open(&a.vmcore).with_context(|| format!("reading vmcore {}", a.vmcore.display()))?;
    let log =
        kexdump_engine::dmesg::read_log(&vm).with_context(|| format!("reading the log of {}", a.vmcore.display()))?;
    std::io::stdout().lock().write_all(&log)?;
    Ok(ExitCode::SUCCESS)
}
