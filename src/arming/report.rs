//! What an arming did, told: as text for people (`kexdump arm`, and
//! `kexdump test` after its re-arm) or as one JSON object (`arm --json`).

use super::sequence::Outcome;
use super::sizes::mib;
use serde_json::Value;

/// The JSON object of `kexdump arm --json` (and `rearm --json`).
pub fn json(o: &Outcome) -> Value {
    let (prepared, plan) = (&o.prepared, &o.prepared.plan);
    let s = &plan.sizes;
    let image = prepared.image.as_ref().map(|i| {
        serde_json::json!({
            "path": i.path,
            "up_to_date": i.rebuild.is_empty(),
            "rebuilt": i.report.is_some(),
            "reasons": i.rebuild,
            "inputs_digest": i.digest,
        })
    });
    let mut j = serde_json::json!({
        "armed": o.armed,
        "dry_run": o.dry_run,
        "method": o.loader.name(),
        "kernel": s.kernel.display().to_string(),
        "initrd": s.initrd.display().to_string(),
        "cmdline": plan.cmdline,
        // The capture kernel's CPUs (its last nr_cpus=; null: none given,
        // every CPU) and this machine's online CPUs (null: unknown).
        "nr_cpus": plan.nr_cpus,
        "online_cpus": plan.online_cpus,
        "crash_size": s.crash_size,
        "initramfs": image,
        "record": o.record,
    });
    if o.rearm {
        j["disarmed_first"] = serde_json::json!(o.disarmed);
    }
    j
}

/// The text on stdout: the capture initramfs, what was (or would be)
/// loaded and how, the reservation and the command line.
pub fn print_text(o: &Outcome) {
    let (prepared, plan) = (&o.prepared, &o.prepared.plan);
    let s = &plan.sizes;
    if let Some(i) = &prepared.image {
        let p = i.path.display();
        match (&i.report, i.rebuild.is_empty()) {
            (_, true) => println!("kexdump: capture initramfs up to date: {p}"),
            (None, false) => println!("kexdump: would rebuild the capture initramfs {p}: {}", i.rebuild.join("; ")),
            (Some(r), false) => println!(
                "kexdump: rebuilt the capture initramfs {p} ({}, {} modules): {}",
                mib(r.compressed_bytes),
                r.modules.len(),
                i.rebuild.join("; ")
            ),
        }
    }
    if o.dry_run {
        println!(
            "kexdump: dry run, nothing {} (a capture kernel is {}armed now); would {}load with {}:",
            if prepared.image.is_some() { "built or loaded" } else { "loaded" },
            if o.armed { "" } else { "not " },
            if o.rearm && o.armed { "unload it, then " } else { "" },
            o.loader.name()
        );
    } else {
        if o.disarmed {
            println!("kexdump: disarmed the capture kernel loaded before");
        }
        println!("kexdump: armed with {}: a panic now boots the capture kernel, which saves the dump", o.loader.name());
    }
    println!("  kernel:      {} ({}, {} once loaded)", s.kernel.display(), mib(s.kernel_file), mib(s.kernel_load));
    let pending = prepared.image.as_ref().is_some_and(|i| i.report.is_none() && !i.rebuild.is_empty());
    match (pending, s.initrd.is_file()) {
        (false, _) => println!("  initrd:      {} ({})", s.initrd.display(), mib(s.initrd_size)),
        (true, true) => println!(
            "  initrd:      {} ({} before the rebuild; the reservation check counts that)",
            s.initrd.display(),
            mib(s.initrd_size)
        ),
        (true, false) => println!(
            "  initrd:      {} (not built yet: the reservation check counts the kernel only)",
            s.initrd.display()
        ),
    }
    println!("  reservation: {} ({} free after loading)", mib(s.crash_size), mib(s.spare()));
    let online = plan.online_cpus.map_or_else(|| "unknown".to_owned(), |n| n.to_string());
    match plan.nr_cpus {
        Some(n) => println!("  cpus:        nr_cpus={n} in the capture kernel ({online} online here)"),
        None => println!("  cpus:        no nr_cpus=: the capture kernel brings up every CPU ({online} online here)"),
    }
    println!("  cmdline:     {}", plan.cmdline);
    if o.dry_run {
        for d in &plan.dropped {
            println!("  dropped:     {}  ({})", d.option, d.why);
        }
    }
    if let Some(p) = &o.record {
        println!("  recorded in: {}", p.display());
    }
}
