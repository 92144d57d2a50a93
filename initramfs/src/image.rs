//! Assembling the capture initramfs: the static `kexdump-capture` binary
//! as `/init`, its configuration, and the kernel modules it loads, as one
//! cpio "newc" archive, zstd-compressed.
//!
//! Layout (entries in this order, owner root, mtime fixed, so the same
//! inputs give the same bytes):
//!
//! ```text
//! dev proc sys mnt tmp etc lib lib/modules   directories, 0755
//! dev/console                                 character device 5:1, 0600
//! init                                        the capture binary, 0755
//! etc/kexdump-capture.conf                    CaptureConfig::to_text, 0644
//! lib/modules/<name>.ko                       each module unpacked, 0644, in load order
//! ```
//!
//! `dev/console` exists before devtmpfs is mounted so the kernel can open
//! it as PID 1's stdin/stdout/stderr. Modules are stored uncompressed: the
//! capture binary loads them with `finit_module` and needs no
//! decompressor, and the image's own zstd compresses them as well.
//!
//! The zstd frame uses a 1 MiB window (log 20): the kernel's unpacker
//! allocates the window, and memory is what a capture kernel has least
//! of. Level 9, not 19: on 7.x's xfs closure (12.5 MiB unpacked) level 19
//! took 13 s of a loaded 2-core machine for an image 7 % smaller (2.61
//! against 2.80 MB), and `kexdump arm` runs at every boot; the unpacked
//! size, which is what the reservation must hold, is the same.

use crate::cpio;
use crate::modules::{self, ModuleTree};
use kexdump_engine::capture_config::{CaptureConfig, MODULES_DIR_IN_IMAGE, PATH_IN_IMAGE, SSH_IDENTITY_IN_IMAGE};
use kexdump_engine::output::AtomicFile;
use std::fmt;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Above this many bytes, an image (compressed) earns a warning: the
/// crashkernel reservation must hold it next to its unpacked copy.
pub const SIZE_WARNING_BYTES: u64 = 4 << 20;

/// How the cpio archive is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// A plain cpio archive (the kernel unpacks it as is).
    None,
    /// One zstd frame (the kernel needs CONFIG_RD_ZSTD, Linux 5.9+).
    Zstd { level: i32, window_log: u32 },
}

impl Compression {
    pub const DEFAULT: Compression = Compression::Zstd { level: 9, window_log: 20 };
}

impl Default for Compression {
    fn default() -> Compression {
        Compression::DEFAULT
    }
}

/// What to build.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The static capture binary, stored as `/init`.
    pub capture_bin: PathBuf,
    /// The configuration; [`build`] fills in `modules`.
    pub config: CaptureConfig,
    /// The kernel's modules, e.g. `/lib/modules/6.1.0-56-amd64`.
    pub modules_dir: PathBuf,
    /// Module names or aliases to include with everything they need:
    /// the disk's drivers ([`Bus::modules`]), the file system's
    /// ([`fs_modules`]), extras.
    pub roots: Vec<String>,
    pub compression: Compression,
    /// The image to write (replaced atomically if it exists).
    pub output: PathBuf,
    /// Stamped on every entry (0, or SOURCE_DATE_EPOCH).
    pub mtime: u32,
    /// The private key an ssh target logs in with, stored 0600 as
    /// `SSH_IDENTITY_IN_IMAGE` (the image itself is written 0600).
    pub ssh_identity: Option<Vec<u8>>,
}

impl Spec {
    pub fn new(capture_bin: PathBuf, config: CaptureConfig, modules_dir: PathBuf, output: PathBuf) -> Spec {
        Spec {
            capture_bin,
            config,
            modules_dir,
            roots: Vec::new(),
            compression: Compression::DEFAULT,
            output,
            mtime: 0,
            ssh_identity: None,
        }
    }
}

/// One module in the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleEntry {
    /// Canonical name: the image holds `lib/modules/<name>.ko`.
    pub name: String,
    /// Where it came from (maybe compressed).
    pub source: PathBuf,
    /// Its size in the image (unpacked).
    pub bytes: u64,
}

