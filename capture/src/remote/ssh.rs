//! Writing files on an ssh server over SFTP, blocking, with a deadline on
//! every step: what the capture kernel uses to send a dump, and what
//! `kexdump status`, `arm --dry-run` and `propagate` use to check a server.
//!
//! Why SFTP and not `ssh host 'cat > file'`: the server runs no shell and
//! parses no command line, so no path can be misread; every operation
//! answers with a status, so a full disk on the server is an error here
//! and not a silently short file; and `fsync@openssh.com` and
//! `posix-rename@openssh.com` give the same `*.incomplete` → fsync →
//! rename discipline as a local disk.
//!
//! The client is russh (pure Rust, ring for the cryptography, linked into
//! the static capture binary). Its tokio runtime has one worker thread,
//! which keeps the ssh session moving while the caller compresses pages;
//! the caller blocks only to hand over a write or wait for an answer.
//! Writes are pipelined: up to [`IN_FLIGHT`] WRITE requests of [`CHUNK`]
//! bytes are outstanding, so a link with latency still streams.

use super::sftp_wire::{self as wire, Attrs, Reply, Request};
use russh::client::{self, Handle};
use russh::keys::{PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::ChannelStream;
use std::collections::HashSet;
use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes per WRITE request (OpenSSH accepts packets of up to 256 KiB).
pub const CHUNK: usize = 64 * 1024;
/// WRITE requests outstanding at once: 2 MiB in flight.
pub const IN_FLIGHT: usize = 32;

/// Where and as whom to connect.
#[derive(Clone, Debug)]
pub struct SshParams {
    pub addr: SocketAddr,
    pub user: String,
    /// The private key, OpenSSH format (the file's text).
    pub identity: String,
    /// The server's host key as `type base64` (a known_hosts entry without
    /// the host names); `None` only for [`scan_host_key`].
    pub host_key: Option<String>,
    /// The deadline of each step: connecting, the handshake, each request.
    pub timeout: Duration,
}

/// Why a remote step failed, in the classes PID 1 acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No TCP connection (refused, unreachable, timed out).
    Connect,
    /// The server's host key is not the recorded one: nothing was sent.
    HostKey,
    /// The server refused the key.
    Auth,
    /// A step took longer than its deadline (a dead link).
    Timeout,
    /// The server answered an SFTP request with an error (full disk,
    /// permissions, ...), or the stream broke.
    Remote,
    /// A local problem: an unreadable key, a bad host key entry.
    Local,
}

#[derive(Clone, Debug)]
pub struct RemoteError {
    pub failure: Failure,
    pub msg: String,
}

