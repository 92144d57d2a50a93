//! What the kernel log says about the crash: the panic message, the
//! `CPU: N PID: P` line the panic printed, and the time of the last record.
//! Shared by the capture record (`kexdump.json`) and `kexdump inspect`.
//!
//! The formats met (Debian's kernels, 2026-12; lib/dump_stack.c):
//! - 5.10 to 6.11: `CPU: 1 PID: 1 Comm: init Kdump: loaded Not tainted ...`;
//! - 6.12 and 7.x: `CPU: 1 UID: 0 PID: 1 Comm: init ...`;
//! - a caller-id column after the time stamp, in the log as current
//!   makedumpfile (and `kexdump dmesg`) writes it, 8 wide: `[   22.2]
//!   [      T1] text`, and on a console with `CONFIG_PRINTK_CALLER`, 6 wide:
//!   `[   22.2] [    T1] text`; `T` a task id, `C` a CPU (`[  C1]`).

/// `[ T123]` / `[  C1]`: a caller-id column, with its brackets.
fn is_caller_id(col: &str) -> bool {
    let Some(inner) = col.strip_prefix('[').and_then(|c| c.strip_suffix(']')) else { return false };
    let id = inner.trim_start_matches(' ');
    matches!(id.as_bytes().first(), Some(b'T' | b'C')) && id.len() > 1 && id[1..].bytes().all(|b| b.is_ascii_digit())
}

/// The message part of a log line: `[  1.23] text` → `text`, and
/// `[  1.23] [    T1] text` → `text`.
fn message(line: &str) -> &str {
    let msg = match line.strip_prefix('[') {
        Some(r) => r.split_once("] ").map_or(line, |(_, m)| m),
        None => line,
    };
    match msg.split_once("] ") {
        Some((col, rest)) if is_caller_id(&format!("{col}]")) => rest,
        _ => msg,
    }
}

const PANIC: &str = "Kernel panic - not syncing: ";

/// The panic line's message from the log text (`[  1.23] Kernel panic -
/// not syncing: sysrq triggered crash` → `sysrq triggered crash`); failing
/// that, the first oops-like line, which says more than nothing.
pub fn panic_message(log: &str) -> Option<String> {
    if let Some(l) = log.lines().rev().find(|l| l.contains(PANIC)) {
        return l.split_once(PANIC).map(|(_, m)| m.trim_end().to_owned());
    }
    const OOPS: [&str; 4] = ["BUG: ", "Oops: ", "general protection fault", "kernel BUG at"];
    log.lines().find(|l| OOPS.iter().any(|p| l.contains(p))).map(|l| message(l).to_owned())
}

/// `(cpu, pid)` of the `CPU: N PID: P Comm: ...` line that `dump_stack()`
/// printed for the panic: the first such line after the last panic line,
/// else the last one in the log (an oops prints it before panicking).
pub fn panic_cpu_pid(log: &str) -> Option<(u32, i32)> {
    let lines: Vec<&str> = log.lines().collect();
    let panic_at = lines.iter().rposition(|l| l.contains(PANIC));
    let after = panic_at.and_then(|p| lines[p..].iter().find_map(|l| cpu_pid(message(l))));
    after.or_else(|| lines.iter().rev().find_map(|l| cpu_pid(message(l))))
}

/// `CPU: N [UID: U] PID: P Comm: ...` → (N, P). The words between the CPU
/// and `PID:` may change between releases (6.12 added `UID:`); `PID:` is
/// looked for before `Comm:`.
fn cpu_pid(msg: &str) -> Option<(u32, i32)> {
    let rest = msg.strip_prefix("CPU: ")?;
    let mut words = rest.split_whitespace();
    let cpu = words.next()?.parse().ok()?;
    let mut words = words.take_while(|w| *w != "Comm:");
    words.find(|w| *w == "PID:")?;
    let pid = words.next()?.parse().ok()?;
    Some((cpu, pid))
}

/// Seconds since boot of the last timestamped record (`[   22.211956]`).
pub fn last_timestamp(log: &str) -> Option<f64> {
    log.lines().rev().find_map(|l| l.strip_prefix('[')?.split_once(']')?.0.trim().parse().ok())
}

