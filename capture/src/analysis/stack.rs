//! The probable call chain of a CPU: its RIP, then every word on its kernel
//! stack, from RSP up to the top of the stack, that points just after a
//! call instruction inside kernel text. A stack scan in the manner of
//! crash's `bt -t`, not an unwinder: stale return addresses of calls that
//! already returned can appear, and a frame whose return address was
//! overwritten is missed. It is labelled "probable" wherever it is shown.

use super::call_site::{ends_with_call, MAX_CALL_LEN};
use super::error::{AnalysisError, AnalysisResult};
use super::prstatus::CpuRegs;
use super::source::KernelMemory;
use super::symbols::{Symbol, SymbolLookup};
use crate::bytes::u64_at;
use crate::page::{offset_in_page, PAGE_SIZE};

/// x86_64 kernel stacks (and IRQ stacks) are 16 KiB, aligned to their size
/// (THREAD_SIZE without KASAN, arch/x86/include/asm/page_64_types.h).
pub const THREAD_SIZE: u64 = 16 << 10;
/// Lowest address of the kernel half of the address space with 5-level
/// paging (0xffff_8000_0000_0000 with 4-level); user addresses are below
/// 2^47 or 2^56.
const KERNEL_HALF: u64 = 0xff00_0000_0000_0000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Where on the stack the address was found; None for the RIP.
    pub stack_addr: Option<u64>,
    pub addr: u64,
    /// The function; None when the RIP is outside every known symbol.
    pub symbol: Option<Symbol>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallChain {
    pub rsp: u64,
    /// One past the last stack byte scanned (the top of the 16 KiB stack).
    pub stack_top: u64,
    pub bytes_scanned: u64,
    /// The RIP first, then return addresses from the innermost outwards.
    pub frames: Vec<Frame>,
    /// Text addresses seen on the stack but not preceded by a call
    /// (function pointers, stale data): left out of `frames`.
    pub not_after_call: usize,
    /// Why the scan ended before `stack_top`, if it did.
    pub stopped: Option<String>,
}

impl CallChain {
    /// `a <- b <- c`: the function names, innermost first.
    pub fn summary(&self) -> String {
        let names: Vec<&str> = self.frames.iter().map(|f| f.symbol.as_ref().map_or("?", |s| s.name.as_str())).collect();
        names.join(" <- ")
    }
}

/// The symbol a return address belongs to: the call is the instruction
/// before it, so look up `addr - 1` (a call to a noreturn function may be
/// the last instruction of its caller), then express `addr` from there.
fn return_site(syms: &dyn SymbolLookup, addr: u64) -> Option<Symbol> {
    let mut s = syms.text_symbol(addr.checked_sub(1)?)?;
    s.offset = addr - s.start;
    Some(s)
}

