//! Telling the operator what the capture is doing: each step goes to
//! `/dev/kmsg` (so it is in the capture kernel's log, with the kernel's
//! timestamp, for netconsole or a serial log) and to the console. When the
//! kernel already echoes kmsg to the console (console_loglevel above the
//! level we log at), writing it there ourselves would print every line
//! twice, so we don't. Progress lines go to the console only: they would
//! flood the log.

use crate::writer::Progress;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::time::Instant;

pub const PREFIX: &str = "kexdump-capture";
/// Log levels of <syslog.h>.
const NOTICE: u8 = 5;
const WARNING: u8 = 4;
const ERR: u8 = 3;

pub struct Console {
    kmsg: Option<File>,
    /// The console log level in effect (first field of
    /// /proc/sys/kernel/printk); messages below it reach the console.
    console_loglevel: u8,
}

impl Console {
    /// Before /proc and /dev are mounted this writes to stderr only; call
    /// [`Console::attach`] once they are.
    pub fn new() -> Console {
        Console { kmsg: None, console_loglevel: 0 }
    }

    pub fn attach(&mut self) {
        // Writes to /dev/kmsg are rate-limited by default (10 per 5 s) and
        // a capture says more than that in a few seconds; the excess would
        // be dropped silently, the final "reboot" line among it.
        let _ = std::fs::write("/proc/sys/kernel/printk_devkmsg", "on\n");
        self.kmsg = OpenOptions::new().write(true).open("/dev/kmsg").ok();
        self.console_loglevel = std::fs::read_to_string("/proc/sys/kernel/printk")
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
            .unwrap_or(0);
    }

    fn emit(&mut self, level: u8, tag: &str, msg: &str) {
        let mut echoed = false;
        if let Some(k) = &mut self.kmsg {
            // One write per record; kmsg splits nothing for us.
            for line in msg.lines() {
                let _ = k.write_all(format!("<{level}>{PREFIX}: {tag}{line}\n").as_bytes());
            }
            echoed = level < self.console_loglevel;
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
