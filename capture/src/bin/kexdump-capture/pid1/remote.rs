//! Remote targets in the capture kernel: bring the network up, then either
//! connect to the ssh server (the dump streams over SFTP in makedumpfile's
//! flattened format) or mount the NFS export (then the dump is written as
//! on a local disk, by the caller).
//!
//! Every step has a deadline, `wait_seconds` in all for reaching the
//! server: a dead link or a refused login ends in the fallback target or
//! the failure action, never in a hang.

use super::console::{Console, ConsoleProgress};
use super::{net, new_dump_record, record_report, sys, MOUNT_POINT};
use kexdump_engine::analysis::panic_log::panic_message;
use kexdump_engine::capture_config::{self, CaptureConfig, NfsTarget, SshTarget, Target};
use kexdump_engine::capture_dir::record::{DmesgRecord, Record, Status};
use kexdump_engine::capture_dir::{DMESG, DUMP_FLAT, DUMP_FLAT_INCOMPLETE, RECORD};
use kexdump_engine::remote::ssh::{Failure, Sftp, SshParams};
use kexdump_engine::sink::FlatSink;
use kexdump_engine::{dmesg, save, Format, SaveOptions, Vmcore};
use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The deadline of one ssh request once connected: a link that carries
/// nothing for this long is dead.
const SSH_STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between attempts to reach a server that refused or did not answer.
const RETRY_PAUSE: Duration = Duration::from_secs(2);

pub enum Reached {
    /// Logged in; the capture directory's parent on the server.
    Ssh(Box<Sftp>, String),
    /// The NFS export, mounted here.
    Mounted(PathBuf),
}

type Durations = Vec<(&'static str, f64)>;

/// Bring the network up and reach the remote target within `wait_seconds`.
pub fn reach(con: &mut Console, cfg: &CaptureConfig, durations: &mut Durations) -> Result<Reached, String> {
    let deadline = Instant::now() + Duration::from_secs(cfg.wait_seconds.into());
    let net = cfg.net.as_ref().ok_or("the configuration names no network interface (net_mac)")?;
    let t = Instant::now();
    let up = net::bring_up(net, Duration::from_secs(cfg.wait_seconds.into()), &mut |m| con.say(m))?;
    durations.push(("network", t.elapsed().as_secs_f64()));
    con.say(&format!(
        "network up: {} {}/{}{} ({}) in {:.1} s",
        up.ifname,
        up.addr,
        up.prefix,
        up.gateway.map(|g| format!(" via {g}")).unwrap_or_default(),
        if up.dhcp { "dhcp" } else { "static" },
        t.elapsed().as_secs_f64()
    ));
    let t = Instant::now();
    let r = match &cfg.target {
        Target::Ssh(s) => connect_ssh(con, s, cfg, deadline),
        Target::Nfs(n) => mount_nfs(con, n, cfg, IpAddr::V4(up.addr), deadline).map(Reached::Mounted),
        t => Err(format!("{t} is not a remote target")),
    };
    durations.push(("connect", t.elapsed().as_secs_f64()));
    r
}

fn connect_ssh(con: &mut Console, t: &SshTarget, cfg: &CaptureConfig, deadline: Instant) -> Result<Reached, String> {
    let key_path = Path::new("/").join(capture_config::SSH_IDENTITY_IN_IMAGE);
    let identity = fs::read_to_string(&key_path).map_err(|e| format!("{}: {e}", key_path.display()))?;
    let url = Target::Ssh(t.clone()).to_string();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
        let params = SshParams {
            addr: t.addr,
            user: t.user.clone(),
            identity: identity.clone(),
            host_key: cfg.ssh_host_key.clone(),
            timeout: left.min(SSH_STEP_TIMEOUT),
        };
        match Sftp::connect(&params) {
            Ok(mut sftp) => {
                con.say(&format!("connected to {url}"));
                let base = sftp.private_dirs(&t.dir, &cfg.path).map_err(|e| e.to_string())?;
                sftp.set_timeout(SSH_STEP_TIMEOUT);
                return Ok(Reached::Ssh(Box::new(sftp), base));
            }
            // A wrong host key or a refused login will not change: say so now.
            Err(e) if matches!(e.failure, Failure::HostKey | Failure::Auth | Failure::Local) => return Err(e.msg),
            Err(e) if Instant::now() + RETRY_PAUSE >= deadline => {
                return Err(format!("{url} not reached after {} s ({attempt} attempts): {e}", cfg.wait_seconds))
            }
            Err(e) => {
                if attempt == 1 || attempt % 5 == 0 {
                    con.say(&format!("{url}: {e}; retrying"));
                }
                std::thread::sleep(RETRY_PAUSE);
            }
        }
    }
}