/// The last `n` lines of the log.
pub fn tail(log: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].iter().map(|l| l.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "[    1.000000] hello\n[    5.0] CPU: 0 PID: 77 Comm: old Not tainted\n\
        [   22.208870] sysrq: Trigger a crash\n\
        [   22.209790] Kernel panic - not syncing: sysrq triggered crash\n\
        [   22.210634] CPU: 1 PID: 1 Comm: init Kdump: loaded Not tainted 6.1.0-56-amd64 #1  Debian 6.1.192-2\n\
        [   22.211956]  </TASK>\n";

    #[test]
    fn panic_messages() {
        assert_eq!(panic_message(LOG).as_deref(), Some("sysrq triggered crash"));
        let oops = "[ 5.0] x\n[ 6.0] BUG: kernel NULL pointer dereference, address: 0000000000000000\n";
        assert_eq!(
            panic_message(oops).as_deref(),
            Some("BUG: kernel NULL pointer dereference, address: 0000000000000000")
        );
        assert_eq!(panic_message("[ 1.0] all fine\n"), None);
    }

    /// The panic's lines as each kernel generation logs them, with and
    /// without the caller-id column (8 wide from makedumpfile 1.7.5+ and
    /// kexdump dmesg, 6 wide from a CONFIG_PRINTK_CALLER console).
    #[test]
    fn every_kernels_panic_lines() {
        let cases = [
            // 5.10 (Debian 5.10.0-46), makedumpfile 1.7.2
            (
                "[   77.926109] ",
                "CPU: 0 PID: 1 Comm: init Kdump: loaded Not tainted 5.10.0-46-amd64 #1 Debian 5.10.262-1",
                (0, 1),
            ),
            // 6.1
            (
                "[   47.056388] [      T1] ",
                "CPU: 1 PID: 1 Comm: init Kdump: loaded Not tainted 6.1.0-56-amd64 #1  Debian 6.1.192-2",
                (1, 1),
            ),
            // 6.12
            (
                "[   69.719296] [      T1] ",
                "CPU: 0 UID: 0 PID: 1 Comm: init Kdump: loaded Not tainted 6.12.118+deb13-amd64 #1",
                (0, 1),
            ),
            // 7.3 on a console with CONFIG_PRINTK_CALLER
            (
                "[   36.640651] [    T1] ",
                "CPU: 3 UID: 0 PID: 1 Comm: init Kdump: loaded Not tainted 7.3.4+deb13-amd64 #1 PREEMPT(lazy)",
                (3, 1),
            ),
            ("[   36.640651] [  C1] ", "CPU: 1 UID: 1000 PID: 4242 Comm: a PID: 7", (1, 4242)),
            ("", "CPU: 2 UID: 0 PID: 17 Comm: kworker/2:1", (2, 17)),
        ];
        for (prefix, line, want) in cases {
            let log = format!(
                "{prefix}sysrq: Trigger a crash\n{prefix}Kernel panic - not syncing: sysrq triggered crash\n{prefix}{line}\n"
            );
            assert_eq!(panic_cpu_pid(&log), Some(want), "{log}");
            assert_eq!(panic_message(&log).as_deref(), Some("sysrq triggered crash"));
        }
        // PID: after Comm: is the task's name, not its pid
        assert_eq!(cpu_pid("CPU: 1 UID: 0 Comm: PID: 5"), None);
        assert_eq!(cpu_pid("CPU: 1 UID: 0 PID: x Comm: y"), None);
        // an oops line behind a caller id loses both columns
        let oops = "[    6.000000] [    T77] BUG: unable to handle page fault for address: 0\n";
        assert_eq!(panic_message(oops).as_deref(), Some("BUG: unable to handle page fault for address: 0"));
        // a message that merely starts with brackets keeps them
        assert_eq!(message("[ 1.0] [x] y"), "[x] y");
        assert_eq!(message("[ 1.0] [  T] y"), "[  T] y");
        assert_eq!(message("[ 1.0] [ C12] y"), "y");
    }

    #[test]
    fn cpu_pid_and_times() {
        assert_eq!(panic_cpu_pid(LOG), Some((1, 1)));
        assert_eq!(panic_cpu_pid("[ 5.0] CPU: 3 PID: 9 Comm: x\n[ 6.0] later\n"), Some((3, 9)));
        assert_eq!(panic_cpu_pid("[ 5.0] CPU: x PID: 9\n"), None);
        assert_eq!(last_timestamp(LOG), Some(22.211956));
        assert_eq!(last_timestamp("no stamps\n"), None);
        assert_eq!(tail(LOG, 2).len(), 2);
        assert_eq!(tail(LOG, 100).len(), 6);
        assert_eq!(tail("", 3), Vec::<String>::new());
    }
}
