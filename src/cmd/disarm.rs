//! `kexdump disarm`: unload the capture kernel. The reservation stays set
//! aside until reboot.

use crate::arming::sequence;
use crate::arming::sizes::mib;
use crate::cli::DisarmArgs;
use anyhow::Result;
use std::path::Path;
use std::process::ExitCode;

pub fn run(a: DisarmArgs) -> Result<ExitCode> {
    let root = Path::new("/");
    let done = sequence::disarm(root, a.method.into(), &mut |m| eprintln!("kexdump: WARNING: {m}"))?;
    if a.json {
        let j = serde_json::json!({
            "armed": false,
            "method": done.loader.name(),
            "kernel": null,
            "initrd": null,
            "cmdline": null,
            "crash_size": done.crash_size,
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        println!(
            "kexdump: disarmed with {}: a panic no longer saves a dump; the {} reservation stays set aside until reboot",
            done.loader.name(),
            mib(done.crash_size)
        );
    }
    Ok(ExitCode::SUCCESS)
}
