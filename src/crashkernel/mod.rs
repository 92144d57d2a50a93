//! The crashkernel= reservation: the kernel option itself, and the boot
//! loader files that carry it to the next boot.

pub mod bootcfg;
pub mod option;
