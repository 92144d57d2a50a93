//! `kexdump dmesg`: the crashed kernel's log from a dump of any format.

use crate::cli::DmesgArgs;
use crate::dump_input;
use anyhow::{Context, Result};
use kexdump_engine::dmesg::{read_log_as, DmesgFormat};
use kexdump_engine::Vmcore;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn run(a: DmesgArgs) -> Result<ExitCode> {
    let dumps = dump_input::resolve_all(Path::new("/"), &a.dumps)?;
    let name = dumps[0].display();
    let vm = Vmcore::open_pieces(&dumps).with_context(|| format!("reading dump {name}"))?;
    if vm.format.incomplete {
        eprintln!("kexdump: WARNING: {name} is incomplete ({}): the log may be cut or missing", vm.format);
    }
    let fmt = DmesgFormat { caller_id: !a.no_caller_id };
    let log = read_log_as(&vm, fmt).with_context(|| format!("reading the log of {name}"))?;
    std::io::stdout().lock().write_all(&log)?;
    Ok(ExitCode::SUCCESS)
}
