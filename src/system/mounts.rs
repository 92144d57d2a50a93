//! Which file system holds a directory, so that the operator can name the
//! dump target as a directory (`target = "/var/crash"`): the mount from
//! `<root>/proc/self/mountinfo`, the file system's UUID from the
//! `<root>/dev/disk/by-uuid` symlinks. The capture kernel has neither the
//! primary's mounts nor its device names, so the directory becomes
//! `UUID=<fs uuid>` and a path relative to that file system's root.
//!
//! The other way, for `kexdump list`: where a target named `UUID=...`,
//! `LABEL=...` or `/dev/...` is mounted ([`find_mounted`]).

use kexdump_engine::capture_config::Target;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

/// One line of `/proc/self/mountinfo` (proc(5)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// `st_dev` of files on this mount (for btrfs an anonymous device).
    pub major: u32,
    pub minor: u32,
    /// The directory of the file system that is mounted here (`/` unless a
    /// bind mount or a btrfs subvolume).
    pub root: String,
    pub mount_point: String,
    pub fstype: String,
    /// `/dev/vdb1`, `tmpfs`, `server:/export`, ...
    pub source: String,
    /// Mounted `ro`, or the file system itself is (its super options).
    pub read_only: bool,
}

/// A directory, located on its file system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// The file system's UUID as `/dev/disk/by-uuid` names it.
    pub uuid: String,
    /// The directory relative to the file system's root (`.` for the root).
    pub path: String,
    pub mount: Mount,
}

/// Parse mountinfo text; malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

// 36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
fn parse_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let l: Vec<&str> = left.split(' ').collect();
    let r: Vec<&str> = right.split(' ').collect();
    if l.len() < 6 || r.len() < 2 {
        return None;
    }
    let (major, minor) = l[2].split_once(':')?;
    Some(Mount {
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        root: unescape(l[3]),
        mount_point: unescape(l[4]),
        fstype: unescape(r[0]),
        source: unescape(r[1]),
        read_only: l[5].split(',').any(|o| o == "ro") || r.get(2).is_some_and(|o| o.split(',').any(|o| o == "ro")),
    })
}

/// The kernel writes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = b[i + 1..i + 4].iter().fold(0u32, |a, c| a * 8 + u32::from(c - b'0'));
            if let Ok(v) = u8::try_from(v) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `path` with `.` and `..` applied, as components (no file system access).
fn lexical(path: &Path) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Whether `dir` is `mount_point` or below it (both absolute, normalized).
fn is_under(dir: &str, mount_point: &str) -> bool {
    mount_point == "/" || dir == mount_point || dir.strip_prefix(mount_point).is_some_and(|r| r.starts_with('/'))
}

/// The absolute directory as the machine under `root` sees it: symlinks
/// followed when it exists (and they stay inside `root`), else as written.
fn absolute(root: &Path, dir: &str) -> String {
    let written = format!("/{}", lexical(Path::new(dir)).join("/"));
    let real = fs::canonicalize(root.join(written.trim_start_matches('/')))
        .ok()
        .zip(fs::canonicalize(root).ok())
        .and_then(|(real, root)| real.strip_prefix(root).ok().map(|r| format!("/{}", r.display())));
    real.unwrap_or(written)
}

/// The file system holding directory `dir` (absolute) on the machine whose
/// root is `root`, and `dir`'s path on it.
pub fn locate_directory(root: &Path, dir: &str) -> Result<Located, String> {
    let info = root.join("proc/self/mountinfo");
    let text = fs::read_to_string(&info).map_err(|e| format!("reading {}: {e}", info.display()))?;
    let abs = absolute(root, dir);
    let mount = parse_mountinfo(&text)
        .into_iter()
        .filter(|m| is_under(&abs, &m.mount_point))
        // The longest mount point holds it; of equal ones the last mounted.
        .fold(None::<Mount>, |best, m| match best {
            Some(b) if b.mount_point.len() > m.mount_point.len() => Some(b),
            _ => Some(m),
        })
        .ok_or_else(|| format!("no mount in {} holds {abs}", info.display()))?;

    let below = abs.strip_prefix(&mount.mount_point).unwrap_or(&abs);
    let mut on_fs = lexical(Path::new(&mount.root));
    on_fs.extend(lexical(Path::new(below)));
    let path = if on_fs.is_empty() { ".".to_owned() } else { on_fs.join("/") };

    let uuid = uuid_of(root, &mount).ok_or_else(|| {
        format!(
            "{abs} is on {} ({}, mounted on {}), which has no entry in {}: the capture kernel can only find a \
             disk file system; name it as UUID=..., LABEL=... or /dev/...",
            mount.source,
            mount.fstype,
            mount.mount_point,
            root.join("dev/disk/by-uuid").display()
        )
    })?;
    Ok(Located { uuid, path, mount })
}

