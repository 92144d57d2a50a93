//! The SFTP version 3 wire format (draft-ietf-secsh-filexfer-02, the
//! version OpenSSH's sftp-server speaks) plus the OpenSSH extensions a
//! dump needs: `posix-rename@openssh.com` (atomic replace, so a renamed
//! `vmcore` is always whole), `fsync@openssh.com` (the server's disk holds
//! the bytes before the rename) and `statvfs@openssh.com` (free space for
//! `kexdump status`).
//!
//! Only the packets kexdump sends and the replies it reads. Encoding and
//! decoding are pure functions over byte slices, so they are unit-tested
//! here and no reply, however malformed, can panic the capture kernel:
//! every read is bounds-checked and a short or inconsistent packet is an
//! error naming what was missing.

use std::fmt;

pub const VERSION: u32 = 3;

// Packet types.
pub const FXP_INIT: u8 = 1;
pub const FXP_VERSION: u8 = 2;
pub const FXP_OPEN: u8 = 3;
pub const FXP_CLOSE: u8 = 4;
pub const FXP_WRITE: u8 = 6;
pub const FXP_LSTAT: u8 = 7;
pub const FXP_MKDIR: u8 = 14;
pub const FXP_STATUS: u8 = 101;
pub const FXP_HANDLE: u8 = 102;
pub const FXP_ATTRS: u8 = 105;
pub const FXP_EXTENDED: u8 = 200;
pub const FXP_EXTENDED_REPLY: u8 = 201;

// Open flags.
pub const FXF_WRITE: u32 = 0x02;
pub const FXF_CREAT: u32 = 0x08;
pub const FXF_TRUNC: u32 = 0x10;
pub const FXF_EXCL: u32 = 0x20;

// Attribute flags.
const ATTR_SIZE: u32 = 0x01;
const ATTR_UIDGID: u32 = 0x02;
const ATTR_PERMISSIONS: u32 = 0x04;
const ATTR_ACMODTIME: u32 = 0x08;
const ATTR_EXTENDED: u32 = 0x8000_0000;

// Status codes.
pub const FX_OK: u32 = 0;
pub const FX_NO_SUCH_FILE: u32 = 2;
pub const FX_PERMISSION_DENIED: u32 = 3;
pub const FX_FAILURE: u32 = 4;

pub const EXT_POSIX_RENAME: &str = "posix-rename@openssh.com";
pub const EXT_FSYNC: &str = "fsync@openssh.com";
pub const EXT_STATVFS: &str = "statvfs@openssh.com";

/// The largest packet accepted from the server. OpenSSH's sftp-server
/// sends at most 256 KiB; a length above this is a broken stream.
pub const MAX_PACKET: usize = 256 * 1024 + 1024;

/// A request's bytes, length prefix included.
pub struct Request(pub Vec<u8>);

fn begin(kind: u8, id: Option<u32>) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0, kind];
    if let Some(id) = id {
        v.extend_from_slice(&id.to_be_bytes());
    }
    v
}

fn end(mut v: Vec<u8>) -> Request {
    let len = (v.len() - 4) as u32;
    v[..4].copy_from_slice(&len.to_be_bytes());
    Request(v)
}

fn put_str(v: &mut Vec<u8>, s: &[u8]) {
    v.extend_from_slice(&(s.len() as u32).to_be_bytes());
    v.extend_from_slice(s);
}

fn put_mode(v: &mut Vec<u8>, mode: u32) {
    v.extend_from_slice(&ATTR_PERMISSIONS.to_be_bytes());
    v.extend_from_slice(&mode.to_be_bytes());
}

pub fn init() -> Request {
    let mut v = begin(FXP_INIT, None);
    v.extend_from_slice(&VERSION.to_be_bytes());
    end(v)
}

/// Open `path` for writing with `flags` (FXF_*), created with `mode`.
pub fn open(id: u32, path: &str, flags: u32, mode: u32) -> Request {
    let mut v = begin(FXP_OPEN, Some(id));
    put_str(&mut v, path.as_bytes());
    v.extend_from_slice(&flags.to_be_bytes());
    put_mode(&mut v, mode);
    end(v)
}