/// Mount the export with the kernel's client (no mount.nfs: the options
/// carry the server's address). The mount runs on its own thread, so a
/// server that never answers costs `wait_seconds`, not a hang.
fn mount_nfs(
    con: &mut Console,
    t: &NfsTarget,
    cfg: &CaptureConfig,
    client: IpAddr,
    deadline: Instant,
) -> Result<PathBuf, String> {
    let v3 = cfg.nfs_version == "3";
    let (fstype, mut opts) = if v3 {
        // No rpc.statd in the capture kernel: no locks.
        ("nfs", format!("vers=3,proto=tcp,mountproto=tcp,nolock,addr={}", t.server))
    } else {
        ("nfs4", format!("vers={},addr={},clientaddr={client}", cfg.nfs_version, t.server))
    };
    // soft: an NFS server that goes away fails the writes (the dump is then
    // INCOMPLETE) instead of blocking them forever.
    opts.push_str(",soft,timeo=100,retrans=3");
    if !cfg.mount_options.is_empty() {
        opts.push(',');
        opts.push_str(&cfg.mount_options);
    }
    let source = match t.server {
        IpAddr::V4(a) => format!("{a}:{}", t.export),
        IpAddr::V6(a) => format!("[{a}]:{}", t.export),
    };
    let mnt = PathBuf::from(MOUNT_POINT);
    let _ = fs::create_dir_all(&mnt);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        let (tx, rx) = mpsc::channel();
        let (src, m, o) = (source.clone(), mnt.clone(), opts.clone());
        std::thread::spawn(move || {
            let _ = tx.send(sys::mount(&src, &m, fstype, sys::MsFlags::MS_NOATIME, &o));
        });
        match rx.recv_timeout(left.max(Duration::from_secs(1))) {
            Ok(Ok(())) => {
                con.say(&format!("mounted {source} ({fstype} {opts}) on {MOUNT_POINT}"));
                return Ok(mnt);
            }
            Ok(Err(e)) if Instant::now() + RETRY_PAUSE < deadline && retryable(&e) => {
                if attempt == 1 || attempt % 5 == 0 {
                    con.say(&format!("mount {source}: {e}; retrying"));
                }
                std::thread::sleep(RETRY_PAUSE);
            }
            Ok(Err(e)) => return Err(format!("mount -t {fstype} -o {opts} {source}: {e}")),
            Err(_) => {
                return Err(format!("mount -t {fstype} {source}: no answer in {} s", cfg.wait_seconds));
            }
        }
    }
}

/// Errors a server that is still starting (or a link still settling) gives.
fn retryable(e: &io::Error) -> bool {
    use libc::*;
    matches!(e.raw_os_error(), Some(ECONNREFUSED | ETIMEDOUT | EHOSTUNREACH | ENETUNREACH | EAGAIN | EIO))
}

/// A writer that keeps the CRC32 of what went through it: the record's
/// CRC of `vmcore.flat`, which is exactly the bytes sent.
struct Crc<W: Write> {
    inner: W,
    hasher: crc32fast::Hasher,
}

