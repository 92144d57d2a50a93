//! One module per command: each reads what clap parsed, calls the domain
//! modules and prints the result. A command never uses another command
//! (what two commands share belongs to a domain module), and no domain
//! module uses a command; a test below holds both rules.

pub mod arm;
pub mod config;
pub mod convert;
pub mod crashkernel;
pub mod disarm;
pub mod dmesg;
pub mod estimate;
pub mod initramfs;
pub mod inspect;
pub mod list;
pub mod manual;
pub mod propagate;
pub mod save;
pub mod status;
pub mod test;
pub mod verify;

use crate::cli::{Command, CrashkernelCommand};
use anyhow::Result;
use std::process::ExitCode;

/// Run the command the command line names.
pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Save(a) => save::run(a),
        Command::Dmesg(a) => dmesg::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Arm(a) => arm::run_arm(a),
        Command::Disarm(a) => disarm::run(a),
        Command::Rearm(a) => arm::run_rearm(a),
        Command::Initramfs(a) => initramfs::run(*a),
        Command::Config(a) => config::run(a),
        Command::List(a) => list::run(a),
        Command::Crashkernel(a) => match a.command {
            CrashkernelCommand::Show(a) => crashkernel::run_show(a),
            CrashkernelCommand::Set(a) => crashkernel::run_set(a),
        },
        Command::Status(a) => status::run(a),
        Command::Estimate(a) => estimate::run(a),
        Command::Test(a) => test::run(a),
        Command::Propagate(a) => propagate::run(a),
        Command::Completions(a) => manual::completions(a),
        Command::Manpages(a) => manual::manpages(a),
    }
}

/// The rules of the module tree, checked on the source files.
#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// The first-level names of every `crate::` and `super::` path in
    /// `text`, each with its root: `("crate", "cmd")` for `crate::cmd::x`,
    /// one pair per item of a group (`use crate::{cmd::save, config}`),
    /// and `super::super::x` counting as `("super", "x")`.
    fn path_roots(text: &str) -> Vec<(&'static str, String)> {
        let b = text.as_bytes();
        let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        let name_at = |j: usize| -> String {
            let j = j + b[j..].iter().take_while(|c| c.is_ascii_whitespace()).count();
            b[j..].iter().take_while(|&&c| ident(c) || c == b'*').map(|&c| c as char).collect()
        };
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let root = match &b[i..] {
                r if r.starts_with(b"crate::") => "crate",
                r if r.starts_with(b"super::") => "super",
                _ => {
                    i += 1;
                    continue;
                }
            };
            if i > 0 && ident(b[i - 1]) {
                i += 1;
                continue;
            }
            let mut j = i + root.len() + 2;
            while b[j..].starts_with(b"super::") {
                j += "super::".len();
            }
            if b.get(j) == Some(&b'{') {
                // Each item of the group, at its first level.
                let mut depth = 0;
                let mut names = vec![name_at(j + 1)];
                for (k, &c) in b.iter().enumerate().skip(j) {
                    match c {
                        b'{' => depth += 1,
                        b'}' if depth == 1 => break,
                        b'}' => depth -= 1,
                        b',' if depth == 1 => names.push(name_at(k + 1)),
                        _ => {}
                    }
                }
                // A trailing comma leaves an empty item.
                out.extend(names.into_iter().filter(|n| !n.is_empty()).map(|n| (root, n)));
            } else {
                out.push((root, name_at(j)));
            }
            i = j;
        }
        out
    }

    /// Every `.rs` file under `dir`, recursively.
    fn rust_files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.expect("directory entry").path();
            if p.is_dir() {
                out.extend(rust_files(&p));
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
        out.sort();
        out
    }

    /// The commands: each file (but mod.rs) and each folder of src/cmd/.
    fn commands(cmd: &Path) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(cmd)
            .expect("src/cmd")
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.is_dir() || p.extension().is_some_and(|x| x == "rs"))
            .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
            .filter(|s| s != "mod")
            .collect();
        out.sort();
        out
    }

    /// What `file` (relative to src/) breaks of the two rules.
    fn violations(file: &Path, text: &str, commands: &[String]) -> Vec<String> {
        // The crate root and the dispatch above name every command.
        if file == Path::new("main.rs") || file == Path::new("cmd/mod.rs") {
            return Vec::new();
        }
        let own = match file.strip_prefix("cmd") {
            Ok(rest) => rest.iter().next().and_then(|c| Path::new(c).file_stem()).and_then(|s| s.to_str()),
            Err(_) => None,
        };
        let shown = Path::new("src").join(file);
        let mut out = Vec::new();
        for (root, name) in path_roots(text) {
            let why = match own {
                Some(_) if root == "crate" && name == "cmd" => "a command uses domain modules, never another command",
                Some(own) if root == "super" && name != own && commands.contains(&name) => {
                    "names another command; what two commands share belongs to a domain module"
                }
                None if name == "cmd" => "a domain module never uses a command",
                _ => continue,
            };
            let what = format!("{}: {root}::{name}: {why}", shown.display());
            if !out.contains(&what) {
                out.push(what);
            }
        }
        out
    }

    #[test]
    fn paths_are_read_as_rustc_reads_them() {
        let roots = |t| path_roots(t).into_iter().map(|(r, n)| format!("{r}::{n}")).collect::<Vec<_>>();
        assert_eq!(roots("use crate::cmd::save::run;"), ["crate::cmd"]);
        assert_eq!(
            roots("use crate::{\n    config::Config,\n    cmd::{list, save},\n};"),
            ["crate::config", "crate::cmd"]
        );
        assert_eq!(roots("let x = super::super::list::run(a); use super::*;"), ["super::list", "super::*"]);
        assert_eq!(roots("my_crate::cmd::x; kexdump_engine::output::AtomicFile"), Vec::<String>::new());
        assert_eq!(roots("é crate::é"), ["crate::"], "no panic on a character that is not ASCII");
        let cmds = ["arm".to_owned(), "list".to_owned(), "status".to_owned()];
        assert!(violations(Path::new("cmd/status.rs"), "use super::list;", &cmds)[0].contains("another command"));
        assert!(violations(Path::new("cmd/status.rs"), "use super::status; use super::super::x;", &cmds).is_empty());
        assert!(violations(Path::new("cmd/arm/json.rs"), "use super::super::text;", &cmds).is_empty());
        assert!(!violations(Path::new("arming/x.rs"), "use crate::{cmd::arm};", &cmds).is_empty());
    }

    #[test]
    fn no_command_uses_another_and_no_domain_module_uses_a_command() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let commands = commands(&src.join("cmd"));
        assert!(commands.len() >= 15 && commands.iter().any(|c| c == "arm"), "{commands:?}");
        let mut bad = Vec::new();
        for file in rust_files(&src) {
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            bad.extend(violations(file.strip_prefix(&src).expect("under src/"), &text, &commands));
        }
        assert!(bad.is_empty(), "the module rules of src/cmd/mod.rs are broken:\n{}", bad.join("\n"));
    }
}