pub fn close(id: u32, handle: &[u8]) -> Request {
    let mut v = begin(FXP_CLOSE, Some(id));
    put_str(&mut v, handle);
    end(v)
}

pub fn write(id: u32, handle: &[u8], offset: u64, data: &[u8]) -> Request {
    let mut v = Vec::with_capacity(4 + 1 + 4 + 4 + handle.len() + 8 + 4 + data.len());
    v.extend_from_slice(&[0, 0, 0, 0, FXP_WRITE]);
    v.extend_from_slice(&id.to_be_bytes());
    put_str(&mut v, handle);
    v.extend_from_slice(&offset.to_be_bytes());
    put_str(&mut v, data);
    end(v)
}

pub fn lstat(id: u32, path: &str) -> Request {
    let mut v = begin(FXP_LSTAT, Some(id));
    put_str(&mut v, path.as_bytes());
    end(v)
}

pub fn mkdir(id: u32, path: &str, mode: u32) -> Request {
    let mut v = begin(FXP_MKDIR, Some(id));
    put_str(&mut v, path.as_bytes());
    put_mode(&mut v, mode);
    end(v)
}

pub fn posix_rename(id: u32, from: &str, to: &str) -> Request {
    let mut v = begin(FXP_EXTENDED, Some(id));
    put_str(&mut v, EXT_POSIX_RENAME.as_bytes());
    put_str(&mut v, from.as_bytes());
    put_str(&mut v, to.as_bytes());
    end(v)
}

pub fn fsync(id: u32, handle: &[u8]) -> Request {
    let mut v = begin(FXP_EXTENDED, Some(id));
    put_str(&mut v, EXT_FSYNC.as_bytes());
    put_str(&mut v, handle);
    end(v)
}

pub fn statvfs(id: u32, path: &str) -> Request {
    let mut v = begin(FXP_EXTENDED, Some(id));
    put_str(&mut v, EXT_STATVFS.as_bytes());
    put_str(&mut v, path.as_bytes());
    end(v)
}

/// What a malformed reply lacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed SFTP reply: {}", self.0)
    }
}

impl std::error::Error for WireError {}

struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], WireError> {
        if self.buf.len() < n {
            return Err(WireError(format!("{}: {field} cut short ({} of {n} bytes)", self.what, self.buf.len())));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn u32(&mut self, field: &str) -> Result<u32, WireError> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, field: &str) -> Result<u64, WireError> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    fn bytes(&mut self, field: &str) -> Result<&'a [u8], WireError> {
        let n = self.u32(field)? as usize;
        self.take(n, field)
    }
}

/// One reply from the server, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Version { version: u32, extensions: Vec<(String, String)> },
    Status { id: u32, code: u32, message: String },
    Handle { id: u32, handle: Vec<u8> },
    Attrs { id: u32, attrs: Attrs },
    ExtendedReply { id: u32, data: Vec<u8> },
}

