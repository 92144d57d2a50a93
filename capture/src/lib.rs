//! kexdump dump engine.
