//! What to load, and whether it can be loaded: a request (kernel,
//! initramfs, where the command line comes from) checked against the
//! running system, without loading anything.

use super::capture_cmdline::{self, Dropped};
use super::error::ArmError;
use super::kernel_state::{crash_size, online_cpus, primary_cmdline};
use super::sizes::{check_fits, file_size, sizes, Sizes};
use std::path::{Path, PathBuf};

/// On x86 the kernel writes `elfcorehdr=0x<address> ` into the capture
/// kernel's command line and reserves this many bytes for it
/// (`MAX_ELFCOREHDR_STR_LEN` in arch/x86/kernel/kexec-bzimage64.c).
const ELFCOREHDR_RESERVE: usize = 30;

/// The running kernel's own image, `/boot/vmlinuz-<release>`.
pub fn default_kernel(root: &Path, release: &str) -> PathBuf {
    root.join("boot").join(format!("vmlinuz-{release}"))
}

/// Whether a command line fits what the kernel image accepts.
pub fn check_cmdline(cmdline: &str, cmdline_size: Option<u32>, kernel: &Path) -> Result<(), ArmError> {
    if cmdline.contains('\0') {
        return Err(ArmError::CmdlineNul);
    }
    if let Some(size) = cmdline_size {
        // The kernel wants length + NUL + the elfcorehdr= room <= cmdline_size.
        let max = (size as usize).saturating_sub(ELFCOREHDR_RESERVE + 1);
        if cmdline.len() > max {
            return Err(ArmError::CmdlineTooLong { len: cmdline.len(), max, kernel: kernel.to_path_buf() });
        }
    }
    Ok(())
}

/// Where the capture command line comes from.
#[derive(Clone, Debug)]
pub enum CmdlineSource {
    /// Exactly this line (`--cmdline`).
    Full(String),
    /// Derived from /proc/cmdline (see capture_cmdline.rs), with
    /// `nr_cpus=<cpus>`.
    Derived { remove: Vec<String>, append: Vec<String>, cpus: u32 },
}

/// What to load.
#[derive(Clone, Debug)]
pub struct Request {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// The initrd's size when `initrd` is not there yet (a dry run before
    /// the image's first build); `None`: the file's size.
    pub initrd_bytes: Option<u64>,
    pub cmdline: CmdlineSource,
}

/// What will be loaded, checked against the running system.
#[derive(Clone, Debug)]
pub struct Plan {
    pub sizes: Sizes,
    pub cmdline: String,
    /// Options of /proc/cmdline left out, with the reason.
    pub dropped: Vec<Dropped>,
    /// The capture kernel's CPUs: the command line's last `nr_cpus=`
    /// (`None`: it has none, and the kernel brings up every CPU).
    pub nr_cpus: Option<u32>,
    /// CPUs online in the running kernel, when known.
    pub online_cpus: Option<u32>,
}

impl Plan {
    /// Asking the capture kernel for more CPUs than this machine has online
    /// now only costs reservation memory: the capture kernel brings up no
    /// more than the firmware lists. Worth a warning, not a refusal (CPUs
    /// may be offlined now and back after the crash).
    pub fn more_cpus_than_online(&self) -> Option<String> {
        match (self.nr_cpus, self.online_cpus) {
            (Some(n), Some(online)) if n > online => Some(format!(
                "the capture kernel is given nr_cpus={n}, but only {online} CPUs are online here: it will bring \
                 up at most as many as the machine has, and the reservation pays for {n}"
            )),
            _ => None,
        }
    }
}

/// Reads the system's state under `root` and checks the request against
/// it, without loading anything.
pub fn plan(root: &Path, req: &Request) -> Result<Plan, ArmError> {
    let crash_size = crash_size(root)?;
    let (cmdline, dropped) = match &req.cmdline {
        CmdlineSource::Full(line) => (line.trim().to_string(), Vec::new()),
        CmdlineSource::Derived { remove, append, cpus } => {
            let primary = primary_cmdline(root)?;
            let c = capture_cmdline::capture_cmdline(&primary, remove, append, *cpus);
            (c.line, c.dropped)
        }
    };
    let nr_cpus = capture_cmdline::nr_cpus_of(&cmdline);
    // Without nr_cpus= the capture kernel brings up every CPU: count those
    // online now, else one.
    let online = online_cpus(root);
    let cpus = nr_cpus.or(online).unwrap_or(1).max(1);
    let initrd_size = match req.initrd_bytes {
        Some(n) => n,
        None => file_size(&req.initrd)?,
    };
    let (sizes, header) = sizes(crash_size, &req.kernel, &req.initrd, initrd_size, cpus)?;
    check_fits(&sizes)?;
    check_cmdline(&cmdline, header.and_then(|h| h.cmdline_size), &req.kernel)?;
    Ok(Plan { sizes, cmdline, dropped, nr_cpus, online_cpus: online })
}

