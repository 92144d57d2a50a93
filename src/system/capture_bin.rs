//! The static capture binary, `/init` of every capture initramfs: where
//! it is installed.

use anyhow::{bail, Result};
use std::path::PathBuf;

/// Where a packaged capture binary lives when it is not next to kexdump.
const PACKAGED_CAPTURE_BIN: &str = "/usr/lib/kexdump/kexdump-capture";

/// `kexdump-capture` next to the running kexdump (a build tree, or an
/// install putting both in one directory), then the packaged location.
pub fn find() -> Result<PathBuf> {
    let mut looked = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            looked.push(dir.join("kexdump-capture"));
        }
    }
    looked.push(PathBuf::from(PACKAGED_CAPTURE_BIN));
    if let Some(p) = looked.iter().find(|p| p.is_file()) {
        return Ok(p.clone());
    }
    let list: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
    bail!(
        "no capture binary: looked for {}. It is installed with kexdump as {PACKAGED_CAPTURE_BIN}: \
         reinstall kexdump, or pass --capture-bin FILE (in a source tree, scripts/build-capture.sh builds it)",
        list.join(" and ")
    )
}
