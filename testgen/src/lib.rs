//! Synthetic vmcore generator.