/// The by-uuid name of the mount's block device: matched by device number
/// (a real /dev), else by name (the source device, the link it is, or
/// `/sys/dev/block/MAJ:MIN`'s name).
fn uuid_of(root: &Path, m: &Mount) -> Option<String> {
    let names = source_names(root, m);
    let by_uuid = Path::new("dev/disk/by-uuid");
    let mut entries: Vec<_> = fs::read_dir(root.join(by_uuid)).ok()?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    entries.into_iter().find_map(|e| {
        let uuid = e.file_name().to_string_lossy().into_owned();
        let same_dev = fs::metadata(e.path()).is_ok_and(|md| {
            md.file_type().is_block_device() && libc::major(md.rdev()) == m.major && libc::minor(md.rdev()) == m.minor
        });
        let target = fs::read_link(e.path()).ok().map(|t| link_target(&by_uuid.join(&uuid), &t));
        (same_dev || target.is_some_and(|t| names.contains(&t))).then_some(uuid)
    })
}

/// The names (relative to the root, as components) of the mount's block
/// device: the source device, the link it is, or `/sys/dev/block/MAJ:MIN`'s
/// name.
fn source_names(root: &Path, m: &Mount) -> Vec<Vec<String>> {
    let mut names: Vec<Vec<String>> = Vec::new();
    if m.source.starts_with("/dev/") {
        let src = Path::new(m.source.trim_start_matches('/'));
        names.push(lexical(src));
        if let Ok(t) = fs::read_link(root.join(src)) {
            names.push(link_target(src, &t));
        }
    }
    if let Ok(t) = fs::read_link(root.join(format!("sys/dev/block/{}:{}", m.major, m.minor))) {
        if let Some(name) = t.file_name() {
            names.push(vec!["dev".into(), name.to_string_lossy().into_owned()]);
        }
    }
    names
}

/// A directory of a file system named by UUID, LABEL or device, as the
/// machine sees it through one of that file system's mounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mounted {
    /// Absolute, on the machine under `root`.
    pub dir: String,
    pub mount: Mount,
}

/// Why [`find_mounted`] found nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FindError {
    /// mountinfo cannot be read.
    Unreadable(String),
    /// The file system is not mounted (or not attached): why, for people.
    NotMounted(String),
}

