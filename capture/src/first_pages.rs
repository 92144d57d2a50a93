//! The pages a dump saves before all others: what a reader needs to start.
//! A dump cut early (power lost, disk failed) then still opens: crash
//! `--minimal` (log, rd, sym, dis) on the kernel image and page tables;
//! plain crash, with `--zero_excluded`, once the per-CPU areas are there too
//! (sys, log; bt of the crashing task with its task_struct and stack);
//! `kexdump dmesg` and `inspect` on the printk ring.
//!
//! Measured on Debian 6.1 (1 GiB guest, level 31): these are 13.6k of the
//! dump's 25.9k pages, almost all the kernel image (text, data, bss).
//! Finding them is about 3 % of a one-thread zstd save (kallsyms names
//! compared as bytes, one read per page table; docs/engine.md). Every
//! source is best effort: a
//! page that cannot be found here is still saved, in pfn order.

use crate::analysis::kallsyms::Kallsyms;
use crate::analysis::prstatus;
use crate::analysis::source::{read_u64, KernelMemory};
use crate::bytes::u64_at;
use crate::memory::PhysMem;
use crate::page::{PAGE_SHIFT, PAGE_SIZE};
use crate::page_walk::PageWalk;
use crate::translate::{Translator, START_KERNEL_MAP};
use crate::vmcore::Vmcore;

/// x86_64's KERNEL_IMAGE_SIZE is 1 GiB: a larger "image" is a lying
/// header, and 2^18 pfns bound the cost.
const MAX_IMAGE_PFNS: usize = 1 << 18;
/// 2^18 page tables map 512 GiB in 4 KiB pages; beyond that a table lies.
const MAX_TABLES: usize = 1 << 18;
/// THREAD_SIZE (16 KiB; 32 KiB with KASAN): a stack, and more than a
/// task_struct (about 10 KiB on 6.x).
const STACK_BYTES: u64 = 32 << 10;
/// The largest static per-CPU area believed (6.1: 212 KiB).
const MAX_PERCPU_BYTES: u64 = 8 << 20;
/// `__per_cpu_offset` has NR_CPUS entries (Debian: 8192).
const MAX_CPUS: u64 = 8192;

/// The pfns to save first, ascending, below `vm.max_mapnr`.
pub fn first_pfns(vm: &Vmcore, mem: &PhysMem, walk: Option<&PageWalk>) -> Vec<u64> {
    let mut pfns = Vec::new();
    for l in vm.elf.loads.iter().filter(|l| l.vaddr >= START_KERNEL_MAP && l.filesz > 0) {
        let (from, to) = (l.paddr.div_ceil(PAGE_SIZE), l.paddr.saturating_add(l.filesz) >> PAGE_SHIFT);
        pfns.extend((from..to.min(vm.max_mapnr)).take(MAX_IMAGE_PFNS));
    }
    if let Some(w) = walk {
        pfns.extend_from_slice(&w.needed);
        pfns.extend(w.tr.table_pfns(mem, MAX_TABLES));
        let kmem = Kmem { tr: &w.tr, mem };
        let mut add = |vaddr: u64, len: u64| {
            let mut va = vaddr & !(PAGE_SIZE - 1);
            while va < vaddr.saturating_add(len) {
                if let Ok(pa) = w.tr.to_phys(mem, va) {
                    pfns.push(pa >> PAGE_SHIFT);
                }
                va += PAGE_SIZE;
            }
        };
        // The stack each CPU stopped on.
        for note in vm.elf.prstatus_notes() {
            if let Ok(regs) = prstatus::parse(0, &note.desc) {
                if w.tr.is_kernel_addr(regs.rsp()) {
                    add(regs.rsp() & !(STACK_BYTES - 1), STACK_BYTES);
                }
            }
        }
        let syms = Kallsyms::load(&kmem, &vm.info).ok();
        let names = ["__per_cpu_offset", "__per_cpu_start", "__per_cpu_end", "current_task", "pcpu_hot"];
        if let Some([Some(offsets), Some(start), Some(end), current_task, pcpu_hot]) =
            syms.map(|k| k.addresses_of(&names)).as_deref()
        {
            for area in percpu_areas(&kmem, *offsets, *start, *end) {
                add(area, end.wrapping_sub(*start));
                // The task each CPU ran: `current_task` (to 6.1, again from
                // 6.15) or the first word of `pcpu_hot` (6.2-6.14).
                for var in [current_task, pcpu_hot].into_iter().flatten() {
                    if let Ok(task) = read_u64(&kmem, area.wrapping_add(var.wrapping_sub(*start))) {
                        if w.tr.is_kernel_addr(task) {
                            add(task, STACK_BYTES);
                        }
                    }
                }
            }
        }
    }
    pfns.retain(|&p| p < vm.max_mapnr);
    pfns.sort_unstable();
    pfns.dedup();
    pfns
}

/// Each possible CPU's static per-CPU area: `__per_cpu_offset[cpu]` from
/// `__per_cpu_start`, `__per_cpu_end - __per_cpu_start` bytes long (the
/// dump's own kallsyms give the three; a kernel that exports no kallsyms in
/// VMCOREINFO gets none).
fn percpu_areas(kmem: &Kmem, offsets: u64, start: u64, end: u64) -> Vec<u64> {
    let len = end.wrapping_sub(start);
    if len == 0 || len > MAX_PERCPU_BYTES {
        return Vec::new();
    }
    let mut raw = vec![0u8; (MAX_CPUS * 8) as usize];
    if kmem.read(offsets, &mut raw).is_err() {
        return Vec::new();
    }
    let mut seen: Vec<u64> = raw.chunks_exact(8).map(|c| u64_at(c, 0).unwrap_or(0)).collect();
    // Impossible CPUs repeat the boot value: one area each is enough.
    seen.sort_unstable();
    seen.dedup();
    seen.into_iter().map(|off| start.wrapping_add(off)).collect()
}

/// Kernel virtual memory for the kallsyms reader during a save.
struct Kmem<'a> {
    tr: &'a Translator,
    mem: &'a PhysMem<'a>,
}

impl KernelMemory for Kmem<'_> {
    fn read(&self, vaddr: u64, buf: &mut [u8]) -> crate::error::Result<()> {
        self.tr.read(self.mem, vaddr, buf)
    }
}
