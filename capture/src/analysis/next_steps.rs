//! How to go further than `kexdump inspect`: which debug package holds the
//! crashed kernel's vmlinux, and the crash, gdb and drgn command lines for
//! this dump. Distribution conventions, from the release string:
//! Debian `6.1.0-56-amd64` → `linux-image-6.1.0-56-amd64-dbg`, vmlinux in
//! `/usr/lib/debug/boot/vmlinux-<release>`; Ubuntu `5.15.0-91-generic` →
//! `linux-image-unsigned-<release>-dbgsym`, same path; Fedora/RHEL
//! `6.5.6-300.fc39.x86_64`, `5.14.0-362.el9.x86_64` → `kernel-debuginfo`,
//! vmlinux in `/usr/lib/debug/lib/modules/<release>/vmlinux`.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextSteps {
    /// "Debian", "Ubuntu", "Fedora/RHEL" or "unknown".
    pub distribution: &'static str,
    /// The package holding the debug vmlinux (None: unknown distribution).
    pub debug_package: Option<String>,
    /// The command installing it.
    pub install: Option<String>,
    /// Where the vmlinux is (or the one given with --vmlinux).
    pub vmlinux: String,
    pub crash: String,
    pub gdb: String,
    pub drgn: String,
}

/// Quote `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `dump_is_elf`: gdb reads only ELF cores; other formats are converted
/// first. `kernel_offset` is VMCOREINFO's KERNELOFFSET (KASLR), which gdb
/// must be told; crash and drgn find it themselves.
pub fn next_steps(
    release: &str,
    dump: &str,
    dump_is_elf: bool,
    kernel_offset: Option<u64>,
    vmlinux: Option<&str>,
) -> NextSteps {
    let fedora = release.contains(".fc") || release.contains(".el") || release.ends_with(".x86_64");
    let ubuntu =
        ["-generic", "-lowlatency", "-aws", "-azure", "-gcp", "-kvm", "-oracle"].iter().any(|s| release.ends_with(s));
    let debian = release.ends_with("-amd64") || release.ends_with("-cloud-amd64") || release.ends_with("-rt-amd64");
    let (distribution, debug_package, install, default_vmlinux) = if release.is_empty() {
        ("unknown", None, None, "VMLINUX".to_owned())
    } else if fedora {
        let pkg = format!("kernel-debuginfo-{release}");
        (
            "Fedora/RHEL",
            Some(pkg.clone()),
            Some(format!("dnf debuginfo-install kernel-{release}")),
            format!("/usr/lib/debug/lib/modules/{release}/vmlinux"),
        )
    } else if ubuntu {
        let pkg = format!("linux-image-unsigned-{release}-dbgsym");
        (
            "Ubuntu",
            Some(pkg.clone()),
            Some(format!("apt-get install {pkg}")),
            format!("/usr/lib/debug/boot/vmlinux-{release}"),
        )
    } else if debian {
        let pkg = format!("linux-image-{release}-dbg");
        (
            "Debian",
            Some(pkg.clone()),
            Some(format!("apt-get install {pkg}")),
            format!("/usr/lib/debug/boot/vmlinux-{release}"),
        )
    } else {
        ("unknown", None, None, format!("/usr/lib/debug/boot/vmlinux-{release}"))
    };
    let vml = shell_quote(vmlinux.unwrap_or(&default_vmlinux));
    let d = shell_quote(dump);
    let gdb_core = if dump_is_elf {
        d.clone()
    } else {
        // gdb reads only ELF cores.
        shell_quote(&format!("{dump}.elf"))
    };
    let symbol_file = match kernel_offset {
        Some(off) if off != 0 => format!("symbol-file -o {off:#x} {vml}"),
        _ => format!("symbol-file {vml}"),
    };
    let mut gdb =
        format!("gdb -ex {} -ex {}", shell_quote(&symbol_file), shell_quote(&format!("core-file {gdb_core}")));
    if !dump_is_elf {
        gdb = format!("kexdump save --format elf --level 31 {d} {gdb_core} && {gdb}");
    }
    NextSteps {
        distribution,
        debug_package,
        install,
        vmlinux: vmlinux.unwrap_or(&default_vmlinux).to_owned(),
        crash: format!("crash {vml} {d}"),
        gdb,
        drgn: format!("drgn -c {d} -s {vml}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_ubuntu_fedora() {
        let n = next_steps("6.1.0-56-amd64", "/var/crash/x/vmcore", true, Some(0x25600000), None);
        assert_eq!(n.debug_package.as_deref(), Some("linux-image-6.1.0-56-amd64-dbg"));
        assert_eq!(n.vmlinux, "/usr/lib/debug/boot/vmlinux-6.1.0-56-amd64");
        assert_eq!(n.crash, "crash /usr/lib/debug/boot/vmlinux-6.1.0-56-amd64 /var/crash/x/vmcore");
        assert_eq!(
            n.gdb,
            "gdb -ex 'symbol-file -o 0x25600000 /usr/lib/debug/boot/vmlinux-6.1.0-56-amd64' -ex 'core-file /var/crash/x/vmcore'"
        );
        let f = next_steps("5.14.0-362.el9.x86_64", "d", false, None, None);
        assert_eq!(f.distribution, "Fedora/RHEL");
        assert_eq!(f.vmlinux, "/usr/lib/debug/lib/modules/5.14.0-362.el9.x86_64/vmlinux");
        assert!(f.gdb.starts_with("kexdump save --format elf --level 31 d d.elf && gdb"), "{}", f.gdb);
        assert_eq!(next_steps("5.15.0-91-generic", "d", true, None, None).distribution, "Ubuntu");
        let u = next_steps("6.9.0-custom", "my dump", true, None, Some("/tmp/vmlinux"));
        assert_eq!((u.distribution, u.debug_package), ("unknown", None));
        assert_eq!(u.crash, "crash /tmp/vmlinux 'my dump'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
