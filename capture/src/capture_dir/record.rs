//! `kexdump.json`, schema `kexdump.capture/1`: what one capture saved. The
//! capture kernel writes it (a placeholder before the dump, an interim one
//! after it, the final one last); `kexdump list`, `status` and `verify`
//! read it. One type serves both, so the schema is written down once; its
//! meaning for operators is in docs/capture.md.
//!
//! Reading is lenient, because a record may come from a capture cut short
//! or from another version: unknown keys are ignored and every key but
//! `schema` may be missing. `status` stays a string so that a reader can
//! name a value it does not know ([`Record::status`] types it; missing, it
//! is empty).

use super::time::iso8601;
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "kexdump.capture/1";

/// A capture's status as recorded.
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

    pub fn parse(s: &str) -> Option<Status> {
        [Status::Saving, Status::Complete, Status::Incomplete, Status::Failed].into_iter().find(|v| v.as_str() == s)
    }
}

/// The whole record. Keys are written in this order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Record {
    pub schema: String,
    /// One of [`Status`]'s names.
    #[serde(default)]
    pub status: String,
    /// While `saving`: the step that started last (`dump`, `crc32`), so a
    /// record cut short still says how far the capture got.
    pub phase: Option<String>,
    pub error: Option<String>,
    pub kernel_release: Option<String>,
    pub hostname: Option<String>,
    pub machine: Option<String>,
    /// UTC, `2026-11-22T03:04:05Z`, from VMCOREINFO's CRASHTIME.
    pub crash_time: Option<String>,
    pub crash_time_unix: Option<i64>,
    pub capture_time: Option<String>,
    pub panic_message: Option<String>,
    pub vmcore_bytes: Option<u64>,
    pub dmesg: Option<DmesgRecord>,
    pub dump: Option<DumpRecord>,
    /// (step, seconds) in the order the steps ran.
    #[serde(default, with = "ordered_seconds")]
    pub durations_seconds: Vec<(String, f64)>,
    pub capture_kernel: Option<String>,
    pub kexdump_version: Option<String>,
    pub test_id: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DmesgRecord {
    pub file: Option<String>,
    pub bytes: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DumpRecord {
    pub file: Option<String>,
    pub format: Option<String>,
    pub compression: Option<String>,
    pub level_requested: Option<u8>,
    pub level: Option<u8>,
    /// Why the dump was saved at a lower level than requested.
    pub fallback: Option<String>,
    /// What the engine could not decide and kept (`SaveReport::warnings`).
    #[serde(default)]
    pub warnings: Vec<String>,
    pub bytes: Option<u64>,
    /// 8 hex digits ([`DumpRecord::set_crc32`]).
    pub crc32: Option<String>,
    /// "disk" (the page cache dropped before reading it back), or why the
    /// CRC had to come from the page cache or was not computed.
    pub crc32_source: Option<String>,
    pub pages_present: Option<u64>,
    pub pages_written: Option<u64>,
    /// Threads that compressed the pages (the capture kernel's CPUs).
    #[serde(default)]
    pub threads: Option<usize>,
}

impl DumpRecord {
    pub fn set_crc32(&mut self, crc: u32) {
        self.crc32 = Some(format!("{crc:08x}"));
    }
}

impl Record {
    /// A new record of this kexdump's schema and version.
    pub fn new(status: Status) -> Record {
        Record {
            schema: SCHEMA.into(),
            status: status.as_str().into(),
            kexdump_version: Some(env!("CARGO_PKG_VERSION").into()),
            ..Default::default()
        }
    }

    /// The status, when it is one this version knows.
    pub fn status(&self) -> Option<Status> {
        Status::parse(&self.status)
    }

    pub fn set_status(&mut self, s: Status) {
        self.status = s.as_str().into();
    }

    /// Both spellings of the crash time (seconds since the epoch).
    pub fn set_crash_time(&mut self, t: Option<i64>) {
        self.crash_time = t.map(iso8601);
        self.crash_time_unix = t;
    }

    /// Pretty-printed JSON with a final newline: people read these files.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and numbers into a String cannot fail.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Parse a record's text (see the module doc for what is accepted).
    pub fn from_json(text: &[u8]) -> Result<Record, serde_json::Error> {
        serde_json::from_slice(text)
    }
}

/// `durations_seconds` is a JSON object whose keys keep the order the steps
/// ran in (serde_json's map would sort them).
mod ordered_seconds {
    use serde::de::{MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(v: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(v.len()))?;
        for (k, secs) in v {
            // Milliseconds are what anyone compares.
            m.serialize_entry(k, &((secs * 1000.0).round() / 1000.0))?;
        }
        m.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, f64)>, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = Vec<(String, f64)>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of step names and seconds")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = m.next_entry::<String, f64>()? {
                    out.push(entry);
                }
                Ok(out)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Vec::new())
            }
        }
        d.deserialize_any(InOrder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        let mut r = Record::new(Status::Incomplete);
        r.error = Some("no space left \"on\" device\n".into());
        r.kernel_release = Some("6.1.0".into());
        r.hostname = Some("h".into());
        r.set_crash_time(Some(0));
        r.capture_time = Some(iso8601(10));
        r.dmesg = Some(DmesgRecord { file: Some("dmesg.txt".into()), bytes: Some(3) });
        let mut d = DumpRecord {
            file: Some("vmcore.incomplete".into()),
            warnings: vec!["slab \"pages\" kept".into(), "second".into()],
            crc32_source: Some("disk".into()),
            ..Default::default()
        };
        d.set_crc32(0xabc);
        r.dump = Some(d);
        r.durations_seconds = vec![("modules".into(), 0.25), ("dump".into(), 1.5), ("crc32".into(), 0.0004)];
        r
    }

    #[test]
    fn written_json_reads_back_the_same() {
        let r = sample();
        let j = r.to_json();
        assert!(j.contains("\"status\": \"incomplete\""), "{j}");
        assert!(j.contains(r#""error": "no space left \"on\" device\n""#), "{j}");
        assert!(j.contains("\"crc32\": \"00000abc\""), "{j}");
        assert!(j.ends_with("}\n"), "{j}");
        let v: serde_json::Value = serde_json::from_str(&j).expect("valid JSON");
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["crash_time"], "1970-01-01T00:00:00Z");
        assert_eq!(v["crash_time_unix"], 0);
        assert_eq!(v["dump"]["warnings"], serde_json::json!(["slab \"pages\" kept", "second"]));
        assert_eq!(v["kexdump_version"], env!("CARGO_PKG_VERSION"));
        // The steps keep their order; seconds are rounded to milliseconds.
        let steps = &j[j.find("\"durations_seconds\"").unwrap()..];
        let at = |k: &str| steps.find(&format!("\"{k}\": ")).unwrap();
        assert!(at("modules") < at("dump") && at("dump") < at("crc32"), "{j}");
        assert_eq!(v["durations_seconds"]["crc32"], 0.0);
        let back = Record::from_json(j.as_bytes()).unwrap();
        assert_eq!(back.status(), Some(Status::Incomplete));
        assert_eq!(back.durations_seconds, vec![("modules".into(), 0.25), ("dump".into(), 1.5), ("crc32".into(), 0.0)]);
        assert_eq!(back.dump.unwrap().crc32.as_deref(), Some("00000abc"));
    }

    #[test]
    fn a_minimal_or_foreign_record_is_read() {
        let r = Record::from_json(br#"{"schema": "kexdump.capture/1", "status": "bogus", "extra": [1]}"#).unwrap();
        assert_eq!((r.status.as_str(), r.status()), ("bogus", None));
        assert!(r.dump.is_none() && r.durations_seconds.is_empty());
        let r = Record::from_json(br#"{"schema": "s", "status": "saving", "durations_seconds": null}"#).unwrap();
        assert_eq!(r.status(), Some(Status::Saving));
        assert!(Record::from_json(br#"{"status": "complete"}"#).is_err(), "schema is required");
        let r = Record::from_json(br#"{"schema": "s", "dump": {"file": "vmcore", "crc32": "0badc0de"}}"#).unwrap();
        assert_eq!((r.status.as_str(), r.dump.and_then(|d| d.crc32)), ("", Some("0badc0de".into())));
        assert!(Record::from_json(br#"{"schema": "s", "status": "complete", "vmcore_bytes": "x"}"#).is_err());
    }
}
