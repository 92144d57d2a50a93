//! The capture initramfs `kexdump arm` loads when no `--initrd` is given:
//! built from the configuration (/etc/kexdump.toml) at `kernel.initramfs`,
//! and rebuilt only when one of its inputs changed.
//!
//! The inputs: the kernel image (its release chooses the modules), the
//! capture binary, the capture configuration the image carries (module
//! load order included), each module file in the image (path, size, mtime,
//! SHA-256), the ssh key an ssh target logs in with (SHA-256), the
//! modules directory and the kexdump version (a newer
//! builder may lay the image out differently). They are recorded next to
//! the image as `<image>.inputs.json`, with the image's own size and
//! SHA-256: the image is reused only when it exists, is the image recorded
//! and the recorded inputs are the current ones.
//!
//! Functions take the root directory (`/`, or a fake tree in tests);
//! paths from the configuration are read below it.

use crate::arming::bzimage;
use crate::config::Config;
use crate::json_file;
use crate::system::identity;
use crate::system::network::{self, NetProbe};
use anyhow::{bail, Context, Result};
use kexdump_engine::capture_config::{CaptureConfig, Target};
use kexdump_initramfs::image::{self, Report, Spec};
use kexdump_initramfs::modules::ModuleTree;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The record of an image's inputs is `<image>` + this.
pub const INPUTS_SUFFIX: &str = ".inputs.json";

/// How much of a bzImage holds its version string: the header's pointer
/// is 16 bits, from 0x200.
const VERSION_PREFIX_LEN: u64 = 0x200 + 0x1_0000 + 256;

