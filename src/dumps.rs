//! The dumps saved on a dump target: one directory per capture under the
//! dump root, `<YYYYMMDD-HHMMSS>-<host>[.N]/` holding `dmesg.txt`, the dump
//! (`vmcore`, or `vmcore.incomplete` when it was cut short) and
//! `kexdump.json` (schema `kexdump.capture/1`, docs/capture.md).
//!
//! What is on the target was written by a dying machine's capture kernel,
//! or by anyone with access to the disk: nothing here trusts it. Symlinks
//! are never followed, file names from `kexdump.json` are only looked up in
//! the directory's listing (never joined to a path), the record is read up
//! to a size limit, and every oddity becomes a line in `problems`.

pub use kexdump_engine::capture_dir::record::Record as CaptureRecord;
use kexdump_engine::capture_dir::record::SCHEMA;
pub use kexdump_engine::capture_dir::{
    is_capture_name, CAPTURE_FILES, DMESG, DUMP, DUMP_FLAT, DUMP_FLAT_INCOMPLETE, DUMP_INCOMPLETE, RECORD,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A record is about 1 KiB (4 KiB while padded); anything this big is not one.
const RECORD_MAX_BYTES: u64 = 1 << 20;

/// A capture's status: the record's, or `Unknown` without a usable record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Complete,
    Incomplete,
    Failed,
    /// The record written before the dump: the capture was cut short.
    Saving,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Complete => "complete",
            Status::Incomplete => "incomplete",
            Status::Failed => "failed",
            Status::Saving => "saving",
            Status::Unknown => "unknown",
        }
    }

    fn parse(s: &str) -> Option<Status> {
        match s {
            "complete" => Some(Status::Complete),
            "incomplete" => Some(Status::Incomplete),
            "failed" => Some(Status::Failed),
            "saving" => Some(Status::Saving),
            _ => None,
        }
    }
}

/// One capture directory.
#[derive(Clone, Debug)]
pub struct DumpEntry {
    /// The directory's name (lossily UTF-8).
    pub dir: String,
    pub status: Status,
    /// UTC `YYYY-MM-DDTHH:MM:SSZ`: the record's, else the time the
    /// directory's name starts with.
    pub crash_time: Option<String>,
    /// The record's, else the name's part after the time.
    pub hostname: Option<String>,
    /// The record, when it could be read and follows the schema.
    pub record: Option<CaptureRecord>,
    /// `vmcore` or `vmcore.incomplete`, as present in the directory.
    pub dump_file: Option<String>,
    /// The dump file's size on disk (not the record's figure).
    pub dump_bytes: Option<u64>,
    pub dmesg_file: Option<String>,
    /// Every regular file in the directory and its size.
    pub files: BTreeMap<String, u64>,
    /// What is missing, odd or inconsistent, for people.
    pub problems: Vec<String>,
}

impl DumpEntry {
    /// The size of all its files.
    pub fn total_bytes(&self) -> u64 {
        self.files.values().fold(0, |a, b| a.saturating_add(*b))
    }
}

/// An entry of the dump root that is not listed, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

/// What [`scan`] found.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// Oldest first.
    pub dumps: Vec<DumpEntry>,
    pub skipped: Vec<Skipped>,
}

