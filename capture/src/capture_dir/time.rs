//! The capture directory's two spellings of a time: ISO 8601 in the record
//! (`2026-11-22T03:04:05Z`) and a compact one at the start of directory
//! names (`20261122-030405`), so that names sort by crash time. UTC always:
//! the capture kernel has no time zone data.

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
}
