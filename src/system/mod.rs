//! Probes of the running system: its mounts, its memory, which kernel runs
//! and as whom, where the capture binary is installed, the network path to
//! a remote dump target. Those that read
//! files take a root directory (`/`, or a fake tree in tests).

pub mod capture_bin;
pub mod identity;
pub mod meminfo;
pub mod mounts;
pub mod network;
