//! The self-test's bookkeeping: `kexdump test` records a pending test in
//! `/var/lib/kexdump/test.json` before it crashes the machine, and the
//! capture kernel writes the same id into the dump's `kexdump.json`; after
//! the reboot `kexdump status` matches the two.

use crate::dumps::{DumpEntry, Scan, Status};
use crate::json_file;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The pending (or last) self-test, under the root directory.
pub const TEST_RECORD: &str = "var/lib/kexdump/test.json";
/// Changes with every boot: tells "before the test's crash" from "after".
pub const BOOT_ID: &str = "proc/sys/kernel/random/boot_id";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestRecord {
    pub id: String,
    /// UTC, `2026-11-22T03:04:05Z`.
    pub requested: String,
    pub requested_unix: i64,
    /// The boot the test was started in.
    pub boot_id: String,
}

/// What became of a self-test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Outcome {
    /// Still the boot the test started in: the crash has not happened (or
    /// did not reboot the machine).
    Pending,
    /// A complete dump with the test's id is on the target.
    Passed { dir: String },
    /// A dump with the test's id arrived but is not complete.
    Failed { dir: String, status: Status },
    /// The machine rebooted but no dump carries the test's id.
    Missing,
}

/// A test id: the UTC request time and 8 random hex digits, which
/// [`kexdump_engine::capture_config::is_test_id`] accepts.
pub fn new_id(now_unix: i64, random: u32) -> String {
    let t = kexdump_engine::capture_dir::time::compact_time(now_unix);
    format!("{t}-{random:08x}")
}

/// What the dumps under the target say of `test`, in boot `boot_id`.
pub fn evaluate(test: &TestRecord, boot_id: &str, scan: &Scan) -> Outcome {
    let arrived: Option<&DumpEntry> = scan
        .dumps
        .iter()
        .rev()
        .find(|d| d.record.as_ref().and_then(|r| r.test_id.as_deref()) == Some(test.id.as_str()));
    match arrived {
        Some(d) if d.status == Status::Complete && d.problems.is_empty() => Outcome::Passed { dir: d.dir.clone() },
        Some(d) => Outcome::Failed { dir: d.dir.clone(), status: d.status },
        None if boot_id.trim() == test.boot_id.trim() => Outcome::Pending,
        None => Outcome::Missing,
    }
}

/// Record `test` as the pending self-test (mode 0600, replaced atomically).
pub fn write(root: &Path, test: &TestRecord) -> anyhow::Result<()> {
    json_file::write(&root.join(TEST_RECORD), test)
}

/// The recorded test, if any: `Err` names the file when it is unreadable.
pub fn read(root: &Path) -> Result<Option<TestRecord>, String> {
    json_file::read_optional(&root.join(TEST_RECORD))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dumps::CaptureRecord;

    fn entry(dir: &str, status: Status, test_id: Option<&str>) -> DumpEntry {
        DumpEntry {
            dir: dir.into(),
            status,
            crash_time: None,
            hostname: None,
            record: Some(CaptureRecord { test_id: test_id.map(String::from), ..Default::default() }),
            dump_file: Some("vmcore".into()),
            dump_bytes: Some(1),
            dmesg_file: None,
            files: Default::default(),
            problems: Vec::new(),
        }
    }

    #[test]
    fn outcomes() {
        let t =
            TestRecord { id: "t-1".into(), requested: String::new(), requested_unix: 0, boot_id: "boot-a\n".into() };
        let mut scan = Scan::default();
        scan.dumps.push(entry("20261122-010000-h", Status::Complete, None));
        assert_eq!(evaluate(&t, "boot-a", &scan), Outcome::Pending);
        assert_eq!(evaluate(&t, "boot-b", &scan), Outcome::Missing);
        scan.dumps.push(entry("20261122-020000-h", Status::Incomplete, Some("t-1")));
        assert_eq!(
            evaluate(&t, "boot-b", &scan),
            Outcome::Failed { dir: "20261122-020000-h".into(), status: Status::Incomplete }
        );
        scan.dumps.push(entry("20261122-030000-h", Status::Complete, Some("t-1")));
        assert_eq!(evaluate(&t, "boot-b", &scan), Outcome::Passed { dir: "20261122-030000-h".into() });
        // A dump with another id does not count.
        scan.dumps.push(entry("20261122-040000-h", Status::Failed, Some("t-2")));
        assert_eq!(evaluate(&t, "boot-b", &scan), Outcome::Passed { dir: "20261122-030000-h".into() });
    }

    #[test]
    fn ids_are_valid_test_ids() {
        let id = new_id(1_795_000_000, 0x3fa9_c2d1);
        assert!(id.ends_with("-3fa9c2d1"), "{id}");
        assert!(kexdump_engine::capture_config::is_test_id(&id));
    }

    #[test]
    fn record_reads() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read(d.path()), Ok(None));
        std::fs::create_dir_all(d.path().join("var/lib/kexdump")).unwrap();
        std::fs::write(d.path().join(TEST_RECORD), "{").unwrap();
        assert!(read(d.path()).unwrap_err().contains("test.json"));
        let t = TestRecord { id: "x".into(), requested: "r".into(), requested_unix: 5, boot_id: "b".into() };
        std::fs::write(d.path().join(TEST_RECORD), serde_json::to_vec(&t).unwrap()).unwrap();
        assert_eq!(read(d.path()), Ok(Some(t)));
    }
}
