//! The boot loader's copy of the kernel command line, where a
//! `crashkernel=` option must go to take effect at the next boot:
//! `/etc/default/grub` (GRUB's `GRUB_CMDLINE_LINUX` and
//! `GRUB_CMDLINE_LINUX_DEFAULT`, shell assignments that `update-grub`
//! turns into grub.cfg) or `/etc/kernel/cmdline` (one line, read by
//! systemd's kernel-install for systemd-boot and unified kernel images).
//!
//! The edits are text functions that change the option and nothing else:
//! every other byte of the file, the quoting of the value and the other
//! options stay as they were. Writing is separate: a backup first, then the
//! new file atomically with the old one's mode and owner.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// GRUB's settings, sourced by `grub-mkconfig` as shell.
pub const GRUB_DEFAULT: &str = "etc/default/grub";
/// Files `grub-mkconfig` sources after [`GRUB_DEFAULT`] (Debian, Ubuntu).
pub const GRUB_DROPINS: &str = "etc/default/grub.d";
/// kernel-install's command line.
pub const KERNEL_CMDLINE: &str = "etc/kernel/cmdline";

/// For every boot entry, recovery ones included.
pub const LINUX: &str = "GRUB_CMDLINE_LINUX";
/// Only for the normal boot entries; comes after [`LINUX`] on their line.
pub const LINUX_DEFAULT: &str = "GRUB_CMDLINE_LINUX_DEFAULT";

/// Why a GRUB file cannot be edited safely; the file is left as it is.
#[derive(Debug, PartialEq, Eq)]
pub enum EditError {
    /// A quoted value does not end on its line.
    Unterminated { path: PathBuf, line: usize, var: &'static str },
    /// A value whose shell syntax kexdump does not rewrite.
    Unsupported { path: PathBuf, line: usize, var: &'static str, why: &'static str },
    /// The file is not UTF-8 text.
    NotText { path: PathBuf },
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EditError::Unterminated { path, line, var } => write!(
                f,
                "{}:{line}: the quoted value of {var} continues on the next line; kexdump only edits one-line \
                 values: put it on one line, or add the crashkernel= option by hand",
                path.display()
            ),
            EditError::Unsupported { path, line, var, why } => write!(
                f,
                "{}:{line}: {var}'s value {why}, which kexdump does not rewrite: add the crashkernel= option by hand",
                path.display()
            ),
            EditError::NotText { path } => write!(f, "{} is not UTF-8 text; kexdump does not edit it", path.display()),
        }
    }
}

impl std::error::Error for EditError {}

/// The new text of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub text: String,
    /// What happened, for the operator: "replaced in GRUB_CMDLINE_LINUX (line 6)".
    pub what: Vec<String>,
    /// Things the operator should know (other places that set the option).
    pub notes: Vec<String>,
}

/// The byte ranges of the options of `text`, as the kernel splits them.
fn option_spans(text: &str) -> Vec<(usize, usize)> {
    let base = text.as_ptr() as usize;
    crate::kernel_cmdline::tokenize(text)
        .into_iter()
        .map(|t| {
            // `tokenize` returns subslices of `text`.
            let start = t.as_ptr() as usize - base;
            (start, start + t.len())
        })
        .collect()
}

fn is_crashkernel(option: &str) -> bool {
    option.starts_with("crashkernel=")
}

/// Puts `option` in place of the first `crashkernel=` option of a command
/// line and removes the others (each with the blank before it), or
/// appends it. Returns the new line and whether one was replaced.
fn set_in_cmdline(line: &str, option: &str) -> (String, bool) {
    let spans = option_spans(line);
    let hits: Vec<usize> = (0..spans.len()).filter(|&i| is_crashkernel(&line[spans[i].0..spans[i].1])).collect();
    let Some(&first) = hits.first() else {
        // Append after the last option, before any trailing blanks.
        let at = spans.last().map_or(0, |s| s.1);
        let sep = if at == 0 { "" } else { " " };
        return (format!("{}{sep}{option}{}", &line[..at], &line[at..]), false);
    };
    let mut out = line.to_string();
    for &i in hits.iter().skip(1).rev() {
        // Always after `first`, so there is an option before it.
        out.replace_range(spans[i - 1].1..spans[i].1, "");
    }
    out.replace_range(spans[first].0..spans[first].1, option);
    (out, true)
}

