//! The ssh client against a real OpenSSH server. Ignored by `cargo test`
//! (it needs a server); `tests/ssh-live.sh` starts sshd on 127.0.0.1 with
//! its own keys and runs these with `--ignored`. Missing settings fail the
//! test rather than skip it.

use kexdump_engine::remote::ssh::{scan_host_key, Failure, Sftp, SshParams};
use kexdump_engine::sink::{FlatSink, Sink};
use std::time::Duration;

fn env(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run tests/ssh-live.sh"))
}

fn params() -> SshParams {
    SshParams {
        addr: env("KX_SSH_ADDR").parse().unwrap(),
        user: env("KX_SSH_USER"),
        identity: std::fs::read_to_string(env("KX_SSH_KEY")).unwrap(),
        host_key: Some(env("KX_SSH_HOSTKEY")),
        timeout: Duration::from_secs(10),
    }
}

#[test]
#[ignore = "needs an sshd: tests/ssh-live.sh"]
fn a_flattened_stream_lands_whole_and_renamed() {
    let dir = env("KX_SSH_DIR");
    let mut s = Sftp::connect(&params()).unwrap();
    let base = s.private_dirs(&dir, "crash/sub").unwrap();
    assert_eq!(base, format!("{dir}/crash/sub"));
    let d = s.unique_dir(&base, "20261205-120000-h").unwrap();
    let d2 = s.unique_dir(&base, "20261205-120000-h").unwrap();
    assert_eq!(d2, format!("{d}.1"));
    // 3 MiB of records: more than IN_FLIGHT * CHUNK, so the pipeline fills.
    let page: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
    let tmp = format!("{d}/vmcore.flat.incomplete");
    let mut f = s.create(&tmp, false).unwrap();
    let mut sink = FlatSink::new(&mut f).unwrap();
    for i in 0..768u64 {
        sink.write_at(i * 4096, &page).unwrap();
    }
    sink.finish().unwrap();
    let written = sink.written();
    f.finish().unwrap();
    s.rename(&tmp, &format!("{d}/vmcore.flat")).unwrap();
    s.write_file(&format!("{d}/kexdump.json"), b"{}\n").unwrap();
    assert!(s.available_bytes(&d).unwrap().unwrap() > 0);
    // Creating an existing file is refused (EXCL): nothing is overwritten.
    assert!(s.create(&format!("{d}/vmcore.flat"), false).is_err());
    s.close();

    let local = std::path::Path::new(&env("KX_SSH_LOCAL_DIR")).join(d.trim_start_matches(&format!("{dir}/")));
    let got = std::fs::read(local.join("vmcore.flat")).unwrap();
    assert_eq!(got.len() as u64, written);
    let input = kexdump_engine::input::Input::from_bytes(got);
    let extents = kexdump_engine::reader::flat::index(&input).expect("a whole flattened stream");
    assert_eq!(extents.iter().map(|e| e.len).sum::<u64>(), 768 * 4096);
    assert!(!local.join("vmcore.flat.incomplete").exists());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(local.join("vmcore.flat")).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&local).unwrap().permissions().mode() & 0o777, 0o700);
}

#[test]
#[ignore = "needs an sshd: tests/ssh-live.sh"]
fn a_wrong_host_key_is_refused_before_login() {
    let mut p = params();
    p.host_key = Some("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb1mDz2qOdz4dDkEQnqv1yTyTCXrHo/SMA+w7PfsPcC".into());
    let e = Sftp::connect(&p).err().expect("a wrong host key must be refused");
    assert_eq!(e.failure, Failure::HostKey, "{e}");
    assert!(e.msg.contains("not the recorded one"), "{e}");
    assert_eq!(scan_host_key(p.addr, p.timeout).unwrap(), env("KX_SSH_HOSTKEY"));
}

#[test]
#[ignore = "needs an sshd: tests/ssh-live.sh"]
fn an_unknown_key_and_a_closed_port_fail_as_such() {
    let mut p = params();
    p.identity = std::fs::read_to_string(env("KX_SSH_OTHER_KEY")).unwrap();
    let e = Sftp::connect(&p).err().expect("an unknown key must be refused");
    assert_eq!(e.failure, Failure::Auth, "{e}");
    let mut p = params();
    p.addr = "127.0.0.1:1".parse().unwrap();
    let e = Sftp::connect(&p).err().expect("nothing listens on port 1");
    assert_eq!(e.failure, Failure::Connect, "{e}");
    // A listener that never answers: the handshake times out, no hang.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut p = params();
    p.addr = l.local_addr().unwrap();
    p.timeout = Duration::from_secs(2);
    let t = std::time::Instant::now();
    let e = Sftp::connect(&p).err().expect("a silent server must time out");
    assert_eq!(e.failure, Failure::Timeout, "{e}");
    assert!(t.elapsed() < Duration::from_secs(10));
}
