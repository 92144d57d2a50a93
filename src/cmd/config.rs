//! `kexdump config`: check the configuration file and print the
//! configuration in effect (defaults filled in), as TOML or JSON.

use crate::cli::ConfigArgs;
use crate::config::{Config, TargetSpec};
use anyhow::Result;
use kexdump_engine::net_config;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn run(a: ConfigArgs) -> Result<ExitCode> {
    let config = Config::load(Path::new("/"), a.config.as_deref())?;
    // What the image builder will do with it: a directory target that
    // cannot be resolved on this machine is an error now, not then.
    let capture = config.capture_config()?;
    let disk_modules = config.disk_modules()?;

    // Written, not println!ed: a closed pipe is an error, not a panic.
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&config)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    // Comments, so that the output is itself a valid configuration file.
    match (config.file(), config.looked_for()) {
        (Some(f), _) => writeln!(out, "# {}: valid. The configuration in effect, defaults filled in:", f.display())?,
        (None, Some(f)) => writeln!(out, "# {} does not exist: the defaults are in effect:", f.display())?,
        (None, None) => writeln!(out, "# The defaults:")?,
    }
    if let TargetSpec::Directory(dir) = config.target_spec()? {
        writeln!(
            out,
            "# target {dir} is {}, directory {:?}, file system {}",
            capture.target,
            if capture.path.is_empty() { "/" } else { &capture.path },
            capture.fstype.as_deref().unwrap_or("detected at capture time"),
        )?;
    }
    if let Some(net) = &capture.net {
        writeln!(
            out,
            "# target {} is {}, reached with {}",
            config.target.target,
            capture.target,
            net_config::format_mac(&net.mac)
        )?;
    }
    if !capture.target.is_remote() || capture.fallback.is_some() {
        writeln!(out, "# disk driver modules: {}", disk_modules.join(", "))?;
    }
    writeln!(out)?;
    write!(out, "{}", toml::to_string_pretty(&config)?)?;
    Ok(ExitCode::SUCCESS)
}