/// What [`build`] wrote.
#[derive(Clone, Debug)]
pub struct Report {
    pub output: PathBuf,
    /// The image file's size.
    pub compressed_bytes: u64,
    /// The cpio archive's size: what the capture kernel unpacks into RAM.
    pub uncompressed_bytes: u64,
    /// The capture binary's size.
    pub binary_bytes: u64,
    /// In load order.
    pub modules: Vec<ModuleEntry>,
    /// Asked for or needed, but built into the kernel.
    pub builtin: Vec<String>,
    /// (module, softdep) that nothing provides; the module loads without.
    pub unresolved_softdeps: Vec<(String, String)>,
    /// The configuration written, `modules` filled in.
    pub config: CaptureConfig,
    /// Time spent indexing the modules and computing the closure.
    pub closure_time: Duration,
}

#[derive(Debug)]
pub enum Error {
    /// Reading an input file.
    Io { path: PathBuf, source: io::Error },
    /// The capture binary is no ELF executable.
    BadBinary { path: PathBuf, why: String },
    /// The capture binary needs a dynamic loader (it has PT_INTERP).
    Dynamic { path: PathBuf, interpreter: String },
    /// Finding or reading modules.
    Modules(modules::Error),
    /// The configuration would not read back as written.
    Config(String),
    /// Writing the image.
    Output { path: PathBuf, source: io::Error },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::BadBinary { path, why } => write!(f, "{}: {why}", path.display()),
            Error::Dynamic { path, interpreter } => write!(
                f,
                "{} is dynamically linked (interpreter {interpreter}); the capture initramfs has no shared \
                 libraries: build it static (RUSTFLAGS='-C target-feature=+crt-static')",
                path.display()
            ),
            Error::Modules(e) => e.fmt(f),
            Error::Config(why) => write!(f, "capture configuration: {why}"),
            Error::Output { path, source } => write!(f, "writing {}: {source}", path.display()),
        }
    }
}

/// Every message already includes its cause, so none is chained.
impl std::error::Error for Error {}

impl From<modules::Error> for Error {
    fn from(e: modules::Error) -> Error {
        Error::Modules(e)
    }
}

/// Module roots for a file system type: its driver, named as the type
/// (`ext4`, `xfs`, `btrfs`, `vfat`, ...), except `ext3`, which the ext4
/// driver has mounted since Linux 4.3. Checksum modules come in through
/// softdeps (ext4, jbd2: `crypto-crc32c`; xfs via libcrc32c: `crc32c`,
/// both resolved to `crc32c_generic`).
pub fn fs_modules(fstype: &str) -> Vec<String> {
    match fstype {
        "ext3" | "ext4" => vec!["ext4".into()],
        other => vec![other.into()],
    }
}

/// The modules a network card driven by `driver` needs: virtio-net sits
/// on the virtio PCI transport, which it does not depend on (as
/// virtio_blk, see [`Bus::Virtio`]): without `virtio_pci` no NIC appears.
pub fn nic_modules(driver: &str) -> Vec<String> {
    match driver {
        "virtio_net" => vec!["virtio_pci".into(), "virtio_net".into()],
        other => vec![other.into()],
    }
}

/// Disk buses: the modules a disk on each needs. Checked against Debian's
/// 6.1 kernel; on kernels that build them in they are reported as built
/// in and skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bus {
    /// virtio-blk on PCI (QEMU/KVM `-drive if=virtio`, most clouds):
    /// `virtio_pci` (the transport, which virtio_blk does not depend on)
    /// and `virtio_blk`.
    Virtio,
    /// virtio-scsi on PCI (some clouds): `virtio_pci`, `virtio_scsi`,
    /// `sd_mod`.
    VirtioScsi,
    /// NVMe on PCI: `nvme` (nvme-core, t10-pi and CRC modules follow).
    Nvme,
    /// SATA disks through an AHCI controller: `ahci` (libahci, libata,
    /// scsi_mod follow) and `sd_mod` (the SCSI disk driver).
    Ahci,
}

impl Bus {
    pub const ALL: [Bus; 4] = [Bus::Virtio, Bus::VirtioScsi, Bus::Nvme, Bus::Ahci];

