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

/// What an ssh target receives (vmcore.flat and a record naming it)
/// becomes vmcore in place; the record follows, verify passes, the stream
/// is gone. A second run refuses (nothing to convert).
#[test]
fn a_received_flattened_dump_is_converted_in_place() {
    let t = tempfile::tempdir().unwrap();
    let vmcore = t.path().join("vmcore-elf");
    std::fs::write(&vmcore, SynthVmcore::sample().build()).unwrap();
    let dir = t.path().join("20261205-120000-h");
    std::fs::create_dir(&dir).unwrap();
    let kexdump = env!("CARGO_BIN_EXE_kexdump");
    let saved = Command::new(kexdump)
        .args(["save", "-q", "-f", "flat"])
        .arg(&vmcore)
        .arg(dir.join("vmcore.flat"))
        .output()
        .unwrap();
    assert!(matches!(saved.status.code(), Some(0 | 4)), "{}", String::from_utf8_lossy(&saved.stderr));
    let flat = std::fs::read(dir.join("vmcore.flat")).unwrap();
    let record = format!(
        "{{\"schema\": \"kexdump.capture/1\", \"status\": \"complete\", \"dump\": {{\"file\": \"vmcore.flat\", \"format\": \"flattened\", \"bytes\": {}, \"crc32\": \"{:08x}\"}}}}\n",
        flat.len(),
        crc32fast::hash(&flat)
    );
    std::fs::write(dir.join("kexdump.json"), record).unwrap();
    let verify = |p: &std::path::Path| Command::new(kexdump).arg("verify").arg(p).output().unwrap();
    let before = verify(&dir);
    assert!(
        matches!(before.status.code(), Some(0 | 4)),
        "the stream verifies: {}",
        String::from_utf8_lossy(&before.stderr)
    );

    let out = Command::new(kexdump).args(["convert", "--json"]).arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["record_updated"], true);
    assert!(!dir.join("vmcore.flat").exists(), "the stream is removed once vmcore is durable");
    let rec: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("kexdump.json")).unwrap()).unwrap();
    assert_eq!(rec["dump"]["file"], "vmcore");
    assert_eq!(rec["dump"]["crc32"], j["crc32"]);
    let after = verify(&dir);
    let text = String::from_utf8_lossy(&after.stdout).into_owned() + &String::from_utf8_lossy(&after.stderr);
    assert!(matches!(after.status.code(), Some(0 | 4)), "{text}");
    assert!(!text.to_lowercase().contains("crc32 mismatch"), "{text}");

    let again = Command::new(kexdump).arg("convert").arg(&dir).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("has no vmcore.flat"));
}
