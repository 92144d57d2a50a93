//! Telling the operator what the capture is doing: each step goes to
//! `/dev/kmsg` (so it is in the capture kernel's log, with the kernel's
//! timestamp, for netconsole or a serial log) and to the console. When the
//! kernel already echoes kmsg to the console (console_loglevel above the
//! level we log at), writing it there ourselves would print every line
//! twice, so we don't. Progress lines go to the console only: they would
//! flood the log.

use kexdump_engine::writer::Progress;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::time::Instant;

pub const PREFIX: &str = "kexdump-capture";
/// Log levels of <syslog.h>.
const NOTICE: u8 = 5;
const WARNING: u8 = 4;
const ERR: u8 = 3;

/// Bytes of message per /dev/kmsg record (the kernel takes < 1024).
const KMSG_PIECE: usize = 900;

/// `s` cut into pieces of at most `max` bytes, on character boundaries.
fn chunks(s: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out.push(rest);
    out
}

pub struct Console {
    kmsg: Option<File>,
    /// Whether kmsg rate limiting is off: with it on (and the sysctl locked
    /// by `printk.devkmsg=` on the command line) records may be dropped
    /// silently, so we also write to the console ourselves.
    devkmsg_unlimited: bool,
    /// The console log level in effect (first field of
    /// /proc/sys/kernel/printk); messages below it reach the console.
    console_loglevel: u8,
}

impl Console {
    /// Before /proc and /dev are mounted this writes to stderr only; call
    /// [`Console::attach`] once they are.
    pub fn new() -> Console {
        Console { kmsg: None, devkmsg_unlimited: false, console_loglevel: 0 }
    }

    pub fn attach(&mut self) {
        // Writes to /dev/kmsg are rate-limited by default (10 per 5 s) and
        // a capture says more than that in a few seconds; the excess would
        // be dropped silently, the final "reboot" line among it.
        self.devkmsg_unlimited = std::fs::write("/proc/sys/kernel/printk_devkmsg", "on\n").is_ok();
        self.kmsg = OpenOptions::new().write(true).open("/dev/kmsg").ok();
        self.console_loglevel = std::fs::read_to_string("/proc/sys/kernel/printk")
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
            .unwrap_or(0);
    }

    fn emit(&mut self, level: u8, tag: &str, msg: &str) {
        let mut echoed = false;
        if let Some(k) = &mut self.kmsg {
            // One write per record, each under the kernel's limit (a longer
            // write fails with EINVAL). Only when every record went in may
            // we rely on the kernel to show it on the console.
            let mut all_written = true;
            for line in msg.lines() {
                for piece in chunks(line, KMSG_PIECE) {
                    all_written &= k.write_all(format!("<{level}>{PREFIX}: {tag}{piece}\n").as_bytes()).is_ok();
                }
            }
            echoed = all_written && self.devkmsg_unlimited && level < self.console_loglevel;
        }
        if !echoed {
            let mut e = std::io::stderr().lock();
            for line in msg.lines() {
                let _ = writeln!(e, "{PREFIX}: {tag}{line}");
            }
            let _ = e.flush();
        }
    }

    pub fn say(&mut self, msg: &str) {
        self.emit(NOTICE, "", msg)
    }
    pub fn warn(&mut self, msg: &str) {
        self.emit(WARNING, "WARNING: ", msg)
    }
    pub fn error(&mut self, msg: &str) {
        self.emit(ERR, "ERROR: ", msg)
    }
}

impl Default for Console {
    fn default() -> Self {
        Console::new()
    }
}

/// Dump progress on the console: a line every 10 %, readable on a serial
/// console, with the output rate.
pub struct ConsoleProgress {
    started: Instant,
    next_pct: u64,
}

impl ConsoleProgress {
    pub fn new() -> ConsoleProgress {
        ConsoleProgress { started: Instant::now(), next_pct: 0 }
    }
}

impl Default for ConsoleProgress {
    fn default() -> Self {
        ConsoleProgress::new()
    }
}

impl Progress for ConsoleProgress {
    fn update(&mut self, done: u64, total: u64, bytes: u64) {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        if pct >= self.next_pct {
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            eprintln!(
                "{PREFIX}: {pct:3}%  {:.1} MB written  {:.1} MB/s",
                bytes as f64 / 1e6,
                bytes as f64 / 1e6 / secs
            );
            self.next_pct = pct / 10 * 10 + 10;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_on_char_boundaries() {
        assert_eq!(chunks("abc", 900), ["abc"]);
        assert_eq!(chunks("", 900), [""]);
        let s = "é".repeat(1000); // 2000 bytes
        let parts = chunks(&s, 901);
        assert!(parts.iter().all(|p| p.len() <= 901 && !p.is_empty()));
        assert_eq!(parts.concat(), s);
    }
}
