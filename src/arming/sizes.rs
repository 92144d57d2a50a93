//! The memory arithmetic of arming: what the capture kernel and its
//! initramfs take of the crashkernel= reservation once loaded, and whether
//! what is left lets the capture kernel run.

use super::bzimage;
use super::error::ArmError;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub const MIB: u64 = 1 << 20;

/// Memory the capture kernel needs beyond its loaded images, to run and to
/// unpack the initramfs: a fixed part plus a multiple of the (compressed)
/// initramfs. Fitted to what was measured with Debian's 6.1 kernel (its
/// bzImage asks for 63.6 MiB once loaded) before kexdump was written: with a
/// 2 MB initramfs crashkernel=96M captured (30 MiB to spare) and 80M ran out
/// of memory while unpacking (14 MiB to spare); Debian's own 7.7 MB
/// initramfs (22 MB unpacked, about 3x) needed 116M. 16 MiB + 4x the
/// initramfs asks for 24 MiB and 47 MiB of spare memory there. Later
/// figures: docs/demo.md, "How small may crashkernel= be?".
pub const RUNTIME_FIXED: u64 = 16 * MIB;
pub const RUNTIME_PER_INITRD_BYTE: u64 = 4;
/// What each CPU beyond the first (`[kernel] cpus`, `nr_cpus=`) adds to
/// that need: its per-CPU area (measured +248 KiB of the capture kernel's
/// reserved memory on Debian's 6.1: "Embedded 62 pages/cpu"), the per-CPU
/// kernel threads' stacks, per-CPU page lists and slab caches, and one
/// more compression thread's buffers. Measured in a 2 GiB guest
/// (docs/capture.md, "Capture CPUs"): 1 CPU captured at 92M every time, 2
/// CPUs ran out of memory at 92M once in 3 runs and captured at 96M: the
/// second CPU costs between 0 and 4 MiB at that boundary.
pub const RUNTIME_PER_EXTRA_CPU: u64 = 2 * MIB;

/// Bytes in MiB, one decimal, for messages.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

/// The memory figures of one arming: the reservation and the two images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// The crashkernel= reservation.
    pub crash_size: u64,
    pub kernel: PathBuf,
    /// The kernel image file.
    pub kernel_file: u64,
    /// Memory the kernel needs once loaded: the bzImage's `init_size`
    /// (decompression room included), else the file size.
    pub kernel_load: u64,
    pub initrd: PathBuf,
    pub initrd_size: u64,
    /// The CPUs the capture kernel brings up (its `nr_cpus=`).
    pub cpus: u32,
}

impl Sizes {
    /// The least the reservation must hold for the images to load at all.
    pub fn needed_to_load(&self) -> u64 {
        self.kernel_load.saturating_add(self.initrd_size)
    }

    /// What the capture kernel needs beyond its images (see `RUNTIME_FIXED`
    /// and `RUNTIME_PER_EXTRA_CPU`).
    pub fn runtime_headroom(&self) -> u64 {
        RUNTIME_FIXED
            .saturating_add(self.initrd_size.saturating_mul(RUNTIME_PER_INITRD_BYTE))
            .saturating_add(u64::from(self.cpus.saturating_sub(1)).saturating_mul(RUNTIME_PER_EXTRA_CPU))
    }

    /// The reservation left once the images are loaded.
    pub fn spare(&self) -> u64 {
        self.crash_size.saturating_sub(self.needed_to_load())
    }

    /// A reservation that leaves the capture kernel room to run, rounded up
    /// to 16 MiB, in crashkernel= form.
    pub fn suggested_crashkernel(&self) -> String {
        let want = self.needed_to_load().saturating_add(self.runtime_headroom());
        format!("crashkernel={}M", want.div_ceil(16 * MIB).saturating_mul(16))
    }
}

impl fmt::Display for Sizes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the reservation is {}; kernel {} is {}",
            mib(self.crash_size),
            self.kernel.display(),
            mib(self.kernel_file)
        )?;
        if self.kernel_load != self.kernel_file {
            write!(f, " ({} once loaded, per its boot header)", mib(self.kernel_load))?;
        }
        write!(f, ", initrd {} is {}", self.initrd.display(), mib(self.initrd_size))?;
        if self.cpus != 1 {
            write!(f, ", for {} capture CPUs", self.cpus)?;
        }
        Ok(())
    }
}

/// The size of a regular file.
pub fn file_size(path: &Path) -> Result<u64, ArmError> {
    let meta = std::fs::metadata(path).map_err(|source| ArmError::Read { path: path.to_path_buf(), source })?;
    if !meta.is_file() {
        return Err(ArmError::NotAFile { path: path.to_path_buf() });
    }
    Ok(meta.len())
}

/// A kernel image's size and, for an x86 bzImage, its setup header. An
/// image only root may read (as some distributions install them) has no
/// header here: the size alone is then the estimate.
fn kernel_image(path: &Path) -> Result<(u64, Option<bzimage::SetupHeader>), ArmError> {
    let size = file_size(path)?;
    let read_err = |source| ArmError::Read { path: path.to_path_buf(), source };
    let mut prefix = Vec::with_capacity(bzimage::PREFIX_LEN);
    match File::open(path) {
        Ok(f) => {
            f.take(bzimage::PREFIX_LEN as u64).read_to_end(&mut prefix).map_err(read_err)?;
        }
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Ok((size, None)),
        Err(e) => return Err(read_err(e)),
    }
    Ok((size, bzimage::parse(&prefix)))
}

/// The memory figures of loading `kernel` and an initramfs of
/// `initrd_size` bytes into a reservation of `crash_size` for a capture
/// kernel with `cpus` CPUs, and the kernel's boot header when it has one.
pub fn sizes(
    crash_size: u64,
    kernel: &Path,
    initrd: &Path,
    initrd_size: u64,
    cpus: u32,
) -> Result<(Sizes, Option<bzimage::SetupHeader>), ArmError> {
    let (kernel_file, header) = kernel_image(kernel)?;
    let kernel_load = header.and_then(|h| h.init_size).map_or(kernel_file, |s| kernel_file.max(u64::from(s)));
    let sizes = Sizes {
        crash_size,
        kernel: kernel.to_path_buf(),
        kernel_file,
        kernel_load,
        initrd: initrd.to_path_buf(),
        initrd_size,
        cpus,
    };
    Ok((sizes, header))
}

/// Whether the images can fit in the reservation at all.
pub fn check_fits(sizes: &Sizes) -> Result<(), ArmError> {
    if sizes.needed_to_load() > sizes.crash_size {
        Err(ArmError::TooSmall(sizes.clone()))
    } else {
        Ok(())
    }
}

/// Whether the reservation leaves the capture kernel too little room to run.
pub fn tight(sizes: &Sizes) -> bool {
    sizes.spare() < sizes.runtime_headroom()
}