impl RemoteError {
    fn new(failure: Failure, msg: impl Into<String>) -> RemoteError {
        RemoteError { failure, msg: msg.into() }
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for RemoteError {}

impl From<RemoteError> for io::Error {
    fn from(e: RemoteError) -> io::Error {
        let kind = match e.failure {
            Failure::Timeout => io::ErrorKind::TimedOut,
            Failure::Connect => io::ErrorKind::ConnectionRefused,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e.msg)
    }
}

/// Parse a host key entry: `type base64 [comment]`, or a known_hosts line
/// `hosts type base64 [comment]`.
pub fn parse_host_key(entry: &str) -> Result<PublicKey, String> {
    let words: Vec<&str> = entry.split_whitespace().collect();
    let start = words.iter().position(|w| w.starts_with("ssh-") || w.starts_with("ecdsa-")).ok_or_else(|| {
        format!("{entry:?} is not a host key (expected `ssh-ed25519 AAAA...`, as in a .pub file or known_hosts)")
    })?;
    let line = words[start..].iter().take(2).copied().collect::<Vec<_>>().join(" ");
    PublicKey::from_openssh(&line).map_err(|e| format!("{entry:?} is not a host key: {e}"))
}

/// A host key as `type base64`, the form kexdump records.
pub fn host_key_entry(key: &PublicKey) -> String {
    key.to_openssh().map(|s| s.split_whitespace().take(2).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

/// `SHA256:...`, as `ssh-keygen -l` shows a key (for `kexdump propagate`).
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(russh::keys::HashAlg::Sha256).to_string()
}

/// Checks the server's key against the recorded one and remembers what
/// the server offered (for the error message, and for [`scan_host_key`]).
struct HostKeyCheck {
    expected: Option<PublicKey>,
    offered: Arc<Mutex<Option<PublicKey>>>,
}

impl client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(&mut self, offered: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = offered else {
            return Ok(false);
        };
        if let Ok(mut o) = self.offered.lock() {
            *o = Some(key.clone());
        }
        Ok(self.expected.as_ref().is_some_and(|e| e.key_data() == key.key_data()))
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, RemoteError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("kexdump-ssh")
        .enable_all()
        .build()
        .map_err(|e| RemoteError::new(Failure::Local, format!("starting the ssh runtime: {e}")))
}

fn client_config(timeout: Duration) -> Arc<client::Config> {
    Arc::new(client::Config {
        // A silent server is a dead link: keepalives every few seconds,
        // and the session ends after three unanswered ones.
        keepalive_interval: Some((timeout / 4).max(Duration::from_secs(2))),
        keepalive_max: 3,
        nodelay: true,
        ..Default::default()
    })
}

async fn deadline<T>(
    timeout: Duration,
    step: &str,
    f: impl std::future::Future<Output = Result<T, RemoteError>>,
) -> Result<T, RemoteError> {
    tokio::time::timeout(timeout, f)
        .await
        .unwrap_or_else(|_| Err(RemoteError::new(Failure::Timeout, format!("{step}: no answer in {timeout:?}"))))
}

/// The server's host key, as `type base64`, without logging in: what
/// `kexdump propagate` records (the operator confirms its fingerprint).
pub fn scan_host_key(addr: SocketAddr, timeout: Duration) -> Result<String, RemoteError> {
    let rt = runtime()?;
    let offered = Arc::new(Mutex::new(None));
    let check = HostKeyCheck { expected: None, offered: offered.clone() };
    let r = rt.block_on(deadline(timeout, &format!("ssh handshake with {addr}"), async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| RemoteError::new(Failure::Connect, format!("connecting to {addr}: {e}")))?;
        // The handshake stops at the host key check (which refuses): the
        // key it was offered is all this needs.
        let _ = client::connect_stream(client_config(timeout), tcp, check).await;
        Ok(())
    }));
    r?;
    let key = offered.lock().ok().and_then(|k| k.clone());
    key.map(|k| host_key_entry(&k))
        .ok_or_else(|| RemoteError::new(Failure::Remote, format!("{addr} offered no host key")))
}

/// An SFTP session on an authenticated ssh connection.
pub struct Sftp {
    rt: tokio::runtime::Runtime,
    session: Handle<HostKeyCheck>,
    stream: ChannelStream<client::Msg>,
    next_id: u32,
    timeout: Duration,
    /// Replies read while waiting for another one (pipelined writes).
    early: Vec<Reply>,
    /// The server supports `fsync@openssh.com` / `statvfs@openssh.com`.
    has_fsync: bool,
    has_statvfs: bool,
    /// Set after any error: the stream's state is unknown, so nothing
    /// more is sent on it.
    broken: Option<RemoteError>,
    pub server: String,
}

impl Sftp {
    /// Connect, check the host key, log in with the key, start SFTP.
    pub fn connect(p: &SshParams) -> Result<Sftp, RemoteError> {
        let key = russh::keys::decode_secret_key(&p.identity, None).map_err(|e| {
            RemoteError::new(Failure::Local, format!("the ssh identity is not a usable private key: {e}"))
        })?;
        let expected = match &p.host_key {
            Some(h) => Some(parse_host_key(h).map_err(|e| RemoteError::new(Failure::Local, e))?),
            None => None,
        };
        let server = format!("{}@{}", p.user, p.addr);
        let rt = runtime()?;
        let offered = Arc::new(Mutex::new(None));
        let check = HostKeyCheck { expected: expected.clone(), offered: offered.clone() };
        let timeout = p.timeout;
        let addr = p.addr;
        let user = p.user.clone();
        let (session, stream, extensions) = rt.block_on(async {
            let tcp = deadline(timeout, &format!("connecting to {addr}"), async {
                tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(|e| RemoteError::new(Failure::Connect, format!("connecting to {addr}: {e}")))
            })
            .await?;
            let mut session = deadline(timeout, &format!("ssh handshake with {addr}"), async {
                client::connect_stream(client_config(timeout), tcp, check).await.map_err(|e| match e {
                    russh::Error::UnknownKey => {
                        let seen = offered.lock().ok().and_then(|k| k.as_ref().map(fingerprint));
                        RemoteError::new(
                            Failure::HostKey,
                            format!(
                                "{addr}: the server's host key {} is not the recorded one {}: refusing to send \
                                 the dump (if the server was reinstalled, run `kexdump propagate` again)",
                                seen.unwrap_or_else(|| "(none)".into()),
                                expected.as_ref().map(fingerprint).unwrap_or_default()
                            ),
                        )
                    }
                    e => RemoteError::new(Failure::Remote, format!("ssh handshake with {addr}: {e}")),
                })
            })
            .await?;
            let auth = deadline(timeout, &format!("logging in to {addr}"), async {
                session
                    .authenticate_publickey(user.clone(), PrivateKeyWithHashAlg::new(Arc::new(key), None))
                    .await
                    .map_err(|e| RemoteError::new(Failure::Remote, format!("logging in to {addr}: {e}")))
            })
            .await?;
            if !auth.success() {
                return Err(RemoteError::new(
                    Failure::Auth,
                    format!(
                        "{user}@{addr} refused kexdump's ssh key (run `kexdump propagate` to install it in the \
                         server's authorized_keys)"
                    ),
                ));
            }
            let stream = deadline(timeout, "starting the SFTP subsystem", async {
                let ch = session
                    .channel_open_session()
                    .await
                    .map_err(|e| RemoteError::new(Failure::Remote, format!("opening an ssh channel: {e}")))?;
                ch.request_subsystem(true, "sftp")
                    .await
                    .map_err(|e| RemoteError::new(Failure::Remote, format!("the server has no SFTP subsystem: {e}")))?;
                let mut stream = ch.into_stream();
                stream
                    .write_all(&wire::init().0)
                    .await
                    .map_err(|e| RemoteError::new(Failure::Remote, format!("SFTP init: {e}")))?;
                let reply = read_reply(&mut stream).await?;
                match reply {
                    Reply::Version { version, extensions } if version >= 3 => Ok((stream, extensions)),
                    r => Err(RemoteError::new(Failure::Remote, format!("SFTP init: unexpected answer {r:?}"))),
                }
            })
            .await?;
            Ok((session, stream.0, stream.1))
        })?;
        let has = |name: &str| extensions.iter().any(|(n, _)| n == name);
        if !has(wire::EXT_POSIX_RENAME) {
            return Err(RemoteError::new(
                Failure::Remote,
                format!("{server}: the SFTP server lacks {} (OpenSSH has it)", wire::EXT_POSIX_RENAME),
            ));
        }
        Ok(Sftp {
            has_fsync: has(wire::EXT_FSYNC),
            has_statvfs: has(wire::EXT_STATVFS),
            rt,
            session,
            stream,
            next_id: 1,
            timeout,
            early: Vec::new(),
            broken: None,
            server,
        })
    }

