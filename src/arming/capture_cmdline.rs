//! The capture kernel's command line, derived from the primary kernel's
//! (`/proc/cmdline`): pure functions, no I/O.
//!
//! Three steps, in this order:
//! 1. drop the options that would hurt a capture kernel ([`DROP`]), the keys
//!    kexdump sets itself, and the user's `--cmdline-remove` keys;
//! 2. keep everything else in its order (every `console=` in particular:
//!    the capture kernel's messages must reach the same console);
//! 3. add kexdump's options (`nr_cpus=`, [`ADD`] and `module_blacklist=`), then the
//!    user's `--cmdline-append` strings last, so that the user wins for
//!    every option where the kernel takes the last value.
//!
//! Trimming an already-trimmed line gives the same line back, so re-arming
//! from a capture kernel's own command line cannot grow it.

use crate::kernel_cmdline::{option_name, option_value, same_name, starts_with_name, tokenize};

/// How a rule recognises an option. Option names compare as the kernel
/// compares them (`parameq()`): `-` and `_` are the same character.
#[derive(Clone, Copy, Debug)]
enum Match {
    /// `KEY` alone or `KEY=...`.
    Key(&'static str),
    /// Every option whose name starts with this prefix (`rd.`, `systemd.`).
    Namespace(&'static str),
}

/// One option kexdump removes from the primary's command line, and why.
struct Rule {
    matches: Match,
    why: &'static str,
}

const fn key(k: &'static str, why: &'static str) -> Rule {
    Rule { matches: Match::Key(k), why }
}

const HUGEPAGES: &str = "huge pages would be carved out of the small reservation at boot";
const ROOT: &str = "the capture initramfs never switches root: its /init finds and mounts the dump target itself";
const RESUME: &str = "resuming a hibernation image would overwrite the crashed memory that is being saved";
const INIT: &str = "the capture initramfs's own /init must run, not the primary's";
const REPLACED: &str = "replaced by kexdump's own value, added below";

/// The options dropped from the primary's command line, with the reason.
const DROP: &[Rule] = &[
    key("crashkernel", "the capture kernel runs inside the reservation; reserving again there fails or starves it"),
    key("quiet", "the capture kernel's messages are the only trace when a capture fails: let them reach the console"),
    key("splash", "a boot splash hides the console, and there is no graphics stack in the capture initramfs"),
    key("hugepages", HUGEPAGES),
    key("hugepagesz", HUGEPAGES),
    key("default_hugepagesz", HUGEPAGES),
    key("root", ROOT),
    key("rootflags", ROOT),
    key("rootfstype", ROOT),
    key("rootwait", "waiting for a root device that is never mounted only delays the capture"),
    key("ro", ROOT),
    key("rw", ROOT),
    key("resume", RESUME),
    key("resume_offset", RESUME),
    key("init", INIT),
    key("rdinit", INIT),
    key("BOOT_IMAGE", "the boot loader's note about the primary's image; meaningless for the capture kernel"),
    key("initrd", "the capture initramfs is handed to kexec directly, not found by the boot loader"),
    key("nr_cpus", REPLACED),
    key("maxcpus", "nr_cpus=, added below, decides how many CPUs the capture kernel brings up"),
    key("irqpoll", REPLACED),
    key("reset_devices", REPLACED),
    key("panic", REPLACED),
    key("module_blacklist", "merged into kexdump's module_blacklist=, added below"),
    Rule {
        matches: Match::Namespace("rd."),
        why: "dracut's options configure the primary's initramfs; the capture initramfs is kexdump's",
    },
    Rule {
        matches: Match::Namespace("systemd."),
        why: "systemd does not run in the capture initramfs; kexdump-capture is PID 1",
    },
];

/// Options added to every capture kernel's command line (x86_64 values).
/// An option the capture kernel does not know reaches its /init instead: a
/// bare word as an argument, `key=value` as an environment variable, so the
/// capture /init must not treat its arguments as its own. (We do not add
/// `novmcoredd`: kernels without CONFIG_PROC_VMCORE_DEVICE_DUMP, Debian's
/// 6.1 among them, do not know it and hand it to /init as argv[1].)
/// `nr_cpus=` comes first, before these, with the configured count.
const ADD: &[(&str, &str)] = &[
    // Devices may still raise interrupts the crashed kernel set up; polling
    // copes with lost or misrouted ones while drivers reset the hardware.
    ("irqpoll", "cope with interrupts misrouted by the crashed kernel"),
    // Tells drivers to reset hardware the crashed kernel left mid-DMA
    // instead of trusting its state.
    ("reset_devices", "drivers reset hardware left mid-DMA"),
    // If the capture kernel itself panics, reboot instead of hanging.
    ("panic=10", "reboot 10 s after a panic of the capture kernel"),
    // The memory controller's per-page bookkeeping costs memory.
    ("cgroup_disable=memory", "no memory cgroup bookkeeping"),
    // A machine check left over from the crash must not stop the capture.
    ("mce=off", "ignore machine checks left over from the crash"),
    // One NUMA node: no per-node structures for memory that is not usable.
    ("numa=off", "no per-node structures"),
    // No huge page allocations in a small, fragmented memory.
    ("transparent_hugepage=never", "no transparent huge pages"),
    // No contiguous memory areas carved out of the reservation.
    ("cma=0", "no contiguous memory area"),
    ("hugetlb_cma=0", "no huge page contiguous memory area"),
    // /dev/kmsg drops lines beyond 10 per 5 s by default, and a primary's
    // `printk.devkmsg=` would lock that; the capture's step messages and
    // its final error must all reach the log.
    ("printk.devkmsg=on", "every capture message reaches the log"),
];

/// Drivers blacklisted in the capture kernel. The capture initramfs loads
/// only the modules the dump target needs, but the kernel may still request
/// others (a device appearing on the bus). GPU drivers try to re-initialise
/// a GPU the crashed kernel left running, load large firmware and often hang
/// or run the small reservation out of memory; hypervisor modules (KVM) are
/// of no use to a capture and reprogram CPU virtualisation state. The
/// primary's own `module_blacklist=` entries are kept after these.
pub const DEFAULT_MODULE_BLACKLIST: &[&str] = &["kvm", "kvm_intel", "kvm_amd", "nouveau", "amdgpu", "radeon", "i915"];

/// One option removed from the primary's command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The option as it appeared (everything after `--` is one entry).
    pub option: String,
    /// Why it was dropped.
    pub why: &'static str,
}

/// The capture kernel's command line and what was left out of the primary's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureCmdline {
    pub line: String,
    pub dropped: Vec<Dropped>,
}