    pub fn modules(self) -> &'static [&'static str] {
        match self {
            Bus::Virtio => &["virtio_pci", "virtio_blk"],
            Bus::VirtioScsi => &["virtio_pci", "virtio_scsi", "sd_mod"],
            Bus::Nvme => &["nvme"],
            Bus::Ahci => &["ahci", "sd_mod"],
        }
    }
}

/// Build the image described by `spec`.
pub fn build(spec: &Spec) -> Result<Report, Error> {
    let bin_path = &spec.capture_bin;
    let binary = fs::read(bin_path).map_err(|source| Error::Io { path: bin_path.clone(), source })?;
    check_static(bin_path, &binary)?;

    let started = Instant::now();
    let tree = ModuleTree::open(&spec.modules_dir)?;
    let roots: Vec<&str> = spec.roots.iter().map(String::as_str).collect();
    let closure = tree.resolve(&roots)?;
    let closure_time = started.elapsed();

    let mut mods = Vec::with_capacity(closure.modules.len());
    for (name, path) in &closure.modules {
        let data = modules::read_module(path)?;
        // A module we could not load later fails here, naming its file.
        modules::modinfo_of(path, &data)?;
        mods.push((name.clone(), path.clone(), data));
    }
    let mut config = spec.config.clone();
    config.modules = mods.iter().map(|(n, _, _)| n.clone()).collect();
    let config = checked_config(config)?;
    let conf_text = config.to_text();

    let out_err = |source: io::Error| Error::Output { path: spec.output.clone(), source };
    let out = AtomicFile::replacing(&spec.output).map_err(out_err)?;
    let written = (|| -> io::Result<(u64, u64)> {
        let file = Counter { inner: BufWriter::with_capacity(1 << 20, &out.file), n: 0 };
        let (file, cpio_bytes) = match spec.compression {
            Compression::None => write_archive(file, spec, &binary, &conf_text, &mods)?,
            Compression::Zstd { level, window_log } => {
                let mut z = zstd::stream::Encoder::new(file, level)?;
                z.window_log(window_log)?;
                z.include_checksum(true)?;
                let (z, n) = write_archive(z, spec, &binary, &conf_text, &mods)?;
                (z.finish()?, n)
            }
        };
        let n = file.n;
        file.inner.into_inner().map_err(|e| e.into_error())?;
        Ok((n, cpio_bytes))
    })();
    let (compressed_bytes, uncompressed_bytes) = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = fs::remove_file(out.tmp_path());
            return Err(out_err(e));
        }
    };
    let tmp = out.tmp_path().to_owned();
    let output = out.commit().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        out_err(e)
    })?;

    Ok(Report {
        output,
        compressed_bytes,
        uncompressed_bytes,
        binary_bytes: binary.len() as u64,
        modules: mods
            .into_iter()
            .map(|(name, source, data)| ModuleEntry { name, source, bytes: data.len() as u64 })
            .collect(),
        builtin: closure.builtin,
        unresolved_softdeps: closure.unresolved,
        config,
        closure_time,
    })
}

/// The configuration as the capture binary will read it back (`path`
/// normalized, UUID lowercased), or why it would not: a value with a line
/// break could smuggle in another key, so those are refused outright.
fn checked_config(config: CaptureConfig) -> Result<CaptureConfig, Error> {
    let target = config.target.to_string();
    let fields = [
        ("target", Some(target.as_str())),
        ("fstype", config.fstype.as_deref()),
        ("mount_options", Some(config.mount_options.as_str())),
        ("path", Some(config.path.as_str())),
        ("test_id", config.test_id.as_deref()),
    ];
    for (key, v) in fields {
        if let Some(v) = v.filter(|v| v.chars().any(char::is_control)) {
            return Err(Error::Config(format!("{key} {v:?} contains a control character")));
        }
    }
    let back = CaptureConfig::parse(&config.to_text()).map_err(|e| Error::Config(e.to_string()))?;
    if back.target != config.target {
        return Err(Error::Config(format!(
            "target {} does not survive the config file (leading or trailing spaces?)",
            config.target
        )));
    }
    if back.modules != config.modules {
        return Err(Error::Config(format!("module names {:?} do not survive the config file", config.modules)));
    }
    Ok(back)
}

