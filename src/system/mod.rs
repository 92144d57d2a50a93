//! Probes of the running system, read under a root directory (`/`, or a
//! fake tree in tests).

pub mod capture_bin;
pub mod identity;
pub mod meminfo;
pub mod mounts;
