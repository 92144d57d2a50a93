//! The few fields of an x86 bzImage's setup header that tell how much
//! memory the image needs once loaded and how long a command line it takes.
//! Translated from the Linux/x86 boot protocol
//! (Documentation/arch/x86/boot.rst, `struct setup_header` in
//! arch/x86/include/uapi/asm/bootparam.h); offsets are from the start of
//! the file.

use kexdump_engine::bytes::{u16_at, u32_at};

/// `header`: the magic "HdrS" (protocol 2.00+).
const HEADER: usize = 0x202;
/// `version`: the boot protocol version, major in the high byte.
const VERSION: usize = 0x206;
/// `kernel_version`: where the version string is, less 0x200 (2.00+).
const KERNEL_VERSION: usize = 0x20e;
/// `cmdline_size`: the longest command line, without its NUL (2.06+).
const CMDLINE_SIZE: usize = 0x238;
/// `init_size`: the linear memory the kernel needs from its load address
/// until it runs (decompression included) (2.10+).
const INIT_SIZE: usize = 0x260;

/// How many bytes of the file [`parse`] needs.
pub const PREFIX_LEN: usize = INIT_SIZE + 4;

/// What the setup header says about loading the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetupHeader {
    /// Boot protocol version (0x020f for Linux 5.x and 6.x).
    pub version: u16,
    /// The longest command line the kernel accepts, without its NUL.
    pub cmdline_size: Option<u32>,
    /// Memory the kernel needs once loaded, when the protocol says it.
    pub init_size: Option<u32>,
}

/// Reads the setup header from the start of a kernel image; `None` when the
/// bytes are not a bzImage (another architecture's image, or too short).
pub fn parse(prefix: &[u8]) -> Option<SetupHeader> {
    if prefix.get(HEADER..HEADER + 4)? != b"HdrS" {
        return None;
    }
    let version = u16_at(prefix, VERSION)?;
    let cmdline_size = if version >= 0x0206 { u32_at(prefix, CMDLINE_SIZE) } else { None };
    let init_size = if version >= 0x020a { u32_at(prefix, INIT_SIZE).filter(|&s| s > 0) } else { None };
    Some(SetupHeader { version, cmdline_size, init_size })
}

/// The longest version string read: `uname -r`'s part is at most 64 bytes
/// (`__NEW_UTS_LEN`), the rest (builder, compiler, date) is not needed.
const VERSION_MAX: usize = 256;

/// The release of the kernel in a bzImage (`6.1.0-56-amd64`, what
/// `uname -r` prints once it runs): the first word of the version string
/// the setup header's `kernel_version` points to (`6.1.0-56-amd64
/// (debian-kernel@lists.debian.org) #1 SMP ...`). `None` when `image` is
/// no bzImage, has no version string, or one that is no release name.
pub fn kernel_release(image: &[u8]) -> Option<String> {
    if image.get(HEADER..HEADER + 4)? != b"HdrS" {
        return None;
    }
    let ptr = u16_at(image, KERNEL_VERSION)?;
    if ptr == 0 {
        return None;
    }
    let start = usize::from(ptr) + 0x200;
    let bytes = image.get(start..image.len().min(start + VERSION_MAX))?;
    let end = bytes.iter().position(|&b| b == 0 || b == b' ').unwrap_or(bytes.len());
    let release = std::str::from_utf8(&bytes[..end]).ok()?;
    let ok = |c: char| c.is_ascii_graphic() && c != '/';
    (!release.is_empty() && release.len() <= 64 && release.chars().all(ok) && release != "." && release != "..")
        .then(|| release.to_owned())
}

#[cfg(test)]
pub(crate) fn fake(version: u16, cmdline_size: u32, init_size: u32) -> Vec<u8> {
    let mut b = vec![0u8; PREFIX_LEN + 16];
    b[HEADER..HEADER + 4].copy_from_slice(b"HdrS");
    b[VERSION..VERSION + 2].copy_from_slice(&version.to_le_bytes());
    b[CMDLINE_SIZE..CMDLINE_SIZE + 4].copy_from_slice(&cmdline_size.to_le_bytes());
    b[INIT_SIZE..INIT_SIZE + 4].copy_from_slice(&init_size.to_le_bytes());
    b
}

/// [`fake`] with a version string naming `release`, placed after the
/// header as the kernel's setup code has it, then `body`.
#[cfg(test)]
pub(crate) fn fake_with_release(release: &str, body: &[u8]) -> Vec<u8> {
    let mut b = fake(0x020f, 2047, 0x3f98000);
    let at = b.len();
    b[KERNEL_VERSION..KERNEL_VERSION + 2].copy_from_slice(&((at - 0x200) as u16).to_le_bytes());
    b.extend_from_slice(format!("{release} (builder@example) #1 SMP PREEMPT_DYNAMIC\0").as_bytes());
    b.extend_from_slice(body);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_modern_header() {
        // The Debian 6.1.0-56-amd64 bzImage: protocol 2.15, 2047, 63.6 MiB.
        let h = parse(&fake(0x020f, 2047, 0x3f98000)).expect("a bzImage");
        assert_eq!(h, SetupHeader { version: 0x020f, cmdline_size: Some(2047), init_size: Some(0x3f98000) });
    }

    #[test]
    fn old_protocols_lack_fields() {
        let h = parse(&fake(0x0205, 2047, 1 << 20)).expect("a bzImage");
        assert_eq!((h.cmdline_size, h.init_size), (None, None));
        let h = parse(&fake(0x0209, 2047, 1 << 20)).expect("a bzImage");
        assert_eq!((h.cmdline_size, h.init_size), (Some(2047), None));
    }

    #[test]
    fn release_from_the_version_string() {
        let b = fake_with_release("6.1.0-56-amd64", b"rest");
        assert_eq!(kernel_release(&b).as_deref(), Some("6.1.0-56-amd64"));
        // No pointer, a pointer past the end, a non-bzImage: none.
        assert_eq!(kernel_release(&fake(0x020f, 2047, 1)), None);
        let mut cut = b.clone();
        cut.truncate(PREFIX_LEN + 16);
        assert_eq!(kernel_release(&cut), None);
        let mut bad = b.clone();
        bad[HEADER] = b'h';
        assert_eq!(kernel_release(&bad), None);
        // A string that is no release name (a path, empty) is refused.
        assert_eq!(kernel_release(&fake_with_release("../../etc", b"")), None);
        assert_eq!(kernel_release(&fake_with_release("", b"")), None);
    }

    #[test]
    fn not_a_bzimage() {
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&[0u8; 4096]), None);
        let mut b = fake(0x020f, 2047, 1);
        b[HEADER] = b'h';
        assert_eq!(parse(&b), None);
        // Cut short inside the fields: no panic, no header.
        let b = fake(0x020f, 2047, 1);
        assert_eq!(parse(&b[..VERSION + 1]), None);
        assert_eq!(parse(&b[..INIT_SIZE + 2]).map(|h| h.init_size), Some(None));
    }
}
