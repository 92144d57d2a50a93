//! A remote dump target (`ssh://`, `nfs://`) seen from this machine: what
//! `kexdump propagate` sets up (the ssh key pair, the server's host key,
//! the public key on the server) and what `arm --dry-run` and `status`
//! check (the way there, a login with the capture kernel's own client, the
//! server's free space, the NFS port). Each step's error says what to do.

use crate::config::Config;
use crate::known_hosts;
use crate::system::network::{self, NetProbe};
use anyhow::{anyhow, bail, Context, Result};
use kexdump_engine::capture_config::{RemoteUrl, SshTarget, Target};
use kexdump_engine::remote::ssh::{self, Failure, RemoteError, Sftp, SshParams};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The NFS server's port.
pub const NFS_PORT: u16 = 2049;

/// The configured remote target, its host resolved.
#[derive(Clone, Debug)]
pub struct Remote {
    pub url: RemoteUrl,
    pub target: Target,
}

impl Remote {
    /// The configuration's remote target; `Ok(None)` for a local one.
    pub fn of(config: &Config, probe: &dyn NetProbe) -> Result<Option<Remote>> {
        let Some(url) = config.remote_url() else { return Ok(None) };
        let server = network::resolve_host(probe, &url.host)
            .map_err(|m| anyhow!("{m}: check the host of target.target ({})", config.target.target))?;
        let target = url.to_target(IpAddr::V4(server));
        Ok(Some(Remote { url, target }))
    }

    pub fn ssh(&self) -> Option<&SshTarget> {
        match &self.target {
            Target::Ssh(t) => Some(t),
            _ => None,
        }
    }
}

