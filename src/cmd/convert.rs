//! `kexdump convert`: a saved dump in, another dump out. It is `save` with a
//! saved dump as input (any format the readers open), except for one case:
//! a flattened input turned into kdump-compressed with no new level or
//! compression is rebuilt byte for byte, as `makedumpfile -R` does.

use crate::cli::{CompressArg, ConvertArgs, OutputFormat};
use crate::dump_input;
use crate::saving::{self, received, write_dump, DumpRequest};
use anyhow::{bail, Context, Result};
use kexdump_engine::reader::Kind;
use kexdump_engine::Vmcore;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

pub fn run(a: ConvertArgs) -> Result<ExitCode> {
    let started = Instant::now();
    if let [dir] = a.paths.as_slice() {
        if !dir.is_dir() {
            bail!(
                "{}: name the output too (kexdump convert IN OUT), or a capture directory holding vmcore.flat",
                dir.display()
            );
        }
        return in_place(dir, a.json, started);
    }
    let (out, inputs) = a.paths.split_last().context("no output path given")?;
    let inputs = &dump_input::resolve_all(Path::new("/"), inputs)?;
    let name = inputs[0].display();
    let vm = Vmcore::open_pieces(inputs).with_context(|| format!("reading dump {name}"))?;
    // An INCOMPLETE input is a warning of the engine's save (exit 4).
    let unchanged = a.level.is_none() && a.compress.is_none() && a.compress_level.is_none();
    let to_stdout = out.as_os_str() == "-";
    if vm.format.flattened && vm.format.pieces == 1 && a.format == OutputFormat::Kdump && unchanged && !to_stdout {
        return rebuild(&vm, out, a.json, started);
    }
    let input_level = vm.format.dump_level.and_then(|l| u8::try_from(l).ok()).filter(|l| *l <= 31);
    let level = a.level.or(input_level).unwrap_or(31);
    if let Some(was) = input_level.filter(|was| was & !level != 0) {
        eprintln!(
            "kexdump: WARNING: {name} was saved at dump level {was}; the pages it left out stay out at level {level}"
        );
    }
    let req = DumpRequest {
        out: out.clone(),
        format: a.format.into(),
        level,
        compression: a.compress.unwrap_or(CompressArg::Zstd).compression(a.compress_level)?,
        threads: a.threads,
        json: a.json,
        quiet: a.quiet,
        started,
    };
    if vm.format.kind == Kind::Kdump && a.format == OutputFormat::Elf && vm.info.get("SYMBOL(_stext)").is_none() {
        eprintln!("kexdump: WARNING: no SYMBOL(_stext) in VMCOREINFO: the ELF output has no kernel-image segment");
    }
    write_dump(&vm, &req)
}

/// `vmcore.flat` → `vmcore` in a received capture directory.
fn in_place(dir: &Path, json: bool, started: Instant) -> Result<ExitCode> {
    let c = received::convert_in_place(dir)?;
    let secs = started.elapsed().as_secs_f64();
    if json {
        let j = serde_json::json!({
            "output": c.dump.display().to_string(),
            "format": "kdump",
            "rebuilt_from_flattened": true,
            "bytes": c.bytes,
            "crc32": format!("{:08x}", c.crc32),
            "record_updated": c.record_updated,
            "seconds": secs,
        });
        writeln!(std::io::stdout().lock(), "{}", serde_json::to_string_pretty(&j)?)?;
    } else {
        eprintln!(
            "kexdump: rebuilt {} from vmcore.flat ({:.1} MB in {secs:.2} s){}; vmcore.flat removed",
            c.dump.display(),
            c.bytes as f64 / 1e6,
            if c.record_updated { ", kexdump.json updated" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Rebuild the kdump-compressed file a flattened stream carries, and say so.
fn rebuild(vm: &Vmcore, out: &std::path::Path, json: bool, started: Instant) -> Result<ExitCode> {
    let (path, bytes) = saving::reassemble(vm, out)?;
    let secs = started.elapsed().as_secs_f64();
    if json {
        let j = serde_json::json!({
            "output": path.display().to_string(),
            "input_format": vm.format.to_string(),
            "format": "kdump",
            "rebuilt_from_flattened": true,
            "bytes": bytes,
            "seconds": secs,
        });
        writeln!(std::io::stdout().lock(), "{}", serde_json::to_string_pretty(&j)?)?;
    } else {
        eprintln!(
            "kexdump: rebuilt {} from the flattened stream ({:.1} MB in {secs:.2} s)",
            path.display(),
            bytes as f64 / 1e6
        );
    }
    Ok(ExitCode::SUCCESS)
}