    /// The deadline of each request from now on (connecting may have
    /// used a shorter one).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    fn id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    fn check(&self) -> Result<(), RemoteError> {
        match &self.broken {
            Some(e) => Err(RemoteError::new(e.failure, format!("the connection failed earlier: {}", e.msg))),
            None => Ok(()),
        }
    }

    fn fail<T>(&mut self, e: RemoteError) -> Result<T, RemoteError> {
        self.broken = Some(e.clone());
        Err(e)
    }

    fn send(&mut self, req: &Request, what: &str) -> Result<(), RemoteError> {
        self.check()?;
        let (timeout, stream) = (self.timeout, &mut self.stream);
        let r = self.rt.block_on(deadline(timeout, what, async {
            stream.write_all(&req.0).await.map_err(|e| RemoteError::new(Failure::Remote, format!("{what}: {e}")))
        }));
        r.or_else(|e| self.fail(e))
    }

    /// The reply with `id` (others read meanwhile are kept).
    fn wait(&mut self, id: u32, what: &str) -> Result<Reply, RemoteError> {
        if let Some(i) = self.early.iter().position(|r| r.id() == Some(id)) {
            return Ok(self.early.swap_remove(i));
        }
        loop {
            let (timeout, stream) = (self.timeout, &mut self.stream);
            let r = self.rt.block_on(deadline(timeout, what, read_reply(stream)));
            match r {
                Ok(reply) if reply.id() == Some(id) => return Ok(reply),
                Ok(reply) => self.early.push(reply),
                Err(e) => return self.fail(RemoteError::new(e.failure, format!("{what}: {}", e.msg))),
            }
        }
    }

