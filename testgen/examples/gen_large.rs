//! Write a large synthetic vmcore as a sparse file (testgen/src/large.rs):
//!
//! ```text
//! cargo run --release -p kexdump-testgen --example gen_large -- --ram 64G --kept 2% OUT
//! ```
//!
//! Prints, and writes next to OUT as `OUT.info`, `key=value` lines:
//! `ram_bytes`, `ram_pages`, `kept_ppm`, `file_len`, `data_bytes` and,
//! unless `--no-count`, `expected_kept_31` (the pages makedumpfile's rules
//! keep at level 31, counted by the generator's model).

use std::path::PathBuf;
use std::process::ExitCode;

use kexdump_testgen::large::{parse_size, LargeVmcore};

fn usage() -> ExitCode {
    eprintln!("usage: gen_large --ram SIZE [--kept PERCENT%] [--no-count] OUT   (SIZE: 64G, 1T; PERCENT default 2)");
    ExitCode::from(2)
}

/// "2%", "2.5%", "2" (percent) to parts per million.
fn parse_percent(s: &str) -> Option<u64> {
    let s = s.strip_suffix('%').unwrap_or(s);
    let v: f64 = s.parse().ok()?;
    (0.0..=100.0).contains(&v).then(|| (v * 10_000.0).round() as u64)
}

fn main() -> ExitCode {
    let mut ram = None;
    let mut kept_ppm = 20_000;
    let mut count = true;
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--ram" => match args.next().as_deref().and_then(parse_size) {
                Some(v) => ram = Some(v),
                None => return usage(),
            },
            "--kept" => match args.next().as_deref().and_then(parse_percent) {
                Some(v) => kept_ppm = v,
                None => return usage(),
            },
            "--no-count" => count = false,
            _ if out.is_none() && !a.starts_with('-') => out = Some(PathBuf::from(a)),
            _ => return usage(),
        }
    }
    let (Some(ram), Some(out)) = (ram, out) else { return usage() };
    let v = LargeVmcore::new(ram, kept_ppm);
    let written = match v.write(&out) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("gen_large: writing {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
    };
    let mut info = format!(
        "ram_bytes={ram}\nram_pages={}\nkept_ppm={kept_ppm}\nfile_len={}\ndata_bytes={}\n",
        v.ram_pages(),
        written.file_len,
        written.data_bytes
    );
    if count {
        info.push_str(&format!("expected_kept_31={}\n", v.kept_pages(31)));
    }
    print!("{info}");
    let mut info_path = out.into_os_string();
    info_path.push(".info");
    if let Err(e) = std::fs::write(&info_path, info) {
        eprintln!("gen_large: writing {}: {e}", PathBuf::from(info_path).display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