/// The capture directories under `root`, oldest first (by name: names
/// start with the UTC crash time). An entry is listed when it is a
/// directory (not a symlink to one) named `YYYYMMDD-HHMMSS-...` or holding
/// one of the files a capture writes. Symlinks and other directories are
/// in `skipped`; plain files beside the captures are ignored. Only
/// reading `root` itself can fail.
pub fn scan(root: &Path) -> io::Result<Scan> {
    let mut names: Vec<(OsString, fs::FileType)> = Vec::new();
    for e in fs::read_dir(root)? {
        let e = e?;
        // DirEntry::file_type does not follow symlinks.
        names.push((e.file_name(), e.file_type()?));
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Scan::default();
    for (os_name, ft) in names {
        let name = os_name.to_string_lossy().into_owned();
        if ft.is_symlink() {
            let reason = "a symlink; not followed".to_owned();
            out.skipped.push(Skipped { name, reason });
            continue;
        }
        if !ft.is_dir() {
            continue;
        }
        let listing = list_dir(&root.join(&os_name));
        let ours = match &listing {
            Ok(l) => CAPTURE_FILES.iter().any(|f| l.contains_key(*f)),
            Err(_) => false,
        };
        if !is_capture_name(&name) && !ours {
            let reason = match listing {
                Err(e) => format!("not named like a capture, and cannot be read: {e}"),
                Ok(_) => "not a capture: no YYYYMMDD-HHMMSS- name and none of kexdump.json, vmcore, \
                          vmcore.incomplete, dmesg.txt"
                    .to_owned(),
            };
            out.skipped.push(Skipped { name, reason });
            continue;
        }
        out.dumps.push(entry(&root.join(&os_name), name, listing));
    }
    Ok(out)
}

/// What a directory entry is, without following symlinks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File(u64),
    Symlink,
    Dir,
    Other,
}

fn list_dir(dir: &Path) -> io::Result<BTreeMap<String, Kind>> {
    let mut out = BTreeMap::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let ft = e.file_type()?;
        let kind = if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            // DirEntry::metadata does not follow symlinks either.
            Kind::File(e.metadata().map(|m| m.len()).unwrap_or(0))
        } else {
            Kind::Other
        };
        out.insert(e.file_name().to_string_lossy().into_owned(), kind);
    }
    Ok(out)
}

