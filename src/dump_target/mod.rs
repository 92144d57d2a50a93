//! The dump target on this machine: where it is, and whether a capture
//! kernel will find it and can write to it.

pub mod check;
pub mod location;
