//! The capture directory: the contract between the capture kernel, which
//! writes one directory per crash on the dump target, and everything that
//! reads it later (`kexdump list`, `status`, `verify`, `inspect`).
//!
//! `<YYYYMMDD-HHMMSS>-<host>[.N]/` holds `dmesg.txt` (saved first: it is
//! small), the dump (`vmcore`, or `vmcore.incomplete` while it is written
//! and after a capture cut short) and `kexdump.json` ([`record`]). The
//! layout is documented for operators in docs/capture.md; this module is the
//! one place that names it in code.

pub mod record;
pub mod time;

use std::io;
use std::path::Path;

/// The record each capture writes.
pub const RECORD: &str = "kexdump.json";
/// The dump file of a complete capture.
pub const DUMP: &str = "vmcore";
/// The dump file while it is written, and of a capture cut short.
pub const DUMP_INCOMPLETE: &str = "vmcore.incomplete";
/// The dump an ssh target receives: makedumpfile's flattened format (a
/// stream; `kexdump convert` turns it into `vmcore` on the server).
pub const DUMP_FLAT: &str = "vmcore.flat";
/// The same while it is sent, and of a transfer cut short.
pub const DUMP_FLAT_INCOMPLETE: &str = "vmcore.flat.incomplete";
/// The crashed kernel's log.
pub const DMESG: &str = "dmesg.txt";
/// Every file a capture writes: a directory holding one of them is a capture.
pub const CAPTURE_FILES: [&str; 6] = [RECORD, DUMP, DUMP_INCOMPLETE, DUMP_FLAT, DUMP_FLAT_INCOMPLETE, DMESG];

/// `YYYYMMDD-HHMMSS-HOST`: the directory of a capture of a crash at
/// `crash_time` (seconds since the epoch, UTC) on `host`.
pub fn dir_name(crash_time: i64, host: &str) -> String {
    format!("{}-{}", time::compact_time(crash_time), safe_name(host))
}

/// `YYYYMMDD-HHMMSS-` at the start of the name: how the capture kernel's
/// retention and `kexdump list` recognise a capture directory.
pub fn is_capture_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 16
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'-'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'-'
}

/// A host name safe as part of a directory name: at most 64 characters of
/// `[A-Za-z0-9._-]`, never empty, never starting with a dot.
pub fn safe_name(s: &str) -> String {
    let n: String =
        s.chars().take(64).map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    if n.is_empty() || n.starts_with('.') {
        format!("host{n}")
    } else {
        n
    }
}

/// Bytes available to root on the file system holding `path` (statvfs
/// f_bfree × f_frsize: root's reserved blocks count, as captures are
/// written by root). The capture kernel's retention and `kexdump status`
/// judge the dump target's space with the same figure.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let st = nix::sys::statvfs::statvfs(path)
        .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("statvfs {}: {e}", path.display())))?;
    // Both are 64-bit on every 64-bit Linux (fsblkcnt_t, unsigned long).
    Ok(st.blocks_free().saturating_mul(st.fragment_size()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(safe_name("db-01.example"), "db-01.example");
        assert_eq!(safe_name("a/b c"), "a_b_c");
        assert_eq!(safe_name(""), "host");
        assert_eq!(safe_name(".."), "host..");
        assert_eq!(dir_name(1_795_316_645, "db 01"), "20261122-030405-db_01");
        assert!(is_capture_name(&dir_name(0, "")));
        assert!(!is_capture_name("2026010-000000-x") && !is_capture_name("20260101-000000"));
    }

    #[test]
    fn free_space_of_a_real_directory() {
        let t = std::env::temp_dir();
        assert!(free_bytes(&t).is_ok());
        let e = free_bytes(Path::new("/nonexistent/kexdump")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("/nonexistent/kexdump"), "{e}");
    }
}
