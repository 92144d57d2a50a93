//! Finding the dump target in the capture kernel, which has no udev and no
//! blkid: list the block devices in `/sys/class/block`, read each one's
//! superblock and match the file system UUID or LABEL (or take the named
//! device), waiting for slow disks to appear.
//!
//! Superblock facts (from each file system's on-disk format):
//! - ext2/3/4: superblock at byte 1024; magic 0xEF53 (LE u16) at +0x38,
//!   UUID at +0x68 (16 bytes), volume name at +0x78 (16 bytes).
//! - xfs: superblock at byte 0; magic "XFSB" at +0, UUID at +32 (16
//!   bytes), label at +108 (12 bytes).
//! - btrfs: superblock at 64 KiB; magic "_BHRfS_M" at +0x40, fsid at +0x20
//!   (16 bytes), label at +0x12b (256 bytes).

use kexdump_engine::capture_config::Target;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a superblock says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsId {
    pub fstype: &'static str,
    /// Lowercase, dashed 8-4-4-4-12.
    pub uuid: String,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub device: PathBuf,
    pub fs: Option<FsId>,
}

fn format_uuid(b: &[u8]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn label(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Identify the file system from `head` (the device's first 2 KiB) and
/// `btrfs` (1 KiB at 64 KiB, when the device is that large).
pub fn identify(head: &[u8], btrfs: Option<&[u8]>) -> Option<FsId> {
    if head.len() >= 2048 && head[1024 + 0x38..1024 + 0x3a] == [0x53, 0xef] {
        let sb = &head[1024..2048];
        return Some(FsId { fstype: "ext4", uuid: format_uuid(&sb[0x68..0x78]), label: label(&sb[0x78..0x88]) });
    }
    if head.len() >= 120 && &head[0..4] == b"XFSB" {
        return Some(FsId { fstype: "xfs", uuid: format_uuid(&head[32..48]), label: label(&head[108..120]) });
    }
    if let Some(sb) = btrfs.filter(|b| b.len() >= 0x12b + 256) {
        if &sb[0x40..0x48] == b"_BHRfS_M" {
            return Some(FsId { fstype: "btrfs", uuid: format_uuid(&sb[0x20..0x30]), label: label(&sb[0x12b..0x22b]) });
        }
    }
    None
}

/// Read the superblock areas of `dev` and identify its file system.
pub fn probe(dev: &Path) -> io::Result<Option<FsId>> {
    let f = File::open(dev)?;
    let mut head = vec![0u8; 2048];
    let n = read_full_at(&f, &mut head, 0)?;
    head.truncate(n);
    let mut sb = vec![0u8; 1024];
    let btrfs = match read_full_at(&f, &mut sb, 65536) {
        Ok(n) if n == sb.len() => Some(&sb[..]),
        _ => None,
    };
    Ok(identify(&head, btrfs))
}

fn read_full_at(f: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

fn matches(target: &Target, id: &FsId) -> bool {
    let bare = |s: &str| s.chars().filter(|c| *c != '-').collect::<String>().to_ascii_lowercase();
    match target {
        Target::Uuid(u) => bare(u) == bare(&id.uuid),
        Target::Label(l) => *l == id.label,
        Target::Device(_) | Target::Ssh(_) | Target::Nfs(_) => false,
    }
}

/// One look for the target: block devices are `<sys>/class/block/<name>`,
/// their nodes `<dev>/<name>` (devtmpfs). Devices that cannot be read are
/// skipped; the caller retries until its deadline.
pub fn find_once(target: &Target, sys: &Path, dev: &Path) -> Option<Found> {
    if let Target::Device(p) = target {
        return p.exists().then(|| Found { device: p.clone(), fs: probe(p).ok().flatten() });
    }
    let mut names: Vec<String> = fs::read_dir(sys.join("class/block"))
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.into_iter().find_map(|name| {
        let node = dev.join(&name);
        let id = probe(&node).ok().flatten()?;
        matches(target, &id).then_some(Found { device: node, fs: Some(id) })
    })
}

/// Why mounting `found` as `fstype` failed with `err`, in an operator's
/// words: a read-only device, no or another file system, a missing driver.
/// `sys` is the sysfs root (for `class/block/<name>/ro`).
pub fn explain_mount_error(err: &io::Error, found: &Found, fstype: &str, sys: &Path) -> String {
    let dev = found.device.display();
    let name = found.device.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let ro_file = sys.join("class/block").join(&name).join("ro");
    let read_only = fs::read_to_string(&ro_file).is_ok_and(|s| s.trim() == "1");
    let why = match (err.raw_os_error(), &found.fs) {
        (Some(libc::EACCES | libc::EROFS | libc::EPERM), _) if read_only => {
            format!("the device is read-only ({} is 1): the dump cannot be written there", ro_file.display())
        }
        (Some(libc::EROFS), _) => "the file system or the device is read-only".to_owned(),
        (Some(libc::ENODEV), _) => {
            format!("this kernel has no {fstype} file system: its module is not in the capture image or did not load")
        }
        (_, None) => {
            format!("no file system kexdump recognises is on {dev} (ext4, xfs, btrfs): is it the right device?")
        }
        (_, Some(id)) if id.fstype != fstype => {
            format!("{dev} holds {}, not {fstype}: fix fstype in the configuration", id.fstype)
        }
        (Some(libc::EUCLEAN | libc::EIO | libc::EBADMSG), _) => {
            "the file system is damaged or the device fails (see the kernel messages above)".to_owned()
        }
        _ => "see the kernel messages above".to_owned(),
    };
    format!("mounting {dev} ({fstype}) failed: {err}: {why}")
}

/// Poll for the target until `wait` has passed; `on_wait` is told once
/// per second, so the console shows that we are waiting and for what.
pub fn wait_for(
    target: &Target,
    sys: &Path,
    dev: &Path,
    wait: Duration,
    on_wait: &mut dyn FnMut(u64),
) -> Option<Found> {
    let start = Instant::now();
    let mut said = 0;
    loop {
        if let Some(f) = find_once(target, sys, dev) {
            return Some(f);
        }
        let waited = start.elapsed();
        if waited >= wait {
            return None;
        }
        if waited.as_secs() > said {
            said = waited.as_secs();
            on_wait(said);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Names of the block devices seen, for the error when the target is
/// missing ("found: vda (ext4 LABEL=x), vdb (no file system)").
pub fn describe_devices(sys: &Path, dev: &Path) -> String {
    let mut names: Vec<String> = fs::read_dir(sys.join("class/block"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    if names.is_empty() {
        return "no block devices at all (is the disk driver in the initramfs?)".into();
    }
    names
        .iter()
        .map(|n| match probe(&dev.join(n)) {
            Ok(Some(id)) => format!("{n} ({} UUID={} LABEL={})", id.fstype, id.uuid, id.label),
            Ok(None) => format!("{n} (no known file system)"),
            Err(e) => format!("{n} (unreadable: {e})"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext4_image(uuid: [u8; 16], label: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[1024 + 0x38] = 0x53;
        b[1024 + 0x39] = 0xef;
        b[1024 + 0x68..1024 + 0x78].copy_from_slice(&uuid);
        b[1024 + 0x78..1024 + 0x78 + label.len()].copy_from_slice(label);
        b
    }

    #[test]
    fn mount_errors_say_what_is_wrong_with_the_target() {
        let t = tempfile::tempdir().unwrap();
        let sys = t.path();
        fs::create_dir_all(sys.join("class/block/vdb")).unwrap();
        fs::write(sys.join("class/block/vdb/ro"), "1\n").unwrap();
        let ext4 = FsId { fstype: "ext4", uuid: String::new(), label: String::new() };
        let found = Found { device: "/dev/vdb".into(), fs: Some(ext4.clone()) };
        let os = io::Error::from_raw_os_error;
        let m = explain_mount_error(&os(libc::EACCES), &found, "ext4", sys);
        assert!(m.starts_with("mounting /dev/vdb (ext4) failed: Permission denied"), "{m}");
        assert!(m.contains("the device is read-only (") && m.contains("class/block/vdb/ro is 1"), "{m}");
        fs::write(sys.join("class/block/vdb/ro"), "0\n").unwrap();
        let m = explain_mount_error(&os(libc::EROFS), &found, "ext4", sys);
        assert!(m.ends_with("the file system or the device is read-only"), "{m}");
        let m = explain_mount_error(&os(libc::ENODEV), &found, "xfs", sys);
        assert!(m.contains("this kernel has no xfs file system"), "{m}");
        let m = explain_mount_error(&os(libc::EINVAL), &found, "xfs", sys);
        assert!(m.ends_with("/dev/vdb holds ext4, not xfs: fix fstype in the configuration"), "{m}");
        let none = Found { device: "/dev/vdb".into(), fs: None };
        let m = explain_mount_error(&os(libc::EINVAL), &none, "ext4", sys);
        assert!(m.contains("no file system kexdump recognises is on /dev/vdb"), "{m}");
        let m = explain_mount_error(&os(libc::EUCLEAN), &found, "ext4", sys);
        assert!(m.contains("damaged"), "{m}");
    }

    #[test]
    fn identifies_ext4_xfs_btrfs() {
        let uuid: [u8; 16] = *b"kexdump\0\0\0\0\0\0\0\0\x03";
        let e = identify(&ext4_image(uuid, b"kxdump"), None).unwrap();
        assert_eq!(
            e,
            FsId { fstype: "ext4", uuid: "6b657864-756d-7000-0000-000000000003".into(), label: "kxdump".into() }
        );

        let mut x = vec![0u8; 2048];
        x[0..4].copy_from_slice(b"XFSB");
        x[32..48].copy_from_slice(&uuid);
        x[108..120].copy_from_slice(b"twelve-chars");
        let id = identify(&x, None).unwrap();
        assert_eq!((id.fstype, id.label.as_str()), ("xfs", "twelve-chars"));

        let mut sb = vec![0u8; 1024];
        sb[0x40..0x48].copy_from_slice(b"_BHRfS_M");
        sb[0x12b..0x12e].copy_from_slice(b"bt1");
        let id = identify(&[0u8; 2048], Some(&sb)).unwrap();
        assert_eq!((id.fstype, id.label.as_str()), ("btrfs", "bt1"));

        assert_eq!(identify(&[0u8; 2048], None), None);
        assert_eq!(identify(&[0u8; 10], None), None, "short reads are no file system, not a panic");
    }

    #[test]
    fn finds_by_uuid_label_and_device_in_a_fake_tree() {
        let d = tempfile::tempdir().unwrap();
        let (sys, dev) = (d.path().join("sys"), d.path().join("dev"));
        fs::create_dir_all(sys.join("class/block/vda")).unwrap();
        fs::create_dir_all(sys.join("class/block/vdb")).unwrap();
        fs::create_dir_all(&dev).unwrap();
        fs::write(dev.join("vda"), vec![0u8; 8192]).unwrap();
        fs::write(dev.join("vdb"), ext4_image([0xab; 16], b"kxdump")).unwrap();

        let by_label = find_once(&Target::Label("kxdump".into()), &sys, &dev).unwrap();
        assert_eq!(by_label.device, dev.join("vdb"));
        let by_uuid = find_once(&"UUID=abababababababababababababababab".parse().unwrap(), &sys, &dev).unwrap();
        assert_eq!(by_uuid.device, dev.join("vdb"));
        assert!(find_once(&Target::Label("other".into()), &sys, &dev).is_none());
        let by_dev = find_once(&Target::Device(dev.join("vdb")), &sys, &dev).unwrap();
        assert_eq!(by_dev.fs.unwrap().fstype, "ext4");

        let mut ticks = 0;
        let t = Instant::now();
        let none =
            wait_for(&Target::Label("nope".into()), &sys, &dev, Duration::from_millis(1200), &mut |_| ticks += 1);
        assert!(none.is_none() && ticks <= 1 && t.elapsed() >= Duration::from_millis(1200));
        let s = describe_devices(&sys, &dev);
        assert!(s.contains("vda (no known file system)") && s.contains("vdb (ext4 UUID=abababab-"), "{s}");
    }
}
