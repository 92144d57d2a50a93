//! `kexdump-capture` as PID 1 of the capture kernel: the whole job between
//! the crash and the reboot, with no shell, udev or libc beyond this
//! static binary.
//!
//! 1. mount devtmpfs, proc, sysfs; read /etc/kexdump-capture.conf
//! 2. load the target's modules (dependencies first) with finit_module
//! 3. find the target by UUID, LABEL or device path, waiting for it
//! 4. mount it; make `<path>/<crash time>-<hostname>/` (0700, no symlinks)
//! 5. save `dmesg.txt` first (small, and the most useful part), then a
//!    `kexdump.json` saying "saving", then the dump, then the final
//!    `kexdump.json` with sizes, CRC32 and times
//! 6. sync, unmount, and the final action (or the failure action)
//!
//! Every file is written as `NAME.incomplete`, fsynced and renamed. What is
//! saved stays saved when a later step fails: a full disk leaves the dump
//! as `vmcore.incomplete` (flagged INCOMPLETE in its header) and a record
//! saying so.

pub mod blockdev;
pub mod console;
pub mod net;
pub mod remote;
pub mod resources;
pub mod retention;
pub mod sys;

use console::{Console, ConsoleProgress};
use kexdump_engine::analysis::panic_log::panic_message;
use kexdump_engine::capture_config::{self, Action, CaptureConfig, Target};
use kexdump_engine::capture_dir::record::{DmesgRecord, DumpRecord, Record, Status};
use kexdump_engine::capture_dir::{self, time::iso8601, DMESG, DUMP, RECORD};
use kexdump_engine::output::AtomicFile;
use kexdump_engine::sink::FileSink;
use kexdump_engine::{dmesg, save, utsname, Format, SaveOptions, Vmcore};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

const VMCORE: &str = "/proc/vmcore";
pub(crate) const MOUNT_POINT: &str = "/mnt";
/// Space kept for the final kexdump.json: the placeholder is padded to
/// this size, so rewriting it in place needs no new blocks on a full disk.
const RECORD_RESERVE: usize = 4096;

/// Run the capture and end the machine's life as configured. Never returns.
pub fn run() -> ! {
    let mut con = Console::new();
    install_panic_hook();
    mount_pseudo_filesystems(&mut con);
    con.attach();
    let mut run = Run { con, mounted: None, started: Instant::now() };
    let (ok, actions) = match run.capture() {
        Ok(a) => (true, a),
        Err((msg, a)) => {
            run.con.error(&msg);
            (false, a)
        }
    };
    run.finish(if ok { actions.final_action } else { actions.failure_action })
}

/// A panic in PID 1 would leave the machine panicking with nothing said;
/// say it, sync what was written, and reboot.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("{}: ERROR: internal error: {info}; rebooting", console::PREFIX);
        sys::sync();
        let _ = sys::reboot(sys::RebootMode::RB_AUTOBOOT);
    }));
}

fn mount_pseudo_filesystems(con: &mut Console) {
    for (fstype, dir) in [("devtmpfs", "/dev"), ("proc", "/proc"), ("sysfs", "/sys")] {
        let _ = fs::create_dir_all(dir);
        match sys::mount(fstype, Path::new(dir), fstype, sys::MsFlags::empty(), "") {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(e) => con.warn(&format!("mount -t {fstype} {dir}: {e}")),
        }
    }
}

/// Where the capture directory is made.
enum Destination {
    /// A directory on a mounted file system (local disk or NFS).
    Dir(PathBuf),
    /// A directory on an ssh server.
    Ssh(Box<kexdump_engine::remote::ssh::Sftp>, String),
}

/// The actions in force: the defaults until the configuration is read.
#[derive(Clone, Copy)]
struct Actions {
    failure_action: Action,
    final_action: Action,
}

type StepError = (String, Actions);

struct Run {
    con: Console,
    mounted: Option<PathBuf>,
    started: Instant,
}