/// `/etc/kernel/cmdline`: its options are the command line (newlines count
/// as blanks, as for kernel-install).
pub fn edit_kernel_cmdline(text: &str, option: &str) -> Edit {
    let (mut new, replaced) = set_in_cmdline(text, option);
    if text.is_empty() {
        new.push('\n');
    }
    let what = vec![if replaced { "replaced the crashkernel= option" } else { "added crashkernel=" }.to_string()];
    Edit { text: new, what, notes: Vec::new() }
}

/// How a shell value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quote {
    Double,
    Single,
    None,
}

/// One `[export ]GRUB_CMDLINE_LINUX[_DEFAULT]=value` line.
struct Assignment {
    /// Index into the lines.
    line: usize,
    var: &'static str,
    quote: Quote,
    /// The value without its quotes, as a byte range of the line.
    value: (usize, usize),
}

/// Finds the assignment on one line, if it is one of the two variables.
fn assignment(path: &Path, n: usize, line: &str) -> Result<Option<Assignment>, EditError> {
    let blank = |c: char| c == ' ' || c == '\t';
    let body = line.trim_start_matches(blank);
    let body = match body.strip_prefix("export") {
        Some(rest) if rest.starts_with(blank) => rest.trim_start_matches(blank),
        _ => body,
    };
    let Some((name, _)) = body.split_once('=') else { return Ok(None) };
    let var = match name {
        LINUX => LINUX,
        LINUX_DEFAULT => LINUX_DEFAULT,
        _ => return Ok(None),
    };
    let start = line.len() - body.len() + name.len() + 1;
    let rest = &line[start..];
    let unsupported = |why| EditError::Unsupported { path: path.to_path_buf(), line: n + 1, var, why };
    let (quote, value, after) = match rest.as_bytes().first() {
        Some(b'"') => {
            let mut end = None;
            let mut escaped = false;
            for (i, b) in rest.bytes().enumerate().skip(1) {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.ok_or(EditError::Unterminated { path: path.to_path_buf(), line: n + 1, var })?;
            (Quote::Double, (start + 1, start + end), start + end + 1)
        }
        Some(b'\'') => {
            let end =
                rest[1..].find('\'').ok_or(EditError::Unterminated { path: path.to_path_buf(), line: n + 1, var })?;
            (Quote::Single, (start + 1, start + 1 + end), start + end + 2)
        }
        _ => {
            let len = rest.find(|c: char| c.is_ascii_whitespace() || c == ';').unwrap_or(rest.len());
            let word = &rest[..len];
            if word.contains(['"', '\'', '\\', '`']) || word.contains("$(") {
                return Err(unsupported("mixes quoting or command substitution into an unquoted word"));
            }
            (Quote::None, (start, start + len), start + len)
        }
    };
    // After the value: the end of the line, blanks, `;` or a comment.
    match line[after..].chars().next() {
        None | Some(' ' | '\t' | ';' | '\r' | '\n') => {}
        Some(_) => return Err(unsupported("goes on after its closing quote")),
    }
    Ok(Some(Assignment { line: n, var, quote, value }))
}

/// Whether a line sets `GRUB_ENABLE_BLSCFG=true` (Fedora, RHEL: boot
/// entries in /boot/loader/entries keep their own options).
fn enables_bls(line: &str) -> bool {
    let l = line.trim();
    !l.starts_with('#') && l.replace(['"', '\''], "").starts_with("GRUB_ENABLE_BLSCFG=true")
}

/// `/etc/default/grub`: replaces the `crashkernel=` option in every
/// assignment of `GRUB_CMDLINE_LINUX` or `GRUB_CMDLINE_LINUX_DEFAULT` that
/// has one; when none has, adds it to the last `GRUB_CMDLINE_LINUX`
/// (which every boot entry gets), or adds that assignment at the end.
pub fn edit_grub(path: &Path, text: &str, option: &str) -> Result<Edit, EditError> {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let mut found = Vec::new();
    let mut notes = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        if let Some(a) = assignment(path, n, line)? {
            found.push(a);
        }
        if enables_bls(line) {
            notes.push(format!(
                "{}:{}: GRUB_ENABLE_BLSCFG=true: the boot entries in /boot/loader/entries keep their own options; \
                 kexdump runs `grubby --update-kernel=ALL --args={option}` on them when grubby is installed",
                path.display(),
                n + 1
            ));
        }
    }
    let mut what = Vec::new();
    for a in &found {
        let line = &lines[a.line];
        let value = &line[a.value.0..a.value.1];
        if !option_spans(value).iter().any(|&(s, e)| is_crashkernel(&value[s..e])) {
            continue;
        }
        let (new_value, _) = set_in_cmdline(value, option);
        let new_line = format!("{}{new_value}{}", &line[..a.value.0], &line[a.value.1..]);
        lines[a.line] = new_line;
        what.push(format!("replaced crashkernel= in {} (line {})", a.var, a.line + 1));
    }
    if what.is_empty() {
        match found.iter().rev().find(|a| a.var == LINUX) {
            Some(a) => {
                let line = &lines[a.line];
                let value = &line[a.value.0..a.value.1];
                let (new_value, _) = set_in_cmdline(value, option);
                // An unquoted value that now has a blank needs quotes.
                let (open, close) = match a.quote {
                    Quote::None if new_value.contains(' ') => ("\"", "\""),
                    _ => ("", ""),
                };
                lines[a.line] = format!("{}{open}{new_value}{close}{}", &line[..a.value.0], &line[a.value.1..]);
                what.push(format!("added crashkernel= to {LINUX} (line {})", a.line + 1));
            }
            None => {
                if lines.last().is_some_and(|l| !l.ends_with('\n')) {
                    if let Some(l) = lines.last_mut() {
                        l.push('\n');
                    }
                }
                lines.push(format!("{LINUX}=\"{option}\"\n"));
                what.push(format!("added a {LINUX} line (line {})", lines.len()));
            }
        }
    }
    Ok(Edit { text: lines.concat(), what, notes })
}

