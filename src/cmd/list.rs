//! `kexdump list`: the dumps saved on the dump target, as a table or JSON.
//!
//! The dump root is `--dir`, else where the configuration's target is on
//! this machine: a directory target itself; a `UUID=`, `LABEL=` or
//! `/dev/...` target's mount point (found through `/dev/disk/by-uuid` or
//! `by-label` and mountinfo) joined with `target.path`.

use crate::cli::ListArgs;
use crate::config::Config;
use crate::dump_target::location::{config_dump_root, under_root};
use crate::dumps::{self, DumpEntry, Scan, Skipped, Status};
use anyhow::Result;
use serde::Serialize;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub const SCHEMA: &str = "kexdump.list/1";
/// Width of the panic message column.
const PANIC_WIDTH: usize = 60;

pub fn run(a: ListArgs) -> Result<ExitCode> {
    // Written, not println!ed: a closed pipe is an error, not a panic.
    let mut out = io::stdout().lock();
    list_in(Path::new("/"), &a, &mut out)?;
    Ok(ExitCode::SUCCESS)
}

/// Where the dump root came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootFrom {
    /// `--dir`.
    Option,
    /// The configuration: its target as written.
    Config(String),
}

/// The dump root as the machine under `root` sees it (absolute).
pub fn dump_root(root: &Path, a: &ListArgs) -> Result<(PathBuf, RootFrom)> {
    if let Some(d) = &a.dir {
        return Ok((d.clone(), RootFrom::Option));
    }
    let config = Config::load(root, a.config.as_deref())?;
    Ok((config_dump_root(root, &config, " or pass --dir")?, RootFrom::Config(config.target.target.clone())))
}

/// The command on the machine whose root is `root` (`/` but in tests).
pub fn list_in(root: &Path, a: &ListArgs, out: &mut dyn Write) -> Result<()> {
    let (dir, from) = dump_root(root, a)?;
    let on_disk = if dir.is_absolute() && from != RootFrom::Option { under_root(root, &dir) } else { dir.clone() };
    let mut scan = match dumps::scan(&on_disk) {
        Ok(s) => s,
        // A target that has not had a crash yet has no dump directory:
        // the capture kernel makes it with the first dump.
        Err(e) if e.kind() == io::ErrorKind::NotFound && from != RootFrom::Option => Scan::default(),
        Err(e) => {
            let hint = if e.kind() == io::ErrorKind::PermissionDenied {
                " (the capture kernel makes dump directories 0700 root: run as root)"
            } else {
                ""
            };
            return Err(anyhow::Error::new(e).context(format!("cannot list {}{hint}", dir.display())));
        }
    };
    if a.latest {
        // Names sort by crash time: the newest is last.
        let newest = scan.dumps.pop();
        scan.dumps = newest.into_iter().collect();
    }
    if a.json {
        write_json(&dir, &scan, out)
    } else {
        write_table(&dir, &scan, out)
    }
}

#[derive(Serialize)]
struct JsonList<'a> {
    schema: &'static str,
    root: String,
    dumps: Vec<JsonDump<'a>>,
    skipped: &'a [Skipped],
    total_bytes: u64,
}

#[derive(Serialize)]
struct JsonDump<'a> {
    dir: &'a str,
    status: Status,
    crash_time: Option<&'a str>,
    hostname: Option<&'a str>,
    kernel_release: Option<&'a str>,
    panic_message: Option<&'a str>,
    dump_file: Option<&'a str>,
    dump_bytes: Option<u64>,
    dmesg_file: Option<&'a str>,
    test_id: Option<&'a str>,
    /// Every regular file of the directory, with its size.
    files: &'a std::collections::BTreeMap<String, u64>,
    total_bytes: u64,
    problems: &'a [String],
}

fn write_json(dir: &Path, scan: &Scan, out: &mut dyn Write) -> Result<()> {
    let dumps = scan
        .dumps
        .iter()
        .map(|e| {
            let r = e.record.as_ref();
            JsonDump {
                dir: &e.dir,
                status: e.status,
                crash_time: e.crash_time.as_deref(),
                hostname: e.hostname.as_deref(),
                kernel_release: r.and_then(|r| r.kernel_release.as_deref()),
                panic_message: r.and_then(|r| r.panic_message.as_deref()),
                dump_file: e.dump_file.as_deref(),
                dump_bytes: e.dump_bytes,
                dmesg_file: e.dmesg_file.as_deref(),
                test_id: r.and_then(|r| r.test_id.as_deref()),
                files: &e.files,
                total_bytes: e.total_bytes(),
                problems: &e.problems,
            }
        })
        .collect();
    let list = JsonList {
        schema: SCHEMA,
        root: dir.to_string_lossy().into_owned(),
        dumps,
        skipped: &scan.skipped,
        total_bytes: total_bytes(&scan.dumps),
    };
    writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
    Ok(())
}

