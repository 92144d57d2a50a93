//! Where the configured dump target is on this machine: a directory
//! target itself; a `UUID=`, `LABEL=` or `/dev/...` target's mount point
//! (found through `/dev/disk/by-uuid` or `by-label` and mountinfo) joined
//! with `target.path`.

use crate::config::{Config, TargetSpec};
use crate::system::mounts::{self, FindError};
use anyhow::{anyhow, Result};
use std::path::{Path, PathBuf};

/// Where the configuration's dumps are on the machine under `root`
/// (absolute): a directory target itself, else the mounted file system's
/// directory `target.path`. `or_else` ends the advice when the target is
/// not mounted (a command's own way around it, such as " or pass --dir").
pub fn config_dump_root(root: &Path, config: &Config, or_else: &str) -> Result<PathBuf> {
    Ok(match config.target_spec()? {
        TargetSpec::Directory(d) => PathBuf::from(d),
        TargetSpec::Remote(_) => {
            return Err(anyhow!(
                "the dump target {} is on another machine: its dumps are listed there{or_else}",
                config.target.target
            ))
        }
        TargetSpec::FileSystem(t) => match mounts::find_mounted(root, &t, &config.target.path) {
            Ok(m) => PathBuf::from(m.dir),
            Err(FindError::Unreadable(m)) => return Err(anyhow!(m).context(format!("finding the dump target {t}"))),
            Err(FindError::NotMounted(why)) => {
                return Err(anyhow!(why).context(format!("the dump target {t} is not mounted; mount it{or_else}")))
            }
        },
    })
}

/// An absolute path of the machine under `root`, as this process opens it.
pub fn under_root(root: &Path, dir: &Path) -> PathBuf {
    root.join(dir.strip_prefix("/").unwrap_or(dir))
}
