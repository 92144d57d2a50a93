//! The kdump-compressed format's on-disk structures (makedumpfile's
//! diskdump_mod.h, crash's diskdump.h), 64-bit little-endian layout, as
//! field offsets. Written by the kdump writer, read back by tests and
//! `verify`.

pub const SIGNATURE: &[u8; 8] = b"KDUMP   ";
pub const HEADER_VERSION: i32 = 6;
pub const BLOCK_SIZE: u64 = 4096;

/// struct disk_dump_header
pub mod header {
    pub const SIZE: usize = 464;
    pub const SIGNATURE: usize = 0;
    pub const HEADER_VERSION: usize = 8;
    pub const UTSNAME: usize = 12;
    /// struct new_utsname: six 65-byte strings.
    pub const UTS_FIELD_LEN: usize = 65;
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

/// struct kdump_sub_header
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

/// struct page_desc
pub mod page_desc {
    pub const SIZE: usize = 24;
    pub const OFFSET: usize = 0;
    pub const SIZE_FIELD: usize = 8;
    pub const FLAGS: usize = 12;
    pub const PAGE_FLAGS: usize = 16;
}

const _: () = assert!(header::NR_CPUS + 4 == header::SIZE);
const _: () = assert!(sub_header::MAX_MAPNR_64 + 8 == sub_header::SIZE);
const _: () = assert!(header::UTSNAME + 6 * header::UTS_FIELD_LEN <= header::TIMESTAMP);
