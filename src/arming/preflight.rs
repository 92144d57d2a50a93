//! `kexdump arm --dry-run` as a preflight checklist: every check is run,
//! whatever failed before it, so the operator sees the whole list with a
//! fix for each problem instead of one error at a time.

use super::capture_image::{self, Decision};
use super::kernel_state::{crash_size, load_disabled, lockdown};
use super::plan::{plan, Request};
use super::prepare::cmdline_source;
use super::sequence::refuse_another_services_kernel;
use super::sizes::mib;
use super::ArmOptions;
use crate::config::Config;
use crate::known_hosts;
use crate::remote_target::{self, Remote};
use crate::system::network::{self, NetProbe};
use crate::system::{capture_bin, identity};
use kexdump_engine::capture_config::Target;
use serde::Serialize;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

/// The check whose failure makes `arm --dry-run` exit 3, as `status` does.
pub const RESERVATION: &str = "crashkernel= reservation";

/// One line of the checklist.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// What was found, or what is wrong and how to fix it.
    pub detail: String,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, ok: true, detail: detail.into() }
    }
    fn fail(name: &'static str, detail: impl std::fmt::Display) -> Check {
        Check { name, ok: false, detail: format!("{detail:#}") }
    }
}

/// Every check `kexdump arm` makes before loading, on the machine under
/// `root`; nothing is written. With `--initrd` the configuration's image
/// checks are left out (`arm` reads no configuration then).
pub fn preflight(root: &Path, a: &ArmOptions) -> Vec<Check> {
    let mut out = Vec::new();
    let euid = identity::effective_uid();
    out.push(if euid == 0 {
        Check::ok("root", "runs as root")
    } else {
        Check::fail("root", format!("runs as uid {euid}; arming needs root: run it with sudo"))
    });
    let reserved = crash_size(root);
    out.push(match &reserved {
        Ok(n) => Check::ok(RESERVATION, format!("{} reserved", mib(*n))),
        Err(e) => Check::fail(RESERVATION, e),
    });
    out.push(if load_disabled(root) {
        Check::fail(
            "kexec allowed",
            "kernel.kexec_load_disabled is 1: loading is off until the next boot (set by a hardening \
             policy); remove that setting and reboot",
        )
    } else {
        let mode = lockdown(root).map_or("no lockdown reported".to_owned(), |(_, m)| format!("lockdown {m}"));
        Check::ok("kexec allowed", mode)
    });
    out.push(match refuse_another_services_kernel(root) {
        Ok(()) => Check::ok("no other kdump service", "no capture kernel loaded by another service"),
        Err(e) => Check::fail("no other kdump service", e),
    });
    if let Some(initrd) = &a.initrd {
        out.push(Check::ok("capture initramfs", format!("{} (given with --initrd)", initrd.display())));
        return out;
    }
    let config = match Config::load(root, a.config.as_deref()) {
        Ok(c) => {
            out.push(Check::ok(
                "configuration",
                c.file().map_or("none: the defaults".to_owned(), |f| f.display().to_string()),
            ));
            c
        }
        Err(e) => {
            out.push(Check::fail("configuration", format!("{e}; `kexdump config` shows the file's errors")));
            return out;
        }
    };
    if config.remote_url().is_some() {
        remote_checks(root, &config, &network::Live, REMOTE_TIMEOUT, &mut out);
        if !config.target.fallback.is_empty() {
            out.push(match crate::dump_target::check::check(root, &config) {
                Ok(()) => Check::ok("fallback target", format!("{} is there and writable", config.target.fallback)),
                Err(e) => Check::fail("fallback target", e),
            });
        }
    } else {
        out.push(match crate::dump_target::check::check(root, &config) {
            Ok(()) => Check::ok("dump target", format!("{} is there and writable", config.target.target)),
            Err(e) => Check::fail("dump target", e),
        });
    }
    let bin = match &a.capture_bin {
        Some(p) if p.is_file() => Ok(p.clone()),
        Some(p) => Err(anyhow::anyhow!("{}: not a file (--capture-bin)", p.display())),
        None => capture_bin::find(),
    };
    let bin = match bin {
        Ok(b) => {
            out.push(Check::ok("capture binary", b.display().to_string()));
            b
        }
        Err(e) => {
            out.push(Check::fail("capture binary", e));
            return out;
        }
    };
    let sources = match capture_image::sources(root, &config, a.kernel.as_deref(), a.modules_dir.as_deref(), bin) {
        Ok(s) => {
            out.push(Check::ok("capture kernel", s.kernel.display().to_string()));
            s
        }
        Err(e) => {
            out.push(Check::fail("capture kernel", e));
            return out;
        }
    };
    let inputs = match capture_image::inputs(&sources) {
        Ok(i) => i,
        Err(e) => {
            out.push(Check::fail("capture initramfs", e));
            return out;
        }
    };
    let initrd_bytes = match capture_image::decide(&sources.image, &inputs, a.rebuild) {
        Decision::UpToDate(_) => {
            out.push(Check::ok("capture initramfs", format!("{} is up to date", sources.image.display())));
            None
        }
        Decision::Rebuild(why) => {
            out.push(Check::ok("capture initramfs", format!("arm will build it: {}", why.join("; "))));
            (!sources.image.is_file()).then_some(0)
        }
    };
    if reserved.is_err() {
        return out;
    }
    let k = &config.kernel;
    let cmdline = cmdline_source(a, &k.cmdline_remove, &k.cmdline_append, Some(k.cpus()));
    let req = Request { kernel: sources.kernel.clone(), initrd: sources.image.clone(), initrd_bytes, cmdline };
    out.push(match plan(root, &req) {
        Ok(p) => Check::ok("fits the reservation", p.sizes.to_string()),
        Err(e) => Check::fail("fits the reservation", e),
    });
    out
}

