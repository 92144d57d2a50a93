//! The crashkernel= reservation: the kernel option itself, what the
//! running kernel reserved, and the boot loader files that carry the option
//! to the next boot.

pub mod bootcfg;
pub mod next_boot;
pub mod param;
pub mod state;
