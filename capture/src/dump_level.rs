//! makedumpfile's dump level (`-d`, 0-31): one bit per class of page a
//! dump leaves out. The filter applies the bits, the page scheme says which
//! of them a kernel's marks allow, the writers record them. A leaf, so
//! that all of those can share it. (`analysis::dump_level` describes the
//! same bits in words for `inspect`.)

pub const ZERO: u8 = 1;
pub const CACHE: u8 = 2;
pub const CACHE_PRIVATE: u8 = 4;
pub const USER: u8 = 8;
pub const FREE: u8 = 16;
/// The bits that need the struct page walk (all but ZERO).
pub const NEEDS_PAGE_WALK: u8 = CACHE | CACHE_PRIVATE | USER | FREE;
