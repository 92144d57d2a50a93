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

/// The Boot Loader Specification entries (Fedora, RHEL): each holds its
/// own `options` line, which /etc/default/grub does not change.
const BLS_ENTRIES: &str = "boot/loader/entries";

fn bls_entries(root: &Path) -> Vec<String> {
    let Ok(dir) = fs::read_dir(root.join(BLS_ENTRIES)) else { return Vec::new() };
    dir.filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".conf"))
        .filter_map(|e| fs::read_to_string(e.path()).ok())
        .collect()
}

/// Whether the boot entries already hold `option`: `false` when a generated
/// GRUB menu, or a BLS entry, lacks it (an earlier `set` whose menu update
/// failed or was missing), `true` when they have it or there is nothing to
/// tell.
pub fn grub_menu_has(root: &Path, option: &str) -> bool {
    let menus: Vec<String> = GRUB_MENUS.iter().filter_map(|m| std::fs::read_to_string(root.join(m)).ok()).collect();
    let bls = bls_entries(root);
    if !bls.is_empty() {
        return bls.iter().all(|e| e.lines().any(|l| l.starts_with("options") && l.contains(option)));
    }
    menus.is_empty() || menus.iter().any(|m| m.contains(option))
}

/// How GRUB's boot entries get the new command line, by what the machine
/// has: BLS entries are edited by grubby; a generated grub.cfg is rebuilt
/// by update-grub (Debian, Ubuntu) or grub2-mkconfig / grub-mkconfig.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MenuUpdate {
    pub program: &'static str,
    pub args: Vec<String>,
}

impl MenuUpdate {
    pub fn shown(&self) -> String {
        std::iter::once(self.program.to_owned()).chain(self.args.iter().cloned()).collect::<Vec<_>>().join(" ")
    }
}

/// The menu update for the machine under `root`; `installed` tells whether
/// a program is on PATH. `None`: no known tool is installed.
pub fn menu_update(root: &Path, option: &str, installed: &dyn Fn(&str) -> bool) -> Option<MenuUpdate> {
    let has = |p: &str| root.join(p).exists();
    let m = |program: &'static str, args: &[&str]| {
        Some(MenuUpdate { program, args: args.iter().map(|a| (*a).to_owned()).collect() })
    };
    if !bls_entries(root).is_empty() && installed("grubby") {
        let add = format!("--args={option}");
        return m("grubby", &["--update-kernel=ALL", "--remove-args=crashkernel", &add]);
    }
    if installed("update-grub") {
        return m("update-grub", &[]);
    }
    if installed("grub2-mkconfig") && has("boot/grub2") {
        return m("grub2-mkconfig", &["-o", "/boot/grub2/grub.cfg"]);
    }
    if installed("grub-mkconfig") && has("boot/grub") {
        return m("grub-mkconfig", &["-o", "/boot/grub/grub.cfg"]);
    }
    None
}

