//! What the kernel log says about the crash: the panic message, the
//! `CPU: N PID: P` line the panic printed, and the time of the last record.
//! Shared by the capture record (`kexdump.json`) and `kexdump inspect`.

/// The message part of a log line: `[  1.23] text` → `text`.
fn message(line: &str) -> &str {
    match line.strip_prefix('[') {
        Some(r) => r.split_once("] ").map_or(line, |(_, m)| m),
        None => line,
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

fn cpu_pid(msg: &str) -> Option<(u32, i32)> {
    let rest = msg.strip_prefix("CPU: ")?;
    let mut words = rest.split_whitespace();
    let cpu = words.next()?.parse().ok()?;
    (words.next()? == "PID:").then_some(())?;
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
