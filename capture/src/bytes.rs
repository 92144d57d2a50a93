//! Bounds-checked little-endian field access (and big-endian, which only
//! the flattened format uses). Every parser in the engine reads through
//! these helpers, so malformed input yields `None` (turned into an error
//! naming the offset by the caller) and never a panic.

pub fn slice(buf: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    buf.get(off..off.checked_add(len)?)
}

pub fn u16_at(buf: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(slice(buf, off, 2)?.try_into().ok()?))
}

pub fn u32_at(buf: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(slice(buf, off, 4)?.try_into().ok()?))
}

pub fn u64_at(buf: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(slice(buf, off, 8)?.try_into().ok()?))
}

pub fn i32_at(buf: &[u8], off: usize) -> Option<i32> {
    u32_at(buf, off).map(|v| v as i32)
}

pub fn i64_be_at(buf: &[u8], off: usize) -> Option<i64> {
    Some(i64::from_be_bytes(slice(buf, off, 8)?.try_into().ok()?))
}

/// Round `v` up to a multiple of `align` (a power of two or not).
pub fn round_up(v: u64, align: u64) -> u64 {
    v.div_ceil(align) * align
}
