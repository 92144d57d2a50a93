//! `kexdump save`: run the engine on a vmcore file (or a saved dump).

use crate::cli::SaveArgs;
use crate::dump_input;
use crate::saving::{write_dump, DumpRequest};
use anyhow::{Context, Result};
use kexdump_engine::input::Input;
use kexdump_engine::Vmcore;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

pub fn run(a: SaveArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let vmcore = dump_input::resolve(Path::new("/"), &a.vmcore)?;
    let mut input = Input::open(&vmcore)?;
    if a.no_mmap {
        input = input.without_mmap();
    }
    let vm = Vmcore::from_input(input).with_context(|| format!("reading vmcore {}", vmcore.display()))?;
    let req = DumpRequest {
        out: a.out,
        format: a.format.into(),
        level: a.level,
        compression: a.compress.compression(a.compress_level)?,
        threads: a.threads,
        json: a.json,
        quiet: a.quiet,
        started,
    };
    write_dump(&vm, &req)
}
