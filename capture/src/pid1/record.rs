//! `kexdump.json`: what one capture saved, for `kexdump list`/`status` and
//! for operators. Written by hand (no serde in the static binary); the
//! schema is versioned by its `schema` field and documented in
//! docs/capture.md.

use std::fmt::Write as _;

pub const SCHEMA: &str = "kexdump.capture/1";

/// Capture status as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Written before the dump starts, so a capture cut short (power loss,
    /// a hang) still leaves a record saying so.
    Saving,
    Complete,
    /// The dump file exists but lacks pages (marked INCOMPLETE inside).
    Incomplete,
    /// No dump file was produced.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Saving => "saving",
            Status::Complete => "complete",
            Status::Incomplete => "incomplete",
            Status::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct DumpInfo {
    pub file: String,
    pub format: String,
    pub compression: String,
    pub level_requested: u8,
    pub level: u8,
    pub fallback: Option<String>,
    /// What the engine could not decide and kept (see `SaveReport::warnings`).
    pub warnings: Vec<String>,
    pub bytes: u64,
    pub crc32: Option<u32>,
    /// Where the CRC's bytes came from: "disk" (the page cache dropped
    /// first), or why it had to be the page cache.
    pub crc32_source: String,
    pub pages_present: u64,
    pub pages_written: u64,
}