impl Reply {
    pub fn id(&self) -> Option<u32> {
        match self {
            Reply::Version { .. } => None,
            Reply::Status { id, .. } | Reply::Handle { id, .. } | Reply::Attrs { id, .. } => Some(*id),
            Reply::ExtendedReply { id, .. } => Some(*id),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs {
    pub size: Option<u64>,
    /// st_mode: the file type bits and the permissions.
    pub mode: Option<u32>,
}

impl Attrs {
    pub fn is_dir(&self) -> bool {
        self.mode.is_some_and(|m| m & 0o170000 == 0o040000)
    }
    pub fn is_symlink(&self) -> bool {
        self.mode.is_some_and(|m| m & 0o170000 == 0o120000)
    }
}

fn attrs(r: &mut Reader<'_>) -> Result<Attrs, WireError> {
    let flags = r.u32("attribute flags")?;
    let mut a = Attrs::default();
    if flags & ATTR_SIZE != 0 {
        a.size = Some(r.u64("size")?);
    }
    if flags & ATTR_UIDGID != 0 {
        r.take(8, "uid and gid")?;
    }
    if flags & ATTR_PERMISSIONS != 0 {
        a.mode = Some(r.u32("permissions")?);
    }
    if flags & ATTR_ACMODTIME != 0 {
        r.take(8, "times")?;
    }
    if flags & ATTR_EXTENDED != 0 {
        let n = r.u32("extended count")?;
        for _ in 0..n {
            r.bytes("extended type")?;
            r.bytes("extended data")?;
        }
    }
    Ok(a)
}

/// Decode one packet body (after its 4-byte length).
pub fn decode(body: &[u8]) -> Result<Reply, WireError> {
    let Some((&kind, rest)) = body.split_first() else {
        return Err(WireError("empty packet".into()));
    };
    let mut r = Reader { buf: rest, what: "reply" };
    match kind {
        FXP_VERSION => {
            r.what = "VERSION";
            let version = r.u32("version")?;
            let mut extensions = Vec::new();
            while !r.buf.is_empty() {
                let name = String::from_utf8_lossy(r.bytes("extension name")?).into_owned();
                let data = String::from_utf8_lossy(r.bytes("extension data")?).into_owned();
                extensions.push((name, data));
            }
            Ok(Reply::Version { version, extensions })
        }
        FXP_STATUS => {
            r.what = "STATUS";
            let id = r.u32("id")?;
            let code = r.u32("code")?;
            // Version 3 servers add a message and a language tag; older
            // ones may not.
            let message = if r.buf.is_empty() {
                String::new()
            } else {
                String::from_utf8_lossy(r.bytes("message")?).into_owned()
            };
            Ok(Reply::Status { id, code, message })
        }
        FXP_HANDLE => {
            r.what = "HANDLE";
            let id = r.u32("id")?;
            let handle = r.bytes("handle")?.to_vec();
            if handle.len() > 256 {
                return Err(WireError(format!("HANDLE: a handle of {} bytes (at most 256)", handle.len())));
            }
            Ok(Reply::Handle { id, handle })
        }
        FXP_ATTRS => {
            r.what = "ATTRS";
            let id = r.u32("id")?;
            Ok(Reply::Attrs { id, attrs: attrs(&mut r)? })
        }
        FXP_EXTENDED_REPLY => {
            r.what = "EXTENDED_REPLY";
            let id = r.u32("id")?;
            Ok(Reply::ExtendedReply { id, data: r.buf.to_vec() })
        }
        k => Err(WireError(format!("unexpected packet type {k}"))),
    }
}

/// The length prefix of a packet: the body's size, checked against
/// [`MAX_PACKET`].
pub fn body_len(prefix: [u8; 4]) -> Result<usize, WireError> {
    let n = u32::from_be_bytes(prefix) as usize;
    if n == 0 || n > MAX_PACKET {
        return Err(WireError(format!("a packet of {n} bytes (1 to {MAX_PACKET} expected)")));
    }
    Ok(n)
}

/// `statvfs@openssh.com`'s reply: bytes available to the user.
pub fn statvfs_available(data: &[u8]) -> Result<u64, WireError> {
    let mut r = Reader { buf: data, what: "statvfs reply" };
    let _bsize = r.u64("f_bsize")?;
    let frsize = r.u64("f_frsize")?;
    let _blocks = r.u64("f_blocks")?;
    let _bfree = r.u64("f_bfree")?;
    let bavail = r.u64("f_bavail")?;
    Ok(bavail.saturating_mul(frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Request) -> &[u8] {
        let n = u32::from_be_bytes([r.0[0], r.0[1], r.0[2], r.0[3]]) as usize;
        assert_eq!(n + 4, r.0.len(), "the length prefix counts the body");
        &r.0[4..]
    }

    #[test]
    fn requests_are_laid_out_as_the_draft_says() {
        assert_eq!(init().0, [0, 0, 0, 5, FXP_INIT, 0, 0, 0, 3]);
        let w = write(7, b"h1", 0x1_0000_0002, b"abc");
        assert_eq!(
            body(&w),
            [FXP_WRITE, 0, 0, 0, 7, 0, 0, 0, 2, b'h', b'1', 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, b'a', b'b', b'c']
        );
        let o = open(1, "d/f", FXF_WRITE | FXF_CREAT | FXF_EXCL, 0o600);
        let mut expect = vec![FXP_OPEN, 0, 0, 0, 1, 0, 0, 0, 3, b'd', b'/', b'f'];
        expect.extend_from_slice(&0x2au32.to_be_bytes()); // WRITE | CREAT | EXCL
        expect.extend_from_slice(&4u32.to_be_bytes()); // the PERMISSIONS attribute
        expect.extend_from_slice(&0o600u32.to_be_bytes());
        assert_eq!(body(&o), expect);
        let m = body(&mkdir(2, "x", 0o700)).to_vec();
        assert_eq!(&m[m.len() - 8..], [0, 0, 0, 4, 0, 0, 1, 0xc0]);
        let rn = body(&posix_rename(3, "a", "b")).to_vec();
        assert_eq!(rn[0], FXP_EXTENDED);
        assert_eq!(&rn[5..9], (EXT_POSIX_RENAME.len() as u32).to_be_bytes());
    }

    #[test]
    fn replies_decode() {
        let mut v = vec![FXP_VERSION, 0, 0, 0, 3];
        put_str(&mut v, b"posix-rename@openssh.com");
        put_str(&mut v, b"1");
        assert_eq!(
            decode(&v).unwrap(),
            Reply::Version { version: 3, extensions: vec![("posix-rename@openssh.com".into(), "1".into())] }
        );
        let mut s = vec![FXP_STATUS, 0, 0, 0, 9, 0, 0, 0, 4];
        put_str(&mut s, b"Failure");
        put_str(&mut s, b"");
        assert_eq!(decode(&s).unwrap(), Reply::Status { id: 9, code: 4, message: "Failure".into() });
        let mut a = vec![FXP_ATTRS, 0, 0, 0, 1, 0, 0, 0, 5];
        a.extend_from_slice(&9u64.to_be_bytes());
        a.extend_from_slice(&0o120777u32.to_be_bytes());
        match decode(&a).unwrap() {
            Reply::Attrs { attrs, .. } => {
                assert_eq!(attrs.size, Some(9));
                assert!(attrs.is_symlink() && !attrs.is_dir());
            }
            r => panic!("{r:?}"),
        }
        let mut sv = Vec::new();
        for x in [4096u64, 4096, 100, 50, 40, 0, 0, 0, 0, 0, 255] {
            sv.extend_from_slice(&x.to_be_bytes());
        }
        assert_eq!(statvfs_available(&sv).unwrap(), 40 * 4096);
    }

    #[test]
    fn no_reply_bytes_panic() {
        // Every prefix of every valid reply, and pseudo-random bytes.
        let mut samples: Vec<Vec<u8>> = vec![
            vec![FXP_HANDLE, 0, 0, 0, 1, 0, 0, 0, 2, 1, 2],
            vec![FXP_ATTRS, 0, 0, 0, 1, 0x80, 0, 0, 0x0f, 0, 0, 0, 1],
            vec![FXP_STATUS, 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
            vec![FXP_HANDLE, 0, 0, 0, 1, 0, 0, 4, 0],
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let len = (x % 40) as usize;
            let mut v = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.push(x as u8);
            }
            if let Some(b) = v.first_mut() {
                *b = [FXP_VERSION, FXP_STATUS, FXP_HANDLE, FXP_ATTRS, FXP_EXTENDED_REPLY][(x % 5) as usize];
            }
            samples.push(v);
        }
        for s in &samples {
            for n in 0..=s.len() {
                let _ = decode(&s[..n]);
                let _ = statvfs_available(&s[..n]);
            }
        }
        assert!(decode(&[FXP_HANDLE, 0, 0, 0, 1, 0, 0, 4, 0]).unwrap_err().0.contains("cut short"));
        assert!(body_len([0, 0x10, 0, 0]).is_err());
        assert_eq!(body_len([0, 0, 1, 0]).unwrap(), 256);
    }
}