    fn call(&mut self, make: impl FnOnce(u32) -> Request, what: &str) -> Result<Reply, RemoteError> {
        let id = self.id();
        self.send(&make(id), what)?;
        self.wait(id, what)
    }

    fn status_ok(reply: Reply, what: &str) -> Result<(), RemoteError> {
        match reply {
            Reply::Status { code: wire::FX_OK, .. } => Ok(()),
            r => Err(reply_error(r, what)),
        }
    }

    /// The attributes of `path` without following a symlink; `None` when
    /// it does not exist.
    pub fn lstat(&mut self, path: &str) -> Result<Option<Attrs>, RemoteError> {
        let what = format!("lstat {path}");
        match self.call(|id| wire::lstat(id, path), &what)? {
            Reply::Attrs { attrs, .. } => Ok(Some(attrs)),
            Reply::Status { code: wire::FX_NO_SUCH_FILE, .. } => Ok(None),
            r => Err(reply_error(r, &what)),
        }
    }

    pub fn mkdir(&mut self, path: &str, mode: u32) -> Result<(), RemoteError> {
        let what = format!("mkdir {path}");
        let r = self.call(|id| wire::mkdir(id, path, mode), &what)?;
        Sftp::status_ok(r, &what)
    }

    /// `base/rel`: `base` (the operator's directory on the server) must
    /// exist or is created; the directories of `rel` below it are created
    /// 0700 and may not be symlinks or files.
    pub fn private_dirs(&mut self, base: &str, rel: &str) -> Result<String, RemoteError> {
        let mut p = base.trim_end_matches('/').to_owned();
        if p.is_empty() {
            p.push('/');
        }
        match self.lstat(&p)? {
            Some(_) => {}
            None => self.mkdir(&p, 0o700).map_err(|e| {
                RemoteError::new(e.failure, format!("{}: {} (create it on the server)", self.server, e.msg))
            })?,
        }
        for comp in rel.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if !p.ends_with('/') {
                p.push('/');
            }
            p.push_str(comp);
            match self.lstat(&p)? {
                Some(a) if a.is_symlink() => {
                    return Err(RemoteError::new(
                        Failure::Remote,
                        format!("{}:{p} is a symlink; refusing to follow it", self.server),
                    ))
                }
                Some(a) if !a.is_dir() => {
                    return Err(RemoteError::new(Failure::Remote, format!("{}:{p} is not a directory", self.server)))
                }
                Some(_) => {}
                None => self.mkdir(&p, 0o700)?,
            }
        }
        Ok(p)
    }

    /// A new directory `base/name`, or `name.1`, ... (never reusing one).
    pub fn unique_dir(&mut self, base: &str, name: &str) -> Result<String, RemoteError> {
        for i in 0..100 {
            let p = if i == 0 { format!("{base}/{name}") } else { format!("{base}/{name}.{i}") };
            if self.lstat(&p)?.is_none() {
                self.mkdir(&p, 0o700)?;
                return Ok(p);
            }
        }
        Err(RemoteError::new(Failure::Remote, format!("{}:{base}: 100 directories named {name}* exist", self.server)))
    }

    /// Open a new file (it must not exist), mode 0600.
    pub fn create(&mut self, path: &str, replace: bool) -> Result<RemoteFile<'_>, RemoteError> {
        let what = format!("creating {}:{path}", self.server);
        let flags = wire::FXF_WRITE | wire::FXF_CREAT | if replace { wire::FXF_TRUNC } else { wire::FXF_EXCL };
        match self.call(|id| wire::open(id, path, flags, 0o600), &what)? {
            Reply::Handle { handle, .. } => Ok(RemoteFile {
                sftp: self,
                handle,
                path: path.to_owned(),
                offset: 0,
                buf: Vec::with_capacity(CHUNK),
                in_flight: HashSet::new(),
            }),
            r => Err(reply_error(r, &what)),
        }
    }

    /// Rename, replacing `to` atomically.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), RemoteError> {
        let what = format!("renaming {}:{from} to {to}", self.server);
        let r = self.call(|id| wire::posix_rename(id, from, to), &what)?;
        Sftp::status_ok(r, &what)
    }

    /// Write `data` as `path` through `path.incomplete`, fsynced, renamed.
    pub fn write_file(&mut self, path: &str, data: &[u8]) -> Result<(), RemoteError> {
        let tmp = format!("{path}.incomplete");
        let mut f = self.create(&tmp, true)?;
        f.write_all(data).map_err(|e| RemoteError::new(Failure::Remote, e.to_string()))?;
        f.finish()?;
        self.rename(&tmp, path)
    }

    /// Bytes available to this user under `path` (`statvfs@openssh.com`).
    pub fn available_bytes(&mut self, path: &str) -> Result<Option<u64>, RemoteError> {
        if !self.has_statvfs {
            return Ok(None);
        }
        let what = format!("statvfs {}:{path}", self.server);
        match self.call(|id| wire::statvfs(id, path), &what)? {
            Reply::ExtendedReply { data, .. } => wire::statvfs_available(&data)
                .map(Some)
                .map_err(|e| RemoteError::new(Failure::Remote, format!("{what}: {e}"))),
            r => Err(reply_error(r, &what)),
        }
    }

    /// Close the session politely (errors ignored: the data is written).
    pub fn close(self) {
        let Sftp { rt, session, stream, .. } = self;
        rt.block_on(async {
            drop(stream);
            let _ = tokio::time::timeout(
                Duration::from_secs(2),
                session.disconnect(russh::Disconnect::ByApplication, "", ""),
            )
            .await;
        });
        rt.shutdown_timeout(Duration::from_secs(1));
    }
}

