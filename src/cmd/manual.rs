//! Shell completions and man pages, generated from the clap definitions in
//! cli.rs so they never disagree with `--help`.

use crate::cli::{Cli, CompletionsArgs, ManpagesArgs};
use anyhow::{Context, Result};
use clap::CommandFactory;
use std::path::Path;
use std::process::ExitCode;

pub fn completions(a: CompletionsArgs) -> Result<ExitCode> {
    let mut cmd = Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "kexdump", &mut std::io::stdout().lock());
    Ok(ExitCode::SUCCESS)
}

pub fn manpages(a: ManpagesArgs) -> Result<ExitCode> {
    let written = write_manpages(&a.dir)?;
    println!("kexdump: wrote {written} man pages into {}", a.dir.display());
    Ok(ExitCode::SUCCESS)
}

/// `kexdump.1` and `kexdump-<command>.1` for each command (nested ones
/// included); how many were written.
pub fn write_manpages(dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cmd = Cli::command();
    let mut n = 0;
    write_page(dir, &cmd, "kexdump", "kexdump", &mut n)?;
    let path = dir.join("kexdump.toml.5");
    std::fs::write(&path, config_manpage(EXAMPLE_CONFIG)).with_context(|| format!("writing {}", path.display()))?;
    Ok(n + 1)
}

/// The commented example /etc/kexdump.toml: the one source of the
/// configuration's documentation (a test keeps it complete).
const EXAMPLE_CONFIG: &str = include_str!("../../etc/kexdump.toml");

/// kexdump.toml(5), rendered from the example file: its opening comment is
/// the DESCRIPTION, each `[table]` a subsection, each `#key = default` an
/// entry with the comment above it.
fn config_manpage(example: &str) -> String {
    let esc = |t: &str| t.replace('\\', "\\\\").replace('-', "\\-").replace('\'', "\\(aq");
    let mut out = String::from(
        ".TH kexdump.toml 5 \"kexdump.toml\"\n.SH NAME\nkexdump.toml \\- the kexdump configuration\n\
         .SH SYNOPSIS\n/etc/kexdump.toml\n.SH DESCRIPTION\n",
    );
    let mut prose: Vec<String> = Vec::new();
    let mut in_header = true;
    let flush = |out: &mut String, prose: &mut Vec<String>| {
        for l in prose.drain(..) {
            // Indented lines are examples: keep them as they are.
            if l.starts_with("  ") {
                out.push_str(&format!(".nf\n{}\n.fi\n", esc(&l)));
            } else if l.is_empty() {
                out.push_str(".PP\n");
            } else {
                out.push_str(&format!("{}\n", esc(&l)));
            }
        }
    };
    for line in example.lines().skip(1) {
        if let Some(table) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if in_header {
                flush(&mut out, &mut prose);
                out.push_str(".SH KEYS\n");
                in_header = false;
            }
            prose.clear();
            out.push_str(&format!(".SS [{}]\n", esc(table)));
        } else if let Some(kv) =
            line.strip_prefix('#').filter(|r| r.contains(" = ") && r.starts_with(|c: char| c.is_ascii_lowercase()))
        {
            let (key, default) = kv.split_once(" = ").unwrap_or((kv, ""));
            out.push_str(&format!(".TP\n\\fB{}\\fR (default: {})\n", esc(key), esc(default)));
            flush(&mut out, &mut prose);
        } else if let Some(c) = line.strip_prefix('#') {
            prose.push(c.strip_prefix(' ').unwrap_or(c).to_owned());
        } else if line.trim().is_empty() && !in_header {
            prose.clear();
        } else if line.trim().is_empty() {
            prose.push(String::new());
        }
    }
    out.push_str(".SH FILES\n/etc/kexdump.toml\n.SH \"SEE ALSO\"\n\\fBkexdump\\fR(1), \\fBkexdump\\-config\\fR(1)\n");
    out
}

/// The page `name`.1 of `cmd`, invoked as `bin` (`kexdump crashkernel set`).
fn write_page(dir: &Path, cmd: &clap::Command, name: &str, bin: &str, n: &mut usize) -> Result<()> {
    let cmd = man_command(cmd, name, bin);
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out).context("rendering a man page")?;
    out.extend_from_slice(exit_status_roff().as_bytes());
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    *n += 1;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_page(dir, sub, &format!("{name}-{}", sub.get_name()), &format!("{bin} {}", sub.get_name()), n)?;
    }
    Ok(())
}

