//! The kdump-compressed format (makedumpfile's diskdump_mod.h, crash's
//! diskdump.h) as x86_64 lays it out: 64-bit, little-endian. Block 0 holds
//! `struct disk_dump_header`; the sub-header `struct kdump_sub_header`
//! starts at block 1; then the two bitmaps, the table of `struct
//! page_desc`, and the page data. Written by `writer::kdump`, read by
//! `reader::kdump` and `verify`.

use std::mem::{offset_of, size_of};

pub const SIGNATURE: &[u8; 8] = b"KDUMP   ";
/// The signature of the older diskdump format, which is not read.
pub const DISKDUMP_SIGNATURE: &[u8; 8] = b"DISKDUMP";
/// The header version kexdump writes (6: 64-bit pfns in the sub-header).
pub const HEADER_VERSION: i32 = 6;
/// The block size kexdump writes: one page.
pub const BLOCK_SIZE: u64 = 4096;

/// Field offsets in `struct disk_dump_header`.
pub mod header {
    pub const SIZE: usize = 464;
    pub const SIGNATURE: usize = 0;
    pub const HEADER_VERSION: usize = 8;
    pub const UTSNAME: usize = 12;
    /// struct new_utsname: six 65-byte strings.
    pub const UTS_FIELD_LEN: usize = 65;
    /// Index of `machine` among the six utsname strings.
    pub const UTS_MACHINE: usize = 4;
    pub const TIMESTAMP: usize = 408;
    pub const STATUS: usize = 424;
    pub const BLOCK_SIZE: usize = 428;
    pub const SUB_HDR_SIZE: usize = 432;
    pub const BITMAP_BLOCKS: usize = 436;
    pub const MAX_MAPNR: usize = 440;
    pub const TOTAL_RAM_BLOCKS: usize = 444;
    pub const DEVICE_BLOCKS: usize = 448;
    pub const WRITTEN_BLOCKS: usize = 452;
    pub const CURRENT_CPU: usize = 456;
    pub const NR_CPUS: usize = 460;
}

/// Field offsets in `struct kdump_sub_header` (which header version added
/// each field: see `reader::kdump`).
pub mod sub_header {
    pub const SIZE: usize = 104;
    pub const PHYS_BASE: usize = 0;
    pub const DUMP_LEVEL: usize = 8;
    pub const SPLIT: usize = 12;
    pub const START_PFN: usize = 16;
    pub const END_PFN: usize = 24;
    pub const OFFSET_VMCOREINFO: usize = 32;
    pub const SIZE_VMCOREINFO: usize = 40;
    pub const OFFSET_NOTE: usize = 48;
    pub const SIZE_NOTE: usize = 56;
    pub const OFFSET_ERASEINFO: usize = 64;
    pub const SIZE_ERASEINFO: usize = 72;
    pub const START_PFN_64: usize = 80;
    pub const END_PFN_64: usize = 88;
    pub const MAX_MAPNR_64: usize = 96;
}

/// Field offsets in `struct page_desc`, one per dumped page.
pub mod page_desc {
    pub const SIZE: usize = 24;
    pub const OFFSET: usize = 0;
    /// The `size` field (`SIZE` is the descriptor's own size).
    pub const SIZE_FIELD: usize = 8;
    pub const FLAGS: usize = 12;
    pub const PAGE_FLAGS: usize = 16;
}

/// Bits of the header's `status` and of each descriptor's `flags`: the
/// page compression in use, and whether the dump is INCOMPLETE.
pub mod flag {
    pub const ZLIB: u32 = 0x1;
    pub const LZO: u32 = 0x2;
    pub const SNAPPY: u32 = 0x4;
    pub const INCOMPLETE: u32 = 0x8;
    pub const ZSTD: u32 = 0x20;
}

// Mirrors of the C declarations, never built: the compiler lays them out
// by C's rules, and the assertions below hold the offsets above to them.

#[allow(dead_code)]
#[repr(C)]
struct NewUtsname {
    sysname: [u8; 65],
    nodename: [u8; 65],
    release: [u8; 65],
    version: [u8; 65],
    machine: [u8; 65],
    domainname: [u8; 65],
}

/// `struct timeval` on x86_64: two longs.
#[allow(dead_code)]
#[repr(C)]
struct Timeval {
    tv_sec: i64,
    tv_usec: i64,
}

#[allow(dead_code)]
#[repr(C)]
struct DiskDumpHeader {
    signature: [u8; 8],
    header_version: i32,
    utsname: NewUtsname,
    timestamp: Timeval,
    status: u32,
    block_size: i32,
    sub_hdr_size: i32,
    bitmap_blocks: u32,
    max_mapnr: u32,
    total_ram_blocks: u32,
    device_blocks: u32,
    written_blocks: u32,
    current_cpu: u32,
    nr_cpus: i32,
    /// `struct task_struct *tasks[0]`: no bytes, but pointer alignment.
    tasks: [u64; 0],
}