fn entry(dir: &Path, name: String, listing: io::Result<BTreeMap<String, Kind>>) -> DumpEntry {
    let (time, host) = name_parts(&name);
    let mut e = DumpEntry {
        dir: name,
        status: Status::Unknown,
        crash_time: time,
        hostname: host,
        record: None,
        dump_file: None,
        dump_bytes: None,
        dmesg_file: None,
        files: BTreeMap::new(),
        problems: Vec::new(),
    };
    let listing = match listing {
        Ok(l) => l,
        Err(e2) => {
            let hint = if e2.kind() == io::ErrorKind::PermissionDenied { " (captures are 0700 root)" } else { "" };
            e.problems.push(format!("cannot read the directory: {e2}{hint}"));
            return e;
        }
    };
    for (n, k) in &listing {
        match k {
            Kind::File(len) => {
                e.files.insert(n.clone(), *len);
            }
            Kind::Symlink => e.problems.push(format!("{n} is a symlink; not followed")),
            Kind::Dir if CAPTURE_FILES.contains(&n.as_str()) => e.problems.push(format!("{n} is a directory")),
            Kind::Other if CAPTURE_FILES.contains(&n.as_str()) => e.problems.push(format!("{n} is not a regular file")),
            Kind::Dir | Kind::Other => {}
        }
    }
    let file = |n: &str| match listing.get(n) {
        Some(Kind::File(len)) => Some(*len),
        _ => None,
    };

    match file(RECORD) {
        Some(_) => match read_record(&dir.join(RECORD)) {
            Ok(r) => {
                // Not damage, but the operator must know: the engine kept
                // what it could not decide, or saved at a lower level.
                if let Some(d) = &r.dump {
                    e.problems.extend(d.fallback.iter().map(|f| format!("saved at a lower level: {f}")));
                    e.problems.extend(d.warnings.iter().map(|w| format!("saved with a warning: {w}")));
                }
                e.record = Some(r)
            }
            Err(m) => e.problems.push(m),
        },
        None if listing.contains_key(RECORD) => {} // said above
        None => e.problems.push(format!("no {RECORD}: the capture stopped before writing it, or it was removed")),
    }

    // The dump: the file the record names, when it is one of ours and
    // present; else whichever of vmcore, vmcore.incomplete is there.
    let named = e.record.as_ref().and_then(|r| r.dump.as_ref()).and_then(|d| d.file.clone());
    let dump_file = match &named {
        Some(n) if !is_dump_name(n) => {
            e.problems.push(format!("{RECORD} names the dump {}, not one of {}", quoted(n), DUMP_NAMES.join(", ")));
            None
        }
        Some(n) if file(n).is_none() => {
            e.problems.push(format!("{RECORD} names the dump {n}, which is not in the directory"));
            None
        }
        Some(n) => Some(n.clone()),
        None => None,
    };
    e.dump_file = dump_file.or_else(|| DUMP_NAMES.into_iter().find(|n| file(n).is_some()).map(String::from));
    e.dump_bytes = e.dump_file.as_deref().and_then(file);
    for partial in [DUMP_INCOMPLETE, DUMP_FLAT_INCOMPLETE] {
        if e.dump_file.as_deref() != Some(partial) && file(partial).is_some() {
            e.problems.push(format!("{partial} is there too: a partial dump beside the dump"));
        }
    }

    let named = e.record.as_ref().and_then(|r| r.dmesg.as_ref()).and_then(|d| d.file.clone());
    if let Some(n) = &named {
        if n != DMESG {
            e.problems.push(format!("{RECORD} names the log {}, not {DMESG}", quoted(n)));
        } else if file(n).is_none() {
            e.problems.push(format!("{RECORD} names the log {DMESG}, which is not in the directory"));
        }
    }
    e.dmesg_file = file(DMESG).map(|_| DMESG.to_owned());

    let Some(r) = e.record.clone() else {
        if e.dump_file.is_none() {
            e.problems.push("no dump file".into());
        }
        return e;
    };
    if r.schema != SCHEMA {
        e.problems.push(format!("{RECORD} has schema {}; this kexdump reads {SCHEMA}", quoted(&r.schema)));
        e.record = None;
        return e;
    }
    match Status::parse(&r.status) {
        Some(s) => e.status = s,
        None => e
            .problems
            .push(format!("{RECORD} has status {}, not complete, incomplete, failed or saving", quoted(&r.status))),
    }
    if e.status == Status::Saving {
        let during = r.phase.as_deref().map(|p| format!(" during {p}")).unwrap_or_default();
        if e.dump_file.as_deref().is_some_and(is_whole_dump) {
            // Renamed into place: the dump itself is whole.
            e.problems.push(format!("complete dump, record cut short{during} ({RECORD} still says \"saving\")"));
        } else {
            e.problems.push(format!("{RECORD} still says \"saving\": the capture was cut short{during}"));
        }
    }
    if let Some(err) = &r.error {
        e.problems.push(format!("capture error: {err}"));
    }
    match (&e.dump_file, e.status) {
        (None, Status::Complete | Status::Incomplete) => e.problems.push("no dump file".into()),
        (Some(f), Status::Complete) if !is_whole_dump(f) => e.problems.push(format!("complete, but the dump is {f}")),
        _ => {}
    }
    let said = r.dump.as_ref().and_then(|d| d.bytes);
    if let (Some(have), Some(said), Some(f)) = (e.dump_bytes, said, &e.dump_file) {
        if have != said && e.status != Status::Saving {
            e.problems.push(format!("{f} is {have} bytes; {RECORD} says {said}"));
        }
    }
    match r.crash_time.as_deref().map(iso_time) {
        Some(Some(t)) => e.crash_time = Some(t),
        Some(None) => e.problems.push(format!(
            "{RECORD}: crash_time {} is not a UTC time; the directory's name is used",
            quoted(r.crash_time.as_deref().unwrap_or_default())
        )),
        None => {}
    }
    if let Some(h) = &r.hostname {
        e.hostname = Some(h.clone());
    }
    e
}

fn is_dump_name(n: &str) -> bool {
    DUMP_NAMES.contains(&n)
}

/// The dump files a capture may hold, whole ones first: `vmcore` on a file
/// system, `vmcore.flat` as an ssh target receives it.
pub const DUMP_NAMES: [&str; 4] = [DUMP, DUMP_FLAT, DUMP_INCOMPLETE, DUMP_FLAT_INCOMPLETE];