/// The `crashkernel=` options of the boot loader configuration, as
/// (where, option): what the next boot gets (before `update-grub` or
/// kernel-install ran, in the case of a file edited by hand).
pub fn configured_options(path: &Path, text: &str, grub: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = if grub { text.split_inclusive('\n').collect() } else { vec![text] };
    for (n, line) in lines.iter().enumerate() {
        let (value, where_) = if grub {
            match assignment(path, n, line) {
                Ok(Some(a)) => (&line[a.value.0..a.value.1], format!("{}:{} {}", path.display(), n + 1, a.var)),
                _ => continue,
            }
        } else {
            (*line, path.display().to_string())
        };
        for (s, e) in option_spans(value) {
            if is_crashkernel(&value[s..e]) {
                out.push((where_.clone(), value[s..e].to_string()));
            }
        }
    }
    out
}

/// Lines of `etc/default/grub.d/*.cfg` that mention `crashkernel=`
/// (Debian's kdump-tools installs one): sourced after
/// `etc/default/grub`, they can add a second option that wins.
pub fn grub_dropin_mentions(root: &Path) -> Vec<String> {
    let dir = root.join(GRUB_DROPINS);
    let Ok(entries) = fs::read_dir(&dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let Ok(text) = fs::read_to_string(&f) else { continue };
        for (n, line) in text.lines().enumerate() {
            if line.contains("crashkernel=") && !line.trim_start().starts_with('#') {
                out.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    out
}

/// A unified-diff-like view of the changed lines.
pub fn diff(path: &Path, old: &str, new: &str) -> String {
    let o: Vec<&str> = old.split_inclusive('\n').collect();
    let n: Vec<&str> = new.split_inclusive('\n').collect();
    let show = |l: &str| l.trim_end_matches(['\n', '\r']).to_string();
    let mut hunks: Vec<(usize, Vec<&str>, usize, Vec<&str>)> = Vec::new();
    if o.len() == n.len() {
        for (i, (a, b)) in o.iter().zip(&n).enumerate() {
            if a != b {
                hunks.push((i, vec![a], i, vec![b]));
            }
        }
    } else {
        let prefix = o.iter().zip(&n).take_while(|(a, b)| a == b).count();
        let max_suffix = o.len().min(n.len()) - prefix;
        let suffix = o.iter().rev().zip(n.iter().rev()).take(max_suffix).take_while(|(a, b)| a == b).count();
        hunks.push((prefix, o[prefix..o.len() - suffix].to_vec(), prefix, n[prefix..n.len() - suffix].to_vec()));
    }
    let range = |start: usize, count: usize| match count {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        c => format!("{},{c}", start + 1),
    };
    let mut out = format!("--- {}\n+++ {}\n", path.display(), path.display());
    for (os, ol, ns, nl) in hunks {
        out.push_str(&format!("@@ -{} +{} @@\n", range(os, ol.len()), range(ns, nl.len())));
        ol.iter().for_each(|l| out.push_str(&format!("-{}\n", show(l))));
        nl.iter().for_each(|l| out.push_str(&format!("+{}\n", show(l))));
    }
    out
}

/// `FILE.kexdump-bak`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".kexdump-bak");
    PathBuf::from(p)
}

/// Writes `data` to `path` so that readers see the old or the new file,
/// never a part: `PATH.kexdump-tmp` is written, given `like`'s mode and
/// owner, fsynced and renamed over `path`; then the directory is fsynced.
pub fn write_atomic(path: &Path, data: &[u8], like: &fs::Metadata) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".kexdump-tmp");
    let tmp = PathBuf::from(tmp);
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mode = like.permissions().mode() & 0o7777;
    let result = (|| {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(mode & 0o777).open(&tmp)?;
        f.write_all(data)?;
        // The umask may have cleared bits; set exactly the old mode.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        let now = f.metadata()?;
        if (now.uid(), now.gid()) != (like.uid(), like.gid()) {
            std::os::unix::fs::fchown(&f, Some(like.uid()), Some(like.gid()))?;
        }
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPT: &str = "crashkernel=192M";

    fn grub(text: &str) -> Result<Edit, EditError> {
        edit_grub(Path::new("/etc/default/grub"), text, OPT)
    }

    const DEBIAN: &str = "\
# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"
GRUB_CMDLINE_LINUX=\"\"

# Uncomment to disable graphical terminal
#GRUB_TERMINAL=console
";

    #[test]
    fn cmdline_replace_remove_append() {
        assert_eq!(set_in_cmdline("ro crashkernel=256M quiet", OPT), ("ro crashkernel=192M quiet".into(), true));
        assert_eq!(
            set_in_cmdline("crashkernel=1G,high  ro crashkernel=256M,low quiet", OPT),
            ("crashkernel=192M  ro quiet".into(), true)
        );
        assert_eq!(set_in_cmdline("ro quiet  ", OPT), ("ro quiet crashkernel=192M  ".into(), false));
        assert_eq!(set_in_cmdline("", OPT), ("crashkernel=192M".into(), false));
        assert_eq!(set_in_cmdline("  ", OPT), ("crashkernel=192M  ".into(), false));
        // An option that only mentions it inside quotes is not one.
        assert_eq!(
            set_in_cmdline("x=\"crashkernel=1M\"", OPT),
            ("x=\"crashkernel=1M\" crashkernel=192M".into(), false)
        );
    }

    #[test]
    fn grub_adds_to_cmdline_linux() {
        let e = grub(DEBIAN).expect("edit");
        assert_eq!(e.text, DEBIAN.replace("GRUB_CMDLINE_LINUX=\"\"", "GRUB_CMDLINE_LINUX=\"crashkernel=192M\""));
        assert_eq!(e.what, ["added crashkernel= to GRUB_CMDLINE_LINUX (line 8)"]);
    }

    #[test]
    fn grub_replaces_in_default() {
        let text = DEBIAN.replace("\"quiet\"", "\"quiet crashkernel=384M-:128M splash\"");
        let e = grub(&text).expect("edit");
        assert_eq!(e.text, DEBIAN.replace("\"quiet\"", "\"quiet crashkernel=192M splash\""));
        assert_eq!(e.what, ["replaced crashkernel= in GRUB_CMDLINE_LINUX_DEFAULT (line 7)"]);
    }

    #[test]
    fn grub_replaces_in_both_and_keeps_single_quotes() {
        let text = "GRUB_CMDLINE_LINUX_DEFAULT='crashkernel=1G,high crashkernel=256M,low'\n\
                    export GRUB_CMDLINE_LINUX='console=ttyS0 crashkernel=auto' # serial\n";
        let e = grub(text).expect("edit");
        assert_eq!(
            e.text,
            "GRUB_CMDLINE_LINUX_DEFAULT='crashkernel=192M'\nexport GRUB_CMDLINE_LINUX='console=ttyS0 crashkernel=192M' # serial\n"
        );
        assert_eq!(e.what.len(), 2);
    }

    #[test]
    fn grub_unquoted_and_missing_values() {
        let e = grub("GRUB_CMDLINE_LINUX=quiet\n").expect("edit");
        assert_eq!(e.text, "GRUB_CMDLINE_LINUX=\"quiet crashkernel=192M\"\n");
        let e = grub("GRUB_CMDLINE_LINUX=\n").expect("edit");
        assert_eq!(e.text, "GRUB_CMDLINE_LINUX=crashkernel=192M\n");
        let e = grub("GRUB_TIMEOUT=5").expect("edit");
        assert_eq!(e.text, "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX=\"crashkernel=192M\"\n");
        // Commented-out lines and other variables are left alone.
        let text = "#GRUB_CMDLINE_LINUX=\"crashkernel=1G\"\nGRUB_CMDLINE_LINUXX=\"a\"\n";
        assert_eq!(grub(text).expect("edit").text, format!("{text}GRUB_CMDLINE_LINUX=\"crashkernel=192M\"\n"));
        // CRLF endings survive.
        let e = grub("GRUB_CMDLINE_LINUX=\"ro\"\r\n").expect("edit");
        assert_eq!(e.text, "GRUB_CMDLINE_LINUX=\"ro crashkernel=192M\"\r\n");
    }

    #[test]
    fn grub_escapes_and_variables() {
        let text = "GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX a=\\\"b c\\\"\"\n";
        let e = grub(text).expect("edit");
        assert_eq!(e.text, "GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX a=\\\"b c\\\" crashkernel=192M\"\n");
    }

    #[test]
    fn grub_refuses_what_it_cannot_edit() {
        let e = grub("GRUB_CMDLINE_LINUX=\"quiet\n splash\"\n").expect_err("multi-line");
        assert_eq!(e, EditError::Unterminated { path: "/etc/default/grub".into(), line: 1, var: LINUX });
        assert!(e.to_string().starts_with("/etc/default/grub:1: "), "{e}");
        let e = grub("x=1\nGRUB_CMDLINE_LINUX_DEFAULT=\"a\"'b'\n").expect_err("mixed");
        assert!(matches!(e, EditError::Unsupported { line: 2, var: LINUX_DEFAULT, .. }), "{e:?}");
        assert!(matches!(grub("GRUB_CMDLINE_LINUX=$(cat x)\n"), Err(EditError::Unsupported { .. })));
        assert!(matches!(grub("GRUB_CMDLINE_LINUX='a\n"), Err(EditError::Unterminated { .. })));
    }

    #[test]
    fn grub_bls_note() {
        let e = grub("GRUB_ENABLE_BLSCFG=true\nGRUB_CMDLINE_LINUX=\"rhgb\"\n").expect("edit");
        assert_eq!(e.notes.len(), 1);
        assert!(e.notes[0].contains("grubby --update-kernel=ALL --args=crashkernel=192M"), "{:?}", e.notes);
    }

    #[test]
    fn kernel_cmdline_file() {
        let e = edit_kernel_cmdline("root=UUID=1 ro crashkernel=256M quiet\n", OPT);
        assert_eq!(e.text, "root=UUID=1 ro crashkernel=192M quiet\n");
        let e = edit_kernel_cmdline("root=UUID=1 ro\n", OPT);
        assert_eq!(e.text, "root=UUID=1 ro crashkernel=192M\n");
        assert_eq!(edit_kernel_cmdline("", OPT).text, "crashkernel=192M\n");
    }

    #[test]
    fn reads_configured_options() {
        let text = DEBIAN.replace("\"quiet\"", "\"quiet crashkernel=384M-:128M\"");
        let found = configured_options(Path::new("g"), &text, true);
        assert_eq!(found, [("g:7 GRUB_CMDLINE_LINUX_DEFAULT".to_string(), "crashkernel=384M-:128M".to_string())]);
        let found = configured_options(Path::new("k"), "ro crashkernel=1G\n", false);
        assert_eq!(found, [("k".to_string(), "crashkernel=1G".to_string())]);
    }

    #[test]
    fn diff_view() {
        let d = diff(Path::new("f"), "a\nb\nc\n", "a\nB\nc\n");
        assert_eq!(d, "--- f\n+++ f\n@@ -2 +2 @@\n-b\n+B\n");
        let d = diff(Path::new("f"), "a\nb", "a\nb\nc\n");
        assert_eq!(d, "--- f\n+++ f\n@@ -2 +2,2 @@\n-b\n+b\n+c\n");
        let d = diff(Path::new("f"), "", "c\n");
        assert_eq!(d, "--- f\n+++ f\n@@ -0,0 +1 @@\n+c\n");
    }

    #[test]
    fn atomic_write_keeps_the_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("grub");
        fs::write(&p, "old").expect("write");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).expect("chmod");
        let meta = fs::metadata(&p).expect("meta");
        write_atomic(&p, b"new", &meta).expect("atomic");
        assert_eq!(fs::read_to_string(&p).expect("read"), "new");
        assert_eq!(fs::metadata(&p).expect("meta").permissions().mode() & 0o7777, 0o640);
        assert!(!dir.path().join("grub.kexdump-tmp").exists());
        assert_eq!(backup_path(&p), dir.path().join("grub.kexdump-bak"));
    }
}