impl<W: Write> Write for Crc<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// dmesg.txt, a record saying "saving", the dump as
/// `vmcore.flat.incomplete` renamed `vmcore.flat` when whole, and the
/// final record, in `base/dir_name/` on the server. `Err` when the dump
/// did not arrive whole (the caller falls back or fails).
#[allow(clippy::too_many_arguments)]
pub fn save_over_ssh(
    con: &mut Console,
    sftp: &mut Sftp,
    base: &str,
    dir_name: &str,
    vm: &Vmcore,
    cfg: &CaptureConfig,
    mut rec: Record,
    mut durations: Durations,
) -> Result<(), String> {
    let started = Instant::now();
    let err = |e: kexdump_engine::remote::ssh::RemoteError| e.to_string();
    let dir = sftp.unique_dir(base, dir_name).map_err(err)?;
    let url = format!("{}:{dir}", sftp.server);
    con.say(&format!("saving into {url}"));

    let t = Instant::now();
    match dmesg::read_log(vm) {
        Ok(log) => {
            rec.panic_message = panic_message(&String::from_utf8_lossy(&log));
            sftp.write_file(&format!("{dir}/{DMESG}"), &log).map_err(err)?;
            rec.dmesg = Some(DmesgRecord { file: Some(DMESG.into()), bytes: Some(log.len() as u64) });
            con.say(&format!("saved {DMESG} ({} bytes)", log.len()));
        }
        Err(e) => con.warn(&format!("no kernel log in the vmcore: {e}")),
    }
    if let Some(m) = &rec.panic_message {
        con.say(&format!("panic: {m}"));
    }
    durations.push(("dmesg", t.elapsed().as_secs_f64()));
    let record_path = format!("{dir}/{RECORD}");
    sftp.write_file(&record_path, rec.to_json().as_bytes()).map_err(err)?;

    let t = Instant::now();
    let opts = SaveOptions {
        level: cfg.level,
        format: Format::Kdump,
        compression: cfg.compression,
        threads: save::online_cpus(),
    };
    if cfg.format != Format::Kdump {
        con.warn("an ssh target receives the kdump format (flattened); format = elf applies to file systems only");
    }
    let mut dump = new_dump_record(DUMP_FLAT_INCOMPLETE, "flattened", cfg.compression.name(), cfg.level);
    let tmp = format!("{dir}/{DUMP_FLAT_INCOMPLETE}");
    con.say(&format!(
        "saving the dump ({} MB of memory) to {url}",
        fs::metadata("/proc/vmcore").map(|m| m.len() >> 20).unwrap_or(0)
    ));
    let mut file = sftp.create(&tmp, false).map_err(err)?;
    let mut warnings = Vec::new();
    let (result, crc, sent) = {
        let mut crc = Crc { inner: &mut file, hasher: crc32fast::Hasher::new() };
        let r = FlatSink::new(&mut crc).map_err(|e| e.to_string()).and_then(|mut sink| {
            save(vm, &mut sink, &opts, &mut ConsoleProgress::new(), &mut |m| warnings.push(m.to_owned()))
                .map_err(|e| e.to_string())
        });
        let sent = crc.inner.position();
        (r, crc.hasher.finalize(), sent)
    };
    for w in &warnings {
        con.warn(w);
    }
    let finished = result.and_then(|report| file.finish().map(|()| report).map_err(err));
    durations.push(("dump", t.elapsed().as_secs_f64()));
    dump.bytes = Some(sent);
    let outcome = match finished {
        Ok(report) => {
            record_report(&mut dump, &report);
            match sftp.rename(&tmp, &format!("{dir}/{DUMP_FLAT}")) {
                Ok(()) => {
                    dump.file = Some(DUMP_FLAT.into());
                    dump.set_crc32(crc);
                    dump.crc32_source = Some("stream: the bytes sent, fsynced on the server".into());
                    con.say(&format!(
                        "saved vmcore: {} pages of {}, {:.1} MB sent to {url}/{DUMP_FLAT}",
                        report.stats.pages_written,
                        report.stats.pages_present,
                        sent as f64 / 1e6
                    ));
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Err(e) => Err(format!("sending {tmp}: {e}")),
    };
    rec.set_status(match &outcome {
        Ok(()) => Status::Complete,
        Err(_) if sent > 0 => Status::Incomplete,
        Err(_) => Status::Failed,
    });
    rec.error = outcome.as_ref().err().cloned();
    rec.dump = Some(dump);
    durations.push(("total", started.elapsed().as_secs_f64()));
    rec.durations_seconds = durations.into_iter().map(|(s, d)| (s.to_owned(), d)).collect();
    rec.phase = None;
    // After a broken link this fails too; the server keeps the
    // placeholder record saying "saving" and the *.incomplete file.
    if let Err(e) = sftp.write_file(&record_path, rec.to_json().as_bytes()) {
        con.warn(&format!("{}:{record_path}: {e}", sftp.server));
        if outcome.is_ok() {
            return Err(format!("the dump arrived whole, but its record did not: {e}"));
        }
    }
    outcome
}
