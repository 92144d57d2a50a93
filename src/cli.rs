//! Command-line definitions. Every argument carries its help text.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "kexdump", version, about = "kdump crash capture: save, inspect and convert kernel crash dumps")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The command line as `kexdump` parses it: [`Cli`] with the exit-status
/// table under every command's `--help`.
pub fn command() -> clap::Command {
    with_exit_status(<Cli as clap::CommandFactory>::command())
}

fn with_exit_status(cmd: clap::Command) -> clap::Command {
    let after = match cmd.get_after_help() {
        Some(h) => format!("{h}\n\n{}", crate::exit::TABLE),
        None => crate::exit::TABLE.to_owned(),
    };
    let subs: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    subs.into_iter().fold(cmd.after_help(after), |c, name| c.mut_subcommand(name, with_exit_status))
}

#[derive(Subcommand)]
pub enum Command {
    /// Filter and compress a vmcore into a dump, with the same engine the
    /// capture kernel uses.
    #[command(after_help = SAVE_EXAMPLES)]
    Save(SaveArgs),
    /// Print the crashed kernel's log (printk ring buffer, Linux 5.10+),
    /// as `makedumpfile --dump-dmesg` does, from any dump: an ELF vmcore
    /// (/proc/vmcore or a copy), kdump-compressed (zlib, lzo, snappy, zstd
    /// or uncompressed; every piece of a split dump) or flattened.
    #[command(after_help = DMESG_EXAMPLES)]
    Dmesg(DmesgArgs),
    /// Summarize a crash dump: kernel, crash time, panic message, the
    /// crashing CPU's registers and probable call chain (symbols from the
    /// dump's own kallsyms), the end of the log, what the dump left out,
    /// and the crash/gdb/drgn commands to go further. Each part reports its
    /// own error; exits non-zero only when the file cannot be opened.
    #[command(after_help = INSPECT_HELP)]
    Inspect(InspectArgs),
    /// Convert a saved dump: kdump-compressed or flattened to ELF (for gdb),
    /// flattened to kdump-compressed (as `makedumpfile -R`), re-filter to a
    /// higher dump level, or recompress. Same engine as `save`.
    #[command(after_help = CONVERT_EXAMPLES)]
    Convert(ConvertArgs),
    /// Check a dump's structure (headers, bitmaps, every page descriptor and
    /// that every page decompresses to exactly one page) and, when a
    /// kexdump.json capture record sits beside it, its CRC32. Exits 0 when
    /// good, 1 at the first problem (naming file, byte offset and pfn), 4
    /// when the dump is consistent but INCOMPLETE.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Load the capture kernel into the crashkernel= reservation: from now
    /// on a panic boots it and it saves the dump. Needs root.
    #[command(after_help = ARM_EXAMPLES)]
    Arm(ArmArgs),
    /// Unload the capture kernel: a panic no longer saves a dump. The
    /// reservation stays set aside until reboot. Needs root.
    Disarm(DisarmArgs),
    /// Disarm (if armed), then arm again with the same options as `arm`:
    /// picks up a new kernel, capture binary, modules or configuration.
    /// Everything is checked and the image rebuilt first, so a mistake
    /// leaves the capture kernel loaded before armed. Needs root.
    #[command(after_help = ARM_EXAMPLES)]
    Rearm(ArmArgs),
    /// Build the capture initramfs: the static kexdump-capture as /init,
    /// the dump target's configuration, and the kernel modules the target
    /// needs (disk driver, file system), zstd-compressed.
    #[command(after_help = INITRAMFS_EXAMPLES)]
    Initramfs(Box<InitramfsArgs>),
    /// Check the configuration file (/etc/kexdump.toml) and print the
    /// configuration in effect, defaults filled in. Exits 1 on an invalid
    /// file, naming the line and the key.
    #[command(after_help = CONFIG_EXAMPLES)]
    Config(ConfigArgs),
    /// List the dumps saved on the dump target: crash time, host, kernel,
    /// status, size and panic message of each, oldest first. Needs read
    /// access to the dump directories (root: they are 0700).
    #[command(after_help = LIST_HELP)]
    List(ListArgs),
    /// Show or change the crashkernel= reservation: the memory the kernel
    /// sets aside at boot for the capture kernel (`kexdump arm` loads it
    /// there).
    Crashkernel(CrashkernelArgs),
    /// Is this machine protected? The crashkernel= reservation, whether a
    /// capture kernel is armed (and with what), the dump target's free
    /// space beside the size of a dump, the last dumps and the self-test.
    /// Exits 0 when armed, 3 when not (as `kdumpctl status`).
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// The crashkernel= reservation this machine needs, from its parts:
    /// the capture kernel's size once loaded, the capture initramfs (built
    /// in a temporary directory to measure it) and the room to run; beside
    /// the current one. Exits 0 when the current reservation is enough, 3
    /// when it is missing or too small.
    Estimate(EstimateArgs),
    /// Crash this machine on purpose to prove the capture works: re-arms
    /// with a test id, then panics the kernel via /proc/sysrq-trigger.
    /// After the reboot `kexdump status` says whether the test dump
    /// arrived. Refuses without --yes. Needs root.
    Test(TestArgs),
    /// Set up an ssh dump target: make kexdump's key pair if missing
    /// (/etc/kexdump/id_ed25519), record the server's host key after you
    /// confirm its fingerprint, install the public key on the server with
    /// ssh-copy-id (it asks for the password), and log in with the capture
    /// kernel's own client to prove it works. Nothing to do for NFS. Needs
    /// root.
    #[command(after_help = PROPAGATE_HELP)]
    Propagate(PropagateArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    /// on stdout.
    #[command(after_help = "Example:\n  kexdump completions bash > /usr/share/bash-completion/completions/kexdump")]
    Completions(CompletionsArgs),
    /// Write the man pages (kexdump.1 and one per command) into a directory.
    #[command(after_help = "Example:\n  kexdump manpages /usr/share/man/man1")]
    Manpages(ManpagesArgs),
}

const STATUS_HELP: &str = "\
Examples:
  kexdump status            # a summary; exit 0 armed, 3 not armed
  kexdump status --json     # one object, schema kexdump.status/1 (docs/operator.md)

The self-test line reports the last `kexdump test`: PENDING in the boot that
started it, PASSED once a complete dump with its id is on the target, FAILED
when the machine rebooted without one (or with an incomplete one).";

const PROPAGATE_HELP: &str = "\
Examples:
  sudo kexdump propagate              # asks to confirm the host key, then the server's password
  sudo kexdump propagate --yes        # trusts the host key the server offers now
  sudo kexdump propagate --yes --json # for scripts (the key must already be authorized, or
                                      # ssh-copy-id asks for the password on the terminal)

The target is [target] target = \"ssh://user@host[:port]/dir\" in /etc/kexdump.toml;
the key and the host key go to [ssh] identity and known_hosts.";

#[derive(Args)]
pub struct PropagateArgs {
    /// The configuration naming the dump target [default: /etc/kexdump.toml].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Record the host key the server offers without asking.
    #[arg(long)]
    pub yes: bool,
    /// Print one JSON object on stdout (what was done, step by step).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct StatusArgs {
    /// The configuration naming the dump target [default: /etc/kexdump.toml].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print one JSON object (schema kexdump.status/1) on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct EstimateArgs {
    /// The configuration the capture image is built from [default: /etc/kexdump.toml].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The capture kernel image [default: the configuration's, else /boot/vmlinuz-<uname -r>].
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// The capture kernel's modules [default: the configuration's
    /// kernel.modules_dir, else /lib/modules/<the kernel's release>].
    #[arg(long, value_name = "DIR")]
    pub modules_dir: Option<PathBuf>,
    /// The static capture binary [default: kexdump-capture next to this
    /// kexdump, then /usr/lib/kexdump/kexdump-capture].
    #[arg(long, value_name = "PATH")]
    pub capture_bin: Option<PathBuf>,
    /// Print one JSON object (schema kexdump.estimate/1) on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct TestArgs {
    /// Yes, crash this machine now.
    #[arg(long)]
    pub yes: bool,
    /// The configuration to arm with [default: /etc/kexdump.toml].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The static capture binary [default: kexdump-capture next to this
    /// kexdump, then /usr/lib/kexdump/kexdump-capture].
    #[arg(long, value_name = "PATH")]
    pub capture_bin: Option<PathBuf>,
    /// Seconds between arming and the crash.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub delay: u32,
}

#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[derive(Args)]
pub struct ManpagesArgs {
    /// The directory to write kexdump.1, kexdump-arm.1, ... into (created if missing).
    pub dir: PathBuf,
}

#[derive(Args)]
pub struct DmesgArgs {
    /// The dump to read (ELF, kdump-compressed or flattened); for a split
    /// dump, every piece.
    #[arg(required = true, num_args = 1.., value_name = "DUMP")]
    pub dumps: Vec<PathBuf>,
    /// Leave out the caller-id column (`[    T123]`, the task or CPU that
    /// printed each record): the text of makedumpfile 1.7.4 and earlier
    /// (Debian 12 has 1.7.2).
    #[arg(long)]
    pub no_caller_id: bool,
}

const DMESG_EXAMPLES: &str = "\
Examples:
  kexdump dmesg /proc/vmcore                  # in the capture kernel
  kexdump dmesg /var/crash/vmcore             # a saved dump, any format
  kexdump dmesg vmcore-1 vmcore-2             # the pieces of a split dump (makedumpfile --split)
  kexdump dmesg --no-caller-id vmcore         # as makedumpfile 1.7.2 (Debian 12) writes it

The text is byte for byte what `makedumpfile --dump-dmesg` (1.7.5 or later)
writes, with the caller-id column every 5.10+ kernel records
(`[   12.345678] [    T123] text`); --no-caller-id gives 1.7.4's. On an
INCOMPLETE dump a warning goes to stderr; the log is printed if its pages
were saved.";

const CONVERT_EXAMPLES: &str = "\
Examples:
  kexdump convert vmcore vmcore.elf --format elf        # kdump-compressed -> ELF, for gdb
  kexdump convert vmcore.flat vmcore                    # flattened -> kdump-compressed (same bytes as makedumpfile -R)
  kexdump convert vmcore vmcore.31 --level 31           # re-filter to a higher dump level
  kexdump convert vmcore vmcore.zst --compress zstd     # recompress
  kexdump convert part1 part2 whole                     # join the pieces of a split dump

The last path is the output; the ones before it are the input (one file, or
every piece of a split dump). Without --level the input's dump level is kept
(31 for an ELF input). Pages the input left out cannot come back: converting
to a lower level keeps them out. A flattened input converted to kdump without
--level or --compress is rebuilt byte for byte, like makedumpfile -R.
The output appears as OUT only once complete (written as OUT.incomplete,
fsynced, renamed); it is created mode 0600 and never overwrites a file.";

const VERIFY_EXAMPLES: &str = "\
Examples:
  kexdump verify /var/crash/20261122-101500-web1/vmcore
  kexdump verify --json vmcore.flat
  kexdump verify vmcore-1 vmcore-2                      # every piece of a split dump

Checked: the signature and every header field against the file (sizes,
versions 1-6, bitmaps and notes inside the file), the 2nd bitmap within the
1st, each page descriptor (data after the descriptor table, inside the file,
at most one page, one known compression, no overlap with other pages' data
except the shared zero page), that each page decompresses to exactly one
page, the split pieces' ranges, and the flattened stream's records. When a
kexdump.json capture record beside the dump names it, the file's CRC32 is
compared with the recorded one.";

#[derive(Args)]
pub struct ConvertArgs {
    /// IN... OUT: the input dump (or every piece of a split dump), then
    /// the output file (`-` for a flattened stream on stdout). Or one
    /// capture directory an ssh target received: its vmcore.flat becomes
    /// vmcore (kdump-compressed) in place, and kexdump.json says so.
    #[arg(required = true, num_args = 1.., value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = OutputFormat::Kdump)]
    pub format: OutputFormat,
    /// Dump level 0-31 (default: the input's).
    #[arg(short = 'd', long, value_parser = clap::value_parser!(u8).range(0..=31))]
    pub level: Option<u8>,
    /// Page compression for kdump-compressed and flattened output (default zstd).
    #[arg(short = 'c', long, value_enum)]
    pub compress: Option<CompressArg>,
    /// Compression level (zstd -7..=22 except 0, default 1; zlib 1-9, default 1).
    #[arg(long)]
    pub compress_level: Option<i32>,
    /// Threads compressing pages [default: the CPUs this process may run
    /// on]. The output is the same bytes for any N.
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: Option<u16>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress indicator, even on a terminal.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The dump to check (or every piece of a split dump).
    #[arg(required = true, num_args = 1.., value_name = "DUMP")]
    pub dumps: Vec<PathBuf>,
    /// Print the result as JSON on stdout (schema kexdump.verify/1).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct InspectArgs {
    /// The dump to inspect: an ELF vmcore (/proc/vmcore or a copy),
    /// kdump-compressed or flattened; for a split dump, every piece.
    #[arg(required = true, num_args = 1.., value_name = "DUMP")]
    pub dumps: Vec<PathBuf>,
    /// Print JSON (schema kexdump.inspect/1, docs/analysis.md) instead of text.
    #[arg(long)]
    pub json: bool,
    /// The crashed kernel's vmlinux with debug info (DWARF): its symbol
    /// table names the addresses (when it belongs to the dump), it adds
    /// file:line to each frame of the call chain and goes into the
    /// suggested commands.
    #[arg(long, value_name = "PATH")]
    pub vmlinux: Option<PathBuf>,
    /// The crashed kernel's System.map: names the addresses when it
    /// belongs to the dump (checked against VMCOREINFO's symbols after the
    /// KASLR offset). Without it or --vmlinux, the dump's own kallsyms is
    /// used, else the release's System.map or debug vmlinux found in /boot,
    /// /usr/lib/modules, /lib/modules or /usr/lib/debug.
    #[arg(long, value_name = "PATH")]
    pub system_map: Option<PathBuf>,
    /// Look for the release's System.map and debug vmlinux under DIR
    /// instead of / (e.g. the kernel packages of the crashed machine,
    /// unpacked with dpkg -x).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub symbol_root: PathBuf,
    /// How many lines of the end of the kernel log to show.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub lines: usize,
}

const INSPECT_HELP: &str = "\
Examples:
  kexdump inspect /var/crash/20261122-030405-db1/vmcore
  kexdump inspect --json vmcore | jq .call_chain.frames
  kexdump inspect --vmlinux /usr/lib/debug/boot/vmlinux-6.1.0-56-amd64 vmcore
  kexdump inspect --lines 100 vmcore
  kexdump inspect --system-map System.map-5.10.0-46-amd64 vmcore   # a 5.10 dump: no kallsyms in VMCOREINFO
  kexdump inspect --symbol-root pkg/ vmcore    # after: dpkg -x linux-image-<release>_*.deb pkg/
  kexdump inspect vmcore-1 vmcore-2            # the pieces of a split dump (makedumpfile --split)

The call chain is probable: the words on the crashing CPU's kernel stack
that point just after a call instruction in kernel text, innermost first
(a stack scan like crash's `bt -t`, not an unwinder). Symbols come from a
--system-map or --vmlinux given, else the dump's own kallsyms (6.1 and later
record it in VMCOREINFO), else the release's System.map or debug vmlinux
found on this machine (/boot/System.map-R, /usr/lib/modules/R/System.map,
/lib/modules/R/System.map, /usr/lib/debug/boot/System.map-R,
/usr/lib/debug/boot/vmlinux-R, /usr/lib/debug/lib/modules/R/vmlinux); a file
is used only when VMCOREINFO's symbols are where it says. The report names
the source. The crashing CPU is inferred (RIP in the kexec-on-crash path,
else the task of the panic's CPU: N [UID: U] PID: P line).";

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
    /// LZO1X-1, as makedumpfile -l
    Lzo,
    /// store pages uncompressed
    None,
}

#[derive(Args)]
pub struct SaveArgs {
    /// The vmcore to read (/proc/vmcore in a capture kernel, or a copy; a
    /// saved kdump-compressed or flattened dump is read too).
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
    /// Threads compressing pages [default: the CPUs this process may run
    /// on]. The dump is the same bytes for any N: pages are compressed in
    /// parallel and written in order. About 1 MiB of memory per thread.
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: Option<u16>,
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

const ARM_EXAMPLES: &str = "\
Examples:
  kexdump arm --dry-run                    # would the image be rebuilt, and what would be loaded
  kexdump arm                              # the image of /etc/kexdump.toml, rebuilt if needed
  kexdump rearm --rebuild                  # unload, rebuild the image, load
  kexdump arm --initrd /boot/kexdump-capture.img --dry-run     # show what would be loaded
  kexdump arm --initrd /boot/kexdump-capture.img               # the running kernel's image
  kexdump arm --initrd capture.img --cmdline-append console=ttyS0,115200 --cmdline-remove numa
  kexdump disarm

Without --initrd the image is the configuration's kernel.initramfs
(/var/lib/kexdump/capture.img), built like `kexdump initramfs` from the
configuration: the modules come from /lib/modules/<release of the kernel>.
It is reused while its inputs are unchanged: the kernel, the capture binary,
the capture configuration and each module file (size, mtime, SHA-256), as
recorded in IMAGE.inputs.json; otherwise it is rebuilt and the change named.
After a load, /var/lib/kexdump/armed.json records what was armed.

The capture kernel's command line starts from /proc/cmdline. Options that hurt
a capture kernel are dropped (crashkernel=, quiet, root=, hugepages=, resume=,
init=, rd.*, systemd.*, ...; --dry-run lists each with its reason), the rest is
kept in order (every console= in particular), and options that let a kernel
boot in a small reservation are added: nr_cpus=N (--cpus, else the
configuration's kernel.cpus, else 1) irqpoll reset_devices
panic=10 cgroup_disable=memory mce=off numa=off transparent_hugepage=never
cma=0 hugetlb_cma=0 printk.devkmsg=on module_blacklist=<GPU and KVM drivers>.
--cmdline-append strings come last, so they win where the kernel takes the
last value.

The images are loaded with kexec_file_load(2), which checks the kernel's
signature under Secure Boot / lockdown. kexec-tools (`kexec -p`) is used only
where that system call does not exist, never to get around a refusal.";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KexecMethod {
    /// kexec_file_load(2); kexec-tools only where the call does not exist (ENOSYS)
    Auto,
    /// kexec_file_load(2) only
    Syscall,
    /// kexec-tools' `kexec -p` only (kexec-tools must be installed)
    KexecTools,
}

#[derive(Args)]
pub struct ArmArgs {
    /// The capture kernel image (a bzImage on x86_64). The running kernel's
    /// own image is the usual choice: the initramfs's modules match it.
    /// [default: the configuration's kernel.kernel, else /boot/vmlinuz-<uname -r>]
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// The capture kernel's modules [default: the configuration's
    /// kernel.modules_dir, else /lib/modules/<the kernel's release>].
    #[arg(long, value_name = "DIR")]
    pub modules_dir: Option<PathBuf>,
    /// The capture initramfs, whose /init saves the dump after a panic.
    /// Without it: the configuration's image, built or rebuilt first when
    /// an input changed (see below); with it no configuration is read.
    #[arg(long, value_name = "PATH")]
    pub initrd: Option<PathBuf>,
    /// The configuration the image is built from [default: /etc/kexdump.toml].
    #[arg(long, value_name = "PATH", conflicts_with = "initrd")]
    pub config: Option<PathBuf>,
    /// Rebuild the capture initramfs even when its inputs are unchanged.
    #[arg(long, conflicts_with = "initrd")]
    pub rebuild: bool,
    /// The static capture binary, stored as /init [default: kexdump-capture
    /// next to this kexdump, then /usr/lib/kexdump/kexdump-capture].
    #[arg(long, value_name = "PATH", conflicts_with = "initrd")]
    pub capture_bin: Option<PathBuf>,
    /// Add options at the end of the capture command line (after kexdump's
    /// own and the configuration's kernel.cmdline_append, so they override
    /// them). Repeatable; quote values with spaces.
    #[arg(long, value_name = "STR")]
    pub cmdline_append: Vec<String>,
    /// Leave option KEY (both `KEY` and `KEY=...`) out of the capture
    /// command line, whether /proc/cmdline or kexdump's defaults have it
    /// (as well as the configuration's kernel.cmdline_remove). Repeatable.
    #[arg(long, value_name = "KEY")]
    pub cmdline_remove: Vec<String>,
    /// Use exactly this capture command line: nothing is taken from
    /// /proc/cmdline, dropped or added.
    #[arg(long, value_name = "FULL", conflicts_with_all = ["cmdline_append", "cmdline_remove", "cpus"])]
    pub cmdline: Option<String>,
    /// How many CPUs the capture kernel brings up (nr_cpus=N, 1-64): the
    /// dump is compressed with one thread each. Each CPU beyond the first
    /// needs about 2 MiB more of the reservation; more than are online
    /// here is warned about. [default: the configuration's kernel.cpus,
    /// else 1]
    #[arg(long, value_name = "N", value_parser = parse_cpus)]
    pub cpus: Option<u32>,
    /// How to load the images.
    #[arg(long, value_enum, default_value_t = KexecMethod::Auto)]
    pub method: KexecMethod,
    /// Check everything and print whether the image would be rebuilt, what
    /// would be loaded and which options of /proc/cmdline are dropped, and
    /// why; build, load and write nothing. Needs no root.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct DisarmArgs {
    /// How to unload the capture kernel.
    #[arg(long, value_enum, default_value_t = KexecMethod::Auto)]
    pub method: KexecMethod,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

const INITRAMFS_EXAMPLES: &str = "\
Examples:
  kexdump initramfs -o /boot/kexdump-capture.img --target UUID=0f3c...e1 --fstype ext4 --bus virtio
  kexdump initramfs -o capture.img --target LABEL=crash --fstype xfs --bus nvme \\
      --modules-dir /lib/modules/6.1.0-56-amd64 --level 31 --compress zstd
  kexdump initramfs -o capture.img --target /dev/sdb1 --fstype ext4 --driver mpt3sas --driver sd_mod

Find the target's file system UUID and type with `blkid`, and its disk's
driver with `ls -l /sys/class/block/<disk>/device/driver` (or `lspci -k`).
Each module is included with everything it needs (depends= and softdep=
from the module itself, or modules.dep/modules.softdep when depmod ran);
modules built into the kernel are skipped. The image is written to
FILE.incomplete, fsynced and renamed over FILE, mode 0600.";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BusArg {
    /// virtio-blk disks (QEMU/KVM `if=virtio`, most clouds): virtio_pci + virtio_blk
    Virtio,
    /// virtio-scsi disks: virtio_pci + virtio_scsi + sd_mod
    VirtioScsi,
    /// NVMe disks: nvme (nvme-core, t10-pi and CRC modules follow)
    Nvme,
    /// SATA disks on an AHCI controller (alias: scsi): ahci + sd_mod (libata, scsi_mod follow)
    #[value(alias = "scsi")]
    Ahci,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CaptureFormat {
    /// kdump-compressed: crash, makedumpfile and drgn read it
    Kdump,
    /// ELF core: gdb, crash and drgn read it
    Elf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CaptureAction {
    /// restart into the normal kernel
    Reboot,
    /// power the machine off
    Poweroff,
    /// stop, leaving the console readable
    Halt,
}

#[derive(Args)]
pub struct InitramfsArgs {
    /// The image to write, e.g. /boot/kexdump-capture.img (replaced if it exists).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Where the capture kernel saves dumps: a file system as UUID=<fs uuid>
    /// or LABEL=<fs label> (both survive disk renumbering; see `blkid`) or a
    /// block device such as /dev/vdb1; or a server as
    /// ssh://USER@ADDRESS[:PORT]/DIR (needs --net-*, --ssh-identity,
    /// --ssh-host-key) or nfs://ADDRESS/EXPORT (needs --net-*). Servers are
    /// named by address here: the capture kernel has no resolver.
    #[arg(long, value_name = "UUID=..|LABEL=..|/dev/..|ssh://..|nfs://..")]
    pub target: kexdump_engine::capture_config::Target,
    /// The target's file system type, e.g. ext4 or xfs: its module (and the
    /// crc32c it needs) is included. Any file system whose module has the
    /// same name works. Without it the capture kernel mounts whatever the
    /// superblock says, with built-in drivers or --module. With a remote
    /// target: the --fallback's file system.
    #[arg(long, value_name = "TYPE")]
    pub fstype: Option<String>,
    /// Remote targets: the MAC address of the interface that reaches the
    /// server (the capture kernel finds the interface by it).
    #[arg(long, value_name = "MAC", help_heading = "Remote targets")]
    pub net_mac: Option<String>,
    /// Remote targets: `dhcp`, or the interface's address as ADDRESS/PREFIX.
    #[arg(long, value_name = "dhcp|ADDRESS/PREFIX", help_heading = "Remote targets")]
    pub net_address: Option<String>,
    /// Remote targets: the next hop to the server (none: the server is on the link).
    #[arg(long, value_name = "ADDRESS", help_heading = "Remote targets")]
    pub net_gateway: Option<String>,
    /// Remote targets: the interface's MTU (none: the driver's default or DHCP's).
    #[arg(long, value_name = "BYTES", help_heading = "Remote targets")]
    pub net_mtu: Option<String>,
    /// Remote targets: the network card's driver module, e.g. virtio_net,
    /// e1000e, ixgbe (repeatable); its dependencies come along.
    #[arg(long = "net-driver", value_name = "NAME", help_heading = "Remote targets")]
    pub net_drivers: Vec<String>,
    /// ssh targets: the private key the capture kernel logs in with (copied
    /// into the image, which is written 0600). `kexdump propagate` makes one.
    #[arg(long, value_name = "FILE", help_heading = "Remote targets")]
    pub ssh_identity: Option<PathBuf>,
    /// ssh targets: the server's host key, `TYPE BASE64` (a line of its
    /// /etc/ssh/ssh_host_ed25519_key.pub); any other key is refused.
    #[arg(long, value_name = "KEY", help_heading = "Remote targets")]
    pub ssh_host_key: Option<String>,
    /// nfs targets: the NFS version to mount with.
    #[arg(long, value_name = "VERSION", default_value = "4.2", help_heading = "Remote targets")]
    pub nfs_version: String,
    /// Remote targets: a local file system (UUID=, LABEL=, /dev/...) to save
    /// to when the server cannot be reached or the transfer fails; its
    /// drivers come from --driver/--bus, its module from --fstype.
    #[arg(long, value_name = "UUID=..|LABEL=..|/dev/..", help_heading = "Remote targets")]
    pub fallback: Option<kexdump_engine::capture_config::Target>,
    /// A module the target's disk needs, e.g. virtio_blk, nvme, mpt3sas
    /// (repeatable). Its dependencies come along.
    #[arg(long = "driver", value_name = "NAME")]
    pub drivers: Vec<String>,
    /// A preset of disk drivers for a common bus (repeatable); combines with --driver.
    #[arg(long, value_enum, value_name = "BUS")]
    pub bus: Vec<BusArg>,
    /// Any other module to include, by name or alias (repeatable).
    #[arg(long = "module", value_name = "NAME")]
    pub modules: Vec<String>,
    /// The modules of the kernel the capture kernel runs [default: /lib/modules/<running release>].
    #[arg(long, value_name = "DIR")]
    pub modules_dir: Option<PathBuf>,
    /// The static capture binary, stored as /init [default: kexdump-capture
    /// next to this kexdump, then /usr/lib/kexdump/kexdump-capture].
    #[arg(long, value_name = "PATH")]
    pub capture_bin: Option<PathBuf>,
    /// Directory on the target, relative to its root, that receives one
    /// <timestamp>-<hostname>/ per crash.
    #[arg(long, value_name = "DIR", default_value = "crash")]
    pub path: String,
    /// Dump level 0-31: which page classes to leave out (1 zero, 2 cache
    /// without private data, 4 all cache, 8 user, 16 free; as makedumpfile -d).
    #[arg(short = 'd', long, default_value_t = 31, value_parser = clap::value_parser!(u8).range(0..=31))]
    pub level: u8,
    /// Page compression of the dump the capture kernel writes (not of this image: see --no-compress).
    #[arg(short = 'c', long, value_enum, default_value_t = CompressArg::Zstd)]
    pub compress: CompressArg,
    /// Level for --compress (zstd -7..=22 except 0, default 1; zlib 1-9, default 1).
    #[arg(long, value_name = "N")]
    pub compress_level: Option<i32>,
    /// Format of the dump the capture kernel writes.
    #[arg(short = 'f', long, value_enum, default_value_t = CaptureFormat::Kdump)]
    pub format: CaptureFormat,
    /// How long the capture kernel waits for the target to appear before giving up.
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub wait_seconds: u32,
    /// What the capture kernel does when saving the dump fails.
    #[arg(long, value_enum, default_value_t = CaptureAction::Reboot)]
    pub failure_action: CaptureAction,
    /// What the capture kernel does after saving the dump.
    #[arg(long, value_enum, default_value_t = CaptureAction::Reboot)]
    pub final_action: CaptureAction,
    /// Retention, applied by the capture kernel after a successful capture:
    /// keep at most N dumps under --path, deleting the oldest (0: keep all).
    /// The dump just written is never deleted.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep: u32,
    /// Retention: delete the oldest dumps until this much is free on the
    /// target (e.g. 1G, 512M; 0: no minimum).
    #[arg(long, value_name = "SIZE", default_value = "0", value_parser = parse_byte_size)]
    pub min_free: u64,
    /// Write the image as a plain cpio archive instead of zstd (level 9)
    /// (larger; for capture kernels without CONFIG_RD_ZSTD, before Linux 5.9).
    #[arg(long)]
    pub no_compress: bool,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

const CONFIG_EXAMPLES: &str = "\
Examples:
  kexdump config                          # check /etc/kexdump.toml, print it as TOML
  kexdump config --json                   # the same as one JSON object
  kexdump config --config ./kexdump.toml  # check another file

A missing /etc/kexdump.toml means all defaults; a file named with --config
must exist. Unknown keys and bad values are errors such as
  /etc/kexdump.toml:12: key dump.level: 40 is not a dump level (0-31)
A directory target (target = \"/var/crash\") is resolved here to its file
system's UUID, as the image builder will; the TOML output says what it found.
The documented example with every key is etc/kexdump.toml in the sources.";

#[derive(Args)]
pub struct ConfigArgs {
    /// The configuration file [default: /etc/kexdump.toml].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print the configuration as one JSON object instead of TOML.
    #[arg(long)]
    pub json: bool,
}

const LIST_HELP: &str = "\
Examples:
  kexdump list                        # the target of /etc/kexdump.toml
  kexdump list --dir /mnt/crash       # a dump root given directly
  kexdump list --json

The dump root is --dir, else the configuration's target: a directory target
itself, or where the UUID=, LABEL= or /dev/ target is mounted (found through
/dev/disk/by-uuid or /dev/disk/by-label and /proc/self/mountinfo) joined
with target.path. Each capture directory is <YYYYMMDD-HHMMSS>-<host>[.N]
(UTC crash time) holding kexdump.json, dmesg.txt and vmcore (or
vmcore.incomplete). Status comes from kexdump.json: complete, incomplete,
failed, saving (cut short), or unknown without a readable kexdump.capture/1 record.
SIZE is the dump file's. Symlinks are never followed. Exits 0 with no dumps.";

#[derive(Args)]
pub struct ListArgs {
    /// The configuration naming the dump target [default: /etc/kexdump.toml].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// List this directory of capture directories instead of the
    /// configuration's target (the configuration is then not read).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print one JSON object (schema kexdump.list/1) on stdout.
    #[arg(long)]
    pub json: bool,
    /// Only the newest capture (the one `kexdump inspect latest` reads
    /// when it holds a dump).
    #[arg(long)]
    pub latest: bool,
}

#[derive(Args)]
pub struct CrashkernelArgs {
    #[command(subcommand)]
    pub command: CrashkernelCommand,
}

#[derive(Subcommand)]
pub enum CrashkernelCommand {
    /// Print the crashkernel= options the kernel booted with, what they
    /// reserve on this RAM, what is reserved and where, and whether a
    /// capture kernel is loaded.
    ///
    /// Also prints the crashkernel= the boot loader configuration holds for
    /// the next boot. Needs no root, but /proc/iomem shows the addresses of
    /// the reservation only to root.
    Show(CrashkernelShowArgs),
    /// Put crashkernel=SIZE in the boot loader's configuration, for the
    /// next boot. Needs root (except with --dry-run).
    #[command(after_help = CRASHKERNEL_SET_HELP)]
    Set(CrashkernelSetArgs),
}

#[derive(Args)]
pub struct CrashkernelShowArgs {
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Read proc/, sys/ and etc/ under this directory instead of / (for tests).
    #[arg(long, hide = true, default_value = "/")]
    pub root: PathBuf,
}

const CRASHKERNEL_SET_HELP: &str = "\
Examples:
  kexdump crashkernel set auto --dry-run     # show the change, write nothing
  kexdump crashkernel set auto
  kexdump crashkernel set 192M --bootloader kernel-cmdline
  kexdump crashkernel set 2G-16G:128M,16G-:256M

SIZE forms (as the kernel reads them; K, M, G, T suffixes, powers of 1024):
  192M                       always 192 MiB, where the kernel finds room
  192M@16M                   at physical address 16M
  1G-4G:128M,4G-:192M[@OFF]  by RAM: START-[END]:SIZE, END excluded, no END
                             is no limit; the first range holding the RAM counts
  1G,high                    anywhere (also above 4 GiB), plus a default low
                             part below 4 GiB for devices that need it
A bare number counts bytes and a leading 0 means octal to the kernel: both
are refused here. 88M was the smallest that captured a dump in kexdump's
measurements; `kexdump arm` says whether the capture kernel fits.

`auto` writes crashkernel=1G-4G:128M,4G-64G:192M,64G-:256M. The capture
kernel must hold its own image (Debian 6.1's asks for 63.6 MiB once
loaded), the capture initramfs, and room to unpack it and run: 88M was the
smallest reservation that captured a 2 GiB guest with kexdump's 1.3 MB
initramfs. kexdump-capture uses under 9 MB whatever the RAM; bigger
machines need more for their drivers and device queues. So: 128M from
1 GiB (45% above that floor), 192M from 4 GiB, 256M from 64 GiB; nothing
under 1 GiB (give a size there). The kernel picks the line matching the
RAM at every boot, so the setting follows memory upgrades.

With GRUB (/etc/default/grub exists) the option replaces the crashkernel= of
GRUB_CMDLINE_LINUX_DEFAULT or GRUB_CMDLINE_LINUX, else is added to
GRUB_CMDLINE_LINUX; the rest of the file, quotes included, stays as it was.
Then update-grub rebuilds the boot menu. Without GRUB, /etc/kernel/cmdline
(kernel-install, systemd-boot) is edited. The file as it was is kept as
FILE.kexdump-bak; the new one is written to a temporary file, fsynced and
renamed over it, with the same mode and owner. The running kernel keeps its
reservation: the new one takes effect at the next boot.";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BootloaderArg {
    /// GRUB when /etc/default/grub exists, else /etc/kernel/cmdline
    Auto,
    /// /etc/default/grub, then update-grub
    Grub,
    /// /etc/kernel/cmdline (kernel-install: systemd-boot, unified kernel images)
    KernelCmdline,
}

#[derive(Args)]
pub struct CrashkernelSetArgs {
    /// The reservation: a size such as 192M, a range table such as
    /// 1G-4G:128M,4G-:192M, or SIZE@OFFSET, SIZE,high (see below); `auto`
    /// for kexdump's table by RAM.
    #[arg(value_name = "SIZE|auto", value_parser = crate::crashkernel::param::parse_set_value)]
    pub size: crate::crashkernel::param::SetValue,
    /// Print the change as a diff of the file and what it reserves on this
    /// machine; write nothing, run nothing. Needs no root.
    #[arg(long)]
    pub dry_run: bool,
    /// Which boot loader configuration to edit.
    #[arg(long, value_enum, default_value_t = BootloaderArg::Auto)]
    pub bootloader: BootloaderArg,
    /// Edit etc/ under this directory instead of / (for tests and chroots:
    /// no root check, no update-grub).
    #[arg(long, hide = true, default_value = "/")]
    pub root: PathBuf,
}

/// A byte size such as 1G, 512M, 4096 (for clap).
fn parse_cpus(s: &str) -> Result<u32, String> {
    let n: i64 = s.trim().parse().map_err(|_| format!("{s:?} is not a whole number of CPUs (1-64)"))?;
    crate::config::check_cpus(n)
}

fn parse_byte_size(s: &str) -> Result<u64, String> {
    crate::config::parse_size(s).ok_or_else(|| format!("{s:?} is not a size such as 1G, 512M or 0"))
}

// From the command line to the parameters of the domain modules.

impl ArmArgs {
    /// What `kexdump arm` or `rearm` asks of [`crate::arming`].
    pub fn options(&self) -> crate::arming::ArmOptions {
        crate::arming::ArmOptions {
            kernel: self.kernel.clone(),
            modules_dir: self.modules_dir.clone(),
            initrd: self.initrd.clone(),
            config: self.config.clone(),
            rebuild: self.rebuild,
            capture_bin: self.capture_bin.clone(),
            cmdline_append: self.cmdline_append.clone(),
            cmdline_remove: self.cmdline_remove.clone(),
            cmdline: self.cmdline.clone(),
            cpus: self.cpus,
            method: self.method.into(),
            dry_run: self.dry_run,
        }
    }
}

impl CompressArg {
    /// The page compression asked for, at `level` when one is given.
    pub fn compression(self, level: Option<i32>) -> kexdump_engine::Result<kexdump_engine::compress::Compression> {
        use kexdump_engine::compress::Compression;
        match self {
            CompressArg::Zstd => Compression::Zstd { level: Compression::DEFAULT_ZSTD_LEVEL },
            CompressArg::Zlib => Compression::Zlib { level: 1 },
            CompressArg::Snappy => Compression::Snappy,
            CompressArg::Lzo => Compression::Lzo,
            CompressArg::None => Compression::None,
        }
        .with_level(level)
    }
}

impl From<OutputFormat> for crate::saving::DumpFormat {
    fn from(f: OutputFormat) -> Self {
        match f {
            OutputFormat::Kdump => Self::Kdump,
            OutputFormat::Elf => Self::Elf,
            OutputFormat::Flat => Self::Flat,
        }
    }
}

impl From<BootloaderArg> for crate::crashkernel::next_boot::Bootloader {
    fn from(b: BootloaderArg) -> Self {
        match b {
            BootloaderArg::Auto => Self::Auto,
            BootloaderArg::Grub => Self::Grub,
            BootloaderArg::KernelCmdline => Self::KernelCmdline,
        }
    }
}

impl From<KexecMethod> for crate::arming::loader::Method {
    fn from(m: KexecMethod) -> Self {
        match m {
            KexecMethod::Auto => Self::Auto,
            KexecMethod::Syscall => Self::Syscall,
            KexecMethod::KexecTools => Self::KexecTools,
        }
    }
}