impl Run {
    fn capture(&mut self) -> Result<Actions, StepError> {
        let defaults = Actions { failure_action: Action::Reboot, final_action: Action::Reboot };
        let conf_path = Path::new("/").join(capture_config::PATH_IN_IMAGE);
        let text =
            fs::read_to_string(&conf_path).map_err(|e| (format!("reading {}: {e}", conf_path.display()), defaults))?;
        let mut cfg = CaptureConfig::parse(&text).map_err(|e| (format!("{}: {e}", conf_path.display()), defaults))?;
        if let Some(id) =
            fs::read_to_string("/proc/cmdline").ok().and_then(|c| capture_config::test_id_from_cmdline(&c))
        {
            cfg.test_id = Some(id);
        }
        let actions = Actions { failure_action: cfg.failure_action, final_action: cfg.final_action };
        let fail = |msg: String| (msg, actions);

        self.con.say(&format!(
            "kexdump {} capture: target {} path /{} level {} {} {}",
            env!("CARGO_PKG_VERSION"),
            cfg.target,
            cfg.path,
            cfg.level,
            format_name(cfg.format),
            cfg.compression.name()
        ));
        // The CPUs are the compression threads' count (the record's `threads`).
        self.con.say(&resources::summary(Path::new("/"), save::online_cpus()));
        if let Some(id) = &cfg.test_id {
            self.con.say(&format!("self-test {id}"));
        }
        if !Path::new(VMCORE).exists() {
            return Err(fail(format!(
                "no {VMCORE}: this kernel was not booted by a crash (kexec -p); nothing to capture"
            )));
        }
        let mut durations = Vec::new();

        let t = Instant::now();
        let loaded = self.load_modules(&cfg.modules);
        durations.push(("modules", t.elapsed().as_secs_f64()));
        self.con.say(&format!(
            "loaded {loaded} of {} modules in {:.2} s",
            cfg.modules.len(),
            t.elapsed().as_secs_f64()
        ));

        let dest = match self.reach_target(&cfg, &mut durations) {
            Ok(d) => d,
            Err(why) => Destination::Dir(self.fall_back(&cfg, &why, &mut durations).map_err(fail)?),
        };
        let vm = Vmcore::open(Path::new(VMCORE)).map_err(|e| fail(format!("{VMCORE}: {e}")))?;
        let uts = utsname::utsname(&vm);
        let crash_time = vm.info.crash_time().ok().flatten();
        let capture_time = unix_now();
        let dir_name = capture_dir::dir_name(crash_time.unwrap_or(capture_time), &uts[1]);

        let mut rec = Record::new(Status::Saving);
        rec.phase = Some("dump".into());
        rec.kernel_release = Some(uts[2].clone());
        rec.hostname = Some(uts[1].clone());
        rec.machine = Some(uts[4].clone());
        rec.set_crash_time(crash_time);
        rec.capture_time = Some(iso8601(capture_time));
        rec.vmcore_bytes = Some(fs::metadata(VMCORE).map(|m| m.len()).unwrap_or(0));
        rec.capture_kernel =
            Some(fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned());
        rec.test_id = cfg.test_id.clone();
        let base = match dest {
            Destination::Dir(base) => base,
            Destination::Ssh(mut sftp, base) => {
                let sent = remote::save_over_ssh(
                    &mut self.con,
                    &mut sftp,
                    &base,
                    &dir_name,
                    &vm,
                    &cfg,
                    rec.clone(),
                    durations.clone(),
                );
                sftp.close();
                match sent {
                    Ok(()) => {
                        self.con.say(&format!("capture complete in {:.1} s", self.started.elapsed().as_secs_f64()));
                        return Ok(actions);
                    }
                    Err(why) => self.fall_back(&cfg, &why, &mut durations).map_err(fail)?,
                }
            }
        };
        self.save_to_dir(&vm, &cfg, &base, &dir_name, rec, durations, actions)
    }

