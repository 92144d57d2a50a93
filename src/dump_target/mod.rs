//! The dump target on this machine.

pub mod check;
