//! `kexdump status` output: a summary for people, or `--json` (schema
//! `kexdump.status/1`, docs/operator.md). Exit 0 when armed, 3 when not,
//! as `kdumpctl status` does, so scripts and monitoring can test it.

use crate::arming::record::ARMED_RECORD;
use crate::arming::sizes::mib;
use crate::cli::StatusArgs;
use crate::config::Config;
use crate::exit;
use crate::remote_target;
use crate::selftest::Outcome;
use crate::status::{self, Status};
use crate::system::network;
use anyhow::Result;
use kexdump_engine::capture_config::Scheme;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// How long `status` waits for an ssh server's answer.
const REMOTE_TIMEOUT: Duration = Duration::from_secs(5);

pub fn run(a: StatusArgs) -> Result<ExitCode> {
    let free = |p: &Path| kexdump_engine::capture_dir::free_bytes(p).ok();
    let remote = |c: &Config| {
        c.remote_url().filter(|u| u.scheme == Scheme::Ssh).map(|_| {
            remote_target::ssh_free(Path::new("/"), c, &network::Live, REMOTE_TIMEOUT).map_err(|e| format!("{e:#}"))
        })
    };
    let st = status::gather_with(Path::new("/"), a.config.as_deref(), &free, &remote);
    let mut out = io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&st)?)?;
    } else {
        // Red NOT ARMED on a terminal, unless NO_COLOR is set (no-color.org).
        let colour = io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        write_text(&st, colour, &mut out)?;
    }
    Ok(exit::code(if st.armed { exit::OK } else { exit::NOT_ARMED }))
}

pub fn write_text(st: &Status, colour: bool, out: &mut dyn Write) -> io::Result<()> {
    if st.armed {
        writeln!(out, "kexdump: ARMED: a panic now boots the capture kernel, which saves a dump")?;
    } else if colour {
        writeln!(out, "kexdump: \x1b[1;31mNOT ARMED\x1b[0m: a panic now saves no dump")?;
    } else {
        writeln!(out, "kexdump: NOT ARMED: a panic now saves no dump")?;
    }
    if let Some(e) = &st.armed_error {
        writeln!(out, "  error:          {e}")?;
    }
    let r = &st.reservation;
    match (r.bytes, &r.error) {
        (Some(n), None) => {
            let at: Vec<String> = r.ranges.iter().map(|[a, b]| format!("{a:#x}-{b:#x}")).collect();
            let at = if at.is_empty() { String::new() } else { format!(" at {}", at.join(", ")) };
            writeln!(out, "  reservation:    {}{at}", mib(n))?;
        }
        (_, Some(e)) => writeln!(out, "  reservation:    {e}")?,
        (None, None) => writeln!(out, "  reservation:    unknown")?,
    }
    if let Some(k) = &st.capture_kernel {
        let a = &k.armed;
        let stale = if k.stale { " (STALE: not loaded now; the record is from before)" } else { "" };
        writeln!(out, "  capture kernel: {}, armed {} with {}{stale}", a.kernel.display(), a.time, a.method)?;
        writeln!(out, "  initramfs:      {} ({})", a.initrd.display(), mib(a.initrd_bytes))?;
        writeln!(out, "  command line:   {}", a.cmdline)?;
    } else if st.armed {
        writeln!(out, "  capture kernel: loaded, but not by `kexdump arm` (no {})", ARMED_RECORD)?;
    }
    match st.crash_hotplug {
        Some(true) => {
            writeln!(out, "  hotplug:        the kernel updates the capture kernel itself (crash_hotplug=1)")?
        }
        Some(false) => writeln!(out, "  hotplug:        re-armed by the udev rule on CPU or memory changes")?,
        None => {}
    }
    if let Some(e) = &st.config_error {
        writeln!(out, "  configuration:  {e}")?;
    }
    let t = &st.target;
    if let Some(r) = &t.remote {
        write!(out, "  target:         {} (remote)", r.url)?;
        match (&r.error, t.free_bytes) {
            (Some(e), _) => write!(out, ": free space unknown: {e}")?,
            (None, Some(f)) => write!(out, ": {} free on the server", mib(f))?,
            (None, None) => {}
        }
        writeln!(out)?;
    }
    match (&t.dir, &t.error) {
        (_, Some(e)) => writeln!(out, "  target:         {e}")?,
        (Some(dir), None) => {
            let spec = t.spec.as_deref().filter(|s| Path::new(s) != dir.as_path());
            let spec = spec.map(|s| format!(" ({s})")).unwrap_or_default();
            let free = t.free_bytes.map_or("free space unknown".to_owned(), |f| format!("{} free", mib(f)));
            write!(out, "  target:         {}{spec}: {free}", dir.display())?;
            if let (Some(need), Some(level)) = (t.dump_upper_bound_bytes, t.level) {
                write!(out, "; a level {level} dump keeps at most {} now, before compression", mib(need))?;
            }
            writeln!(out)?;
        }
        (None, None) => {}
    }
    if let Some(e) = &st.dumps_error {
        writeln!(out, "  dumps:          {e}")?;
    } else if st.dumps.is_empty() {
        writeln!(out, "  dumps:          none yet")?;
    } else {
        writeln!(out, "  last dumps:")?;
        for d in &st.dumps {
            let size = d.dump_bytes.map_or("-".to_owned(), mib);
            let msg = d.panic_message.as_deref().unwrap_or("");
            writeln!(out, "    {:<28} {:<10} {:>11}  {msg}", d.dir, d.status.as_str(), size)?;
        }
    }
    if let Some(e) = &st.test_error {
        writeln!(out, "  self-test:      {e}")?;
    }
    if let Some(test) = &st.test {
        let id = &test.record.id;
        let when = &test.record.requested;
        match &test.outcome {
            Outcome::Pending => {
                writeln!(out, "  self-test:      {id} (started {when}): PENDING, the crash has not happened yet")?
            }
            Outcome::Passed { dir } => {
                writeln!(out, "  self-test:      {id} (started {when}): PASSED, dump saved in {dir}")?
            }
            Outcome::Failed { dir, status } => writeln!(
                out,
                "  self-test:      {id} (started {when}): FAILED, the dump in {dir} is {}",
                status.as_str()
            )?,
            Outcome::Missing => writeln!(
                out,
                "  self-test:      {id} (started {when}): FAILED, the machine rebooted but no dump arrived"
            )?,
        }
    }
    for a in &st.advice {
        writeln!(out, "  to do:          {a}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_armed_is_red_only_when_asked() {
        let root = tempfile::tempdir().unwrap();
        let st = status::gather(root.path(), None, &|_| None);
        assert!(!st.armed);
        let text = |colour| {
            let mut out = Vec::new();
            write_text(&st, colour, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert!(text(true).starts_with("kexdump: \x1b[1;31mNOT ARMED\x1b[0m: a panic now saves no dump\n"));
        assert!(text(false).starts_with("kexdump: NOT ARMED: a panic now saves no dump\n"));
        assert_eq!(text(true).matches('\x1b').count(), 2, "only the verdict is coloured");
    }
}