/// Whether a dump file name is that of a whole dump.
pub fn is_whole_dump(n: &str) -> bool {
    n == DUMP || n == DUMP_FLAT
}

/// Up to 80 characters of a string from the record, quoted and escaped.
fn quoted(s: &str) -> String {
    let short: String = s.chars().take(80).collect();
    let more = if short.len() < s.len() { "..." } else { "" };
    format!("{short:?}{more}")
}

/// Read and parse a record: a regular file (opened without following a
/// symlink, without blocking on a FIFO) of at most `RECORD_MAX_BYTES`.
fn read_record(path: &Path) -> Result<CaptureRecord, String> {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("{RECORD}: cannot open: {e}"))?;
    let md = f.metadata().map_err(|e| format!("{RECORD}: {e}"))?;
    if !md.is_file() {
        return Err(format!("{RECORD} is not a regular file"));
    }
    if md.len() > RECORD_MAX_BYTES {
        return Err(format!("{RECORD} is {} bytes; not read (a record is a few KiB)", md.len()));
    }
    let mut text = Vec::new();
    f.take(RECORD_MAX_BYTES + 1).read_to_end(&mut text).map_err(|e| format!("{RECORD}: cannot read: {e}"))?;
    parse_record(&text)
}

/// Parse the text of a record.
pub fn parse_record(text: &[u8]) -> Result<CaptureRecord, String> {
    if text.iter().all(u8::is_ascii_whitespace) {
        return Err(format!("{RECORD} is empty"));
    }
    CaptureRecord::from_json(text).map_err(|e| format!("{RECORD} is not a {SCHEMA} record: {e}"))
}