fn write_archive<W: Write>(
    w: W,
    spec: &Spec,
    binary: &[u8],
    conf: &str,
    mods: &[(String, PathBuf, Vec<u8>)],
) -> io::Result<(W, u64)> {
    let mut a = cpio::Writer::new(w, spec.mtime);
    for d in ["dev", "proc", "sys", "mnt", "tmp", "etc", "lib", MODULES_DIR_IN_IMAGE] {
        a.dir(d, 0o755)?;
    }
    a.char_dev("dev/console", 0o600, 5, 1)?;
    // If the kernel cannot open the console, PID 1 starts with fds 0-2
    // closed and Rust's runtime opens /dev/null for them, before we mount
    // devtmpfs: without the node it aborts and the capture never starts.
    a.char_dev("dev/null", 0o666, 1, 3)?;
    a.file("init", 0o755, binary)?;
    a.file(PATH_IN_IMAGE, 0o644, conf.as_bytes())?;
    if let Some(key) = &spec.ssh_identity {
        a.dir("etc/kexdump", 0o700)?;
        a.file(SSH_IDENTITY_IN_IMAGE, 0o600, key)?;
    }
    for (name, _, data) in mods {
        a.file(&format!("{MODULES_DIR_IN_IMAGE}/{name}.ko"), 0o644, data)?;
    }
    a.finish()
}

/// Counts the bytes written through it.
struct Counter<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counter<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let k = self.inner.write(b)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// ELF `p_type` of the program header naming the dynamic loader
/// (<elf.h> PT_INTERP).
const PT_INTERP: u32 = 3;