#[allow(dead_code)]
#[repr(C)]
struct KdumpSubHeader {
    phys_base: u64,
    dump_level: i32,
    split: i32,
    start_pfn: u64,
    end_pfn: u64,
    offset_vmcoreinfo: i64,
    size_vmcoreinfo: u64,
    offset_note: i64,
    size_note: u64,
    offset_eraseinfo: i64,
    size_eraseinfo: u64,
    start_pfn_64: u64,
    end_pfn_64: u64,
    max_mapnr_64: u64,
}

#[allow(dead_code)]
#[repr(C)]
struct PageDesc {
    offset: i64,
    size: u32,
    flags: u32,
    page_flags: u64,
}

const _: () = assert!(size_of::<DiskDumpHeader>() == header::SIZE && header::SIZE == 464);
const _: () = assert!(offset_of!(DiskDumpHeader, signature) == header::SIGNATURE);
// The signature fills the bytes before header_version, in either format.
const _: () = assert!(SIGNATURE.len() == header::HEADER_VERSION && DISKDUMP_SIGNATURE.len() == SIGNATURE.len());
const _: () = assert!(offset_of!(DiskDumpHeader, header_version) == header::HEADER_VERSION);
const _: () = assert!(offset_of!(DiskDumpHeader, utsname) == header::UTSNAME);
const _: () = assert!(size_of::<NewUtsname>() == 6 * header::UTS_FIELD_LEN);
const _: () = assert!(offset_of!(NewUtsname, machine) == header::UTS_MACHINE * header::UTS_FIELD_LEN);
const _: () = assert!(offset_of!(DiskDumpHeader, timestamp) == header::TIMESTAMP);
const _: () = assert!(size_of::<Timeval>() == 16);
const _: () = assert!(offset_of!(DiskDumpHeader, status) == header::STATUS);
const _: () = assert!(offset_of!(DiskDumpHeader, block_size) == header::BLOCK_SIZE);
const _: () = assert!(offset_of!(DiskDumpHeader, sub_hdr_size) == header::SUB_HDR_SIZE);
const _: () = assert!(offset_of!(DiskDumpHeader, bitmap_blocks) == header::BITMAP_BLOCKS);
const _: () = assert!(offset_of!(DiskDumpHeader, max_mapnr) == header::MAX_MAPNR);
const _: () = assert!(offset_of!(DiskDumpHeader, total_ram_blocks) == header::TOTAL_RAM_BLOCKS);
const _: () = assert!(offset_of!(DiskDumpHeader, device_blocks) == header::DEVICE_BLOCKS);
const _: () = assert!(offset_of!(DiskDumpHeader, written_blocks) == header::WRITTEN_BLOCKS);
const _: () = assert!(offset_of!(DiskDumpHeader, current_cpu) == header::CURRENT_CPU);
const _: () = assert!(offset_of!(DiskDumpHeader, nr_cpus) == header::NR_CPUS);
// The header fits its block, which the sub-header follows.
const _: () = assert!(header::SIZE as u64 <= BLOCK_SIZE);

const _: () = assert!(size_of::<KdumpSubHeader>() == sub_header::SIZE && sub_header::SIZE == 104);
const _: () = assert!(offset_of!(KdumpSubHeader, phys_base) == sub_header::PHYS_BASE);
const _: () = assert!(offset_of!(KdumpSubHeader, dump_level) == sub_header::DUMP_LEVEL);
const _: () = assert!(offset_of!(KdumpSubHeader, split) == sub_header::SPLIT);
const _: () = assert!(offset_of!(KdumpSubHeader, start_pfn) == sub_header::START_PFN);
const _: () = assert!(offset_of!(KdumpSubHeader, end_pfn) == sub_header::END_PFN);
const _: () = assert!(offset_of!(KdumpSubHeader, offset_vmcoreinfo) == sub_header::OFFSET_VMCOREINFO);
const _: () = assert!(offset_of!(KdumpSubHeader, size_vmcoreinfo) == sub_header::SIZE_VMCOREINFO);
const _: () = assert!(offset_of!(KdumpSubHeader, offset_note) == sub_header::OFFSET_NOTE);
const _: () = assert!(offset_of!(KdumpSubHeader, size_note) == sub_header::SIZE_NOTE);
const _: () = assert!(offset_of!(KdumpSubHeader, offset_eraseinfo) == sub_header::OFFSET_ERASEINFO);
const _: () = assert!(offset_of!(KdumpSubHeader, size_eraseinfo) == sub_header::SIZE_ERASEINFO);
const _: () = assert!(offset_of!(KdumpSubHeader, start_pfn_64) == sub_header::START_PFN_64);
const _: () = assert!(offset_of!(KdumpSubHeader, end_pfn_64) == sub_header::END_PFN_64);
const _: () = assert!(offset_of!(KdumpSubHeader, max_mapnr_64) == sub_header::MAX_MAPNR_64);

const _: () = assert!(size_of::<PageDesc>() == page_desc::SIZE && page_desc::SIZE == 24);
const _: () = assert!(offset_of!(PageDesc, offset) == page_desc::OFFSET);
const _: () = assert!(offset_of!(PageDesc, size) == page_desc::SIZE_FIELD);
const _: () = assert!(offset_of!(PageDesc, flags) == page_desc::FLAGS);
const _: () = assert!(offset_of!(PageDesc, page_flags) == page_desc::PAGE_FLAGS);