/// Scan `cpu`'s stack. Fails only when RSP is not a kernel address; an
/// unreadable page ends the scan and says where.
pub fn probable_chain(mem: &dyn KernelMemory, syms: &dyn SymbolLookup, cpu: &CpuRegs) -> AnalysisResult<CallChain> {
    let (rip, rsp) = (cpu.rip(), cpu.rsp());
    if rsp < KERNEL_HALF {
        return Err(AnalysisError::NotKernelStack { rsp });
    }
    let start = rsp & !7;
    let stack_top = (rsp | (THREAD_SIZE - 1)).checked_add(1).unwrap_or(!7);
    let mut chain = CallChain {
        rsp,
        stack_top,
        bytes_scanned: 0,
        frames: vec![Frame { stack_addr: None, addr: rip, symbol: syms.symbolize(rip) }],
        not_after_call: 0,
        stopped: None,
    };
    let mut at = start;
    let mut page = Vec::new();
    while at < stack_top {
        let n = (PAGE_SIZE - offset_in_page(at)).min(stack_top - at) as usize;
        page.resize(n, 0);
        if let Err(e) = mem.read(at, &mut page) {
            chain.stopped = Some(format!("stack unreadable at {at:#x}: {e}"));
            break;
        }
        for (i, w) in page.chunks_exact(8).enumerate() {
            let word = u64_at(w, 0).unwrap_or(0);
            let Some(symbol) = return_site(syms, word) else { continue };
            let mut before = [0u8; MAX_CALL_LEN];
            // Text that cannot be read is given the benefit of the doubt.
            let after_call = match word.checked_sub(MAX_CALL_LEN as u64) {
                Some(from) => mem.read(from, &mut before).map_or(true, |_| ends_with_call(&before)),
                None => false,
            };
            if after_call {
                chain.frames.push(Frame { stack_addr: Some(at + (i * 8) as u64), addr: word, symbol: Some(symbol) });
            } else {
                chain.not_after_call += 1;
            }
        }
        chain.bytes_scanned += n as u64;
        at += n as u64;
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::kallsyms::Kallsyms;
    use crate::analysis::prstatus::{NREGS, RIP, RSP};
    use crate::analysis::test_memory::{kallsyms_info, kallsyms_memory};
    use kexdump_testgen::kallsyms::encode;

    const T: u64 = 0xffff_ffff_8100_0000;
    const STACK: u64 = 0xffff_c900_0001_0000;

    fn regs(rip: u64, rsp: u64) -> CpuRegs {
        let mut r = [0u64; NREGS];
        r[RIP] = rip;
        r[RSP] = rsp;
        CpuRegs { note_index: 0, pid: 1, regs: r }
    }

    #[test]
    fn scan_keeps_return_addresses_only() {
        let table = encode(
            &[
                (T, 'T', "_stext".into()),
                (T + 0x100, 'T', "inner".into()),
                (T + 0x200, 'T', "outer".into()),
                (T + 0x300, 'T', "noreturn_caller".into()),
                (T + 0x400, 'T', "next_function".into()),
                (T + 0x1000, 'T', "_etext".into()),
            ],
            true,
        );
        let k = Kallsyms::load(&kallsyms_memory(&table), &kallsyms_info()).unwrap();
        let mut m = kallsyms_memory(&table);
        let mut text = vec![0x90u8; 0x1000];
        text[0x210 - 5] = 0xe8; // call rel32 before outer+0x10
        text[0x400 - 2..0x400].copy_from_slice(&[0xff, 0xd2]); // call *%rdx ending noreturn_caller
        m.put(T, &text);
        let words = [T + 0x210, T + 0x120, 0x1234, T + 0x400, T + 0x5000];
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        // the stack's top page only; the 16 KiB stack's other pages are unreadable
        m.put(STACK + 0x3000, &bytes);
        let c = probable_chain(&m, &k, &regs(T + 0x105, STACK + 0x3000)).unwrap();
        let got: Vec<String> = c.frames.iter().map(|f| f.symbol.as_ref().unwrap().to_string()).collect();
        // a return address at the start of a function belongs to its caller
        assert_eq!(got, ["inner+0x5/0x100", "outer+0x10/0x100", "noreturn_caller+0x100/0x100"]);
        assert_eq!(c.not_after_call, 1, "inner+0x20 follows no call");
        assert_eq!((c.stack_top, c.bytes_scanned, c.stopped.as_deref()), (STACK + 0x4000, 0x1000, None));
        assert_eq!(c.summary(), "inner <- outer <- noreturn_caller");

        // starting lower: the first page is unreadable, the scan says so
        let c = probable_chain(&m, &k, &regs(T + 0x105, STACK + 0x2ff8)).unwrap();
        assert_eq!(c.frames.len(), 1);
        assert!(c.stopped.as_deref().unwrap().contains("stack unreadable at 0xffffc90000012ff8"), "{c:?}");
        // a user-mode RSP
        assert!(matches!(
            probable_chain(&m, &k, &regs(0x401000, 0x7ffc_0000_0000)),
            Err(AnalysisError::NotKernelStack { rsp: 0x7ffc_0000_0000 })
        ));
        // the very top of the address space: bounded, no overflow
        let _ = probable_chain(&m, &k, &regs(0, u64::MAX - 3));
    }
}
