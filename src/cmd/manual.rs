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
    write_page(dir, &cmd, "kexdump", &mut n)?;
    Ok(n)
}

fn write_page(dir: &Path, cmd: &clap::Command, name: &str, n: &mut usize) -> Result<()> {
    let cmd = cmd.clone().name(name.to_owned());
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out).context("rendering a man page")?;
    out.extend_from_slice(exit_status_roff().as_bytes());
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    *n += 1;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_page(dir, sub, &format!("{name}-{}", sub.get_name()), n)?;
    }
    Ok(())
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
    fn bash_completion_names_the_commands() {
        let mut out = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut Cli::command(), "kexdump", &mut out);
        let s = String::from_utf8(out).unwrap();
        for c in ["arm", "status", "estimate", "crashkernel", "list"] {
            assert!(s.contains(c), "{c}");
        }
    }
}
