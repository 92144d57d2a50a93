pub mod defs;
pub mod vmcore;
