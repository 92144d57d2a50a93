//! makedumpfile's flattened format (`-F`, makedumpfile.h), which lets a
//! dump travel through a pipe: a header block, then records, each a record
//! header `{offset, size}` followed by `size` bytes that belong at `offset`
//! of the dump, then an end record whose offset and size are both
//! `END_MARK`. Every integer is a big-endian i64, whatever the machine.
//! Written by `sink::FlatSink`, read by `reader::flat`.

use std::mem::{offset_of, size_of};

pub const SIGNATURE: &[u8; 12] = b"makedumpfile";
/// The signature field's length: the signature, zero-padded.
pub const SIGNATURE_FIELD_LEN: usize = 16;
/// The header block before the first record: the header's fields, then
/// zeros.
pub const HEADER_SIZE: usize = 4096;
/// The header's fields: signature, type, version.
pub const HEADER_FIELDS_SIZE: usize = 32;
/// The header's `type` value for a flattened stream.
pub const TYPE_FLAT: i64 = 1;
/// The header's `version` value, the only one there is.
pub const VERSION: i64 = 1;
/// Offset and size of the record that ends the stream.
pub const END_MARK: i64 = -1;

/// Field offsets in `struct makedumpfile_header`.
pub mod header {
    pub const SIGNATURE: usize = 0;
    pub const TYPE: usize = 16;
    pub const VERSION: usize = 24;
}

/// Size of `struct makedumpfile_data_header`, the record header.
pub const RECORD_HEADER_SIZE: usize = 16;

/// Field offsets in the record header.
pub mod record {
    pub const OFFSET: usize = 0;
    pub const SIZE: usize = 8;
}

// Mirrors of the C declarations, never built: the compiler lays them out
// by C's rules, and the assertions below hold the offsets above to them.

#[allow(dead_code)]
#[repr(C)]
struct MakedumpfileHeader {
    signature: [u8; SIGNATURE_FIELD_LEN],
    type_: i64,
    version: i64,
}

#[allow(dead_code)]
#[repr(C)]
struct MakedumpfileDataHeader {
    offset: i64,
    buf_size: i64,
}

// The signature, rounded up to 8 bytes, fills its field.
const _: () = assert!(SIGNATURE.len().div_ceil(8) * 8 == SIGNATURE_FIELD_LEN);
const _: () = assert!(offset_of!(MakedumpfileHeader, signature) == header::SIGNATURE);
const _: () = assert!(offset_of!(MakedumpfileHeader, type_) == header::TYPE);
const _: () = assert!(offset_of!(MakedumpfileHeader, version) == header::VERSION);
const _: () = assert!(size_of::<MakedumpfileHeader>() == HEADER_FIELDS_SIZE && HEADER_FIELDS_SIZE == 32);
const _: () = assert!(HEADER_FIELDS_SIZE <= HEADER_SIZE);
const _: () = assert!(HEADER_SIZE == 4096);

const _: () = assert!(size_of::<MakedumpfileDataHeader>() == RECORD_HEADER_SIZE && RECORD_HEADER_SIZE == 16);
const _: () = assert!(offset_of!(MakedumpfileDataHeader, offset) == record::OFFSET);
const _: () = assert!(offset_of!(MakedumpfileDataHeader, buf_size) == record::SIZE);