/// Refuse anything but a static ELF executable: PID 1 of the capture
/// initramfs has no dynamic loader and no libraries to find. Static PIE
/// (no PT_INTERP) is fine.
pub fn check_static(path: &Path, data: &[u8]) -> Result<(), Error> {
    let bad = |why: &str| Error::BadBinary { path: path.to_owned(), why: why.into() };
    if data.get(..4) != Some(b"\x7fELF") {
        return Err(bad("not an ELF executable"));
    }
    let wide = match data.get(4) {
        Some(1) => false,
        Some(2) => true,
        _ => return Err(bad("unknown ELF class")),
    };
    let big = match data.get(5) {
        Some(1) => false,
        Some(2) => true,
        _ => return Err(bad("unknown ELF byte order")),
    };
    let uint = |off: usize, n: usize| -> Option<u64> {
        let b = data.get(off..off.checked_add(n)?)?;
        Some(if big {
            b.iter().fold(0u64, |v, &x| v << 8 | u64::from(x))
        } else {
            b.iter().rev().fold(0u64, |v, &x| v << 8 | u64::from(x))
        })
    };
    let truncated = || bad("truncated ELF header");
    // e_type: ET_EXEC 2, ET_DYN 3 (PIE).
    match uint(16, 2).ok_or_else(truncated)? {
        2 | 3 => {}
        _ => return Err(bad("not an ELF executable (e_type is not EXEC or DYN)")),
    }
    let (phoff, phentsize, phnum) =
        if wide { (uint(32, 8), uint(54, 2), uint(56, 2)) } else { (uint(28, 4), uint(42, 2), uint(44, 2)) };
    let (phoff, phentsize, phnum) = (
        phoff.ok_or_else(truncated)? as usize,
        phentsize.ok_or_else(truncated)? as usize,
        phnum.ok_or_else(truncated)? as usize,
    );
    if phnum == 0 {
        return Err(bad("no program headers"));
    }
    if phentsize < if wide { 56 } else { 32 } {
        return Err(bad("unexpected program header size"));
    }
    for i in 0..phnum {
        let h = i.checked_mul(phentsize).and_then(|o| o.checked_add(phoff)).ok_or_else(|| bad("bad e_phoff"))?;
        let p_type = uint(h, 4).ok_or_else(|| bad("program headers past the end"))?;
        if p_type == u64::from(PT_INTERP) {
            let (off, size) = if wide { (uint(h + 8, 8), uint(h + 32, 8)) } else { (uint(h + 4, 4), uint(h + 16, 4)) };
            let interpreter = off
                .zip(size)
                .and_then(|(o, s)| data.get(usize::try_from(o).ok()?..usize::try_from(o.checked_add(s)?).ok()?))
                .map(|s| String::from_utf8_lossy(s).trim_end_matches('\0').to_owned())
                .unwrap_or_else(|| "?".into());
            return Err(Error::Dynamic { path: path.to_owned(), interpreter });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kexdump_engine::capture_config::Target;
    use kexdump_testgen::kmod::fake_ko;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    /// A minimal static ELF64 executable: header and one PT_LOAD; with
    /// `interp`, a PT_INTERP naming it as well.
    fn fake_exe(interp: Option<&str>) -> Vec<u8> {
        let mut f = vec![0u8; 64 + 2 * 56];
        f[..6].copy_from_slice(b"\x7fELF\x02\x01");
        f[16..18].copy_from_slice(&2u16.to_le_bytes());
        f[18..20].copy_from_slice(&62u16.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&(1 + interp.is_some() as u16).to_le_bytes());
        f[64..68].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        if let Some(i) = interp {
            let off = f.len() as u64;
            f[120..124].copy_from_slice(&PT_INTERP.to_le_bytes());
            f[128..136].copy_from_slice(&off.to_le_bytes());
            f[152..160].copy_from_slice(&(i.len() as u64 + 1).to_le_bytes());
            f.extend_from_slice(i.as_bytes());
            f.push(0);
        }
        f.extend_from_slice(b"capture binary body");
        f
    }

    fn put(root: &Path, rel: &str, data: &[u8]) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        lzma_rs::xz_compress(&mut &data[..], &mut out).unwrap();
        out
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A fake tree in every packing: virtio_blk (.ko.xz) needs virtio and
    /// virtio_ring (.ko); virtio_pci (.ko.zst) is the transport; ext4
    /// (.ko.gz) needs jbd2 (built in) and softdeps on crypto-crc32c,
    /// which two modules provide by alias.
    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let m = dir.path().join("modules");
            put(&m, "kernel/drivers/virtio/virtio_ring.ko", &fake_ko(&["depends="]));
            put(&m, "kernel/drivers/virtio/virtio.ko", &fake_ko(&["depends=virtio_ring"]));
            put(
                &m,
                "kernel/drivers/virtio/virtio_pci.ko.zst",
                &zstd::encode_all(&fake_ko(&["depends=virtio,virtio_ring"])[..], 3).unwrap(),
            );
            put(&m, "kernel/drivers/block/virtio_blk.ko.xz", &xz(&fake_ko(&["depends=virtio,virtio_ring"])));
            put(&m, "kernel/fs/ext4/ext4.ko.gz", &gz(&fake_ko(&["depends=jbd2", "softdep=pre: crypto-crc32c"])));
            put(&m, "kernel/fs/jbd2/jbd2.ko", &fake_ko(&["depends="]));
            put(&m, "kernel/crypto/crc32c_generic.ko", &fake_ko(&["alias=crypto-crc32c", "depends="]));
            put(&m, "kernel/arch/x86/crypto/crc32c-intel.ko", &fake_ko(&["alias=crypto-crc32c", "depends="]));
            put(&m, "modules.builtin", b"kernel/fs/jbd2/jbd2.ko\n");
            put(dir.path(), "capture", &fake_exe(None));
            Fixture { dir }
        }

        fn spec(&self, out: &str) -> Spec {
            let mut config = CaptureConfig::new(Target::Label("kxdump".into()));
            config.fstype = Some("ext4".into());
            let mut s = Spec::new(
                self.dir.path().join("capture"),
                config,
                self.dir.path().join("modules"),
                self.dir.path().join(out),
            );
            s.roots = Bus::Virtio.modules().iter().map(|m| m.to_string()).collect();
            s.roots.extend(fs_modules("ext4"));
            s
        }
    }

    const LOAD_ORDER: [&str; 6] = ["virtio_ring", "virtio", "virtio_pci", "virtio_blk", "crc32c_generic", "ext4"];

    #[test]
    fn builds_with_every_packing_softdeps_and_builtins() {
        let fx = Fixture::new();
        let spec = fx.spec("capture.img");
        let r = build(&spec).unwrap();
        let names: Vec<&str> = r.modules.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, LOAD_ORDER);
        assert_eq!(r.config.modules, LOAD_ORDER);
        assert_eq!(r.builtin, ["jbd2"]);
        assert!(r.unresolved_softdeps.is_empty());
        assert_eq!(r.binary_bytes, fake_exe(None).len() as u64);
        assert_eq!(r.modules[3].bytes, fake_ko(&["depends=virtio,virtio_ring"]).len() as u64, "unpacked size");
        let meta = fs::metadata(&spec.output).unwrap();
        assert_eq!(meta.len(), r.compressed_bytes);
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(!fx.dir.path().join("capture.img.incomplete").exists());

        // The archive: zstd with a 1 MiB window, the config round-trips.
        let img = fs::read(&spec.output).unwrap();
        let cpio = zstd::decode_all(&img[..]).unwrap();
        assert_eq!(cpio.len() as u64, r.uncompressed_bytes);
        // Frame header: magic, descriptor (no single-segment flag), then the
        // window descriptor: exponent 10 (2^(10+10) bytes), mantissa 0.
        assert_eq!(&img[..4], b"\x28\xb5\x2f\xfd");
        assert_eq!((img[4] & 0x20, img[5]), (0, 10 << 3));
        let conf = find_file(&cpio, PATH_IN_IMAGE).unwrap();
        let back = CaptureConfig::parse(std::str::from_utf8(conf).unwrap()).unwrap();
        assert_eq!(back, r.config);
        assert_eq!(find_file(&cpio, "init").unwrap(), &fake_exe(None)[..]);
        assert_eq!(find_file(&cpio, "lib/modules/virtio_blk.ko").unwrap(), fake_ko(&["depends=virtio,virtio_ring"]));

        // Uncompressed: the same archive, byte for byte.
        let mut plain = fx.spec("plain.cpio");
        plain.compression = Compression::None;
        let rp = build(&plain).unwrap();
        assert_eq!(fs::read(&plain.output).unwrap(), cpio);
        assert_eq!(rp.compressed_bytes, rp.uncompressed_bytes);
    }

    /// Finds a regular file's data in a newc archive.
    fn find_file<'a>(a: &'a [u8], name: &str) -> Option<&'a [u8]> {
        let mut off = 0;
        let hex = |b: &[u8]| usize::from_str_radix(std::str::from_utf8(b).unwrap(), 16).unwrap();
        while off + 110 <= a.len() {
            assert_eq!(&a[off..off + 6], b"070701");
            let size = hex(&a[off + 54..off + 62]);
            let namesize = hex(&a[off + 94..off + 102]);
            let n = &a[off + 110..off + 110 + namesize - 1];
            let data = (off + 110 + namesize).div_ceil(4) * 4;
            if n == name.as_bytes() {
                return Some(&a[data..data + size]);
            }
            off = (data + size).div_ceil(4) * 4;
        }
        None
    }

    #[test]
    fn same_inputs_same_bytes_and_overwrite_is_atomic() {
        let fx = Fixture::new();
        let a = fx.spec("a.img");
        let b = fx.spec("b.img");
        build(&a).unwrap();
        build(&b).unwrap();
        let first = fs::read(&a.output).unwrap();
        assert_eq!(first, fs::read(&b.output).unwrap());
        // Rebuilding over an existing image replaces it with the same bytes.
        build(&a).unwrap();
        assert_eq!(fs::read(&a.output).unwrap(), first);
    }

    #[test]
    fn refuses_a_dynamic_binary_naming_it() {
        let fx = Fixture::new();
        let bin = fx.dir.path().join("capture");
        fs::write(&bin, fake_exe(Some("/lib64/ld-linux-x86-64.so.2"))).unwrap();
        let spec = fx.spec("x.img");
        match build(&spec) {
            Err(e @ Error::Dynamic { .. }) => {
                let msg = e.to_string();
                assert!(msg.starts_with(&format!("{} is dynamically linked", bin.display())), "{msg}");
                assert!(msg.contains("/lib64/ld-linux-x86-64.so.2"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
        assert!(!spec.output.exists());

        fs::write(&bin, b"#!/bin/sh\n").unwrap();
        match build(&spec) {
            Err(e @ Error::BadBinary { .. }) => {
                assert_eq!(e.to_string(), format!("{}: not an ELF executable", bin.display()))
            }
            other => panic!("{other:?}"),
        }
        // Truncated headers are errors, not panics.
        let exe = fake_exe(Some("/x"));
        for n in [4, 20, 63, 64, 100] {
            assert!(check_static(&bin, &exe[..n]).is_err(), "{n}");
        }
        assert!(check_static(&bin, &fake_exe(None)).is_ok());
    }

    #[test]
    fn module_errors_name_the_file() {
        let fx = Fixture::new();
        let bad = fx.dir.path().join("modules/kernel/drivers/block/virtio_blk.ko.xz");
        fs::write(&bad, b"\xfd7zXZ\0garbage").unwrap();
        let e = build(&fx.spec("x.img")).unwrap_err();
        assert!(e.to_string().starts_with(&format!("{}: cannot decompress", bad.display())), "{e}");

        let mut spec = fx.spec("x.img");
        spec.roots = vec!["nosuch".into()];
        assert_eq!(build(&spec).unwrap_err().to_string(), "module nosuch not found");
        spec.roots.clear();
        spec.config.fstype = Some("ext4\nlevel = 0".into());
        let e = build(&spec).unwrap_err();
        assert_eq!(e.to_string(), "capture configuration: fstype \"ext4\\nlevel = 0\" contains a control character");
        spec.config.fstype = None;
        spec.config.path = "../etc".into();
        let e = build(&spec).unwrap_err();
        assert_eq!(e.to_string(), "capture configuration: line 5, key `path`: \"../etc\" may not contain . or ..");
        spec.config.path = "/var/crash/".into();
        assert_eq!(build(&spec).unwrap().config.path, "var/crash", "normalized as the capture side reads it");
        spec.output = fx.dir.path().join("no/such/dir/x.img");
        let e = build(&spec).unwrap_err();
        assert!(e.to_string().starts_with(&format!("writing {}", spec.output.display())), "{e}");
    }

    /// The real peers: zstd(1) unpacks the image and GNU cpio lists it.
    #[test]
    fn zstd_and_gnu_cpio_read_the_image() {
        let (Some(zstd), Some(cpio)) = (which("zstd"), which("cpio")) else {
            eprintln!("zstd or cpio not installed (scripts/deps.sh installs them): skipped");
            return;
        };
        let fx = Fixture::new();
        let spec = fx.spec("capture.img");
        build(&spec).unwrap();
        let raw = fx.dir.path().join("capture.cpio");
        let st = Command::new(zstd).arg("-dqf").arg(&spec.output).arg("-o").arg(&raw).status().unwrap();
        assert!(st.success());
        let out = Command::new(cpio).args(["-t", "-v", "-F"]).arg(&raw).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let list = String::from_utf8_lossy(&out.stdout);
        let names: Vec<&str> = list.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
        let mut expected =
            vec!["dev", "proc", "sys", "mnt", "tmp", "etc", "lib", "lib/modules", "dev/console", "dev/null", "init"];
        expected.push(PATH_IN_IMAGE);
        let mods: Vec<String> = LOAD_ORDER.iter().map(|m| format!("lib/modules/{m}.ko")).collect();
        expected.extend(mods.iter().map(String::as_str));
        assert_eq!(names, expected, "{list}");
        let console = list.lines().find(|l| l.ends_with("dev/console")).unwrap();
        assert!(console.starts_with("crw-------") && console.contains("5,"), "{console}");
        assert!(list.lines().find(|l| l.ends_with(" init")).unwrap().starts_with("-rwxr-xr-x"));
    }

    fn which(cmd: &str) -> Option<PathBuf> {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|d| d.join(cmd))
            .find(|p| p.is_file())
    }
}