/// `path` from the configuration, read below `root`.
pub fn under(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Where the record of `image`'s inputs is.
pub fn inputs_path(image: &Path) -> PathBuf {
    let mut p = image.as_os_str().to_owned();
    p.push(INPUTS_SUFFIX);
    PathBuf::from(p)
}

/// Where each input of the image comes from.
#[derive(Clone, Debug)]
pub struct Sources {
    pub kernel: PathBuf,
    pub modules_dir: PathBuf,
    /// How the modules directory was chosen, for messages.
    pub modules_dir_from: &'static str,
    pub capture_bin: PathBuf,
    /// The image to load (and to build).
    pub image: PathBuf,
    /// The capture configuration, module list empty (the builder fills it).
    pub config: CaptureConfig,
    /// Module names or aliases the image needs, with their closure.
    pub roots: Vec<String>,
    /// The ssh private key the image carries (ssh targets).
    pub ssh_identity: Option<PathBuf>,
}

/// The release of the kernel image at `kernel`: from its bzImage header,
/// else from a file name `vmlinuz-<release>`; and which of the two.
pub fn kernel_release(kernel: &Path) -> Result<(String, &'static str)> {
    let mut prefix = Vec::new();
    File::open(kernel)
        .and_then(|f| f.take(VERSION_PREFIX_LEN).read_to_end(&mut prefix))
        .with_context(|| format!("reading the kernel image {}", kernel.display()))?;
    if let Some(r) = bzimage::kernel_release(&prefix) {
        return Ok((r, "the kernel's boot header"));
    }
    let name = kernel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match name.strip_prefix("vmlinuz-").or_else(|| name.strip_prefix("vmlinux-")) {
        Some(r) if !r.is_empty() => Ok((r.to_owned(), "the kernel's file name")),
        _ => bail!(
            "cannot tell the release of {}: no version string in a boot header, and its name is not \
             vmlinuz-<release>; pass --modules-dir DIR or set kernel.modules_dir in the configuration",
            kernel.display()
        ),
    }
}

/// Resolve everything the image is made of. `kernel` (from the command
/// line) wins over the configuration's `kernel.kernel`, whose default is
/// `/boot/vmlinuz-<running release>`. A remote target's network is read
/// from the running system.
pub fn sources(
    root: &Path,
    config: &Config,
    kernel: Option<&Path>,
    modules_dir: Option<&Path>,
    capture_bin: PathBuf,
) -> Result<Sources> {
    sources_with(root, config, kernel, modules_dir, capture_bin, &network::Live)
}

/// [`sources`], a remote target's network found through `probe`.
pub fn sources_with(
    root: &Path,
    config: &Config,
    kernel: Option<&Path>,
    modules_dir: Option<&Path>,
    capture_bin: PathBuf,
    probe: &dyn NetProbe,
) -> Result<Sources> {
    let kernel_arg = kernel.is_some();
    let kernel = match (kernel, config.kernel.kernel.as_str()) {
        (Some(k), _) => k.to_path_buf(),
        (None, "") => root.join("boot").join(format!("vmlinuz-{}", identity::running_release(root)?)),
        (None, k) => under(root, k),
    };
    if let Err(e) = std::fs::metadata(&kernel) {
        let from = match (kernel_arg, config.kernel.kernel.as_str()) {
            (true, _) => "--kernel",
            (false, "") => "the default, the running kernel's release",
            (false, _) => "kernel.kernel in the configuration",
        };
        bail!(
            "the capture kernel {} ({from}): {e}. Name the kernel to boot after a crash with --kernel FILE, \
             or set kernel.kernel in the configuration",
            kernel.display()
        );
    }
    let (modules_dir, modules_dir_from) = match (modules_dir, config.kernel.modules_dir.as_str()) {
        (Some(d), _) => (d.to_path_buf(), "--modules-dir"),
        (None, "") => {
            let (release, from) = kernel_release(&kernel)?;
            (root.join("lib/modules").join(release), from)
        }
        (None, d) => (under(root, d), "kernel.modules_dir"),
    };
    let setup = config.capture_setup(root, probe)?;
    let cc = setup.capture;
    let mut roots: Vec<String> = Vec::new();
    let mut add = |m: String| {
        if !roots.contains(&m) {
            roots.push(m);
        }
    };
    // A disk for a local target, or for a remote one's fallback.
    if !cc.target.is_remote() || cc.fallback.is_some() {
        config.disk_modules()?.into_iter().for_each(&mut add);
    }
    let fstype = cc.fstype.as_ref().or(cc.fallback.as_ref().and_then(|f| f.fstype.as_ref()));
    if let Some(fs) = fstype {
        image::fs_modules(fs).into_iter().for_each(&mut add);
    }
    if let Some(driver) = setup.network.as_ref().and_then(|n| n.driver.clone()) {
        image::nic_modules(&driver).into_iter().for_each(&mut add);
    }
    match &cc.target {
        Target::Nfs(_) if cc.nfs_version == "3" => add("nfsv3".into()),
        Target::Nfs(_) => add("nfsv4".into()),
        _ => {}
    }
    config.kernel.extra_modules.iter().cloned().for_each(&mut add);
    Ok(Sources {
        kernel,
        modules_dir,
        modules_dir_from,
        capture_bin,
        image: under(root, &config.kernel.initramfs),
        config: cc,
        roots,
        ssh_identity: setup.ssh_identity,
    })
}

/// A file by its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInput {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

/// One module file in the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInput {
    pub name: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub mtime_sec: i64,
    pub mtime_nsec: i64,
    /// Of the file as stored (maybe compressed).
    pub sha256: String,
}

/// What an image is made of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    pub kexdump_version: String,
    pub kernel: FileInput,
    pub capture_bin: FileInput,
    pub modules_dir: PathBuf,
    /// `etc/kexdump-capture.conf` as the image holds it.
    pub config: String,
    pub config_sha256: String,
    /// In load order.
    pub modules: Vec<ModuleInput>,
    /// The ssh key the image carries. Absent for other targets, so a
    /// local target's record (and digest) is what it was before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_identity: Option<FileInput>,
}

impl Inputs {
    /// SHA-256 over all of it: equal digests, equal inputs.
    pub fn digest(&self) -> String {
        // Struct fields serialize in declaration order: the text is canonical.
        // (A path that is no UTF-8 does not serialize; its Debug form still counts.)
        let text = serde_json::to_vec(self).unwrap_or_else(|_| format!("{self:?}").into_bytes());
        hex(&Sha256::digest(text))
    }
}

/// `<image>.inputs.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// [`Inputs::digest`].
    pub digest: String,
    /// The image built from them.
    pub image: FileInput,
    pub inputs: Inputs,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Size and SHA-256 of a file, streamed.
fn hash_file(path: &Path) -> Result<(u64, String)> {
    let ctx = || format!("reading {}", path.display());
    let mut f = File::open(path).with_context(ctx)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(ctx),
        };
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, hex(&h.finalize())))
}

fn file_input(path: &Path) -> Result<FileInput> {
    let (bytes, sha256) = hash_file(path)?;
    Ok(FileInput { path: path.to_path_buf(), bytes, sha256 })
}