/// Where directory `path` (relative to the root of the file system that
/// `target` names) is on the machine whose root is `root`: the device from
/// `/dev/disk/by-uuid` or `/dev/disk/by-label` (or the `/dev/...` path
/// itself), matched to a mount of `<root>/proc/self/mountinfo` as
/// [`locate_directory`] matches them; of several mounts, the one mounting
/// the least deep directory of the file system that still holds `path`.
pub fn find_mounted(root: &Path, target: &Target, path: &str) -> Result<Mounted, FindError> {
    let info = root.join("proc/self/mountinfo");
    let text =
        fs::read_to_string(&info).map_err(|e| FindError::Unreadable(format!("reading {}: {e}", info.display())))?;
    let dev = device_link(root, target).map_err(FindError::NotMounted)?;
    // The device as its link chain names it (by-uuid -> ../../dm-0, ...).
    let mut names = vec![lexical(&dev)];
    let mut at = dev.clone();
    for _ in 0..8 {
        let Ok(t) = fs::read_link(root.join(&at)) else { break };
        let next = link_target(&at, &t);
        at = next.iter().collect();
        names.push(next);
    }
    let rdev = fs::metadata(root.join(&dev))
        .ok()
        .filter(|md| md.file_type().is_block_device())
        .map(|md| (libc::major(md.rdev()), libc::minor(md.rdev())));
    let shown = |n: &[String]| format!("/{}", n.join("/"));
    let device = names.last().map_or_else(String::new, |n| shown(n));

    let want = lexical(Path::new(path));
    let mounts: Vec<Mount> = parse_mountinfo(&text)
        .into_iter()
        .filter(|m| rdev == Some((m.major, m.minor)) || source_names(root, m).iter().any(|n| names.contains(n)))
        .collect();
    let best = mounts
        .iter()
        .map(|m| (lexical(Path::new(&m.root)), m))
        .filter(|(r, _)| want.starts_with(r))
        .min_by_key(|(r, _)| r.len());
    match (best, mounts.first()) {
        (Some((r, m)), _) => {
            let mut dir = lexical(Path::new(&m.mount_point));
            dir.extend(want[r.len()..].iter().cloned());
            Ok(Mounted { dir: shown(&dir), mount: m.clone() })
        }
        (None, Some(m)) => Err(FindError::NotMounted(format!(
            "{device} is mounted only as {} of it (on {}), which does not hold /{}",
            m.root,
            m.mount_point,
            want.join("/")
        ))),
        (None, None) => {
            let via = if names.len() > 1 { format!("{} -> {device}", shown(&names[0])) } else { device };
            Err(FindError::NotMounted(format!("{via} is not in /proc/self/mountinfo")))
        }
    }
}

/// The `/dev` path (relative to the root) of the target's device: its
/// `/dev/disk/by-uuid` or `/dev/disk/by-label` link, or the path itself.
/// The `/dev` path naming `target` (relative to `root`): the
/// `/dev/disk/by-uuid` or `by-label` link, or the device path itself;
/// `Err` says, for people, why no attached disk holds it.
pub fn device_link(root: &Path, target: &Target) -> Result<PathBuf, String> {
    let uuid = |s: &str| s.chars().filter(|c| *c != '-').collect::<String>().to_ascii_lowercase();
    let dir = match target {
        Target::Device(p) => return Ok(lexical(p).iter().collect()),
        Target::Uuid(_) => "dev/disk/by-uuid",
        Target::Label(_) => "dev/disk/by-label",
        Target::Ssh(_) | Target::Nfs(_) => return Err(format!("{target} is not a disk")),
    };
    let names_it = |name: &str| match target {
        Target::Uuid(u) => uuid(name) == uuid(u),
        Target::Label(l) => udev_unescape(name) == l.as_bytes(),
        Target::Device(_) | Target::Ssh(_) | Target::Nfs(_) => false,
    };
    let mut entries: Vec<String> = fs::read_dir(root.join(dir))
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    entries.sort();
    entries
        .into_iter()
        .find(|n| names_it(n))
        .map(|n| Path::new(dir).join(n))
        .ok_or_else(|| format!("no disk holding it is attached: nothing in /{dir} names it"))
}

