//! Which kernel runs and as whom this process runs: the two facts about
//! the running system kexdump asks the kernel for (`uname(2)`, `geteuid(2)`,
//! through nix),
//! and the release as the root directory's procfs tells it.

use anyhow::{bail, Context, Result};
use std::fs;
use std::io;
use std::path::Path;

/// The running kernel's release, relative to the root directory.
pub const OSRELEASE: &str = "proc/sys/kernel/osrelease";

/// The running kernel's release (`uname -r`), from `root`'s procfs.
pub fn running_release(root: &Path) -> Result<String> {
    let f = root.join(OSRELEASE);
    let text = fs::read_to_string(&f).with_context(|| format!("reading the kernel release from {}", f.display()))?;
    let release = text.trim();
    if release.is_empty() || release.contains('/') {
        bail!("{}: unexpected kernel release {release:?}", f.display());
    }
    Ok(release.to_owned())
}

/// The effective user id (`geteuid(2)`).
pub fn effective_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// The running kernel's release, as `uname -r` prints it.
pub fn kernel_release() -> io::Result<String> {
    let u = nix::sys::utsname::uname()?;
    u.release()
        .to_str()
        .map(str::to_owned)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "the kernel release is not UTF-8"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn release_matches_proc() {
        let release = super::kernel_release().expect("uname");
        if let Ok(proc) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
            assert_eq!(release, proc.trim_end());
        }
        assert!(!release.is_empty());
    }
}
