//! `kexdump-capture`: the static binary of the capture initramfs.
//!
//! As PID 1 (the initramfs's `/init`) it does the whole capture as
//! /etc/kexdump-capture.conf says and reboots (`pid1`);
//! arguments are ignored then, since the kernel passes unknown command-line
//! words to init. Run any other way it streams one vmcore into a dump:
//!
//!   kexdump-capture [--level N] [--compress zstd|zlib|snappy|none]
//!                   [--format kdump|elf] [VMCORE] OUT
//!
//! VMCORE defaults to /proc/vmcore. OUT appears only when complete (written
//! as OUT.incomplete, fsynced, renamed). No clap: the binary stays small.
//!
//! Test hook, not for operators: `kexdump-capture --net-selftest [--timeout
//! SECS] MAC dhcp|ADDR/PREFIX [GATEWAY]` runs PID 1's network bring-up
//! (`pid1::net::bring_up`) in the current network namespace and prints what
//! it configured; tests/net/netns-test.sh runs it inside a namespace.

mod pid1;

use kexdump_engine::compress::Compression;
use kexdump_engine::output::AtomicFile;
use kexdump_engine::sink::FileSink;
use kexdump_engine::{save, Format, SaveOptions, Vmcore};
use pid1::console::ConsoleProgress;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str =
    "usage: kexdump-capture [--level N] [--compress zstd|zlib|snappy|none] [--format kdump|elf] [VMCORE] OUT";

struct Args {
    opts: SaveOptions,
    vmcore: PathBuf,
    out: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut opts = SaveOptions {
        level: 31,
        format: Format::Kdump,
        compression: Compression::Zstd { level: 1 },
        threads: kexdump_engine::save::online_cpus(),
    };
    let mut paths = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        match a.as_str() {
            "--level" | "-d" => {
                let v = value("--level")?;
                opts.level = v.parse().ok().filter(|l| *l <= 31).ok_or(format!("bad dump level {v:?} (0-31)"))?;
            }
            "--compress" | "-c" => opts.compression = value("--compress")?.parse()?,
            "--format" | "-f" => opts.format = value("--format")?.parse()?,
            "--help" | "-h" => return Err(USAGE.into()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}\n{USAGE}")),
            _ => paths.push(PathBuf::from(a)),
        }
    }
    let (vmcore, out) = match paths.len() {
        1 => (PathBuf::from("/proc/vmcore"), paths.remove(0)),
        2 => (paths.remove(0), paths.remove(0)),
        _ => return Err(USAGE.into()),
    };
    Ok(Args { opts, vmcore, out })
}

fn run(a: Args) -> Result<(), String> {
    let started = Instant::now();
    let vm = Vmcore::open(&a.vmcore).map_err(|e| format!("{}: {e}", a.vmcore.display()))?;
    let out = AtomicFile::create(&a.out).map_err(|e| e.to_string())?;
    let file = out.file.try_clone().map_err(|e| e.to_string())?;
    let mut sink = FileSink::new(file);
    let mut progress = ConsoleProgress::new();
    let report = save(&vm, &mut sink, &a.opts, &mut progress, &mut |m| eprintln!("kexdump-capture: WARNING: {m}"))
        .map_err(|e| format!("writing {} (left as {}): {e}", a.out.display(), out.tmp_path().display()))?;
    let path = out.commit().map_err(|e| format!("committing {}: {e}", a.out.display()))?;
    let s = report.stats;
    eprintln!(
        "kexdump-capture: saved {} (level {}, {} pages, {:.1} MB) in {:.1} s",
        path.display(),
        report.level,
        s.pages_written,
        s.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let _ = std::io::stderr().flush();
    Ok(())
}

/// The `--net-selftest` test hook (see the module comment): the arguments
/// after it.
fn net_selftest(args: &[String]) -> Result<(), String> {
    use kexdump_engine::net_config::{parse_gateway, parse_mac, NetConfig};
    const NET_USAGE: &str = "usage: kexdump-capture --net-selftest [--timeout SECS] MAC dhcp|ADDR/PREFIX [GATEWAY]";
    let (timeout, args) = match args {
        [flag, secs, rest @ ..] if flag == "--timeout" => {
            (secs.parse::<f64>().ok().filter(|s| *s > 0.0).ok_or(format!("bad timeout {secs:?}"))?, rest)
        }
        _ => (30.0, args),
    };
    let cfg = match args {
        [mac, address] | [mac, address, _] => NetConfig {
            mac: parse_mac(mac)?,
            address: address.parse()?,
            gateway: parse_gateway(args.get(2).map_or("", |g| g.as_str()))?,
            mtu: None,
        },
        _ => return Err(NET_USAGE.into()),
    };
    let up = pid1::net::bring_up(&cfg, std::time::Duration::from_secs_f64(timeout), &mut |line| {
        eprintln!("kexdump-capture: {line}")
    })?;
    let gateway = up.gateway.map_or("none".to_owned(), |g| g.to_string());
    println!("ifname={} addr={}/{} gateway={gateway} dhcp={}", up.ifname, up.addr, up.prefix, up.dhcp);
    Ok(())
}

fn main() -> ExitCode {
    if pid1::sys::is_pid1() {
        pid1::run();
    }
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("--net-selftest") => net_selftest(&args[2..]),
        _ => parse_args().and_then(run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kexdump-capture: {e}");
            ExitCode::FAILURE
        }
    }
}
