//! `kexdump crashkernel show` and `kexdump crashkernel set`: the
//! crashkernel= reservation as the running kernel has it, and as the boot
//! loader will pass it at the next boot.
//!
//! Everything is read under a root directory (`/`, or a fake tree in
//! tests; `--root`): see crashkernel/state.rs and crashkernel/next_boot.rs.

use crate::cli::{CrashkernelSetArgs, CrashkernelShowArgs};
use crate::crashkernel::bootcfg;
use crate::crashkernel::next_boot::{
    apply, grub_menu_has, menu_update, on_path, plan, run_kernel_install, run_menu_update, MenuUpdate, Target,
};
use crate::crashkernel::param::{self, human, Low, Outcome};
use crate::crashkernel::state::{meaning, refusal, set_notes, state, State, CRASH_SIZE, PROC_IOMEM};
use anyhow::{bail, Result};
use std::path::Path;
use std::process::ExitCode;

/// The last line of every `set`.
const REBOOT: &str = "kexdump: a reboot is needed for the new reservation to take effect";

fn run_show_text(s: &State) {
    println!("kexdump: crashkernel");
    if s.options.is_empty() {
        println!("  configured:     none ({} has no crashkernel=)", s.cmdline_path.display());
    }
    for (i, o) in s.options.iter().enumerate() {
        let label = if i == 0 { "configured:" } else { "" };
        match &o.parsed {
            Ok(_) => println!("  {label:<15} {}  ({})", o.option, s.cmdline_path.display()),
            Err(e) => println!("  {label:<15} {}  ({}): INVALID: {e}", o.option, s.cmdline_path.display()),
        }
    }
    println!("  {:<15} {}", "on this RAM:", meaning(s));
    match &s.reserved {
        Ok(0) => println!("  {:<15} nothing ({} is 0)", "reserved:", root_rel(s, CRASH_SIZE)),
        Ok(n) => println!("  {:<15} {} ({})", "reserved:", human(*n), root_rel(s, CRASH_SIZE)),
        Err(e) => println!("  {:<15} unknown: {e}", "reserved:"),
    }
    if s.regions.hidden {
        println!(
            "  {:<15} not shown: {} shows zero addresses to users other than root; run as root to see them",
            "at:",
            root_rel(s, PROC_IOMEM)
        );
    } else {
        for (start, end) in &s.regions.crash {
            println!(
                "  {:<15} {start:#014x}-{end:#014x} ({}, \"Crash kernel\" in {})",
                "at:",
                human(end.saturating_sub(*start).saturating_add(1)),
                root_rel(s, PROC_IOMEM)
            );
        }
    }
    if let (Ok(0), Some(Outcome::Reserve { .. })) = (&s.reserved, &s.outcome) {
        println!(
            "  {:<15} the option asks for memory but none is reserved: the kernel found no room \
             (`dmesg | grep -i crashkernel` says why)",
            "note:"
        );
    }
    match &s.loaded {
        Ok(true) => println!("  {:<15} loaded: a panic now boots it and saves a dump", "capture kernel:"),
        Ok(false) => {
            println!("  {:<15} not loaded: a panic does not save a dump (`kexdump arm` loads one)", "capture kernel:")
        }
        Err(e) => println!("  {:<15} unknown: {e}", "capture kernel:"),
    }
    if let Some((path, found)) = &s.next_boot {
        if found.is_empty() {
            println!("  {:<15} no crashkernel= in {}", "next boot:", path.display());
        }
        for (where_, option) in found {
            println!("  {:<15} {option}  ({where_})", "next boot:");
        }
    }
    for d in &s.dropins {
        println!("  {:<15} {d}", "also sets it:");
    }
    for e in &s.errors {
        println!("  {:<15} {e}", "warning:");
    }
}

fn root_rel(s: &State, rel: &str) -> String {
    // The root is the parent of proc/ (cmdline_path = ROOT/proc/cmdline).
    let root = s.cmdline_path.parent().and_then(Path::parent).unwrap_or(Path::new("/"));
    root.join(rel).display().to_string()
}

