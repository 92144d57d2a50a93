//! `kexdump propagate`: set up an ssh dump target (remote_target does the
//! work) and say what was done.

use crate::cli::PropagateArgs;
use crate::config::Config;
use crate::remote_target::{self, Propagated};
use crate::system::network;
use anyhow::{bail, Result};
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

pub fn run(a: PropagateArgs) -> Result<ExitCode> {
    let config = Config::load(Path::new("/"), a.config.as_deref())?;
    let yes = a.yes;
    let mut confirm = |question: &str| -> Result<bool> {
        if yes {
            eprintln!("kexdump: {question} yes (--yes)");
            return Ok(true);
        }
        if !io::stdin().is_terminal() {
            bail!("{question}\nNo terminal to ask on: check the fingerprint, then run `kexdump propagate --yes`");
        }
        eprint!("kexdump: {question} [y/N] ");
        io::stderr().flush()?;
        let mut line = String::new();
        io::stdin().lock().read_line(&mut line)?;
        Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
    };
    let mut say = |m: &str| eprintln!("kexdump: {m}");
    let p = remote_target::propagate(Path::new("/"), &config, &network::Live, &mut confirm, &mut say)?;
    let mut out = io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&p)?)?;
    } else {
        write_text(&p, &mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_text(p: &Propagated, out: &mut dyn Write) -> io::Result<()> {
    let Some(s) = &p.ssh else {
        return writeln!(
            out,
            "kexdump: {}: an NFS target needs nothing propagated (the capture kernel mounts the export \
             without credentials); `kexdump arm --dry-run` checks that the server answers",
            p.target
        );
    };
    writeln!(out, "kexdump: {} is ready: the capture kernel can log in", p.target)?;
    let created = if s.identity_created { "created" } else { "exists" };
    writeln!(out, "  key:       {} ({created})", s.identity.display())?;
    writeln!(out, "  host key:  {} {} in {}", s.fingerprint, s.host_key_status, s.known_hosts.display())?;
    writeln!(out, "  login:     {}", s.key_status)?;
    match s.free_bytes {
        Some(b) => writeln!(out, "  free:      {} MiB on the server", b >> 20)?,
        None => writeln!(out, "  free:      unknown (the server does not support statvfs@openssh.com)")?,
    }
    writeln!(out, "  next:      `kexdump arm --dry-run`, then `kexdump arm` (or `systemctl restart kexdump`)")
}