fn total_bytes(dumps: &[DumpEntry]) -> u64 {
    dumps.iter().fold(0, |a, e| a.saturating_add(e.total_bytes()))
}

fn write_table(dir: &Path, scan: &Scan, out: &mut dyn Write) -> Result<()> {
    let dir_shown = clean(&dir.to_string_lossy());
    if scan.dumps.is_empty() {
        writeln!(out, "no dumps in {dir_shown}")?;
    } else {
        let header = ["CRASH TIME (UTC)", "HOST", "KERNEL", "STATUS", "SIZE", "PANIC", "DIRECTORY"];
        let rows: Vec<[String; 7]> = scan
            .dumps
            .iter()
            .map(|e| {
                let r = e.record.as_ref();
                let text = |s: Option<&str>| s.map_or_else(|| "-".to_owned(), clean);
                [
                    e.crash_time.as_deref().map_or_else(|| "-".to_owned(), |t| t.replace('T', " ").replace('Z', "")),
                    text(e.hostname.as_deref()),
                    text(r.and_then(|r| r.kernel_release.as_deref())),
                    e.status.as_str().to_owned(),
                    e.dump_bytes.map_or_else(|| "-".to_owned(), human),
                    truncate(&text(r.and_then(|r| r.panic_message.as_deref())), PANIC_WIDTH),
                    clean(&e.dir),
                ]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[&str]| {
            let mut s = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    s.push_str(cell);
                } else if i == 4 {
                    // Sizes align right.
                    s.push_str(&format!("{:>w$}  ", cell, w = w));
                } else {
                    s.push_str(&format!("{:<w$}  ", cell, w = w));
                }
            }
            s
        };
        writeln!(out, "{}", line(&header))?;
        for row in &rows {
            writeln!(out, "{}", line(&row.each_ref().map(String::as_str)))?;
        }
        let mut counts: Vec<(Status, usize)> = Vec::new();
        for e in &scan.dumps {
            match counts.iter_mut().find(|(s, _)| *s == e.status) {
                Some((_, n)) => *n += 1,
                None => counts.push((e.status, 1)),
            }
        }
        counts.sort();
        let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {}", s.as_str())).collect();
        let n = scan.dumps.len();
        writeln!(
            out,
            "{n} dump{} in {dir_shown}: {}; {} in all files",
            if n == 1 { "" } else { "s" },
            counts.join(", "),
            human(total_bytes(&scan.dumps))
        )?;
        for e in scan.dumps.iter().filter(|e| !e.problems.is_empty()) {
            writeln!(out, "{}:", clean(&e.dir))?;
            for p in &e.problems {
                writeln!(out, "  {}", clean(p))?;
            }
        }
    }
    for s in &scan.skipped {
        writeln!(out, "skipped {}: {}", clean(&s.name), clean(&s.reason))?;
    }
    Ok(())
}

/// Text from the target made safe for a terminal: no control characters
/// (escape sequences, newlines) or bidirectional overrides.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => ' ',
            c if c.is_control() => '?',
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => '?',
            c => c,
        })
        .collect()
}

/// At most `max` characters, the last three `...` when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(max.saturating_sub(3)).collect();
    t.push_str("...");
    t
}

