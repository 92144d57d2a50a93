//! `kexdump status`: what protects this machine now, read from files under
//! a root directory (`/`, or a fake tree in tests): the crashkernel=
//! reservation (`/sys/kernel/kexec_crash_size`, `/proc/iomem`), whether a
//! capture kernel is loaded (`/sys/kernel/kexec_crash_loaded`) and what
//! `kexdump arm` recorded of it, the dump target and its free space beside
//! the size a dump would take, the last dumps, and the self-test.
//! Every part reports its own error; none stops the others.

use crate::arming::error::ArmError;
use crate::arming::kernel_state;
use crate::arming::record::{self, Armed};
use crate::config::Config;
use crate::dump_target::location::{config_dump_root, under_root};
use crate::dumps::{self, Scan};
use crate::selftest::{self, Outcome, TestRecord};
use crate::system::meminfo::{self, MemInfo};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub const SCHEMA: &str = "kexdump.status/1";
/// How many of the newest dumps the status shows.
const LAST_DUMPS: usize = 5;
/// `1`: the kernel updates the capture kernel's memory map itself on CPU
/// and memory hotplug (Linux 6.5+), so no re-arm is needed.
pub const CRASH_HOTPLUG: &str = "sys/kernel/crash_hotplug";

#[derive(Clone, Debug, Serialize)]
pub struct Reservation {
    pub bytes: Option<u64>,
    /// Physical ranges `[start, end]` from /proc/iomem ("Crash kernel"); empty
    /// when unreadable or hidden (non-root sees zero addresses).
    pub ranges: Vec<[u64; 2]>,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CaptureKernel {
    #[serde(flatten)]
    pub armed: Armed,
    /// The record is from before this boot: what it names is not loaded.
    pub stale: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Target {
    /// As the configuration writes it.
    pub spec: Option<String>,
    /// Where the dumps are on this machine.
    pub dir: Option<PathBuf>,
    pub free_bytes: Option<u64>,
    /// Memory a dump at the configured level would keep at most, now
    /// (before compression): see [`meminfo::dump_upper_bound`].
    pub dump_upper_bound_bytes: Option<u64>,
    pub level: Option<u8>,
    pub error: Option<String>,
    /// A remote target (`ssh://`, `nfs://`): `free_bytes` is then the
    /// server's, for ssh, asked with a short deadline.
    pub remote: Option<RemoteTarget>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RemoteTarget {
    /// The URL as configured.
    pub url: String,
    /// Why the server's free space is unknown (not fatal: shown).
    pub error: Option<String>,
}

/// How `gather` asks a remote target's free space: `None` when it does
/// not (NFS, or not asked), else the server's answer.
pub type RemoteFree<'a> = &'a dyn Fn(&Config) -> Option<Result<Option<u64>, String>>;

#[derive(Clone, Debug, Serialize)]
pub struct DumpLine {
    pub dir: String,
    pub status: dumps::Status,
    pub crash_time: Option<String>,
    pub panic_message: Option<String>,
    pub dump_bytes: Option<u64>,
    pub test_id: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SelfTest {
    #[serde(flatten)]
    pub record: TestRecord,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub schema: &'static str,
    /// A capture kernel is loaded: a panic now saves a dump.
    pub armed: bool,
    pub armed_error: Option<String>,
    pub reservation: Reservation,
    pub capture_kernel: Option<CaptureKernel>,
    pub crash_hotplug: Option<bool>,
    /// The configuration file could not be read or is wrong (named by file,
    /// line and key); the target is then unknown.
    pub config_error: Option<String>,
    pub target: Target,
    /// Newest last.
    pub dumps: Vec<DumpLine>,
    pub dumps_error: Option<String>,
    pub test: Option<SelfTest>,
    pub test_error: Option<String>,
    /// What needs doing, for people (empty when all is well).
    pub advice: Vec<String>,
}

/// The "Crash kernel" ranges of /proc/iomem (nested lines included).
pub fn crash_ranges(iomem: &str) -> Vec<[u64; 2]> {
    iomem
        .lines()
        .filter_map(|l| {
            let (range, name) = l.split_once(" : ")?;
            if name.trim() != "Crash kernel" {
                return None;
            }
            let (a, b) = range.trim().split_once('-')?;
            Some([u64::from_str_radix(a, 16).ok()?, u64::from_str_radix(b, 16).ok()?])
        })
        .collect()
}

/// The boot time (`btime` of /proc/stat), Unix seconds.
fn boot_time(root: &Path) -> Option<i64> {
    let text = std::fs::read_to_string(root.join("proc/stat")).ok()?;
    text.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

fn reservation(root: &Path) -> Reservation {
    let (bytes, error) = match kernel_state::crash_size(root) {
        Ok(n) => (Some(n), None),
        Err(e @ ArmError::NoReservation { .. }) => (Some(0), Some(e.to_string())),
        Err(e) => (None, Some(e.to_string())),
    };
    let ranges = std::fs::read_to_string(root.join("proc/iomem"))
        .map(|t| crash_ranges(&t))
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r[1] != 0)
        .collect();
    Reservation { bytes, ranges, error }
}

fn target(
    root: &Path,
    config: &Result<Config, String>,
    free: &dyn Fn(&Path) -> Option<u64>,
    remote_free: RemoteFree,
) -> Target {
    let config = match config {
        Ok(c) => c,
        Err(_) => return Target::default(),
    };
    let mut t = Target {
        spec: Some(config.target.target.clone()),
        level: Some(config.dump.level_bits()),
        dump_upper_bound_bytes: MemInfo::read(root)
            .ok()
            .map(|m| meminfo::dump_upper_bound(&m, config.dump.level_bits())),
        ..Default::default()
    };
    if config.remote_url().is_some() {
        let mut r = RemoteTarget { url: config.target.target.clone(), error: None };
        match remote_free(config) {
            Some(Ok(f)) => t.free_bytes = f,
            Some(Err(e)) => r.error = Some(e),
            None => {}
        }
        t.remote = Some(r);
        return t;
    }
    match config_dump_root(root, config, "") {
        Ok(dir) => {
            // The directory may not exist before the first dump: its file
            // system's free space is what counts.
            let on_disk = under_root(root, &dir);
            t.free_bytes = on_disk.ancestors().find(|a| a.exists()).and_then(free);
            t.dir = Some(dir);
        }
        Err(e) => t.error = Some(format!("{e:#}")),
    }
    t
}

fn dump_lines(scan: &Scan) -> Vec<DumpLine> {
    let skip = scan.dumps.len().saturating_sub(LAST_DUMPS);
    scan.dumps[skip..]
        .iter()
        .map(|d| DumpLine {
            dir: d.dir.clone(),
            status: d.status,
            crash_time: d.crash_time.clone(),
            panic_message: d.record.as_ref().and_then(|r| r.panic_message.clone()),
            dump_bytes: d.dump_bytes,
            test_id: d.record.as_ref().and_then(|r| r.test_id.clone()),
        })
        .collect()
}

/// Everything `kexdump status` shows, for the machine under `root`.
/// `free` tells a directory's free bytes (statvfs in production); a
/// remote target's free space is not asked.
#[cfg_attr(not(test), allow(dead_code))]
pub fn gather(root: &Path, config_path: Option<&Path>, free: &dyn Fn(&Path) -> Option<u64>) -> Status {
    gather_with(root, config_path, free, &|_| None)
}

/// [`gather`], a remote target's free space asked through `remote_free`.
pub fn gather_with(
    root: &Path,
    config_path: Option<&Path>,
    free: &dyn Fn(&Path) -> Option<u64>,
    remote_free: RemoteFree,
) -> Status {
    let config = Config::load(root, config_path).map_err(|e| e.to_string());
    let (armed, armed_error) = match kernel_state::crash_loaded(root) {
        Ok(b) => (b, None),
        Err(e) => (false, Some(e.to_string())),
    };
    let reservation = reservation(root);
    let boot = boot_time(root);
    let (capture_kernel, record_error) = match record::read_armed(root) {
        Ok(Some(a)) => {
            let stale = !armed || boot.is_some_and(|b| a.time_unix < b);
            (Some(CaptureKernel { armed: a, stale }), None)
        }
        Ok(None) => (None, None),
        Err(e) => (None, Some(e)),
    };
    let crash_hotplug = std::fs::read_to_string(root.join(CRASH_HOTPLUG)).ok().map(|s| s.trim() == "1");
    let target = target(root, &config, free, remote_free);
    let scan = match &target.dir {
        Some(dir) => match dumps::scan(&under_root(root, dir)) {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Scan::default()),
            Err(e) => Err(format!("cannot list {}: {e}", dir.display())),
        },
        None if config.is_err() => Err("no dump target to list: the configuration is wrong".to_owned()),
        None if target.remote.is_some() => {
            Err("on the server: the dumps of a remote target are listed there".to_owned())
        }
        None => Err("no dump target to list".to_owned()),
    };
    let (test, test_error) = match selftest::read(root) {
        Ok(Some(record)) => match &scan {
            Ok(s) => {
                let boot_id = std::fs::read_to_string(root.join(selftest::BOOT_ID)).unwrap_or_default();
                (Some(SelfTest { outcome: selftest::evaluate(&record, &boot_id, s), record }), None)
            }
            Err(e) => (None, Some(format!("self-test {}: cannot tell: {e}", record.id))),
        },
        Ok(None) => (None, None),
        Err(e) => (None, Some(e)),
    };
    let (dumps, dumps_error) = match &scan {
        Ok(s) => (dump_lines(s), None),
        Err(e) => (Vec::new(), Some(e.clone())),
    };
    let mut st = Status {
        schema: SCHEMA,
        armed,
        armed_error: armed_error.or(record_error),
        reservation,
        capture_kernel,
        crash_hotplug,
        config_error: config.as_ref().err().cloned(),
        target,
        dumps,
        dumps_error,
        test,
        test_error,
        advice: Vec::new(),
    };
    st.advice = advice(&st);
    st
}

/// What to do about what the status shows.
fn advice(st: &Status) -> Vec<String> {
    let mut a = Vec::new();
    match st.reservation.bytes {
        None => a.push(
            "boot a kernel that can load a capture kernel (CONFIG_KEXEC_FILE and CONFIG_CRASH_DUMP, as \
             distribution kernels are built)"
                .to_owned(),
        ),
        Some(0) => {
            a.push("reserve memory for the capture kernel: `kexdump crashkernel set auto`, then reboot".to_owned())
        }
        Some(_) if !st.armed => {
            a.push("arm the capture kernel: `kexdump arm` (or `systemctl enable --now kexdump`)".to_owned())
        }
        Some(_) => {}
    }
    if let (Some(free), Some(need)) = (st.target.free_bytes, st.target.dump_upper_bound_bytes) {
        if free < need / 4 {
            a.push(format!(
                "the dump target has {} MiB free, less than a quarter of the {} MiB a dump may keep before \
                 compression: free space, or set retention (keep, min_free) in /etc/kexdump.toml",
                free >> 20,
                need >> 20
            ));
        }
    }
    if let Some(e) = &st.config_error {
        a.push(format!("fix the configuration: {e}"));
    }
    if let Some(e) = &st.target.error {
        a.push(format!("fix the dump target: {e}"));
    }
    if let Some(e) = st.target.remote.as_ref().and_then(|r| r.error.as_ref()) {
        a.push(format!("fix the remote dump target: {e}"));
    }
    if let Some(t) = &st.test {
        match &t.outcome {
            Outcome::Missing => a.push(format!(
                "self-test {} did not arrive: read the console log of the capture kernel (it prints each step), \
                 check the target, then `kexdump test --yes` again",
                t.record.id
            )),
            Outcome::Failed { dir, .. } => {
                a.push(format!("self-test {} left an unusable dump in {dir}: see its kexdump.json", t.record.id))
            }
            Outcome::Pending | Outcome::Passed { .. } => {}
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    const IOMEM: &str = "00000000-00000fff : Reserved\n00100000-7ffdffff : System RAM\n  \
        05000000-05e03fff : Kernel code\n  71000000-78ffffff : Crash kernel\n7ffe0000-7fffffff : Reserved\n";

    #[test]
    fn a_remote_target_shows_the_servers_answer() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        write(r, "etc/kexdump.toml", "[target]\ntarget = \"ssh://kx@192.0.2.10/srv\"\n");
        let st = gather_with(r, None, &|_| None, &|_| Some(Ok(Some(5 << 30))));
        let t = &st.target;
        assert_eq!((t.free_bytes, t.dir.as_ref(), t.error.as_ref()), (Some(5 << 30), None, None));
        assert_eq!(t.remote.as_ref().unwrap().url, "ssh://kx@192.0.2.10/srv");
        assert!(st.dumps_error.as_deref().unwrap().contains("listed there"));
        let st = gather_with(r, None, &|_| None, &|_| Some(Err("connection refused".into())));
        assert_eq!(st.target.free_bytes, None);
        assert!(st.advice.iter().any(|a| a == "fix the remote dump target: connection refused"), "{:?}", st.advice);
    }

    #[test]
    fn iomem_crash_ranges() {
        assert_eq!(crash_ranges(IOMEM), vec![[0x7100_0000, 0x78ff_ffff]]);
        assert_eq!(crash_ranges("00000000-00000000 : Crash kernel\nnonsense\n : \n"), vec![[0, 0]]);
    }

    /// A machine with 128M reserved, a directory target and a dump.
    fn machine() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        write(r, kernel_state::CRASH_SIZE, "134217728\n");
        write(r, kernel_state::CRASH_LOADED, "1\n");
        write(r, "proc/iomem", IOMEM);
        write(r, "proc/stat", "cpu 1 2 3\nbtime 1000\n");
        write(r, "proc/meminfo", "MemTotal: 2000000 kB\nMemFree: 1000000 kB\n");
        write(r, selftest::BOOT_ID, "boot-2\n");
        write(r, "etc/kexdump.toml", "[target]\ntarget = \"/var/crash\"\n");
        write(r, "proc/self/mountinfo", "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n");
        write(r, "dev/disk/by-uuid/0a1b2c3d-0000-4000-8000-000000000001", "");
        fs::remove_file(r.join("dev/disk/by-uuid/0a1b2c3d-0000-4000-8000-000000000001")).unwrap();
        std::os::unix::fs::symlink("../../vda1", r.join("dev/disk/by-uuid/0a1b2c3d-0000-4000-8000-000000000001"))
            .unwrap();
        write(r, "dev/vda1", "");
        write(
            r,
            "var/crash/20261122-090000-host/kexdump.json",
            r#"{"schema":"kexdump.capture/1","status":"complete","test_id":"t-9","panic_message":"sysrq triggered crash"}"#,
        );
        write(r, "var/crash/20261122-090000-host/vmcore", "dump");
        d
    }

    #[test]
    fn armed_machine_with_a_passed_test() {
        let d = machine();
        let r = d.path();
        let armed = serde_json::json!({"time":"t","time_unix":2000,"kernel":"/boot/vmlinuz","initrd":"/i",
            "initrd_bytes":5,"cmdline":"c","method":"kexec_file_load","inputs_digest":null,"kexdump_version":"0"});
        write(r, record::ARMED_RECORD, &armed.to_string());
        let t = TestRecord { id: "t-9".into(), requested: "r".into(), requested_unix: 900, boot_id: "boot-1".into() };
        write(r, selftest::TEST_RECORD, &serde_json::to_string(&t).unwrap());
        let st = gather(r, None, &|_| Some(1 << 30));
        assert!(st.armed);
        assert_eq!(st.reservation.bytes, Some(128 << 20));
        assert_eq!(st.reservation.ranges, vec![[0x7100_0000, 0x78ff_ffff]]);
        assert!(!st.capture_kernel.as_ref().unwrap().stale);
        assert_eq!(st.target.dir.as_deref(), Some(Path::new("/var/crash")));
        assert_eq!(st.target.free_bytes, Some(1 << 30));
        assert_eq!(st.target.dump_upper_bound_bytes, Some(1_000_000 * 1024));
        assert_eq!(st.dumps.len(), 1);
        assert_eq!(st.dumps[0].panic_message.as_deref(), Some("sysrq triggered crash"));
        let test = st.test.as_ref().unwrap();
        assert_eq!(test.outcome, Outcome::Passed { dir: "20261122-090000-host".into() });
        assert!(st.advice.is_empty(), "{:?}", st.advice);
        let j = serde_json::to_value(&st).unwrap();
        assert_eq!(j["schema"], SCHEMA);
        assert_eq!(j["test"]["result"], "passed");
        assert_eq!(j["test"]["id"], "t-9");
        assert_eq!(j["capture_kernel"]["method"], "kexec_file_load");
    }

    #[test]
    fn unarmed_unreserved_and_stale() {
        let d = machine();
        let r = d.path();
        write(r, kernel_state::CRASH_SIZE, "0\n");
        write(r, kernel_state::CRASH_LOADED, "0\n");
        let armed = serde_json::json!({"time":"t","time_unix":500,"kernel":"/k","initrd":"/i",
            "initrd_bytes":5,"cmdline":"c","method":"kexec_file_load","inputs_digest":null,"kexdump_version":"0"});
        write(r, record::ARMED_RECORD, &armed.to_string());
        let st = gather(r, None, &|_| Some(1 << 20));
        assert!(!st.armed);
        assert_eq!(st.reservation.bytes, Some(0));
        assert!(st.reservation.error.as_deref().unwrap().contains("crashkernel="));
        assert!(st.capture_kernel.unwrap().stale);
        assert!(st.advice[0].contains("kexdump crashkernel set auto"), "{:?}", st.advice);
        assert!(st.advice.iter().any(|a| a.contains("1 MiB free")), "{:?}", st.advice);
    }

    #[test]
    fn no_kexec_support_and_bad_config_do_not_stop_the_rest() {
        let d = machine();
        let r = d.path();
        fs::remove_file(r.join(kernel_state::CRASH_SIZE)).unwrap();
        write(r, "etc/kexdump.toml", "[target]\ntarget = 5\n");
        let st = gather(r, None, &|_| None);
        assert!(st.reservation.error.as_deref().unwrap().contains("CONFIG_KEXEC_FILE"));
        assert!(st.advice[0].contains("CONFIG_KEXEC_FILE"), "{:?}", st.advice);
        assert!(st.config_error.as_deref().unwrap().contains("kexdump.toml:2"), "{:?}", st.config_error);
        assert!(st.target.error.is_none() && st.target.dir.is_none(), "a configuration error is not a target error");
        assert!(st.advice.iter().any(|a| a.starts_with("fix the configuration: ")), "{:?}", st.advice);
        assert!(st.armed);
        assert!(st.dumps_error.is_some());
    }

    #[test]
    fn pending_and_missing_tests() {
        let d = machine();
        let r = d.path();
        let mut t =
            TestRecord { id: "t-new".into(), requested: "r".into(), requested_unix: 900, boot_id: "boot-2".into() };
        write(r, selftest::TEST_RECORD, &serde_json::to_string(&t).unwrap());
        assert_eq!(gather(r, None, &|_| None).test.unwrap().outcome, Outcome::Pending);
        t.boot_id = "boot-1".into();
        write(r, selftest::TEST_RECORD, &serde_json::to_string(&t).unwrap());
        let st = gather(r, None, &|_| None);
        assert_eq!(st.test.unwrap().outcome, Outcome::Missing);
        assert!(st.advice.iter().any(|a| a.contains("did not arrive")), "{:?}", st.advice);
    }
}