/// The deadline of each network step of the remote checks.
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(5);

/// A remote target: the way there, its host key, a real login (ssh) or
/// the NFS port answering.
pub fn remote_checks(root: &Path, config: &Config, probe: &dyn NetProbe, timeout: Duration, out: &mut Vec<Check>) {
    let remote = match Remote::of(config, probe) {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => return out.push(Check::fail("network", e)),
    };
    let server = match remote.target {
        Target::Ssh(ref t) => t.addr.ip(),
        Target::Nfs(ref t) => t.server,
        _ => return,
    };
    let n = &config.network;
    let wanted = network::Wanted {
        interface: &n.interface,
        address: &n.address,
        gateway: &n.gateway,
        mtu: u32::try_from(n.mtu).unwrap_or(0),
        driver: &n.driver,
    };
    let IpAddr::V4(v4) = server else { return };
    out.push(match network::resolve(root, probe, v4, &wanted) {
        Ok(r) => Check::ok("network", format!("{server} through {}", network::describe(&r))),
        Err(e) => Check::fail("network", e.msg),
    });
    match remote.ssh() {
        Some(t) => {
            match remote_target::known_host_key(root, config, &remote, t) {
                Ok(k) => {
                    let fp = remote_target::fingerprint(&k).unwrap_or_default();
                    out.push(Check::ok(
                        "known host",
                        format!("{} {fp} in {}", known_hosts::host_field(t.addr), config.ssh.known_hosts),
                    ));
                }
                Err(e) => {
                    out.push(Check::fail("known host", e));
                    return;
                }
            }
            out.push(match remote_target::ssh_params(root, config, &remote, timeout) {
                Err(e) => Check::fail("ssh login", e),
                Ok(p) => match remote_target::ssh_login(&p, &t.dir) {
                    Ok(free) => {
                        let free =
                            free.map_or("free space unknown".into(), |b| format!("{} free in {}", mib(b), t.dir));
                        Check::ok("ssh login", format!("{}@{} with {}: {free}", t.user, t.addr, config.ssh.identity))
                    }
                    Err(e) => Check::fail("ssh login", remote_target::explain(&e, t)),
                },
            });
        }
        None => out.push(match remote_target::nfs_answers(server, timeout) {
            Ok(()) => Check::ok("nfs server", format!("{server}:{} answers", remote_target::NFS_PORT)),
            Err(e) => Check::fail("nfs server", e),
        }),
    }
}

