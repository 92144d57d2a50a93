//! `kexdump inspect`: open a dump, gather the findings
//! (`kexdump_engine::analysis`), print them as text or JSON. Only opening
//! the file is fatal; every other part shows its own error in place.

mod json;
mod text;

use crate::cli::InspectArgs;
use crate::dump_input;
use anyhow::{Context, Result};
use kexdump_engine::analysis::stack::Frame;
use kexdump_engine::analysis::symbol_files::FileKind;
use kexdump_engine::analysis::{inspect, view_of_vmcore, InspectOptions};
use kexdump_engine::Vmcore;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

pub fn run(a: InspectArgs) -> Result<ExitCode> {
    let dumps = dump_input::resolve_all(Path::new("/"), &a.dumps)?;
    let dump_path = dumps.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" ");
    let vm = Vmcore::open_pieces(&dumps).with_context(|| format!("opening dump {dump_path}"))?;
    let view = view_of_vmcore(&vm);
    let opts = InspectOptions {
        log_lines: a.lines,
        dump_path: dump_path.clone(),
        vmlinux: a.vmlinux.as_ref().map(|p| p.display().to_string()),
        symbol_files: a
            .system_map
            .iter()
            .map(|p| (FileKind::SystemMap, p.clone()))
            .chain(a.vmlinux.iter().map(|p| (FileKind::Vmlinux, p.clone())))
            .collect(),
        search_root: Some(a.symbol_root.clone()),
    };
    let ins = inspect(&view, &opts);
    // A vmlinux of another build would give wrong lines: none then.
    let lines = a.vmlinux.as_ref().map(|p| {
        if ins.foreign_files.contains(p) {
            anyhow::bail!("{} is not this dump's kernel (see Symbols)", p.display());
        }
        crate::dwarf_lines::SourceLines::open(p, ins.kernel_offset.unwrap_or(0))
    });
    // A return address's line is the call's: look up the byte before it.
    let source = |fr: &Frame| -> Option<String> {
        match &lines {
            Some(Ok(l)) => l.lookup(if fr.stack_addr.is_some() { fr.addr.wrapping_sub(1) } else { fr.addr }),
            _ => None,
        }
    };
    let lines_error = match &lines {
        Some(Err(e)) => Some(format!("{e:#}")),
        _ => None,
    };
    let out = if a.json {
        let mut v = json::to_json(&ins, &dump_path, &source);
        if let Some(e) = lines_error {
            v["errors"]["source_lines"] = serde_json::Value::String(e);
        }
        serde_json::to_string_pretty(&v)? + "\n"
    } else {
        text::render_text(&ins, &dump_path, &source, lines_error.as_deref())
    };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
