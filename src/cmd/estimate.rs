//! `kexdump estimate`: the crashkernel= reservation this machine needs,
//! from its parts: the capture kernel's memory once loaded (the bzImage's
//! `init_size`), the capture initramfs `kexdump arm` would load (built
//! here in a temporary directory, so its sizes are exact) and the room the
//! capture kernel needs to unpack it and run (arming's model, fitted to the
//! measurements in docs/capture.md). Shown beside the current reservation,
//! with the size a dump would take against the target's free space.

use crate::arming::capture_image;
use crate::arming::error::ArmError;
use crate::arming::kernel_state::{self, CRASH_SIZE};
use crate::arming::sizes::{self, mib, RUNTIME_FIXED, RUNTIME_PER_EXTRA_CPU, RUNTIME_PER_INITRD_BYTE};
use crate::cli::EstimateArgs;
use crate::config::Config;
use crate::exit;
use crate::system::capture_bin;
use crate::system::meminfo::{self, MemInfo};
use anyhow::Result;
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;

#[derive(Serialize)]
struct Estimate {
    schema: &'static str,
    kernel: String,
    kernel_file_bytes: u64,
    /// What the kernel occupies once loaded (boot header init_size).
    kernel_load_bytes: u64,
    initramfs_bytes: u64,
    initramfs_unpacked_bytes: u64,
    initramfs_modules: usize,
    /// The capture kernel's CPUs (`[kernel] cpus`).
    cpus: u32,
    runtime_bytes: u64,
    needed_bytes: u64,
    /// `crashkernel=<N>M`: the need rounded up to 16 MiB.
    suggested: String,
    /// The current reservation (0: none; null: no kexec support).
    current_bytes: Option<u64>,
    enough: bool,
    dump_level: u8,
    /// See meminfo::dump_upper_bound.
    dump_upper_bound_bytes: Option<u64>,
}

pub fn run(a: EstimateArgs) -> Result<ExitCode> {
    let root = Path::new("/");
    let config = Config::load(root, a.config.as_deref())?;
    let bin = match &a.capture_bin {
        Some(p) => p.clone(),
        None => capture_bin::find()?,
    };
    let sources = capture_image::sources(root, &config, a.kernel.as_deref(), a.modules_dir.as_deref(), bin)?;
    let report = capture_image::measure(&sources)?;
    // No reservation reads 0; no kexec support leaves it unknown.
    let current = match kernel_state::crash_size(root) {
        Ok(n) => Some(n),
        Err(ArmError::NoReservation { .. }) => Some(0),
        Err(_) => None,
    };
    let cpus = config.kernel.cpus();
    let (sizes, _) =
        sizes::sizes(current.unwrap_or(0), &sources.kernel, &sources.image, report.compressed_bytes, cpus)?;
    let needed = sizes.needed_to_load() + sizes.runtime_headroom();
    let enough = current.is_some_and(|c| c >= needed);
    let est = Estimate {
        schema: "kexdump.estimate/1",
        kernel: sizes.kernel.display().to_string(),
        kernel_file_bytes: sizes.kernel_file,
        kernel_load_bytes: sizes.kernel_load,
        initramfs_bytes: report.compressed_bytes,
        initramfs_unpacked_bytes: report.uncompressed_bytes,
        initramfs_modules: report.modules.len(),
        cpus,
        runtime_bytes: sizes.runtime_headroom(),
        needed_bytes: needed,
        suggested: sizes.suggested_crashkernel(),
        current_bytes: current,
        enough,
        dump_level: config.dump.level_bits(),
        dump_upper_bound_bytes: MemInfo::read(root)
            .ok()
            .map(|m| meminfo::dump_upper_bound(&m, config.dump.level_bits())),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&est)?);
    } else {
        print_text(&est);
    }
    Ok(exit::code(if enough { exit::OK } else { exit::NOT_ARMED }))
}

fn print_text(e: &Estimate) {
    println!("kexdump estimate: {} (the capture kernel needs {})", e.suggested, mib(e.needed_bytes));
    println!(
        "  kernel:      {}: {} file, {} once loaded (its boot header's init_size)",
        e.kernel,
        mib(e.kernel_file_bytes),
        mib(e.kernel_load_bytes)
    );
    println!(
        "  initramfs:   {} compressed, {} unpacked, {} modules (built now as `kexdump arm` would)",
        mib(e.initramfs_bytes),
        mib(e.initramfs_unpacked_bytes),
        e.initramfs_modules
    );
    println!(
        "  runtime:     {} ({} + {} x the compressed initramfs{}, fitted to measured captures)",
        mib(e.runtime_bytes),
        mib(RUNTIME_FIXED),
        RUNTIME_PER_INITRD_BYTE,
        if e.cpus > 1 {
            format!(" + {} for each of {} more CPUs (kernel.cpus = {})", mib(RUNTIME_PER_EXTRA_CPU), e.cpus - 1, e.cpus)
        } else {
            String::new()
        }
    );
    match e.current_bytes {
        None => println!("  current:     no kexec support in this kernel (/{} missing)", CRASH_SIZE),
        Some(0) => {
            println!("  current:     no reservation: `kexdump crashkernel set {}`, then reboot", short(&e.suggested))
        }
        Some(c) if e.enough => println!("  current:     {}: enough, {} to spare", mib(c), mib(c - e.needed_bytes)),
        Some(c) => println!(
            "  current:     {}: TOO SMALL, {} short: `kexdump crashkernel set {}`, then reboot",
            mib(c),
            mib(e.needed_bytes - c),
            short(&e.suggested)
        ),
    }
    if let Some(d) = e.dump_upper_bound_bytes {
        println!(
            "  dump:        at level {} a dump keeps at most {} of memory now, before compression",
            e.dump_level,
            mib(d)
        );
    }
}

/// `crashkernel=96M` → `96M`.
fn short(suggested: &str) -> &str {
    suggested.strip_prefix("crashkernel=").unwrap_or(suggested)
}