/// The configuration text the image will carry for `modules`, as the
/// builder writes it (read back once, so `path` is normalized).
fn config_text(config: &CaptureConfig, modules: Vec<String>) -> String {
    let mut c = config.clone();
    c.modules = modules;
    let text = c.to_text();
    // A configuration that does not read back fails in the builder, which says why.
    CaptureConfig::parse(&text).map(|c| c.to_text()).unwrap_or(text)
}

/// Read and hash the current inputs. Changes nothing.
pub fn inputs(s: &Sources) -> Result<Inputs> {
    let tree = ModuleTree::open(&s.modules_dir).with_context(|| {
        format!("the modules of {} ({}, from {})", s.kernel.display(), s.modules_dir.display(), s.modules_dir_from)
    })?;
    let roots: Vec<&str> = s.roots.iter().map(String::as_str).collect();
    let closure = tree.resolve(&roots).with_context(|| format!("in {}", s.modules_dir.display()))?;
    let mut modules = Vec::with_capacity(closure.modules.len());
    for (name, path) in closure.modules {
        let meta = fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        let (bytes, sha256) = hash_file(&path)?;
        modules.push(ModuleInput { name, path, bytes, mtime_sec: meta.mtime(), mtime_nsec: meta.mtime_nsec(), sha256 });
    }
    let config = config_text(&s.config, modules.iter().map(|m| m.name.clone()).collect());
    Ok(Inputs {
        kexdump_version: env!("CARGO_PKG_VERSION").to_owned(),
        kernel: file_input(&s.kernel)?,
        capture_bin: file_input(&s.capture_bin)?,
        modules_dir: s.modules_dir.clone(),
        config_sha256: hex(&Sha256::digest(config.as_bytes())),
        config,
        modules,
        ssh_identity: match &s.ssh_identity {
            Some(p) => {
                Some(file_input(p).context("the ssh key of the target (ssh.identity): `kexdump propagate` makes it")?)
            }
            None => None,
        },
    })
}

/// Whether the image at hand will do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// It exists, is what was built, from the current inputs.
    UpToDate(Box<Record>),
    /// Why it must be (re)built: each input that changed, or what is missing.
    Rebuild(Vec<String>),
}

/// Compare the image and its record with the current inputs. Reads only.
pub fn decide(image: &Path, current: &Inputs, force: bool) -> Decision {
    if force {
        return Decision::Rebuild(vec!["--rebuild was given".into()]);
    }
    match fs::symlink_metadata(image) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Decision::Rebuild(vec!["it is not a regular file".into()]),
        Err(_) => return Decision::Rebuild(vec!["it does not exist yet".into()]),
    }
    let rec_path = inputs_path(image);
    let record: Record = match fs::read(&rec_path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Decision::Rebuild(vec![format!("no record of its inputs ({})", rec_path.display())])
        }
        Err(e) => return Decision::Rebuild(vec![format!("cannot read {}: {e}", rec_path.display())]),
        Ok(b) => match serde_json::from_slice(&b) {
            Ok(r) => r,
            Err(e) => return Decision::Rebuild(vec![format!("{} is not a record of inputs: {e}", rec_path.display())]),
        },
    };
    let mut why = changes(&record.inputs, current);
    if why.is_empty() && record.inputs != *current {
        why.push("its inputs changed".into());
    }
    if !why.is_empty() {
        return Decision::Rebuild(why);
    }
    match file_input(image) {
        Ok(now) if now == record.image => Decision::UpToDate(Box::new(record)),
        Ok(_) => Decision::Rebuild(vec!["it is not the image that was built (it changed since)".into()]),
        Err(e) => Decision::Rebuild(vec![format!("{e:#}")]),
    }
}

