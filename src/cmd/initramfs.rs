//! `kexdump initramfs`: build the capture initramfs from command-line
//! choices (kexdump_initramfs::image does the work) and print its report.

use crate::cli::{BusArg, CaptureAction, CaptureFormat, InitramfsArgs};
use crate::system::{capture_bin, identity};
use anyhow::{anyhow, bail, Context, Result};
use kexdump_engine::capture_config::{Action, CaptureConfig, Fallback, Target, NFS_VERSIONS};
use kexdump_engine::net_config::{self, NetConfig};
use kexdump_engine::Format;
use kexdump_initramfs::image::{self, Bus, Compression, Report, Spec, SIZE_WARNING_BYTES};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn run(a: InitramfsArgs) -> Result<ExitCode> {
    let capture_bin = match &a.capture_bin {
        Some(p) => p.clone(),
        None => capture_bin::find()?,
    };
    let modules_dir = match &a.modules_dir {
        Some(d) => d.clone(),
        None => default_modules_dir(Path::new("/"))?,
    };

    let mut config = CaptureConfig::new(a.target.clone());
    config.fstype = a.fstype.clone();
    config.path = a.path.clone();
    config.level = a.level;
    config.format = match a.format {
        CaptureFormat::Kdump => Format::Kdump,
        CaptureFormat::Elf => Format::Elf,
    };
    config.compression = a.compress.compression(a.compress_level)?;
    config.wait_seconds = a.wait_seconds;
    config.failure_action = action(a.failure_action);
    config.final_action = action(a.final_action);
    config.keep = a.keep;
    config.min_free_bytes = a.min_free;
    let ssh_identity = remote_settings(&a, &mut config)?;

    let mut notes = Vec::new();
    let mut roots: Vec<String> = Vec::new();
    let mut add = |m: &str| {
        if !roots.iter().any(|r| r == m) {
            roots.push(m.to_owned());
        }
    };
    a.drivers.iter().for_each(|m| add(m));
    for b in &a.bus {
        bus(*b).modules().iter().for_each(|m| add(m));
    }
    match &a.fstype {
        Some(fs) => image::fs_modules(fs).iter().for_each(|m| add(m)),
        None => notes.push(
            "no --fstype: no file-system module is included; the capture kernel must have it built in \
             (or name it with --module)"
                .to_string(),
        ),
    }
    a.modules.iter().for_each(|m| add(m));
    for d in &a.net_drivers {
        image::nic_modules(d).iter().for_each(|m| add(m));
    }
    match &config.target {
        Target::Nfs(_) if config.nfs_version == "3" => add("nfsv3"),
        Target::Nfs(_) => add("nfsv4"),
        _ => {}
    }
    if config.target.is_remote() && a.net_drivers.is_empty() {
        notes.push("no --net-driver: the capture kernel must have the network card's driver built in".to_string());
    }
    if a.drivers.is_empty() && a.bus.is_empty() && (!config.target.is_remote() || config.fallback.is_some()) {
        notes.push("no --driver or --bus: the capture kernel must find the disk with built-in drivers".to_string());
    }

    let mut spec = Spec::new(capture_bin, config, modules_dir, a.output.clone());
    spec.roots = roots;
    spec.ssh_identity = ssh_identity;
    if a.no_compress {
        spec.compression = Compression::None;
    }
    let report = image::build(&spec).with_context(|| format!("building {}", a.output.display()))?;

    if report.compressed_bytes > SIZE_WARNING_BYTES {
        notes.push(format!(
            "the image is {}, over {}: the crashkernel= reservation holds it and, while it unpacks, its {} \
             copy; a stripped capture binary or fewer modules make it smaller",
            size(report.compressed_bytes),
            size(SIZE_WARNING_BYTES),
            size(report.uncompressed_bytes)
        ));
    }
    for (m, s) in &report.unresolved_softdeps {
        notes.push(format!("{m} asks for {s} (softdep), which no module provides: left out"));
    }
    // Written, not println!ed: a closed pipe is an error, not a panic.
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&json(&spec, &report, &notes))?)?;
    } else {
        print_human(&mut out, &spec, &report)?;
        for n in &notes {
            eprintln!("kexdump: WARNING: {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The network, ssh and fallback settings of a remote target, checked;
/// returns the ssh identity's bytes for the image.
fn remote_settings(a: &InitramfsArgs, c: &mut CaptureConfig) -> Result<Option<Vec<u8>>> {
    let given = a.net_mac.is_some() || a.net_address.is_some() || a.ssh_identity.is_some() || a.fallback.is_some();
    if !c.target.is_remote() {
        if given {
            bail!("--net-*, --ssh-* and --fallback are for remote targets (ssh://, nfs://), not {}", c.target);
        }
        return Ok(None);
    }
    let (Some(mac), Some(address)) = (&a.net_mac, &a.net_address) else {
        bail!("a remote target needs --net-mac and --net-address (dhcp or ADDRESS/PREFIX)");
    };
    c.net = Some(NetConfig {
        mac: net_config::parse_mac(mac).map_err(|e| anyhow!("--net-mac: {e}"))?,
        address: address.parse().map_err(|e| anyhow!("--net-address: {e}"))?,
        gateway: net_config::parse_gateway(a.net_gateway.as_deref().unwrap_or(""))
            .map_err(|e| anyhow!("--net-gateway: {e}"))?,
        mtu: net_config::parse_mtu(a.net_mtu.as_deref().unwrap_or("")).map_err(|e| anyhow!("--net-mtu: {e}"))?,
    });
    if !NFS_VERSIONS.contains(&a.nfs_version.as_str()) {
        bail!("--nfs-version {}: expected one of {}", a.nfs_version, NFS_VERSIONS.join(", "));
    }
    c.nfs_version = a.nfs_version.clone();
    if let Some(fb) = &a.fallback {
        if fb.is_remote() {
            bail!("--fallback {fb}: the fallback must be a local file system (UUID=, LABEL= or /dev/...)");
        }
        c.fallback = Some(Fallback { target: fb.clone(), fstype: a.fstype.clone(), path: a.path.clone() });
    }
    if !matches!(c.target, Target::Ssh(_)) {
        return Ok(None);
    }
    let key_file =
        a.ssh_identity.as_ref().context("an ssh target needs --ssh-identity (kexdump propagate makes one)")?;
    let key = std::fs::read(key_file).with_context(|| format!("reading the ssh identity {}", key_file.display()))?;
    let host_key = a.ssh_host_key.as_ref().context("an ssh target needs --ssh-host-key TYPE BASE64")?;
    let parsed = kexdump_engine::remote::ssh::parse_host_key(host_key).map_err(|e| anyhow!("--ssh-host-key: {e}"))?;
    c.ssh_host_key = Some(kexdump_engine::remote::ssh::host_key_entry(&parsed));
    Ok(Some(key))
}

fn action(a: CaptureAction) -> Action {
    match a {
        CaptureAction::Reboot => Action::Reboot,
        CaptureAction::Poweroff => Action::Poweroff,
        CaptureAction::Halt => Action::Halt,
    }
}

fn bus(b: BusArg) -> Bus {
    match b {
        BusArg::Virtio => Bus::Virtio,
        BusArg::VirtioScsi => Bus::VirtioScsi,
        BusArg::Nvme => Bus::Nvme,
        BusArg::Ahci => Bus::Ahci,
    }
}

/// `<root>/lib/modules/<running kernel release>`.
fn default_modules_dir(root: &Path) -> Result<PathBuf> {
    Ok(root.join("lib/modules").join(identity::running_release(root)?))
}

/// Human-readable size: bytes below 1 KiB, else KiB or MiB.
fn size(b: u64) -> String {
    match b {
        0..1024 => format!("{b} B"),
        1024..1_048_576 => format!("{:.1} KiB", b as f64 / 1024.0),
        _ => format!("{:.2} MiB", b as f64 / 1_048_576.0),
    }
}

fn compression_text(c: Compression) -> String {
    match c {
        Compression::None => "uncompressed cpio".into(),
        Compression::Zstd { level, window_log } => format!("zstd level {level}, {} window", size(1 << window_log)),
    }
}

fn print_human(out: &mut impl Write, spec: &Spec, r: &Report) -> std::io::Result<()> {
    let modules_dir = &spec.modules_dir;
    writeln!(out, "kexdump: wrote {} ({})", r.output.display(), compression_text(spec.compression))?;
    writeln!(out, "  {:<24} {:>12}  {}", "/init", size(r.binary_bytes), spec.capture_bin.display())?;
    if r.modules.is_empty() {
        writeln!(out, "  (no modules)")?;
    }
    for m in &r.modules {
        let src = m.source.strip_prefix(modules_dir).unwrap_or(&m.source);
        writeln!(out, "  {:<24} {:>12}  {}", format!("{}.ko", m.name), size(m.bytes), src.display())?;
    }
    if !r.builtin.is_empty() {
        writeln!(out, "  built into the kernel, not needed: {}", r.builtin.join(" "))?;
    }
    writeln!(
        out,
        "  image {} ({} bytes), unpacked {} ({} bytes); {} modules, resolved in {:.3} s",
        size(r.compressed_bytes),
        r.compressed_bytes,
        size(r.uncompressed_bytes),
        r.uncompressed_bytes,
        r.modules.len(),
        r.closure_time.as_secs_f64()
    )?;
    writeln!(
        out,
        "  load order: {}",
        if r.config.modules.is_empty() { "-".into() } else { r.config.modules.join(" ") }
    )?;
    writeln!(
        out,
        "  target {} (fstype {})",
        r.config.target,
        r.config.fstype.as_deref().unwrap_or("from the superblock")
    )?;
    Ok(())
}

fn json(spec: &Spec, r: &Report, warnings: &[String]) -> serde_json::Value {
    let (compression, level, window_log) = match spec.compression {
        Compression::None => ("none", None, None),
        Compression::Zstd { level, window_log } => ("zstd", Some(level), Some(window_log)),
    };
    serde_json::json!({
        "output": r.output,
        "compression": compression,
        "zstd_level": level,
        "zstd_window_log": window_log,
        "compressed_bytes": r.compressed_bytes,
        "uncompressed_bytes": r.uncompressed_bytes,
        "capture_bin": { "path": spec.capture_bin, "bytes": r.binary_bytes },
        "modules_dir": spec.modules_dir,
        "modules": r.modules.iter().map(|m| serde_json::json!({
            "name": m.name,
            "source": m.source,
            "bytes": m.bytes,
        })).collect::<Vec<_>>(),
        "builtin": r.builtin,
        "unresolved_softdeps": r.unresolved_softdeps.iter().map(|(m, s)| serde_json::json!({
            "module": m,
            "softdep": s,
        })).collect::<Vec<_>>(),
        "config": r.config.to_text(),
        "closure_seconds": r.closure_time.as_secs_f64(),
        "warnings": warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_dir_comes_from_the_running_release() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("proc/sys/kernel")).unwrap();
        std::fs::write(d.path().join("proc/sys/kernel/osrelease"), "6.1.0-56-amd64\n").unwrap();
        assert_eq!(default_modules_dir(d.path()).unwrap(), d.path().join("lib/modules/6.1.0-56-amd64"));
        std::fs::write(d.path().join("proc/sys/kernel/osrelease"), "../x\n").unwrap();
        assert!(default_modules_dir(d.path()).is_err());
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(4 << 20), "4.00 MiB");
    }
}