/// `path` from the configuration, below `root`.
pub fn under(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// The host key `[ssh] known_hosts` records for the ssh target.
pub fn known_host_key(root: &Path, config: &Config, remote: &Remote, t: &SshTarget) -> Result<String> {
    let file = &config.ssh.known_hosts;
    let text = std::fs::read_to_string(under(root, file))
        .with_context(|| format!("cannot read {file} (ssh.known_hosts): run `kexdump propagate`"))?;
    known_hosts::lookup(&text, t.addr, &remote.url.host).ok_or_else(|| {
        anyhow!("{file} has no host key for {}: run `kexdump propagate`", known_hosts::host_field(t.addr))
    })
}

/// What the capture kernel's ssh client needs, read from the configuration's files.
pub fn ssh_params(root: &Path, config: &Config, remote: &Remote, timeout: Duration) -> Result<SshParams> {
    let t = remote.ssh().context("not an ssh target")?;
    let host_key = known_host_key(root, config, remote, t)?;
    let file = &config.ssh.identity;
    let identity = std::fs::read_to_string(under(root, file))
        .with_context(|| format!("cannot read the ssh key {file} (ssh.identity): `kexdump propagate` makes one"))?;
    Ok(SshParams { addr: t.addr, user: t.user.clone(), identity, host_key: Some(host_key), timeout })
}

/// What a failed ssh step means for the operator.
pub fn explain(e: &RemoteError, t: &SshTarget) -> String {
    let fix = match e.failure {
        Failure::Connect => "check that the server is up and sshd listens on that port (and no firewall is in between)",
        Failure::HostKey => {
            "the server's host key is not the recorded one: if it was reinstalled on purpose, run `kexdump propagate` \
             again to record the new key; otherwise someone may be in the middle"
        }
        Failure::Auth => "the server refused the key: run `kexdump propagate` to install it",
        Failure::Timeout => "the server did not answer in time: check the network and the server's load",
        Failure::Remote => "the server answered with an error: check the directory's permissions and free space",
        Failure::Local => "check ssh.identity and ssh.known_hosts",
    };
    format!("{}@{}: {}: {fix}", t.user, t.addr, e.msg)
}

/// Log in with the capture kernel's client and ask the free space under
/// the target's directory (`None`: the server cannot tell).
pub fn ssh_login(p: &SshParams, dir: &str) -> Result<Option<u64>, RemoteError> {
    let mut s = Sftp::connect(p)?;
    let free = s.available_bytes(dir);
    s.close();
    free
}

/// The server's free space for `kexdump status`: errors are for showing.
pub fn ssh_free(root: &Path, config: &Config, probe: &dyn NetProbe, timeout: Duration) -> Result<Option<u64>> {
    let remote = Remote::of(config, probe)?.context("not a remote target")?;
    let t = remote.ssh().context("not an ssh target")?.clone();
    let p = ssh_params(root, config, &remote, timeout)?;
    ssh_login(&p, &t.dir).map_err(|e| anyhow!(explain(&e, &t)))
}

/// Whether the NFS server accepts a TCP connection on port 2049.
pub fn nfs_answers(server: IpAddr, timeout: Duration) -> Result<()> {
    let addr = SocketAddr::new(server, NFS_PORT);
    TcpStream::connect_timeout(&addr, timeout).map(drop).map_err(|e| {
        anyhow!(
            "{addr}: {e}: the NFS server does not answer on port {NFS_PORT}; check that nfs-server runs \
             there and no firewall is in between"
        )
    })
}

/// SHA256 fingerprint of a host key `type base64`, as ssh-keygen -l shows it.
pub fn fingerprint(key: &str) -> Result<String> {
    let k = ssh::parse_host_key(key).map_err(|e| anyhow!(e))?;
    Ok(ssh::fingerprint(&k))
}

/// Create the ssh key pair at `key` with ssh-keygen if it is missing; its
/// directory is made mode 0700. Returns whether it was created.
pub fn ensure_identity(key: &Path, comment: &str) -> Result<bool> {
    if key.exists() {
        return Ok(false);
    }
    if let Some(dir) = key.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(key)
        .output()
        .context("cannot run ssh-keygen: install openssh-client")?;
    if !out.status.success() {
        bail!(
            "`ssh-keygen -t ed25519 -N '' -C {comment} -f {}` failed ({}): {}",
            key.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(true)
}

/// The public key file of the private key `key`.
pub fn public_key_path(key: &Path) -> PathBuf {
    let mut p = key.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

/// Install `key`'s public half on the server with ssh-copy-id, which asks
/// for the password on the terminal (as `kdumpctl propagate` does).
pub fn copy_id(key: &Path, known_hosts: &Path, t: &SshTarget) -> Result<()> {
    let public = public_key_path(key);
    let dest = format!("{}@{}", t.user, t.addr.ip());
    let mut kh = std::ffi::OsString::from("UserKnownHostsFile=");
    kh.push(known_hosts);
    // Its messages go to stderr: stdout may be `--json`'s.
    let status = Command::new("ssh-copy-id")
        .stdout(std::io::stderr())
        .arg("-i")
        .arg(&public)
        .arg("-o")
        .arg(kh)
        .args(["-o", "StrictHostKeyChecking=yes", "-p", &t.addr.port().to_string(), &dest])
        .status()
        .context("cannot run ssh-copy-id: install openssh-client")?;
    if !status.success() {
        bail!(
            "`ssh-copy-id -i {} -p {} {dest}` failed ({status}): add the line of {} to ~{}/.ssh/authorized_keys \
             on the server by hand, then run `kexdump propagate` again",
            public.display(),
            t.addr.port(),
            public.display(),
            t.user
        );
    }
    Ok(())
}

/// What `kexdump propagate` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Propagated {
    /// The target, its host resolved.
    pub target: String,
    /// `None` for NFS: nothing to propagate.
    pub ssh: Option<SshPropagated>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct SshPropagated {
    pub identity: PathBuf,
    pub identity_created: bool,
    pub known_hosts: PathBuf,
    pub host_key: String,
    pub fingerprint: String,
    /// `recorded`, `replaced` (another key was recorded) or `unchanged`.
    pub host_key_status: &'static str,
    /// `already authorized` or `installed with ssh-copy-id`.
    pub key_status: &'static str,
    /// Under the target directory, as the server reports it.
    pub free_bytes: Option<u64>,
}

/// The deadline of each network step of `propagate`.
pub const PROPAGATE_TIMEOUT: Duration = Duration::from_secs(15);

/// `kexdump propagate` for the configuration's target, on the machine
/// under `root`. `confirm` is asked (with the question) before a host key
/// is recorded, unless it matches the recorded one; `say` reports progress.
pub fn propagate(
    root: &Path,
    config: &Config,
    probe: &dyn NetProbe,
    confirm: &mut dyn FnMut(&str) -> Result<bool>,
    say: &mut dyn FnMut(&str),
) -> Result<Propagated> {
    let remote = Remote::of(config, probe)?.ok_or_else(|| {
        anyhow!(
            "the dump target {} is not remote: nothing to propagate (set target.target to \
             ssh://user@host/dir in /etc/kexdump.toml)",
            config.target.target
        )
    })?;
    let Some(t) = remote.ssh().cloned() else {
        return Ok(Propagated { target: remote.target.to_string(), ssh: None });
    };
    let identity = under(root, &config.ssh.identity);
    let hostname = std::fs::read_to_string(root.join("proc/sys/kernel/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| "localhost".into());
    let identity_created = ensure_identity(&identity, &format!("kexdump@{hostname}"))?;
    if identity_created {
        say(&format!("created the key pair {} (and .pub)", identity.display()));
    }

    let offered = ssh::scan_host_key(t.addr, PROPAGATE_TIMEOUT).map_err(|e| anyhow!(explain(&e, &t)))?;
    let fingerprint = fingerprint(&offered)?;
    let known_hosts_path = under(root, &config.ssh.known_hosts);
    let recorded = match std::fs::read_to_string(&known_hosts_path) {
        Ok(text) => known_hosts::lookup(&text, t.addr, &remote.url.host),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", known_hosts_path.display())),
    };
    let same = |k: &str| ssh::parse_host_key(k).ok().map(|k| ssh::fingerprint(&k)) == Some(fingerprint.clone());
    let host_key_status = match &recorded {
        Some(k) if same(k) => "unchanged",
        other => {
            let kind = offered.split_whitespace().next().unwrap_or("");
            let question = match other {
                Some(k) => format!(
                    "WARNING: {} now offers the host key {kind} {fingerprint}, but {} records another one ({}). \
                     Record the new key (only if the server was reinstalled or its key replaced on purpose)?",
                    t.addr,
                    known_hosts_path.display(),
                    fingerprint_or(k)
                ),
                None => format!("{} offers the host key {kind} {fingerprint}. Is that the server's key?", t.addr),
            };
            if !confirm(&question)? {
                bail!(
                    "the host key of {} was not recorded: compare its fingerprint with `ssh-keygen -lf \
                     /etc/ssh/ssh_host_{}_key.pub` on the server, then run `kexdump propagate` again \
                     (or with --yes)",
                    t.addr,
                    kind.trim_start_matches("ssh-").trim_start_matches("ecdsa-sha2-")
                );
            }
            known_hosts::record(&known_hosts_path, t.addr, &offered)?;
            say(&format!("recorded the host key of {} in {}", t.addr, known_hosts_path.display()));
            if other.is_some() {
                "replaced"
            } else {
                "recorded"
            }
        }
    };

    let params = ssh_params(root, config, &remote, PROPAGATE_TIMEOUT)?;
    let (key_status, free_bytes) = match ssh_login(&params, &t.dir) {
        Ok(free) => ("already authorized", free),
        Err(e) if e.failure == Failure::Auth => {
            say(&format!(
                "installing {} on {}@{} with ssh-copy-id",
                public_key_path(&identity).display(),
                t.user,
                t.addr
            ));
            copy_id(&identity, &known_hosts_path, &t)?;
            let free = ssh_login(&params, &t.dir).map_err(|e| {
                anyhow!("ssh-copy-id succeeded, but the key still does not log in: {}", explain(&e, &t))
            })?;
            ("installed with ssh-copy-id", free)
        }
        Err(e) => bail!(explain(&e, &t)),
    };
    Ok(Propagated {
        target: remote.target.to_string(),
        ssh: Some(SshPropagated {
            identity,
            identity_created,
            known_hosts: known_hosts_path,
            host_key: offered,
            fingerprint,
            host_key_status,
            key_status,
            free_bytes,
        }),
    })
}

fn fingerprint_or(key: &str) -> String {
    fingerprint(key).unwrap_or_else(|_| "unreadable".into())
}