fn show_json(s: &State) -> serde_json::Value {
    use serde_json::json;
    let options: Vec<_> = s
        .options
        .iter()
        .map(|o| json!({"option": o.option, "valid": o.parsed.is_ok(), "error": o.parsed.as_ref().err().map(|e| e.to_string())}))
        .collect();
    let expected = match &s.outcome {
        Some(Outcome::Reserve { size, offset, low, cma, from, range }) => json!({
            "size": size,
            "offset": offset,
            "high": low.is_some(),
            "low": match low { Some(Low::Given(n)) => json!(n), Some(Low::Default) => json!("default"), None => json!(null) },
            "cma": cma,
            "range": range.map(|r| r.to_string()),
            "option": s.options[*from].option,
        }),
        _ => json!(null),
    };
    let reason = match &s.outcome {
        Some(Outcome::Nothing { reason, .. }) => Some(reason.clone()),
        Some(Outcome::Unset) => Some("no crashkernel= option".to_string()),
        None => Some("the RAM size could not be read".to_string()),
        _ => None,
    };
    let mut errors = s.errors.clone();
    errors.extend(s.reserved.as_ref().err().cloned());
    errors.extend(s.loaded.as_ref().err().cloned());
    json!({
        "cmdline_options": options,
        "ram_bytes": s.ram.as_ref().map(|r| r.bytes),
        "ram_rounded_bytes": s.ram.as_ref().map(|r| param::rounded_ram(r.bytes)),
        "ram_source": s.ram.as_ref().map(|r| r.source.clone()),
        "expected": expected,
        "expected_nothing_reason": reason,
        "reserved_bytes": s.reserved.as_ref().ok(),
        "regions": if s.regions.hidden { json!(null) } else {
            json!(s.regions.crash.iter().map(|(a, b)| json!({"start": a, "end": b})).collect::<Vec<_>>())
        },
        "addresses_hidden": s.regions.hidden,
        "loaded": s.loaded.as_ref().ok(),
        "next_boot": s.next_boot.as_ref().map(|(p, found)| json!({
            "file": p.display().to_string(),
            "options": found.iter().map(|(_, o)| o.clone()).collect::<Vec<_>>(),
        })),
        "also_set_in": s.dropins,
        "errors": errors,
    })
}