/// Each difference between two sets of inputs, for people.
pub fn changes(old: &Inputs, new: &Inputs) -> Vec<String> {
    let mut out = Vec::new();
    if old.kexdump_version != new.kexdump_version {
        out.push(format!("kexdump is now version {} (was {})", new.kexdump_version, old.kexdump_version));
    }
    for (what, o, n) in [("kernel", &old.kernel, &new.kernel), ("capture binary", &old.capture_bin, &new.capture_bin)] {
        if o.path != n.path {
            out.push(format!("the {what} is now {} (was {})", n.path.display(), o.path.display()));
        } else if o != n {
            out.push(format!("the {what} {} changed", n.path.display()));
        }
    }
    match (&old.ssh_identity, &new.ssh_identity) {
        (Some(o), Some(n)) if o.path != n.path => {
            out.push(format!("the ssh key is now {} (was {})", n.path.display(), o.path.display()))
        }
        (Some(o), Some(n)) if o != n => out.push(format!("the ssh key {} changed", n.path.display())),
        (None, Some(n)) => out.push(format!("the image now carries the ssh key {}", n.path.display())),
        (Some(o), None) => out.push(format!("the image no longer carries the ssh key {}", o.path.display())),
        _ => {}
    }
    if old.modules_dir != new.modules_dir {
        out.push(format!(
            "the modules directory is now {} (was {})",
            new.modules_dir.display(),
            old.modules_dir.display()
        ));
    }
    let names = |i: &Inputs| i.modules.iter().map(|m| m.name.clone()).collect::<Vec<_>>();
    let (old_names, new_names) = (names(old), names(new));
    let added: Vec<&str> = new_names.iter().filter(|n| !old_names.contains(n)).map(String::as_str).collect();
    let removed: Vec<&str> = old_names.iter().filter(|n| !new_names.contains(n)).map(String::as_str).collect();
    if !added.is_empty() {
        out.push(format!("modules added: {}", added.join(" ")));
    }
    if !removed.is_empty() {
        out.push(format!("modules removed: {}", removed.join(" ")));
    }
    for n in &new.modules {
        if let Some(o) = old.modules.iter().find(|o| o.name == n.name).filter(|o| *o != n) {
            let what = if o.path != n.path {
                format!("is now {} (was {})", n.path.display(), o.path.display())
            } else if (o.bytes, &o.sha256) != (n.bytes, &n.sha256) {
                format!("{} changed", n.path.display())
            } else {
                format!("{} was touched (mtime)", n.path.display())
            };
            out.push(format!("module {} {what}", n.name));
        }
    }
    if old.config != new.config {
        // The keys whose lines differ; the module list is told above.
        let key = |l: &str| l.split_once(" = ").map(|(k, _)| k.to_owned());
        let (ol, nl): (Vec<&str>, Vec<&str>) = (old.config.lines().collect(), new.config.lines().collect());
        let told = !added.is_empty() || !removed.is_empty();
        let mut keys: Vec<String> = Vec::new();
        for l in ol.iter().filter(|l| !nl.contains(l)).chain(nl.iter().filter(|l| !ol.contains(l))) {
            if let Some(k) = key(l).filter(|k| !(keys.contains(k) || (told && k == "modules"))) {
                keys.push(k);
            }
        }
        if !(told && keys.is_empty()) {
            let keys = if keys.is_empty() { String::new() } else { format!(" ({})", keys.join(", ")) };
            out.push(format!("the capture configuration changed{keys}"));
        }
    }
    out
}

/// The ssh key's bytes for the image.
fn read_identity(s: &Sources) -> Result<Option<Vec<u8>>> {
    s.ssh_identity
        .as_ref()
        .map(|p| fs::read(p).with_context(|| format!("reading the ssh key {}", p.display())))
        .transpose()
}

/// Build the image `kexdump arm` would build in a temporary directory, to
/// measure it; nothing else is written.
pub fn measure(s: &Sources) -> Result<Report> {
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let out = tmp.path().join("capture.img");
    let mut spec = Spec::new(s.capture_bin.clone(), s.config.clone(), s.modules_dir.clone(), out);
    spec.roots = s.roots.clone();
    spec.ssh_identity = read_identity(s)?;
    image::build(&spec).context("building the capture initramfs to measure it")
}

