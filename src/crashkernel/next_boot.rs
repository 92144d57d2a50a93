//! Putting crashkernel= into the boot loader's configuration for the next
//! boot: which file, the planned edit, writing it with a backup, and
//! GRUB's configuration generator.

use super::bootcfg::{self, Edit};
use anyhow::{bail, Context, Result};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Which boot loader configuration to edit (`--bootloader`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bootloader {
    /// GRUB's when /etc/default/grub exists, else /etc/kernel/cmdline.
    Auto,
    /// /etc/default/grub, then update-grub.
    Grub,
    /// /etc/kernel/cmdline (kernel-install).
    KernelCmdline,
}

/// Which file holds the boot loader's command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Grub,
    KernelCmdline,
}

impl Target {
    fn rel(self) -> &'static str {
        match self {
            Target::Grub => bootcfg::GRUB_DEFAULT,
            Target::KernelCmdline => bootcfg::KERNEL_CMDLINE,
        }
    }
}

/// The file to edit: the one asked for, which must exist, or with `auto`
/// GRUB's when it exists, else kernel-install's.
pub fn target(root: &Path, asked: Bootloader) -> Result<(Target, PathBuf)> {
    let exists = |t: Target| root.join(t.rel()).exists();
    let t = match asked {
        Bootloader::Grub => Target::Grub,
        Bootloader::KernelCmdline => Target::KernelCmdline,
        Bootloader::Auto if exists(Target::Grub) => Target::Grub,
        Bootloader::Auto if exists(Target::KernelCmdline) => Target::KernelCmdline,
        Bootloader::Auto => bail!(
            "neither {} nor {} exists: kexdump edits GRUB's settings or kernel-install's command line; with \
             another boot loader, add crashkernel= to its kernel command line by hand",
            root.join(bootcfg::GRUB_DEFAULT).display(),
            root.join(bootcfg::KERNEL_CMDLINE).display()
        ),
    };
    let path = root.join(t.rel());
    if !path.exists() {
        bail!(
            "{} does not exist (--bootloader {})",
            path.display(),
            if t == Target::Grub { "grub" } else { "kernel-cmdline" }
        );
    }
    Ok((t, path))
}

/// The planned change of `set`.
pub struct Plan {
    pub target: Target,
    pub path: PathBuf,
    pub old: String,
    pub edit: Edit,
}

pub fn plan(root: &Path, asked: Bootloader, option: &str) -> Result<Plan> {
    let (target, path) = target(root, asked)?;
    let meta = fs::symlink_metadata(&path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.file_type().is_symlink() {
        bail!(
            "{} is a symbolic link: kexdump replaces files whole and would break the link; edit its target by hand",
            path.display()
        );
    }
    let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let old = String::from_utf8(bytes).map_err(|_| bootcfg::EditError::NotText { path: path.clone() })?;
    let edit = match target {
        Target::Grub => bootcfg::edit_grub(&path, &old, option)?,
        Target::KernelCmdline => bootcfg::edit_kernel_cmdline(&old, option),
    };
    Ok(Plan { target, path, old, edit })
}

/// Writes the backup, then the new file.
pub fn apply(plan: &Plan) -> Result<PathBuf> {
    let meta = fs::metadata(&plan.path).with_context(|| format!("cannot read {}", plan.path.display()))?;
    let backup = bootcfg::backup_path(&plan.path);
    bootcfg::write_atomic(&backup, plan.old.as_bytes(), &meta).with_context(|| {
        format!("cannot write the backup {}; {} is unchanged", backup.display(), plan.path.display())
    })?;
    bootcfg::write_atomic(&plan.path, plan.edit.text.as_bytes(), &meta).with_context(|| {
        format!("cannot write {}; it is unchanged (the backup is {})", plan.path.display(), backup.display())
    })?;
    Ok(backup)
}

/// GRUB's generated boot menus under `root`, as Debian and Fedora-style
/// systems place them.
const GRUB_MENUS: [&str; 2] = ["boot/grub/grub.cfg", "boot/grub2/grub.cfg"];

/// Whether a generated GRUB menu already holds `option`: `false` when one
/// exists without it (an earlier `set` whose update-grub failed or was
/// missing), `true` when it has it or there is no menu to tell.
pub fn grub_menu_has(root: &Path, option: &str) -> bool {
    let menus: Vec<String> = GRUB_MENUS.iter().filter_map(|m| std::fs::read_to_string(root.join(m)).ok()).collect();
    menus.is_empty() || menus.iter().any(|m| m.contains(option))
}

/// Runs GRUB's configuration generator (no shell involved).
pub fn update_grub(program: &str, path: &Path, backup: &Path) -> Result<()> {
    let changed = format!("{} was changed (backup: {})", path.display(), backup.display());
    let how = "run `update-grub` (Debian, Ubuntu), or `grub-mkconfig -o /boot/grub/grub.cfg` \
               (`grub2-mkconfig -o /boot/grub2/grub.cfg` on Fedora, RHEL, SUSE)";
    match Command::new(program).status() {
        Ok(st) if st.success() => Ok(()),
        Ok(st) => {
            bail!("{changed}, but `{program}` failed ({st}), so the boot menu does not have it yet: fix that and {how}")
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            bail!("{changed}, but `{program}` is not installed here, so the boot menu does not have it yet: {how}")
        }
        Err(e) => bail!("{changed}, but `{program}` could not be run ({e}): {how}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_update_grub_says_what_to_run() {
        let e = update_grub("kexdump-no-such-update-grub", Path::new("/etc/default/grub"), Path::new("/b"))
            .expect_err("missing");
        let msg = e.to_string();
        assert!(msg.contains("is not installed") && msg.contains("grub-mkconfig -o /boot/grub/grub.cfg"), "{msg}");
        assert!(msg.contains("backup: /b"), "{msg}");
        let e = update_grub("false", Path::new("g"), Path::new("b")).expect_err("fails");
        assert!(e.to_string().contains("`false` failed"), "{e}");
    }
}
