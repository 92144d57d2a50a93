//! `kexdump test --yes`: crash this machine on purpose to prove the whole
//! path. It arms the capture kernel again with a fresh test id on its
//! command line (`kexdump.test_id=`, which the capture kernel's PID 1
//! writes into the dump's kexdump.json), records the pending test in
//! `/var/lib/kexdump/test.json`, syncs the file systems and writes `c` to
//! `/proc/sysrq-trigger`. After the reboot `kexdump status` tells whether
//! the test's dump arrived.

use crate::arming::error::ArmError;
use crate::arming::loader::{require_root, Method};
use crate::arming::{report, sequence, ArmOptions};
use crate::cli::TestArgs;
use crate::selftest::{self, TestRecord};
use anyhow::{bail, Context, Result};
use kexdump_engine::capture_config::TEST_ID_OPTION;
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

const SYSRQ_TRIGGER: &str = "proc/sysrq-trigger";

pub fn run(a: TestArgs) -> Result<ExitCode> {
    if !a.yes {
        bail!(
            "`kexdump test` crashes this machine on purpose (a kernel panic through /proc/sysrq-trigger): \
             running programs are killed and unsaved data is lost. The capture kernel then saves a dump and \
             reboots; afterwards `kexdump status` says whether the test passed. Run `kexdump test --yes` \
             when that is what you want"
        );
    }
    let root = Path::new("/");
    require_root()?;
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let id = selftest::new_id(now, random_u32()?);
    let boot_id = std::fs::read_to_string(root.join(selftest::BOOT_ID))
        .with_context(|| format!("reading {}", root.join(selftest::BOOT_ID).display()))?;
    let options = ArmOptions {
        kernel: None,
        modules_dir: None,
        initrd: None,
        config: a.config.clone(),
        rebuild: false,
        capture_bin: a.capture_bin.clone(),
        cmdline_append: vec![format!("{TEST_ID_OPTION}={id}")],
        cmdline_remove: Vec::new(),
        cmdline: None,
        // The configuration's kernel.cpus, as `kexdump.service` arms.
        cpus: None,
        method: Method::Auto,
        dry_run: false,
    };
    let armed = sequence::arm(root, &options, true, &mut |m| eprintln!("kexdump: WARNING: {m}"))
        .context("arming for the self-test")?;
    report::print_text(&armed);
    let record = TestRecord {
        id: id.clone(),
        requested: kexdump_engine::capture_dir::time::iso8601(now),
        requested_unix: now,
        boot_id: boot_id.trim().to_owned(),
    };
    selftest::write(root, &record)?;
    println!("kexdump: self-test {id}: crashing this machine in {} s", a.delay);
    std::io::stdout().flush().ok();
    std::thread::sleep(Duration::from_secs(a.delay.into()));
    nix::unistd::sync();
    let trigger = root.join(SYSRQ_TRIGGER);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&trigger)
        .with_context(|| format!("opening {}", trigger.display()))?;
    f.write_all(b"c").with_context(|| format!("writing c to {}", trigger.display()))?;
    // Only reached when the kernel did not panic.
    bail!("wrote c to {} but the kernel did not crash", trigger.display())
}

/// 32 random bits from the kernel, for the test id.
fn random_u32() -> Result<u32, ArmError> {
    let path = Path::new("/dev/urandom");
    let mut b = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|source| ArmError::Read { path: path.to_path_buf(), source })?;
    Ok(u32::from_le_bytes(b))
}
