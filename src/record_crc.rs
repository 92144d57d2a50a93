//! The CRC32 a kexdump.json capture record holds for the dump file beside
//! it, compared with the file's.

use kexdump_engine::verify::{self, Problem};
use std::path::{Path, PathBuf};

/// What the capture record beside a dump says about it.
pub struct CrcCheck {
    /// The record's path.
    pub record: String,
    pub expected: String,
    pub actual: String,
}

/// The recorded CRC32 of `dump`, if a kexdump.json beside it names it.
fn recorded_crc(dump: &Path) -> Result<Option<(String, String)>, String> {
    let Some(dir) = dump.parent() else { return Ok(None) };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let record = dir.join("kexdump.json");
    let text = match std::fs::read_to_string(&record) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", record.display())),
    };
    let j: serde_json::Value = serde_json::from_str(text.trim_end_matches(['\0', ' ', '\n']))
        .map_err(|e| format!("{}: not JSON: {e}", record.display()))?;
    let d = &j["dump"];
    let named = d["file"].as_str().unwrap_or("");
    let file_name = dump.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if named != file_name {
        return Ok(None);
    }
    match d["crc32"].as_str() {
        Some(c) => Ok(Some((record.display().to_string(), c.to_ascii_lowercase()))),
        None => Ok(None),
    }
}

/// Each dump's CRC32 against the one its record holds, when a record beside
/// it names it; the first mismatch (or unreadable record) is the problem.
pub fn check(dumps: &[PathBuf]) -> Result<Vec<CrcCheck>, Problem> {
    let mut out = Vec::new();
    for dump in dumps {
        let problem = |what: String| Problem { file: dump.clone(), offset: None, stream_offset: None, pfn: None, what };
        let Some((record, expected)) = recorded_crc(dump).map_err(problem)? else { continue };
        let actual = format!("{:08x}", verify::crc32_file(dump).map_err(|e| problem(e.to_string()))?);
        if actual != expected {
            return Err(problem(format!("CRC32 is {actual}, but {record} records {expected}")));
        }
        out.push(CrcCheck { record, expected, actual });
    }
    Ok(out)
}