/// `cmd` as its man page shows it: titled `name`, SYNOPSIS as typed
/// (`bin`), NAME line the first sentence of its help, the whole help in
/// DESCRIPTION.
fn man_command(cmd: &clap::Command, name: &str, bin: &str) -> clap::Command {
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    let long = cmd.get_long_about().map(|a| a.to_string()).unwrap_or_else(|| about.clone());
    let first = name_line(&about);
    let mut c = cmd.clone().name(name.to_owned()).bin_name(bin.to_owned()).display_name(name.to_owned());
    if !about.is_empty() {
        c = c.about(first).long_about(long);
    }
    c
}

/// The exit-status table as a man page section.
fn exit_status_roff() -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for line in crate::exit::TABLE.lines().skip(1) {
        if let Some((code, what)) = line.trim().split_once("  ") {
            s.push_str(&format!(".TP\n{code}\n{}\n", what.replace('-', "\\-")));
        }
    }
    s
}

/// A man page's NAME line from a command's help: its first sentence, cut
/// before a parenthesis or a comma when that is still long.
fn name_line(about: &str) -> String {
    let about = about.replace('\n', " ");
    let end = [about.find(". "), about.find("? ").map(|i| i + 1)].into_iter().flatten().min().unwrap_or(about.len());
    let mut s = about[..end].trim_end_matches('.').to_owned();
    for cut in [": ", " (", ", "] {
        if s.len() > 72 {
            if let Some(i) = s.find(cut) {
                s.truncate(i);
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_gets_a_man_page() {
        let d = tempfile::tempdir().unwrap();
        let n = write_manpages(d.path()).unwrap();
        assert!(n >= 15, "{n}");
        let status = std::fs::read_to_string(d.path().join("kexdump-status.1")).unwrap();
        assert!(status.contains("kexdump\\-status"), "{}", &status[..200.min(status.len())]);
        // SYNOPSIS as typed; NAME one sentence, the rest in DESCRIPTION.
        let synopsis = status.split(".SH SYNOPSIS\n").nth(1).unwrap();
        assert!(synopsis.starts_with("\\fBkexdump status\\fR"), "{}", &synopsis[..80.min(synopsis.len())]);
        let verify = std::fs::read_to_string(d.path().join("kexdump-verify.1")).unwrap();
        let name_line = verify.split(".SH NAME\n").nth(1).unwrap().lines().next().unwrap();
        assert_eq!(name_line, "kexdump\\-verify \\- Check a dump\\*(Aqs structure");
        assert!(verify.split(".SH DESCRIPTION\n").nth(1).unwrap().contains("CRC32"));
        assert!(d.path().join("kexdump-crashkernel-set.1").is_file());
        for page in ["kexdump.1", "kexdump-status.1", "kexdump-verify.1", "kexdump-crashkernel-set.1"] {
            let text = std::fs::read_to_string(d.path().join(page)).unwrap();
            assert!(
                text.contains(".SH \"EXIT STATUS\"\n.TP\n0\n") && text.contains("\n4\nthe dump is incomplete"),
                "{page}"
            );
        }
    }

    #[test]
    fn the_configuration_page_documents_every_key_of_the_example() {
        let page = config_manpage(EXAMPLE_CONFIG);
        assert!(page.starts_with(".TH kexdump.toml 5"));
        for line in EXAMPLE_CONFIG.lines() {
            if let Some(t) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                assert!(page.contains(&format!(".SS [{t}]\n")), "{t}");
            }
            if let Some((key, _)) = line.strip_prefix('#').and_then(|r| r.split_once(" = ")) {
                if key.starts_with(|c: char| c.is_ascii_lowercase()) {
                    let entry = format!(".TP\n\\fB{key}\\fR (default: ");
                    let at = page.find(&entry).unwrap_or_else(|| panic!("{key} has no entry"));
                    // Its description follows the entry.
                    assert!(!page[at + entry.len()..].split('\n').nth(1).unwrap_or("").is_empty(), "{key}");
                }
            }
        }
        assert!(page.contains("kexdump config \\-\\-json"), "the header's examples are kept");
    }

    #[test]
    fn bash_completion_names_the_commands() {
        let mut out = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut Cli::command(), "kexdump", &mut out);
        let s = String::from_utf8(out).unwrap();
        for c in ["arm", "status", "estimate", "crashkernel", "list"] {
            assert!(s.contains(c), "{c}");
        }
    }
}