fn reply_error(r: Reply, what: &str) -> RemoteError {
    match r {
        Reply::Status { code, message, .. } => {
            let name = match code {
                wire::FX_NO_SUCH_FILE => "no such file",
                wire::FX_PERMISSION_DENIED => "permission denied",
                wire::FX_FAILURE => "failure (a full disk or quota, among others)",
                _ => "error",
            };
            RemoteError::new(Failure::Remote, format!("{what}: the server says {name} (SFTP status {code}: {message})"))
        }
        r => RemoteError::new(Failure::Remote, format!("{what}: unexpected answer {r:?}")),
    }
}

async fn read_reply(stream: &mut ChannelStream<client::Msg>) -> Result<Reply, RemoteError> {
    let io = |e: io::Error| RemoteError::new(Failure::Remote, format!("the connection broke: {e}"));
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).await.map_err(io)?;
    let n = wire::body_len(prefix).map_err(|e| RemoteError::new(Failure::Remote, e.to_string()))?;
    let mut body = vec![0u8; n];
    stream.read_exact(&mut body).await.map_err(io)?;
    wire::decode(&body).map_err(|e| RemoteError::new(Failure::Remote, e.to_string()))
}

/// A file being written: sequential `Write`, pipelined WRITE requests.
/// [`RemoteFile::finish`] waits for every answer, fsyncs and closes; a
/// file dropped without it is left as it is (the `*.incomplete` name says
/// what it is).
pub struct RemoteFile<'a> {
    sftp: &'a mut Sftp,
    handle: Vec<u8>,
    path: String,
    offset: u64,
    buf: Vec<u8>,
    in_flight: HashSet<u32>,
}