/// A fake root for the tests of arming.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;
    use crate::arming::bzimage;
    use crate::arming::kernel_state::{CPUS_ONLINE, CRASH_LOADED, CRASH_SIZE, PROC_CMDLINE};
    use std::fs;

    /// A fake root: proc/ and sys/ files, a kernel and an initrd.
    pub struct Tree {
        dir: tempfile::TempDir,
    }

    impl Tree {
        pub fn new() -> Tree {
            let t = Tree { dir: tempfile::tempdir().expect("tempdir") };
            t.write(CRASH_SIZE, "268435456\n");
            t.write(CRASH_LOADED, "0\n");
            t.write(CPUS_ONLINE, "0-1\n");
            t.write(
                PROC_CMDLINE,
                "BOOT_IMAGE=/boot/vmlinuz-6.1.0 root=/dev/vda1 ro quiet crashkernel=256M console=ttyS0\n",
            );
            t.write_bytes("boot/vmlinuz-6.1.0", &bzimage::fake(0x020f, 2047, 0x3f98000));
            t.write_bytes("capture.img", &vec![0u8; 2 << 20]);
            t
        }

        pub fn root(&self) -> &Path {
            self.dir.path()
        }

        pub fn write(&self, rel: &str, text: &str) {
            self.write_bytes(rel, text.as_bytes());
        }

        pub fn write_bytes(&self, rel: &str, b: &[u8]) {
            let p = self.root().join(rel);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(p, b).expect("write");
        }

        pub fn remove(&self, rel: &str) {
            fs::remove_file(self.root().join(rel)).expect("remove");
        }

        pub fn request(&self) -> Request {
            Request {
                kernel: default_kernel(self.root(), "6.1.0"),
                initrd: self.root().join("capture.img"),
                initrd_bytes: None,
                cmdline: CmdlineSource::Derived { remove: vec![], append: vec![], cpus: 1 },
            }
        }

        pub fn plan(&self) -> Result<Plan, ArmError> {
            plan(self.root(), &self.request())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::Tree;
    use super::*;
    use crate::arming::kernel_state::{CRASH_SIZE, PROC_CMDLINE};
    use crate::arming::sizes::{tight, MIB};

    #[test]
    fn plans_on_a_good_tree() {
        let t = Tree::new();
        let p = t.plan().expect("plan");
        assert_eq!(p.sizes.crash_size, 256 * MIB);
        assert_eq!(p.sizes.kernel_load, 0x3f98000);
        assert_eq!(p.sizes.initrd_size, 2 * MIB);
        assert!(p.cmdline.starts_with("console=ttyS0 nr_cpus=1 "), "{}", p.cmdline);
        assert_eq!(p.dropped.len(), 5);
        assert!(!tight(&p.sizes));
        assert_eq!(p.sizes.suggested_crashkernel(), "crashkernel=96M");
    }

    #[test]
    fn cpus_set_nr_cpus_and_the_memory_they_need() {
        let t = Tree::new();
        let p = t.plan().expect("plan");
        assert_eq!((p.nr_cpus, p.online_cpus, p.sizes.cpus), (Some(1), Some(2), 1));
        assert!(p.more_cpus_than_online().is_none());
        let with = |cpus| {
            let mut req = t.request();
            req.cmdline = CmdlineSource::Derived { remove: vec![], append: vec![], cpus };
            plan(t.root(), &req).expect("plan")
        };
        let two = with(2);
        assert!(two.cmdline.starts_with("console=ttyS0 nr_cpus=2 "), "{}", two.cmdline);
        assert_eq!(two.sizes.runtime_headroom(), p.sizes.runtime_headroom() + 2 * MIB);
        assert!(two.more_cpus_than_online().is_none());
        // 65.6 MiB loaded + 16 MiB + 4 x 2 MiB + 3 x 2 MiB: still 96M; one more CPU is not.
        assert_eq!(with(4).sizes.suggested_crashkernel(), "crashkernel=96M");
        assert_eq!(with(5).sizes.suggested_crashkernel(), "crashkernel=112M");
        let w = with(4).more_cpus_than_online().expect("a warning");
        assert!(w.contains("nr_cpus=4") && w.contains("only 2 CPUs are online"), "{w}");
        // A full command line's nr_cpus= counts; without one, every CPU online now.
        let mut req = t.request();
        req.cmdline = CmdlineSource::Full("console=ttyS0 nr_cpus=3".into());
        assert_eq!(plan(t.root(), &req).unwrap().sizes.cpus, 3);
        req.cmdline = CmdlineSource::Full("console=ttyS0".into());
        let p = plan(t.root(), &req).unwrap();
        assert_eq!((p.nr_cpus, p.sizes.cpus), (None, 2));
    }

    #[test]
    fn full_cmdline_skips_proc() {
        let t = Tree::new();
        t.remove(PROC_CMDLINE);
        let mut req = t.request();
        req.cmdline = CmdlineSource::Full(" console=ttyS0 quiet \n".into());
        let p = plan(t.root(), &req).expect("plan");
        assert_eq!(p.cmdline, "console=ttyS0 quiet");
        assert!(p.dropped.is_empty());
    }

    #[test]
    fn no_reservation() {
        let t = Tree::new();
        t.write(CRASH_SIZE, "0\n");
        let e = t.plan().expect_err("no reservation");
        assert!(matches!(&e, ArmError::NoReservation { path } if path == &t.root().join(CRASH_SIZE)), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("no crashkernel= reservation: add crashkernel=256M"), "{msg}");
        assert!(msg.contains("sys/kernel/kexec_crash_size"), "{msg}");
    }

    #[test]
    fn missing_crash_size_means_no_kernel_support() {
        let t = Tree::new();
        t.remove(CRASH_SIZE);
        let e = t.plan().expect_err("no support");
        assert!(matches!(&e, ArmError::NoCrashSupport { path } if path == &t.root().join(CRASH_SIZE)), "{e:?}");
        assert!(e.to_string().contains("CONFIG_KEXEC_FILE/CONFIG_CRASH_DUMP"));
    }

    #[test]
    fn malformed_crash_size() {
        let t = Tree::new();
        t.write(CRASH_SIZE, "lots\n");
        assert!(matches!(t.plan(), Err(ArmError::Malformed { content, .. }) if content == "lots\n"));
    }

    #[test]
    fn missing_proc_cmdline() {
        let t = Tree::new();
        t.remove(PROC_CMDLINE);
        let e = t.plan().expect_err("no cmdline");
        assert!(matches!(&e, ArmError::Read { path, .. } if path == &t.root().join(PROC_CMDLINE)), "{e:?}");
    }

    #[test]
    fn missing_images_are_named() {
        let t = Tree::new();
        let mut req = t.request();
        req.initrd = t.root().join("nope.img");
        let e = plan(t.root(), &req).expect_err("no initrd");
        assert!(matches!(&e, ArmError::Read { path, .. } if path == &req.initrd), "{e:?}");
        assert!(e.to_string().contains("nope.img"));

        let mut req = t.request();
        req.kernel = default_kernel(t.root(), "9.9.9");
        let e = plan(t.root(), &req).expect_err("no kernel");
        assert!(e.to_string().contains("boot/vmlinuz-9.9.9"), "{e}");

        let mut req = t.request();
        req.initrd = t.root().join("boot");
        assert!(matches!(plan(t.root(), &req), Err(ArmError::NotAFile { .. })));
    }

    #[test]
    fn tiny_reservation() {
        let t = Tree::new();
        // 64M cannot hold a 63.6 MiB kernel and a 2 MiB initrd.
        t.write(CRASH_SIZE, &(64 * MIB).to_string());
        let e = t.plan().expect_err("too small");
        let ArmError::TooSmall(s) = &e else { panic!("{e:?}") };
        assert_eq!(s.needed_to_load(), 0x3f98000 + 2 * MIB);
        let msg = e.to_string();
        assert!(msg.contains("65.6 MiB") && msg.contains("crashkernel=96M"), "{msg}");
        assert!(msg.contains("vmlinuz-6.1.0") && msg.contains("capture.img"), "{msg}");
    }

    #[test]
    fn tight_reservation_loads_with_a_warning() {
        let t = Tree::new();
        t.write(CRASH_SIZE, &(80 * MIB).to_string());
        let p = t.plan().expect("fits");
        assert!(tight(&p.sizes));
        // 96M captured in the measurements: no warning.
        t.write(CRASH_SIZE, &(96 * MIB).to_string());
        assert!(!tight(&t.plan().expect("fits").sizes));
    }

    #[test]
    fn file_size_counts_without_a_boot_header() {
        let t = Tree::new();
        t.write_bytes("boot/vmlinuz-6.1.0", &vec![1u8; 3 << 20]);
        t.write(CRASH_SIZE, &(4 * MIB).to_string());
        let ArmError::TooSmall(s) = t.plan().expect_err("too small") else { panic!() };
        assert_eq!((s.kernel_load, s.kernel_file), (3 * MIB, 3 * MIB));
    }

    #[test]
    fn command_line_length_follows_the_boot_header() {
        let t = Tree::new();
        let mut req = t.request();
        req.cmdline = CmdlineSource::Full("x".repeat(2016));
        plan(t.root(), &req).expect("2016 bytes fit");
        req.cmdline = CmdlineSource::Full("x".repeat(2017));
        let e = plan(t.root(), &req).expect_err("too long");
        assert!(matches!(e, ArmError::CmdlineTooLong { len: 2017, max: 2016, .. }), "{e:?}");
        assert!(matches!(check_cmdline("a\0b", None, Path::new("k")), Err(ArmError::CmdlineNul)));
    }
}
