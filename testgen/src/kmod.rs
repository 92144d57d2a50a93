//! Fake kernel modules for the tests of the module closure and the image
//! builder (`initramfs/`) and of `kexdump arm` (`src/arming/capture_image.rs`).

/// A minimal ELF64 relocatable with a `.modinfo` section holding `modinfo`
/// (NUL-separated `key=value` strings): all that module readers look at.
pub fn fake_ko(modinfo: &[&str]) -> Vec<u8> {
    let mut info: Vec<u8> = Vec::new();
    for kv in modinfo {
        info.extend_from_slice(kv.as_bytes());
        info.push(0);
    }
    let shstr = b"\0.modinfo\0.shstrtab\0";
    let info_off = 64;
    let str_off = info_off + info.len();
    let shoff = (str_off + shstr.len()).div_ceil(8) * 8;
    let mut f = vec![0u8; shoff + 3 * 64];
    f[..6].copy_from_slice(b"\x7fELF\x02\x01");
    f[40..48].copy_from_slice(&(shoff as u64).to_le_bytes());
    f[58..60].copy_from_slice(&64u16.to_le_bytes());
    f[60..62].copy_from_slice(&3u16.to_le_bytes());
    f[62..64].copy_from_slice(&2u16.to_le_bytes());
    f[info_off..str_off].copy_from_slice(&info);
    f[str_off..str_off + shstr.len()].copy_from_slice(shstr);
    let mut sh = |i: usize, name: u32, off: usize, size: usize| {
        let h = shoff + i * 64;
        f[h..h + 4].copy_from_slice(&name.to_le_bytes());
        f[h + 24..h + 32].copy_from_slice(&(off as u64).to_le_bytes());
        f[h + 32..h + 40].copy_from_slice(&(size as u64).to_le_bytes());
    };
    sh(1, 1, info_off, info.len());
    sh(2, 10, str_off, shstr.len());
    f
}
