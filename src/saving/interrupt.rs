//! Ctrl-C (SIGINT), SIGTERM or SIGHUP while `save` or `convert` writes: the
//! `*.incomplete` file is removed before exiting (128 + the signal's
//! number), so an interrupted run leaves nothing that blocks the next one
//! or could be mistaken for a dump. A run killed outright (SIGKILL, a power
//! cut) cannot clean up; the next one names the file it left.
//!
//! signal-hook's handler only writes to a pipe; one thread reads it and does
//! the cleanup as ordinary code, whichever thread the signal landed on.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

/// The file to remove if a signal comes now.
static PENDING: Mutex<Option<PathBuf>> = Mutex::new(None);

/// While it lives, a terminating signal removes the registered file.
pub struct Guard(());

impl Drop for Guard {
    fn drop(&mut self) {
        *PENDING.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// From now until the guard drops, SIGINT, SIGTERM or SIGHUP removes `tmp`
/// and exits.
pub fn remove_on_signal(tmp: &Path) -> Guard {
    static WAITER: Once = Once::new();
    WAITER.call_once(|| {
        // Without the handler the default action (exit, file left) stays:
        // the next run then names the file.
        if let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            std::thread::spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    cleanup_and_exit(sig);
                }
            });
        }
    });
    *PENDING.lock().unwrap_or_else(|p| p.into_inner()) = Some(tmp.to_owned());
    Guard(())
}

fn cleanup_and_exit(sig: i32) -> ! {
    let name = match sig {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "SIGHUP",
    };
    if let Some(tmp) = PENDING.lock().unwrap_or_else(|p| p.into_inner()).take() {
        match fs::remove_file(&tmp) {
            Ok(()) => eprintln!("\nkexdump: interrupted ({name}): removed {}", tmp.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => eprintln!("\nkexdump: interrupted ({name})"),
            Err(e) => eprintln!("\nkexdump: interrupted ({name}): could not remove {}: {e}", tmp.display()),
        }
    } else {
        eprintln!("\nkexdump: interrupted ({name})");
    }
    std::process::exit(128 + sig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const CHILD_ENV: &str = "KEXDUMP_INTERRUPT_TEST_FILE";

    /// Run in a child process by the test below: register the file, then
    /// signal itself, as Ctrl-C does.
    #[test]
    #[ignore = "the child half of an_interrupted_write_removes_its_file"]
    fn interrupt_child() {
        let Some(f) = std::env::var_os(CHILD_ENV) else { return };
        let _g = remove_on_signal(Path::new(&f));
        // As Ctrl-C does: to the process, not to this thread.
        nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGINT).unwrap();
        std::thread::sleep(std::time::Duration::from_secs(30));
        unreachable!("SIGINT did not end the process");
    }

    #[test]
    fn an_interrupted_write_removes_its_file() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("vmcore.incomplete");
        fs::write(&f, b"partial").unwrap();
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "saving::interrupt::tests::interrupt_child", "--ignored", "--nocapture"])
            .env(CHILD_ENV, &f)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{stderr}");
        assert!(stderr.contains(&format!("interrupted (SIGINT): removed {}", f.display())), "{stderr}");
        assert!(!f.exists());
    }
}
