//! One module per command: each reads what clap parsed, calls the domain
//! modules and prints the result.

pub mod arm;
pub mod config;
pub mod convert;
pub mod crashkernel;
pub mod disarm;
pub mod dmesg;
pub mod estimate;
pub mod initramfs;
pub mod inspect;
pub mod list;
pub mod manual;
pub mod save;
pub mod status;
pub mod test;
pub mod verify;