/// Build the image from `sources` and record `inputs` next to it. The
/// image's directory is created (mode 0700) if missing.
pub fn build(s: &Sources, inputs: &Inputs) -> Result<(Record, Report)> {
    if let Some(dir) = s.image.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut spec = Spec::new(s.capture_bin.clone(), s.config.clone(), s.modules_dir.clone(), s.image.clone());
    spec.roots = s.roots.clone();
    spec.ssh_identity = read_identity(s)?;
    if let (Some(now), Some(hashed)) = (&spec.ssh_identity, &inputs.ssh_identity) {
        if hex(&Sha256::digest(now)) != hashed.sha256 {
            bail!("the ssh key {} changed while the image was built: run it again", hashed.path.display());
        }
    }
    let report = image::build(&spec).with_context(|| format!("building {}", s.image.display()))?;
    // The builder resolved the modules again: it must have found the same.
    let built: Vec<(&str, &Path)> = report.modules.iter().map(|m| (m.name.as_str(), m.source.as_path())).collect();
    let hashed: Vec<(&str, &Path)> = inputs.modules.iter().map(|m| (m.name.as_str(), m.path.as_path())).collect();
    if built != hashed || report.config.to_text() != inputs.config {
        bail!("the modules under {} changed while the image was built: run it again", s.modules_dir.display());
    }
    let record = Record { digest: inputs.digest(), image: file_input(&s.image)?, inputs: inputs.clone() };
    json_file::write(&inputs_path(&s.image), &record)?;
    Ok((record, report))
}

