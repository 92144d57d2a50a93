//! Naming addresses, whatever the symbols come from: the dump's own
//! kallsyms (`kallsyms`), or a System.map or vmlinux symbol table read from
//! a file (`symbol_files`), both seen through `SymbolLookup`. The stack
//! scan and the crashing-CPU rules use only this trait.

use std::ops::Range;

/// A symbol with no following symbol covers at most this much.
pub const LAST_SYMBOL_SPAN: u64 = 64 << 10;

/// One named address: `name+0xoffset/0xsize`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    /// The `nm` type character (`T`, `t`, `D`, ...).
    pub kind: char,
    pub start: u64,
    pub offset: u64,
    /// Distance to the next higher symbol; None for the last one.
    pub size: Option<u64>,
}

impl std::fmt::Display for Symbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.size {
            Some(s) => write!(f, "{}+{:#x}/{:#x}", self.name, self.offset, s),
            None => write!(f, "{}+{:#x}", self.name, self.offset),
        }
    }
}

/// A kernel symbol table, addresses as the crashed kernel ran (KASLR
/// applied).
pub trait SymbolLookup {
    /// How many symbols.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The symbol containing `addr`: the highest one at or below it (the
    /// first listed of aliases at one address, as the kernel picks), sized
    /// up to the next higher address. None below the first symbol or past
    /// the symbol's end.
    fn symbolize(&self, addr: u64) -> Option<Symbol>;

    /// `[_stext, _etext)` (and init text) when the table names them.
    fn text_ranges(&self) -> &[Range<u64>];

    /// `addr` inside kernel text: within `[_stext, _etext)` or init text
    /// when those are known, and in a text (`t`/`T`/`w`/`W`) symbol.
    fn text_symbol(&self, addr: u64) -> Option<Symbol> {
        let text = self.text_ranges();
        if !text.is_empty() && !text.iter().any(|r| r.contains(&addr)) {
            return None;
        }
        self.symbolize(addr).filter(|s| matches!(s.kind, 't' | 'T' | 'w' | 'W'))
    }
}

/// Where `addr` falls in `sorted` (ascending addresses, aliases in table
/// order): (index of the symbol's first alias, its start, its size).
/// Shared by every table so they all pick and size symbols alike.
pub fn locate<T>(sorted: &[(u64, T)], addr: u64) -> Option<(usize, u64, Option<u64>)> {
    let at = sorted.partition_point(|(a, _)| *a <= addr);
    let start = sorted.get(at.checked_sub(1)?)?.0;
    let first = sorted.partition_point(|(a, _)| *a < start);
    let size = sorted.get(at).map(|(next, _)| next - start);
    if addr - start >= size.unwrap_or(LAST_SYMBOL_SPAN) {
        return None;
    }
    Some((first, start, size))
}

/// A table held in memory, names expanded: what a System.map or a vmlinux
/// gives.
pub struct SymbolTable {
    /// (address, index into `names`), ascending by address, stable.
    sorted: Vec<(u64, u32)>,
    /// (type, name) per symbol.
    names: Vec<(char, String)>,
    text: Vec<Range<u64>>,
}

impl SymbolTable {
    /// From (address, type, name), in any order; aliases keep their order.
    pub fn new(syms: Vec<(u64, char, String)>) -> SymbolTable {
        let mut sorted = Vec::with_capacity(syms.len());
        let mut names = Vec::with_capacity(syms.len());
        for (i, (addr, kind, name)) in syms.into_iter().enumerate() {
            sorted.push((addr, i as u32));
            names.push((kind, name));
        }
        sorted.sort_by_key(|&(a, _)| a);
        let mut t = SymbolTable { sorted, names, text: Vec::new() };
        for (s, e) in [("_stext", "_etext"), ("_sinittext", "_einittext")] {
            if let (Some(s), Some(e)) = (t.address_of(s), t.address_of(e)) {
                if s < e {
                    t.text.push(s..e);
                }
            }
        }
        t
    }

    /// The address of the first symbol called `name`.
    pub fn address_of(&self, name: &str) -> Option<u64> {
        self.sorted.iter().find(|&&(_, i)| self.names[i as usize].1 == name).map(|&(a, _)| a)
    }
}

impl SymbolLookup for SymbolTable {
    fn len(&self) -> usize {
        self.names.len()
    }

    fn symbolize(&self, addr: u64) -> Option<Symbol> {
        let (first, start, size) = locate(&self.sorted, addr)?;
        let (kind, name) = self.names.get(self.sorted[first].1 as usize)?.clone();
        Some(Symbol { name, kind, start, offset: addr - start, size })
    }

    fn text_ranges(&self) -> &[Range<u64>] {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 0xffff_ffff_8100_0000;

    #[test]
    fn table_names_sizes_and_text() {
        let t = SymbolTable::new(vec![
            (T + 0x1000, 'T', "_etext".into()),
            (T, 'T', "_text".into()),
            (T, 'T', "_stext".into()),
            (T + 0x100, 't', "inner".into()),
            (T + 0x2000, 'D', "init_uts_ns".into()),
        ]);
        assert_eq!(t.len(), 5);
        assert_eq!(t.text_ranges().len(), 1);
        assert_eq!(t.text_ranges()[0], T..T + 0x1000);
        assert_eq!(t.symbolize(T + 8).unwrap().to_string(), "_text+0x8/0x100", "the first alias listed");
        assert_eq!(t.text_symbol(T + 0x105).unwrap().to_string(), "inner+0x5/0xf00");
        assert!(t.text_symbol(T + 0x2004).is_none(), "data is not text");
        assert_eq!(t.symbolize(T + 0x2004).unwrap().to_string(), "init_uts_ns+0x4");
        assert!(t.symbolize(T + 0x2000 + LAST_SYMBOL_SPAN).is_none());
        assert!(t.symbolize(T - 1).is_none());
        assert_eq!(t.address_of("inner"), Some(T + 0x100));
        assert!(SymbolTable::new(Vec::new()).symbolize(T).is_none());
    }
}
