//! Loading and unloading the capture kernel: `kexec_file_load(2)`
//! ([`super::kexec`]), or kexec-tools' `kexec -p` where that system call
//! does not exist, never to get around a refusal; and what each failure
//! means.

use super::error::ArmError;
use super::kernel_state::{load_disabled, lockdown, lockdown_active, LOAD_DISABLED};
use super::kexec;
use super::plan::Plan;
use crate::system::identity;
use std::ffi::{CString, OsString};
use std::fs::File;
use std::io;
use std::path::Path;
use std::process::Command;

/// How to load and unload (`--method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// kexec_file_load(2); kexec-tools only where the call does not exist (ENOSYS).
    Auto,
    /// kexec_file_load(2) only.
    Syscall,
    /// kexec-tools' `kexec -p` only.
    KexecTools,
}

/// What a failed `kexec_file_load` means for `--method auto`.
#[derive(Debug)]
pub enum Failure {
    /// The call does not exist here (ENOSYS): kexec-tools may be tried.
    Unsupported(io::Error),
    /// A final error.
    Fatal(ArmError),
}

/// Explains a failed load. Signature and lockdown refusals are final:
/// falling back to the older `kexec_load` would be refused as well, and
/// must not be used to get around them.
pub fn explain_load_error(root: &Path, err: io::Error, plan: &Plan) -> Failure {
    let kernel = plan.sizes.kernel.clone();
    let errno = err.raw_os_error().unwrap_or(0);
    match errno {
        libc::ENOSYS => Failure::Unsupported(err),
        libc::EPERM if load_disabled(root) => Failure::Fatal(ArmError::LoadDisabled {
            path: root.join(LOAD_DISABLED),
            op: "kexec_file_load",
            source: err,
        }),
        libc::EPERM if !lockdown_active(root) => {
            Failure::Fatal(ArmError::NoCapability { op: "kexec_file_load", source: err })
        }
        libc::EPERM | libc::EKEYREJECTED | libc::EBADMSG | libc::ENOKEY | libc::ENODATA => {
            Failure::Fatal(ArmError::Refused { kernel, source: err, lockdown: lockdown(root) })
        }
        libc::ENOMEM | libc::EADDRNOTAVAIL | libc::EINVAL => {
            Failure::Fatal(ArmError::NoRoom { sizes: plan.sizes.clone(), cmdline_len: plan.cmdline.len(), source: err })
        }
        libc::ENOEXEC => Failure::Fatal(ArmError::BadImage { kernel, source: err }),
        _ => Failure::Fatal(ArmError::Syscall { op: "kexec_file_load", source: err }),
    }
}

/// Explains a failed unload.
pub fn explain_unload_error(root: &Path, err: io::Error) -> Failure {
    match err.raw_os_error() {
        Some(libc::ENOSYS) => Failure::Unsupported(err),
        Some(libc::EPERM) if load_disabled(root) => Failure::Fatal(ArmError::LoadDisabled {
            path: root.join(LOAD_DISABLED),
            op: "unloading with kexec_file_load",
            source: err,
        }),
        Some(libc::EPERM) => {
            Failure::Fatal(ArmError::NoCapability { op: "unloading with kexec_file_load", source: err })
        }
        _ => Failure::Fatal(ArmError::Syscall { op: "unloading with kexec_file_load", source: err }),
    }
}

/// How the capture kernel was (or would be) loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loader {
    Syscall,
    KexecTools,
}

impl Loader {
    pub fn name(self) -> &'static str {
        match self {
            Loader::Syscall => "kexec_file_load",
            Loader::KexecTools => "kexec-tools",
        }
    }
}

/// The argv of kexec-tools' load command (no shell involved).
pub fn kexec_tools_load_args(plan: &Plan) -> Vec<OsString> {
    let mut initrd = OsString::from("--initrd=");
    initrd.push(&plan.sizes.initrd);
    vec!["-p".into(), plan.sizes.kernel.clone().into_os_string(), initrd, format!("--append={}", plan.cmdline).into()]
}

