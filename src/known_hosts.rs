//! kexdump's own known_hosts file (`[ssh] known_hosts`,
//! `/etc/kexdump/known_hosts`): the ssh server's host key, recorded by
//! `kexdump propagate` after the operator confirmed its fingerprint, and
//! copied into the capture image by `kexdump arm`. The file is in
//! OpenSSH's format so `ssh-copy-id -o UserKnownHostsFile=...` and
//! `ssh -o UserKnownHostsFile=...` use it too: a host on port 22 is
//! written `ADDR`, on another port `[ADDR]:PORT`. Hashed entries (`|1|...`)
//! and `@cert-authority`/`@revoked` lines are skipped: kexdump writes
//! neither.

use anyhow::{Context, Result};
use kexdump_engine::output::AtomicFile;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

/// The host field OpenSSH uses for `addr`: `ADDR` on port 22, else `[ADDR]:PORT`.
pub fn host_field(addr: SocketAddr) -> String {
    host_name_field(&addr.ip().to_string(), addr.port())
}

fn host_name_field(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    }
}

/// The names an entry for the server may carry: its address, and the
/// host name as the configuration writes it, each in the plain and the
/// bracketed form.
fn wanted(addr: SocketAddr, name: &str) -> Vec<String> {
    let mut w = Vec::new();
    for h in [addr.ip().to_string(), name.to_owned()] {
        if h.is_empty() {
            continue;
        }
        w.push(host_name_field(&h, addr.port()));
        w.push(format!("[{h}]:{}", addr.port()));
    }
    w
}

/// `(hosts, "type base64")` of an entry line, or `None` for comments,
/// markers, hashed names and lines that are no entry.
fn entry(line: &str) -> Option<(&str, String)> {
    let l = line.trim();
    if l.is_empty() || l.starts_with('#') || l.starts_with('@') || l.starts_with('|') {
        return None;
    }
    let mut w = l.split_whitespace();
    let (hosts, kind, key) = (w.next()?, w.next()?, w.next()?);
    Some((hosts, format!("{kind} {key}")))
}

/// The host key (`type base64`) recorded for the server at `addr`, also
/// known as `name`; the first matching entry wins.
pub fn lookup(text: &str, addr: SocketAddr, name: &str) -> Option<String> {
    let wanted = wanted(addr, name);
    text.lines()
        .filter_map(entry)
        .find(|(hosts, _)| hosts.split(',').any(|h| wanted.iter().any(|w| w.eq_ignore_ascii_case(h))))
        .map(|(_, key)| key)
}

/// `text` with the entries for `addr` replaced by `host_field(addr) key`.
pub fn upsert(text: &str, addr: SocketAddr, key: &str) -> String {
    let field = host_field(addr);
    let mut out: String = text
        .lines()
        .filter(|l| entry(l).is_none_or(|(hosts, _)| !hosts.split(',').any(|h| h == field)))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(&format!("{field} {key}\n"));
    out
}

/// Record `key` for `addr` in the file at `path`, atomically; its
/// directory is created mode 0700 if missing.
pub fn record(path: &Path, addr: SocketAddr, key: &str) -> Result<()> {
    let ctx = || format!("writing {}", path.display());
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).with_context(ctx)?;
    }
    let mut f = AtomicFile::replacing(path).with_context(ctx)?;
    f.file.write_all(upsert(&old, addr, key).as_bytes()).with_context(ctx)?;
    f.commit().with_context(ctx)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb1mDz2qOdz4dDkEQnqv1yTyTCXrHo/SMA+w7PfsPcC";
    const K2: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBKx";

    #[test]
    fn entries_are_found_by_address_port_or_name() {
        let a22: SocketAddr = "192.0.2.10:22".parse().unwrap();
        let a2222: SocketAddr = "192.0.2.10:2222".parse().unwrap();
        let text = format!(
            "# kexdump\n\n|1|hash=|salt= {K2}\n@revoked * {K2}\nother.example,192.0.2.9 {K2}\n\
             192.0.2.10 {K1} root@server\n[192.0.2.10]:2222 {K2}\n"
        );
        assert_eq!(lookup(&text, a22, "server.example").as_deref(), Some(K1));
        assert_eq!(lookup(&text, a2222, "server.example").as_deref(), Some(K2));
        assert_eq!(lookup(&text, "192.0.2.9:22".parse().unwrap(), "").as_deref(), Some(K2));
        // By the host name the configuration uses.
        let by_name = format!("Server.Example {K1}\n");
        assert_eq!(lookup(&by_name, a22, "server.example").as_deref(), Some(K1));
        assert_eq!(lookup(&by_name, a2222, "server.example"), None);
        assert_eq!(lookup(&format!("[server.example]:2222 {K1}\n"), a2222, "server.example").as_deref(), Some(K1));
        // Another port is another server.
        assert_eq!(lookup(&format!("192.0.2.10 {K1}\n"), a2222, ""), None);
        assert_eq!(lookup("192.0.2.10 ssh-ed25519\n", a22, ""), None);
        assert_eq!(lookup("", a22, "x"), None);
    }

    #[test]
    fn upsert_replaces_the_entry_and_keeps_the_rest() {
        let a: SocketAddr = "192.0.2.10:2222".parse().unwrap();
        assert_eq!(host_field(a), "[192.0.2.10]:2222");
        assert_eq!(host_field("192.0.2.10:22".parse().unwrap()), "192.0.2.10");
        let t = upsert("", a, K1);
        assert_eq!(t, format!("[192.0.2.10]:2222 {K1}\n"));
        let t = upsert(&format!("# mine\n192.0.2.10 {K2}\n{t}"), a, K2);
        assert_eq!(t, format!("# mine\n192.0.2.10 {K2}\n[192.0.2.10]:2222 {K2}\n"));
        assert_eq!(lookup(&t, a, "").as_deref(), Some(K2));

        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("etc/kexdump/known_hosts");
        record(&p, a, K1).unwrap();
        record(&p, a, K2).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), format!("[192.0.2.10]:2222 {K2}\n"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(p.parent().unwrap()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
