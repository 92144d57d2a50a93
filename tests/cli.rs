//! The `kexdump` binary as an operator runs it, for what needs a real
//! process: a terminal as standard output (through `script`, util-linux).

use kexdump_testgen::SynthVmcore;
use std::process::Command;

#[test]
fn a_binary_dump_is_not_written_to_a_terminal() {
    let t = tempfile::tempdir().unwrap();
    let vmcore = t.path().join("vmcore");
    std::fs::write(&vmcore, SynthVmcore::sample().build()).unwrap();
    let cmd = format!("{} save -f flat {} -", env!("CARGO_BIN_EXE_kexdump"), vmcore.display());
    // `script` gives the command a pseudo-terminal and returns its status.
    let out = match Command::new("script").args(["-qec", &cmd, "/dev/null"]).output() {
        Ok(o) => o,
        Err(e) => panic!("script (util-linux) is needed for this test: {e}"),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("refusing to write a binary dump to a terminal"), "{text}");
    // To a pipe it streams (exit 0, or 4 when the synthetic kernel is
    // outside the tested range).
    let piped = Command::new(env!("CARGO_BIN_EXE_kexdump"))
        .args(["save", "-q", "-f", "flat"])
        .arg(&vmcore)
        .arg("-")
        .output()
        .unwrap();
    assert!(matches!(piped.status.code(), Some(0 | 4)), "{}", String::from_utf8_lossy(&piped.stderr));
    assert!(piped.stdout.starts_with(b"makedumpfile"), "a flattened stream");
}
