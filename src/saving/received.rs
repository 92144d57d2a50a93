//! A dump an ssh target received (`vmcore.flat`, makedumpfile's flattened
//! stream) turned into the kdump-compressed `vmcore` beside it, on the
//! server: `kexdump convert DIR`. The new file is rebuilt byte for byte
//! (as `makedumpfile -R`), fsynced and renamed; then the record says so,
//! with the new file's CRC32; only then is the stream removed. A cut at
//! any point leaves either the stream and its record, or both files.

use super::reassemble;
use crate::dumps::{DUMP, DUMP_FLAT, DUMP_FLAT_INCOMPLETE, RECORD};
use anyhow::{bail, Context, Result};
use kexdump_engine::capture_dir::record::Record;
use kexdump_engine::output::AtomicFile;
use kexdump_engine::Vmcore;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Converted {
    pub dump: PathBuf,
    pub bytes: u64,
    pub crc32: u32,
    /// Whether kexdump.json was updated (absent: none was there).
    pub record_updated: bool,
}

pub fn convert_in_place(dir: &Path) -> Result<Converted> {
    let flat = dir.join(DUMP_FLAT);
    let out = dir.join(DUMP);
    if !flat.is_file() {
        if dir.join(DUMP_FLAT_INCOMPLETE).is_file() {
            bail!(
                "{} holds only {DUMP_FLAT_INCOMPLETE}: the transfer was cut short. Read what arrived with \
                 `kexdump convert {} OUT` (the result is marked INCOMPLETE)",
                dir.display(),
                dir.join(DUMP_FLAT_INCOMPLETE).display()
            );
        }
        bail!("{} has no {DUMP_FLAT}: converting in place is for dumps an ssh target received", dir.display());
    }
    if fs::symlink_metadata(&out).is_ok() {
        bail!(
            "{} exists already: nothing to convert (remove {} if it is a copy you no longer need)",
            out.display(),
            flat.display()
        );
    }
    let vm = Vmcore::open(&flat).with_context(|| format!("reading {}", flat.display()))?;
    if let Some(cut) = vm.input.cut_short() {
        bail!("{}: {cut}; it is not whole, so it stays as it is", flat.display());
    }
    let (dump, bytes) = reassemble(&vm, &out)?;
    drop(vm);
    let crc32 = kexdump_engine::verify::crc32_file(&dump).with_context(|| format!("reading {}", dump.display()))?;

    let record_path = dir.join(RECORD);
    let record_updated = match fs::read(&record_path) {
        Ok(text) => {
            let mut rec = Record::from_json(&text).with_context(|| format!("reading {}", record_path.display()))?;
            let d = rec.dump.get_or_insert_with(Default::default);
            d.file = Some(DUMP.into());
            d.format = Some("kdump".into());
            d.bytes = Some(bytes);
            d.set_crc32(crc32);
            d.crc32_source = Some(format!("disk: rebuilt from {DUMP_FLAT} by kexdump convert"));
            let mut f =
                AtomicFile::replacing(&record_path).with_context(|| format!("writing {}", record_path.display()))?;
            f.file.write_all(rec.to_json().as_bytes())?;
            f.commit().with_context(|| format!("writing {}", record_path.display()))?;
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("reading {}", record_path.display())),
    };
    fs::remove_file(&flat)
        .with_context(|| format!("removing {} (the dump is now {})", flat.display(), dump.display()))?;
    File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("syncing {}", dir.display()))?;
    Ok(Converted { dump, bytes, crc32, record_updated })
}