/// `YYYYMMDD-HHMMSS-HOST[.N]` → (`YYYY-MM-DDTHH:MM:SSZ`, `HOST`): what the
/// name says when no record does. `.N` is only taken off when HOST is
/// the capture kernel's safe form (no dots), as it is ambiguous otherwise.
fn name_parts(name: &str) -> (Option<String>, Option<String>) {
    if !is_capture_name(name) {
        return (None, None);
    }
    let d = |r: std::ops::Range<usize>| &name[r];
    let time = format!("{}-{}-{}T{}:{}:{}Z", d(0..4), d(4..6), d(6..8), d(9..11), d(11..13), d(13..15));
    let time = iso_time(&time);
    let host = &name[16..];
    let host = match host.rsplit_once('.') {
        Some((h, n)) if !h.contains('.') && !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    (time, Some(host.to_owned()).filter(|h| !h.is_empty()))
}

/// `YYYY-MM-DDTHH:MM:SSZ` with plausible fields, else `None`.
fn iso_time(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let shape = b.len() == 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'Z';
    if !shape {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(99);
    let ok = (1..=12).contains(&n(5..7))
        && (1..=31).contains(&n(8..10))
        && n(11..13) < 24
        && n(14..16) < 60
        && n(17..19) < 61;
    ok.then(|| s.to_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A record as the capture kernel writes it (its own writer).
    pub(crate) fn record_json(status: &str, dump_file: &str, dump_bytes: u64, crash_time: i64, host: &str) -> String {
        use kexdump_engine::capture_dir::record::{DmesgRecord, DumpRecord, Record, Status as S};
        use kexdump_engine::capture_dir::time::iso8601;
        let status = S::parse(status).unwrap_or(S::Saving);
        let mut r = Record::new(status);
        r.error = (status == S::Incomplete).then(|| "writing vmcore.incomplete: No space left on device".into());
        r.kernel_release = Some("6.1.0-56-amd64".into());
        r.hostname = Some(host.into());
        r.machine = Some("x86_64".into());
        r.set_crash_time(Some(crash_time));
        r.capture_time = Some(iso8601(crash_time + 9));
        r.panic_message = Some("sysrq triggered crash".into());
        r.vmcore_bytes = Some(2 << 30);
        r.dmesg = Some(DmesgRecord { file: Some(DMESG.into()), bytes: Some(5) });
        let mut dump = DumpRecord {
            file: Some(dump_file.into()),
            format: Some("kdump".into()),
            compression: Some("zstd".into()),
            level_requested: Some(31),
            level: Some(31),
            bytes: Some(dump_bytes),
            crc32_source: Some("disk".into()),
            ..Default::default()
        };
        dump.set_crc32(0x1234abcd);
        r.dump = Some(dump);
        r.durations_seconds = vec![("dump".into(), 1.5)];
        r.capture_kernel = Some("6.1.0-56-amd64".into());
        r.to_json()
    }

    /// A capture directory: `files` are (name, contents).
    pub(crate) fn capture(root: &Path, name: &str, files: &[(&str, &[u8])]) {
        let d = root.join(name);
        fs::create_dir_all(&d).unwrap();
        for (n, data) in files {
            fs::write(d.join(n), data).unwrap();
        }
    }

    // 2026-11-22T03:04:05Z
    const T: i64 = 1_795_316_645;

    #[test]
    fn complete_capture() {
        let t = tempfile::tempdir().unwrap();
        let json = record_json("complete", DUMP, 7, T, "db-01");
        capture(t.path(), "20261122-030405-db-01", &[(DMESG, b"hello"), (DUMP, b"1234567"), (RECORD, json.as_bytes())]);
        let s = scan(t.path()).unwrap();
        assert!(s.skipped.is_empty());
        let [e] = &s.dumps[..] else { panic!("{s:?}") };
        assert_eq!((e.dir.as_str(), e.status), ("20261122-030405-db-01", Status::Complete));
        assert_eq!(e.crash_time.as_deref(), Some("2026-11-22T03:04:05Z"));
        assert_eq!(e.hostname.as_deref(), Some("db-01"));
        assert_eq!((e.dump_file.as_deref(), e.dump_bytes, e.dmesg_file.as_deref()), (Some(DUMP), Some(7), Some(DMESG)));
        let r = e.record.as_ref().unwrap();
        assert_eq!(r.kernel_release.as_deref(), Some("6.1.0-56-amd64"));
        assert_eq!(r.panic_message.as_deref(), Some("sysrq triggered crash"));
        assert_eq!(r.dump.as_ref().unwrap().crc32.as_deref(), Some("1234abcd"));
        assert_eq!(e.files.len(), 3);
        assert_eq!(e.total_bytes(), 5 + 7 + json.len() as u64);
        assert!(e.problems.is_empty(), "{:?}", e.problems);
    }

    #[test]
    fn a_dump_saved_with_warnings_says_so() {
        let t = tempfile::tempdir().unwrap();
        let json = record_json("complete", DUMP, 7, T, "db-01").replace(
            "\"warnings\": []",
            "\"warnings\": [\"VMCOREINFO has no way to recognise hugetlbfs pages: they are kept\"]",
        );
        capture(t.path(), "20261122-030405-db-01", &[(DMESG, b"hello"), (DUMP, b"1234567"), (RECORD, json.as_bytes())]);
        let s = scan(t.path()).unwrap();
        assert_eq!(s.dumps[0].status, Status::Complete);
        assert_eq!(
            s.dumps[0].problems,
            ["saved with a warning: VMCOREINFO has no way to recognise hugetlbfs pages: they are kept"]
        );
    }

    #[test]
    fn a_renamed_dump_whose_record_says_saving_is_whole() {
        let t = tempfile::tempdir().unwrap();
        let json = record_json("saving", DUMP, 7, T, "db-01").replace("\"phase\": null", "\"phase\": \"crc32\"");
        capture(t.path(), "20261122-030405-db-01", &[(DMESG, b"hello"), (DUMP, b"1234567"), (RECORD, json.as_bytes())]);
        let s = scan(t.path()).unwrap();
        assert_eq!(s.dumps[0].status, Status::Saving);
        assert_eq!(
            s.dumps[0].problems,
            ["complete dump, record cut short during crc32 (kexdump.json still says \"saving\")"]
        );
    }

    #[test]
    fn incomplete_capture() {
        let t = tempfile::tempdir().unwrap();
        let json = record_json("incomplete", DUMP_INCOMPLETE, 3, T, "db-01");
        capture(
            t.path(),
            "20261122-030405-db-01",
            &[(DMESG, b"x"), (DUMP_INCOMPLETE, b"abc"), (RECORD, json.as_bytes())],
        );
        let s = scan(t.path()).unwrap();
        let e = &s.dumps[0];
        assert_eq!(e.status, Status::Incomplete);
        assert_eq!((e.dump_file.as_deref(), e.dump_bytes), (Some(DUMP_INCOMPLETE), Some(3)));
        assert_eq!(e.problems, ["capture error: writing vmcore.incomplete: No space left on device"]);
    }

    #[test]
    fn missing_record_lists_the_files_present() {
        let t = tempfile::tempdir().unwrap();
        capture(t.path(), "20261122-030405-web.2", &[(DMESG, b"log"), (DUMP_INCOMPLETE, b"part")]);
        let s = scan(t.path()).unwrap();
        let e = &s.dumps[0];
        assert_eq!(e.status, Status::Unknown);
        assert!(e.record.is_none());
        // What the name says.
        assert_eq!((e.crash_time.as_deref(), e.hostname.as_deref()), (Some("2026-11-22T03:04:05Z"), Some("web")));
        assert_eq!((e.dump_file.as_deref(), e.dump_bytes), (Some(DUMP_INCOMPLETE), Some(4)));
        assert_eq!(e.dmesg_file.as_deref(), Some(DMESG));
        assert_eq!(e.files.keys().collect::<Vec<_>>(), [DMESG, DUMP_INCOMPLETE]);
        assert_eq!(e.problems, ["no kexdump.json: the capture stopped before writing it, or it was removed"]);

        // A directory made just before the machine died: nothing in it.
        capture(t.path(), "20261123-000000-web", &[]);
        let e = &scan(t.path()).unwrap().dumps[1];
        assert_eq!((e.status, e.dump_file.as_deref(), e.files.len()), (Status::Unknown, None, 0));
        assert_eq!(e.problems[1], "no dump file");
    }

    #[test]
    fn garbage_record_is_a_problem_not_an_error() {
        let t = tempfile::tempdir().unwrap();
        capture(t.path(), "20261122-030405-h", &[(DUMP, b"1"), (RECORD, b"{\"schema\": \"kexdump.capture/1\", \"sta")]);
        let e = &scan(t.path()).unwrap().dumps[0];
        assert_eq!(e.status, Status::Unknown);
        assert_eq!((e.dump_file.as_deref(), e.dump_bytes), (Some(DUMP), Some(1)));
        assert_eq!(e.problems.len(), 1, "{:?}", e.problems);
        assert!(
            e.problems[0].starts_with("kexdump.json is not a kexdump.capture/1 record: EOF while parsing"),
            "{:?}",
            e.problems
        );
    }

    /// Odd records: never a panic, always a status and a reason.
    #[test]
    fn odd_records_never_panic() {
        let base = r#"{"schema": "kexdump.capture/1", "status": "complete""#;
        let cases: Vec<(Vec<u8>, Status, &str)> = vec![
            (b"".to_vec(), Status::Unknown, "kexdump.json is empty"),
            (b"   \n".to_vec(), Status::Unknown, "kexdump.json is empty"),
            (b"null".to_vec(), Status::Unknown, "invalid type: null"),
            (b"[1,2]".to_vec(), Status::Unknown, "invalid type: integer `1`, expected a string"),
            (b"\xff\xfe{}".to_vec(), Status::Unknown, "expected value"),
            (b"{}".to_vec(), Status::Unknown, "missing field `schema`"),
            (format!("{base}}}").into_bytes(), Status::Complete, ""),
            (format!("{base}, \"colour\": [1, {{}}]}}").into_bytes(), Status::Complete, ""),
            (format!("{base}, \"vmcore_bytes\": 1e400}}").into_bytes(), Status::Unknown, "number out of range"),
            (
                format!("{base}, \"vmcore_bytes\": 99999999999999999999999}}").into_bytes(),
                Status::Unknown,
                "invalid type",
            ),
            (format!("{base}, \"crash_time_unix\": -1.5}}").into_bytes(), Status::Unknown, "invalid type"),
            (format!("{base}, \"dump\": {{\"level\": 300}}}}").into_bytes(), Status::Unknown, "invalid value"),
            (format!("{base}, \"dump\": \"vmcore\"}}").into_bytes(), Status::Unknown, "invalid type"),
            (format!("{base}, \"hostname\": 7}}").into_bytes(), Status::Unknown, "invalid type: integer `7`"),
            (br#"{"schema": "kexdump.capture/2", "status": "complete"}"#.to_vec(), Status::Unknown, "has schema"),
            (br#"{"schema": 1, "status": "complete"}"#.to_vec(), Status::Unknown, "invalid type"),
            (br#"{"schema": "kexdump.capture/1", "status": "exploded"}"#.to_vec(), Status::Unknown, "exploded"),
            (format!("{base}, \"crash_time\": \"yesterday\"}}").into_bytes(), Status::Complete, "not a UTC time"),
            (
                format!("{base}, \"crash_time\": \"2026-13-45T99:00:00Z\"}}").into_bytes(),
                Status::Complete,
                "not a UTC time",
            ),
            (format!("{base}, \"dump\": {{\"file\": \"../../etc/passwd\"}}}}").into_bytes(), Status::Complete, "names"),
            (format!("{base}, \"dump\": {{\"file\": \"vmcore\", \"bytes\": 5}}}}").into_bytes(), Status::Complete, ""),
            (
                format!("{base}, \"dump\": {{\"file\": \"vmcore\", \"bytes\": 18446744073709551615}}}}").into_bytes(),
                Status::Complete,
                "vmcore is 5 bytes; kexdump.json says 18446744073709551615",
            ),
            (format!("{base}, \"dmesg\": {{\"file\": \"/etc/shadow\"}}}}").into_bytes(), Status::Complete, "names"),
            (format!("{base}, \"hostname\": \"\\u001b[31mred\\u0000\"}}").into_bytes(), Status::Complete, ""),
            (format!("{base}, \"colour\": {}", "[".repeat(10_000)).into_bytes(), Status::Unknown, "EOF while parsing"),
            // Deep nesting under an unknown key: skipped without recursion.
            (
                format!("{base}, \"colour\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
                Status::Complete,
                "",
            ),
        ];
        for (i, (text, status, want)) in cases.iter().enumerate() {
            let t = tempfile::tempdir().unwrap();
            capture(t.path(), "20261122-030405-h", &[(DUMP, b"12345"), (RECORD, text)]);
            let e = &scan(t.path()).unwrap().dumps[0];
            let what: String = String::from_utf8_lossy(text).chars().take(100).collect();
            assert_eq!(e.status, *status, "case {i}: {what}: {:?}", e.problems);
            if want.is_empty() {
                assert!(e.problems.is_empty(), "case {i}: {what}: {:?}", e.problems);
            } else {
                assert!(e.problems.iter().any(|p| p.contains(want)), "case {i}: {what}: {:?}", e.problems);
            }
            // The dump is always found from the listing.
            assert_eq!((e.dump_file.as_deref(), e.dump_bytes), (Some(DUMP), Some(5)), "case {i}");
        }
        // Every one-byte truncation of a real record.
        let json = record_json("complete", DUMP, 5, T, "h");
        for n in 0..json.len() {
            let _ = parse_record(&json.as_bytes()[..n]);
        }
        assert!(parse_record(json.as_bytes()).is_ok());
    }

    #[test]
    fn oversized_record_is_not_read() {
        let t = tempfile::tempdir().unwrap();
        let big = vec![b' '; (RECORD_MAX_BYTES + 1) as usize];
        capture(t.path(), "20261122-030405-h", &[(RECORD, &big)]);
        let e = &scan(t.path()).unwrap().dumps[0];
        assert_eq!(e.problems[0], "kexdump.json is 1048577 bytes; not read (a record is a few KiB)");
    }

    #[test]
    fn symlinks_are_never_followed() {
        let t = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let json = record_json("complete", DUMP, 1, T, "h");
        capture(elsewhere.path(), "20261122-030405-h", &[(DUMP, b"1"), (RECORD, json.as_bytes())]);
        symlink(elsewhere.path().join("20261122-030405-h"), t.path().join("20261122-030405-h")).unwrap();
        // Inside a real capture directory: a symlinked record and dump.
        capture(t.path(), "20261123-000000-h", &[(DMESG, b"x")]);
        symlink(
            elsewhere.path().join("20261122-030405-h/kexdump.json"),
            t.path().join("20261123-000000-h/kexdump.json"),
        )
        .unwrap();
        symlink("/dev/zero", t.path().join("20261123-000000-h/vmcore")).unwrap();
        let s = scan(t.path()).unwrap();
        assert_eq!(s.skipped, [Skipped { name: "20261122-030405-h".into(), reason: "a symlink; not followed".into() }]);
        let [e] = &s.dumps[..] else { panic!("{s:?}") };
        assert_eq!((e.dir.as_str(), e.status, e.dump_file.as_deref()), ("20261123-000000-h", Status::Unknown, None));
        assert_eq!(e.files.keys().collect::<Vec<_>>(), [DMESG]);
        assert_eq!(
            e.problems,
            ["kexdump.json is a symlink; not followed", "vmcore is a symlink; not followed", "no dump file"]
        );
    }

    #[test]
    fn oldest_first_and_other_entries_skipped() {
        let t = tempfile::tempdir().unwrap();
        for name in ["20270101-000000-b", "20261122-030405-h.1", "20261122-030405-h", "20250101-120000-z"] {
            capture(t.path(), name, &[(DMESG, b"x")]);
        }
        capture(t.path(), "lost+found", &[]);
        capture(t.path(), "manual-copy", &[(DUMP, b"x")]); // holds a vmcore: listed
        fs::write(t.path().join("README"), "notes").unwrap();
        let s = scan(t.path()).unwrap();
        let names: Vec<&str> = s.dumps.iter().map(|e| e.dir.as_str()).collect();
        assert_eq!(
            names,
            ["20250101-120000-z", "20261122-030405-h", "20261122-030405-h.1", "20270101-000000-b", "manual-copy"]
        );
        assert_eq!(s.dumps[2].hostname.as_deref(), Some("h"));
        assert_eq!((s.dumps[4].crash_time.as_deref(), s.dumps[4].hostname.as_deref()), (None, None));
        assert_eq!(s.skipped.len(), 1);
        assert_eq!(s.skipped[0].name, "lost+found");
        assert!(s.skipped[0].reason.starts_with("not a capture: no YYYYMMDD-HHMMSS- name"), "{:?}", s.skipped);
        // An empty root, and a missing one.
        let empty = tempfile::tempdir().unwrap();
        assert!(scan(empty.path()).unwrap().dumps.is_empty());
        assert_eq!(scan(&empty.path().join("nope")).unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn names_and_times() {
        assert_eq!(
            name_parts("20261122-030405-db-01.example.com"),
            (Some("2026-11-22T03:04:05Z".into()), Some("db-01.example.com".into()))
        );
        assert_eq!(name_parts("20261122-030405-db_01.12").1.as_deref(), Some("db_01"));
        assert_eq!(name_parts("20261399-030405-x").0, None);
        assert_eq!(name_parts("2026112-0030405-x"), (None, None));
        assert_eq!(iso_time("2026-11-22T03:04:05Z").as_deref(), Some("2026-11-22T03:04:05Z"));
        for bad in ["2026-11-22 03:04:05Z", "2026-11-22T03:04:05", "2026-00-22T03:04:05Z", "２026-11-22T03:04:05Z"] {
            assert_eq!(iso_time(bad), None, "{bad}");
        }
    }
}
