//! The page geometry every part of the engine shares: x86_64's 4 KiB
//! pages, the only size the engine reads (`vmcoreinfo` rejects any other
//! PAGESIZE). A leaf: it imports nothing from the crate, so any module can
//! use it without joining an import cycle.

/// log2 of the page size: a pfn is a physical address shifted right by it.
pub const PAGE_SHIFT: u32 = 12;
/// Bytes in a page.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// Where `addr` falls inside its page (the kernel's `offset_in_page`).
pub const fn offset_in_page(addr: u64) -> u64 {
    addr & (PAGE_SIZE - 1)
}

const _: () = assert!(PAGE_SIZE == 4096);
