//! Small JSON records kexdump keeps beside what they describe (an image's
//! inputs, what is armed, the pending self-test): written whole or not at
//! all.

use anyhow::{Context, Result};
use kexdump_engine::output::AtomicFile;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs;
use std::io::Write;
use std::path::Path;

/// Write `value` as JSON to `path`, atomically, mode 0600.
pub fn write<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let ctx = || format!("writing {}", path.display());
    let mut text = serde_json::to_vec_pretty(value).with_context(ctx)?;
    text.push(b'\n');
    let mut f = AtomicFile::replacing(path).with_context(ctx)?;
    if let Err(e) = f.file.write_all(&text) {
        let _ = fs::remove_file(f.tmp_path());
        return Err(e).with_context(ctx);
    }
    let tmp = f.tmp_path().to_owned();
    f.commit()
        .inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
        .with_context(ctx)?;
    Ok(())
}

/// The record at `path`, or `None` when there is none; `Err` names the file
/// when it cannot be read or parsed.
pub fn read_optional<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    match fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}