/// CPUs the capture kernel brings up by default (`[kernel] cpus`). Every
/// possible CPU costs per-CPU memory (areas, stacks, per-CPU page lists)
/// the small reservation must hold; more than one pays only for the
/// compression threads of the dump (docs/capture.md, "Capture CPUs").
pub const DEFAULT_CPUS: u32 = 1;
/// The most `[kernel] cpus` / `arm --cpus` accept.
pub const MAX_CPUS: u32 = 64;

/// `nr_cpus=N`: the kernel allocates per-CPU memory for N possible CPUs
/// only, where `maxcpus=` would still allocate it for every CPU the
/// firmware lists and merely leave them offline.
fn nr_cpus_option(cpus: u32) -> String {
    format!("nr_cpus={cpus}")
}

/// The CPU count a command line gives the kernel: its last `nr_cpus=`
/// (the kernel takes the last value), `None` without one.
pub fn nr_cpus_of(line: &str) -> Option<u32> {
    tokenize(line)
        .into_iter()
        .rev()
        .filter(|o| same_name(option_name(o), "nr_cpus"))
        .find_map(|o| option_value(o).and_then(|v| v.parse().ok()))
}

fn rule_for(name: &str) -> Option<&'static Rule> {
    DROP.iter().find(|r| match r.matches {
        Match::Key(k) => same_name(name, k),
        Match::Namespace(p) => starts_with_name(name, p),
    })
}