pub fn run_show(a: CrashkernelShowArgs) -> Result<ExitCode> {
    let s = state(&a.root);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&show_json(&s))?);
    } else {
        run_show_text(&s);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_set(a: CrashkernelSetArgs) -> Result<ExitCode> {
    let root = a.root.as_path();
    let real_root = root == Path::new("/");
    let option = format!("crashkernel={}", a.size.text);
    if !a.dry_run && real_root {
        let euid = crate::system::identity::effective_uid();
        if euid != 0 {
            bail!(
                "changing the boot configuration needs root, and this runs as uid {euid}: run it with sudo, \
                 or add --dry-run to see the change"
            );
        }
    }
    if let Some(why) = refusal(root, &option) {
        bail!("{option}: on this machine the kernel would reserve nothing: {why}; nothing was changed");
    }
    let plan = plan(root, a.bootloader.into(), &option)?;
    let notes = set_notes(root, &a.size, &option);
    if plan.edit.text == plan.old && plan.target == Target::Grub && !grub_menu_has(root, &option) {
        // The file was edited before, but the boot menu was not rebuilt
        // (update-grub failed or was missing): finish that.
        println!("kexdump: {} already has {option}, but the generated boot menu does not", plan.path.display());
        let update = menu_update(root, &option, &on_path);
        if a.dry_run || !real_root {
            println!("kexdump: nothing was written; {}", would_update(update.as_ref()));
            return Ok(ExitCode::SUCCESS);
        }
        update_menu(update.as_ref(), &plan.path, &bootcfg::backup_path(&plan.path))?;
        println!("{REBOOT}");
        return Ok(ExitCode::SUCCESS);
    }
    if plan.edit.text == plan.old {
        println!("kexdump: {} already has {option}; nothing to change", plan.path.display());
        notes.iter().chain(&plan.edit.notes).for_each(|n| println!("kexdump: {n}"));
        println!("{REBOOT}, unless the running kernel already booted with it (`kexdump crashkernel show`)");
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", bootcfg::diff(&plan.path, &plan.old, &plan.edit.text));
    notes.iter().chain(&plan.edit.notes).for_each(|n| println!("kexdump: {n}"));
    if a.dry_run {
        let then = match plan.target {
            Target::Grub if real_root => format!("; {}", would_update(menu_update(root, &option, &on_path).as_ref())),
            _ => String::new(),
        };
        println!("kexdump: dry run, nothing was written: the change above ({}){then}", plan.edit.what.join(", "));
        println!("{REBOOT}");
        return Ok(ExitCode::SUCCESS);
    }
    let backup = apply(&plan)?;
    println!("kexdump: {}: {} (backup: {})", plan.path.display(), plan.edit.what.join(", "), backup.display());
    match plan.target {
        Target::Grub if real_root => update_menu(menu_update(root, &option, &on_path).as_ref(), &plan.path, &backup)?,
        Target::Grub => println!(
            "kexdump: not updating the boot menu: --root is not /; run update-grub (or grubby) inside {} (e.g. in a chroot)",
            root.display()
        ),
        Target::KernelCmdline if real_root => {
            let n = run_kernel_install(root, &plan.path, &backup)?;
            println!("kexdump: `kernel-install add` regenerated the boot entries of {n} installed kernel(s)");
        }
        Target::KernelCmdline => println!(
            "kexdump: boot entries take {} when they are generated: run `kernel-install add <release> <kernel image>` \
             inside {} for the installed kernels",
            plan.path.display(),
            root.display()
        ),
    }
    println!("{REBOOT}");
    Ok(ExitCode::SUCCESS)
}

/// What a dry run says about the boot menu.
fn would_update(u: Option<&MenuUpdate>) -> String {
    match u {
        Some(u) => format!("`{}` would then update the boot entries", u.shown()),
        None => "no update-grub, grubby or grub-mkconfig is installed to update the boot entries".to_owned(),
    }
}

fn update_menu(u: Option<&MenuUpdate>, path: &Path, backup: &Path) -> Result<()> {
    let Some(u) = u else {
        bail!(
            "{} was changed (backup: {}), but no update-grub, grubby or grub-mkconfig is installed, so the boot \
             entries do not have it yet: add crashkernel= to them with the boot loader's own tool",
            path.display(),
            backup.display()
        );
    };
    run_menu_update(u, path, backup)?;
    println!("kexdump: `{}` updated the boot entries", u.shown());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::BootloaderArg;
    use crate::crashkernel::next_boot::Bootloader;
    use crate::crashkernel::param::{parse_set_value, Problem, GIB, MIB};
    use crate::crashkernel::state::fixture::{Tree, IOMEM_ROOT};
    use crate::crashkernel::state::{Ram, CRASH_LOADED, PROC_CMDLINE};
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    /// `kexdump crashkernel set VALUE [--dry-run] --bootloader B --root <the tree>`.
    trait Set {
        fn set(&self, value: &str, dry_run: bool, bootloader: BootloaderArg) -> Result<ExitCode>;
    }

    impl Set for Tree {
        fn set(&self, value: &str, dry_run: bool, bootloader: BootloaderArg) -> Result<ExitCode> {
            run_set(CrashkernelSetArgs {
                size: parse_set_value(value).expect("value"),
                dry_run,
                bootloader,
                root: self.root().to_path_buf(),
            })
        }
    }

    #[test]
    fn show_with_reservation() {
        let t = Tree::new();
        let s = state(t.root());
        assert_eq!(s.options.len(), 1);
        assert_eq!(s.reserved, Ok(128 * MIB));
        assert_eq!(s.loaded, Ok(true));
        // iomem's System RAM (2 GiB less 128 KiB and holes) rounds to 2G.
        assert!(matches!(&s.ram, Some(Ram { source, .. }) if source.contains("System RAM")));
        assert!(matches!(s.outcome, Some(Outcome::Reserve { size, .. }) if size == 128 * MIB));
        let m = meaning(&s);
        assert!(m.starts_with("128M, from the range 1G-4G:128M (this machine's RAM: 2.0 GiB"), "{m}");
        let j = show_json(&s);
        assert_eq!(j["expected"]["size"], 128 * MIB);
        assert_eq!(j["expected"]["range"], "1G-4G:128M");
        assert_eq!(j["reserved_bytes"], 128 * MIB);
        assert_eq!(j["regions"][0]["start"], 0x6b00_0000u64);
        assert_eq!(j["addresses_hidden"], false);
        assert_eq!(j["loaded"], true);
        assert_eq!(j["next_boot"], serde_json::Value::Null);
        assert_eq!(j["errors"].as_array().map(Vec::len), Some(0));
        run_show(CrashkernelShowArgs { json: true, root: t.root().to_path_buf() }).expect("show");
        run_show(CrashkernelShowArgs { json: false, root: t.root().to_path_buf() }).expect("show");
    }

    #[test]
    fn show_without_reservation() {
        let t = Tree::new();
        t.write(PROC_CMDLINE, "BOOT_IMAGE=/vmlinuz ro quiet\n");
        t.write(CRASH_SIZE, "0\n");
        t.write(CRASH_LOADED, "0\n");
        t.write(PROC_IOMEM, &IOMEM_ROOT.replace("  6b000000-72ffffff : Crash kernel\n", ""));
        t.write(bootcfg::GRUB_DEFAULT, "GRUB_CMDLINE_LINUX=\"crashkernel=192M\"\n");
        let s = state(t.root());
        assert!(s.options.is_empty());
        assert_eq!(s.outcome, Some(Outcome::Unset));
        assert!(s.regions.crash.is_empty());
        assert_eq!(meaning(&s), "nothing: the kernel was booted without crashkernel=");
        let j = show_json(&s);
        assert_eq!(j["expected"], serde_json::Value::Null);
        assert_eq!(j["reserved_bytes"], 0);
        assert_eq!(j["loaded"], false);
        assert_eq!(j["next_boot"]["options"][0], "crashkernel=192M");
        run_show(CrashkernelShowArgs { json: false, root: t.root().to_path_buf() }).expect("show");
    }

    #[test]
    fn show_with_zeroed_iomem() {
        let t = Tree::new();
        let zeroed: String = IOMEM_ROOT
            .lines()
            .map(|l| {
                let (range, name) = l.split_once(" : ").expect("line");
                let indent = range.len() - range.trim_start().len();
                format!("{}00000000-00000000 : {name}\n", " ".repeat(indent))
            })
            .collect();
        t.write(PROC_IOMEM, &zeroed);
        let s = state(t.root());
        assert!(s.regions.hidden);
        // MemTotal (1.79 GiB) + the 128M reservation rounds up to 2G.
        let ram = s.ram.clone().expect("ram");
        assert!(ram.source.contains("MemTotal") && ram.source.contains("plus the reservation"), "{}", ram.source);
        assert_eq!(param::rounded_ram(ram.bytes), 2 * GIB);
        let j = show_json(&s);
        assert_eq!(j["addresses_hidden"], true);
        assert_eq!(j["regions"], serde_json::Value::Null);
        assert_eq!(j["expected"]["size"], 128 * MIB);
    }

    #[test]
    fn show_reports_unreadable_files_and_bad_options() {
        let t = Tree::new();
        t.write(PROC_CMDLINE, "crashkernel=256MB\n");
        fs::remove_file(t.root().join(CRASH_SIZE)).expect("rm");
        fs::remove_file(t.root().join(CRASH_LOADED)).expect("rm");
        let s = state(t.root());
        assert!(matches!(&s.reserved, Err(e) if e.contains("kexec_crash_size") && e.contains("CONFIG_CRASH_DUMP")));
        assert!(matches!(&s.loaded, Err(e) if e.contains("kexec_crash_loaded")));
        assert!(matches!(&s.outcome, Some(Outcome::Nothing { reason, .. }) if reason.contains("`B`")));
        let j = show_json(&s);
        assert_eq!(j["cmdline_options"][0]["valid"], false);
        assert_eq!(j["errors"].as_array().map(Vec::len), Some(2));
    }

    const GRUB: &str = "\
# comment
GRUB_DEFAULT=0
GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"
GRUB_CMDLINE_LINUX=\"\"
";

    #[test]
    fn set_on_grub_without_crashkernel() {
        let t = Tree::new();
        t.write(bootcfg::GRUB_DEFAULT, GRUB);
        let p = t.root().join(bootcfg::GRUB_DEFAULT);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).expect("chmod");
        t.set("auto", false, BootloaderArg::Auto).expect("set");
        let want = GRUB.replace("LINUX=\"\"", "LINUX=\"crashkernel=1G-4G:128M,4G-64G:192M,64G-:256M\"");
        assert_eq!(t.read(bootcfg::GRUB_DEFAULT), want);
        assert_eq!(t.read("etc/default/grub.kexdump-bak"), GRUB);
        assert_eq!(fs::metadata(&p).expect("meta").permissions().mode() & 0o777, 0o600);
        assert_eq!(
            fs::metadata(t.root().join("etc/default/grub.kexdump-bak")).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        // Again: nothing to change, the backup is still the original.
        t.set("auto", false, BootloaderArg::Grub).expect("set");
        assert_eq!(t.read(bootcfg::GRUB_DEFAULT), want);
        assert_eq!(t.read("etc/default/grub.kexdump-bak"), GRUB);
    }

    #[test]
    fn set_again_rebuilds_a_boot_menu_an_earlier_set_left_stale() {
        let t = Tree::new();
        t.write(bootcfg::GRUB_DEFAULT, &GRUB.replace("LINUX=\"\"", "LINUX=\"crashkernel=256M\""));
        // No generated menu to tell: nothing to change.
        t.set("256M", true, BootloaderArg::Auto).expect("set");
        t.write("boot/grub/grub.cfg", "linux /vmlinuz root=/dev/vda1 ro quiet\n");
        assert!(!grub_menu_has(t.root(), "crashkernel=256M"));
        // --root is not /: says so and writes nothing (update-grub runs on / only).
        t.set("256M", false, BootloaderArg::Auto).expect("set");
        t.write("boot/grub/grub.cfg", "linux /vmlinuz root=/dev/vda1 ro quiet crashkernel=256M\n");
        assert!(grub_menu_has(t.root(), "crashkernel=256M"));
    }

    #[test]
    fn set_refuses_a_size_the_kernel_would_refuse() {
        let t = Tree::new();
        t.write(bootcfg::GRUB_DEFAULT, GRUB);
        for dry_run in [true, false] {
            let e = t.set("100000M", dry_run, BootloaderArg::Auto).unwrap_err().to_string();
            assert!(e.contains("crashkernel=100000M: on this machine the kernel would reserve nothing"), "{e}");
            assert!(e.contains("not below the RAM") && e.ends_with("nothing was changed"), "{e}");
        }
        assert_eq!(t.read(bootcfg::GRUB_DEFAULT), GRUB);
    }

    #[test]
    fn set_on_grub_replaces_in_default() {
        let t = Tree::new();
        let text = GRUB.replace("\"quiet\"", "\"quiet crashkernel=384M-:128M\"");
        t.write(bootcfg::GRUB_DEFAULT, &text);
        t.set("256M", false, BootloaderArg::Auto).expect("set");
        assert_eq!(t.read(bootcfg::GRUB_DEFAULT), GRUB.replace("\"quiet\"", "\"quiet crashkernel=256M\""));
        assert_eq!(t.read("etc/default/grub.kexdump-bak"), text);
    }

    #[test]
    fn set_on_grub_replaces_in_cmdline_linux() {
        let t = Tree::new();
        let text = GRUB.replace("LINUX=\"\"", "LINUX=\"console=ttyS0 crashkernel=512M\"");
        t.write(bootcfg::GRUB_DEFAULT, &text);
        t.set("192M", false, BootloaderArg::Grub).expect("set");
        assert_eq!(
            t.read(bootcfg::GRUB_DEFAULT),
            GRUB.replace("LINUX=\"\"", "LINUX=\"console=ttyS0 crashkernel=192M\"")
        );
    }

    #[test]
    fn set_on_grub_with_single_quotes() {
        let t = Tree::new();
        let text = "GRUB_CMDLINE_LINUX_DEFAULT='quiet'\nGRUB_CMDLINE_LINUX='console=ttyS0'\n";
        t.write(bootcfg::GRUB_DEFAULT, text);
        t.set("2G-:256M", false, BootloaderArg::Auto).expect("set");
        assert_eq!(
            t.read(bootcfg::GRUB_DEFAULT),
            "GRUB_CMDLINE_LINUX_DEFAULT='quiet'\nGRUB_CMDLINE_LINUX='console=ttyS0 crashkernel=2G-:256M'\n"
        );
    }

    #[test]
    fn set_on_kernel_cmdline() {
        let t = Tree::new();
        t.write(bootcfg::KERNEL_CMDLINE, "root=UUID=0f3c rw crashkernel=1G,high crashkernel=256M,low\n");
        t.set("192M", false, BootloaderArg::Auto).expect("set");
        assert_eq!(t.read(bootcfg::KERNEL_CMDLINE), "root=UUID=0f3c rw crashkernel=192M\n");
        assert_eq!(
            t.read("etc/kernel/cmdline.kexdump-bak"),
            "root=UUID=0f3c rw crashkernel=1G,high crashkernel=256M,low\n"
        );
        // --bootloader grub wants GRUB's file.
        let e = t.set("192M", false, BootloaderArg::Grub).expect_err("no grub");
        assert!(e.to_string().contains("etc/default/grub does not exist"), "{e}");
    }

    #[test]
    fn dry_run_touches_nothing() {
        let t = Tree::new();
        t.write(bootcfg::GRUB_DEFAULT, GRUB);
        let before = fs::metadata(t.root().join(bootcfg::GRUB_DEFAULT)).expect("meta").modified().expect("mtime");
        t.set("192M", true, BootloaderArg::Auto).expect("dry run");
        assert_eq!(t.read(bootcfg::GRUB_DEFAULT), GRUB);
        let after = fs::metadata(t.root().join(bootcfg::GRUB_DEFAULT)).expect("meta").modified().expect("mtime");
        assert_eq!(before, after);
        let names: Vec<_> =
            fs::read_dir(t.root().join("etc/default")).expect("ls").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names, ["grub"]);
        // The diff it prints.
        let p = plan(t.root(), Bootloader::Auto, "crashkernel=192M").expect("plan");
        let d = bootcfg::diff(&p.path, &p.old, &p.edit.text);
        assert!(d.contains("@@ -4 +4 @@\n-GRUB_CMDLINE_LINUX=\"\"\n+GRUB_CMDLINE_LINUX=\"crashkernel=192M\"\n"), "{d}");
    }

    #[test]
    fn set_needs_a_boot_loader_file() {
        let t = Tree::new();
        let e = t.set("192M", true, BootloaderArg::Auto).expect_err("none");
        let msg = e.to_string();
        assert!(msg.contains("etc/default/grub") && msg.contains("etc/kernel/cmdline"), "{msg}");
    }

    #[test]
    fn set_refuses_a_grub_file_it_cannot_edit() {
        let t = Tree::new();
        let text = "GRUB_CMDLINE_LINUX=\"quiet\n  splash\"\n";
        t.write(bootcfg::GRUB_DEFAULT, text);
        let e = t.set("192M", false, BootloaderArg::Auto).expect_err("multi-line");
        assert!(e.to_string().contains("etc/default/grub:1:"), "{e}");
        assert_eq!(t.read(bootcfg::GRUB_DEFAULT), text);
        assert!(!t.root().join("etc/default/grub.kexdump-bak").exists());
    }

    #[test]
    fn bad_size_is_rejected_naming_the_token() {
        let e = parse_set_value("1G-4G:128M,4G-2G:192M").expect_err("bad range");
        assert_eq!((e.token.as_str(), e.problem), ("4G-2G", Problem::EndNotAboveStart));
        assert!(e.to_string().contains("`4G-2G`"), "{e}");
        let e = parse_set_value("256Mb").expect_err("suffix");
        assert!(e.to_string().contains("`b` is unexpected"), "{e}");
        // Through clap, as an operator would type it.
        use clap::Parser;
        let err = crate::cli::Cli::try_parse_from(["kexdump", "crashkernel", "set", "128"]).err().expect("rejected");
        let msg = err.to_string();
        assert!(msg.contains("`128` is less than 1 MiB"), "{msg}");
    }

    #[test]
    fn help_explains_the_auto_table() {
        use clap::CommandFactory;
        let mut cmd = crate::cli::Cli::command();
        let set = cmd.find_subcommand_mut("crashkernel").and_then(|c| c.find_subcommand_mut("set")).expect("set");
        let help = set.render_long_help().to_string();
        assert!(help.contains(&format!("`auto` writes crashkernel={}.", param::AUTO)), "{help}");
    }
}