#[derive(Clone, Debug)]
pub struct Record {
    pub status: Status,
    pub error: Option<String>,
    pub kernel_release: String,
    pub hostname: String,
    pub machine: String,
    /// Seconds since the epoch, from VMCOREINFO's CRASHTIME.
    pub crash_time: Option<i64>,
    pub capture_time: i64,
    pub panic_message: Option<String>,
    pub vmcore_bytes: u64,
    pub dmesg_file: Option<String>,
    pub dmesg_bytes: u64,
    pub dump: Option<DumpInfo>,
    /// (step, seconds) in the order they ran.
    pub durations: Vec<(&'static str, f64)>,
    pub capture_kernel: String,
    pub test_id: Option<String>,
    /// While the status is `saving`: the step that started last (`dump`,
    /// `crc32`), so a record cut short still says how far the capture got.
    pub phase: Option<&'static str>,
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map_or("null".into(), esc)
}

fn time(t: Option<i64>) -> String {
    t.map_or("null".into(), |t| esc(&iso8601(t)))
}

impl Record {
    pub fn to_json(&self) -> String {
        let mut o = String::from("{\n");
        let mut f = |k: &str, v: String| {
            let _ = writeln!(o, "  {}: {v},", esc(k));
        };
        f("schema", esc(SCHEMA));
        f("status", esc(self.status.as_str()));
        f("phase", self.phase.map_or("null".into(), esc));
        f("error", opt(&self.error));
        f("kernel_release", esc(&self.kernel_release));
        f("hostname", esc(&self.hostname));
        f("machine", esc(&self.machine));
        f("crash_time", time(self.crash_time));
        f("crash_time_unix", self.crash_time.map_or("null".into(), |t| t.to_string()));
        f("capture_time", time(Some(self.capture_time)));
        f("panic_message", opt(&self.panic_message));
        f("vmcore_bytes", self.vmcore_bytes.to_string());
        f(
            "dmesg",
            match &self.dmesg_file {
                Some(n) => format!("{{\"file\": {}, \"bytes\": {}}}", esc(n), self.dmesg_bytes),
                None => "null".into(),
            },
        );
        f(
            "dump",
            match &self.dump {
                Some(d) => format!(
                    "{{\"file\": {}, \"format\": {}, \"compression\": {}, \"level_requested\": {}, \"level\": {}, \
                 \"fallback\": {}, \"warnings\": [{}], \"bytes\": {}, \"crc32\": {}, \"crc32_source\": {}, \"pages_present\": {}, \"pages_written\": {}}}",
                    esc(&d.file),
                    esc(&d.format),
                    esc(&d.compression),
                    d.level_requested,
                    d.level,
                    opt(&d.fallback),
                    d.warnings.iter().map(|w| esc(w)).collect::<Vec<_>>().join(", "),
                    d.bytes,
                    d.crc32.map_or("null".into(), |c| esc(&format!("{c:08x}"))),
                    // Where the CRC came from, or why there is none.
                    match (d.crc32, d.crc32_source.is_empty()) {
                        (None, true) => "null".into(),
                        (Some(_), true) => esc("disk"),
                        (_, false) => esc(&d.crc32_source),
                    },
                    d.pages_present,
                    d.pages_written
                ),
                None => "null".into(),
            },
        );
        let durations: Vec<String> = self.durations.iter().map(|(k, v)| format!("{}: {v:.3}", esc(k))).collect();
        f("durations_seconds", format!("{{{}}}", durations.join(", ")));
        f("capture_kernel", esc(&self.capture_kernel));
        f("kexdump_version", esc(env!("CARGO_PKG_VERSION")));
        let _ = writeln!(o, "  \"test_id\": {}", opt(&self.test_id));
        o.push_str("}\n");
        o
    }
}

/// `2026-11-22T03:04:05Z` for seconds since the epoch (UTC, proleptic
/// Gregorian; the days-to-civil conversion of H. Hinnant's algorithm).
pub fn iso8601(t: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `20261122-030405`, for directory names.
pub fn compact_time(t: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}")
}

fn civil(t: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Shared with `kexdump inspect`; lives with the other log readers.
pub use crate::analysis::panic_log::panic_message;

/// A host name safe as part of a directory name.
pub fn safe_name(s: &str) -> String {
    let n: String =
        s.chars().take(64).map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    if n.is_empty() || n.starts_with('.') {
        format!("host{n}")
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_795_316_645), "2026-11-22T03:04:05Z");
        assert_eq!(compact_time(1_795_316_645), "20261122-030405");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn names_and_json() {
        assert_eq!(safe_name("db-01.example"), "db-01.example");
        assert_eq!(safe_name("a/b c"), "a_b_c");
        assert_eq!(safe_name(""), "host");
        assert_eq!(safe_name(".."), "host..");
        let r = Record {
            status: Status::Incomplete,
            error: Some("no space left \"on\" device\n".into()),
            kernel_release: "6.1.0".into(),
            hostname: "h".into(),
            machine: "x86_64".into(),
            crash_time: Some(0),
            capture_time: 10,
            panic_message: None,
            vmcore_bytes: 5,
            dmesg_file: Some("dmesg.txt".into()),
            dmesg_bytes: 3,
            dump: Some(DumpInfo {
                file: "vmcore.incomplete".into(),
                crc32: Some(0xabc),
                warnings: vec!["slab \"pages\" kept".into(), "second".into()],
                ..Default::default()
            }),
            durations: vec![("dump", 1.5)],
            capture_kernel: "6.1.0".into(),
            test_id: None,
            phase: None,
        };
        let j = r.to_json();
        assert!(j.contains("\"status\": \"incomplete\""), "{j}");
        assert!(j.contains(r#""error": "no space left \"on\" device\n""#), "{j}");
        assert!(j.contains("\"crc32\": \"00000abc\", \"crc32_source\": \"disk\""), "{j}");
        // No CRC after a write error: the record says why.
        let mut no_crc = r.clone();
        if let Some(d) = no_crc.dump.as_mut() {
            d.crc32 = None;
            d.crc32_source = "not computed: a write error".into();
        }
        let j2 = no_crc.to_json();
        assert!(j2.contains("\"crc32\": null, \"crc32_source\": \"not computed: a write error\""), "{j2}");
        assert!(j.contains("\"durations_seconds\": {\"dump\": 1.500}"), "{j}");
        assert!(j.trim_end().ends_with("\"test_id\": null\n}"), "{j}");
        let v: serde_json::Value = serde_json::from_str(&j).expect("valid JSON");
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["dump"]["file"], "vmcore.incomplete");
        assert_eq!(v["dump"]["warnings"], serde_json::json!(["slab \"pages\" kept", "second"]));
        assert_eq!(v["crash_time"], "1970-01-01T00:00:00Z");
    }
}