    /// Where the dump goes: the configured target, reached (mounted, or
    /// connected to). `Err` says why not; the caller falls back.
    fn reach_target(
        &mut self,
        cfg: &CaptureConfig,
        durations: &mut Vec<(&'static str, f64)>,
    ) -> Result<Destination, String> {
        match &cfg.target {
            Target::Ssh(_) | Target::Nfs(_) => remote::reach(&mut self.con, cfg, durations)
                .map(|r| match r {
                    remote::Reached::Ssh(sftp, base) => Destination::Ssh(sftp, base),
                    remote::Reached::Mounted(mnt) => {
                        self.mounted = Some(mnt.clone());
                        Destination::Dir(mnt)
                    }
                })
                .and_then(|d| match d {
                    Destination::Dir(mnt) => {
                        private_dirs(&mnt, &cfg.path).map(Destination::Dir).map_err(|e| e.to_string())
                    }
                    d => Ok(d),
                }),
            t => {
                let mnt = self.mount_disk(t, cfg.fstype.as_deref(), &cfg.mount_options, cfg.wait_seconds, durations)?;
                private_dirs(&mnt, &cfg.path).map(Destination::Dir).map_err(|e| e.to_string())
            }
        }
    }

    /// The remote target failed: save to the local fallback, if there is one.
    fn fall_back(
        &mut self,
        cfg: &CaptureConfig,
        why: &str,
        durations: &mut Vec<(&'static str, f64)>,
    ) -> Result<PathBuf, String> {
        let Some(fb) = &cfg.fallback else { return Err(why.to_owned()) };
        if let Some(m) = self.mounted.take() {
            let _ = sys::umount(&m, true);
        }
        self.con.say(&format!("falling back to {}: {why}", fb.target));
        let mnt = self
            .mount_disk(&fb.target, fb.fstype.as_deref(), "", cfg.wait_seconds, durations)
            .map_err(|e| format!("{why}; and the fallback failed: {e}"))?;
        private_dirs(&mnt, &fb.path).map_err(|e| format!("{why}; and the fallback failed: {e}"))
    }

    /// Find the disk holding `target` (waiting up to `wait` seconds) and
    /// mount it on /mnt.
    fn mount_disk(
        &mut self,
        target: &Target,
        fstype: Option<&str>,
        mount_options: &str,
        wait: u32,
        durations: &mut Vec<(&'static str, f64)>,
    ) -> Result<PathBuf, String> {
        let t = Instant::now();
        self.con.say(&format!("waiting up to {wait} s for {target}"));
        let (sys_dir, dev_dir) = (Path::new("/sys"), Path::new("/dev"));
        let mut con = std::mem::take(&mut self.con);
        let found = blockdev::wait_for(target, sys_dir, dev_dir, Duration::from_secs(wait.into()), &mut |s| {
            if s % 5 == 0 {
                con.say(&format!("still waiting for {target} ({s} s)"))
            }
        });
        self.con = con;
        let found = found.ok_or_else(|| {
            format!(
                "dump target {target} not found after {wait} s; block devices: {}",
                blockdev::describe_devices(sys_dir, dev_dir)
            )
        })?;
        durations.push(("find_target", t.elapsed().as_secs_f64()));

        let t = Instant::now();
        let fstype = fstype
            .map(str::to_owned)
            .or_else(|| found.fs.as_ref().map(|f| f.fstype.to_owned()))
            .ok_or_else(|| format!("{}: no file system recognised; set fstype", found.device.display()))?;
        let mnt = PathBuf::from(MOUNT_POINT);
        let _ = fs::create_dir_all(&mnt);
        let dev = found.device.to_string_lossy().into_owned();
        sys::mount(&dev, &mnt, &fstype, sys::MsFlags::MS_NOATIME, mount_options)
            .map_err(|e| blockdev::explain_mount_error(&e, &found, &fstype, sys_dir))?;
        self.mounted = Some(mnt.clone());
        durations.push(("mount", t.elapsed().as_secs_f64()));
        self.con.say(&format!("mounted {dev} ({fstype}) on {MOUNT_POINT}"));
        Ok(mnt)
    }

    /// Save dmesg, the record and the dump into a new capture directory
    /// under `base` (on a mounted file system: local or NFS).
    #[allow(clippy::too_many_arguments)]
    fn save_to_dir(
        &mut self,
        vm: &Vmcore,
        cfg: &CaptureConfig,
        base: &Path,
        dir_name: &str,
        mut rec: Record,
        mut durations: Vec<(&'static str, f64)>,
        actions: Actions,
    ) -> Result<Actions, StepError> {
        let fail = |msg: String| (msg, actions);
        let dir = unique_dir(base, dir_name).map_err(|e| fail(e.to_string()))?;
        self.con.say(&format!("saving into {}", dir.display()));

        // 1. dmesg.txt: small, and often all an operator needs.
        let t = Instant::now();
        match dmesg::read_log(vm) {
            Ok(log) => {
                rec.panic_message = panic_message(&String::from_utf8_lossy(&log));
                match write_file(&dir.join(DMESG), &log) {
                    Ok(()) => {
                        rec.dmesg = Some(DmesgRecord { file: Some(DMESG.into()), bytes: Some(log.len() as u64) });
                        self.con.say(&format!("saved {DMESG} ({} bytes)", log.len()));
                    }
                    Err(e) => self.con.warn(&format!("dmesg.txt not saved: {e}")),
                }
            }
            Err(e) => self.con.warn(&format!("no kernel log in the vmcore: {e}")),
        }
        if let Some(m) = &rec.panic_message {
            self.con.say(&format!("panic: {m}"));
        }
        durations.push(("dmesg", t.elapsed().as_secs_f64()));

        // 2. the record, padded so the final one fits on a full disk.
        let record_path = dir.join(RECORD);
        let mut placeholder = rec.to_json().into_bytes();
        placeholder.resize(placeholder.len().max(RECORD_RESERVE), b' ');
        if let Err(e) = write_file(&record_path, &placeholder) {
            self.con.warn(&format!("kexdump.json not written: {e}"));
        }

        // 3. the dump.
        let t = Instant::now();
        let (mut dump, dump_err, partial) = self.save_dump(vm, cfg, &dir);
        durations.push(("dump", t.elapsed().as_secs_f64()));
        // A cut from here on leaves a dump the record must still describe.
        let mut interim = rec.clone();
        interim.phase = Some("crc32".into());
        interim.dump = Some(dump.clone());
        interim.error = dump_err.clone();
        if let Err(e) = write_record(&record_path, interim.to_json().as_bytes()) {
            self.con.warn(&format!("{}: {e}", record_path.display()));
        }
        let t = Instant::now();
        let dump_file = dump.file.clone().unwrap_or_default();
        if partial.disk_may_differ {
            // After a write error the file system may keep less than the
            // file the capture saw (XFS keeps the on-disk size where the
            // last successful write left it): a CRC of that view made
            // `verify` call a readable prefix broken (docs/faults.md).
            let why = "not computed: the dump stopped on a write error, after which the disk may hold less than \
                       the capture saw; verify checks the file itself";
            self.con.warn(&format!("CRC32 of {dump_file} {why}"));
            dump.crc32_source = Some(why.into());
        } else {
            match crc32_of(&dir.join(&dump_file)) {
                Ok((c, from_disk)) => {
                    dump.set_crc32(c);
                    dump.crc32_source = Some(match from_disk {
                        Ok(()) => "disk".into(),
                        Err(e) => {
                            let why = format!("read through the page cache: dropping it failed: {e}");
                            self.con.warn(&format!("CRC32 of {dump_file} {why}"));
                            why
                        }
                    });
                }
                Err(e) => self.con.warn(&format!("CRC32 of {dump_file}: {e}")),
            }
        }
        durations.push(("crc32", t.elapsed().as_secs_f64()));
        durations.push(("total", self.started.elapsed().as_secs_f64()));
        // "failed" only for a file known to be empty: a shut-down file
        // system may refuse even to say how long the file is.
        rec.set_status(match (&dump_err, dump.bytes.unwrap_or(0), partial.size_unknown) {
            (None, ..) => Status::Complete,
            (Some(_), 0, false) => Status::Failed,
            (Some(_), ..) => Status::Incomplete,
        });
        rec.error = dump_err.clone();
        rec.dump = Some(dump);
        rec.durations_seconds = durations.into_iter().map(|(step, secs)| (step.to_owned(), secs)).collect();
        rec.phase = None;

        // 4. the final record: atomically if the disk allows, else over
        //    the reserved placeholder.
        let json = rec.to_json();
        let record_err = write_record(&record_path, json.as_bytes()).err();
        if let Some(e) = &record_err {
            self.con.error(&format!("{}: {e}", record_path.display()));
        }
        sys::sync();
        match dump_err {
            // The disk failed after the dump was durable: the dump is whole,
            // but the disk is not to be trusted with more (no retention),
            // and the capture did not end as configured for success.
            None if record_err.is_some() => Err(fail(format!(
                "the dump is complete, but its record could not be written ({}): kexdump.json still says \
                 \"saving\" (kexdump list: complete dump, record cut short)",
                record_err.map(|e| e.to_string()).unwrap_or_default()
            ))),
            None => {
                self.con.say(&format!("capture complete in {:.1} s", self.started.elapsed().as_secs_f64()));
                let current = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                self.apply_retention(base, cfg, &current);
                Ok(actions)
            }
            Some(e) => Err(fail(format!("the dump is {}: {e}", rec.status))),
        }
    }

    /// After a successful capture only: delete the oldest dumps beyond the
    /// policy. Problems are reported, never fatal: the new dump is saved.
    fn apply_retention(&mut self, base: &Path, cfg: &CaptureConfig, current: &str) {
        if cfg.keep == 0 && cfg.min_free_bytes == 0 {
            return;
        }
        let (saved, free) = match (retention::scan(base), capture_dir::free_bytes(base)) {
            (Ok(s), Ok(f)) => (s, f),
            (Err(e), _) | (_, Err(e)) => return self.con.warn(&format!("retention skipped: {e}")),
        };
        for name in retention::plan(&saved, cfg.keep, cfg.min_free_bytes, free, current) {
            match retention::remove(base, &name) {
                Ok(()) => self.con.say(&format!(
                    "retention (keep {}, min free {} MB): deleted {name}",
                    cfg.keep,
                    cfg.min_free_bytes >> 20
                )),
                Err(e) => self.con.warn(&format!("retention: {name}: {e}")),
            }
        }
        sys::sync();
    }

    /// Load each module; a failure is reported and the rest still tried
    /// (the target may not need the one that failed).
    fn load_modules(&mut self, names: &[String]) -> usize {
        let dir = Path::new("/").join(capture_config::MODULES_DIR_IN_IMAGE);
        let mut loaded = 0;
        for name in names {
            let path = dir.join(format!("{name}.ko"));
            let r = File::open(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
                .and_then(|f| sys::finit_module(&f, name));
            match r {
                Ok(_) => loaded += 1,
                Err(e) => self.con.warn(&e.to_string()),
            }
        }
        loaded
    }

    /// Write the dump as `vmcore` (via `vmcore.incomplete`). On failure the
    /// partial file keeps its `.incomplete` name; the error says why.
    fn save_dump(&mut self, vm: &Vmcore, cfg: &CaptureConfig, dir: &Path) -> (DumpRecord, Option<String>, Partial) {
        let opts = SaveOptions {
            level: cfg.level,
            format: cfg.format,
            compression: cfg.compression,
            threads: save::online_cpus(),
        };
        let compression = if cfg.format == Format::Kdump { cfg.compression.name() } else { "none" };
        let mut info = new_dump_record(DUMP, format_name(cfg.format), compression, cfg.level);
        let dest = dir.join(DUMP);
        let out = match AtomicFile::create(&dest) {
            Ok(o) => o,
            Err(e) => return (info, Some(e.to_string()), Partial::default()),
        };
        let tmp_name = out.tmp_path().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let file = match out.file.try_clone() {
            Ok(f) => f,
            Err(e) => return (info, Some(e.to_string()), Partial::default()),
        };
        let mut sink = FileSink::new(file);
        let mut progress = ConsoleProgress::new();
        let mut warnings = Vec::new();
        self.con.say(&format!(
            "saving the dump ({} MB of memory)",
            fs::metadata(VMCORE).map(|m| m.len() >> 20).unwrap_or(0)
        ));
        let result = save(vm, &mut sink, &opts, &mut progress, &mut |m| warnings.push(m.to_owned()));
        for w in &warnings {
            self.con.warn(w);
        }
        let size_of = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        match result {
            Ok(report) => {
                record_report(&mut info, &report);
                match out.commit() {
                    Ok(p) => {
                        let bytes = size_of(&p);
                        info.bytes = Some(bytes);
                        self.con.say(&format!(
                            "saved vmcore: {} pages of {}, {:.1} MB",
                            report.stats.pages_written,
                            report.stats.pages_present,
                            bytes as f64 / 1e6
                        ));
                        (info, None, Partial::default())
                    }
                    // The rename happened but a later fsync failed: the dump
                    // is whole under its final name; say what failed.
                    Err(e) if dest.exists() && !dir.join(&tmp_name).exists() => {
                        info.bytes = Some(size_of(&dest));
                        self.con.warn(&format!("{} saved, but {e}", dest.display()));
                        (info, None, Partial::default())
                    }
                    Err(e) => {
                        info.bytes = Some(size_of(&dir.join(&tmp_name)));
                        info.file = Some(tmp_name);
                        (info, Some(format!("committing {}: {e}", dest.display())), Partial::default())
                    }
                }
            }
            Err(e) => {
                if let kexdump_engine::Error::Incomplete { pages_written, .. } = &e {
                    info.pages_written = Some(*pages_written);
                }
                let source = match &e {
                    kexdump_engine::Error::Incomplete { source, .. } | kexdump_engine::Error::Output { source, .. } => {
                        Some(source)
                    }
                    _ => None,
                };
                let path = dir.join(&tmp_name);
                info.file = Some(tmp_name);
                let size = fs::metadata(&path).map(|m| m.len());
                info.bytes = Some(*size.as_ref().unwrap_or(&0));
                let partial =
                    Partial { disk_may_differ: source.is_some_and(disk_may_differ), size_unknown: size.is_err() };
                (info, Some(format!("writing {}: {e}", path.display())), partial)
            }
        }
    }

    fn finish(&mut self, action: Action) -> ! {
        sys::sync();
        if let Some(m) = self.mounted.take() {
            if let Err(e) = sys::umount(&m, false) {
                self.con.warn(&format!("{e}; detaching it"));
                let _ = sys::umount(&m, true);
            }
        }
        sys::sync();
        self.con.say(&format!("{action} (after {:.1} s)", self.started.elapsed().as_secs_f64()));
        let cmd = match action {
            Action::Reboot => sys::RebootMode::RB_AUTOBOOT,
            Action::Poweroff => sys::RebootMode::RB_POWER_OFF,
            Action::Halt => sys::RebootMode::RB_HALT_SYSTEM,
        };
        let e = sys::reboot(cmd);
        // Exiting PID 1 panics the kernel, and the capture command line's
        // panic=10 then reboots: a last resort, never a hang.
        self.con.error(&format!("{action} failed: {e}; exiting, the kernel will panic and reboot"));
        std::process::exit(1)
    }
}

/// What is known of a dump file that stopped part-way.
#[derive(Default)]
struct Partial {
    /// A write error other than a full target: what the file system keeps
    /// may be shorter than the file the capture saw.
    disk_may_differ: bool,
    /// Its size could not be read (a shut-down file system answers EIO).
    size_unknown: bool,
}

/// Whether a write error may leave the disk holding less than was written:
/// every error but a full target or quota (those fail before the data is
/// accepted, so the file is as long as the capture saw).
fn disk_may_differ(e: &io::Error) -> bool {
    !matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// The record of a dump about to be written: nothing written yet.
pub(crate) fn new_dump_record(file: &str, format: &str, compression: &str, level: u8) -> DumpRecord {
    DumpRecord {
        file: Some(file.into()),
        format: Some(format.into()),
        compression: Some(compression.into()),
        level_requested: Some(level),
        level: Some(level),
        bytes: Some(0),
        pages_present: Some(0),
        pages_written: Some(0),
        threads: Some(save::online_cpus()),
        ..Default::default()
    }
}

/// What the engine's save reported, into the dump's record.
pub(crate) fn record_report(d: &mut DumpRecord, report: &kexdump_engine::save::SaveReport) {
    d.level = Some(report.level);
    d.fallback = report.fallback.clone();
    d.warnings = report.warnings.clone();
    d.pages_present = Some(report.stats.pages_present);
    d.pages_written = Some(report.stats.pages_written);
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Kdump => "kdump",
        Format::Elf => "elf",
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `base/rel`, creating missing directories 0700 and refusing symlinks and
/// non-directories anywhere on the way (the target may have been prepared
/// by someone else).
pub fn private_dirs(base: &Path, rel: &str) -> io::Result<PathBuf> {
    let mut p = base.to_path_buf();
    for comp in rel.split('/').filter(|c| !c.is_empty() && *c != ".") {
        p.push(comp);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(io::Error::other(format!("{} is a symlink; refusing to follow it", p.display())))
            }
            Ok(m) if !m.is_dir() => return Err(io::Error::other(format!("{} is not a directory", p.display()))),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new()
                .mode(0o700)
                .create(&p)
                .map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", p.display())))?,
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", p.display()))),
        }
    }
    Ok(p)
}

/// A new 0700 directory `base/name`, or `name.1`, `name.2`, ... when a
/// capture of the same second exists (never reusing one).
pub fn unique_dir(base: &Path, name: &str) -> io::Result<PathBuf> {
    for i in 0..100 {
        let p = if i == 0 { base.join(name) } else { base.join(format!("{name}.{i}")) };
        match fs::DirBuilder::new().mode(0o700).create(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("creating {}: {e}", p.display()))),
        }
    }
    Err(io::Error::other(format!("{}: 100 directories named {name}* exist", base.display())))
}

fn write_file(dest: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(dest)?;
    f.file.write_all(data).map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", f.tmp_path().display())))?;
    f.commit().map(|_| ())
}

/// Replace the record atomically; if the disk is full, overwrite the
/// padded placeholder in place (its blocks are already allocated).
pub fn write_record(dest: &Path, data: &[u8]) -> io::Result<()> {
    let atomic = AtomicFile::replacing(dest).and_then(|mut f| {
        let tmp = f.tmp_path().to_owned();
        let r = f.file.write_all(data).and_then(|()| f.commit().map(|_| ()));
        if r.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        r
    });
    let Err(e) = atomic else { return Ok(()) };
    if data.len() > RECORD_RESERVE {
        return Err(e);
    }
    let f = fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dest)
        .map_err(|e2| io::Error::new(e2.kind(), format!("{e}; rewriting in place: {e2}")))?;
    use std::os::unix::fs::FileExt;
    f.write_all_at(data, 0)?;
    f.set_len(data.len() as u64)?;
    f.sync_all()
}

/// The CRC32 of what the disk holds: the (fsynced) file's cached pages are
/// dropped first, so a write the disk lost (EIO after the page cache took
/// it) changes the CRC. Returns whether dropping the cache worked.
fn crc32_of(path: &Path) -> io::Result<(u32, io::Result<()>)> {
    let mut f = File::open(path)?;
    let from_disk = f.sync_all().and_then(|_| sys::drop_cached(&f));
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Ok((h.finalize(), from_disk)),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn only_a_full_target_leaves_the_file_as_the_capture_saw_it() {
        assert!(!disk_may_differ(&io::Error::from_raw_os_error(libc::ENOSPC)));
        assert!(!disk_may_differ(&io::Error::from_raw_os_error(libc::EDQUOT)));
        assert!(disk_may_differ(&io::Error::from_raw_os_error(libc::EIO)));
        assert!(disk_may_differ(&io::Error::from_raw_os_error(libc::EROFS)));
        assert!(disk_may_differ(&io::Error::other("no OS error")));
    }

    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_dirs_are_0700_and_refuse_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let p = private_dirs(d.path(), "var/crash").unwrap();
        assert_eq!(p, d.path().join("var/crash"));
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o700);
        std::os::unix::fs::symlink("/etc", d.path().join("evil")).unwrap();
        let e = private_dirs(d.path(), "evil/x").unwrap_err();
        assert!(e.to_string().contains("is a symlink"), "{e}");
        fs::write(d.path().join("file"), b"").unwrap();
        assert!(private_dirs(d.path(), "file/x").unwrap_err().to_string().contains("not a directory"));

        let a = unique_dir(&p, "20261122-000000-h").unwrap();
        let b = unique_dir(&p, "20261122-000000-h").unwrap();
        assert_eq!(b, p.join("20261122-000000-h.1"));
        assert_ne!(a, b);
    }

    #[test]
    fn record_is_replaced_and_survives_a_failed_atomic_write() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("kexdump.json");
        write_file(&dest, &[b' '; RECORD_RESERVE]).unwrap();
        write_record(&dest, b"{\"a\": 1}\n").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"{\"a\": 1}\n");
        // Something unremovable at kexdump.json.incomplete (here a
        // directory) makes the atomic path fail; the in-place fallback
        // still lands the record.
        fs::create_dir(d.path().join("kexdump.json.incomplete")).unwrap();
        write_record(&dest, b"{\"b\": 2}\n").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"{\"b\": 2}\n");
    }
}
