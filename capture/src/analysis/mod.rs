//! Analysis of a saved dump, for `kexdump inspect`: the CPUs' registers,
//! the kernel's own symbol table, the crashing CPU and its probable call
//! chain, and what the log says.
//!
//! Data flows one way: `source` (the one adapter from an opened dump to a
//! format-independent `DumpView`) → `prstatus`, `kallsyms` or
//! `symbol_files` (both seen as `symbols::SymbolLookup`), `panic_log` →
//! `crashing_cpu` → `stack` (with `call_site`) → `inspect` (every section,
//! each with its own error) → the CLI renders it (text or JSON).

pub mod call_site;
pub mod crashing_cpu;
pub mod dump_level;
pub mod error;
pub mod inspect;
pub mod kallsyms;
pub mod next_steps;
pub mod panic_log;
pub mod prstatus;
pub mod source;
pub mod stack;
pub mod symbol_files;
pub mod symbols;
#[cfg(test)]
mod test_memory;

pub use error::{AnalysisError, AnalysisResult};
pub use inspect::{inspect, InspectOptions, Inspection};
pub use source::{view_of_vmcore, DumpFacts, DumpView, KernelMemory};