impl RemoteFile<'_> {
    fn send_chunk(&mut self) -> Result<(), RemoteError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        while self.in_flight.len() >= IN_FLIGHT {
            self.settle_one()?;
        }
        let id = self.sftp.id();
        let req = wire::write(id, &self.handle, self.offset, &self.buf);
        let what = format!("writing {}:{} at {}", self.sftp.server, self.path, self.offset);
        self.sftp.send(&req, &what)?;
        self.in_flight.insert(id);
        self.offset += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Wait for the answer to one outstanding write.
    fn settle_one(&mut self) -> Result<(), RemoteError> {
        let what = format!("writing {}:{}", self.sftp.server, self.path);
        let Some(&id) = self.in_flight.iter().min() else { return Ok(()) };
        let r = self.sftp.wait(id, &what)?;
        self.in_flight.remove(&id);
        Sftp::status_ok(r, &what).or_else(|e| self.sftp.fail(e))
    }

    /// Bytes handed over so far.
    pub fn position(&self) -> u64 {
        self.offset + self.buf.len() as u64
    }

    /// Send what is buffered, wait for every answer, fsync (when the
    /// server can), close.
    pub fn finish(mut self) -> Result<(), RemoteError> {
        self.send_chunk()?;
        while !self.in_flight.is_empty() {
            self.settle_one()?;
        }
        let handle = std::mem::take(&mut self.handle);
        if self.sftp.has_fsync {
            let what = format!("fsync {}:{}", self.sftp.server, self.path);
            let r = self.sftp.call(|id| wire::fsync(id, &handle), &what)?;
            Sftp::status_ok(r, &what)?;
        }
        let what = format!("closing {}:{}", self.sftp.server, self.path);
        let r = self.sftp.call(|id| wire::close(id, &handle), &what)?;
        Sftp::status_ok(r, &what)
    }
}

impl Write for RemoteFile<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send_chunk()?;
        }
        Ok(n)
    }

    /// Hands the buffer over; the answers are collected by `finish`.
    fn flush(&mut self) -> io::Result<()> {
        self.send_chunk().map_err(io::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_parse_from_pub_files_and_known_hosts_lines() {
        let k = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb1mDz2qOdz4dDkEQnqv1yTyTCXrHo/SMA+w7PfsPcC";
        let a = parse_host_key(k).unwrap();
        let b = parse_host_key(&format!("[10.0.2.100]:22 {k} root@server")).unwrap();
        assert_eq!(a.key_data(), b.key_data());
        assert_eq!(host_key_entry(&a), k);
        assert!(parse_host_key("10.0.2.100").unwrap_err().contains("not a host key"));
        assert!(parse_host_key("ssh-ed25519 AAAA").is_err());
    }
}
