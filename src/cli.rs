//! Command-line definitions. Every argument carries its help text.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "kexdump", version, about = "kdump crash capture: save, inspect and convert kernel crash dumps")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Filter and compress a vmcore into a dump, with the same engine the
    /// capture kernel uses.
    #[command(after_help = SAVE_EXAMPLES)]
    Save(SaveArgs),
    /// Print the crashed kernel's log (printk ring buffer, Linux 5.10+),
    /// as `makedumpfile --dump-dmesg` does. Reads ELF vmcores (/proc/vmcore
    /// or a copy); kdump-compressed input comes with the dump reader.
    Dmesg(DmesgArgs),
}

#[derive(Args)]
pub struct DmesgArgs {
    /// The vmcore to read.
    pub vmcore: PathBuf,
}

const SAVE_EXAMPLES: &str = "\
Examples:
  kexdump save /proc/vmcore /var/crash/vmcore             # level 31, zstd, kdump-compressed
  kexdump save --format elf --level 31 vmcore vmcore.elf  # for gdb
  kexdump save --format flat vmcore - | ssh host 'cat > vmcore.flat'

Dump levels (bits, OR-ed as in makedumpfile -d): 1 zero pages, 2 cache pages
without private data, 4 all cache pages, 8 user pages, 16 free pages.
The output appears as OUT only once complete (written as OUT.incomplete,
fsynced, renamed); it is created mode 0600 and never overwrites a file.";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// kdump-compressed: crash, makedumpfile and drgn read it
    Kdump,
    /// ELF core: gdb, crash and drgn read it
    Elf,
    /// makedumpfile's flattened kdump format, for pipes (`makedumpfile -R` or crash read it)
    Flat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompressArg {
    /// zstd, one frame per page (default; crash >= 8.0.2 reads it)
    Zstd,
    /// zlib, as makedumpfile -c (every crash and makedumpfile read it)
    Zlib,
    /// snappy, as makedumpfile -p
    Snappy,
    /// store pages uncompressed
    None,
}

#[derive(Args)]
pub struct SaveArgs {
    /// The vmcore to read (/proc/vmcore in a capture kernel, or a copy).
    pub vmcore: PathBuf,
    /// The dump to write; `-` writes the flattened format to stdout.
    pub out: PathBuf,
    /// Dump level 0-31: which page classes to leave out (see below).
    #[arg(short = 'd', long, default_value_t = 31, value_parser = clap::value_parser!(u8).range(0..=31))]
    pub level: u8,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = OutputFormat::Kdump)]
    pub format: OutputFormat,
    /// Page compression for kdump-compressed and flattened output.
    #[arg(short = 'c', long, value_enum, default_value_t = CompressArg::Zstd)]
    pub compress: CompressArg,
    /// Compression level (zstd -7..=22 except 0, default 1; zlib 1-9, default 1).
    #[arg(long)]
    pub compress_level: Option<i32>,
    /// Read the vmcore with read() only, never mmap.
    #[arg(long)]
    pub no_mmap: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress indicator, even on a terminal.
    #[arg(short, long)]
    pub quiet: bool,
}
