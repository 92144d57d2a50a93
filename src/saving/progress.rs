//! A one-line progress indicator on stderr, shown only on a terminal.

use kexdump_engine::writer::Progress;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Terminal {
    enabled: bool,
    started: Instant,
    last: Option<Instant>,
}

impl Terminal {
    pub fn new(quiet: bool) -> Terminal {
        Terminal { enabled: !quiet && std::io::stderr().is_terminal(), started: Instant::now(), last: None }
    }

    pub fn done(&mut self) {
        if self.enabled && self.last.is_some() {
            eprintln!();
        }
    }
}

impl Progress for Terminal {
    fn update(&mut self, done: u64, total: u64, bytes: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self.last.is_some_and(|t| now - t < Duration::from_millis(200)) && done < total {
            return;
        }
        self.last = Some(now);
        let pct = if total == 0 { 100.0 } else { done as f64 * 100.0 / total as f64 };
        let secs = (now - self.started).as_secs_f64().max(1e-3);
        let mb = bytes as f64 / 1e6;
        eprint!("\r{pct:5.1}%  {mb:9.1} MB written  {:7.1} MB/s ", mb / secs);
        let _ = std::io::stderr().flush();
    }
}