/// Bytes in binary units: `512 B`, `4.0 KiB`, `1.2 GiB`.
fn human(b: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if b < 1024 {
        return format!("{b} B");
    }
    let mut v = b as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dumps::tests::{capture, record_json};
    use crate::dumps::{DMESG, DUMP, DUMP_INCOMPLETE, RECORD};
    use std::fs;
    use std::os::unix::fs::symlink;

    fn args(dir: Option<&Path>, config: Option<&Path>, json: bool) -> ListArgs {
        ListArgs { config: config.map(Path::to_path_buf), dir: dir.map(Path::to_path_buf), json, latest: false }
    }

    fn run_in(root: &Path, a: &ListArgs) -> Result<String> {
        let mut out = Vec::new();
        list_in(root, a, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    /// Three captures and a stray symlink, as a test tree.
    fn tree(d: &Path) {
        let json = record_json("complete", DUMP, 1_234_567, 1_795_316_645, "db-01");
        capture(d, "20261122-030405-db-01", &[(DMESG, b"log"), (RECORD, json.as_bytes())]);
        fs::write(d.join("20261122-030405-db-01/vmcore"), vec![0u8; 1_234_567]).unwrap();
        let json = record_json("incomplete", DUMP_INCOMPLETE, 4096, 1_795_400_000, "web-7");
        capture(
            d,
            "20261123-021320-web-7",
            &[(DMESG, b"log"), (DUMP_INCOMPLETE, &[0; 4096]), (RECORD, json.as_bytes())],
        );
        capture(d, "20261124-101010-web-7", &[(DMESG, b"log")]);
        symlink("/etc", d.join("20261125-000000-evil")).unwrap();
    }

    #[test]
    fn table_of_a_tree() {
        let t = tempfile::tempdir().unwrap();
        tree(t.path());
        let out = run_in(Path::new("/nonexistent"), &args(Some(t.path()), None, false)).unwrap();
        let d = t.path().display();
        let want = format!(
            "\
CRASH TIME (UTC)     HOST   KERNEL          STATUS         SIZE  PANIC                  DIRECTORY
2026-11-22 03:04:05  db-01  6.1.0-56-amd64  complete    1.2 MiB  sysrq triggered crash  20261122-030405-db-01
2026-11-23 02:13:20  web-7  6.1.0-56-amd64  incomplete  4.0 KiB  sysrq triggered crash  20261123-021320-web-7
2026-11-24 10:10:10  web-7  -               unknown           -  -                      20261124-101010-web-7
3 dumps in {d}: 1 complete, 1 incomplete, 1 unknown; {} in all files
20261123-021320-web-7:
  capture error: writing vmcore.incomplete: No space left on device
20261124-101010-web-7:
  no kexdump.json: the capture stopped before writing it, or it was removed
  no dump file
skipped 20261125-000000-evil: a symlink; not followed
",
            human(total_bytes(&dumps::scan(t.path()).unwrap().dumps))
        );
        assert_eq!(out, want, "\n{out}");
    }

    #[test]
    fn latest_is_the_newest_capture_only() {
        let t = tempfile::tempdir().unwrap();
        tree(t.path());
        let a = ListArgs { latest: true, ..args(Some(t.path()), None, true) };
        let v: serde_json::Value = serde_json::from_str(&run_in(Path::new("/nonexistent"), &a).unwrap()).unwrap();
        let d = v["dumps"].as_array().unwrap();
        assert_eq!((d.len(), d[0]["dir"].as_str()), (1, Some("20261124-101010-web-7")));
        let empty = tempfile::tempdir().unwrap();
        let a = ListArgs { latest: true, ..args(Some(empty.path()), None, false) };
        assert!(run_in(Path::new("/nonexistent"), &a).unwrap().starts_with("no dumps in"));
    }

    #[test]
    fn json_of_a_tree() {
        let t = tempfile::tempdir().unwrap();
        tree(t.path());
        let out = run_in(Path::new("/nonexistent"), &args(Some(t.path()), None, true)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["root"], t.path().to_str().unwrap());
        let d = v["dumps"].as_array().unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d[0]["dir"], "20261122-030405-db-01");
        assert_eq!(d[0]["status"], "complete");
        assert_eq!(d[0]["crash_time"], "2026-11-22T03:04:05Z");
        assert_eq!(d[0]["hostname"], "db-01");
        assert_eq!(d[0]["kernel_release"], "6.1.0-56-amd64");
        assert_eq!(d[0]["panic_message"], "sysrq triggered crash");
        assert_eq!((d[0]["dump_file"].as_str(), d[0]["dump_bytes"].as_u64()), (Some("vmcore"), Some(1_234_567)));
        assert_eq!(d[0]["dmesg_file"], "dmesg.txt");
        assert!(d[0]["test_id"].is_null());
        assert_eq!(d[0]["problems"], serde_json::json!([]));
        assert_eq!(d[1]["status"], "incomplete");
        assert_eq!(d[1]["dump_file"], "vmcore.incomplete");
        assert_eq!(d[2]["status"], "unknown");
        assert!(d[2]["kernel_release"].is_null() && d[2]["dump_file"].is_null() && d[2]["dump_bytes"].is_null());
        assert_eq!(d[2]["files"], serde_json::json!({"dmesg.txt": 3}));
        assert_eq!(d[2]["problems"].as_array().unwrap().len(), 2);
        assert_eq!(v["skipped"][0]["name"], "20261125-000000-evil");
        let sum: u64 = d.iter().map(|x| x["total_bytes"].as_u64().unwrap()).sum();
        assert_eq!(v["total_bytes"].as_u64(), Some(sum));
    }

    #[test]
    fn empty_root_is_not_an_error() {
        let t = tempfile::tempdir().unwrap();
        let out = run_in(Path::new("/nonexistent"), &args(Some(t.path()), None, false)).unwrap();
        assert_eq!(out, format!("no dumps in {}\n", t.path().display()));
        let out = run_in(Path::new("/nonexistent"), &args(Some(t.path()), None, true)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!((v["dumps"].as_array().unwrap().len(), v["total_bytes"].as_u64()), (0, Some(0)));
        // --dir names a directory that must exist.
        let e = run_in(Path::new("/nonexistent"), &args(Some(&t.path().join("nope")), None, false)).unwrap_err();
        assert_eq!(e.to_string(), format!("cannot list {}", t.path().join("nope").display()));
    }

    /// A fake machine: /etc/kexdump.toml, mountinfo and udev's links.
    fn machine(target: &str, path: Option<&str>) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("etc")).unwrap();
        let path = path.map_or_else(String::new, |p| format!("path = \"{p}\"\n"));
        fs::write(r.join("etc/kexdump.toml"), format!("[target]\ntarget = \"{target}\"\n{path}")).unwrap();
        fs::create_dir_all(r.join("proc/self")).unwrap();
        fs::write(
            r.join("proc/self/mountinfo"),
            "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n\
             25 22 254:17 / /srv/dumps rw,noatime shared:14 - ext4 /dev/vdb1 rw\n",
        )
        .unwrap();
        fs::create_dir_all(r.join("dev/disk/by-label")).unwrap();
        fs::create_dir_all(r.join("dev/disk/by-uuid")).unwrap();
        fs::write(r.join("dev/vdb1"), "").unwrap();
        fs::write(r.join("dev/vdc1"), "").unwrap();
        symlink("../../vdb1", r.join("dev/disk/by-label/kexdump")).unwrap();
        symlink("../../vdc1", r.join("dev/disk/by-uuid/0f3c51e1-0000-4000-8000-00000000e1e1")).unwrap();
        t
    }

    #[test]
    fn mounted_target_is_found_through_by_label() {
        let m = machine("LABEL=kexdump", Some("crash"));
        let r = m.path();
        let a = args(None, None, false);
        assert_eq!(
            dump_root(r, &a).unwrap(),
            (PathBuf::from("/srv/dumps/crash"), RootFrom::Config("LABEL=kexdump".into()))
        );
        // No crash yet: the capture kernel has not made crash/.
        assert_eq!(run_in(r, &a).unwrap(), "no dumps in /srv/dumps/crash\n");
        tree(&r.join("srv/dumps/crash"));
        let out = run_in(r, &a).unwrap();
        assert!(out.contains("3 dumps in /srv/dumps/crash: 1 complete, 1 incomplete, 1 unknown;"), "{out}");
        // --dir wins over the configuration; --config names another file.
        let a = args(Some(&r.join("srv/dumps/crash/20261122-030405-db-01")), None, false);
        assert!(run_in(r, &a).unwrap().starts_with("no dumps in "));
        fs::write(r.join("other.toml"), "[target]\ntarget = \"/dev/vdb1\"\npath = \"\"\n").unwrap();
        let a = args(None, Some(&r.join("other.toml")), false);
        assert_eq!(dump_root(r, &a).unwrap().0, PathBuf::from("/srv/dumps"));
        // A directory target is the directory.
        let m = machine("/var/crash", None);
        assert_eq!(dump_root(m.path(), &args(None, None, true)).unwrap().0, PathBuf::from("/var/crash"));
    }

    #[test]
    fn unmounted_target_is_a_clear_error() {
        let m = machine("UUID=0f3c51e1-0000-4000-8000-00000000e1e1", None);
        let e = run_in(m.path(), &args(None, None, false)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the dump target UUID=0f3c51e1-0000-4000-8000-00000000e1e1 is not mounted; mount it or pass --dir"
        );
        assert_eq!(
            e.root_cause().to_string(),
            "/dev/disk/by-uuid/0f3c51e1-0000-4000-8000-00000000e1e1 -> /dev/vdc1 is not in /proc/self/mountinfo"
        );
        let m = machine("LABEL=elsewhere", None);
        let e = run_in(m.path(), &args(None, None, false)).unwrap_err();
        assert_eq!(e.to_string(), "the dump target LABEL=elsewhere is not mounted; mount it or pass --dir");
        assert_eq!(
            e.root_cause().to_string(),
            "no disk holding it is attached: nothing in /dev/disk/by-label names it"
        );
        // A bad configuration is the configuration's error.
        let m = machine("sdb1", None);
        let e = run_in(m.path(), &args(None, None, false)).unwrap_err();
        assert!(e.to_string().ends_with("etc/kexdump.toml:2: key target.target: \"sdb1\" is not UUID=..., LABEL=..., /dev/..., a mounted directory such as /var/crash, ssh://user@host/dir or nfs://host/export"), "{e}");
    }

    #[test]
    fn terminal_safety_and_sizes() {
        assert_eq!(clean("a\u{1b}[31mb\nc\u{202e}"), "a?[31mb c?");
        assert_eq!(truncate(&"x".repeat(61), 60), format!("{}...", "x".repeat(57)));
        assert_eq!(truncate(&"é".repeat(60), 60), "é".repeat(60));
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(4096), "4.0 KiB");
        assert_eq!(human(1_234_567), "1.2 MiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
        assert_eq!(human(u64::MAX), "16.0 EiB");
    }
}
