//! Writing a dump with the engine, as `kexdump save` and `kexdump convert`
//! do: to OUT.incomplete, fsynced and renamed, or as a flattened stream on
//! stdout for `-`; a progress line on a terminal, then a summary. And the
//! byte-for-byte rebuild of a flattened stream `convert` does.

pub mod interrupt;
pub mod progress;
pub mod received;

use anyhow::{bail, Context, Result};
use kexdump_engine::compress::Compression;
use kexdump_engine::output::{AtomicFile, INCOMPLETE_SUFFIX};
use kexdump_engine::reader::flat;
use kexdump_engine::sink::{FileSink, FlatSink, Sink};
use kexdump_engine::{Format, SaveOptions, Vmcore};
use progress::Terminal;
use std::io::{BufWriter, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// The layout of the dump written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpFormat {
    /// kdump-compressed.
    Kdump,
    /// ELF core.
    Elf,
    /// makedumpfile's flattened kdump format.
    Flat,
}

/// What to write, and how to report it.
pub struct DumpRequest {
    pub out: PathBuf,
    pub format: DumpFormat,
    pub level: u8,
    pub compression: Compression,
    /// Threads compressing pages (`None`: the CPUs this process may use).
    pub threads: Option<u16>,
    pub json: bool,
    pub quiet: bool,
    pub started: Instant,
}