/// Fake systems for the tests of this module and of arming.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;

    /// A minimal static ELF64 executable: the header and one PT_LOAD (the
    /// builder refuses a binary without program headers or with PT_INTERP).
    pub fn fake_exe(body: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 64 + 56];
        f[..6].copy_from_slice(b"\x7fELF\x02\x01");
        f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        f[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        f[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        f[64..68].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        f.extend_from_slice(body);
        f
    }

    pub use kexdump_testgen::kmod::fake_ko;

    pub const RELEASE: &str = "6.1.0-56-amd64";
    pub const MODULES: &str = "lib/modules/6.1.0-56-amd64";

    /// A root with a crashkernel reservation, /proc/cmdline, a kernel
    /// (`boot/vmlinuz-<RELEASE>`, release in its header), its modules
    /// (virtio disk, ext4), a capture binary at `usr/lib/kexdump/capture`
    /// and `etc/kexdump.toml` (LABEL target, ext4).
    pub struct System {
        pub dir: tempfile::TempDir,
    }

    impl System {
        pub fn new() -> System {
            let s = System { dir: tempfile::tempdir().expect("tempdir") };
            s.write("sys/kernel/kexec_crash_size", b"268435456\n");
            s.write("sys/kernel/kexec_crash_loaded", b"0\n");
            s.write(
                "proc/cmdline",
                b"BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro quiet crashkernel=256M console=ttyS0\n",
            );
            s.write(identity::OSRELEASE, format!("{RELEASE}\n").as_bytes());
            s.write(&format!("boot/vmlinuz-{RELEASE}"), &bzimage::fake_with_release(RELEASE, b"kernel one"));
            for (rel, deps) in [
                ("kernel/drivers/virtio/virtio_ring.ko", ""),
                ("kernel/drivers/virtio/virtio.ko", "virtio_ring"),
                ("kernel/drivers/virtio/virtio_pci.ko", "virtio,virtio_ring"),
                ("kernel/drivers/block/virtio_blk.ko", "virtio,virtio_ring"),
                ("kernel/fs/jbd2/jbd2.ko", ""),
                ("kernel/fs/ext4/ext4.ko", "jbd2"),
                ("kernel/fs/xfs/xfs.ko", ""),
            ] {
                s.write(&format!("{MODULES}/{rel}"), &fake_ko(&["license=GPL", &format!("depends={deps}")]));
            }
            s.write("usr/lib/kexdump/capture", &fake_exe(b"capture one"));
            // The dump target's disk is attached (not mounted).
            s.write("dev/vdb", b"");
            std::fs::create_dir_all(s.path("dev/disk/by-label")).expect("mkdir");
            std::os::unix::fs::symlink("../../vdb", s.path("dev/disk/by-label/crash")).expect("symlink");
            s.config("[target]\ntarget = \"LABEL=crash\"\nfstype = \"ext4\"\n");
            s
        }

        pub fn root(&self) -> &Path {
            self.dir.path()
        }

        pub fn path(&self, rel: &str) -> PathBuf {
            self.root().join(rel)
        }

        pub fn write(&self, rel: &str, data: &[u8]) {
            let p = self.path(rel);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(p, data).expect("write");
        }

        pub fn config(&self, text: &str) {
            self.write("etc/kexdump.toml", text.as_bytes());
        }

        /// The configuration's image.
        pub fn image(&self) -> PathBuf {
            self.path("var/lib/kexdump/capture.img")
        }

        /// Every file under the root, for "nothing was written" checks.
        pub fn listing(&self) -> Vec<(PathBuf, Vec<u8>)> {
            let mut out = Vec::new();
            let mut stack = vec![self.root().to_path_buf()];
            while let Some(d) = stack.pop() {
                for e in fs::read_dir(&d).expect("read_dir") {
                    let p = e.expect("entry").path();
                    if p.is_dir() {
                        out.push((p.clone(), Vec::new()));
                        stack.push(p);
                    } else {
                        out.push((p.clone(), fs::read(&p).expect("read")));
                    }
                }
            }
            out.sort();
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::*;
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn sources_of(sys: &System) -> Sources {
        let config = Config::load(sys.root(), None).expect("config");
        sources(sys.root(), &config, None, None, sys.path("usr/lib/kexdump/capture")).expect("sources")
    }

    /// Decide as `kexdump arm` does; build when needed; the reasons given.
    fn arm_image(sys: &System) -> Vec<String> {
        let s = sources_of(sys);
        let i = inputs(&s).expect("inputs");
        match decide(&s.image, &i, false) {
            Decision::UpToDate(r) => {
                assert_eq!(r.digest, i.digest());
                Vec::new()
            }
            Decision::Rebuild(why) => {
                let (rec, report) = build(&s, &i).expect("build");
                assert_eq!(rec.inputs, i);
                assert_eq!(report.config.to_text(), i.config);
                assert!(matches!(decide(&s.image, &i, false), Decision::UpToDate(_)), "up to date once built");
                why
            }
        }
    }

    #[test]
    fn sources_follow_the_configuration() {
        let sys = System::new();
        let s = sources_of(&sys);
        assert_eq!(s.kernel, sys.path(&format!("boot/vmlinuz-{RELEASE}")));
        assert_eq!((s.modules_dir.clone(), s.modules_dir_from), (sys.path(MODULES), "the kernel's boot header"));
        assert_eq!(s.image, sys.image());
        assert_eq!(s.roots, ["virtio_pci", "virtio_blk", "ext4"]);

        sys.config(
            "[target]\ntarget = \"LABEL=crash\"\ndrivers = [\"nvme\"]\n[kernel]\nkernel = \"/boot/other\"\n\
             initramfs = \"/boot/kexdump.img\"\nextra_modules = [\"dm_crypt\", \"nvme\"]\n",
        );
        sys.write("boot/other", &bzimage::fake_with_release("6.9.0-test", b""));
        let s = sources_of(&sys);
        assert_eq!(s.kernel, sys.path("boot/other"));
        assert_eq!(s.modules_dir, sys.path("lib/modules/6.9.0-test"));
        assert_eq!(s.image, sys.path("boot/kexdump.img"));
        assert_eq!(s.roots, ["nvme", "dm_crypt"], "no fstype: no file-system module; each root once");

        // No version string: the file name tells; neither: an error naming the key.
        sys.write("boot/other", b"not a bzImage");
        let e = sources(sys.root(), &Config::load(sys.root(), None).unwrap(), None, None, PathBuf::new()).unwrap_err();
        assert!(e.to_string().contains("set kernel.modules_dir"), "{e}");
        sys.write("boot/vmlinuz-6.2.0-x", b"not a bzImage");
        let config = Config::load(sys.root(), None).unwrap();
        let k = sys.path("boot/vmlinuz-6.2.0-x");
        let s = sources(sys.root(), &config, Some(&k), None, PathBuf::new()).unwrap();
        assert_eq!((s.modules_dir, s.modules_dir_from), (sys.path("lib/modules/6.2.0-x"), "the kernel's file name"));

        sys.config("[target]\ntarget = \"LABEL=crash\"\n[kernel]\nmodules_dir = \"/opt/mods\"\n");
        let s = sources_of(&sys);
        assert_eq!((s.modules_dir, s.modules_dir_from), (sys.path("opt/mods"), "kernel.modules_dir"));
        let mods = sys.path("elsewhere");
        let s =
            sources(sys.root(), &Config::load(sys.root(), None).unwrap(), None, Some(&mods), PathBuf::new()).unwrap();
        assert_eq!((s.modules_dir, s.modules_dir_from), (mods, "--modules-dir"), "the option wins");
    }

    #[test]
    fn a_remote_target_brings_its_nic_driver_and_ssh_key() {
        let sys = System::new();
        let probe = network::fixture::machine(sys.root());
        sys.write(
            &format!("{MODULES}/kernel/drivers/net/virtio_net.ko"),
            &fake_ko(&["license=GPL", "depends=virtio,virtio_ring"]),
        );
        sys.write("etc/kexdump/known_hosts", format!("192.0.2.10 {}\n", HOST_KEY).as_bytes());
        sys.write("etc/kexdump/id_ed25519", b"key one\n");
        let src = |sys: &System| {
            let config = Config::load(sys.root(), None).expect("config");
            sources_with(sys.root(), &config, None, None, sys.path("usr/lib/kexdump/capture"), &probe).expect("sources")
        };
        sys.config("[target]\ntarget = \"ssh://kx@192.0.2.10/srv/dumps\"\n");
        let s = src(&sys);
        assert_eq!(s.roots, ["virtio_pci", "virtio_net"], "no disk without a fallback; virtio-net's transport");
        assert_eq!(s.ssh_identity, Some(sys.path("etc/kexdump/id_ed25519")));
        let build_now = |s: &Sources| {
            let i = inputs(s).expect("inputs");
            let why = match decide(&s.image, &i, false) {
                Decision::UpToDate(_) => Vec::new(),
                Decision::Rebuild(why) => {
                    build(s, &i).expect("build");
                    why
                }
            };
            (i, why)
        };
        let (i, _) = build_now(&s);
        assert_eq!(i.ssh_identity.as_ref().map(|f| f.bytes), Some(8));
        assert!(i.config.contains("net_mac = 52:54:00:12:34:56\n"), "{}", i.config);
        assert!(build_now(&s).1.is_empty());
        sys.write("etc/kexdump/id_ed25519", b"key two\n");
        let key = sys.path("etc/kexdump/id_ed25519");
        assert_eq!(build_now(&src(&sys)).1, [format!("the ssh key {} changed", key.display())]);

        // NFS: the client module; a fallback: its disk and file system.
        sys.config(
            "[target]\ntarget = \"nfs://192.0.2.10/export\"\nfallback = \"LABEL=crash\"\nfstype = \"ext4\"\n\
             [nfs]\nversion = \"3\"\n",
        );
        let s = src(&sys);
        assert_eq!(s.roots, ["virtio_pci", "virtio_blk", "ext4", "virtio_net", "nfsv3"], "virtio_pci once");
        assert_eq!(s.ssh_identity, None);
        // A local target's record has no ssh key: records written before stay valid.
        let local = inputs(&sources_of(&System::new())).unwrap();
        assert!(!serde_json::to_string(&local).unwrap().contains("ssh_identity"));
    }

    const HOST_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb1mDz2qOdz4dDkEQnqv1yTyTCXrHo/SMA+w7PfsPcC";

    #[test]
    fn a_missing_kernel_is_named_with_the_option_and_the_key() {
        let sys = System::new();
        std::fs::remove_file(sys.path(&format!("boot/vmlinuz-{RELEASE}"))).unwrap();
        let config = Config::load(sys.root(), None).unwrap();
        let e = sources(sys.root(), &config, None, None, PathBuf::new()).unwrap_err().to_string();
        assert!(e.contains(&format!("vmlinuz-{RELEASE} (the default, the running kernel's release)")), "{e}");
        assert!(e.contains("with --kernel FILE, or set kernel.kernel"), "{e}");
        let k = sys.path("boot/nope");
        let e = sources(sys.root(), &config, Some(&k), None, PathBuf::new()).unwrap_err().to_string();
        assert!(e.contains("boot/nope (--kernel)"), "{e}");
    }

    #[test]
    fn first_arm_builds_second_reuses() {
        let sys = System::new();
        let why = arm_image(&sys);
        assert_eq!(why, ["it does not exist yet"]);
        let meta = fs::metadata(sys.path("var/lib/kexdump")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o700, "the image's directory is private");
        let rec: Record = serde_json::from_slice(&fs::read(inputs_path(&sys.image())).unwrap()).unwrap();
        let names: Vec<&str> = rec.inputs.modules.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["virtio_ring", "virtio", "virtio_pci", "virtio_blk", "jbd2", "ext4"]);
        assert_eq!(rec.inputs.kexdump_version, env!("CARGO_PKG_VERSION"));
        assert!(rec.inputs.config.contains("modules = virtio_ring,virtio,virtio_pci,virtio_blk,jbd2,ext4\n"));
        assert_eq!(rec.image.bytes, fs::metadata(sys.image()).unwrap().len());
        assert_eq!(rec.digest.len(), 64);

        let built = fs::read(sys.image()).unwrap();
        assert!(arm_image(&sys).is_empty(), "the second arm reuses the image");
        assert_eq!(fs::read(sys.image()).unwrap(), built);
    }

    #[test]
    fn each_changed_input_rebuilds_and_is_named() {
        let sys = System::new();
        arm_image(&sys);

        sys.config("[target]\ntarget = \"LABEL=crash\"\nfstype = \"ext4\"\n[dump]\nlevel = 17\n");
        assert_eq!(arm_image(&sys), ["the capture configuration changed (level)"]);
        assert!(arm_image(&sys).is_empty());

        let kernel = format!("boot/vmlinuz-{RELEASE}");
        sys.write(&kernel, &bzimage::fake_with_release(RELEASE, b"kernel two"));
        assert_eq!(arm_image(&sys), [format!("the kernel {} changed", sys.path(&kernel).display())]);

        let ko = format!("{MODULES}/kernel/fs/jbd2/jbd2.ko");
        sys.write(&ko, &fake_ko(&["license=GPL", "depends=", "version=2"]));
        assert_eq!(arm_image(&sys), [format!("module jbd2 {} changed", sys.path(&ko).display())]);

        sys.write("usr/lib/kexdump/capture", &fake_exe(b"capture two"));
        let bin = sys.path("usr/lib/kexdump/capture");
        assert_eq!(arm_image(&sys), [format!("the capture binary {} changed", bin.display())]);

        // Same bytes, new mtime: touched modules count too.
        let f = File::options().write(true).open(sys.path(&ko)).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000)).unwrap();
        assert_eq!(arm_image(&sys), [format!("module jbd2 {} was touched (mtime)", sys.path(&ko).display())]);

        // Another file system: its module comes, ext4's go.
        sys.config("[target]\ntarget = \"LABEL=crash\"\nfstype = \"xfs\"\n[dump]\nlevel = 17\n");
        assert_eq!(
            arm_image(&sys),
            ["modules added: xfs", "modules removed: jbd2 ext4", "the capture configuration changed (fstype)"]
        );
        assert!(arm_image(&sys).is_empty());
    }

    #[test]
    fn a_changed_or_lost_image_or_record_rebuilds() {
        let sys = System::new();
        arm_image(&sys);
        let s = sources_of(&sys);
        let i = inputs(&s).unwrap();
        assert_eq!(
            decide(&s.image, &i, true),
            Decision::Rebuild(vec!["--rebuild was given".into()]),
            "--rebuild forces"
        );

        let mut img = fs::read(sys.image()).unwrap();
        img[100] ^= 1;
        fs::write(sys.image(), &img).unwrap();
        let why = "it is not the image that was built (it changed since)".to_string();
        assert_eq!(decide(&s.image, &i, false), Decision::Rebuild(vec![why]));
        assert_eq!(arm_image(&sys).len(), 1);

        fs::write(inputs_path(&sys.image()), b"{").unwrap();
        let Decision::Rebuild(why) = decide(&s.image, &i, false) else { panic!() };
        assert!(why[0].contains("is not a record of inputs"), "{why:?}");
        fs::remove_file(inputs_path(&sys.image())).unwrap();
        let Decision::Rebuild(why) = decide(&s.image, &i, false) else { panic!() };
        assert!(why[0].starts_with("no record of its inputs"), "{why:?}");
    }

    #[test]
    fn inputs_change_nothing() {
        let sys = System::new();
        let before = sys.listing();
        let s = sources_of(&sys);
        let i = inputs(&s).unwrap();
        assert!(matches!(decide(&s.image, &i, false), Decision::Rebuild(_)));
        assert_eq!(sys.listing(), before);
    }

    #[test]
    fn a_missing_module_or_modules_dir_is_named() {
        let sys = System::new();
        sys.config("[target]\ntarget = \"LABEL=crash\"\n[kernel]\nextra_modules = [\"nosuch\"]\n");
        let e = inputs(&sources_of(&sys)).unwrap_err();
        assert_eq!(format!("{e:#}"), format!("in {}: module nosuch not found", sys.path(MODULES).display()));
        fs::remove_dir_all(sys.path("lib/modules")).unwrap();
        let e = inputs(&sources_of(&sys)).unwrap_err();
        assert!(e.to_string().ends_with(", from the kernel's boot header)"), "{e}");
    }
}
