//! The CRC32 a kexdump.json capture record holds for the dump file beside
//! it, compared with the file's.

use kexdump_engine::capture_dir::record::{Record, SCHEMA};
use kexdump_engine::capture_dir::RECORD;
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
    let record = dir.join(RECORD);
    let text = match std::fs::read_to_string(&record) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", record.display())),
    };
    // A placeholder cut short may end in its padding (or in zeros).
    let r = Record::from_json(text.trim_end_matches(['\0', ' ', '\n']).as_bytes())
        .map_err(|e| format!("{}: not a {SCHEMA} record: {e}", record.display()))?;
    let Some(d) = r.dump else { return Ok(None) };
    let file_name = dump.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if d.file.as_deref() != Some(file_name) {
        return Ok(None);
    }
    Ok(d.crc32.map(|c| (record.display().to_string(), c.to_ascii_lowercase())))
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