/// The checklist for people: a ✓ or ✗ line per check.
pub fn print_text(checks: &[Check]) {
    for c in checks {
        println!("{} {}: {}", if c.ok { "✓" } else { "✗" }, c.name, c.detail);
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed == 0 {
        println!("kexdump: every check passed: `kexdump arm` would arm");
    } else {
        println!("kexdump: {failed} of {} checks failed: `kexdump arm` would not arm", checks.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arming::capture_image::fixture::System;
    use crate::arming::kernel_state::CRASH_SIZE;
    use crate::arming::prepare::fixture::arm_args;

    fn names(checks: &[Check]) -> Vec<(&'static str, bool)> {
        checks.iter().map(|c| (c.name, c.ok)).collect()
    }

    #[test]
    fn remote_checks_resolve_the_way_and_want_the_host_key() {
        let d = tempfile::tempdir().unwrap();
        let probe = crate::system::network::fixture::machine(d.path());
        let c = Config::parse("[target]\ntarget = \"ssh://kx@server.example/srv\"\n", Path::new("/etc/kexdump.toml"))
            .unwrap();
        let mut out = Vec::new();
        remote_checks(d.path(), &c, &probe, Duration::from_secs(1), &mut out);
        assert_eq!(names(&out), [("network", true), ("known host", false)]);
        assert_eq!(
            out[0].detail,
            "192.0.2.10 through eth0 (52:54:00:12:34:56, 10.0.2.15/24, gateway 10.0.2.2, MTU 1500, driver virtio_net)"
        );
        assert!(out[1].detail.contains("run `kexdump propagate`"), "{}", out[1].detail);

        let c =
            Config::parse("[target]\ntarget = \"nfs://nowhere.example/e\"\n", Path::new("/etc/kexdump.toml")).unwrap();
        let mut out = Vec::new();
        remote_checks(d.path(), &c, &probe, Duration::from_secs(1), &mut out);
        assert_eq!(names(&out), [("network", false)]);
        assert!(out[0].detail.contains("cannot resolve nowhere.example"), "{}", out[0].detail);
    }

    #[test]
    fn every_check_runs_and_passes_on_a_good_machine() {
        let sys = System::new();
        let c = preflight(sys.root(), &arm_args(&sys, &["--dry-run"]));
        let n = names(&c);
        for name in [
            "crashkernel= reservation",
            "kexec allowed",
            "no other kdump service",
            "configuration",
            "dump target",
            "capture binary",
            "capture kernel",
            "capture initramfs",
            "fits the reservation",
        ] {
            assert!(n.contains(&(name, true)), "{name}: {c:#?}");
        }
    }

    #[test]
    fn a_missing_reservation_does_not_hide_the_other_problems() {
        let sys = System::new();
        sys.write(CRASH_SIZE, b"0\n");
        sys.config("[target]\ntarget = \"LABEL=nowhere\"\n");
        let c = preflight(sys.root(), &arm_args(&sys, &["--dry-run"]));
        let n = names(&c);
        assert!(n.contains(&("crashkernel= reservation", false)), "{c:#?}");
        let target = c.iter().find(|c| c.name == "dump target").unwrap();
        assert!(!target.ok && target.detail.contains("LABEL=nowhere is missing"), "{target:?}");
        assert!(n.contains(&("capture initramfs", true)), "checked after two failures: {c:#?}");
        assert!(c.iter().filter(|c| !c.ok).all(|c| !c.detail.is_empty()));
    }
}