/// Save `vm` as `req` says: OUT.incomplete, fsynced, renamed (or a
/// flattened stream on stdout for `-`), then a summary.
pub fn write_dump(vm: &Vmcore, req: &DumpRequest) -> Result<ExitCode> {
    let compression = req.compression;
    let to_stdout = req.out == Path::new("-");
    let format = match req.format {
        DumpFormat::Elf if to_stdout => anyhow::bail!("ELF output needs a file: use --format flat for stdout"),
        DumpFormat::Elf => Format::Elf,
        DumpFormat::Kdump | DumpFormat::Flat => Format::Kdump,
    };
    if to_stdout && std::io::stdout().is_terminal() {
        bail!("refusing to write a binary dump to a terminal: redirect standard output (`... - > vmcore.flat`, `... - | ssh host 'cat > vmcore.flat'`) or name a file");
    }
    let threads = req.threads.map_or_else(kexdump_engine::save::online_cpus, usize::from);
    let opts = SaveOptions { level: req.level, format, compression, threads };
    let mut progress = Terminal::new(req.quiet || to_stdout && req.json);
    let mut warn = |m: &str| eprintln!("kexdump: WARNING: {m}");

    let (report, out_path) = if to_stdout {
        let mut sink = FlatSink::new(BufWriter::with_capacity(1 << 20, std::io::stdout().lock()))?;
        let r = kexdump_engine::save(vm, &mut sink, &opts, &mut progress, &mut warn)?;
        (r, "-".to_string())
    } else {
        let out = create(&req.out)?;
        let _cleanup = interrupt::remove_on_signal(out.tmp_path());
        let file = out.file.try_clone()?;
        let r = if req.format == DumpFormat::Flat {
            let mut sink = FlatSink::new(BufWriter::with_capacity(1 << 20, file))?;
            let r = kexdump_engine::save(vm, &mut sink, &opts, &mut progress, &mut warn);
            if r.is_ok() {
                sink.into_inner().into_inner().map_err(|e| e.into_error())?;
            }
            r
        } else {
            let mut sink = FileSink::new(file);
            let r = kexdump_engine::save(vm, &mut sink, &opts, &mut progress, &mut warn);
            let _ = sink.written();
            r
        };
        let r = r.with_context(|| format!("writing {} (left as {})", req.out.display(), out.tmp_path().display()))?;
        let path = out.commit().with_context(|| format!("committing {}", req.out.display()))?;
        (r, path.display().to_string())
    };
    progress.done();
    let secs = req.started.elapsed().as_secs_f64();
    let s = &report.stats;
    if req.json {
        let j = serde_json::json!({
            "output": out_path,
            "input_format": vm.format.to_string(),
            "format": format!("{:?}", req.format).to_lowercase(),
            "compression": compression.name(),
            "requested_level": report.requested_level,
            "level": report.level,
            "fallback": report.fallback,
            "warnings": report.warnings,
            "pages": {
                "present": s.pages_present,
                "written": s.pages_written,
                "zero": s.zero_pages,
                "stored_raw": s.raw_pages,
                "excluded": {
                    "cache": s.filter.cache,
                    "cache_private": s.filter.cache_private,
                    "user": s.filter.user,
                    "free": s.filter.free,
                    "hwpoison": s.filter.hwpoison,
                    "offline": s.filter.offline,
                },
            },
            "bytes": s.bytes,
            "seconds": secs,
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        let f = &s.filter;
        eprintln!(
            "kexdump: saved {out_path}: level {} ({} of {} pages kept, {} zero), {:.1} MB in {:.2} s\n  excluded: cache {} cache_private {} user {} free {} hwpoison {} offline {}",
            report.level,
            s.pages_written,
            s.pages_present,
            s.zero_pages,
            s.bytes as f64 / 1e6,
            secs,
            f.cache,
            f.cache_private,
            f.user,
            f.free,
            f.hwpoison,
            f.offline
        );
    }
    // Saved, but the engine could not apply every rule asked for (it kept
    // those pages) or the kernel is outside the tested range.
    let partial = report.fallback.is_some() || !report.warnings.is_empty();
    Ok(crate::exit::code(if partial { crate::exit::INCOMPLETE } else { crate::exit::OK }))
}

/// Write the kdump-compressed file a flattened stream carries, byte for
/// byte, as `makedumpfile -R` does: OUT.incomplete, fsynced, renamed.
/// Returns the path written and its size.
pub fn reassemble(vm: &Vmcore, out: &Path) -> Result<(PathBuf, u64)> {
    let file = create(out)?;
    let _cleanup = interrupt::remove_on_signal(file.tmp_path());
    let mut sink = FileSink::new(file.file.try_clone()?);
    let bytes = flat::reassemble(&vm.input, &mut sink)
        .with_context(|| format!("writing {} (left as {})", out.display(), file.tmp_path().display()))?;
    let path = file.commit().with_context(|| format!("committing {}", out.display()))?;
    Ok((path, bytes))
}

/// `out.incomplete`, to be renamed `out` when whole. One left by an earlier
/// run that was killed or failed is named with the fix, not reported as
/// "File exists": it is not a dump anyone should keep by accident.
fn create(out: &Path) -> Result<AtomicFile> {
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(INCOMPLETE_SUFFIX);
    let tmp = PathBuf::from(tmp);
    if let Ok(md) = std::fs::symlink_metadata(&tmp) {
        let what = if md.file_type().is_symlink() { "a symlink (not followed)" } else { "left by an earlier run" };
        bail!(
            "{} exists, {what}: a save or convert there was interrupted or failed, so it is not a whole \
             dump. Remove it (rm {}) and run again, or name another output",
            tmp.display(),
            tmp.display()
        );
    }
    Ok(AtomicFile::create(out)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_incomplete_file_is_named_with_the_fix() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("vmcore");
        let tmp = t.path().join("vmcore.incomplete");
        std::fs::write(&tmp, b"partial").unwrap();
        let e = format!("{:#}", create(&out).err().unwrap());
        assert!(e.contains("left by an earlier run") && e.contains(&format!("rm {}", tmp.display())), "{e}");
        std::fs::remove_file(&tmp).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &tmp).unwrap();
        let e = format!("{:#}", create(&out).err().unwrap());
        assert!(e.contains("a symlink (not followed)"), "{e}");
        std::fs::remove_file(&tmp).unwrap();
        let f = create(&out).unwrap();
        assert_eq!(f.tmp_path(), tmp);
    }
}