/// udev writes bytes other than ASCII letters, digits and `#+-.:=@_` of a
/// label as `\xHH` in its `/dev/disk/by-label` name.
fn udev_unescape(name: &str) -> Vec<u8> {
    let b = name.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            let hex = name.get(i + 2..i + 4).filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Where symlink `link` (relative to the root) pointing at `target` leads,
/// relative to the root.
fn link_target(link: &Path, target: &Path) -> Vec<String> {
    if target.is_absolute() {
        lexical(target)
    } else {
        lexical(&link.parent().unwrap_or(Path::new("")).join(target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const MOUNTINFO: &str = "\
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw
24 22 0:30 / /tmp rw shared:13 - tmpfs tmpfs rw,size=1024k
25 22 254:17 / /var rw,relatime shared:14 - xfs /dev/vdb1 rw,attr2
26 22 254:17 /dumps /srv/crash\\040dir rw shared:15 - xfs /dev/vdb1 rw,attr2
27 22 253:0 / /data rw shared:16 - ext4 /dev/mapper/vg-data rw
";

    fn fake_root() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("proc/self")).unwrap();
        fs::write(r.join("proc/self/mountinfo"), MOUNTINFO).unwrap();
        fs::create_dir_all(r.join("dev/disk/by-uuid")).unwrap();
        fs::create_dir_all(r.join("dev/mapper")).unwrap();
        for d in ["vda1", "vdb1", "dm-0"] {
            fs::write(r.join("dev").join(d), "").unwrap();
        }
        symlink("../dm-0", r.join("dev/mapper/vg-data")).unwrap();
        symlink("../../vda1", r.join("dev/disk/by-uuid/11111111-2222-3333-4444-555555555555")).unwrap();
        symlink("../../vdb1", r.join("dev/disk/by-uuid/6b657864-756d-7000-0000-000000000003")).unwrap();
        symlink("../../dm-0", r.join("dev/disk/by-uuid/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")).unwrap();
        t
    }

    #[test]
    fn mountinfo_lines_parse_with_escapes() {
        let m = parse_mountinfo(MOUNTINFO);
        assert_eq!(m.len(), 6);
        assert_eq!(m[4].mount_point, "/srv/crash dir");
        assert_eq!((m[4].major, m[4].minor, m[4].root.as_str()), (254, 17, "/dumps"));
        assert_eq!((m[3].fstype.as_str(), m[3].source.as_str()), ("xfs", "/dev/vdb1"));
        assert!(parse_mountinfo("garbage\n1 2 x / / rw - ext4 /dev/x rw\n").is_empty());
    }

    #[test]
    fn directory_resolves_to_uuid_and_path() {
        let t = fake_root();
        let l = locate_directory(t.path(), "/var/crash").unwrap();
        assert_eq!(l.uuid, "6b657864-756d-7000-0000-000000000003");
        assert_eq!(l.path, "crash");
        assert_eq!(l.mount.fstype, "xfs");
        // The mount point itself, a trailing slash, the root file system.
        assert_eq!(locate_directory(t.path(), "/var/").unwrap().path, ".");
        let l = locate_directory(t.path(), "/var2/crash").unwrap();
        assert_eq!((l.uuid.as_str(), l.path.as_str()), ("11111111-2222-3333-4444-555555555555", "var2/crash"));
        // A bind mount of a subdirectory, with an escaped space.
        let l = locate_directory(t.path(), "/srv/crash dir/x").unwrap();
        assert_eq!((l.uuid.as_str(), l.path.as_str()), ("6b657864-756d-7000-0000-000000000003", "dumps/x"));
        // The source is a symlink (device mapper) to the by-uuid target.
        let l = locate_directory(t.path(), "/data/kdump").unwrap();
        assert_eq!(l.uuid, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
    }

    #[test]
    fn existing_directory_symlink_is_followed() {
        let t = fake_root();
        fs::create_dir_all(t.path().join("var/crash")).unwrap();
        symlink("var/crash", t.path().join("crash")).unwrap();
        let l = locate_directory(t.path(), "/crash").unwrap();
        assert_eq!((l.uuid.as_str(), l.path.as_str()), ("6b657864-756d-7000-0000-000000000003", "crash"));
    }

    #[test]
    fn sys_dev_block_names_the_device() {
        let t = fake_root();
        let r = t.path();
        fs::write(
            r.join("proc/self/mountinfo"),
            "22 1 254:1 / / rw - ext4 /dev/root rw\n", // the kernel's name for root=
        )
        .unwrap();
        fs::create_dir_all(r.join("sys/dev/block")).unwrap();
        symlink("../../devices/pci0000:00/0000:00:04.0/virtio1/block/vda/vda1", r.join("sys/dev/block/254:1")).unwrap();
        assert_eq!(locate_directory(r, "/var/crash").unwrap().uuid, "11111111-2222-3333-4444-555555555555");
    }

    #[test]
    fn targets_are_found_where_mounted() {
        let t = fake_root();
        let r = t.path();
        fs::create_dir_all(r.join("dev/disk/by-label")).unwrap();
        symlink("../../vdb1", r.join("dev/disk/by-label/crash\\x20dumps")).unwrap();
        symlink("../../dm-0", r.join("dev/disk/by-label/data")).unwrap();
        let find = |t: &str, path: &str| find_mounted(r, &t.parse().unwrap(), path);
        // /var is vdb1's root; /srv/crash dir only its /dumps.
        let m = find("LABEL=crash dumps", "crash").unwrap();
        assert_eq!((m.dir.as_str(), m.mount.mount_point.as_str()), ("/var/crash", "/var"));
        assert_eq!(find("LABEL=crash dumps", "dumps/a").unwrap().dir, "/var/dumps/a");
        assert_eq!(find("UUID=6B657864756D70000000000000000003", "").unwrap().dir, "/var");
        assert_eq!(find("/dev/vdb1", "crash").unwrap().dir, "/var/crash");
        assert_eq!(find("/dev/vda1", "crash").unwrap().dir, "/crash");
        // Through device-mapper links on both sides.
        assert_eq!(find("LABEL=data", "kdump").unwrap().dir, "/data/kdump");
        assert_eq!(find("/dev/dm-0", "kdump").unwrap().dir, "/data/kdump");
        assert_eq!(find("UUID=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "").unwrap().dir, "/data");

        // Not mounted, or not attached.
        fs::write(r.join("dev/vdc1"), "").unwrap();
        symlink("../../vdc1", r.join("dev/disk/by-label/spare")).unwrap();
        let not = |t: &str, path: &str| match find(t, path) {
            Err(FindError::NotMounted(m)) => m,
            other => panic!("{t}: {other:?}"),
        };
        assert_eq!(not("LABEL=spare", "crash"), "/dev/disk/by-label/spare -> /dev/vdc1 is not in /proc/self/mountinfo");
        assert_eq!(not("/dev/vdc1", "crash"), "/dev/vdc1 is not in /proc/self/mountinfo");
        assert_eq!(
            not("LABEL=nope", "crash"),
            "no disk holding it is attached: nothing in /dev/disk/by-label names it"
        );
        assert_eq!(
            not("UUID=00000000-0000-0000-0000-000000000000", ""),
            "no disk holding it is attached: nothing in /dev/disk/by-uuid names it"
        );
        // Only a subdirectory of it is mounted.
        fs::write(r.join("proc/self/mountinfo"), "26 22 254:17 /dumps /srv/d rw - xfs /dev/vdb1 rw\n").unwrap();
        assert_eq!(find("/dev/vdb1", "dumps/crash").unwrap().dir, "/srv/d/crash");
        assert_eq!(
            not("/dev/vdb1", "crash"),
            "/dev/vdb1 is mounted only as /dumps of it (on /srv/d), which does not hold /crash"
        );
        fs::remove_file(r.join("proc/self/mountinfo")).unwrap();
        assert!(matches!(find("/dev/vdb1", ""), Err(FindError::Unreadable(m)) if m.starts_with("reading ")));
    }

    #[test]
    fn udev_label_escapes() {
        assert_eq!(udev_unescape("crash\\x20dumps"), b"crash dumps");
        assert_eq!(udev_unescape("a\\x2fb\\x"), b"a/b\\x");
        assert_eq!(udev_unescape("\\x+f\\xzz"), b"\\x+f\\xzz");
    }

    #[test]
    fn unresolvable_directories_are_errors() {
        let t = fake_root();
        let e = locate_directory(t.path(), "/tmp/crash").unwrap_err();
        assert!(e.starts_with("/tmp/crash is on tmpfs (tmpfs, mounted on /tmp), which has no entry in"), "{e}");
        assert!(e.ends_with("name it as UUID=..., LABEL=... or /dev/..."), "{e}");
        let empty = tempfile::tempdir().unwrap();
        let e = locate_directory(empty.path(), "/var/crash").unwrap_err();
        assert!(e.starts_with("reading ") && e.contains("proc/self/mountinfo"), "{e}");
        fs::create_dir_all(empty.path().join("proc/self")).unwrap();
        fs::write(empty.path().join("proc/self/mountinfo"), "23 22 0:21 / /proc rw - proc proc rw\n").unwrap();
        let e = locate_directory(empty.path(), "/var/crash").unwrap_err();
        assert!(e.starts_with("no mount in ") && e.ends_with(" holds /var/crash"), "{e}");
    }
}
