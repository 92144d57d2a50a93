//! `kexdump verify`: the engine's structural checks (`verify.rs`), plus the
//! CRC32 a kexdump.json capture record beside the dump holds (record_crc.rs).

use crate::cli::VerifyArgs;
use crate::dump_input;
use crate::exit;
use crate::record_crc;
use anyhow::Result;
use kexdump_engine::reader::Kind;
use kexdump_engine::verify::{self, Verified};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn run(a: VerifyArgs) -> Result<ExitCode> {
    let dumps = dump_input::resolve_all(Path::new("/"), &a.dumps)?;
    let mut v: Verified = verify::verify(&dumps);
    let crcs = if v.problem.is_none() {
        match record_crc::check(&dumps) {
            Ok(c) => c,
            Err(p) => {
                v.problem = Some(p);
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let code = match (&v.problem, v.incomplete()) {
        (Some(_), _) => exit::ERROR,
        (None, true) => exit::INCOMPLETE,
        (None, false) => exit::OK,
    };
    let name = dumps[0].display();
    // writeln!, not println!: a closed pipe (`| head`) is an error, not a panic.
    let mut out = std::io::stdout().lock();
    if a.json {
        let j = serde_json::json!({
            "schema": "kexdump.verify/1",
            "files": dumps.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "format": v.format.as_ref().map(|f| f.to_string()),
            "ok": v.problem.is_none(),
            "incomplete": v.incomplete(),
            "problem": v.problem.as_ref().map(|p| serde_json::json!({
                "file": p.file.display().to_string(),
                "offset": p.offset,
                "stream_offset": p.stream_offset,
                "pfn": p.pfn,
                "what": p.what,
                "message": p.to_string(),
            })),
            "pages": {
                "present": v.pages.present,
                "dumped": v.pages.dumped,
                "checked": v.pages.checked,
                "not_saved": v.pages.not_saved,
            },
            "crc32": crcs.iter().map(|c| serde_json::json!({
                "record": c.record, "expected": c.expected, "actual": c.actual,
            })).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&j)?)?;
    } else {
        if let Some(f) = &v.format {
            writeln!(out, "{name}: {f}")?;
            writeln!(
                out,
                "  pages: {} present, {} dumped, {} checked, {} never written",
                v.pages.present, v.pages.dumped, v.pages.checked, v.pages.not_saved
            )?;
        }
        for c in &crcs {
            writeln!(out, "  crc32 {} matches {}", c.actual, c.record)?;
        }
        match &v.problem {
            Some(p) => eprintln!("kexdump: verify FAILED: {p}"),
            None if v.incomplete() => {
                let format = v.format.as_ref();
                if let Some(why) = format.and_then(|f| f.cut_short.as_deref()) {
                    let what = if format.is_some_and(|f| f.flattened) { "flattened stream" } else { "file" };
                    writeln!(out, "the {what} is cut short: {why}")?;
                }
                if format.is_some_and(|f| f.kind == Kind::Elf) {
                    writeln!(out, "INCOMPLETE: consistent up to where the file ends")?
                } else {
                    writeln!(
                        out,
                        "INCOMPLETE: consistent, but {} of {} dumped pages were never written",
                        v.pages.not_saved, v.pages.dumped
                    )?
                }
            }
            None => writeln!(out, "OK")?,
        }
    }
    Ok(ExitCode::from(code))
}