/// Whether `program` is an executable file in a directory of $PATH.
pub fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .any(|d| fs::metadata(d.join(program)).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The installed kernels kernel-install can regenerate entries for:
/// (release, image) for each /lib/modules/<release> whose image is
/// /boot/vmlinuz-<release> or /usr/lib/modules/<release>/vmlinuz.
pub fn installed_kernels(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for dir in ["lib/modules", "usr/lib/modules"] {
        let Ok(entries) = fs::read_dir(root.join(dir)) else { continue };
        for e in entries.filter_map(Result::ok) {
            let release = e.file_name().to_string_lossy().into_owned();
            let image = [root.join("boot").join(format!("vmlinuz-{release}")), e.path().join("vmlinuz")]
                .into_iter()
                .find(|p| p.is_file());
            if let Some(image) = image.filter(|_| !out.iter().any(|(r, _)| r == &release)) {
                out.push((release, image));
            }
        }
    }
    out.sort();
    out
}

/// `kernel-install add` for each installed kernel, so their boot entries
/// take the new /etc/kernel/cmdline.
pub fn run_kernel_install(root: &Path, path: &Path, backup: &Path) -> Result<usize> {
    let kernels = installed_kernels(root);
    for (release, image) in &kernels {
        let u = MenuUpdate {
            program: "kernel-install",
            args: vec!["add".into(), release.clone(), image.display().to_string()],
        };
        run_menu_update(&u, path, backup)?;
    }
    Ok(kernels.len())
}

/// Runs the boot menu's update (no shell involved).
pub fn run_menu_update(u: &MenuUpdate, path: &Path, backup: &Path) -> Result<()> {
    let changed = format!("{} was changed (backup: {})", path.display(), backup.display());
    let how = "run `update-grub` (Debian, Ubuntu), `grubby --update-kernel=ALL --args=crashkernel=...` \
               (Fedora, RHEL), or `grub2-mkconfig -o /boot/grub2/grub.cfg` (SUSE)";
    let program = u.program;
    match Command::new(program).args(&u.args).status() {
        Ok(st) if st.success() => Ok(()),
        Ok(st) => {
            bail!(
                "{changed}, but `{}` failed ({st}), so the boot menu does not have it yet: fix that and {how}",
                u.shown()
            )
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
        let u = MenuUpdate { program: "kexdump-no-such-update-grub", args: Vec::new() };
        let e = run_menu_update(&u, Path::new("/etc/default/grub"), Path::new("/b")).expect_err("missing");
        let msg = e.to_string();
        assert!(msg.contains("is not installed") && msg.contains("grub2-mkconfig -o /boot/grub2/grub.cfg"), "{msg}");
        assert!(msg.contains("backup: /b"), "{msg}");
        let u = MenuUpdate { program: "false", args: Vec::new() };
        let e = run_menu_update(&u, Path::new("g"), Path::new("b")).expect_err("fails");
        assert!(e.to_string().contains("`false` failed"), "{e}");
    }

    #[test]
    fn installed_kernels_are_those_with_modules_and_an_image() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for rel in ["6.1.0-1", "6.12.0-2", "5.10.0-9"] {
            fs::create_dir_all(r.join("lib/modules").join(rel)).unwrap();
        }
        fs::create_dir_all(r.join("boot")).unwrap();
        fs::write(r.join("boot/vmlinuz-6.1.0-1"), b"k").unwrap();
        fs::write(r.join("lib/modules/6.12.0-2/vmlinuz"), b"k").unwrap();
        let k = installed_kernels(r);
        assert_eq!(
            k,
            [
                ("6.1.0-1".to_owned(), r.join("boot/vmlinuz-6.1.0-1")),
                ("6.12.0-2".to_owned(), r.join("lib/modules/6.12.0-2/vmlinuz"))
            ],
            "5.10.0-9 has no image"
        );
    }

    #[test]
    fn the_menu_update_follows_the_machine() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let opt = "crashkernel=256M";
        let only = |names: &'static [&'static str]| move |p: &str| names.contains(&p);
        // Debian: update-grub.
        assert_eq!(menu_update(r, opt, &only(&["update-grub", "grub-mkconfig"])).unwrap().shown(), "update-grub");
        // SUSE-like: grub2-mkconfig into /boot/grub2.
        fs::create_dir_all(r.join("boot/grub2")).unwrap();
        assert_eq!(
            menu_update(r, opt, &only(&["grub2-mkconfig"])).unwrap().shown(),
            "grub2-mkconfig -o /boot/grub2/grub.cfg"
        );
        assert_eq!(menu_update(r, opt, &only(&[])), None);
        // Fedora, RHEL: BLS entries and grubby, which edits each of them.
        fs::create_dir_all(r.join(BLS_ENTRIES)).unwrap();
        fs::write(r.join(BLS_ENTRIES).join("abc-6.11.conf"), "title Fedora\noptions root=UUID=1 ro rhgb\n").unwrap();
        assert_eq!(
            menu_update(r, opt, &only(&["grubby", "grub2-mkconfig"])).unwrap().shown(),
            "grubby --update-kernel=ALL --remove-args=crashkernel --args=crashkernel=256M"
        );
        assert!(!grub_menu_has(r, opt), "a BLS entry without the option is stale");
        fs::write(r.join(BLS_ENTRIES).join("abc-6.11.conf"), "options root=UUID=1 ro crashkernel=256M\n").unwrap();
        assert!(grub_menu_has(r, opt));
        assert!(on_path("sh") && !on_path("kexdump-no-such-program"));
    }
}