fn run_kexec(args: &[OsString], after_enosys: bool) -> Result<(), ArmError> {
    let out = Command::new("kexec")
        .args(args)
        .output()
        .map_err(|source| ArmError::KexecToolsMissing { after_enosys, source })?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        if !stderr.trim().is_empty() {
            eprintln!("kexec: {}", stderr.trim());
        }
        return Ok(());
    }
    let command = std::iter::once("kexec".to_string())
        .chain(args.iter().map(|a| shell_quoted(&a.to_string_lossy())))
        .collect::<Vec<_>>()
        .join(" ");
    Err(ArmError::KexecTools { command, status: out.status.to_string(), stderr })
}

/// An argument as a shell would need it, for messages only (kexec runs
/// without a shell).
fn shell_quoted(arg: &str) -> String {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_=/.,:+@%".contains(&b);
    if !arg.is_empty() && arg.bytes().all(plain) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

pub fn require_root() -> Result<(), ArmError> {
    match identity::effective_uid() {
        0 => Ok(()),
        euid => Err(ArmError::NotRoot { euid }),
    }
}

fn open(path: &Path) -> Result<File, ArmError> {
    File::open(path).map_err(|source| ArmError::Read { path: path.to_path_buf(), source })
}

/// Loads the plan; returns how.
pub fn load(root: &Path, plan: &Plan, method: Method) -> Result<Loader, ArmError> {
    if method != Method::KexecTools {
        let kernel = open(&plan.sizes.kernel)?;
        let initrd = open(&plan.sizes.initrd)?;
        let cmdline = CString::new(plan.cmdline.as_str()).map_err(|_| ArmError::CmdlineNul)?;
        let err = match kexec::load_crash_kernel(&kernel, &initrd, &cmdline) {
            Ok(()) => return Ok(Loader::Syscall),
            Err(e) => e,
        };
        match explain_load_error(root, err, plan) {
            Failure::Unsupported(source) if method == Method::Syscall => return Err(ArmError::NoSyscall { source }),
            Failure::Unsupported(_) => eprintln!("kexdump: kexec_file_load is not available; loading with kexec-tools"),
            Failure::Fatal(e) => return Err(e),
        }
    }
    run_kexec(&kexec_tools_load_args(plan), method == Method::Auto)?;
    Ok(Loader::KexecTools)
}

/// Unloads the crash kernel; returns how.
pub fn unload(root: &Path, method: Method) -> Result<Loader, ArmError> {
    if method != Method::KexecTools {
        let err = match kexec::unload_crash_kernel() {
            Ok(()) => return Ok(Loader::Syscall),
            Err(e) => e,
        };
        match explain_unload_error(root, err) {
            Failure::Unsupported(source) if method == Method::Syscall => return Err(ArmError::NoSyscall { source }),
            Failure::Unsupported(_) => {
                eprintln!("kexdump: kexec_file_load is not available; unloading with kexec-tools")
            }
            Failure::Fatal(e) => return Err(e),
        }
    }
    run_kexec(&["-p".into(), "-u".into()], method == Method::Auto)?;
    Ok(Loader::KexecTools)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arming::kernel_state::LOCKDOWN;
    use crate::arming::plan::fixture::Tree;
    use crate::arming::plan::{plan, CmdlineSource};

    fn errno(e: i32) -> io::Error {
        io::Error::from_raw_os_error(e)
    }

    #[test]
    fn load_errors_are_explained() {
        let t = Tree::new();
        let p = t.plan().expect("plan");
        let explain = |e| explain_load_error(t.root(), errno(e), &p);
        assert!(matches!(explain(libc::ENOSYS), Failure::Unsupported(_)));
        for e in [libc::EPERM, libc::EKEYREJECTED, libc::EBADMSG, libc::ENOKEY, libc::ENODATA] {
            let Failure::Fatal(err) = explain(e) else { panic!("{e} must not fall back") };
            assert!(matches!(err, ArmError::Refused { .. }), "{err:?}");
            let msg = err.to_string();
            assert!(msg.contains("signed") && msg.contains("does not fall back"), "{msg}");
            assert!(msg.contains("vmlinuz-6.1.0"), "{msg}");
        }
        for e in [libc::ENOMEM, libc::EADDRNOTAVAIL, libc::EINVAL] {
            let Failure::Fatal(err) = explain(e) else { panic!() };
            let msg = err.to_string();
            assert!(matches!(err, ArmError::NoRoom { .. }), "{err:?}");
            assert!(
                msg.contains("256.0 MiB") && msg.contains("63.6 MiB once loaded") && msg.contains("2.0 MiB"),
                "{msg}"
            );
        }
        assert!(matches!(explain(libc::ENOEXEC), Failure::Fatal(ArmError::BadImage { .. })));
        assert!(matches!(explain(libc::EBUSY), Failure::Fatal(ArmError::Syscall { .. })));
    }

    #[test]
    fn lockdown_and_disabled_kexec_are_told_apart() {
        let t = Tree::new();
        let p = t.plan().expect("plan");
        t.write(LOCKDOWN, "none [integrity] confidentiality\n");
        let Failure::Fatal(e) = explain_load_error(t.root(), errno(libc::EPERM), &p) else { panic!() };
        assert!(e.to_string().contains("reads \"none [integrity] confidentiality\""), "{e}");
        t.write(LOAD_DISABLED, "1\n");
        let Failure::Fatal(e) = explain_load_error(t.root(), errno(libc::EPERM), &p) else { panic!() };
        assert!(matches!(&e, ArmError::LoadDisabled { path, .. } if path == &t.root().join(LOAD_DISABLED)), "{e:?}");
        let Failure::Fatal(e) = explain_unload_error(t.root(), errno(libc::EPERM)) else { panic!() };
        assert!(matches!(e, ArmError::LoadDisabled { .. }));
        assert!(matches!(explain_unload_error(t.root(), errno(libc::ENOSYS)), Failure::Unsupported(_)));
    }

    #[test]
    fn eperm_without_lockdown_is_a_missing_capability() {
        let t = Tree::new();
        let p = t.plan().expect("plan");
        t.write(LOCKDOWN, "[none] integrity confidentiality\n");
        let Failure::Fatal(e) = explain_load_error(t.root(), errno(libc::EPERM), &p) else { panic!() };
        assert!(matches!(e, ArmError::NoCapability { .. }), "{e:?}");
        assert!(e.to_string().contains("CAP_SYS_BOOT"), "{e}");
        let Failure::Fatal(e) = explain_load_error(t.root(), errno(libc::EKEYREJECTED), &p) else { panic!() };
        assert!(matches!(e, ArmError::Refused { .. }), "a rejected key is a signature refusal whatever the mode");
        let Failure::Fatal(e) = explain_unload_error(t.root(), errno(libc::EPERM)) else { panic!() };
        assert!(matches!(e, ArmError::NoCapability { .. }), "{e:?}");
    }

    #[test]
    fn kexec_tools_argv() {
        let t = Tree::new();
        let mut req = t.request();
        req.cmdline = CmdlineSource::Full("console=ttyS0 a=\"b c\"".into());
        let p = plan(t.root(), &req).expect("plan");
        let args = kexec_tools_load_args(&p);
        assert_eq!(args.len(), 4);
        assert_eq!(args[0], "-p");
        assert_eq!(args[1], t.root().join("boot/vmlinuz-6.1.0").into_os_string());
        assert_eq!(args[2], OsString::from(format!("--initrd={}", t.root().join("capture.img").display())));
        assert_eq!(args[3], "--append=console=ttyS0 a=\"b c\"");
        assert_eq!(shell_quoted("--initrd=/boot/x.img"), "--initrd=/boot/x.img");
        assert_eq!(shell_quoted("--append=a b"), "'--append=a b'");
        assert_eq!(shell_quoted("it's"), "'it'\\''s'");
        assert_eq!(shell_quoted(""), "''");
    }
}