/// The name a `--cmdline-remove` argument stands for (`foo` and `foo=`
/// both mean option `foo`).
fn remove_name(key: &str) -> &str {
    let k = key.trim();
    k.strip_suffix('=').unwrap_or(k)
}

/// Builds the capture kernel's command line from the primary's.
/// `remove` holds option names (`KEY` removes `KEY` and `KEY=...`) taken
/// out of the primary's line and of kexdump's additions; `append` holds
/// strings added last, verbatim; `cpus` is the `nr_cpus=` kexdump adds.
pub fn capture_cmdline(primary: &str, remove: &[String], append: &[String], cpus: u32) -> CaptureCmdline {
    let removed = |name: &str| remove.iter().any(|k| !remove_name(k).is_empty() && same_name(name, remove_name(k)));
    let appended: Vec<&str> = append.iter().flat_map(|a| tokenize(a)).collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut dropped = Vec::new();
    let mut blacklist: Vec<String> = DEFAULT_MODULE_BLACKLIST.iter().map(|m| m.to_string()).collect();

    let tokens = tokenize(primary);
    for (i, &option) in tokens.iter().enumerate() {
        if option == "--" {
            // The kernel hands everything after `--` to init; options added
            // after it would never reach the kernel.
            dropped.push(Dropped {
                option: tokens[i..].join(" "),
                why: "arguments for the primary's init; options after `--` never reach the kernel",
            });
            break;
        }
        let name = option_name(option);
        let why = if removed(name) {
            Some("--cmdline-remove")
        } else if let Some(rule) = rule_for(name) {
            Some(rule.why)
        } else if ADD.iter().any(|(a, _)| same_name(option_name(a), name)) {
            Some(REPLACED)
        } else if appended.contains(&option) {
            Some("given again by --cmdline-append, added last")
        } else if option.bytes().filter(|&b| b == b'"').count() % 2 == 1 {
            Some("an unterminated quote would swallow every option added after it")
        } else {
            None
        };
        if same_name(name, "module_blacklist") {
            // A driver the primary keeps out is as unwelcome in the capture
            // kernel; keep its entries unless the whole option is removed.
            for m in option_value(option).unwrap_or("").split(',').map(str::trim) {
                if !m.is_empty() && !blacklist.iter().any(|b| b == m) {
                    blacklist.push(m.to_string());
                }
            }
        }
        match why {
            Some(why) => dropped.push(Dropped { option: option.to_string(), why }),
            None => kept.push(option),
        }
    }

    let mut line: Vec<String> = kept.iter().map(|s| s.to_string()).collect();
    if !removed("nr_cpus") {
        line.push(nr_cpus_option(cpus));
    }
    line.extend(ADD.iter().filter(|(a, _)| !removed(option_name(a))).map(|(a, _)| a.to_string()));
    if !removed("module_blacklist") {
        line.push(format!("module_blacklist={}", blacklist.join(",")));
    }
    line.extend(append.iter().map(|a| a.trim()).filter(|a| !a.is_empty()).map(str::to_string));
    CaptureCmdline { line: line.join(" "), dropped }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDED: &str = "nr_cpus=1 irqpoll reset_devices panic=10 cgroup_disable=memory mce=off numa=off \
        transparent_hugepage=never cma=0 hugetlb_cma=0 printk.devkmsg=on \
        module_blacklist=kvm,kvm_intel,kvm_amd,nouveau,amdgpu,radeon,i915";

    fn trim(primary: &str) -> String {
        capture_cmdline(primary, &[], &[], 1).line
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keeps_consoles_and_unknown_options_in_order() {
        assert_eq!(
            trim("console=tty0 foo console=ttyS0,115200n8 bar=1 earlyprintk=serial"),
            format!("console=tty0 foo console=ttyS0,115200n8 bar=1 earlyprintk=serial {ADDED}")
        );
    }

    #[test]
    fn drops_every_rule() {
        let cases = [
            "crashkernel=256M",
            "crashkernel=512M,high",
            "quiet",
            "splash",
            "hugepages=16",
            "hugepagesz=1G",
            "default_hugepagesz=1G",
            "root=UUID=1234",
            "rootflags=subvol=@",
            "rootfstype=ext4",
            "rootwait",
            "ro",
            "rw",
            "resume=/dev/sda2",
            "resume_offset=4096",
            "init=/bin/sh",
            "rdinit=/sbin/init",
            "BOOT_IMAGE=/vmlinuz-6.1.0",
            "initrd=\\initrd.img",
            "nr_cpus=8",
            "maxcpus=4",
            "irqpoll",
            "reset_devices",
            "panic=0",
            "module_blacklist=foo",
            "rd.lvm.lv=vg/root",
            "rd.luks.uuid=abcd",
            "rd.break",
            "systemd.unit=rescue.target",
            "systemd.show_status=0",
            // kexdump's own keys are replaced by kexdump's values.
            "cgroup_disable=cpu",
            "mce=bootlog",
            "numa=fake=4",
            "transparent_hugepage=always",
            "cma=64M",
            "hugetlb_cma=2G",
            // Names compare as the kernel compares them.
            "nr-cpus=2",
            "module-blacklist=bar",
            r#""root=/dev/my disk""#,
        ];
        for option in cases {
            let got = capture_cmdline(&format!("console=ttyS0 {option} keep"), &[], &[], 1);
            let expected_bl = match option {
                "module_blacklist=foo" => ",foo",
                "module-blacklist=bar" => ",bar",
                _ => "",
            };
            assert_eq!(got.line, format!("console=ttyS0 keep {ADDED}{expected_bl}"), "{option}");
            assert_eq!(got.dropped.len(), 1, "{option}");
            assert_eq!(got.dropped[0].option, option);
        }
    }

    #[test]
    fn similar_names_are_kept() {
        let line = "rootdelay=5 quietly rd panic_on_oops=1 systemd rd_NO_LUKS nr_cpus_x=1 console=ttyS0";
        assert_eq!(trim(line), format!("{line} {ADDED}"));
    }

    #[test]
    fn everything_after_double_dash_goes() {
        let got = capture_cmdline("console=ttyS0 -- single foo=bar", &[], &[], 1);
        assert_eq!(got.line, format!("console=ttyS0 {ADDED}"));
        assert_eq!(got.dropped[0].option, "-- single foo=bar");
        // A quoted "--" is an option, not the separator.
        assert_eq!(trim(r#"x="--" y"#), format!(r#"x="--" y {ADDED}"#));
    }

    #[test]
    fn primary_blacklist_is_merged_without_duplicates() {
        let got = trim("module_blacklist=nouveau,pcspkr,,floppy module_blacklist=\"pcspkr,snd\"");
        assert!(got.ends_with("module_blacklist=kvm,kvm_intel,kvm_amd,nouveau,amdgpu,radeon,i915,pcspkr,floppy,snd"));
        assert_eq!(got.matches("module_blacklist=").count(), 1);
    }

    #[test]
    fn remove_takes_options_from_both_sides() {
        let got = capture_cmdline(
            "console=ttyS0 foo foo=1 bar=2 intel_iommu=on",
            &strings(&["foo", "intel-iommu=", "numa", "module_blacklist", ""]),
            &[],
            1,
        );
        assert_eq!(
            got.line,
            "console=ttyS0 bar=2 nr_cpus=1 irqpoll reset_devices panic=10 cgroup_disable=memory mce=off \
             transparent_hugepage=never cma=0 hugetlb_cma=0 printk.devkmsg=on"
        );
        let whys: Vec<_> = got.dropped.iter().map(|d| (d.option.as_str(), d.why)).collect();
        assert_eq!(
            whys,
            [("foo", "--cmdline-remove"), ("foo=1", "--cmdline-remove"), ("intel_iommu=on", "--cmdline-remove")]
        );
    }

    #[test]
    fn an_unterminated_quote_is_dropped() {
        let got = capture_cmdline("console=ttyS0 foo=\"bar", &[], &[], 1);
        assert_eq!(got.line, format!("console=ttyS0 {ADDED}"));
        assert_eq!(got.dropped.len(), 1);
        assert_eq!(got.dropped[0].option, "foo=\"bar");
    }

    #[test]
    fn append_goes_last_verbatim() {
        let got = capture_cmdline("console=ttyS0", &[], &strings(&["nr_cpus=2", " a=\"x y\"  b ", "  "]), 1);
        assert_eq!(got.line, format!("console=ttyS0 {ADDED} nr_cpus=2 a=\"x y\"  b"));
    }

    #[test]
    fn cpus_sets_nr_cpus_in_place_of_the_primarys() {
        let got = capture_cmdline("console=ttyS0 nr_cpus=8 maxcpus=4", &[], &[], 2);
        assert_eq!(got.line, format!("console=ttyS0 {}", ADDED.replacen("nr_cpus=1", "nr_cpus=2", 1)));
        let whys: Vec<_> = got.dropped.iter().map(|d| (d.option.as_str(), d.why)).collect();
        assert_eq!(
            whys,
            [
                ("nr_cpus=8", REPLACED),
                ("maxcpus=4", "nr_cpus=, added below, decides how many CPUs the capture kernel brings up")
            ]
        );
        assert_eq!(nr_cpus_of(&got.line), Some(2));
        // Removed, kexdump adds none; appended, the last one is the kernel's.
        let got = capture_cmdline("console=ttyS0", &strings(&["nr_cpus"]), &[], 2);
        assert_eq!(nr_cpus_of(&got.line), None);
        let got = capture_cmdline("console=ttyS0", &[], &strings(&["nr-cpus=\"3\""]), 2);
        assert_eq!(nr_cpus_of(&got.line), Some(3));
        assert_eq!(nr_cpus_of("nr_cpus=x"), None);
    }

    #[test]
    fn trimming_is_idempotent() {
        let lines = [
            "",
            "BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 root=UUID=0a1b ro quiet splash crashkernel=256M console=tty0 console=ttyS0,115200",
            "console=ttyS0 module_blacklist=pcspkr rd.luks.uuid=x systemd.unit=multi-user.target foo=\"a b\" -- single",
            "nr_cpus=1 irqpoll reset_devices panic=10 novmcoredd module_blacklist=kvm",
        ];
        let removes = [vec![], strings(&["foo", "numa"])];
        let appends = [vec![], strings(&["console=ttyS1 x=1", "nokaslr"])];
        for line in lines {
            for remove in &removes {
                for append in &appends {
                    for cpus in [1, 4] {
                        let once = capture_cmdline(line, remove, append, cpus).line;
                        let twice = capture_cmdline(&once, remove, append, cpus).line;
                        assert_eq!(once, twice, "{line:?} {remove:?} {append:?} {cpus}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_typical_debian_line() {
        let got = capture_cmdline(
            "BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 root=UUID=0a1b ro quiet crashkernel=256M console=ttyS0,115200n8",
            &[],
            &strings(&["nokaslr"]),
            1,
        );
        assert_eq!(got.line, format!("console=ttyS0,115200n8 {ADDED} nokaslr"));
        let dropped: Vec<_> = got.dropped.iter().map(|d| d.option.as_str()).collect();
        assert_eq!(
            dropped,
            ["BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64", "root=UUID=0a1b", "ro", "quiet", "crashkernel=256M"]
        );
    }
}
