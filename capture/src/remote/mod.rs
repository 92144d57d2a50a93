//! Dump targets on another machine: the ssh client (SFTP) both the
//! capture kernel and the CLI use. NFS needs no code here: the capture
//! kernel mounts the export with the kernel's own client and writes as on
//! a local disk.

pub mod sftp_wire;
pub mod ssh;
